//! The sled engine.
//!
//! An import must be all-or-nothing, and fast at 100,000 users. Measured here
//! at that size: a sled transaction across trees took 6.6 s and 2.4 GB, one
//! `apply_batch` 4.4 s and 1.9 GB; plain inserts cost ~7 µs per key at ~80 MB.
//! So an import is written as a redo log:
//!
//! 1. the operations go into chunks of a few MiB (`redo` tree, `p/<n>`), flushed;
//! 2. `g/commit` = number of chunks is inserted and flushed: the commit point;
//! 3. the operations are applied key by key, in key order (sequential work for
//!    sled's tree, about 3x faster than file order), and flushed;
//! 4. `g/commit` is removed, then the chunks.
//!
//! [`SledStore::open`] replays a committed log (replay is idempotent: removes,
//! then puts) and drops chunks of an uncommitted one, so the store is always
//! before or after an import, never half. Chunking keeps the log from doubling
//! peak memory.
//!
//! Keys live in one tree, `records`: users by username (`u/`), the MAC index
//! (`m/`, what a booting phone is looked up by), history (`h/`), meta (`g/`).
//! Redo chunks and the commit marker have a tree of their own. The extension index is derived in memory where needed
//! (imports plan on a full snapshot), which saves a key per user on every
//! import. Run-time phone state and sites, which imports don't own, have their
//! own trees.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{ChangeSet, FetchEvent, ImportRecord, PhoneState, Snapshot, Store, StoreError};
use crate::domain::mac::Mac;
use crate::domain::{Lease, Site, User};

/// Key prefixes inside the `records` tree.
const USER: u8 = b'u';
const BY_MAC: u8 = b'm';
const HISTORY: u8 = b'h';
const META_GENERATION: &[u8] = b"g/generation";
const META_NEXT_ID: &[u8] = b"g/next_id";
const META_HISTORY_SEQ: &[u8] = b"g/history_seq";
const META_COMMIT: &[u8] = b"g/commit";
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
    /// user keys made every nearby write rewrite that whole page (an import
    /// updating 5,000 users wrote ~6 GB of page blobs).
    redo: sled::Tree,
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
    /// [`StoreError::Locked`] at once instead of waiting.
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
            sites: db.open_tree("sites")?,
            phone_state: db.open_tree("phone_state")?,
            fetch_events: db.open_tree("fetch_events")?,
            leases: db.open_tree("leases")?,
            db,
            writer: Arc::new(Mutex::new(())),
        };
        match read_u64(&store.redo, META_COMMIT)? {
            0 => store.drop_chunks()?,
            chunks => {
                tracing::warn!("completing an import that was interrupted");
                store.replay(chunks)?;
            }
        }
        Ok(store)
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
                    redo::Op::Put(k, v) => self.records.insert(k, v)?,
                    redo::Op::Del(k) => self.records.remove(k)?,
                };
            }
        }
        // The writes must be durable before the log that could redo them goes.
        self.flush()?;
        self.redo.remove(META_COMMIT)?;
        self.flush()?;
        self.drop_chunks()
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

    fn spill_if_full(&mut self) -> Result<(), StoreError> {
        if self.log.len() >= CHUNK_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), StoreError> {
        let log = std::mem::replace(
            &mut self.log,
            redo::Writer::with_capacity(CHUNK_BYTES + 64 * 1024),
        );
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
        let t = std::time::Instant::now();
        self.drop_chunks()?;
        let ChangeSet { changes, next_id } = changes;
        // Removes first (so MACs can move between users in one import), then
        // puts; each class in key order.
        let mut removes: Vec<Vec<u8>> = Vec::new();
        let mut news: Vec<Box<User>> = Vec::with_capacity(changes.len());
        for c in changes {
            if let Some(old) = c.old {
                removes.push(key(USER, old.username.as_bytes()));
                removes.extend(old.phones.iter().map(|p| key(BY_MAC, &p.mac.bytes())));
            }
            news.extend(c.new);
        }
        removes.sort_unstable();
        removes.dedup();
        news.sort_unstable_by(|a, b| a.username.cmp(&b.username));

        let mut out = ChunkWriter {
            tree: &self.redo,
            log: redo::Writer::with_capacity(CHUNK_BYTES + 64 * 1024),
            chunks: 0,
        };
        for k in &removes {
            out.del(k)?;
        }
        drop(removes);
        let mut macs: Vec<([u8; 6], String)> = Vec::new();
        for u in news {
            out.put(&key(USER, u.username.as_bytes()), &encode(&u))?;
            macs.extend(u.phones.iter().map(|p| (p.mac.bytes(), u.username.clone())));
        }
        macs.sort_unstable();
        for (mac, name) in &macs {
            out.put(&key(BY_MAC, mac), name.as_bytes())?;
        }
        drop(macs);
        let seq = read_u64(&self.records, META_HISTORY_SEQ)? + 1;
        out.put(&key(HISTORY, &seq.to_be_bytes()), &encode(record))?;
        out.put(META_HISTORY_SEQ, &seq.to_be_bytes())?;
        out.put(META_NEXT_ID, &next_id.to_be_bytes())?;
        out.put(META_GENERATION, &(expected_generation + 1).to_be_bytes())?;
        let chunks = out.finish()?;
        self.flush()?;
        // The commit point: once this is durable, the import happens.
        self.redo.insert(META_COMMIT, &chunks.to_be_bytes())?;
        self.flush()?;
        tracing::debug!(
            chunks,
            ms = t.elapsed().as_millis() as u64,
            "redo log committed"
        );
        self.replay(chunks)?;
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "redo log applied");
        Ok(())
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.scan(USER, "user")
    }

    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        for kv in self.records.scan_prefix([USER, b'/']) {
            let (_, v) = kv?;
            f(decode("user", &v)?);
        }
        Ok(())
    }

    fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        match self.records.get(key(USER, username.as_bytes()))? {
            None => Ok(None),
            Some(v) => decode("user", &v).map(Some),
        }
    }

    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        match self.records.get(key(BY_MAC, &mac.bytes()))? {
            None => Ok(None),
            Some(name) => self.user(&String::from_utf8_lossy(&name)),
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
        let mut batch = sled::Batch::default();
        let mut bumped = 0;
        for name in usernames {
            let k = key(USER, name.as_bytes());
            let Some(v) = self.records.get(&k)? else {
                continue;
            };
            let mut user: User = decode("user", &v)?;
            user.config_version += 1;
            batch.insert(k, encode(&user));
            bumped += 1;
        }
        if bumped > 0 {
            let generation = read_u64(&self.records, META_GENERATION)? + 1;
            batch.insert(META_GENERATION, &generation.to_be_bytes());
            self.records.apply_batch(batch)?;
            self.flush()?;
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

/// The redo log's byte format: a sequence of `[op][key len u32][key]` with,
/// for puts, `[value len u32][value]` following. Our own writer produces it;
/// the reader still checks every length, since it reads from disk.
mod redo {
    #[derive(Default)]
    pub struct Writer(Vec<u8>);

    pub enum Op<'a> {
        Put(&'a [u8], &'a [u8]),
        Del(&'a [u8]),
    }

    impl Writer {
        pub fn with_capacity(bytes: usize) -> Writer {
            Writer(Vec::with_capacity(bytes))
        }

        fn chunk(&mut self, bytes: &[u8]) {
            self.0
                .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            self.0.extend_from_slice(bytes);
        }

        pub fn put(&mut self, key: &[u8], value: &[u8]) {
            self.0.push(b'P');
            self.chunk(key);
            self.chunk(value);
        }

        pub fn del(&mut self, key: &[u8]) {
            self.0.push(b'D');
            self.chunk(key);
        }

        pub fn finish(self) -> Vec<u8> {
            self.0
        }

        pub fn len(&self) -> usize {
            self.0.len()
        }

        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
    }

    fn chunk<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], String> {
        let (len, rest) = buf.split_first_chunk::<4>().ok_or("truncated length")?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err("truncated data".into());
        }
        let (data, rest) = rest.split_at(len);
        *buf = rest;
        Ok(data)
    }

    pub fn decode(mut buf: &[u8]) -> Result<Vec<Op<'_>>, String> {
        let mut ops = Vec::new();
        while let Some((&op, rest)) = buf.split_first() {
            buf = rest;
            match op {
                b'P' => {
                    let k = chunk(&mut buf)?;
                    let v = chunk(&mut buf)?;
                    ops.push(Op::Put(k, v));
                }
                b'D' => ops.push(Op::Del(chunk(&mut buf)?)),
                other => return Err(format!("unknown operation {other:#x}")),
            }
        }
        Ok(ops)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn roundtrip_and_truncation() {
            let mut w = Writer::default();
            w.put(b"k1", b"v1");
            w.del(b"k2");
            let bytes = w.finish();
            let ops = decode(&bytes).unwrap();
            assert!(matches!(ops[0], Op::Put(b"k1", b"v1")));
            assert!(matches!(ops[1], Op::Del(b"k2")));
            for cut in 1..bytes.len() {
                // Every proper prefix either decodes to fewer ops or errors; never panics.
                let _ = decode(&bytes[..cut]);
            }
            assert!(decode(b"X").is_err());
        }
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
