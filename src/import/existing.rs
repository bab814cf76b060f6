//! The stored users an import plans against, held encoded.
//!
//! A decoded user costs ~1.5 KB; 100,000 of them beside 100,000 typed rows
//! took a re-import past 400 MB. So the snapshot is read before the file,
//! turned into this (the user as JSON plus the few fields every plan looks
//! at: ~600 bytes a user) and dropped; the plan decodes a user only when a
//! row names it, and keeps only the ones it changes or deletes.

use rayon::prelude::*;

use crate::domain::{Site, User};
use crate::store::Snapshot;

/// One stored user: what the final-state checks and the delete rules need,
/// and the rest encoded.
#[derive(Debug)]
pub struct Stored {
    pub name: String,
    pub source: Option<String>,
    pub extensions: Vec<String>,
    pub macs: Vec<[u8; 6]>,
    pub web_password_hash: Option<String>,
    json: Box<[u8]>,
}

impl Stored {
    fn new(u: User) -> Stored {
        Stored {
            json: serde_json::to_vec(&u)
                .unwrap_or_default()
                .into_boxed_slice(),
            extensions: u.lines.into_iter().map(|l| l.extension).collect(),
            macs: u.phones.iter().map(|p| p.mac.bytes()).collect(),
            name: u.username,
            source: u.source,
            web_password_hash: u.web_password_hash,
        }
    }

    /// The whole user. The bytes are our own encoding of a `User` made a
    /// moment ago, so decoding them cannot fail short of a bug.
    pub fn user(&self) -> User {
        serde_json::from_slice(&self.json).expect("re-decoding a user this import just encoded")
    }
}

/// The snapshot, with its users encoded, sorted by name.
#[derive(Debug, Default)]
pub struct Existing {
    pub users: Vec<Stored>,
    pub sites: Vec<Site>,
    /// For the apply's check that nothing changed meanwhile.
    pub generation: u64,
    pub next_id: u64,
}

impl Existing {
    /// Encodes the snapshot's users, dropping each decoded one as it goes.
    pub fn from_snapshot(s: Snapshot) -> Existing {
        let mut users: Vec<Stored> = s.users.into_par_iter().map(Stored::new).collect();
        users.par_sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Existing {
            users,
            sites: s.sites,
            generation: s.generation,
            next_id: s.next_id,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Stored> {
        self.users
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.users.get(i))
    }
}
