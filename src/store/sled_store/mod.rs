//! The sled engine.
//!
//! An import must be all-or-nothing, and fast at 100,000 users. sled costs
//! 5–9 µs per key written, so users are not one key each: they sit in
//! **shards**, values of ~64 KiB holding a run of users in username order
//! (`shard.rs` has the format). A 100,000-user import writes ~700 shard
//! values instead of ~200,000 keys. Shards are ranged by username, not
//! hashed, so listing users in name order streams one shard at a time.
//!
//! Writes are copy-on-write plus a small redo log:
//!
//! 1. every shard a write touches is rewritten (merged with the changes, and
//!    cut again when it grows past 128 KiB) under **new** ids in the
//!    `shards` tree, never over a live shard, and flushed;
//! 2. the redo log (`redo` tree, chunks `p/<n>`) gets the new manifest (the
//!    list of live shards, `g/shards`), the history line, the meta keys and
//!    the removal of the replaced shards; flushed;
//! 3. `g/commit` = number of chunks is inserted and flushed: the commit point;
//! 4. the log is applied and flushed, then `g/commit` and the chunks go.
//!
//! [`SledStore::open`] replays a committed log (idempotent), drops the chunks
//! of an uncommitted one, and drops shards at or above the manifest's next
//! id (written by a write that never committed), so the store is always
//! before or after a write, never half.
//!
//! In memory: the manifest as a directory (username → shard), and the MAC
//! and extension indexes, built from the shards' frames on first use and
//! kept in step by every write. A phone's lookup is the MAC index, then one
//! shard read and the one user's JSON decoded.
//!
//! `records` holds history (`h/`) and meta (`g/`). The first layout kept one
//! key per user (`u/`) and per MAC (`m/`) there; `open` moves such a store
//! into shards in one committed step (`migrate.rs`). Run-time phone state,
//! fetch events, leases and sites, which imports don't own, have their own
//! trees.

mod index;
mod migrate;
mod redo;
mod shard;
mod users;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{ChangeSet, FetchEvent, ImportRecord, PhoneState, Snapshot, Store, StoreError};
use crate::domain::mac::Mac;
use crate::domain::{Lease, Site, User};
use index::{Directory, Indexes};

/// Key prefixes inside the `records` tree.
const HISTORY: u8 = b'h';
const META_GENERATION: &[u8] = b"g/generation";
const META_NEXT_ID: &[u8] = b"g/next_id";
const META_HISTORY_SEQ: &[u8] = b"g/history_seq";
const META_COMMIT: &[u8] = b"g/commit";
/// The live shards ([`Directory::encode`]).
const META_SHARDS: &[u8] = b"g/shards";
const REDO_CHUNK: u8 = b'p';
/// Size at which a redo chunk is written out.
const CHUNK_BYTES: usize = 4 << 20;

/// sled's page cache; its 1 GiB default made a 100,000-user import peak at 2.4 GB.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Store on sled 0.34. Cheap to clone.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    records: sled::Tree,
    /// Redo chunks and the commit marker. A tree of their own: sled keeps
    /// values inline in leaf pages, and multi-MiB chunks sharing a leaf with
    /// small keys made every nearby write rewrite that whole page.
    redo: sled::Tree,
    /// Users, by shard id (4 bytes, big-endian).
    shards: sled::Tree,
    sites: sled::Tree,
    phone_state: sled::Tree,
    /// MAC + slot → seq (8 bytes, big-endian) + the event as JSON: each
    /// phone's fetch history ring.
    fetch_events: sled::Tree,
    /// DHCP leases by IPv4 address (4 bytes, so scans run in address order).
    leases: sled::Tree,
    /// Serialises check-generation-then-write: sled's directory lock already
    /// keeps other processes out, so this makes the optimistic check exact.
    writer: Arc<Mutex<()>>,
    /// Directory and indexes. Readers hold it while they pick and read a
    /// shard; a write holds it while its log is applied, so no reader sees
    /// a shard id that the write just retired.
    state: Arc<RwLock<State>>,
}

#[derive(Debug, Default)]
struct State {
    dir: Directory,
    /// Built on first need (the CLI's import never needs them).
    indexes: Option<Indexes>,
    /// Shards read by single-user lookups, kept whole. sled reads a shard
    /// through its leaf node (up to 16 shards, ~1 MiB) and caches 16 MiB of
    /// nodes: a boot storm's random lookups would reread a node each time.
    /// Bounded by the store's user bytes (~45 MB at 100,000 users); walks
    /// over every user do not fill it. A write drops the shards it retires.
    hot: std::sync::Mutex<std::collections::HashMap<u32, sled::IVec>>,
}

fn key(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(rest.len() + 2);
    k.push(prefix);
    k.push(b'/');
    k.extend_from_slice(rest);
    k
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
    /// [`StoreError::Locked`] at once instead of waiting. Finishes a write
    /// that committed before a crash, and moves a store of the first layout
    /// into shards.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(CACHE_BYTES)
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
            records: db.open_tree("records")?,
            redo: db.open_tree("redo")?,
            shards: db.open_tree("shards")?,
            sites: db.open_tree("sites")?,
            phone_state: db.open_tree("phone_state")?,
            fetch_events: db.open_tree("fetch_events")?,
            leases: db.open_tree("leases")?,
            db,
            writer: Arc::new(Mutex::new(())),
            state: Arc::new(RwLock::new(State::default())),
        };
        match read_u64(&store.redo, META_COMMIT)? {
            0 => store.drop_chunks()?,
            chunks => {
                tracing::warn!("completing an import that was interrupted");
                store.replay(chunks)?;
            }
        }
        let mut directory = store.read_directory()?;
        store.drop_uncommitted_shards(directory.next_id)?;
        if migrate::needed(&store.records)? {
            directory = migrate::run(&store)?;
        }
        store.write_state().dir = directory;
        Ok(store)
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The committed manifest; an empty directory for a new store.
    fn read_directory(&self) -> Result<Directory, StoreError> {
        match self.records.get(META_SHARDS)? {
            None => Ok(Directory::default()),
            Some(v) => Directory::decode(&v).map_err(|e| corrupt("shard manifest", e)),
        }
    }

    /// Removes shards at or above `next_id`: written by a write that did
    /// not reach its commit point.
    fn drop_uncommitted_shards(&self, next_id: u32) -> Result<(), StoreError> {
        let keys: Vec<sled::IVec> = self
            .shards
            .range(next_id.to_be_bytes()..)
            .keys()
            .collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Ok(());
        }
        for k in keys {
            self.shards.remove(k)?;
        }
        self.flush()
    }

    /// Applies a committed redo log and retires it. Safe to run again after a
    /// crash at any point before `g/commit` is gone.
    fn replay(&self, chunks: u64) -> Result<(), StoreError> {
        for n in 0..chunks {
            let chunk = self
                .redo
                .get(key(REDO_CHUNK, &n.to_be_bytes()))?
                .ok_or_else(|| corrupt("pending import", format!("redo chunk {n} is missing")))?;
            for op in redo::decode(&chunk).map_err(|e| corrupt("pending import", e))? {
                match op {
                    redo::Op::Put(k, v) => self.records.insert(k, v).map(drop)?,
                    redo::Op::Del(k) => self.records.remove(k).map(drop)?,
                    redo::Op::DelShard(k) => self.shards.remove(k).map(drop)?,
                };
            }
        }
        // The writes must be durable before the log that could redo them goes.
        self.flush()?;
        self.redo.remove(META_COMMIT)?;
        self.flush()?;
        self.drop_chunks()
    }

    /// Writes the log `fill` produces, commits it and applies it.
    fn commit_log(
        &self,
        fill: impl FnOnce(&mut ChunkWriter) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut out = ChunkWriter {
            tree: &self.redo,
            log: redo::Writer::with_capacity(64 * 1024),
            chunks: 0,
        };
        fill(&mut out)?;
        let chunks = out.finish()?;
        self.flush()?;
        // The commit point: once this is durable, the write happens.
        self.redo.insert(META_COMMIT, &chunks.to_be_bytes())?;
        self.flush()?;
        self.replay(chunks)
    }

    /// Removes redo chunks: leftovers of a retired log or of an import that
    /// died before its commit point.
    fn drop_chunks(&self) -> Result<(), StoreError> {
        let keys: Vec<sled::IVec> = self
            .redo
            .scan_prefix([REDO_CHUNK, b'/'])
            .keys()
            .collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Ok(());
        }
        for k in keys {
            self.redo.remove(k)?;
        }
        self.flush()
    }

    fn scan<T: serde::de::DeserializeOwned>(
        &self,
        prefix: u8,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.records
            .scan_prefix([prefix, b'/'])
            .map(|kv| {
                let (_, v) = kv?;
                decode(what, &v)
            })
            .collect()
    }

    /// Flushes to disk; called after every write that must survive a crash.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The user who has extension `ext` on one of their lines.
    pub fn owner_of_extension(&self, ext: &str) -> Result<Option<String>, StoreError> {
        self.with_indexes(|ix| ix.by_ext.get(ext).map(|n| n.to_string()))
    }
}

/// Writes redo operations into chunks of about [`CHUNK_BYTES`].
struct ChunkWriter<'a> {
    tree: &'a sled::Tree,
    log: redo::Writer,
    chunks: u64,
}

impl ChunkWriter<'_> {
    fn put(&mut self, k: &[u8], v: &[u8]) -> Result<(), StoreError> {
        self.log.put(k, v);
        self.spill_if_full()
    }

    fn del(&mut self, k: &[u8]) -> Result<(), StoreError> {
        self.log.del(k);
        self.spill_if_full()
    }

    fn del_shard(&mut self, id: u32) -> Result<(), StoreError> {
        self.log.del_shard(&id.to_be_bytes());
        self.spill_if_full()
    }

    fn spill_if_full(&mut self) -> Result<(), StoreError> {
        if self.log.len() >= CHUNK_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), StoreError> {
        let log = std::mem::replace(&mut self.log, redo::Writer::with_capacity(64 * 1024));
        self.tree
            .insert(key(REDO_CHUNK, &self.chunks.to_be_bytes()), log.finish())?;
        self.chunks += 1;
        Ok(())
    }

    /// Writes the last chunk; returns how many there are.
    fn finish(mut self) -> Result<u64, StoreError> {
        if !self.log.is_empty() {
            self.spill()?;
        }
        Ok(self.chunks)
    }
}

impl Store for SledStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        // Read meta first: a write between the reads bumps the generation and
        // makes the later apply fail with Conflict rather than act on stale data.
        let generation = read_u64(&self.records, META_GENERATION)?;
        let next_id = read_u64(&self.records, META_NEXT_ID)?.max(1);
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
        changes: ChangeSet,
        record: &ImportRecord,
    ) -> Result<(), StoreError> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if read_u64(&self.records, META_GENERATION)? != expected_generation {
            return Err(StoreError::Conflict);
        }
        let ChangeSet { changes, next_id } = changes;
        let seq = read_u64(&self.records, META_HISTORY_SEQ)? + 1;
        self.write_users(changes, |out| {
            out.put(&key(HISTORY, &seq.to_be_bytes()), &encode(record))?;
            out.put(META_HISTORY_SEQ, &seq.to_be_bytes())?;
            out.put(META_NEXT_ID, &next_id.to_be_bytes())?;
            out.put(META_GENERATION, &(expected_generation + 1).to_be_bytes())
        })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut all = Vec::new();
        self.for_each_user(&mut |u| all.push(u))?;
        Ok(all)
    }

    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        self.walk_users(f)
    }

    fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let state = self.read_state();
        self.find_user(&state, username)
    }

    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        self.user_by_mac_indexed(mac)
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
        self.scan(HISTORY, "history")
    }

    fn phone_state(&self, mac: Mac) -> Result<Option<PhoneState>, StoreError> {
        match self.phone_state.get(mac.bytes())? {
            None => Ok(None),
            Some(v) => decode("phone state", &v).map(Some),
        }
    }

    fn record_run(&self, record: &ImportRecord) -> Result<(), StoreError> {
        // Under the writer lock, so the sequence number is not taken twice.
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let seq = read_u64(&self.records, META_HISTORY_SEQ)? + 1;
        let mut batch = sled::Batch::default();
        batch.insert(key(HISTORY, &seq.to_be_bytes()), encode(record));
        batch.insert(META_HISTORY_SEQ, &seq.to_be_bytes());
        self.records.apply_batch(batch)?;
        self.records.flush()?;
        Ok(())
    }

    fn put_phone_state(&self, mac: Mac, state: &PhoneState) -> Result<(), StoreError> {
        self.phone_state.insert(mac.bytes(), encode(state))?;
        Ok(())
    }

    fn put_fetch_event(&self, mac: Mac, seq: u64, event: &FetchEvent) -> Result<(), StoreError> {
        let mut key = mac.bytes().to_vec();
        key.push(super::slot(seq));
        let mut value = seq.to_be_bytes().to_vec();
        value.extend(encode(event));
        self.fetch_events.insert(key, value)?;
        Ok(())
    }

    fn fetch_events(&self, mac: Mac) -> Result<Vec<FetchEvent>, StoreError> {
        let mut all = Vec::new();
        for kv in self.fetch_events.scan_prefix(mac.bytes()) {
            let (_, v) = kv?;
            let (seq, json) = v.split_at_checked(8).ok_or_else(|| {
                StoreError::Corrupt(format!("fetch event of {} too short", mac.colon()))
            })?;
            let seq = u64::from_be_bytes(seq.try_into().unwrap_or_default());
            let event: FetchEvent = decode("fetch event", json)?;
            all.push((seq, event));
        }
        all.sort_by_key(|(seq, _)| *seq);
        Ok(all.into_iter().map(|(_, e)| e).collect())
    }

    fn update_phone_state(
        &self,
        mac: Mac,
        f: &mut dyn FnMut(&mut PhoneState),
    ) -> Result<PhoneState, StoreError> {
        // Compare-and-swap: a writer that lost the race reads the winner's
        // state and applies `f` to that.
        loop {
            let old = self.phone_state.get(mac.bytes())?;
            let mut state: PhoneState = match &old {
                None => PhoneState::default(),
                Some(v) => decode("phone state", v)?,
            };
            let passwords_before = state.passwords.clone();
            f(&mut state);
            let new = encode(&state);
            if old.as_deref() == Some(new.as_slice()) {
                return Ok(state);
            }
            if self
                .phone_state
                .compare_and_swap(mac.bytes(), old, Some(new))?
                .is_ok()
            {
                if state.passwords != passwords_before {
                    // New passwords are sent to the phone right after this
                    // returns: they must survive a crash. (A fetch record
                    // alone is not worth an fsync on the request path.)
                    self.flush()?;
                }
                return Ok(state);
            }
        }
    }

    fn bump_config_versions(&self, usernames: &[String]) -> Result<usize, StoreError> {
        // Under the writer lock: an import's apply cannot interleave.
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut bumped = 0;
        for name in usernames {
            let Some(old) = self.user(name)? else {
                continue;
            };
            // Counted per mention, as before; bumped once.
            bumped += 1;
            if !seen.insert(name.as_str()) {
                continue;
            }
            let mut new = old.clone();
            new.config_version += 1;
            changes.push(super::Change {
                old: Some(Box::new(old)),
                new: Some(Box::new(new)),
            });
        }
        if bumped > 0 {
            let generation = read_u64(&self.records, META_GENERATION)? + 1;
            self.write_users(changes, |out| {
                out.put(META_GENERATION, &generation.to_be_bytes())
            })?;
        }
        Ok(bumped)
    }

    fn generation(&self) -> Result<u64, StoreError> {
        read_u64(&self.records, META_GENERATION)
    }

    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.leases
            .iter()
            .values()
            .map(|v| decode("lease", &v?))
            .collect()
    }

    fn put_leases(&self, leases: &[Lease]) -> Result<(), StoreError> {
        if leases.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for l in leases {
            batch.insert(&l.ip.octets()[..], encode(l));
        }
        self.leases.apply_batch(batch)?;
        // One fsync for the whole batch: ~2 ms here, so per-lease flushing
        // would cap the server near 450 ACKs/s.
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A phone state written before the phone passwords existed (the JSON
    /// the previous release wrote) still reads, with no passwords, and
    /// gets them on the next update without losing the rest.
    #[test]
    fn phone_state_of_the_previous_format_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mac = Mac::parse("805ec0000042").unwrap();
        let old = br#"{"learned_model":"t54w","firmware":"96.86.0.100","last_fetch":{"time":"2025-01-01T00:00:00Z","ip":"10.0.0.5","user_agent":"Yealink SIP-T54W","file":"805ec0000042.cfg","status":200}}"#;
        store.phone_state.insert(mac.bytes(), &old[..]).unwrap();
        let state = store.phone_state(mac).unwrap().unwrap();
        assert_eq!(state.learned_model.as_deref(), Some("t54w"));
        assert_eq!(state.last_fetch.as_ref().map(|f| f.status), Some(200));
        assert_eq!(state.passwords, None);
        let pw = crate::domain::secret::PhonePasswords::generate();
        let updated = store
            .update_phone_state(mac, &mut |s| s.passwords = Some(pw.clone()))
            .unwrap();
        assert_eq!(updated.firmware.as_deref(), Some("96.86.0.100"));
        drop(store);
        let reopened = SledStore::open(dir.path()).unwrap();
        assert_eq!(reopened.phone_state(mac).unwrap(), Some(updated));
    }

    /// A phone state written before fetch histories (the lock-down
    /// release's JSON, with passwords) reads with no history and
    /// "fetched (kind not recorded)"; the next fetch starts the history
    /// and keeps the passwords.
    #[test]
    fn phone_state_without_a_fetch_history_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mac = Mac::parse("805ec0000043").unwrap();
        let pw = crate::domain::secret::PhonePasswords::generate();
        let mut before = serde_json::json!({
            "learned_model": "t54w",
            "firmware": "96.86.0.100",
            "last_fetch": {"time": "2026-01-01T00:00:00.123456789Z", "ip": "10.0.0.5",
                "user_agent": "Yealink SIP-T54W", "file": "805ec0000043.cfg", "status": 200},
            "passwords_set": "2026-01-01T00:00:00Z",
        });
        before["passwords"] = serde_json::to_value(&pw).unwrap();
        let old = serde_json::to_vec(&before).unwrap();
        store.phone_state.insert(mac.bytes(), old).unwrap();
        let state = store.phone_state(mac).unwrap().unwrap();
        assert_eq!((state.fetch_seq, &state.last_telling), (0, &None));
        assert!(store.fetch_events(mac).unwrap().is_empty());
        assert_eq!(state.provisioning(), crate::store::Provisioning::Unknown);
        let event = FetchEvent {
            time: "2026-01-02T00:00:00Z".into(),
            file: "805ec0000043.cfg".into(),
            channel: "https".into(),
            status: 200,
            kind: crate::store::FetchKind::Full,
            reason: None,
            model: Some("t54w".into()),
            firmware: Some("96.86.0.110".into()),
        };
        let updated = store
            .update_phone_state(mac, &mut |s| {
                s.push_fetch(&event);
            })
            .unwrap();
        store
            .put_fetch_event(mac, updated.fetch_seq, &event)
            .unwrap();
        assert_eq!(updated.passwords, Some(pw));
        assert_eq!(
            updated.provisioning(),
            crate::store::Provisioning::Provisioned
        );
        assert_eq!(store.fetch_events(mac).unwrap(), vec![event]);
        assert_eq!(store.phone_state(mac).unwrap(), Some(updated));
    }
}

/// The sharded layout against the in-memory engine, at a size that spans
/// many shards: creates, updates, deletes and MAC moves across shards,
/// lookups with the indexes built before and after, a reopen; and the
/// move from the first layout.
#[cfg(test)]
mod layout_tests {
    use super::*;
    use crate::domain::Line;
    use crate::store::{Change, MemoryStore};

    fn user(id: u64, name: &str, mac: u32, tag: &str) -> User {
        User {
            first_name: Some(format!("First {tag} {id}")),
            last_name: Some("x".repeat(200)),
            lines: vec![Line {
                extension: format!("{}", 10_000 + id),
                sip_username: None,
                sip_password: format!("pw-{id}"),
                transport: None,
            }],
            phones: vec![crate::domain::Phone {
                mac: Mac::parse(&format!("805ec0{mac:06x}")).unwrap(),
                vendor: "yealink".into(),
                model: None,
                ip: None,
            }],
            ..User::bare(id, name)
        }
    }

    fn record() -> ImportRecord {
        ImportRecord {
            time: "2026-01-01T00:00:00Z".into(),
            file: "t.csv".into(),
            sha256: "00".repeat(32),
            mode: "upsert".into(),
            source: None,
            created: 0,
            updated: 0,
            deleted: 0,
            unchanged: 0,
            skipped: 0,
            outcome: None,
        }
    }

    fn apply(stores: &[&dyn Store], changes: &[Change], next_id: u64) {
        for s in stores {
            let g = s.generation().unwrap();
            let set = ChangeSet {
                changes: changes.to_vec(),
                next_id,
            };
            s.apply(g, set, &record()).unwrap();
        }
    }

    fn same(sled: &SledStore, mem: &MemoryStore, macs: u32) {
        assert_eq!(sled.users().unwrap(), mem.users().unwrap());
        for m in 0..macs {
            let mac = Mac::parse(&format!("805ec0{m:06x}")).unwrap();
            assert_eq!(
                sled.user_by_mac(mac).unwrap().map(|u| u.username),
                mem.user_by_mac(mac).unwrap().map(|u| u.username),
                "MAC {m}"
            );
        }
    }

    #[test]
    fn sharded_store_matches_the_memory_engine_across_many_shards() {
        const N: u64 = 3000;
        let dir = tempfile::tempdir().unwrap();
        let sled = SledStore::open(dir.path()).unwrap();
        let mem = MemoryStore::new();
        let stores: [&dyn Store; 2] = [&sled, &mem];
        // Given in reverse order: each store sorts.
        let first: Vec<User> = (0..N)
            .rev()
            .map(|i| user(i, &format!("u{i:05}"), i as u32, "a"))
            .collect();
        let creates: Vec<Change> = first
            .iter()
            .map(|u| Change {
                old: None,
                new: Some(Box::new(u.clone())),
            })
            .collect();
        apply(&stores, &creates, N);
        let shards = sled.read_state().dir.len();
        assert!(shards > 10, "3,000 users of ~500 bytes in {shards} shards");
        same(&sled, &mem, N as u32 + 10);

        // Indexes built now must follow the next write: every 7th user
        // deleted, every 5th updated, MACs of every 11th moved to a new
        // user that sorts first (so the first shard takes names below it).
        let by_name = |i: u64| first.iter().find(|u| u.id == i).unwrap().clone();
        let mut changes = Vec::new();
        for i in 0..N {
            let old = by_name(i);
            if i % 7 == 0 {
                changes.push(Change {
                    old: Some(Box::new(old)),
                    new: None,
                });
            } else if i % 11 == 0 {
                let mut new = old.clone();
                new.phones.clear();
                changes.push(Change {
                    old: Some(Box::new(old.clone())),
                    new: Some(Box::new(new)),
                });
                let mut taker = user(N + i, &format!("a{i:05}"), i as u32, "moved");
                taker.phones = old.phones.clone();
                changes.push(Change {
                    old: None,
                    new: Some(Box::new(taker)),
                });
            } else if i % 5 == 0 {
                let mut new = user(i, &old.username, i as u32, "b");
                new.config_version = 2;
                changes.push(Change {
                    old: Some(Box::new(old)),
                    new: Some(Box::new(new)),
                });
            }
        }
        apply(&stores, &changes, 2 * N);
        same(&sled, &mem, N as u32 + 10);
        assert_eq!(
            sled.owner_of_extension(&format!("{}", 10_000 + N + 11))
                .unwrap()
                .as_deref(),
            Some("a00011")
        );
        assert_eq!(
            sled.owner_of_extension("10000").unwrap(),
            None,
            "deleted user"
        );
        assert_eq!(
            sled.bump_config_versions(&["u00001".into(), "nobody".into()])
                .unwrap(),
            1
        );
        mem.bump_config_versions(&["u00001".into()]).unwrap();
        let mut walked = Vec::new();
        sled.for_each_user(&mut |u| walked.push(u)).unwrap();
        assert_eq!(walked, mem.users().unwrap());

        // Reopened: the manifest, not the memory of this process.
        drop(sled);
        let sled = SledStore::open(dir.path()).unwrap();
        same(&sled, &mem, N as u32 + 10);
        assert_eq!(sled.generation().unwrap(), mem.generation().unwrap());
    }

    /// Writes users the way the first layout did: `u/<name>` → JSON and
    /// `m/<mac>` → name in `records`, with meta and history beside them.
    fn write_first_layout(path: &Path, users: &[User]) {
        let db = sled::open(path.join("db")).unwrap();
        let records = db.open_tree("records").unwrap();
        for u in users {
            records
                .insert(key(b'u', u.username.as_bytes()), encode(u))
                .unwrap();
            for p in &u.phones {
                records
                    .insert(key(b'm', &p.mac.bytes()), u.username.as_bytes())
                    .unwrap();
            }
        }
        records
            .insert(META_GENERATION, &7u64.to_be_bytes())
            .unwrap();
        records.insert(META_NEXT_ID, &500u64.to_be_bytes()).unwrap();
        records
            .insert(key(HISTORY, &1u64.to_be_bytes()), encode(&record()))
            .unwrap();
        records
            .insert(META_HISTORY_SEQ, &1u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }

    #[test]
    fn a_store_of_the_first_layout_is_moved_into_shards_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let users: Vec<User> = (0..400)
            .map(|i| user(i, &format!("user{i:04}"), i as u32, "old"))
            .collect();
        write_first_layout(dir.path(), &users);
        {
            // A move that died before its commit point left a shard behind.
            let db = sled::open(dir.path().join("db")).unwrap();
            let shards = db.open_tree("shards").unwrap();
            shards
                .insert(0u32.to_be_bytes(), &b"half-written"[..])
                .unwrap();
            db.flush().unwrap();
        }

        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.users().unwrap(), users);
        assert_eq!(store.generation().unwrap(), 7);
        assert_eq!(store.snapshot().unwrap().next_id, 500);
        assert_eq!(store.history().unwrap(), vec![record()]);
        let mac = users[123].phones[0].mac;
        assert_eq!(store.user_by_mac(mac).unwrap(), Some(users[123].clone()));
        assert_eq!(store.user("user0399").unwrap(), Some(users[399].clone()));
        assert!(!migrate::needed(&store.records).unwrap(), "old keys gone");
        assert!(store.read_state().dir.len() > 1);

        // Writes work on the moved store, and it reopens as it is.
        let mut changed = users[5].clone();
        changed.first_name = Some("Changed".into());
        let g = store.generation().unwrap();
        let set = ChangeSet {
            changes: vec![Change {
                old: Some(Box::new(users[5].clone())),
                new: Some(Box::new(changed.clone())),
            }],
            next_id: 500,
        };
        store.apply(g, set, &record()).unwrap();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.user("user0005").unwrap(), Some(changed));
        assert_eq!(store.users().unwrap().len(), 400);
    }

    /// Shards a write left before its commit point are not users: the next
    /// open drops them, and the ids are used again.
    #[test]
    fn shards_of_an_uncommitted_write_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let u = user(1, "ann", 1, "a");
        let set = ChangeSet {
            changes: vec![Change {
                old: None,
                new: Some(Box::new(u.clone())),
            }],
            next_id: 2,
        };
        store.apply(0, set, &record()).unwrap();
        let next = store.read_state().dir.next_id;
        store
            .shards
            .insert(next.to_be_bytes(), &b"S\x01garbage"[..])
            .unwrap();
        store.flush().unwrap();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.shards.get(next.to_be_bytes()).unwrap().is_none());
        assert_eq!(store.users().unwrap(), vec![u]);
    }
}
