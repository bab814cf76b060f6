//! Users in shards: the write path (copy-on-write shard rewrites behind the
//! redo log) and the read paths (one user, by MAC, all in name order).

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::index::{Directory, Indexes};
use super::shard::{self, Encoded};
use super::{ChunkWriter, META_SHARDS, SledStore, State, corrupt, decode};
use crate::domain::User;
use crate::domain::mac::Mac;
use crate::store::{Change, StoreError};

/// The changes that fall into one shard (or into the first shard of an
/// empty store): names to remove and users to put, each sorted by name.
#[derive(Default)]
struct Bucket<'a> {
    removes: Vec<&'a str>,
    puts: Vec<&'a Encoded>,
}

/// What a write does to the indexes: the frames of the users it removed or
/// replaced, then of those it put (no shard header).
#[derive(Default)]
struct IndexDelta {
    removed: Vec<u8>,
    added: Vec<u8>,
}

impl SledStore {
    /// Writes `changes` (old users out, new ones in) and whatever `meta`
    /// adds to the redo log, as one committed step. Call under the writer
    /// lock.
    pub(super) fn write_users(
        &self,
        changes: Vec<Change>,
        meta: impl FnOnce(&mut ChunkWriter) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let t = std::time::Instant::now();
        self.drop_chunks()?;
        let (mut dir, track) = {
            let state = self.read_state();
            (state.dir.clone(), state.indexes.is_some())
        };
        self.drop_uncommitted_shards(dir.next_id)?;

        let mut removes: Vec<String> = Vec::new();
        let mut news: Vec<Box<User>> = Vec::with_capacity(changes.len());
        for c in changes {
            if let Some(old) = c.old {
                removes.push(old.username);
            }
            news.extend(c.new);
        }
        // Framing serialises each user: the one CPU-heavy part, so in parallel.
        let mut news: Vec<Encoded> = news.into_par_iter().map(|u| Encoded::new(&u)).collect();
        news.par_sort_unstable_by(|a, b| a.name.cmp(&b.name));
        news.dedup_by(|a, b| a.name == b.name);
        removes.sort_unstable();
        removes.dedup();

        let mut buckets: BTreeMap<Option<u32>, Bucket> = BTreeMap::new();
        for name in &removes {
            buckets
                .entry(dir.shard_of(name))
                .or_default()
                .removes
                .push(name);
        }
        for e in &news {
            buckets
                .entry(dir.shard_of(&e.name))
                .or_default()
                .puts
                .push(e);
        }
        let mut delta = IndexDelta::default();
        let mut retired = Vec::new();
        let mut written = 0;
        for (id, bucket) in &buckets {
            written += self.rewrite_shard(*id, bucket, &mut dir, &mut delta, track)?;
            retired.extend(*id);
        }
        drop(buckets);
        drop((news, removes));
        self.flush()?;
        tracing::debug!(
            written,
            retired = retired.len(),
            ms = t.elapsed().as_millis() as u64,
            "shards written"
        );

        let mut state = self.write_state();
        self.commit_log(|out| {
            for id in &retired {
                out.del_shard(*id)?;
            }
            out.put(META_SHARDS, &dir.encode())?;
            meta(out)
        })?;
        state.dir = dir;
        {
            let mut hot = state.hot.lock().unwrap_or_else(|p| p.into_inner());
            for id in &retired {
                hot.remove(id);
            }
        }
        if track && let Some(ix) = state.indexes.as_mut() {
            apply_delta(ix, &delta)?;
        } else {
            // Built while this write ran (or never): build again when needed.
            state.indexes = None;
        }
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "users committed");
        Ok(())
    }

    /// Merges `bucket` into shard `id` (none: the store has no shards yet)
    /// and writes the result under new ids; returns how many.
    fn rewrite_shard(
        &self,
        id: Option<u32>,
        bucket: &Bucket,
        dir: &mut Directory,
        delta: &mut IndexDelta,
        track: bool,
    ) -> Result<usize, StoreError> {
        let old_bytes = match id {
            None => None,
            Some(id) => Some(self.shard_bytes(id)?),
        };
        let old = match &old_bytes {
            None => Vec::new(),
            Some(b) => shard::entries(b).map_err(|e| corrupt("user shard", e))?,
        };
        let mut items: Vec<(&str, &[u8])> = Vec::with_capacity(old.len() + bucket.puts.len());
        let mut puts = bucket.puts.iter().peekable();
        let removed = |name: &str| bucket.removes.binary_search(&name).is_ok();
        for e in &old {
            while let Some(p) = puts.next_if(|p| p.name.as_str() < e.name) {
                items.push((&p.name, &p.raw));
            }
            let replaced = puts.next_if(|p| p.name == e.name);
            if replaced.is_some() || removed(e.name) {
                if track {
                    delta.removed.extend_from_slice(e.raw);
                }
            } else {
                items.push((e.name, e.raw));
            }
            if let Some(p) = replaced {
                items.push((&p.name, &p.raw));
            }
        }
        items.extend(puts.map(|p| (p.name.as_str(), &p.raw[..])));
        if track {
            for p in &bucket.puts {
                delta.added.extend_from_slice(&p.raw);
            }
        }
        if let Some(id) = id {
            dir.remove(id);
        }
        let mut written = 0;
        shard::cut(&items, |first, bytes| {
            let new_id = dir.next_id;
            dir.next_id = new_id
                .checked_add(1)
                .ok_or_else(|| corrupt("user shards", "shard ids exhausted"))?;
            self.shards.insert(new_id.to_be_bytes(), bytes)?;
            dir.insert(first.to_string(), new_id);
            written += 1;
            Ok::<_, StoreError>(())
        })?;
        Ok(written)
    }

    fn shard_bytes(&self, id: u32) -> Result<sled::IVec, StoreError> {
        self.shards
            .get(id.to_be_bytes())?
            .ok_or_else(|| corrupt("user shards", format!("shard {id} is missing")))
    }

    /// The user `name`, looked up through `dir` (held by the caller, so a
    /// write cannot retire the shard in between).
    pub(super) fn find_user(&self, state: &State, name: &str) -> Result<Option<User>, StoreError> {
        let Some(id) = state.dir.shard_of(name) else {
            return Ok(None);
        };
        let cached = state
            .hot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned();
        let bytes = match cached {
            Some(b) => b,
            None => {
                let b = self.shard_bytes(id)?;
                // Under the caller's read lock: a write cannot retire `id`
                // between the read and this insert.
                state
                    .hot
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, b.clone());
                b
            }
        };
        match shard::find(&bytes, name).map_err(|e| corrupt("user shard", e))? {
            None => Ok(None),
            Some(e) => decode("user", e.json).map(Some),
        }
    }

    /// Runs `f` on the indexes, building them first if needed.
    pub(super) fn with_indexes<T>(&self, f: impl Fn(&Indexes) -> T) -> Result<T, StoreError> {
        loop {
            {
                let state = self.read_state();
                if let Some(ix) = &state.indexes {
                    return Ok(f(ix));
                }
            }
            self.build_indexes()?;
        }
    }

    pub(super) fn user_by_mac_indexed(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        loop {
            {
                let state = self.read_state();
                if let Some(ix) = &state.indexes {
                    let Some(name) = ix.by_mac.get(&mac.bytes()) else {
                        return Ok(None);
                    };
                    return self.find_user(&state, name);
                }
            }
            self.build_indexes()?;
        }
    }

    /// Reads every shard's frames (no JSON) into the MAC and extension
    /// indexes.
    fn build_indexes(&self) -> Result<(), StoreError> {
        let mut state = self.write_state();
        if state.indexes.is_some() {
            return Ok(());
        }
        let t = std::time::Instant::now();
        let mut ix = Indexes::default();
        for id in state.dir.ids() {
            let bytes = self.shard_bytes(id)?;
            for e in shard::entries(&bytes).map_err(|e| corrupt("user shard", e))? {
                ix.add(&e);
            }
        }
        tracing::debug!(
            macs = ix.by_mac.len(),
            ms = t.elapsed().as_millis() as u64,
            "user indexes built"
        );
        state.indexes = Some(ix);
        Ok(())
    }

    /// Visits every user in name order, one shard in memory at a time. Moves
    /// on by the last name seen, not by shard id, so a write that splits or
    /// retires shards meanwhile neither skips nor repeats a user.
    pub(super) fn walk_users(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        let mut after: Option<String> = None;
        loop {
            let bytes = {
                let state = self.read_state();
                match self.next_shard(&state.dir, after.as_deref())? {
                    None => return Ok(()),
                    Some(b) => b,
                }
            };
            let entries = shard::entries(&bytes).map_err(|e| corrupt("user shard", e))?;
            let mut last = None;
            for e in entries
                .iter()
                .filter(|e| after.as_deref().is_none_or(|a| e.name > a))
            {
                f(decode("user", e.json)?);
                last = Some(e.name);
            }
            match last {
                None => return Ok(()),
                Some(name) => after = Some(name.to_string()),
            }
        }
    }

    /// The shard holding the first user after `after` (from the start for
    /// `None`); `None` when there is none.
    fn next_shard(
        &self,
        dir: &Directory,
        after: Option<&str>,
    ) -> Result<Option<sled::IVec>, StoreError> {
        let Some(after) = after else {
            return dir.first().map(|id| self.shard_bytes(id)).transpose();
        };
        if let Some(id) = dir.shard_of(after) {
            let bytes = self.shard_bytes(id)?;
            let entries = shard::entries(&bytes).map_err(|e| corrupt("user shard", e))?;
            if entries.last().is_some_and(|e| e.name > after) {
                return Ok(Some(bytes));
            }
        }
        dir.shard_after(after)
            .map(|id| self.shard_bytes(id))
            .transpose()
    }
}

/// Takes the removed users' MACs and extensions out, then puts the new ones in.
fn apply_delta(ix: &mut Indexes, delta: &IndexDelta) -> Result<(), StoreError> {
    for e in shard::frames(&delta.removed).map_err(|e| corrupt("index update", e))? {
        ix.remove(&e);
    }
    for e in shard::frames(&delta.added).map_err(|e| corrupt("index update", e))? {
        ix.add(&e);
    }
    Ok(())
}
