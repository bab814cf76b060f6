//! The render cache: a phone file's rendered bytes kept between requests,
//! so a boot storm renders each file once instead of on every request.
//!
//! What a rendered file depends on, and how the cache follows it:
//!
//! - **The request** ([`Key`]): the path (the file and, in per-MAC names,
//!   the MAC), the channel (full file, or the plain-HTTP bootstrap with the
//!   HTTPS URL it points to), the HTTPS and HTTP base URLs the phone used
//!   (they are written into files), and what the User-Agent says (vendor,
//!   model, firmware, MAC: `provision` reads nothing else of it). So an
//!   HTTP bootstrap never gets the HTTPS full file, and one phone never
//!   another's.
//! - **The store** ([`Epoch`]): its generation, bumped by every import,
//!   settings edit (an upsert import), `bump_config_versions` and password
//!   rotation (which bumps the owners' config versions); and the
//!   provisioner's refresh count (its extension directory, re-read after an
//!   import). A file rendered while either moved is not kept.
//! - **The clock**: the zone rules written into files are those of the
//!   current year, recomputed hourly by `provision::context`; the epoch
//!   holds the hour.
//! - **Config and templates** are read once at start: a new server (the
//!   only way to load changed ones today) starts with an empty cache;
//!   [`RenderCache::invalidate`] is what a future reload must call.
//!
//! Access checks, the fetch record and the counters run on every request:
//! only the rendering is skipped. Bounded by bytes (bodies and keys),
//! least recently used first out, in shards to keep the lock short.
//!
//! Each entry carries a strong `ETag` (a hash of its bytes) and, when it
//! can be trusted to the second, a `Last-Modified`; `If-None-Match` (else
//! `If-Modified-Since`) that still matches gets a 304 (RFC 9110 §13.2.2).

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use sha2::{Digest, Sha256};

use crate::app::metrics::RenderCacheStats;
use crate::domain::mac::Mac;
use crate::provision::{self, Channel, Served};
use crate::vendors::UaInfo;

/// Shards (each with its own lock and a share of the budget).
const SHARDS: usize = 8;

/// What an entry costs besides its body and key: the map and LRU slots,
/// the entry's fixed fields, the allocator's rounding.
const ENTRY_OVERHEAD: usize = 256;

/// The request facts a rendered file depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    path: Box<str>,
    /// `None` for the full file; the HTTPS URL a bootstrap points to.
    bootstrap: Option<Box<str>>,
    https_url: Option<Box<str>>,
    http_url: Option<Box<str>>,
    ua: Option<UaKey>,
}

/// What the User-Agent tells the provisioner.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct UaKey {
    vendor: &'static str,
    model: Option<Box<str>>,
    firmware: Option<Box<str>>,
    mac: Option<Mac>,
}

impl Key {
    /// The key of `req`.
    pub fn of(req: &provision::Request<'_>) -> Key {
        let ua = req
            .user_agent
            .and_then(crate::vendors::parse_user_agent)
            .map(|(v, info)| {
                // Every field: one added to `UaInfo` must be added here.
                let UaInfo {
                    model,
                    firmware,
                    mac,
                } = info;
                UaKey {
                    vendor: v.id,
                    model: model.map(Into::into),
                    firmware: firmware.map(Into::into),
                    mac,
                }
            });
        Key {
            path: req.path.into(),
            bootstrap: match &req.channel {
                Channel::Secure => None,
                Channel::Bootstrap { https_url } => Some(https_url.as_str().into()),
            },
            https_url: req.https_url.map(Into::into),
            http_url: req.http_url.map(Into::into),
            ua,
        }
    }

    /// Bytes the key holds (it is kept twice: map and LRU index).
    fn size(&self) -> usize {
        let s = |o: &Option<Box<str>>| o.as_ref().map_or(0, |s| s.len());
        let ua = self.ua.as_ref().map_or(0, |u| s(&u.model) + s(&u.firmware));
        std::mem::size_of::<Key>()
            + self.path.len()
            + s(&self.bootstrap)
            + s(&self.https_url)
            + s(&self.http_url)
            + ua
    }
}

/// What must not have changed since a file was rendered for it to be
/// served again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    generation: u64,
    refreshes: u64,
    hour: u64,
    resets: u64,
}

/// A rendered file, ready to send.
#[derive(Debug)]
pub struct Entry {
    epoch: Epoch,
    pub body: Bytes,
    pub content_type: &'static str,
    /// `"<hex>"`: the first 128 bits of the bytes' SHA-256.
    pub etag: HeaderValue,
    /// Seconds since the epoch and the header; `None` when a different
    /// file for the same request was made in the same second (a
    /// one-second date could not tell them apart).
    pub last_modified: Option<(u64, HeaderValue)>,
    pub file: String,
    pub vendor: &'static str,
    pub staged: bool,
    pub main: bool,
    pub warnings: Vec<String>,
}

impl Entry {
    /// The entry for `served`, rendered in `epoch` at `now` (seconds).
    fn new(served: Served, epoch: Epoch, now: u64) -> Entry {
        let hash = Sha256::digest(&served.body);
        let etag = format!("\"{}\"", hex::encode(&hash[..16]));
        Entry {
            epoch,
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"-\"")),
            last_modified: Some(http_date(now)),
            body: Bytes::from(served.body),
            content_type: served.content_type,
            file: served.file,
            vendor: served.vendor,
            staged: served.staged,
            main: served.main,
            warnings: served.warnings,
        }
    }

    /// A file rendered with the cache off: an ETag, but no date (nothing
    /// remembers which bytes an earlier second's date stood for).
    pub fn uncached(served: Served) -> Entry {
        let epoch = Epoch {
            generation: 0,
            refreshes: 0,
            hour: 0,
            resets: 0,
        };
        let mut entry = Entry::new(served, epoch, 0);
        entry.last_modified = None;
        entry
    }

    /// Whether the request's validators say the client has these bytes.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        if let Some(inm) = text(IF_NONE_MATCH) {
            let ours = self.etag.to_str().unwrap_or("");
            return inm
                .split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == ours);
        }
        let Some((modified, _)) = &self.last_modified else {
            return false;
        };
        text(IF_MODIFIED_SINCE)
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .is_some_and(|since| *modified <= secs(since))
    }

    fn size(&self, key: &Key) -> usize {
        self.body.len() + 2 * key.size() + ENTRY_OVERHEAD
    }
}

/// One shard: the entries, and their keys by last use.
#[derive(Default)]
struct Shard {
    map: HashMap<Key, Slot, foldhash::fast::RandomState>,
    lru: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
    /// The latest `Last-Modified` of any entry dropped from this shard: a
    /// new file may only claim a later second.
    floor: u64,
}

struct Slot {
    entry: Arc<Entry>,
    tick: u64,
    size: usize,
}

impl Shard {
    fn touch(&mut self, key: &Key) -> Option<Arc<Entry>> {
        self.tick += 1;
        let tick = self.tick;
        let slot = self.map.get_mut(key)?;
        if let Some(k) = self.lru.remove(&slot.tick) {
            self.lru.insert(tick, k);
        }
        slot.tick = tick;
        Some(slot.entry.clone())
    }

    fn remove(&mut self, key: &Key) -> Option<Slot> {
        let slot = self.map.remove(key)?;
        self.lru.remove(&slot.tick);
        self.forget(&slot);
        Some(slot)
    }

    /// Accounts for a slot taken out of the map.
    fn forget(&mut self, slot: &Slot) {
        self.bytes -= slot.size;
        if let Some((s, _)) = &slot.entry.last_modified {
            let s = *s;
            self.floor = self.floor.max(s);
        }
    }

    /// Drops the least recently used entries until `budget` holds.
    fn evict(&mut self, budget: usize) {
        while self.bytes > budget {
            let Some((_, key)) = self.lru.pop_first() else {
                break;
            };
            if let Some(slot) = self.map.remove(&key) {
                self.forget(&slot);
            }
        }
    }
}

/// The cache: shards of entries under one byte budget.
pub struct RenderCache {
    shards: Vec<Mutex<Shard>>,
    shard_budget: usize,
    hasher: foldhash::fast::RandomState,
    resets: AtomicU64,
    stats: Arc<RenderCacheStats>,
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCache")
            .field("budget", &(self.shard_budget * SHARDS))
            .finish()
    }
}

impl RenderCache {
    /// A cache holding up to `budget` bytes; `None` for 0 (off).
    pub fn new(budget: usize) -> Option<RenderCache> {
        (budget > 0).then(|| RenderCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_budget: budget / SHARDS,
            hasher: foldhash::fast::RandomState::default(),
            resets: AtomicU64::new(0),
            stats: Arc::new(RenderCacheStats::default()),
        })
    }

    /// The counters `/metrics` shows.
    pub fn stats(&self) -> Arc<RenderCacheStats> {
        self.stats.clone()
    }

    /// The epoch now, for a store at `generation` and a provisioner
    /// refreshed `refreshes` times.
    pub fn epoch(&self, generation: u64, refreshes: u64) -> Epoch {
        Epoch {
            generation,
            refreshes,
            hour: now_secs() / 3600,
            resets: self.resets.load(Ordering::Acquire),
        }
    }

    /// Forgets every entry (a config or template reload).
    pub fn invalidate(&self) {
        self.resets.fetch_add(1, Ordering::AcqRel);
    }

    /// The current file for `key`, if one is kept.
    pub fn get(&self, key: &Key, epoch: Epoch) -> Option<Arc<Entry>> {
        let found = self.shard(key).touch(key).filter(|e| e.epoch == epoch);
        let counter = if found.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Makes the entry for `served`, rendered in `epoch`, and keeps it if
    /// `keep` (nothing moved while it was rendered) and it fits.
    pub fn put(&self, key: Key, epoch: Epoch, served: Served, keep: bool) -> Arc<Entry> {
        let now = now_secs();
        let mut entry = Entry::new(served, epoch, now);
        let mut shard = self.shard(&key);
        let old = shard.remove(&key);
        match old.as_ref().map(|s| &s.entry) {
            // The same bytes as before: the client's date still holds.
            Some(o) if o.etag == entry.etag => entry.last_modified = o.last_modified.clone(),
            _ if now <= shard.floor => entry.last_modified = None,
            _ => {}
        }
        let entry = Arc::new(entry);
        let size = entry.size(&key);
        if keep && size <= self.shard_budget / 4 {
            shard.tick += 1;
            let tick = shard.tick;
            shard.lru.insert(tick, key.clone());
            shard.map.insert(
                key,
                Slot {
                    entry: entry.clone(),
                    tick,
                    size,
                },
            );
            shard.bytes += size;
            shard.evict(self.shard_budget);
        }
        drop(shard);
        self.count();
        entry
    }

    fn shard(&self, key: &Key) -> MutexGuard<'_, Shard> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refreshes the size gauges.
    fn count(&self) {
        let (mut bytes, mut entries) = (0, 0);
        for s in &self.shards {
            let s = s.lock().unwrap_or_else(|p| p.into_inner());
            bytes += s.bytes;
            entries += s.map.len();
        }
        self.stats.bytes.store(bytes as u64, Ordering::Relaxed);
        self.stats.entries.store(entries as u64, Ordering::Relaxed);
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn now_secs() -> u64 {
    secs(SystemTime::now())
}

fn http_date(s: u64) -> (u64, HeaderValue) {
    let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s));
    let value = HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""));
    (s, value)
}

#[cfg(test)]
mod tests;
