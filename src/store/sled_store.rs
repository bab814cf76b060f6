//! The sled engine: one `Db`, one tree per record kind plus index trees.

use std::path::Path;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{ChangeSet, ImportRecord, PhoneState, Snapshot, Store, StoreError};
use crate::domain::{Site, User};
use crate::mac::Mac;

const META_GENERATION: &[u8] = b"generation";
const META_NEXT_ID: &[u8] = b"next_id";

/// Store on sled 0.34. Cheap to clone (trees are `Arc`s).
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    users: sled::Tree,
    by_username: sled::Tree,
    by_extension: sled::Tree,
    by_mac: sled::Tree,
    sites: sled::Tree,
    history: sled::Tree,
    meta: sled::Tree,
    phone_state: sled::Tree,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(what, e))
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn read_u64(tree: &sled::Tree, key: &[u8]) -> Result<u64, StoreError> {
    match tree.get(key)? {
        None => Ok(0),
        Some(v) => {
            let arr: [u8; 8] = v.as_ref().try_into().map_err(|e| corrupt("meta", e))?;
            Ok(u64::from_be_bytes(arr))
        }
    }
}

impl SledStore {
    /// Opens (creating if needed) the store in `dir`. A second process gets
    /// [`StoreError::Locked`] at once instead of waiting.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir.join("db"))
            .open()
            .map_err(|e| match e {
                // sled wraps the flock failure in a generic io::Error.
                sled::Error::Io(ref io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    StoreError::Locked(dir.display().to_string())
                }
                other => StoreError::Storage(other),
            })?;
        let store = SledStore {
            users: db.open_tree("users")?,
            by_username: db.open_tree("idx_username")?,
            by_extension: db.open_tree("idx_extension")?,
            by_mac: db.open_tree("idx_mac")?,
            sites: db.open_tree("sites")?,
            history: db.open_tree("history")?,
            meta: db.open_tree("meta")?,
            phone_state: db.open_tree("phone_state")?,
            db,
        };
        Ok(store)
    }

    fn user_by_id(&self, id: &[u8]) -> Result<Option<User>, StoreError> {
        match self.users.get(id)? {
            None => Ok(None),
            Some(v) => decode("user", &v).map(Some),
        }
    }

    /// Flushes to disk; called after every write that must survive a crash.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// Index entries a user owns, precomputed outside the transaction closure
/// (which sled may run more than once).
struct Keys {
    id: [u8; 8],
    username: Vec<u8>,
    extensions: Vec<Vec<u8>>,
    macs: Vec<[u8; 6]>,
}

impl Keys {
    fn of(u: &User) -> Keys {
        Keys {
            id: u.id.to_be_bytes(),
            username: u.username.as_bytes().to_vec(),
            extensions: u
                .lines
                .iter()
                .map(|l| l.extension.as_bytes().to_vec())
                .collect(),
            macs: u.phones.iter().map(|p| p.mac.bytes()).collect(),
        }
    }
}

impl Store for SledStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        // Read meta first: a write between the reads bumps the generation and
        // makes the later apply fail with Conflict rather than act on stale data.
        let generation = read_u64(&self.meta, META_GENERATION)?;
        let next_id = read_u64(&self.meta, META_NEXT_ID)?.max(1);
        Ok(Snapshot {
            users: self.users()?,
            sites: self.sites()?,
            generation,
            next_id,
        })
    }

    fn apply(
        &self,
        expected_generation: u64,
        changes: &ChangeSet,
        record: &ImportRecord,
    ) -> Result<(), StoreError> {
        let olds: Vec<Keys> = changes
            .changes
            .iter()
            .filter_map(|c| c.old.as_ref().map(Keys::of))
            .collect();
        let news: Vec<(Keys, Vec<u8>)> = changes
            .changes
            .iter()
            .filter_map(|c| c.new.as_ref().map(|u| (Keys::of(u), encode(u))))
            .collect();
        let record_bytes = encode(record);
        let history_key = read_u64(&self.meta, b"history_seq")?.wrapping_add(1);

        let result: Result<(), TransactionError<StoreError>> = (
            &self.users,
            &self.by_username,
            &self.by_extension,
            &self.by_mac,
            &self.meta,
            &self.history,
        )
            .transaction(|(users, by_username, by_ext, by_mac, meta, history)| {
                let current = match meta.get(META_GENERATION)? {
                    None => 0,
                    Some(v) => u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0xff; 8])),
                };
                if current != expected_generation {
                    return Err(ConflictableTransactionError::Abort(StoreError::Conflict));
                }
                // Remove every old index entry first so that swaps of
                // extensions or MACs inside one import are legal.
                for k in &olds {
                    users.remove(&k.id[..])?;
                    by_username.remove(k.username.as_slice())?;
                    for e in &k.extensions {
                        by_ext.remove(e.as_slice())?;
                    }
                    for m in &k.macs {
                        by_mac.remove(&m[..])?;
                    }
                }
                for (k, bytes) in &news {
                    users.insert(&k.id[..], bytes.as_slice())?;
                    by_username.insert(k.username.as_slice(), &k.id[..])?;
                    for e in &k.extensions {
                        by_ext.insert(e.as_slice(), &k.id[..])?;
                    }
                    for m in &k.macs {
                        by_mac.insert(&m[..], &k.id[..])?;
                    }
                }
                meta.insert(META_GENERATION, &(expected_generation + 1).to_be_bytes())?;
                meta.insert(META_NEXT_ID, &changes.next_id.to_be_bytes())?;
                meta.insert(b"history_seq", &history_key.to_be_bytes())?;
                history.insert(&history_key.to_be_bytes(), record_bytes.as_slice())?;
                Ok(())
            });
        match result {
            Ok(()) => self.flush(),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(StoreError::Storage(e)),
        }
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.users
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                decode("user", &v)
            })
            .collect()
    }

    fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        match self.by_username.get(username.as_bytes())? {
            None => Ok(None),
            Some(id) => self.user_by_id(&id),
        }
    }

    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        match self.by_mac.get(mac.bytes())? {
            None => Ok(None),
            Some(id) => self.user_by_id(&id),
        }
    }

    fn sites(&self) -> Result<Vec<Site>, StoreError> {
        self.sites
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                decode("site", &v)
            })
            .collect()
    }

    fn put_sites(&self, sites: &[Site]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for kv in self.sites.iter() {
            let (k, _) = kv?;
            batch.remove(k);
        }
        for s in sites {
            batch.insert(s.name.as_bytes(), encode(s));
        }
        self.sites.apply_batch(batch)?;
        self.flush()
    }

    fn history(&self) -> Result<Vec<ImportRecord>, StoreError> {
        self.history
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                decode("history", &v)
            })
            .collect()
    }

    fn phone_state(&self, mac: Mac) -> Result<Option<PhoneState>, StoreError> {
        match self.phone_state.get(mac.bytes())? {
            None => Ok(None),
            Some(v) => decode("phone state", &v).map(Some),
        }
    }

    fn put_phone_state(&self, mac: Mac, state: &PhoneState) -> Result<(), StoreError> {
        self.phone_state.insert(mac.bytes(), encode(state))?;
        Ok(())
    }
}
