//! Moves a store of the first layout (one `u/<username>` key per user and one
//! `m/<mac>` key per phone in `records`) into shards, in one committed step:
//! the shards are written under fresh ids first, then one redo log sets the
//! manifest and removes every old key. A crash before the commit point
//! leaves the old layout (and shards that the next open drops, then writes
//! again); after it, the replay finishes the move.

use super::index::Directory;
use super::shard::{self, Encoded};
use super::{META_SHARDS, SledStore, StoreError, decode};
use crate::domain::User;

const OLD_USER: &[u8] = b"u/";
const OLD_BY_MAC: &[u8] = b"m/";

/// Whether `records` still holds keys of the first layout.
pub fn needed(records: &sled::Tree) -> Result<bool, StoreError> {
    for prefix in [OLD_USER, OLD_BY_MAC] {
        if records.scan_prefix(prefix).next().transpose()?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the old users into shards and commits the move; returns the new
/// directory. Streams: one shard's users in memory at a time.
pub fn run(store: &SledStore) -> Result<Directory, StoreError> {
    tracing::warn!("moving users into the sharded layout (once)");
    let t = std::time::Instant::now();
    let mut dir = Directory::default();
    let mut pending: Vec<Encoded> = Vec::new();
    let mut pending_bytes = 0;
    let mut users = 0u64;
    for kv in store.records.scan_prefix(OLD_USER) {
        let (_, v) = kv?;
        let user: User = decode("user", &v)?;
        let e = Encoded::new(&user);
        pending_bytes += e.raw.len();
        pending.push(e);
        users += 1;
        if pending_bytes >= shard::TARGET_BYTES {
            write_piece(store, &mut dir, &pending)?;
            pending.clear();
            pending_bytes = 0;
        }
    }
    write_piece(store, &mut dir, &pending)?;
    store.flush()?;
    store.commit_log(|out| {
        for prefix in [OLD_USER, OLD_BY_MAC] {
            for k in store.records.scan_prefix(prefix).keys() {
                out.del(&k?)?;
            }
        }
        out.put(META_SHARDS, &dir.encode())
    })?;
    tracing::warn!(
        users,
        shards = dir.len(),
        ms = t.elapsed().as_millis() as u64,
        "users moved into shards"
    );
    Ok(dir)
}

fn write_piece(
    store: &SledStore,
    dir: &mut Directory,
    users: &[Encoded],
) -> Result<(), StoreError> {
    let items: Vec<(&str, &[u8])> = users
        .iter()
        .map(|e| (e.name.as_str(), &e.raw[..]))
        .collect();
    shard::cut(&items, |first, bytes| {
        let id = dir.next_id;
        dir.next_id += 1;
        store.shards.insert(id.to_be_bytes(), bytes)?;
        dir.insert(first.to_string(), id);
        Ok::<_, StoreError>(())
    })
}
