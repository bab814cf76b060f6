//! CLI commands while `serve` holds the store: they go through
//! `<data>/admin.sock` and must print the same bytes, to the same streams,
//! with the same exit codes as with the server stopped.

use std::path::Path;
use std::process::Output;

use crate::support::cli::{autoprov, create_token, imported};
use crate::support::fixtures::{ALICE_MAC, UA, users_csv};
use crate::support::server::Server;

/// What a command run left behind: exit code, stdout, stderr.
type Seen = (Option<i32>, String, String);

fn seen(o: Output) -> Seen {
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Commands that leave the store as it is, with their expected exit code.
fn read_only(dir: &Path) -> Vec<(Vec<String>, i32)> {
    let csv = users_csv().display().to_string();
    let bad = dir.join("bad.csv").display().to_string();
    let out = dir.join("export.csv").display().to_string();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["users"], 0),
        (vec!["users", "--format", "json"], 0),
        (vec!["users", "show", "alice.martin"], 0),
        (
            vec![
                "users",
                "show",
                "jurgen.muller",
                "--secrets",
                "--format",
                "json",
            ],
            0,
        ),
        (vec!["users", "show", "nobody"], 1),
        (vec!["phones"], 0),
        (vec!["phones", "--format", "json"], 0),
        (vec!["history"], 0),
        (vec!["history", "--format", "json"], 0),
        (vec!["export"], 0),
        (vec!["export", "--include-secrets"], 0),
        (vec!["export", "--output", &out], 0),
        (vec!["render", ALICE_MAC], 0),
        (
            vec!["render", "80-5E-C0-AB-CD-EF", "--file", "y000000000108.cfg"],
            0,
        ),
        (vec!["render", ALICE_MAC, "--user-agent", UA], 0),
        (vec!["render", "805ec0000001"], 1),
        (vec!["render", ALICE_MAC, "--file", "805ec0abcdef.cfg"], 2),
        (vec!["import", &csv, "--dry-run"], 0),
        (
            vec![
                "import",
                &csv,
                "--dry-run",
                "--format",
                "json",
                "--mode",
                "replace",
            ],
            0,
        ),
        (vec!["import", &csv, "--mode", "replace"], 2),
        (vec!["import", &bad], 1),
        (
            vec!["import", &bad, "--format", "json", "--delimiter", ";"],
            2,
        ),
    ];
    cases
        .into_iter()
        .map(|(a, c)| (a.into_iter().map(str::to_string).collect(), c))
        .collect()
}

fn run_all(data: &Path, cases: &[(Vec<String>, i32)], dir: &Path) -> Vec<Seen> {
    cases
        .iter()
        .map(|(args, code)| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut s = seen(autoprov(data, &args));
            assert_eq!(s.0, Some(*code), "{args:?}: {}", s.2);
            if args.contains(&"--output") {
                // The file is the output here.
                s.1 = std::fs::read_to_string(dir.join("export.csv")).expect("export file");
                std::fs::remove_file(dir.join("export.csv")).expect("remove");
            }
            s
        })
        .collect()
}

#[test]
fn commands_through_the_running_server_match_the_stopped_store() {
    let (tmp, data) = imported(&users_csv());
    let text = std::fs::read_to_string(users_csv()).unwrap();
    std::fs::write(
        tmp.path().join("bad.csv"),
        text.replace("0c383e07e16c", "not-a-mac"),
    )
    .unwrap();
    let cases = read_only(tmp.path());
    let stopped = run_all(&data, &cases, tmp.path());

    let server = Server::start(&data, &[], &[]);
    assert!(data.join("admin.sock").exists());
    let serving = run_all(&data, &cases, tmp.path());
    for ((args, _), (a, b)) in cases.iter().zip(stopped.iter().zip(&serving)) {
        assert_eq!(a, b, "{args:?} differs through the running server");
    }

    // A real import through the server, and the same one on a copy of the
    // store taken before: the same report and the same resulting users.
    let changed = tmp.path().join("changed.csv");
    std::fs::write(
        &changed,
        text.replace(
            "alice.martin,Alice,Martin,,",
            "alice.martin,Alice,Martin,Al,",
        ),
    )
    .unwrap();
    server.stop_ok();
    assert!(!data.join("admin.sock").exists(), "socket left behind");
    let copy = tmp.path().join("copy");
    copy_dir(&data, &copy);
    let args = ["import", changed.to_str().unwrap(), "--format", "json"];
    let direct = seen(autoprov(&copy, &args));
    let server = Server::start(&data, &[], &[]);
    let through = seen(autoprov(&data, &args));
    assert_eq!(direct, through);
    assert_eq!(direct.0, Some(0));
    let users = seen(autoprov(&data, &["users"]));
    server.stop_ok();
    assert_eq!(users, seen(autoprov(&copy, &["users"])));
    assert!(users.1.contains("Al "));
}

#[test]
fn token_commands_work_while_serving() {
    let (_tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &[]);
    let token = create_token(&data, "one");
    assert!(token.starts_with("apt_"), "{token}");
    let out = autoprov(&data, &["admin", "token", "create", "--name", "one"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a duplicate name is a usage error"
    );
    let out = autoprov(&data, &["admin", "token", "list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "one");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&token));
    let out = autoprov(&data, &["admin", "token", "revoke", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    // --templates cannot be honoured by the running server: said plainly.
    let out = autoprov(&data, &["render", ALICE_MAC, "--templates", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("while the server runs"));
    server.stop_ok();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A socket file left by a killed server, while something else holds the
/// store: the lock is reported (exit 3), not a connection error.
#[test]
fn stale_socket_reports_the_lock() {
    let (_tmp, data) = imported(&users_csv());
    drop(std::os::unix::net::UnixListener::bind(data.join("admin.sock")).unwrap());
    assert!(data.join("admin.sock").exists());
    let store = autoprov::store::SledStore::open(&data).expect("open");
    let out = autoprov(&data, &["users"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another autoprov process"), "{err}");
    drop(store);
    // With the store free again, the stale file does not matter.
    assert!(autoprov(&data, &["users"]).status.success());
}
