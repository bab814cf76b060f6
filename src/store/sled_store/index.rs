//! What the sled engine keeps in memory about its shards: the directory
//! (which shard holds which usernames), persisted as the manifest, and the
//! MAC and extension indexes, rebuilt from the shards' frames when first
//! needed and kept in step by every write.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use super::shard::Entry;

/// Shard id → first username, ordered by name. A shard holds the names from
/// its own first name up to the next shard's; the first shard also takes
/// names below its first.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    by_name: BTreeMap<String, u32>,
    /// Ids at or above this were never committed (a crashed or failed
    /// write left them), so the next write may reuse them.
    pub next_id: u32,
}

impl Directory {
    /// The shard that holds (or would hold) `name`; `None` when there are
    /// no shards.
    pub fn shard_of(&self, name: &str) -> Option<u32> {
        self.by_name
            .range::<str, _>((Bound::Unbounded, Bound::Included(name)))
            .next_back()
            .or_else(|| self.by_name.iter().next())
            .map(|(_, id)| *id)
    }

    /// The first shard whose first name sorts after `name`.
    pub fn shard_after(&self, name: &str) -> Option<u32> {
        self.by_name
            .range::<str, _>((Bound::Excluded(name), Bound::Unbounded))
            .next()
            .map(|(_, id)| *id)
    }

    pub fn first(&self) -> Option<u32> {
        self.by_name.values().next().copied()
    }

    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_name.values().copied()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn remove(&mut self, id: u32) {
        self.by_name.retain(|_, v| *v != id);
    }

    pub fn insert(&mut self, first: String, id: u32) {
        self.by_name.insert(first, id);
    }

    /// The manifest: `[next id u32][count u32]([id u32][name len u16][name])*`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.by_name.len() * 24);
        out.extend_from_slice(&self.next_id.to_be_bytes());
        out.extend_from_slice(&(self.by_name.len() as u32).to_be_bytes());
        for (name, id) in &self.by_name {
            out.extend_from_slice(&id.to_be_bytes());
            let len = name.len().min(u16::MAX as usize);
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&name.as_bytes()[..len]);
        }
        out
    }

    pub fn decode(mut buf: &[u8]) -> Result<Directory, String> {
        fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
            if buf.len() < n {
                return Err("truncated shard manifest".into());
            }
            let (h, r) = buf.split_at(n);
            *buf = r;
            Ok(h)
        }
        let u32_of = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let next_id = u32_of(take(&mut buf, 4)?);
        let count = u32_of(take(&mut buf, 4)?);
        let mut by_name = BTreeMap::new();
        for _ in 0..count {
            let id = u32_of(take(&mut buf, 4)?);
            let len = take(&mut buf, 2)?;
            let len = u16::from_be_bytes([len[0], len[1]]) as usize;
            let name = std::str::from_utf8(take(&mut buf, len)?).map_err(|e| e.to_string())?;
            by_name.insert(name.to_string(), id);
        }
        if !buf.is_empty() {
            return Err("trailing bytes after the shard manifest".into());
        }
        Ok(Directory { by_name, next_id })
    }
}

/// MAC → username and extension → username over every stored user.
#[derive(Debug, Default)]
pub struct Indexes {
    pub by_mac: HashMap<[u8; 6], Arc<str>>,
    pub by_ext: HashMap<Box<str>, Arc<str>>,
}

impl Indexes {
    /// Adds a user's MACs and extensions.
    pub fn add(&mut self, e: &Entry) {
        let name: Arc<str> = Arc::from(e.name);
        for m in e.macs() {
            self.by_mac.insert(m, name.clone());
        }
        for x in e.extensions() {
            self.by_ext.insert(x.into(), name.clone());
        }
    }

    /// Drops a user's MACs and extensions, where they still point at it (an
    /// entry added in the same write may have taken them over).
    pub fn remove(&mut self, e: &Entry) {
        for m in e.macs() {
            if self.by_mac.get(&m).is_some_and(|n| **n == *e.name) {
                self.by_mac.remove(&m);
            }
        }
        for x in e.extensions() {
            if self.by_ext.get(x).is_some_and(|n| **n == *e.name) {
                self.by_ext.remove(x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_routes_names_and_round_trips() {
        let mut d = Directory::default();
        assert_eq!(d.shard_of("x"), None);
        d.insert("carl".into(), 7);
        d.insert("mia".into(), 3);
        d.next_id = 9;
        assert_eq!(
            d.shard_of("adam"),
            Some(7),
            "below the first name: first shard"
        );
        assert_eq!(d.shard_of("carl"), Some(7));
        assert_eq!(d.shard_of("lee"), Some(7));
        assert_eq!(d.shard_of("mia"), Some(3));
        assert_eq!(d.shard_of("zoe"), Some(3));
        assert_eq!(d.shard_after("carl"), Some(3));
        assert_eq!(d.shard_after("mia"), None);
        let back = Directory::decode(&d.encode()).unwrap();
        assert_eq!(back.ids().collect::<Vec<_>>(), vec![7, 3]);
        assert_eq!(back.next_id, 9);
        let bytes = d.encode();
        assert!(Directory::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
