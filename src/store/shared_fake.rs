//! A test double of a store several nodes share: the in-memory engine plus
//! what a database engine adds (conditional lease claims, shared documents,
//! run leases), so the multi-node logic of the faces is tested in-process
//! without PostgreSQL. The real engine is tested against a real server.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{
    ChangeSet, FetchEvent, ImportRecord, MemoryStore, PhoneState, Snapshot, Store, StoreError,
};
use crate::domain::mac::Mac;
use crate::domain::{Lease, LeaseState, Site, User};

/// [`MemoryStore`] with a database engine's shared behaviour.
#[derive(Debug, Default)]
pub struct SharedFake {
    pub inner: MemoryStore,
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    /// Run lease name → (holder, expires).
    runs: Mutex<HashMap<String, (String, u64)>>,
    /// When true, every call fails as an unreachable database would.
    pub down: std::sync::atomic::AtomicBool,
}

impl SharedFake {
    fn up(&self) -> Result<(), StoreError> {
        if self.down.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Database("database down".into()));
        }
        Ok(())
    }
}

impl Store for SharedFake {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.inner.snapshot()
    }
    fn apply(&self, g: u64, c: ChangeSet, r: &ImportRecord) -> Result<(), StoreError> {
        self.inner.apply(g, c, r)
    }
    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.inner.users()
    }
    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        self.inner.for_each_user(f)
    }
    fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.inner.user(username)
    }
    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        self.inner.user_by_mac(mac)
    }
    fn sites(&self) -> Result<Vec<Site>, StoreError> {
        self.inner.sites()
    }
    fn put_sites(&self, sites: &[Site]) -> Result<(), StoreError> {
        self.inner.put_sites(sites)
    }
    fn history(&self) -> Result<Vec<ImportRecord>, StoreError> {
        self.inner.history()
    }
    fn record_run(&self, record: &ImportRecord) -> Result<(), StoreError> {
        self.inner.record_run(record)
    }
    fn phone_state(&self, mac: Mac) -> Result<Option<PhoneState>, StoreError> {
        self.inner.phone_state(mac)
    }
    fn put_phone_state(&self, mac: Mac, state: &PhoneState) -> Result<(), StoreError> {
        self.inner.put_phone_state(mac, state)
    }
    fn update_phone_state(
        &self,
        mac: Mac,
        f: &mut dyn FnMut(&mut PhoneState),
    ) -> Result<PhoneState, StoreError> {
        self.inner.update_phone_state(mac, f)
    }
    fn put_fetch_event(&self, mac: Mac, seq: u64, event: &FetchEvent) -> Result<(), StoreError> {
        self.inner.put_fetch_event(mac, seq, event)
    }
    fn fetch_events(&self, mac: Mac) -> Result<Vec<FetchEvent>, StoreError> {
        self.inner.fetch_events(mac)
    }
    fn bump_config_versions(&self, usernames: &[String]) -> Result<usize, StoreError> {
        self.inner.bump_config_versions(usernames)
    }
    fn generation(&self) -> Result<u64, StoreError> {
        self.inner.generation()
    }
    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.up()?;
        self.inner.leases()
    }
    fn put_leases(&self, leases: &[Lease]) -> Result<(), StoreError> {
        self.up()?;
        self.inner.put_leases(leases)
    }
    /// Refuses a lease whose address another MAC holds bound and unexpired.
    /// The whole batch is decided under one look at the table, as one
    /// database transaction would.
    fn claim_leases(&self, leases: &[Lease], now: u64) -> Result<Vec<bool>, StoreError> {
        self.up()?;
        let mut held: HashMap<_, _> = self
            .inner
            .leases()?
            .into_iter()
            .map(|l| (l.ip, l))
            .collect();
        let mut ok = Vec::with_capacity(leases.len());
        let mut write = Vec::new();
        for l in leases {
            let taken = held
                .get(&l.ip)
                .is_some_and(|h| h.mac != l.mac && h.state == LeaseState::Bound && h.expires > now);
            ok.push(!taken);
            if !taken {
                held.insert(l.ip, l.clone());
                write.push(l.clone());
            }
        }
        self.inner.put_leases(&write)?;
        Ok(ok)
    }
    fn shared_blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.up()?;
        let blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Some(blobs.get(name).cloned().unwrap_or_default()))
    }
    fn put_shared_blob(&self, name: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        self.up()?;
        let mut blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        blobs.insert(name.to_string(), bytes.to_vec());
        Ok(true)
    }
    fn try_run_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_secs: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.up()?;
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let free = runs
            .get(name)
            .is_none_or(|(h, until)| h == holder || *until <= now);
        if free {
            runs.insert(name.to_string(), (holder.to_string(), now + ttl_secs));
        }
        Ok(free)
    }
    fn ping(&self) -> Result<(), StoreError> {
        self.up()
    }
    fn staleness(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::ZERO)
    }
}
