//! Versioned schema migrations, applied at start.
//!
//! Each migration is a numbered file under `migrations/`, compiled in. A
//! node applies the missing ones in one transaction under an advisory lock
//! (so two nodes starting at once do not both create the tables) and
//! refuses a database whose schema is newer than it knows: an older binary
//! must not write into tables a newer one has reshaped.

use deadpool_postgres::Pool;

use super::super::StoreError;
use super::worker::{db, dbe};

/// The migrations, in order; the schema version is the number of the last
/// one applied.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_phone_passwords.sql")),
    (3, include_str!("migrations/0003_user_changes.sql")),
];

/// The schema version this binary writes.
pub const VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Key of the advisory lock held while migrating ("autoprov" in ASCII).
const LOCK_KEY: i64 = 0x6175_746f_7072_6f76;

/// Brings the database to [`VERSION`]; refuses a newer one.
pub async fn migrate(pool: Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client.transaction().await.map_err(dbe)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(dbe)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS autoprov_schema (version INT PRIMARY KEY)")
        .await
        .map_err(dbe)?;
    let row = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM autoprov_schema", &[])
        .await
        .map_err(dbe)?;
    let current: i32 = row.get(0);
    if current > VERSION {
        return Err(newer(current));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| db(format!("schema migration {version} failed: {}", dbe(e))))?;
        tx.execute(
            "INSERT INTO autoprov_schema (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(dbe)?;
        tracing::info!(version, "database schema migrated");
    }
    tx.commit().await.map_err(dbe)
}

/// The refusal to run on a schema from a newer autoprov.
fn newer(found: i32) -> StoreError {
    db(format!(
        "the database schema is version {found}, newer than this autoprov knows ({VERSION}); \
         upgrade autoprov on this node (an older binary must not write to it)"
    ))
}
