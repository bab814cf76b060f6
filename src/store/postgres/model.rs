//! Each node's read model: every user by name and by MAC, at one
//! generation. A booting phone is answered from it without a database
//! round trip; [`super::PostgresStore::refresh`] reloads it when another
//! node moved the generation.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::super::ChangeSet;
use crate::domain::User;
use crate::domain::secret::PhonePasswords;

#[derive(Debug)]
pub struct Model {
    pub generation: u64,
    /// The next free user id, as of `generation`.
    pub next_id: u64,
    /// By username; `String` orders by bytes, as the other engines do.
    pub users: BTreeMap<String, User>,
    /// MAC → username.
    pub by_mac: HashMap<[u8; 6], String>,
    /// When the database last confirmed this generation.
    pub checked: Instant,
}

impl Model {
    /// The model of `users` at `generation`, confirmed now.
    pub fn new(generation: u64, next_id: u64, users: Vec<User>) -> Model {
        let mut model = Model {
            generation,
            next_id,
            users: BTreeMap::new(),
            by_mac: HashMap::new(),
            checked: Instant::now(),
        };
        for u in users {
            model.put(u);
        }
        model
    }

    fn put(&mut self, u: User) {
        for p in &u.phones {
            self.by_mac.insert(p.mac.bytes(), u.username.clone());
        }
        self.users.insert(u.username.clone(), u);
    }

    /// Applies a committed change set: olds out first, then news in, so a
    /// MAC can move between users in one import (as the other engines do).
    pub fn apply(&mut self, changes: ChangeSet, generation: u64) {
        self.next_id = changes.next_id;
        let mut news = Vec::with_capacity(changes.changes.len());
        for c in changes.changes {
            if let Some(old) = c.old {
                self.users.remove(&old.username);
                for p in &old.phones {
                    self.by_mac.remove(&p.mac.bytes());
                }
            }
            news.extend(c.new.map(|u| *u));
        }
        for u in news {
            self.put(u);
        }
        self.confirm(generation);
    }

    /// Takes in what changed since this model's generation (or an
    /// older one: the rows are each name's state at `generation`, so
    /// taking one in twice changes nothing): `written` users as stored
    /// now, `deleted` names gone unless written again. Olds out first, as
    /// in [`Model::apply`].
    pub fn patch(
        &mut self,
        deleted: Vec<String>,
        written: Vec<User>,
        generation: u64,
        next_id: u64,
    ) {
        for name in deleted.iter().chain(written.iter().map(|u| &u.username)) {
            if let Some(old) = self.users.remove(name) {
                for p in &old.phones {
                    if self.by_mac.get(&p.mac.bytes()) == Some(name) {
                        self.by_mac.remove(&p.mac.bytes());
                    }
                }
            }
        }
        for u in written {
            self.put(u);
        }
        self.next_id = next_id;
        self.confirm(generation);
    }

    /// Replaces users whose stored record changed outside an import
    /// (config version bumps).
    pub fn replace(&mut self, users: Vec<User>, generation: u64) {
        for u in users {
            self.users.insert(u.username.clone(), u);
        }
        self.confirm(generation);
    }

    pub fn confirm(&mut self, generation: u64) {
        self.generation = generation;
        self.checked = Instant::now();
    }

    /// Notes that the database is still at `generation`, unless the model
    /// moved on meanwhile.
    pub fn touch(&mut self, generation: u64) {
        if self.generation == generation {
            self.checked = Instant::now();
        }
    }

    pub fn user_by_mac(&self, mac: [u8; 6]) -> Option<&User> {
        self.by_mac.get(&mac).and_then(|n| self.users.get(n))
    }
}

/// Every phone's stored web passwords, as of password write `seq`, so the
/// renderer reads them without a round trip and a node cut off from the
/// database still serves every phone whose passwords were issued.
#[derive(Debug, Default)]
pub struct Passwords {
    /// MAC → (the write that set them, the passwords).
    by_mac: HashMap<[u8; 6], (u64, PhonePasswords)>,
    /// Every password write up to this one is in `by_mac`.
    pub seq: u64,
}

impl Passwords {
    pub fn get(&self, mac: [u8; 6]) -> Option<&PhonePasswords> {
        self.by_mac.get(&mac).map(|(_, p)| p)
    }

    /// Notes what the database holds for `mac` as of write `seq`, unless a
    /// later write is already known (a refresh that read before this
    /// node's own write must not undo it).
    pub fn note(&mut self, mac: [u8; 6], seq: u64, passwords: Option<PhonePasswords>) {
        if self.by_mac.get(&mac).is_some_and(|(known, _)| *known > seq) {
            return;
        }
        match passwords {
            Some(p) => {
                self.by_mac.insert(mac, (seq, p));
            }
            None => {
                self.by_mac.remove(&mac);
            }
        }
    }

    /// Takes in rows read after the count said `seq`: every write up to
    /// the newest one seen is in now (writes commit in count order).
    pub fn merge(&mut self, seq: u64, rows: Vec<([u8; 6], u64, Option<PhonePasswords>)>) {
        let mut newest = seq;
        for (mac, row_seq, p) in rows {
            newest = newest.max(row_seq);
            self.note(mac, row_seq, p);
        }
        self.seq = self.seq.max(newest);
    }
}
