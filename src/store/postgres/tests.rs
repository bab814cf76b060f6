//! What only a shared database shows: two stores (two nodes) on one
//! PostgreSQL database. The trait's common contract is in
//! `store::engine_tests`.

use std::net::Ipv4Addr;

use super::PostgresStore;
use super::testdb;
use crate::domain::mac::Mac;
use crate::domain::{Lease, LeaseState, Line, Phone, User};
use crate::store::{Change, ChangeSet, ImportRecord, Store, StoreError};

/// Two nodes on a fresh database; `None` where PostgreSQL cannot start.
fn two_nodes() -> Option<(PostgresStore, PostgresStore, String)> {
    let url = testdb::fresh_database()?;
    let a = PostgresStore::open(&url).unwrap();
    let b = PostgresStore::open(&url).unwrap();
    Some((a, b, url))
}

fn mac(n: u8) -> Mac {
    Mac::from_bytes([0x80, 0x5e, 0xc0, 0, 0, n]).unwrap()
}

fn user(name: &str, m: u8) -> User {
    User {
        lines: vec![Line {
            extension: format!("{}", 100 + u32::from(m)),
            sip_username: None,
            sip_password: "pw".into(),
            transport: None,
        }],
        phones: vec![Phone {
            mac: mac(m),
            vendor: "yealink".into(),
            model: None,
            ip: None,
        }],
        ..User::bare(u64::from(m), name)
    }
}

fn record(file: &str) -> ImportRecord {
    ImportRecord {
        time: "2026-12-02T00:00:00Z".into(),
        file: file.into(),
        sha256: String::new(),
        mode: "upsert".into(),
        source: None,
        created: 1,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        skipped: 0,
        outcome: None,
    }
}

fn create(store: &PostgresStore, u: &User) -> Result<(), StoreError> {
    let snap = store.snapshot()?;
    let set = ChangeSet {
        changes: vec![Change {
            old: None,
            new: Some(Box::new(u.clone())),
        }],
        next_id: snap.next_id + 1,
    };
    store.apply(snap.generation, set, &record(&u.username))
}

#[test]
fn an_import_on_one_node_is_served_by_the_other_after_refresh() {
    let Some((a, b, _)) = two_nodes() else { return };
    create(&a, &user("alice", 1)).unwrap();
    // B's read model is as of its last refresh: no round trip on the
    // serving path, so it does not know alice yet.
    assert_eq!(b.user_by_mac(mac(1)).unwrap(), None);
    assert_eq!(b.generation().unwrap(), 0);
    assert!(b.refresh().unwrap(), "the generation moved");
    assert_eq!(b.user_by_mac(mac(1)).unwrap().unwrap().username, "alice");
    assert_eq!(b.generation().unwrap(), 1);
    assert!(!b.refresh().unwrap());
    assert!(b.staleness().unwrap() < std::time::Duration::from_secs(1));
    b.ping().unwrap();
}

#[test]
fn a_plan_made_before_another_nodes_import_is_refused() {
    let Some((a, b, _)) = two_nodes() else { return };
    let stale = b.snapshot().unwrap();
    create(&a, &user("alice", 1)).unwrap();
    let set = ChangeSet {
        changes: vec![Change {
            old: None,
            new: Some(Box::new(user("bob", 2))),
        }],
        next_id: 3,
    };
    let err = b.apply(stale.generation, set, &record("b")).unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err}");
    // Replanned on a fresh snapshot, it goes through; both see both.
    create(&b, &user("bob", 2)).unwrap();
    a.refresh().unwrap();
    let names = |s: &PostgresStore| -> Vec<String> {
        s.users().unwrap().into_iter().map(|u| u.username).collect()
    };
    assert_eq!(names(&a), ["alice", "bob"]);
    assert_eq!(names(&b), ["alice", "bob"]);
    assert_eq!(a.history().unwrap().len(), 2);
}

#[test]
fn two_nodes_never_lease_one_address_to_two_macs() {
    let Some((a, b, _)) = two_nodes() else { return };
    let lease = |m: u8, state, expires| Lease {
        ip: Ipv4Addr::new(10, 0, 0, 50),
        mac: mac(m),
        state,
        expires,
    };
    let now = 1_000;
    assert_eq!(
        a.claim_leases(&[lease(1, LeaseState::Bound, 1_100)], now)
            .unwrap(),
        [true]
    );
    // Another MAC, another node, the address still bound: refused.
    assert_eq!(
        b.claim_leases(&[lease(2, LeaseState::Bound, 1_200)], now)
            .unwrap(),
        [false]
    );
    // A renewal by the holder, on either node, is accepted.
    assert_eq!(
        b.claim_leases(&[lease(1, LeaseState::Bound, 1_300)], now)
            .unwrap(),
        [true]
    );
    assert_eq!(a.leases().unwrap(), [lease(1, LeaseState::Bound, 1_300)]);
    // Once expired, or given back, the address is free for another MAC.
    assert_eq!(
        b.claim_leases(&[lease(2, LeaseState::Bound, 1_500)], 1_300)
            .unwrap(),
        [true]
    );
    a.put_leases(&[lease(2, LeaseState::Released, 1_500)])
        .unwrap();
    assert_eq!(
        a.claim_leases(&[lease(3, LeaseState::Bound, 1_600)], 1_400)
            .unwrap(),
        [true]
    );
    // One batch, the same address twice: the first claim wins, the second
    // (another MAC, the address now bound) is refused.
    let other = Lease {
        ip: Ipv4Addr::new(10, 0, 0, 51),
        ..lease(4, LeaseState::Bound, 2_000)
    };
    let got = b
        .claim_leases(
            &[
                other.clone(),
                lease(3, LeaseState::Bound, 1_700),
                lease(5, LeaseState::Bound, 1_700),
            ],
            1_400,
        )
        .unwrap();
    assert_eq!(got, [true, true, false]);
    assert_eq!(
        a.leases().unwrap(),
        [lease(3, LeaseState::Bound, 1_700), other]
    );
}

#[test]
fn a_run_lease_has_one_holder_until_it_expires() {
    let Some((a, b, _)) = two_nodes() else { return };
    assert!(a.try_run_lease("source:hr", "node-a", 60, 1_000).unwrap());
    assert!(!b.try_run_lease("source:hr", "node-b", 60, 1_030).unwrap());
    assert!(
        a.try_run_lease("source:hr", "node-a", 60, 1_030).unwrap(),
        "renewed"
    );
    assert!(!b.try_run_lease("source:hr", "node-b", 60, 1_089).unwrap());
    // node-a died: its lease ran out at 1,090.
    assert!(b.try_run_lease("source:hr", "node-b", 60, 1_090).unwrap());
    assert!(!a.try_run_lease("source:hr", "node-a", 60, 1_091).unwrap());
    assert!(a.try_run_lease("other", "node-a", 60, 1_091).unwrap());
}

#[test]
fn shared_documents_are_the_same_on_every_node() {
    let Some((a, b, _)) = two_nodes() else { return };
    assert_eq!(a.shared_blob("admin-tokens").unwrap(), Some(Vec::new()));
    assert!(
        a.put_shared_blob("admin-tokens", b"{\"tokens\":[]}")
            .unwrap()
    );
    assert_eq!(
        b.shared_blob("admin-tokens").unwrap().as_deref(),
        Some(&b"{\"tokens\":[]}"[..])
    );
}

#[test]
fn a_schema_newer_than_the_binary_is_refused() {
    let Some(url) = testdb::fresh_database() else {
        return;
    };
    drop(PostgresStore::open(&url).unwrap());
    let server = testdb::server().unwrap();
    let db = url.rsplit('/').next().unwrap();
    let newer = super::SCHEMA_VERSION + 1;
    server.psql(
        db,
        &format!("INSERT INTO autoprov_schema (version) VALUES ({newer})"),
    );
    let err = PostgresStore::open(&url).err().expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("schema is version {newer}, newer than")),
        "{msg}"
    );
}

#[test]
fn an_unreachable_database_is_an_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://autoprov:secret@127.0.0.1:{port}/x?connect_timeout=2");
    let err = PostgresStore::open(&url).err().expect("no server there");
    let msg = err.to_string();
    assert!(msg.contains("database error"), "{msg}");
    assert!(!msg.contains("secret"), "the password leaked: {msg}");
}

#[test]
fn tls_is_used_and_verified_when_the_url_asks() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    if testdb::server().is_none() {
        return;
    }
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let server = testdb::TestServer::start_tls(&leaf.pem(), &key.serialize_pem()).unwrap();
    let ca_file = server.dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let url = |query: &str| format!("{}?{query}", server.url("postgres"));

    // The server takes TLS only: a store that asks for it and trusts its
    // CA works.
    let store = PostgresStore::open(&url(&format!(
        "sslmode=require&sslrootcert={}",
        ca_file.display()
    )))
    .unwrap();
    store.ping().unwrap();
    // Without TLS the server refuses the connection...
    let plain = PostgresStore::open(&url("sslmode=disable"))
        .err()
        .expect("refused");
    assert!(
        plain.to_string().contains("no pg_hba.conf entry"),
        "{plain}"
    );
    // ...and a certificate nobody vouched for is refused by the client.
    let untrusted = PostgresStore::open(&url("sslmode=require"))
        .err()
        .expect("refused");
    assert!(untrusted.to_string().contains("certificate"), "{untrusted}");
}

#[test]
fn phone_passwords_reach_every_nodes_read_model() {
    use crate::domain::secret::PhonePasswords;
    let Some((a, b, url)) = two_nodes() else {
        return;
    };
    let pw = |s: &str| PhonePasswords {
        admin: format!("admin-{s}"),
        user: format!("user-{s}"),
    };
    let first = pw("1");
    let set =
        |p: PhonePasswords| move |s: &mut crate::store::PhoneState| s.passwords = Some(p.clone());
    a.update_phone_state(mac(1), &mut set(first.clone()))
        .unwrap();
    // The writer knows at once; the other node at its next refresh, which
    // reports no generation change (passwords do not move it).
    assert_eq!(a.phone_passwords(mac(1)).unwrap(), Some(first.clone()));
    assert_eq!(b.phone_passwords(mac(1)).unwrap(), None);
    assert!(!b.refresh().unwrap());
    assert_eq!(b.phone_passwords(mac(1)).unwrap(), Some(first.clone()));
    // A fetch record (passwords untouched) is not a password write.
    let seq = |s: &PostgresStore| s.passwords().seq;
    a.refresh().unwrap();
    let before = seq(&a);
    assert_eq!(before, 1);
    a.update_phone_state(mac(1), &mut |s| s.fetch_seq += 1)
        .unwrap();
    a.refresh().unwrap();
    assert_eq!(seq(&a), before);
    // A rotation on B reaches A; a third node opening now reads them all.
    let second = pw("2");
    b.update_phone_state(mac(1), &mut set(second.clone()))
        .unwrap();
    b.put_phone_state(
        mac(2),
        &crate::store::PhoneState {
            passwords: Some(pw("3")),
            ..Default::default()
        },
    )
    .unwrap();
    a.refresh().unwrap();
    assert_eq!(a.phone_passwords(mac(1)).unwrap(), Some(second.clone()));
    assert_eq!(a.phone_passwords(mac(2)).unwrap(), Some(pw("3")));
    let c = PostgresStore::open(&url).unwrap();
    assert_eq!(c.phone_passwords(mac(1)).unwrap(), Some(second));
    assert_eq!(c.phone_passwords(mac(2)).unwrap(), Some(pw("3")));
    assert_eq!(c.phone_passwords(mac(3)).unwrap(), None);
}

#[test]
fn passwords_never_go_back_to_an_older_write() {
    use super::model::Passwords;
    use crate::domain::secret::PhonePasswords;
    let p = |s: &str| PhonePasswords {
        admin: s.into(),
        user: s.into(),
    };
    let m = [1, 2, 3, 4, 5, 6];
    let mut model = Passwords::default();
    model.note(m, 7, Some(p("new")));
    // A refresh that read the row before write 7 committed.
    model.merge(6, vec![(m, 5, Some(p("old")))]);
    assert_eq!(model.get(m), Some(&p("new")));
    assert_eq!(model.seq, 6);
    model.merge(9, vec![(m, 9, None)]);
    assert_eq!(model.get(m), None);
    assert_eq!(model.seq, 9);
}

/// One import of `changes` (old, new) on `store`.
fn import(store: &PostgresStore, changes: Vec<(Option<User>, Option<User>)>) {
    let snap = store.snapshot().unwrap();
    let set = ChangeSet {
        changes: changes
            .into_iter()
            .map(|(old, new)| Change {
                old: old.map(Box::new),
                new: new.map(Box::new),
            })
            .collect(),
        next_id: snap.next_id + 10,
    };
    store.apply(snap.generation, set, &record("x")).unwrap();
}

#[test]
fn a_refresh_reads_only_the_users_that_changed() {
    let Some((a, b, url)) = two_nodes() else {
        return;
    };
    let (alice, bob, dave) = (user("alice", 1), user("bob", 2), user("dave", 4));
    import(
        &a,
        vec![
            (None, Some(alice.clone())),
            (None, Some(bob.clone())),
            (None, Some(dave.clone())),
        ],
    );
    assert!(b.refresh().unwrap());
    // Changed behind every node's back, without a generation: only a full
    // read would see it.
    let db = url.rsplit('/').next().unwrap();
    testdb::server().unwrap().psql(
        db,
        "UPDATE autoprov_users SET body = replace(body, '\"pw\"', '\"out-of-band\"') \
         WHERE username = 'dave'",
    );
    // Bob goes, his MAC moves to Alice, Carol comes; then Carol goes and
    // comes back with another MAC.
    let mut moved = alice.clone();
    moved.phones[0].mac = mac(2);
    let carol = user("carol", 3);
    import(
        &a,
        vec![
            (Some(alice), Some(moved)),
            (Some(bob), None),
            (None, Some(carol.clone())),
        ],
    );
    import(&a, vec![(Some(carol.clone()), None)]);
    let carol_again = user("carol", 5);
    import(&a, vec![(None, Some(carol_again))]);

    assert!(b.refresh().unwrap());
    let names = |s: &PostgresStore| -> Vec<String> {
        s.users().unwrap().into_iter().map(|u| u.username).collect()
    };
    assert_eq!(names(&b), ["alice", "carol", "dave"]);
    assert_eq!(b.generation().unwrap(), a.generation().unwrap());
    let owner = |m: u8| b.user_by_mac(mac(m)).unwrap().map(|u| u.username);
    assert_eq!(owner(1), None);
    assert_eq!(owner(2).as_deref(), Some("alice"));
    assert_eq!(owner(3), None);
    assert_eq!(owner(5).as_deref(), Some("carol"));
    assert_eq!(b.snapshot().unwrap().next_id, a.snapshot().unwrap().next_id);
    // Dave was not read again; a node reading everything sees the change.
    assert_eq!(b.user("dave").unwrap().unwrap().lines[0].sip_password, "pw");
    let c = PostgresStore::open(&url).unwrap();
    assert_eq!(
        c.user("dave").unwrap().unwrap().lines[0].sip_password,
        "out-of-band"
    );
    assert_eq!(names(&c), names(&b));
    // A config version bump is a change too.
    let version = |s: &PostgresStore| s.user("alice").unwrap().unwrap().config_version;
    let before = version(&b);
    assert_eq!(a.bump_config_versions(&["alice".to_string()]).unwrap(), 1);
    assert!(b.refresh().unwrap());
    assert_eq!(version(&b), before + 1);
}

/// Not a check, a measurement (docs/benchmarks.md, session 6): what a
/// refresh costs after another node imported 10 changed users into
/// 100,000, against reading and decoding every user (what a refresh did
/// before schema 3). `cargo test --lib bench_refresh -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_refresh_after_a_small_import() {
    let Some((a, b, _)) = two_nodes() else { return };
    let numbered = |i: u32| {
        let mut u = user(&format!("user{i:06}"), 0);
        u.id = u64::from(i) + 1;
        let [_, x, y, z] = i.to_be_bytes();
        u.phones[0].mac = Mac::from_bytes([0x80, 0x5e, 0xc1, x, y, z]).unwrap();
        u.lines[0].extension = format!("{}", 100_000 + i);
        u
    };
    import(
        &a,
        (0..100_000).map(|i| (None, Some(numbered(i)))).collect(),
    );
    b.refresh().unwrap();
    let changed = (0..10).map(|i| {
        let mut new = numbered(i);
        new.first_name = Some("Changed".into());
        (Some(numbered(i)), Some(new))
    });
    import(&a, changed.collect());
    let t = std::time::Instant::now();
    assert!(b.refresh().unwrap());
    let delta = t.elapsed();
    let t = std::time::Instant::now();
    let (_, _, bodies) = b.worker.block(super::sql::load_users).unwrap();
    let n = super::sql::decode_users(bodies).unwrap().len();
    let full = t.elapsed();
    eprintln!("refresh after 10 changed users: {delta:?}; reading and decoding all {n}: {full:?}");
}
