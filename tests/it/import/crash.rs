//! Crash safety: SIGKILL the importer while it applies a large import, reopen
//! the store, and find exactly the state before or the state after.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::cli::{Env, apply_window, command};
use crate::support::heavy;

const HEADER: &str = "username,first_name,last_name,extension,sip_password,mac,phone_model,blf\n";

/// `n` users; `tag` changes every last name so a second file updates them all.
fn users_csv(n: usize, tag: &str) -> String {
    let mut s = String::with_capacity(n * 90 + HEADER.len());
    s.push_str(HEADER);
    for i in 0..n {
        let mac = format!("805ec0{:06x}", i + 1);
        s.push_str(&format!(
            "user{i:06},First{i},{tag}{i},{},pw-{i:06}-fixed,{mac},yealink-t54w,{}\n",
            100_000 + i,
            100_000 + (i + 1) % n
        ));
    }
    s
}

#[test]
fn sigkill_during_apply_leaves_before_or_after_state() {
    // Twenty 10,000-user imports: not beside another heavy or timed test.
    let _heavy = heavy();
    const N: usize = 10_000;
    let work = Env::new();
    let before_csv = work.file("before.csv", users_csv(N / 2, "Old"));
    let big_csv = work.file("big.csv", users_csv(N, "New"));

    // Reference states, from clean runs; the second also measures how long
    // the apply step (transaction + flush) takes, so kills can be spread over it.
    let reference = Env::new();
    assert_eq!(reference.import(&before_csv, &[]).code, 0);
    let before = reference.export(&["--include-secrets"]);
    let window = apply_window(spawn_logged_import(&reference, &big_csv));
    let after = reference.export(&["--include-secrets"]);
    assert_ne!(before, after);
    eprintln!("apply step takes {window:?}");

    let mut seen_before = 0;
    let mut seen_after = 0;
    let fractions = [0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0, 2.0];
    for f in fractions {
        let delay = window.mul_f64(f);
        let env = Env::new();
        assert_eq!(env.import(&before_csv, &[]).code, 0);
        let mut child = spawn_logged_import(&env, &big_csv);
        // Wait until the importer says it is applying, then kill it.
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut applying = false;
        for line in lines.by_ref() {
            let line = line.unwrap_or_default();
            if line.contains("applying import") {
                applying = true;
                break;
            }
        }
        assert!(applying, "importer never reached the apply step");
        std::thread::sleep(delay);
        // SIGKILL: no destructor, no flush.
        let _ = child.kill();
        let _ = child.wait();
        drop(lines);

        let state = env.export(&["--include-secrets"]);
        if state == before {
            seen_before += 1;
        } else if state == after {
            seen_after += 1;
        } else {
            let users = state.lines().count().saturating_sub(1);
            panic!("kill {delay:?} into the apply left a half-applied store ({users} users)");
        }
        // The store stays usable: re-running the import completes it.
        let again = env.import(&big_csv, &[]);
        assert_eq!(again.code, 0, "{}", again.stderr);
        assert_eq!(env.export(&["--include-secrets"]), after);
    }
    eprintln!("kills that found the before state: {seen_before}, the after state: {seen_after}");
    assert_eq!(seen_before + seen_after, fractions.len());
}

/// Starts `autoprov import CSV` with info logs on a piped stderr, where it
/// announces the apply step.
fn spawn_logged_import(env: &Env, csv: &std::path::Path) -> std::process::Child {
    command(&env.data())
        .arg("import")
        .arg(csv)
        .args(["--no-progress", "--format", "json"])
        .env("RUST_LOG", "autoprov=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn import")
}
