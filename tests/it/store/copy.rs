//! `autoprov store copy`: sled → PostgreSQL → sled, and every export,
//! listing and run-time record reads the same on all three stores.

use std::net::Ipv4Addr;

use autoprov::domain::{Lease, LeaseState};
use autoprov::store::{FetchEvent, FetchKind, SledStore, Store};

use crate::support::cli::{Env, create_token};
use crate::support::fixtures::users_csv;
use crate::support::postgres::{self, fresh_database};

/// What a store shows through the CLI, to compare stores by.
fn views(env: &Env, url: Option<&str>) -> Vec<String> {
    let commands: [&[&str]; 4] = [
        &["export", "--include-secrets"],
        &["history", "--format", "json"],
        &["phones", "--format", "json"],
        &["users", "--format", "json"],
    ];
    commands
        .iter()
        .map(|args| {
            let r = match url {
                Some(u) => postgres::run(&env.data(), u, args),
                None => env.run(args),
            };
            assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
            r.stdout
        })
        .collect()
}

/// A lease and a phone's fetch history, written as DHCP and serving would.
fn run_time_records(env: &Env) -> (autoprov::domain::mac::Mac, Vec<Lease>) {
    let store = SledStore::open(&env.data()).expect("open sled");
    let user = store.users().unwrap().into_iter().next().expect("a user");
    let mac = user.phones[0].mac;
    let leases = vec![Lease {
        ip: Ipv4Addr::new(10, 9, 0, 20),
        mac,
        state: LeaseState::Bound,
        expires: 4_000_000_000,
    }];
    store.put_leases(&leases).unwrap();
    for i in 0..3 {
        let event = FetchEvent {
            time: format!("2026-12-02T10:00:0{i}Z"),
            file: format!("f{i}"),
            channel: "https".into(),
            status: 200,
            kind: FetchKind::Full,
            reason: None,
            model: Some("T54W".into()),
            firmware: None,
        };
        let state = store
            .update_phone_state(mac, &mut |s| {
                s.push_fetch(&event);
            })
            .unwrap();
        store.put_fetch_event(mac, state.fetch_seq, &event).unwrap();
    }
    store.flush().unwrap();
    (mac, leases)
}

#[test]
fn copy_sled_to_postgres_and_back_keeps_every_export_byte() {
    let Some(url) = fresh_database() else { return };
    let a = Env::new();
    assert_eq!(a.import(&users_csv(), &[]).code, 0);
    // A second history line (nothing changes).
    assert_eq!(a.import(&users_csv(), &[]).code, 0);
    create_token(&a.data(), "ops");
    let (mac, leases) = run_time_records(&a);
    let a_dir = a.data().display().to_string();

    let copy = |from: &str, to: &str, extra: &[&str]| {
        let mut args = vec!["store", "copy", "--from", from, "--to", to];
        args.extend_from_slice(extra);
        a.run(&args)
    };
    let there = copy(&a_dir, &url, &[]);
    assert_eq!(there.code, 0, "{}", there.stderr);
    assert!(
        there.stdout.contains("the admin tokens"),
        "{}",
        there.stdout
    );
    // A second copy onto the now non-empty database is refused.
    let again = copy(&a_dir, &url, &[]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("not empty"), "{}", again.stderr);

    let b = Env::new();
    let b_dir = b.data().display().to_string();
    let back = copy(&url, &b_dir, &[]);
    assert_eq!(back.code, 0, "{}", back.stderr);

    let on_a = views(&a, None);
    assert!(
        on_a[0].lines().count() > 3,
        "the example users were exported"
    );
    same(&views(&a, Some(&url)), &on_a, "PostgreSQL");
    same(&views(&b, None), &on_a, "the copy back");

    // Run-time records and the admin tokens came along too.
    let tokens = |dir: &std::path::Path| std::fs::read(dir.join("admin-tokens.json")).unwrap();
    assert_eq!(tokens(&b.data()), tokens(&a.data()));
    let listed = b.run(&["admin", "token", "list"]);
    assert!(listed.stdout.contains("ops"), "{}", listed.stdout);
    let (sa, sb) = (
        SledStore::open(&a.data()).unwrap(),
        SledStore::open(&b.data()).unwrap(),
    );
    assert_eq!(sb.leases().unwrap(), leases);
    assert_eq!(sb.phone_state(mac).unwrap(), sa.phone_state(mac).unwrap());
    assert_eq!(sb.fetch_events(mac).unwrap().len(), 3);
    assert_eq!(sb.fetch_events(mac).unwrap(), sa.fetch_events(mac).unwrap());
    drop((sa, sb));

    // Forced, a copy goes over a non-empty store: its users become the
    // source's (its history is kept and appended to).
    let c = Env::new();
    let other = c.file(
        "one.csv",
        "username,first_name,extension,sip_password\nzoe,Zoe,2001,pw-zoe-123456\n",
    );
    let imported = c.import(&other, &[]);
    assert_eq!(imported.code, 0, "{}{}", imported.stdout, imported.stderr);
    let c_dir = c.data().display().to_string();
    assert_eq!(copy(&url, &c_dir, &[]).code, 2);
    let forced = copy(&url, &c_dir, &["--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(
        c.export(&["--include-secrets"]) == on_a[0],
        "the forced copy's export differs"
    );
}

/// Compares views one by one, naming the first that differs (they are
/// long: not printed).
fn same(got: &[String], want: &[String], what: &str) {
    let names = ["export", "history", "phones", "users"];
    for ((g, w), name) in got.iter().zip(want).zip(names) {
        assert!(g == w, "{what}: `{name}` differs from the sled source");
    }
}

#[test]
fn the_store_url_comes_from_the_config_or_the_environment() {
    let Some(url) = fresh_database() else { return };
    let env = Env::new();
    let config = env.file("autoprov.toml", format!("[store]\nurl = \"{url}\"\n"));
    let config = config.display().to_string();
    let csv = users_csv().display().to_string();
    let r = env.run(&["--config", &config, "import", &csv, "--no-progress"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Nothing went to the data directory: no sled store was made there.
    let local = env.run(&["export"]);
    assert_eq!(local.code, 2, "{}", local.stderr);
    assert!(
        local.stderr.contains("no autoprov store"),
        "{}",
        local.stderr
    );
    assert!(!env.data().join("db").exists());
    let from_env = crate::support::cli::command(&env.data())
        .env("AUTOPROV_STORE", &url)
        .arg("export")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&from_env.stdout),
        postgres::run(&env.data(), &url, &["export"]).stdout
    );
    assert!(from_env.stdout.len() > 100);
    let bad = env.run(&["--store", "mysql://x/y", "users"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("postgres://"), "{}", bad.stderr);
}
