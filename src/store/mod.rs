//! Persistence behind a small trait, with two engines: sled on disk
//! ([`SledStore`], what the server and CLI use) and maps in memory
//! ([`MemoryStore`], for tests and previews that must not write).
//!
//! The import plans against a [`Snapshot`] taken outside any transaction and
//! hands back a [`ChangeSet`]; the store applies it atomically if nothing
//! changed in between (optimistic check on a generation counter).

#[cfg(test)]
mod engine_tests;
mod fetches;
mod memory;
pub mod postgres;
#[cfg(test)]
pub mod shared_fake;
mod sled_store;

use serde::{Deserialize, Serialize};

use crate::domain::mac::Mac;
use crate::domain::secret::PhonePasswords;
use crate::domain::{Lease, Site, User};

pub use fetches::{FETCH_HISTORY, FetchEvent, FetchKind, Provisioning, Telling, slot};
pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use sled_store::SledStore;

/// The name of the shared document that holds the admin tokens on a
/// database engine (the sled engine keeps them in `<data>/admin-tokens.json`).
pub const ADMIN_TOKENS: &str = "admin-tokens";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory {0} is in use by another autoprov process (stop it, or run the command against the running server)"
    )]
    Locked(String),
    #[error("the data directory changed while the import was being planned; run the import again")]
    Conflict,
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// A database server (PostgreSQL) refused or could not be reached.
    #[error("database error: {0}")]
    Database(String),
}

/// Everything an import needs to plan against, read in one pass.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub users: Vec<User>,
    pub sites: Vec<Site>,
    /// Bumped by every applied change; the apply step refuses a stale plan.
    pub generation: u64,
    /// The next free user id.
    pub next_id: u64,
}

/// One user's transition: create (`old` = None), update, or delete (`new` = None).
#[derive(Debug, Clone)]
pub struct Change {
    /// Boxed: a plan holds one `Change` per row, and two inline users would
    /// make that vector ~800 bytes a slot.
    pub old: Option<Box<User>>,
    pub new: Option<Box<User>>,
}

/// What one import writes, as a unit.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
    pub next_id: u64,
}

/// One line of import history, kept for the admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// RFC 3339 UTC.
    pub time: String,
    pub file: String,
    /// SHA-256 of the file bytes, hex.
    pub sha256: String,
    pub mode: String,
    pub source: Option<String>,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub skipped: usize,
    /// Why a scheduled run applied nothing (fetch failed, not a CSV,
    /// refused); absent for applied imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// The last time a phone asked for a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    pub time: String,
    pub ip: String,
    pub user_agent: String,
    pub file: String,
    pub status: u16,
    /// `http`, `https` or `tftp`; absent in records written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// What autoprov learned about a phone at run time (not owned by imports).
///
/// Stored as JSON; every field added later has a serde default, so records
/// written before it still decode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneState {
    pub learned_model: Option<String>,
    pub firmware: Option<String>,
    pub last_fetch: Option<Fetch>,
    /// The phone's own web passwords, issued the first time its secure
    /// main file was rendered (docs/lockdown.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords: Option<PhonePasswords>,
    /// When `passwords` were issued or last rotated (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwords_set: Option<String>,
    /// How many requests went into the fetch history (its events are in
    /// the store's ring, [`Store::fetch_events`]); 0 before histories.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fetch_seq: u64,
    /// The last fetch that decides [`PhoneState::provisioning`] (bootstrap,
    /// full or refused), so a listing needs no history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_telling: Option<Telling>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl PhoneState {
    /// Counts one request into the history and returns its number, for
    /// [`Store::put_fetch_event`]. Depends only on the state it is given,
    /// so it is safe inside [`Store::update_phone_state`].
    pub fn push_fetch(&mut self, event: &FetchEvent) -> u64 {
        self.fetch_seq += 1;
        if let Some(t) = Telling::of(event) {
            self.last_telling = Some(t);
        }
        self.fetch_seq
    }

    /// Never fetched, bootstrap only, provisioned or refused.
    pub fn provisioning(&self) -> Provisioning {
        Provisioning::of(
            self.last_telling.as_ref(),
            self.fetch_seq > 0,
            self.last_fetch.is_some(),
        )
    }
}

/// The operations the rest of autoprov needs from storage.
pub trait Store {
    fn snapshot(&self) -> Result<Snapshot, StoreError>;
    /// Applies every change or none; `expected_generation` guards against a
    /// concurrent writer. Durable when it returns. Takes the change set by
    /// value so its memory can go before the writes need theirs.
    fn apply(
        &self,
        expected_generation: u64,
        changes: ChangeSet,
        record: &ImportRecord,
    ) -> Result<(), StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Visits every user one at a time, for callers that only need a little
    /// of each (100,000 decoded users at once cost ~150 MB).
    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError>;
    fn user(&self, username: &str) -> Result<Option<User>, StoreError>;
    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError>;
    fn sites(&self) -> Result<Vec<Site>, StoreError>;
    /// Replaces the site table (sites come from the config file).
    fn put_sites(&self, sites: &[Site]) -> Result<(), StoreError>;
    fn history(&self) -> Result<Vec<ImportRecord>, StoreError>;
    /// Appends a history line for a run that wrote nothing (a scheduled
    /// source whose fetch failed, or whose file was refused).
    fn record_run(&self, record: &ImportRecord) -> Result<(), StoreError>;
    fn phone_state(&self, mac: Mac) -> Result<Option<PhoneState>, StoreError>;
    /// The phone's stored web passwords: what a render reads of its state.
    /// An engine with a read model answers from memory, so a node cut off
    /// from its database still renders every phone it knows the passwords
    /// of; `None` means issue them ([`Store::update_phone_state`]).
    fn phone_passwords(&self, mac: Mac) -> Result<Option<PhonePasswords>, StoreError> {
        Ok(self.phone_state(mac)?.and_then(|s| s.passwords))
    }
    fn put_phone_state(&self, mac: Mac, state: &PhoneState) -> Result<(), StoreError>;
    /// Changes a phone's state atomically and returns what was stored: `f`
    /// sees the current state (or the default) and edits it. Two callers
    /// never both act on the same old state, so a fetch record cannot undo
    /// a password issued meanwhile, nor two requests issue two. `f` may run
    /// more than once (the sled engine retries on a concurrent write): it
    /// must only look at the state and set values decided beforehand.
    fn update_phone_state(
        &self,
        mac: Mac,
        f: &mut dyn FnMut(&mut PhoneState),
    ) -> Result<PhoneState, StoreError>;
    /// Keeps `event` as the phone's fetch number `seq` (from
    /// [`PhoneState::push_fetch`]) in its ring of [`FETCH_HISTORY`] slots,
    /// replacing the one `FETCH_HISTORY` requests older. Not fsynced.
    fn put_fetch_event(&self, mac: Mac, seq: u64, event: &FetchEvent) -> Result<(), StoreError>;
    /// The phone's last fetches, oldest first.
    fn fetch_events(&self, mac: Mac) -> Result<Vec<FetchEvent>, StoreError>;
    /// Bumps `config_version` of each named user that exists (and the
    /// generation, so an import planned before replans), atomically;
    /// returns how many were bumped.
    fn bump_config_versions(&self, usernames: &[String]) -> Result<usize, StoreError>;
    /// Bumped by every applied import; cheap, so run-time caches (DHCP
    /// reservations) can tell when to reload.
    fn generation(&self) -> Result<u64, StoreError>;
    /// Every DHCP lease (full mode loads them once at start).
    fn leases(&self) -> Result<Vec<Lease>, StoreError>;
    /// Writes leases and makes them durable before returning: a DHCPACK is
    /// only sent after this, so a restart never hands a bound address to
    /// another phone. One call per batch of packets (group commit).
    fn put_leases(&self, leases: &[Lease]) -> Result<(), StoreError>;
    /// Writes each lease only if no other MAC holds an unexpired lease on
    /// its address (a conditional write, so two DHCP servers sharing one
    /// database never bind one address to two phones); returns, per lease,
    /// whether it was written. Durable on return. The default suits engines
    /// that one process owns: every lease is written.
    fn claim_leases(&self, leases: &[Lease], _now: u64) -> Result<Vec<bool>, StoreError> {
        self.put_leases(leases)?;
        Ok(vec![true; leases.len()])
    }
    /// A small named document every node shares (admin tokens on a
    /// database engine). `None`: this engine keeps it elsewhere (a file).
    fn shared_blob(&self, _name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    /// Stores a shared document; `false` if this engine keeps none.
    fn put_shared_blob(&self, _name: &str, _bytes: &[u8]) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// Takes or renews the run lease `name` for `holder` for `ttl_secs`, so
    /// a scheduled job runs on one node at a time and another node takes
    /// over when the holder dies; true if `holder` has it now. One process
    /// owns an embedded store, so the default always grants it.
    fn try_run_lease(
        &self,
        _name: &str,
        _holder: &str,
        _ttl_secs: u64,
        _now: u64,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Reaches the backing storage (for `/readyz`).
    fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Re-reads what other nodes may have changed and refreshes the
    /// in-memory read model; true if the generation moved. Embedded engines
    /// see every change as it is made.
    fn refresh(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// How long ago the read model was last confirmed current; `None` for
    /// engines that are always current.
    fn staleness(&self) -> Option<std::time::Duration> {
        None
    }
}
