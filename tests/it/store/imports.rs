//! Imports on a shared database: two at once serialize, a killed one
//! leaves the state before it, and a newer schema is refused.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::support::cli::{Env, apply_window};
use crate::support::postgres::{self, fresh_database};
use crate::support::report::summary;

const HEADER: &str = "username,first_name,last_name,extension,sip_password,mac,phone_model\n";

/// `n` users; `tag` is every last name's prefix.
fn users_csv(n: usize, tag: &str) -> String {
    let mut s = String::with_capacity(n * 80 + HEADER.len());
    s.push_str(HEADER);
    for i in 0..n {
        s.push_str(&format!(
            "user{i:06},First{i},{tag}{i},{},pw-{i:06}-fixed,805ec0{:06x},yealink-t54w\n",
            100_000 + i,
            i + 1
        ));
    }
    s
}

fn spawn_import(env: &Env, url: &str, csv: &std::path::Path, logged: bool) -> Child {
    let mut c = postgres::on(&env.data(), url);
    c.arg("import")
        .arg(csv)
        .args(["--no-progress", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if logged {
        // Only stderr is read: a report left unread in a full pipe would
        // block the importer.
        c.env("RUST_LOG", "autoprov=info").stdout(Stdio::null());
    }
    c.spawn().expect("spawn import")
}

/// The last names' prefixes in an export.
fn tags(export: &str) -> std::collections::BTreeSet<String> {
    export
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2))
        .map(|last| {
            last.trim_end_matches(|c: char| c.is_ascii_digit())
                .to_string()
        })
        .collect()
}

#[test]
fn two_imports_at_once_serialize() {
    let Some(url) = fresh_database() else { return };
    const N: usize = 3_000;
    let env = Env::new();
    let files = [
        env.file("alpha.csv", users_csv(N, "Alpha")),
        env.file("beta.csv", users_csv(N, "Beta")),
    ];
    let children: Vec<Child> = files
        .iter()
        .map(|f| spawn_import(&env, &url, f, false))
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let mut applied = Vec::new();
    let mut refused = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        if out.status.success() {
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
            applied.push((i, summary(&report, "created"), summary(&report, "updated")));
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("run the import again"),
                "not a conflict: {err}"
            );
            refused.push(i);
        }
    }
    eprintln!("applied {applied:?}, refused as conflicts {refused:?}");
    // Each applied import planned against the state the other left: never
    // two creating the same users from the same empty start.
    let creators = applied.iter().filter(|(_, c, _)| *c == N as i64).count();
    assert_eq!(creators, 1, "{applied:?}");
    let history = postgres::run(&env.data(), &url, &["history", "--format", "json"]);
    let lines: Vec<serde_json::Value> = serde_json::from_str(&history.stdout).expect("history");
    assert_eq!(lines.len(), applied.len());
    // All rows are one import's, never a mix.
    let state = postgres::export(&env.data(), &url);
    assert_eq!(tags(&state).len(), 1, "rows of both imports");
    // The refused one, run again, applies on top.
    for i in refused {
        let again = env.import(&files[i], &["--store", &url]);
        assert_eq!(again.code, 0, "{}", again.stderr);
        let want = if i == 0 { "Alpha" } else { "Beta" };
        let state = postgres::export(&env.data(), &url);
        assert_eq!(tags(&state).into_iter().collect::<Vec<_>>(), [want]);
    }
}

#[test]
fn an_import_killed_mid_way_leaves_the_state_before() {
    let _heavy = crate::support::heavy();
    let (Some(url), Some(reference)) = (fresh_database(), fresh_database()) else {
        return;
    };
    const N: usize = 20_000;
    let env = Env::new();
    let before_csv = env.file("before.csv", users_csv(N / 4, "Old"));
    let big_csv = env.file("big.csv", users_csv(N, "New"));
    for u in [&url, &reference] {
        let r = env.import(&before_csv, &["--store", u]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let before = postgres::export(&env.data(), &url);
    let window = apply_window(spawn_import(&env, &reference, &big_csv, true));
    let after = postgres::export(&env.data(), &reference);
    assert_ne!(before, after);
    eprintln!("the apply step takes {window:?}");

    let mut seen_before = 0;
    for f in [0.0, 0.3, 0.6] {
        let mut child = spawn_import(&env, &url, &big_csv, true);
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let applying = lines
            .by_ref()
            .any(|l| l.unwrap_or_default().contains("applying import"));
        assert!(applying, "the importer never reached the apply step");
        std::thread::sleep(window.mul_f64(f));
        // SIGKILL: the transaction dies with the connection.
        let _ = child.kill();
        let _ = child.wait();
        drop(lines);
        let state = postgres::export(&env.data(), &url);
        if state == before {
            seen_before += 1;
        } else {
            assert!(
                state == after,
                "a kill {f} into the apply left a mixed state"
            );
            break;
        }
    }
    eprintln!("kills that found the state before: {seen_before}");
    assert!(seen_before > 0, "no kill landed inside the transaction");
    let again = env.import(&big_csv, &["--store", &url]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(postgres::export(&env.data(), &url), after);
}

#[test]
fn a_schema_newer_than_the_binary_is_refused() {
    let Some(url) = fresh_database() else { return };
    let env = Env::new();
    let first = postgres::run(&env.data(), &url, &["users"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let server = postgres::server().expect("running");
    let version: i32 = server
        .psql(
            postgres::db_name(&url),
            "SELECT MAX(version) FROM autoprov_schema",
        )
        .parse()
        .expect("a version");
    assert_eq!(version, autoprov::store::postgres::SCHEMA_VERSION);
    server.psql(
        postgres::db_name(&url),
        &format!(
            "INSERT INTO autoprov_schema (version) VALUES ({})",
            version + 1
        ),
    );
    let refused = postgres::run(&env.data(), &url, &["users"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("newer than this autoprov knows"),
        "{}",
        refused.stderr
    );
    // The URL shown names the server, never a password.
    assert!(refused.stderr.contains("127.0.0.1"), "{}", refused.stderr);
}
