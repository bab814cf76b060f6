//! The engine's statements, as async functions over the pool. Each one is
//! a job for [`super::worker::Worker::block`]: it owns what it needs.
//!
//! Portable SQL only (docs/store.md): `INSERT ... ON CONFLICT ... DO
//! UPDATE ... WHERE`, `SELECT ... FOR UPDATE`, multi-array `UNNEST` for
//! batches, `= ANY($1)`: all accepted by PostgreSQL, CockroachDB and
//! YugabyteDB.

use std::collections::HashSet;

use deadpool_postgres::Pool;
use tokio_postgres::IsolationLevel;
use tokio_postgres::types::ToSql;

use super::super::{ChangeSet, ImportRecord, StoreError};
use super::worker::dbe;
use crate::domain::secret::PhonePasswords;
use crate::domain::{Lease, LeaseState, Site, User};

/// Rows per batched statement: big enough that a 100,000-user import is
/// 50 round trips, small enough that one statement's arrays stay a few MB.
const CHUNK: usize = 2_000;

/// A stored counter as the database keeps it (BIGINT).
pub fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A BIGINT read back as the counter it is.
pub fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub fn decode<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

pub fn encode<T: serde::Serialize>(value: &T) -> String {
    // Serialising our own plain structs to JSON cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// The generation and the count of password writes, read without a lock
/// in one statement (the poll every node runs four times a second).
pub async fn generation(pool: Pool) -> Result<(u64, u64), StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let row = client
        .query_one(
            "SELECT m.generation, s.seq FROM autoprov_meta m, autoprov_password_seq s \
             WHERE m.id = 1 AND s.id = 1",
            &[],
        )
        .await
        .map_err(dbe)?;
    Ok((uint(row.get(0)), uint(row.get(1))))
}

/// One phone's passwords as a stored state row holds them (the other
/// fields are skipped, not decoded).
#[derive(serde::Deserialize)]
struct PasswordsOnly {
    #[serde(default)]
    passwords: Option<PhonePasswords>,
}

/// A row's MAC, password write count and passwords.
pub type PasswordRow = ([u8; 6], u64, Option<PhonePasswords>);

/// The count of password writes, then every phone's passwords written
/// after write `after` (all of them with `None`). Read in that order, so
/// every write up to the count is among the rows.
pub async fn passwords(
    pool: Pool,
    after: Option<u64>,
) -> Result<(u64, Vec<(Vec<u8>, i64, String)>), StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let count = client
        .query_one("SELECT seq FROM autoprov_password_seq WHERE id = 1", &[])
        .await
        .map_err(dbe)?;
    let after = after.map_or(-1, int);
    let rows = client
        .query(
            "SELECT mac, passwords_seq, body FROM autoprov_phone_state WHERE passwords_seq > $1",
            &[&after],
        )
        .await
        .map_err(dbe)?;
    let rows = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    Ok((uint(count.get(0)), rows))
}

/// Decodes the rows of [`passwords`] (off the engine's runtime).
pub fn decode_passwords(rows: Vec<(Vec<u8>, i64, String)>) -> Result<Vec<PasswordRow>, StoreError> {
    rows.into_iter()
        .map(|(mac, seq, body)| {
            let mac: [u8; 6] = mac
                .try_into()
                .map_err(|_| corrupt("phone state", "bad MAC"))?;
            let only: PasswordsOnly = decode("phone state", &body)?;
            Ok((mac, uint(seq), only.passwords))
        })
        .collect()
}

/// Every user's stored JSON and the generation they are at, read in one
/// snapshot (REPEATABLE READ), with the next id. Decoding is left to the
/// caller's thread ([`decode_users`]), off the engine's runtime.
pub async fn load_users(pool: Pool) -> Result<(u64, u64, Vec<String>), StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(dbe)?;
    let meta = tx
        .query_one(
            "SELECT generation, next_id FROM autoprov_meta WHERE id = 1",
            &[],
        )
        .await
        .map_err(dbe)?;
    let rows = tx
        .query("SELECT body FROM autoprov_users", &[])
        .await
        .map_err(dbe)?;
    tx.commit().await.map_err(dbe)?;
    let bodies = rows.iter().map(|r| r.get(0)).collect();
    Ok((uint(meta.get(0)), uint(meta.get(1)), bodies))
}

/// What changed after generation `after`, read in one snapshot: the
/// generation and next id now, the users written since (stored JSON) and
/// the names deleted since (some may exist again: they are among the
/// written ones).
pub async fn load_changes(
    pool: Pool,
    after: u64,
) -> Result<(u64, u64, Vec<String>, Vec<String>), StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(dbe)?;
    let meta = tx
        .query_one(
            "SELECT generation, next_id FROM autoprov_meta WHERE id = 1",
            &[],
        )
        .await
        .map_err(dbe)?;
    let after = int(after);
    let written = tx
        .query(
            "SELECT body FROM autoprov_users WHERE updated_generation > $1",
            &[&after],
        )
        .await
        .map_err(dbe)?;
    let deleted = tx
        .query(
            "SELECT username FROM autoprov_deleted_users WHERE generation > $1",
            &[&after],
        )
        .await
        .map_err(dbe)?;
    tx.commit().await.map_err(dbe)?;
    Ok((
        uint(meta.get(0)),
        uint(meta.get(1)),
        written.iter().map(|r| r.get(0)).collect(),
        deleted.iter().map(|r| r.get(0)).collect(),
    ))
}

/// Decodes users on every core: 100,000 of them are most of a reload.
pub fn decode_users(bodies: Vec<String>) -> Result<Vec<User>, StoreError> {
    use rayon::prelude::*;
    bodies.par_iter().map(|b| decode("user", b)).collect()
}

/// Writes an import: all or nothing, serialized with every other writer by
/// the lock on the meta row; [`StoreError::Conflict`] if the generation is
/// not `expected`. Gives the change set back for the read model.
pub async fn apply(
    pool: Pool,
    expected: u64,
    changes: ChangeSet,
    record: String,
) -> Result<ChangeSet, StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client.transaction().await.map_err(dbe)?;
    let meta = tx
        .query_one(
            "SELECT generation, history_seq FROM autoprov_meta WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(dbe)?;
    if uint(meta.get(0)) != expected {
        return Err(StoreError::Conflict);
    }
    let kept: HashSet<&str> = changes
        .changes
        .iter()
        .filter_map(|c| c.new.as_deref().map(|u| u.username.as_str()))
        .collect();
    let gone: Vec<&str> = changes
        .changes
        .iter()
        .filter_map(|c| c.old.as_deref().map(|u| u.username.as_str()))
        .filter(|name| !kept.contains(name))
        .collect();
    let generation = int(expected + 1);
    for chunk in gone.chunks(CHUNK) {
        tx.execute(
            "DELETE FROM autoprov_users WHERE username = ANY($1)",
            &[&chunk],
        )
        .await
        .map_err(dbe)?;
        tx.execute(
            "INSERT INTO autoprov_deleted_users (username, generation) \
             SELECT name, $2 FROM UNNEST($1::TEXT[]) AS d (name) \
             ON CONFLICT (username) DO UPDATE SET generation = EXCLUDED.generation",
            &[&chunk, &generation],
        )
        .await
        .map_err(dbe)?;
    }
    let upsert = tx
        .prepare(
            "INSERT INTO autoprov_users (username, body, updated_generation) \
             SELECT name, body, $3 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS u (name, body) \
             ON CONFLICT (username) DO UPDATE SET body = EXCLUDED.body, \
             updated_generation = EXCLUDED.updated_generation",
        )
        .await
        .map_err(dbe)?;
    let news: Vec<&User> = changes
        .changes
        .iter()
        .filter_map(|c| c.new.as_deref())
        .collect();
    for chunk in news.chunks(CHUNK) {
        let names: Vec<&str> = chunk.iter().map(|u| u.username.as_str()).collect();
        let bodies: Vec<String> = chunk.iter().map(encode).collect();
        tx.execute(&upsert, &[&names, &bodies, &generation])
            .await
            .map_err(dbe)?;
    }
    let seq: i64 = meta.get::<_, i64>(1) + 1;
    tx.execute(
        "INSERT INTO autoprov_history (seq, body) VALUES ($1, $2)",
        &[&seq, &record],
    )
    .await
    .map_err(dbe)?;
    tx.execute(
        "UPDATE autoprov_meta SET generation = $1, next_id = $2, history_seq = $3 WHERE id = 1",
        &[&generation, &int(changes.next_id), &seq],
    )
    .await
    .map_err(dbe)?;
    tx.commit().await.map_err(dbe)?;
    Ok(changes)
}

/// Appends a history line that no import wrote.
pub async fn record_run(pool: Pool, record: String) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client.transaction().await.map_err(dbe)?;
    let row = tx
        .query_one(
            "UPDATE autoprov_meta SET history_seq = history_seq + 1 WHERE id = 1 RETURNING history_seq",
            &[],
        )
        .await
        .map_err(dbe)?;
    let seq: i64 = row.get(0);
    tx.execute(
        "INSERT INTO autoprov_history (seq, body) VALUES ($1, $2)",
        &[&seq, &record],
    )
    .await
    .map_err(dbe)?;
    tx.commit().await.map_err(dbe)
}

pub async fn history(pool: Pool) -> Result<Vec<ImportRecord>, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let rows = client
        .query("SELECT body FROM autoprov_history ORDER BY seq", &[])
        .await
        .map_err(dbe)?;
    rows.iter()
        .map(|r| decode("history", r.get::<_, &str>(0)))
        .collect()
}

pub async fn sites(pool: Pool) -> Result<Vec<Site>, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let rows = client
        .query("SELECT body FROM autoprov_sites", &[])
        .await
        .map_err(dbe)?;
    let mut sites = rows
        .iter()
        .map(|r| decode("site", r.get::<_, &str>(0)))
        .collect::<Result<Vec<Site>, _>>()?;
    sites.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(sites)
}

/// Replaces the site table in one transaction.
pub async fn put_sites(pool: Pool, sites: Vec<(String, String)>) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client.transaction().await.map_err(dbe)?;
    // Every node writes the config's sites when it opens the store: two
    // starting at once would both insert into an empty table and one would
    // fail on the key. The meta row's lock makes them take turns.
    tx.execute("SELECT 1 FROM autoprov_meta WHERE id = 1 FOR UPDATE", &[])
        .await
        .map_err(dbe)?;
    tx.execute("DELETE FROM autoprov_sites", &[])
        .await
        .map_err(dbe)?;
    let (names, bodies): (Vec<String>, Vec<String>) = sites.into_iter().unzip();
    tx.execute(
        "INSERT INTO autoprov_sites (name, body) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[])",
        &[&names, &bodies],
    )
    .await
    .map_err(dbe)?;
    tx.commit().await.map_err(dbe)
}

/// Bumps the named users' config versions and the generation (if any
/// was bumped) under the meta lock; the bumped users and the new
/// generation, and the generation before.
pub async fn bump(pool: Pool, names: Vec<String>) -> Result<(Vec<User>, u64, u64), StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client.transaction().await.map_err(dbe)?;
    let meta = tx
        .query_one(
            "SELECT generation FROM autoprov_meta WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(dbe)?;
    let before = uint(meta.get(0));
    let rows = tx
        .query(
            "SELECT body FROM autoprov_users WHERE username = ANY($1) FOR UPDATE",
            &[&names],
        )
        .await
        .map_err(dbe)?;
    let mut users = rows
        .iter()
        .map(|r| decode("user", r.get::<_, &str>(0)))
        .collect::<Result<Vec<User>, _>>()?;
    if users.is_empty() {
        return Ok((users, before, before));
    }
    for u in &mut users {
        u.config_version += 1;
    }
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    let bodies: Vec<String> = users.iter().map(encode).collect();
    tx.execute(
        "UPDATE autoprov_users SET body = b.body, updated_generation = $3 \
         FROM UNNEST($1::TEXT[], $2::TEXT[]) AS b (username, body) \
         WHERE autoprov_users.username = b.username",
        &[&names, &bodies, &int(before + 1)],
    )
    .await
    .map_err(dbe)?;
    tx.execute(
        "UPDATE autoprov_meta SET generation = $1 WHERE id = 1",
        &[&int(before + 1)],
    )
    .await
    .map_err(dbe)?;
    tx.commit().await.map_err(dbe)?;
    Ok((users, before, before + 1))
}

/// A phone's stored state, its version and its password write count, if
/// any.
pub async fn phone_state(
    pool: Pool,
    mac: Vec<u8>,
) -> Result<Option<(String, i64, i64)>, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let row = client
        .query_opt(
            "SELECT body, version, passwords_seq FROM autoprov_phone_state WHERE mac = $1",
            &[&mac],
        )
        .await
        .map_err(dbe)?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Counts one password write: the new count, with the counter's row
/// locked until `tx` ends (so counts commit in order).
async fn next_password_seq(tx: &deadpool_postgres::Transaction<'_>) -> Result<i64, StoreError> {
    let row = tx
        .query_one(
            "UPDATE autoprov_password_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq",
            &[],
        )
        .await
        .map_err(dbe)?;
    Ok(row.get(0))
}

/// Writes a phone's state whatever was there, as a password write (a copy
/// between stores may carry passwords); the write's count.
pub async fn put_phone_state(pool: Pool, mac: Vec<u8>, body: String) -> Result<u64, StoreError> {
    let mut client = pool.get().await.map_err(dbe)?;
    let tx = client.transaction().await.map_err(dbe)?;
    let seq = next_password_seq(&tx).await?;
    tx.execute(
        "INSERT INTO autoprov_phone_state (mac, body, version, passwords_seq) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (mac) DO UPDATE SET body = EXCLUDED.body, \
         version = autoprov_phone_state.version + 1, passwords_seq = EXCLUDED.passwords_seq",
        &[&mac, &body, &seq],
    )
    .await
    .map_err(dbe)?;
    tx.commit().await.map_err(dbe)?;
    Ok(uint(seq))
}

/// Writes a phone's state if it is still at `version` (`None`: absent);
/// `None` if another writer came first, else the row's password write
/// count: a new one when `passwords_changed` (one transaction with the
/// count), else `seq` as read (one statement, the fetch records' case).
pub async fn swap_phone_state(
    pool: Pool,
    mac: Vec<u8>,
    version: Option<i64>,
    body: String,
    passwords_changed: bool,
    seq: i64,
) -> Result<Option<u64>, StoreError> {
    let sql = match version {
        None => {
            "INSERT INTO autoprov_phone_state (mac, body, version, passwords_seq) \
             VALUES ($1, $2, 1, $3) ON CONFLICT (mac) DO NOTHING"
        }
        Some(_) => {
            "UPDATE autoprov_phone_state SET body = $2, version = version + 1, \
             passwords_seq = $3 WHERE mac = $1 AND version = $4"
        }
    };
    let v = version.unwrap_or_default();
    let mut client = pool.get().await.map_err(dbe)?;
    if !passwords_changed {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&mac, &body, &seq];
        if version.is_some() {
            params.push(&v);
        }
        let n = client.execute(sql, &params).await.map_err(dbe)?;
        return Ok((n == 1).then_some(uint(seq)));
    }
    let tx = client.transaction().await.map_err(dbe)?;
    let seq = next_password_seq(&tx).await?;
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&mac, &body, &seq];
    if version.is_some() {
        params.push(&v);
    }
    if tx.execute(sql, &params).await.map_err(dbe)? != 1 {
        // Dropped without a commit: rolled back, the count with it.
        return Ok(None);
    }
    tx.commit().await.map_err(dbe)?;
    Ok(Some(uint(seq)))
}

pub async fn put_fetch_event(
    pool: Pool,
    mac: Vec<u8>,
    slot: i16,
    seq: i64,
    body: String,
) -> Result<(), StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    client
        .execute(
            "INSERT INTO autoprov_fetch_events (mac, slot, seq, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (mac, slot) DO UPDATE SET seq = EXCLUDED.seq, body = EXCLUDED.body",
            &[&mac, &slot, &seq, &body],
        )
        .await
        .map_err(dbe)?;
    Ok(())
}

/// A phone's fetch events, oldest first.
pub async fn fetch_events(pool: Pool, mac: Vec<u8>) -> Result<Vec<String>, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let rows = client
        .query(
            "SELECT body FROM autoprov_fetch_events WHERE mac = $1 ORDER BY seq",
            &[&mac],
        )
        .await
        .map_err(dbe)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn state_name(s: LeaseState) -> &'static str {
    match s {
        LeaseState::Bound => "bound",
        LeaseState::Released => "released",
        LeaseState::Declined => "declined",
    }
}

fn state_of(s: &str) -> Result<LeaseState, StoreError> {
    match s {
        "bound" => Ok(LeaseState::Bound),
        "released" => Ok(LeaseState::Released),
        "declined" => Ok(LeaseState::Declined),
        other => Err(corrupt("lease", format!("unknown state {other:?}"))),
    }
}

pub async fn leases(pool: Pool) -> Result<Vec<Lease>, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let rows = client
        .query(
            "SELECT ip, mac, state, expires FROM autoprov_leases ORDER BY ip",
            &[],
        )
        .await
        .map_err(dbe)?;
    rows.iter()
        .map(|r| {
            let ip = u32::try_from(r.get::<_, i64>(0)).map_err(|e| corrupt("lease", e))?;
            let mac: Vec<u8> = r.get(1);
            let mac: [u8; 6] = mac.try_into().map_err(|_| corrupt("lease", "bad MAC"))?;
            Ok(Lease {
                ip: std::net::Ipv4Addr::from(ip),
                mac: crate::domain::mac::Mac::from_bytes(mac).map_err(|e| corrupt("lease", e))?,
                state: state_of(r.get(2))?,
                expires: uint(r.get(3)),
            })
        })
        .collect()
}

/// Writes leases; with `now`, only those whose address no other MAC holds
/// unexpired (Kea's conditional lease update, by address). One statement
/// per round of distinct addresses; per lease, whether it was written.
pub async fn write_leases(
    pool: Pool,
    leases: Vec<Lease>,
    now: Option<u64>,
) -> Result<Vec<bool>, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let sql = match now {
        None => format!("{LEASE_UPSERT} RETURNING ip"),
        Some(_) => format!("{LEASE_UPSERT} {LEASE_FREE} RETURNING ip"),
    };
    let stmt = client.prepare(&sql).await.map_err(dbe)?;
    let now_param = now.map(int);
    let mut written = vec![false; leases.len()];
    for round in rounds(&leases) {
        let ips: Vec<i64> = round
            .iter()
            .map(|&i| i64::from(u32::from(leases[i].ip)))
            .collect();
        let macs: Vec<Vec<u8>> = round
            .iter()
            .map(|&i| leases[i].mac.bytes().to_vec())
            .collect();
        let states: Vec<&str> = round.iter().map(|&i| state_name(leases[i].state)).collect();
        let expires: Vec<i64> = round.iter().map(|&i| int(leases[i].expires)).collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ips, &macs, &states, &expires];
        if let Some(now) = &now_param {
            params.push(now);
        }
        let rows = client.query(&stmt, &params).await.map_err(dbe)?;
        let claimed: HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        for (&i, ip) in round.iter().zip(&ips) {
            written[i] = claimed.contains(ip);
        }
    }
    Ok(written)
}

const LEASE_UPSERT: &str = "INSERT INTO autoprov_leases (ip, mac, state, expires) \
     SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::TEXT[], $4::BIGINT[]) \
     ON CONFLICT (ip) DO UPDATE SET mac = EXCLUDED.mac, state = EXCLUDED.state, \
     expires = EXCLUDED.expires";

/// The claim's condition: the address is this MAC's, expired, or given
/// back; `RETURNING` then lists only the rows written.
const LEASE_FREE: &str = "WHERE autoprov_leases.mac = EXCLUDED.mac \
     OR autoprov_leases.expires <= $5 OR autoprov_leases.state = 'released'";

/// Splits lease indexes into rounds, in order, with no address twice in a
/// round (one statement may not touch a row twice); a later write of an
/// address lands in a later round, so the last one wins as on the other
/// engines.
fn rounds(leases: &[Lease]) -> Vec<Vec<usize>> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut last_round: std::collections::HashMap<std::net::Ipv4Addr, usize> =
        std::collections::HashMap::new();
    for (i, l) in leases.iter().enumerate() {
        let r = last_round.get(&l.ip).map_or(0, |r| r + 1);
        if rounds.len() <= r {
            rounds.push(Vec::new());
        }
        rounds[r].push(i);
        last_round.insert(l.ip, r);
    }
    rounds
}

pub async fn shared_blob(pool: Pool, name: String) -> Result<Option<Vec<u8>>, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let row = client
        .query_opt(
            "SELECT body FROM autoprov_shared_blobs WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(dbe)?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn put_shared_blob(pool: Pool, name: String, body: Vec<u8>) -> Result<(), StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    client
        .execute(
            "INSERT INTO autoprov_shared_blobs (name, body) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body",
            &[&name, &body],
        )
        .await
        .map_err(dbe)?;
    Ok(())
}

/// Takes the run lease if it is free, expired or already `holder`'s.
pub async fn try_run_lease(
    pool: Pool,
    name: String,
    holder: String,
    until: u64,
    now: u64,
) -> Result<bool, StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    let n = client
        .execute(
            "INSERT INTO autoprov_run_leases (name, holder, expires) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires \
             WHERE autoprov_run_leases.holder = EXCLUDED.holder \
             OR autoprov_run_leases.expires <= $4",
            &[&name, &holder, &int(until), &int(now)],
        )
        .await
        .map_err(dbe)?;
    Ok(n == 1)
}

pub async fn ping(pool: Pool) -> Result<(), StoreError> {
    let client = pool.get().await.map_err(dbe)?;
    client.query_one("SELECT 1", &[]).await.map_err(dbe)?;
    Ok(())
}
