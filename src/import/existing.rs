//! The stored users an import plans against, held encoded.
//!
//! A decoded user costs ~2.5 KB of heap; 100,000 of them (265 MB) beside
//! 100,000 typed rows took a re-import past 400 MB. So the users are read
//! one at a time, before the file, into this (the user as JSON plus the few
//! fields every plan looks at); the plan decodes a user only when a row
//! names it, and keeps only the ones it changes or deletes.

use rayon::prelude::*;

use crate::domain::{Site, User};
use crate::store::{ChangeSet, Store, StoreError};

/// One stored user: what the final-state checks and the delete rules need,
/// and the rest encoded. Boxed slices, not `Vec`s and `String`s: 100,000
/// of these are held, and each capacity word costs 0.8 MB.
#[derive(Debug)]
pub struct Stored {
    pub id: u64,
    pub name: Box<str>,
    pub source: Option<Box<str>>,
    pub extensions: Box<[Box<str>]>,
    pub macs: Box<[[u8; 6]]>,
    pub web_password_hash: Option<Box<str>>,
    json: Box<[u8]>,
}

impl Stored {
    fn new(u: User) -> Stored {
        Stored {
            id: u.id,
            json: strip_nulls(&serde_json::to_vec(&u).unwrap_or_default()).into_boxed_slice(),
            extensions: u.lines.into_iter().map(|l| l.extension.into()).collect(),
            macs: u.phones.iter().map(|p| p.mac.bytes()).collect(),
            name: u.username.into(),
            source: u.source.map(Into::into),
            web_password_hash: u.web_password_hash.map(Into::into),
        }
    }

    /// The whole user. The bytes are our own encoding of a `User` made a
    /// moment ago, so decoding them cannot fail short of a bug.
    pub fn user(&self) -> User {
        serde_json::from_slice(&self.json).expect("re-decoding a user this import just encoded")
    }
}

/// Drops the `"key":null` members of compact JSON (serde_json's own
/// output): a stored user has ten or so absent fields, ~15 % of its bytes,
/// and a missing `Option` field decodes as `None` all the same.
fn strip_nulls(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while let Some(&b) = src.get(i) {
        if b != b'"' {
            out.push(b);
            i += 1;
            continue;
        }
        // A whole string token, escapes included.
        let start = i;
        i += 1;
        while let Some(&c) = src.get(i) {
            i += if c == b'\\' { 2 } else { 1 };
            if c == b'"' {
                break;
            }
        }
        let end = i.min(src.len());
        let rest = src.get(end..).unwrap_or_default();
        // A string followed by `:` is a key; drop it with its null value and
        // one comma (the next one, or for a last member the one before).
        if let Some(after) = rest.strip_prefix(b":null")
            && matches!(after.first(), Some(b',' | b'}'))
        {
            i = end + 5;
            if after.first() == Some(&b',') {
                i += 1;
            } else if out.last() == Some(&b',') {
                out.pop();
            }
            continue;
        }
        out.extend_from_slice(&src[start..end]);
    }
    out
}

/// The snapshot, with its users encoded, sorted by name.
#[derive(Debug, Default)]
pub struct Existing {
    pub users: Vec<Stored>,
    pub sites: Vec<Site>,
    /// For the apply's check that nothing changed meanwhile.
    pub generation: u64,
    /// Provisional: see [`Existing::load`].
    pub next_id: u64,
}

impl Existing {
    /// Reads the stored users one at a time, encoding each, so the decoded
    /// snapshot never exists. `next_id` is provisional (one past the highest
    /// id): the trait gives the stored counter only with a full snapshot, so
    /// [`renumber`] reads it when an apply creates users.
    pub fn load(store: &dyn Store) -> Result<Existing, StoreError> {
        // The generation first: a write after it makes the apply refuse.
        let generation = store.generation()?;
        let sites = store.sites()?;
        let mut users = Vec::new();
        store.for_each_user(&mut |u| users.push(Stored::new(u)))?;
        // Engines list users by name; sorted again in case one does not.
        if !users.is_sorted_by(|a: &Stored, b: &Stored| a.name <= b.name) {
            users.par_sort_unstable_by(|a, b| a.name.cmp(&b.name));
        }
        let next_id = users.iter().map(|u| u.id + 1).max().unwrap_or(1);
        Ok(Existing {
            users,
            sites,
            generation,
            next_id,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Stored> {
        self.users
            .binary_search_by(|s| (*s.name).cmp(name))
            .ok()
            .and_then(|i| self.users.get(i))
    }
}

/// Gives the users `changes` creates ids from the store's own counter (ids
/// are never reused, so it can be past the highest id), when the plan
/// numbered them from `provisional`. Reads a snapshot only if there are new
/// users: a re-import without any reads none.
pub fn renumber(
    store: &dyn Store,
    changes: &mut ChangeSet,
    provisional: u64,
) -> Result<(), StoreError> {
    if !changes.changes.iter().any(|c| c.old.is_none()) {
        return Ok(());
    }
    let stored = store.snapshot()?.next_id;
    let offset = stored.saturating_sub(provisional);
    if offset == 0 {
        return Ok(());
    }
    for c in changes.changes.iter_mut().filter(|c| c.old.is_none()) {
        if let Some(u) = c.new.as_mut() {
            u.id += offset;
        }
    }
    changes.next_id += offset;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_stripped_and_users_decode_the_same() {
        let cases: [(&str, &str); 6] = [
            (r#"{"a":null}"#, "{}"),
            (r#"{"a":1,"b":null}"#, r#"{"a":1}"#),
            (r#"{"a":null,"b":1}"#, r#"{"b":1}"#),
            (
                r#"{"a":"x\":null,","b":[null,{"c":null}],"d":"null"}"#,
                r#"{"a":"x\":null,","b":[null,{}],"d":"null"}"#,
            ),
            (r#"{"a\"":null,"b":2}"#, r#"{"b":2}"#),
            (r#"[null,"s"]"#, r#"[null,"s"]"#),
        ];
        for (input, want) in cases {
            let got = String::from_utf8(strip_nulls(input.as_bytes())).unwrap();
            assert_eq!(got, want, "{input}");
        }
        let user: User = serde_json::from_value(serde_json::json!({
            "id": 7, "username": "ann", "first_name": "A\"nn:null,", "last_name": null,
            "display_name": null, "email": null, "mobile": null, "enabled": true,
            "web_password_hash": null, "voicemail_pin": null, "language": null,
            "timezone": null, "site": "default", "source": null,
            "lines": [{"extension": "1001", "sip_username": null, "sip_password": "p\"w",
                       "transport": null}],
            "phones": [{"mac": "805ec0000001", "vendor": "yealink", "model": null, "ip": null}],
            "blf": [{"extension": "1002", "label": null, "position": null}],
            "config_version": 3
        }))
        .unwrap();
        let stored = Stored::new(user.clone());
        let json = String::from_utf8_lossy(&stored.json).to_string();
        assert!(!json.contains("\":null"), "{json}");
        assert_eq!(stored.user(), user);
    }
}
