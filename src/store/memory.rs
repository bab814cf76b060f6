//! The in-memory engine: the same [`Store`] contract as the sled engine,
//! held in maps behind one lock and gone when dropped.
//!
//! For tests that want the real import and render paths without a data
//! directory, and for previews (`render --dry`) that must not write. It keeps
//! what the trait shows of the sled engine: users and sites in byte order of
//! their names, history in the order it was written, the MAC index rebuilt by
//! each apply (removes first, then puts, so a MAC can move between users in
//! one import), the generation bumped by every apply and checked before it,
//! and `next_id` read back as at least 1. An apply is all or nothing because
//! it runs under the one lock and no step of it can fail once the generation
//! check passed: what the sled engine's redo log gives across a crash.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{ChangeSet, ImportRecord, PhoneState, Snapshot, Store, StoreError};
use crate::domain::mac::Mac;
use crate::domain::{Lease, Site, User};

/// A store in memory. `Send + Sync`; clones of its data are handed out, as
/// the sled engine hands out decoded copies.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

/// Everything the store holds; one lock, so every call sees one state.
#[derive(Debug, Default)]
struct State {
    /// By username; `String` orders by bytes, as sled's keys do.
    users: BTreeMap<String, User>,
    /// MAC → username: what a booting phone is looked up by.
    by_mac: BTreeMap<[u8; 6], String>,
    history: Vec<ImportRecord>,
    sites: BTreeMap<String, Site>,
    phone_state: BTreeMap<[u8; 6], PhoneState>,
    /// (MAC, slot) → (seq, event): the fetch history ring.
    fetch_events: BTreeMap<([u8; 6], u8), (u64, super::FetchEvent)>,
    /// By address bytes, so [`Store::leases`] lists them in address order.
    leases: BTreeMap<[u8; 4], Lease>,
    generation: u64,
    next_id: u64,
}

impl MemoryStore {
    /// An empty store: no users, no sites, generation 0.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The state, also after a panic elsewhere while it was held: every
    /// write below finishes its maps before it could panic, so the data is
    /// whole.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Applies a checked change set: the old users and their MACs go first,
    /// then the new ones, users by username and MACs by (MAC, username), the
    /// order the sled engine writes them in.
    fn apply(&mut self, changes: ChangeSet, record: &ImportRecord) {
        let ChangeSet { changes, next_id } = changes;
        let mut news: Vec<User> = Vec::with_capacity(changes.len());
        for c in changes {
            if let Some(old) = c.old {
                self.users.remove(&old.username);
                for p in &old.phones {
                    self.by_mac.remove(&p.mac.bytes());
                }
            }
            news.extend(c.new.map(|u| *u));
        }
        news.sort_by(|a, b| a.username.cmp(&b.username));
        let mut macs: Vec<([u8; 6], String)> = news
            .iter()
            .flat_map(|u| u.phones.iter().map(|p| (p.mac.bytes(), u.username.clone())))
            .collect();
        macs.sort_unstable();
        for u in news {
            self.users.insert(u.username.clone(), u);
        }
        self.by_mac.extend(macs);
        self.history.push(record.clone());
        self.next_id = next_id;
        self.generation += 1;
    }
}

impl Store for MemoryStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let s = self.state();
        Ok(Snapshot {
            users: s.users.values().cloned().collect(),
            sites: s.sites.values().cloned().collect(),
            generation: s.generation,
            next_id: s.next_id.max(1),
        })
    }

    fn apply(
        &self,
        expected_generation: u64,
        changes: ChangeSet,
        record: &ImportRecord,
    ) -> Result<(), StoreError> {
        let mut s = self.state();
        if s.generation != expected_generation {
            return Err(StoreError::Conflict);
        }
        s.apply(changes, record);
        Ok(())
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.state().users.values().cloned().collect())
    }

    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        // Copied out first: `f` may call back into the store.
        let users = self.users()?;
        users.into_iter().for_each(f);
        Ok(())
    }

    fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(self.state().users.get(username).cloned())
    }

    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        let s = self.state();
        Ok(s.by_mac
            .get(&mac.bytes())
            .and_then(|name| s.users.get(name))
            .cloned())
    }

    fn sites(&self) -> Result<Vec<Site>, StoreError> {
        Ok(self.state().sites.values().cloned().collect())
    }

    fn put_sites(&self, sites: &[Site]) -> Result<(), StoreError> {
        let table = sites.iter().map(|s| (s.name.clone(), s.clone())).collect();
        self.state().sites = table;
        Ok(())
    }

    fn history(&self) -> Result<Vec<ImportRecord>, StoreError> {
        Ok(self.state().history.clone())
    }

    fn record_run(&self, record: &ImportRecord) -> Result<(), StoreError> {
        self.state().history.push(record.clone());
        Ok(())
    }

    fn phone_state(&self, mac: Mac) -> Result<Option<PhoneState>, StoreError> {
        Ok(self.state().phone_state.get(&mac.bytes()).cloned())
    }

    fn put_phone_state(&self, mac: Mac, state: &PhoneState) -> Result<(), StoreError> {
        self.state().phone_state.insert(mac.bytes(), state.clone());
        Ok(())
    }

    fn put_fetch_event(
        &self,
        mac: Mac,
        seq: u64,
        event: &super::FetchEvent,
    ) -> Result<(), StoreError> {
        self.state()
            .fetch_events
            .insert((mac.bytes(), super::slot(seq)), (seq, event.clone()));
        Ok(())
    }

    fn fetch_events(&self, mac: Mac) -> Result<Vec<super::FetchEvent>, StoreError> {
        let s = self.state();
        let mut all: Vec<&(u64, super::FetchEvent)> = s
            .fetch_events
            .range((mac.bytes(), 0)..=(mac.bytes(), u8::MAX))
            .map(|(_, v)| v)
            .collect();
        all.sort_by_key(|(seq, _)| *seq);
        Ok(all.into_iter().map(|(_, e)| e.clone()).collect())
    }

    fn update_phone_state(
        &self,
        mac: Mac,
        f: &mut dyn FnMut(&mut PhoneState),
    ) -> Result<PhoneState, StoreError> {
        let mut s = self.state();
        let state = s.phone_state.entry(mac.bytes()).or_default();
        f(state);
        Ok(state.clone())
    }

    fn bump_config_versions(&self, usernames: &[String]) -> Result<usize, StoreError> {
        let mut s = self.state();
        let mut bumped = 0;
        for name in usernames {
            if let Some(u) = s.users.get_mut(name) {
                u.config_version += 1;
                bumped += 1;
            }
        }
        if bumped > 0 {
            s.generation += 1;
        }
        Ok(bumped)
    }

    fn generation(&self) -> Result<u64, StoreError> {
        Ok(self.state().generation)
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        Ok(self.state().leases.values().cloned().collect())
    }

    fn put_leases(&self, leases: &[Lease]) -> Result<(), StoreError> {
        let mut s = self.state();
        for l in leases {
            s.leases.insert(l.ip.octets(), l.clone());
        }
        Ok(())
    }
}
