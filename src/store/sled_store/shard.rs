//! A shard: one sled value holding a run of users in username order.
//!
//! Each user is framed with what the in-memory indexes need, so an index can
//! be rebuilt without decoding any JSON:
//!
//! ```text
//! shard = [b'S'][1] entry*                      (sorted by name, names unique)
//! entry = [name len u16][name]
//!         [mac count u16][6 bytes per MAC]
//!         [extension count u16]([len u16][extension])*
//!         [json len u32][the user as JSON]
//! ```
//!
//! Integers are big-endian. The reader checks every length, since it reads
//! from disk.

use crate::domain::User;

const MAGIC: [u8; 2] = [b'S', 1];

/// A shard is cut when a rewrite makes it larger than this...
pub const MAX_BYTES: usize = 128 * 1024;
/// ...into pieces of about this size. 100,000 users (~45 MB) make ~700.
pub const TARGET_BYTES: usize = 64 * 1024;

/// One user inside a shard, borrowed from the shard's bytes.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub name: &'a str,
    /// 6 bytes per MAC.
    macs: &'a [u8],
    exts: &'a [u8],
    ext_count: usize,
    pub json: &'a [u8],
    /// The whole framed entry, to copy into a rewritten shard as is.
    pub raw: &'a [u8],
}

impl<'a> Entry<'a> {
    pub fn macs(&self) -> impl Iterator<Item = [u8; 6]> + 'a {
        self.macs
            .chunks_exact(6)
            .map(|c| <[u8; 6]>::try_from(c).unwrap_or_default())
    }

    /// The extensions; checked to be UTF-8 by [`entries`].
    pub fn extensions(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut buf = self.exts;
        (0..self.ext_count).filter_map(move |_| {
            let b = take_u16_prefixed(&mut buf).ok()?;
            std::str::from_utf8(b).ok()
        })
    }
}

/// A user framed for a shard, owned (a new or changed user).
#[derive(Debug)]
pub struct Encoded {
    pub name: String,
    pub raw: Vec<u8>,
}

impl Encoded {
    /// Frames `user`. Lengths beyond the frame's integers cannot come from
    /// a validated import (usernames and extensions are short).
    pub fn new(user: &User) -> Encoded {
        let json = serde_json::to_vec(user).unwrap_or_default();
        let mut raw = Vec::with_capacity(json.len() + user.username.len() + 64);
        put_u16_prefixed(&mut raw, user.username.as_bytes());
        raw.extend_from_slice(&(user.phones.len() as u16).to_be_bytes());
        for p in &user.phones {
            raw.extend_from_slice(&p.mac.bytes());
        }
        raw.extend_from_slice(&(user.lines.len() as u16).to_be_bytes());
        for l in &user.lines {
            put_u16_prefixed(&mut raw, l.extension.as_bytes());
        }
        raw.extend_from_slice(&(json.len() as u32).to_be_bytes());
        raw.extend_from_slice(&json);
        Encoded {
            name: user.username.clone(),
            raw,
        }
    }
}

fn put_u16_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&bytes[..len]);
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if buf.len() < n {
        return Err("truncated shard".into());
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

fn take_u16(buf: &mut &[u8]) -> Result<usize, String> {
    let b = take(buf, 2)?;
    Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
}

fn take_u16_prefixed<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let n = take_u16(buf)?;
    take(buf, n)
}

fn entry<'a>(buf: &mut &'a [u8]) -> Result<Entry<'a>, String> {
    let start = *buf;
    let name = std::str::from_utf8(take_u16_prefixed(buf)?).map_err(|e| e.to_string())?;
    let mac_count = take_u16(buf)?;
    let macs = take(buf, mac_count * 6)?;
    let ext_count = take_u16(buf)?;
    let exts_start = *buf;
    for _ in 0..ext_count {
        std::str::from_utf8(take_u16_prefixed(buf)?).map_err(|e| e.to_string())?;
    }
    let exts = &exts_start[..exts_start.len() - buf.len()];
    let len = take(buf, 4)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let json = take(buf, len)?;
    let raw = &start[..start.len() - buf.len()];
    Ok(Entry {
        name,
        macs,
        exts,
        ext_count,
        json,
        raw,
    })
}

/// Every entry of a shard, in order; an error names what is wrong.
pub fn entries(shard: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let mut buf = shard
        .strip_prefix(&MAGIC[..])
        .ok_or("not a shard (unknown header)")?;
    let mut out = Vec::new();
    while !buf.is_empty() {
        let e = entry(&mut buf)?;
        if out.last().is_some_and(|p: &Entry| p.name >= e.name) {
            return Err(format!("shard out of order at user {:?}", e.name));
        }
        out.push(e);
    }
    Ok(out)
}

/// The entry named `name`, if the shard has it.
pub fn find<'a>(shard: &'a [u8], name: &str) -> Result<Option<Entry<'a>>, String> {
    let mut buf = shard
        .strip_prefix(&MAGIC[..])
        .ok_or("not a shard (unknown header)")?;
    while !buf.is_empty() {
        let e = entry(&mut buf)?;
        match e.name.cmp(name) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return Ok(Some(e)),
            std::cmp::Ordering::Greater => return Ok(None),
        }
    }
    Ok(None)
}

/// Splits framed entries (in name order) into shard values: one if they
/// fit in [`MAX_BYTES`], else even pieces of about [`TARGET_BYTES`]. Hands
/// each piece's first name and bytes to `emit` as soon as it is full, so
/// the pieces of a large import are never all in memory.
pub fn cut<E>(
    items: &[(&str, &[u8])],
    mut emit: impl FnMut(&str, Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let total: usize = items.iter().map(|(_, raw)| raw.len()).sum();
    let per_piece = if total <= MAX_BYTES {
        total
    } else {
        total / total.div_ceil(TARGET_BYTES)
    };
    let mut piece: Option<(&str, Vec<u8>)> = None;
    for (name, raw) in items {
        if let Some((first, buf)) = piece.take_if(|(_, b)| b.len() - MAGIC.len() >= per_piece) {
            emit(first, buf)?;
        }
        let (_, buf) = piece.get_or_insert_with(|| {
            let mut buf = Vec::with_capacity(per_piece.min(MAX_BYTES) + MAGIC.len() + 4096);
            buf.extend_from_slice(&MAGIC);
            (name, buf)
        });
        buf.extend_from_slice(raw);
    }
    match piece {
        Some((first, buf)) => emit(first, buf),
        None => Ok(()),
    }
}

/// Framed entries without the shard header and without the order check:
/// the index changes of one write, gathered across shards.
pub fn frames(mut buf: &[u8]) -> Result<Vec<Entry<'_>>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        out.push(entry(&mut buf)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mac::Mac;
    use crate::domain::{Line, Phone};

    fn user(name: &str, mac: &str, ext: &str) -> User {
        User {
            first_name: Some("Ann".into()),
            lines: vec![Line {
                extension: ext.into(),
                sip_username: None,
                sip_password: "pw".into(),
                transport: None,
            }],
            phones: vec![Phone {
                mac: Mac::parse(mac).unwrap(),
                vendor: "yealink".into(),
                model: None,
                ip: None,
            }],
            ..User::bare(1, name)
        }
    }

    fn pieces(items: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        cut(items, |first, bytes| {
            out.push((first.to_string(), bytes));
            Ok::<_, ()>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn entries_round_trip_and_truncation_is_an_error() {
        let a = Encoded::new(&user("ann", "805ec0000001", "1001"));
        let b = Encoded::new(&user("bob", "805ec0000002", "1002"));
        let items = [(a.name.as_str(), &a.raw[..]), (b.name.as_str(), &b.raw[..])];
        let pieces = pieces(&items);
        assert_eq!(pieces.len(), 1);
        let shard = &pieces[0].1;
        let es = entries(shard).unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(es[1].name, "bob");
        assert_eq!(
            es[1].macs().collect::<Vec<_>>(),
            vec![[0x80, 0x5e, 0xc0, 0, 0, 2]]
        );
        assert_eq!(es[1].extensions().collect::<Vec<_>>(), vec!["1002"]);
        let back: User = serde_json::from_slice(es[1].json).unwrap();
        assert_eq!(back, user("bob", "805ec0000002", "1002"));
        assert_eq!(find(shard, "bob").unwrap().unwrap().raw, &b.raw[..]);
        assert!(find(shard, "bo").unwrap().is_none());
        assert!(find(shard, "zed").unwrap().is_none());
        // Cut anywhere but between two entries: an error, never a panic.
        let boundary = MAGIC.len() + a.raw.len();
        for n in (3..shard.len()).filter(|n| *n != boundary) {
            assert!(entries(&shard[..n]).is_err(), "a shard cut at {n} decoded");
        }
        assert!(entries(b"XX").is_err());
    }

    #[test]
    fn large_runs_are_cut_into_even_pieces_in_order() {
        let users: Vec<Encoded> = (0..3000)
            .map(|i| Encoded::new(&user(&format!("u{i:05}"), "805ec0000001", "1")))
            .collect();
        let items: Vec<(&str, &[u8])> = users
            .iter()
            .map(|e| (e.name.as_str(), &e.raw[..]))
            .collect();
        let pieces = pieces(&items);
        assert!(pieces.len() > 2, "{} pieces", pieces.len());
        let mut names = Vec::new();
        for (first, bytes) in &pieces {
            assert!(bytes.len() <= TARGET_BYTES + 1024, "{} bytes", bytes.len());
            let es = entries(bytes).unwrap();
            assert_eq!(es[0].name, first);
            names.extend(es.iter().map(|e| e.name.to_string()));
        }
        assert_eq!(names.len(), 3000);
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }
}
