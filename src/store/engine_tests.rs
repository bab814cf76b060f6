//! One set of checks run against every engine, so the in-memory store a
//! test uses behaves as the sled store a server uses, as far as the
//! [`Store`] trait shows: ordering, the generation guard, the MAC index
//! across creates, moves and deletes, history, phone state, sites, leases.

use std::net::Ipv4Addr;

use super::{
    Change, ChangeSet, ImportRecord, MemoryStore, PhoneState, SledStore, Store, StoreError,
};
use crate::domain::mac::Mac;
use crate::domain::{Lease, LeaseState, Line, Phone, Site, User};

fn mac(s: &str) -> Mac {
    Mac::parse(s).unwrap()
}

fn user(id: u64, name: &str, macs: &[&str]) -> User {
    User {
        lines: vec![Line {
            extension: format!("{}", 1000 + id),
            sip_username: None,
            sip_password: format!("pw-{name}"),
            transport: None,
        }],
        phones: macs
            .iter()
            .map(|m| Phone {
                mac: mac(m),
                vendor: "yealink".to_string(),
                model: None,
                ip: None,
            })
            .collect(),
        ..User::bare(id, name)
    }
}

fn record(file: &str) -> ImportRecord {
    ImportRecord {
        time: "2024-01-01T00:00:00Z".to_string(),
        file: file.to_string(),
        sha256: "00".repeat(32),
        mode: "upsert".to_string(),
        source: None,
        created: 0,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        skipped: 0,
        outcome: None,
    }
}

fn change(old: Option<&User>, new: Option<&User>) -> Change {
    Change {
        old: old.cloned().map(Box::new),
        new: new.cloned().map(Box::new),
    }
}

fn set(changes: Vec<Change>, next_id: u64) -> ChangeSet {
    ChangeSet { changes, next_id }
}

fn names(store: &dyn Store) -> Vec<String> {
    store
        .users()
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect()
}

fn owner(store: &dyn Store, m: &str) -> Option<String> {
    store.user_by_mac(mac(m)).unwrap().map(|u| u.username)
}

/// The contract, on a fresh store of any engine.
fn check(store: &(dyn Store + Sync)) {
    empty(store);
    sites(store);
    imports(store);
    run_time_state(store);
    phone_passwords(store);
    vendor_settings(store);
    fetch_history(store);
}

/// A user's phone-level vendor settings are kept as given, changed and
/// cleared like any field; a record from before they existed reads as none.
fn vendor_settings(store: &dyn Store) {
    let snap = store.snapshot().unwrap();
    let mut u = user(snap.next_id, "vera", &["0015650000aa"]);
    u.settings
        .insert("static.network.vlan.internet_port_vid".into(), "20".into());
    let changes = set(vec![change(None, Some(&u))], snap.next_id + 1);
    store
        .apply(snap.generation, changes, &record("s.csv"))
        .unwrap();
    let got = store.user_by_mac(mac("0015650000aa")).unwrap().unwrap();
    assert_eq!(got.settings, u.settings);

    let snap = store.snapshot().unwrap();
    let mut cleared = u.clone();
    cleared.settings.clear();
    let changes = set(vec![change(Some(&u), Some(&cleared))], snap.next_id);
    store
        .apply(snap.generation, changes, &record("s2.csv"))
        .unwrap();
    assert!(store.user("vera").unwrap().unwrap().settings.is_empty());

    let mut old = serde_json::to_value(&u).unwrap();
    old.as_object_mut().unwrap().remove("settings");
    let decoded: User = serde_json::from_value(old).unwrap();
    assert!(decoded.settings.is_empty());
}

/// The fetch ring keeps the last `FETCH_HISTORY` events per phone, oldest
/// first, apart from other phones'; the state counts them and keeps the
/// last telling one.
fn fetch_history(store: &dyn Store) {
    use super::{FETCH_HISTORY, FetchEvent, FetchKind};
    let (a, b) = (mac("805ec0000071"), mac("805ec0000072"));
    assert!(store.fetch_events(a).unwrap().is_empty());
    let event = |i: usize, kind| FetchEvent {
        time: format!("2026-12-02T10:00:{:02}Z", i % 60),
        file: format!("f{i}"),
        channel: "https".into(),
        status: 200,
        kind,
        reason: None,
        model: None,
        firmware: None,
    };
    let total = FETCH_HISTORY + 7;
    for i in 0..total {
        let kind = if i == 3 {
            FetchKind::Bootstrap
        } else {
            FetchKind::Other
        };
        let e = event(i, kind);
        let state = store.update_phone_state(a, &mut |s| {
            s.push_fetch(&e);
        });
        store
            .put_fetch_event(a, state.unwrap().fetch_seq, &e)
            .unwrap();
    }
    let e = event(99, FetchKind::Full);
    let state = store.update_phone_state(b, &mut |s| {
        s.push_fetch(&e);
    });
    store
        .put_fetch_event(b, state.unwrap().fetch_seq, &e)
        .unwrap();
    let files: Vec<String> = store
        .fetch_events(a)
        .unwrap()
        .into_iter()
        .map(|e| e.file)
        .collect();
    let want: Vec<String> = (total - FETCH_HISTORY..total)
        .map(|i| format!("f{i}"))
        .collect();
    assert_eq!(files, want);
    let state = store.phone_state(a).unwrap().unwrap();
    assert_eq!(state.fetch_seq, total as u64);
    assert_eq!(state.provisioning(), super::Provisioning::BootstrapOnly);
    assert_eq!(
        store.fetch_events(b).unwrap(),
        vec![event(99, FetchKind::Full)]
    );
}

fn empty(store: &dyn Store) {
    let snap = store.snapshot().unwrap();
    assert!(snap.users.is_empty() && snap.sites.is_empty());
    assert_eq!((snap.generation, snap.next_id), (0, 1));
    assert_eq!(store.generation().unwrap(), 0);
    assert!(store.history().unwrap().is_empty());
    assert!(store.user("alice").unwrap().is_none());
    assert!(store.user_by_mac(mac("805ec0000001")).unwrap().is_none());
    assert!(store.leases().unwrap().is_empty());
}

fn sites(store: &dyn Store) {
    let site = |name: &str| Site {
        name: name.to_string(),
        ..Site::default()
    };
    store.put_sites(&[site("paris"), site("default")]).unwrap();
    let got: Vec<String> = store.sites().unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(got, ["default", "paris"]);
    // A put replaces the whole table, and is no import.
    store.put_sites(&[site("default")]).unwrap();
    assert_eq!(store.sites().unwrap(), [site("default")]);
    assert_eq!(store.snapshot().unwrap().sites, [site("default")]);
    assert_eq!(store.generation().unwrap(), 0);
}

fn imports(store: &dyn Store) {
    let alice = user(1, "alice", &["805ec0000001"]);
    let bob = user(2, "bob", &["805ec0000002"]);
    // Given out of order: users come back in username order.
    let first = set(
        vec![change(None, Some(&bob)), change(None, Some(&alice))],
        3,
    );
    store.apply(0, first, &record("one.csv")).unwrap();
    assert_eq!(store.generation().unwrap(), 1);
    assert_eq!(names(store), ["alice", "bob"]);
    assert_eq!(store.user("bob").unwrap(), Some(bob.clone()));
    assert_eq!(owner(store, "805ec0000001").as_deref(), Some("alice"));
    let snap = store.snapshot().unwrap();
    assert_eq!((snap.generation, snap.next_id), (1, 3));
    assert_eq!(snap.users, [alice.clone(), bob.clone()]);

    // A plan made against generation 0 is refused, and writes nothing.
    let stale = set(vec![change(Some(&alice), None)], 9);
    let err = store.apply(0, stale, &record("stale.csv")).unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err}");
    assert_eq!(names(store), ["alice", "bob"]);
    assert_eq!(store.history().unwrap().len(), 1);
    assert_eq!(store.snapshot().unwrap().next_id, 3);

    // One import moves alice's MAC to bob: removes go before puts.
    let alice2 = user(1, "alice", &[]);
    let bob2 = user(2, "bob", &["805ec0000002", "805ec0000001"]);
    let moved = set(
        vec![
            change(Some(&bob), Some(&bob2)),
            change(Some(&alice), Some(&alice2)),
        ],
        3,
    );
    store.apply(1, moved, &record("two.csv")).unwrap();
    assert_eq!(owner(store, "805ec0000001").as_deref(), Some("bob"));
    assert_eq!(owner(store, "805ec0000002").as_deref(), Some("bob"));

    // A delete takes the user and its MACs out of the index.
    let gone = set(vec![change(Some(&bob2), None)], 4);
    store.apply(2, gone, &record("three.csv")).unwrap();
    assert_eq!(names(store), ["alice"]);
    assert_eq!(owner(store, "805ec0000001"), None);
    assert_eq!(store.user("bob").unwrap(), None);
    let mut seen = Vec::new();
    store.for_each_user(&mut |u| seen.push(u)).unwrap();
    assert_eq!(seen, [alice2]);

    // A run that wrote nothing is history, not a generation.
    let mut failed = record("source");
    failed.outcome = Some("fetch failed".to_string());
    store.record_run(&failed).unwrap();
    let files: Vec<String> = store
        .history()
        .unwrap()
        .into_iter()
        .map(|r| r.file)
        .collect();
    assert_eq!(files, ["one.csv", "two.csv", "three.csv", "source"]);
    assert_eq!(store.history().unwrap()[3], failed);
    let snap = store.snapshot().unwrap();
    assert_eq!((snap.generation, snap.next_id), (3, 4));
}

fn run_time_state(store: &dyn Store) {
    let m = mac("805ec0000009");
    assert_eq!(store.phone_state(m).unwrap(), None);
    let state = PhoneState {
        learned_model: Some("t54w".to_string()),
        firmware: Some("96.86.0.100".to_string()),
        last_fetch: None,
        ..PhoneState::default()
    };
    store.put_phone_state(m, &state).unwrap();
    assert_eq!(store.phone_state(m).unwrap(), Some(state));
    assert_eq!(store.generation().unwrap(), 3);

    let lease = |last: u8, state: LeaseState| Lease {
        ip: Ipv4Addr::new(10, 0, 0, last),
        mac: m,
        state,
        expires: 100,
    };
    store.put_leases(&[]).unwrap();
    store
        .put_leases(&[lease(20, LeaseState::Bound), lease(3, LeaseState::Bound)])
        .unwrap();
    store
        .put_leases(&[lease(20, LeaseState::Released)])
        .unwrap();
    assert_eq!(
        store.leases().unwrap(),
        [lease(3, LeaseState::Bound), lease(20, LeaseState::Released)]
    );
}

/// Issuing a phone's passwords is a read-modify-write that racing
/// requests and the fetch record all do: one issue wins, every caller gets
/// the winner's, and a later fetch record keeps them.
fn phone_passwords(store: &(dyn Store + Sync)) {
    use crate::domain::secret::PhonePasswords;
    let m = mac("805ec0000010");
    let issued: Vec<PhonePasswords> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(move || {
                    let mine = PhonePasswords::generate();
                    let state = store
                        .update_phone_state(m, &mut |s| {
                            if s.passwords.is_none() {
                                s.passwords = Some(mine.clone());
                            }
                        })
                        .unwrap();
                    state.passwords.unwrap()
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let stored = store.phone_state(m).unwrap().unwrap().passwords.unwrap();
    assert!(
        issued.iter().all(|p| *p == stored),
        "racers got different passwords"
    );
    // A fetch record goes through the same update and keeps them.
    let after = store
        .update_phone_state(m, &mut |s| s.firmware = Some("1.2".to_string()))
        .unwrap();
    assert_eq!(after.passwords.as_ref(), Some(&stored));
    assert_eq!(store.phone_state(m).unwrap(), Some(after));

    let before = store.user("alice").unwrap().unwrap().config_version;
    let generation = store.generation().unwrap();
    let bumped = store
        .bump_config_versions(&["alice".to_string(), "nobody".to_string()])
        .unwrap();
    assert_eq!(bumped, 1);
    assert_eq!(
        store.user("alice").unwrap().unwrap().config_version,
        before + 1
    );
    assert_eq!(store.generation().unwrap(), generation + 1);
    assert_eq!(store.bump_config_versions(&[]).unwrap(), 0);
    assert_eq!(store.generation().unwrap(), generation + 1);
}

#[test]
fn sled_engine() {
    let dir = tempfile::tempdir().unwrap();
    check(&SledStore::open(dir.path()).unwrap());
}

#[test]
fn postgres_engine() {
    let Some(url) = super::postgres::testdb::fresh_database() else {
        return;
    };
    check(&super::PostgresStore::open(&url).unwrap());
}

#[test]
fn memory_engine() {
    check(&MemoryStore::new());
}
