//! The PostgreSQL engine: the same [`Store`] contract as sled, on a database
//! several autoprov nodes share (docs/store.md).
//!
//! Driver: tokio-postgres 0.7 with a deadpool-postgres 0.14 pool and TLS by
//! tokio-postgres-rustls 0.13 (rustls 0.23 without default features, so
//! the ring provider autoprov already builds is the only one; the 0.14
//! release needs a newer Rust than our 1.88 floor). Chosen over sqlx
//! because it is the plain, maintained protocol driver (sqlx's compile-time
//! query checking needs a database at build time, its runtime API adds
//! nothing here), and over the sync `postgres` crate, which panics when
//! called inside a tokio runtime, where the trait's callers are.
//!
//! The trait is synchronous; [`worker::Worker`] runs each operation on a
//! small runtime of the engine's own and blocks the caller on a std
//! channel until the answer comes.
//!
//! Reads on the serving path (`user`, `user_by_mac`, `users`,
//! `generation`, and `phone_passwords`, what a render reads of a phone's
//! state) come from an in-memory [`model::Model`] and
//! [`model::Passwords`] and never wait on the database; [`Store::refresh`]
//! polls the generation row and the count of password writes and re-reads
//! what another node changed. Imports are one transaction each,
//! serialized across nodes by `SELECT ... FOR UPDATE` on the meta row and
//! refused with [`StoreError::Conflict`] when the generation moved since
//! the plan. DHCP leases are claimed with a conditional upsert, as Kea's
//! PostgreSQL lease backend does (see [`sql::write_leases`]).

mod model;
mod schema;
mod sql;
#[cfg(test)]
pub(crate) mod testdb;
#[cfg(test)]
mod tests;
mod worker;

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{ChangeSet, FetchEvent, ImportRecord, PhoneState, Snapshot, Store, StoreError, slot};
use crate::domain::mac::Mac;
use crate::domain::secret::PhonePasswords;
use crate::domain::{Lease, Site, User};
use model::{Model, Passwords};
use sql::{decode, encode, int};
use worker::{Worker, db};

pub use schema::VERSION as SCHEMA_VERSION;
pub use worker::redact;

/// How many times `update_phone_state` retries a compare-and-set that lost
/// to another writer before it gives up.
const CAS_ATTEMPTS: usize = 64;

/// Whether `location` names a database rather than a data directory.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The store on a PostgreSQL database. `Send + Sync`.
pub struct PostgresStore {
    worker: Worker,
    model: RwLock<Model>,
    /// Every phone's stored web passwords (kept apart from `model`: a
    /// generation change rebuilds that, and passwords change on their own).
    passwords: RwLock<Passwords>,
    /// One reload at a time: a second caller waits and finds it done.
    reloading: Mutex<()>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?sslmode=...`),
    /// brings the schema up to date, refuses a newer one, and loads the read
    /// model.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let shown = redact(url);
        let context = |e: StoreError| match e {
            StoreError::Database(m) => StoreError::Database(format!("{shown}: {m}")),
            other => other,
        };
        let worker = Worker::start(url)?;
        worker.block(schema::migrate).map_err(context)?;
        let (generation, next_id, bodies) = worker.block(sql::load_users).map_err(context)?;
        let users = sql::decode_users(bodies)?;
        let store = PostgresStore {
            worker,
            model: RwLock::new(Model::new(generation, next_id, users)),
            passwords: RwLock::new(Passwords::default()),
            reloading: Mutex::new(()),
        };
        store.reload_passwords(None).map_err(context)?;
        Ok(store)
    }

    fn model(&self) -> RwLockReadGuard<'_, Model> {
        self.model.read().unwrap_or_else(|p| p.into_inner())
    }

    fn model_mut(&self) -> RwLockWriteGuard<'_, Model> {
        self.model.write().unwrap_or_else(|p| p.into_inner())
    }

    fn passwords(&self) -> RwLockReadGuard<'_, Passwords> {
        self.passwords.read().unwrap_or_else(|p| p.into_inner())
    }

    fn passwords_mut(&self) -> RwLockWriteGuard<'_, Passwords> {
        self.passwords.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the passwords written after write `after` (every phone's with
    /// `None`) into the read model.
    fn reload_passwords(&self, after: Option<u64>) -> Result<(), StoreError> {
        let (count, rows) = self.worker.block(move |p| sql::passwords(p, after))?;
        let rows = sql::decode_passwords(rows)?;
        self.passwords_mut().merge(count, rows);
        Ok(())
    }

    fn reload_lock(&self) -> MutexGuard<'_, ()> {
        self.reloading.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the users written or deleted since the model's generation
    /// (not every user: an import of ten users on another node costs ten
    /// rows) and takes them in, unless a newer generation got in meanwhile
    /// (an apply of this node patching the model).
    fn reload(&self) -> Result<(), StoreError> {
        let _one = self.reload_lock();
        let since = self.model().generation;
        let (generation, next_id, bodies, deleted) =
            self.worker.block(move |p| sql::load_changes(p, since))?;
        let written = sql::decode_users(bodies)?;
        let mut m = self.model_mut();
        if generation >= m.generation {
            m.patch(deleted, written, generation, next_id);
        }
        Ok(())
    }

    /// A phone's state, its version and its password write count.
    fn phone_state_row(&self, mac: Mac) -> Result<Option<(PhoneState, i64, i64)>, StoreError> {
        let key = mac.bytes().to_vec();
        let row = self.worker.block(move |p| sql::phone_state(p, key))?;
        row.map(|(body, v, seq)| decode("phone state", &body).map(|s| (s, v, seq)))
            .transpose()
    }
}

impl Store for PostgresStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.refresh()?;
        let sites = self.worker.block(sql::sites)?;
        let m = self.model();
        Ok(Snapshot {
            users: m.users.values().cloned().collect(),
            sites,
            generation: m.generation,
            next_id: m.next_id.max(1),
        })
    }

    fn apply(
        &self,
        expected_generation: u64,
        changes: ChangeSet,
        record: &ImportRecord,
    ) -> Result<(), StoreError> {
        let record = encode(record);
        let changes = self
            .worker
            .block(move |p| sql::apply(p, expected_generation, changes, record))?;
        let mut m = self.model_mut();
        if m.generation == expected_generation {
            m.apply(changes, expected_generation + 1);
            return Ok(());
        }
        drop(m);
        self.reload()
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.model().users.values().cloned().collect())
    }

    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        // Copied out first: `f` may call back into the store.
        let users = self.users()?;
        users.into_iter().for_each(f);
        Ok(())
    }

    fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(self.model().users.get(username).cloned())
    }

    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        Ok(self.model().user_by_mac(mac.bytes()).cloned())
    }

    fn sites(&self) -> Result<Vec<Site>, StoreError> {
        self.worker.block(sql::sites)
    }

    fn put_sites(&self, sites: &[Site]) -> Result<(), StoreError> {
        let rows: Vec<(String, String)> =
            sites.iter().map(|s| (s.name.clone(), encode(s))).collect();
        self.worker.block(move |p| sql::put_sites(p, rows))
    }

    fn history(&self) -> Result<Vec<ImportRecord>, StoreError> {
        self.worker.block(sql::history)
    }

    fn record_run(&self, record: &ImportRecord) -> Result<(), StoreError> {
        let body = encode(record);
        self.worker.block(move |p| sql::record_run(p, body))
    }

    fn phone_state(&self, mac: Mac) -> Result<Option<PhoneState>, StoreError> {
        Ok(self.phone_state_row(mac)?.map(|(s, _, _)| s))
    }

    /// From the read model: a render never waits on the database, and a
    /// node cut off from it still serves a phone whose passwords it has
    /// seen. `None` sends the caller to [`Store::update_phone_state`],
    /// which reads the database (another node may have issued them since
    /// the last refresh) and fails while it is down.
    fn phone_passwords(&self, mac: Mac) -> Result<Option<PhonePasswords>, StoreError> {
        Ok(self.passwords().get(mac.bytes()).cloned())
    }

    fn put_phone_state(&self, mac: Mac, state: &PhoneState) -> Result<(), StoreError> {
        let (key, body) = (mac.bytes().to_vec(), encode(state));
        let seq = self
            .worker
            .block(move |p| sql::put_phone_state(p, key, body))?;
        self.passwords_mut()
            .note(mac.bytes(), seq, state.passwords.clone());
        Ok(())
    }

    /// A compare-and-set on the row's version, retried when another
    /// writer (another request, another node) came first. A change of the
    /// passwords is counted, so other nodes' read models pick it up.
    fn update_phone_state(
        &self,
        mac: Mac,
        f: &mut dyn FnMut(&mut PhoneState),
    ) -> Result<PhoneState, StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut state, version, seq) = match self.phone_state_row(mac)? {
                Some((s, v, seq)) => (s, Some(v), seq),
                None => (PhoneState::default(), None, 0),
            };
            let before = state.passwords.clone();
            f(&mut state);
            let changed = state.passwords != before;
            let (key, body) = (mac.bytes().to_vec(), encode(&state));
            let written = self
                .worker
                .block(move |p| sql::swap_phone_state(p, key, version, body, changed, seq))?;
            if let Some(seq) = written {
                self.passwords_mut()
                    .note(mac.bytes(), seq, state.passwords.clone());
                return Ok(state);
            }
        }
        Err(db(format!(
            "the state of phone {} kept changing under {CAS_ATTEMPTS} attempts to update it",
            mac.plain()
        )))
    }

    fn put_fetch_event(&self, mac: Mac, seq: u64, event: &FetchEvent) -> Result<(), StoreError> {
        let (key, body) = (mac.bytes().to_vec(), encode(event));
        let slot = i16::from(slot(seq));
        self.worker
            .block(move |p| sql::put_fetch_event(p, key, slot, int(seq), body))
    }

    fn fetch_events(&self, mac: Mac) -> Result<Vec<FetchEvent>, StoreError> {
        let key = mac.bytes().to_vec();
        let bodies = self.worker.block(move |p| sql::fetch_events(p, key))?;
        bodies.iter().map(|b| decode("fetch event", b)).collect()
    }

    fn bump_config_versions(&self, usernames: &[String]) -> Result<usize, StoreError> {
        if usernames.is_empty() {
            return Ok(0);
        }
        let names = usernames.to_vec();
        let (users, before, after) = self.worker.block(move |p| sql::bump(p, names))?;
        let bumped = users.len();
        if bumped == 0 {
            return Ok(0);
        }
        let mut m = self.model_mut();
        if m.generation == before {
            m.replace(users, after);
            return Ok(bumped);
        }
        drop(m);
        self.reload()?;
        Ok(bumped)
    }

    fn generation(&self) -> Result<u64, StoreError> {
        Ok(self.model().generation)
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.worker.block(sql::leases)
    }

    fn put_leases(&self, leases: &[Lease]) -> Result<(), StoreError> {
        if leases.is_empty() {
            return Ok(());
        }
        let leases = leases.to_vec();
        self.worker
            .block(move |p| sql::write_leases(p, leases, None))
            .map(|_| ())
    }

    fn claim_leases(&self, leases: &[Lease], now: u64) -> Result<Vec<bool>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let leases = leases.to_vec();
        self.worker
            .block(move |p| sql::write_leases(p, leases, Some(now)))
    }

    /// Every node reads the same document; one never written reads as
    /// empty (`Some`, not `None`: the database is where it lives).
    fn shared_blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_string();
        let body = self.worker.block(move |p| sql::shared_blob(p, name))?;
        Ok(Some(body.unwrap_or_default()))
    }

    fn put_shared_blob(&self, name: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        let (name, body) = (name.to_string(), bytes.to_vec());
        self.worker
            .block(move |p| sql::put_shared_blob(p, name, body))?;
        Ok(true)
    }

    fn try_run_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_secs: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        let until = now.saturating_add(ttl_secs);
        self.worker
            .block(move |p| sql::try_run_lease(p, name, holder, until, now))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.worker.block(sql::ping)
    }

    /// Passwords first: a rotation on another node also moves the
    /// generation, and whatever follows the generation (the render cache)
    /// must find the new passwords in place when it moves.
    fn refresh(&self) -> Result<bool, StoreError> {
        let known = self.model().generation;
        let (now, password_writes) = self.worker.block(sql::generation)?;
        let seen = self.passwords().seq;
        if password_writes != seen {
            self.reload_passwords(Some(seen))?;
        }
        if now == known {
            self.model_mut().touch(now);
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    fn staleness(&self) -> Option<std::time::Duration> {
        Some(self.model().checked.elapsed())
    }
}
