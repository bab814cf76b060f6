//! Single-user operations through the CLI on the store and through the
//! running server (the admin API over TCP with curl, and the CLI through
//! the socket): the import's checks, the history, and what `users show`
//! then prints. Also `users` where there is no store, and `--filter`.

use crate::support::cli::{Env, create_token};
use crate::support::server::{Server, api};

const USERS: &str = "username,first_name,last_name,extension,mac,phone_model\n\
                     anna.becker224,Anna,Becker,2250,805ec0000001,yealink-t54w\n\
                     anna.becker1024,Anne,Becker,2251,,\n\
                     bob,Bob,Stone,2252,805ec0000002,\n";

fn env_with_users() -> Env {
    let env = Env::new();
    let r = env.import_csv(USERS, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    env
}

#[test]
fn users_where_there_is_no_store_says_so_and_creates_nothing() {
    let env = Env::new();
    for args in [
        vec!["users"],
        vec!["users", "show", "x"],
        vec!["phones"],
        vec!["history"],
        vec!["export"],
    ] {
        let r = env.run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("no autoprov store in")
                && r.stderr
                    .contains("run `autoprov import` first, or pass --data"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            !env.data().exists(),
            "{args:?} created {}",
            env.data().display()
        );
    }
}

#[test]
fn cli_single_user_changes_go_through_the_import_rules_and_the_history() {
    let env = env_with_users();
    let run = |args: &[&str]| env.run(args);

    // users --filter: name, extension or MAC substring.
    let r = run(&["users", "--filter", "becker"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("anna.becker224") && !r.stdout.contains("bob"));
    let r = run(&["users", "--filter", "80:5e:c0:00:00:02"]);
    assert!(
        r.stdout.contains("bob") && !r.stdout.contains("anna"),
        "{}",
        r.stdout
    );
    let r = run(&["users", "--filter", "2251"]);
    assert!(r.stdout.contains("anna.becker1024") && !r.stdout.contains("bob"));

    // Edit: the import's rule (extension taken) refuses, nothing changes.
    let r = run(&["users", "edit", "bob", "--set", "extension=2250"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("E_EXTENSION_TAKEN"), "{}", r.stdout);
    assert!(r.stderr.contains("edit of bob refused"), "{}", r.stderr);
    // The import's format rules too.
    let r = run(&["users", "edit", "bob", "--set", "email=not-an-address"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("E_EMAIL_FORMAT"), "{}", r.stdout);
    let r = run(&["users", "edit", "bob", "--set", "emial=x@example.com"]);
    assert_eq!(r.code, 2, "not a field: {}", r.stderr);
    let r = run(&[
        "users",
        "edit",
        "bob",
        "--set",
        "email=bob@example.com",
        "--set",
        "extension=2260",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let bob = env.user("bob").unwrap();
    assert_eq!(bob["email"], "bob@example.com");
    assert_eq!(bob["lines"][0]["extension"], "2260");

    // Add a user, a phone, rotate, remove the phone (confirmed), delete.
    let r = run(&[
        "users",
        "add",
        "cara",
        "--set",
        "first_name=Cara",
        "--set",
        "extension=2270",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run(&["users", "add", "cara", "--set", "first_name=Cara"]);
    assert_eq!(r.code, 1, "exists: {}", r.stderr);
    let r = run(&[
        "users",
        "add-phone",
        "cara",
        "805ec0000003",
        "--model",
        "yealink-t54w",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run(&["users", "add-phone", "cara", "805ec0000001"]);
    assert_eq!(r.code, 1, "anna's MAC: {}", r.stdout);
    assert!(r.stdout.contains("E_MAC_TAKEN"), "{}", r.stdout);
    let before = run(&["users", "show", "cara", "--secrets", "--format", "json"]).json();
    let r = run(&["users", "rotate-sip-password", "cara"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let after = run(&["users", "show", "cara", "--secrets", "--format", "json"]).json();
    assert_ne!(
        before["lines"][0]["sip_password"], after["lines"][0]["sip_password"],
        "rotated"
    );
    assert!(
        !r.stdout
            .contains(after["lines"][0]["sip_password"].as_str().unwrap())
    );
    let r = run(&["users", "remove-phone", "cara", "80:5e:c0:00:00:03"]);
    assert_eq!(r.code, 1, "asks for --yes: {}", r.stderr);
    assert_eq!(
        env.user("cara").unwrap()["phones"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = run(&[
        "users",
        "remove-phone",
        "cara",
        "80:5e:c0:00:00:03",
        "--yes",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        env.user("cara").unwrap()["phones"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let r = run(&["users", "delete", "cara"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("would delete user cara, extension(s) 2270"),
        "{}",
        r.stdout
    );
    assert!(env.user("cara").is_some());
    let r = run(&["users", "delete", "cara", "--yes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(env.user("cara").is_none());

    // Each change that wrote is a history line, like an import.
    let h = run(&["history", "--format", "json"]).json();
    let modes: Vec<(&str, &str)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["mode"].as_str().unwrap(), r["file"].as_str().unwrap()))
        .collect();
    let ops: Vec<&str> = modes.iter().skip(1).map(|m| m.0).collect();
    assert_eq!(
        ops,
        [
            "edit",
            "create-user",
            "add-phone",
            "rotate-sip-password",
            "remove-phone",
            "delete"
        ]
    );
    assert!(modes.iter().skip(1).all(|m| m.1 == "(cli)"), "{modes:?}");
}

#[test]
fn api_single_user_edit_shows_in_the_cli_and_the_history() {
    let env = env_with_users();
    let data = env.data();
    let server = Server::start(&data, &[], &[]);
    let token = create_token(&data, "ci");
    let json = ["-H", "Content-Type: application/json", "--data-binary"];
    let call = |method: &str, path: &str, body: Option<&str>| {
        let mut extra: Vec<&str> = Vec::new();
        if let Some(b) = body {
            extra.extend(json);
            extra.push(b);
        }
        api(&server, method, path, Some(&token), &extra)
    };

    // A dry run reports and writes nothing.
    let a = call(
        "PATCH",
        "/api/v1/users/bob?dry_run=true",
        Some(r#"{"fields":{"extension":"2261"}}"#),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["changes"][0]["fields"]["extension"][1], "2261");
    // Refused by the import's rule: the import's error objects.
    let a = call(
        "PATCH",
        "/api/v1/users/bob",
        Some(r#"{"fields":{"extension":"2250"}}"#),
    );
    assert_eq!(a.status, 422, "{}", a.text());
    let e = &a.json()["errors"][0];
    assert_eq!(e["code"], "E_EXTENSION_TAKEN");
    assert_eq!(e["column"], "extension");
    assert!(e["message"].as_str().unwrap().contains("anna.becker224"));
    // Applied.
    let a = call(
        "PATCH",
        "/api/v1/users/bob",
        Some(r#"{"fields":{"extension":"2261","mobile":"+49 170 5550101"}}"#),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    // The CLI (through the running server's socket) sees it.
    let shown = env.run(&["users", "show", "bob", "--format", "json"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let bob = shown.json();
    assert_eq!(bob["lines"][0]["extension"], "2261");
    assert_eq!(bob["mobile"], "+491705550101");

    // Phones, rotation, deletes with their confirmations.
    let a = call(
        "POST",
        "/api/v1/users/bob/phones",
        Some(r#"{"mac":"80:5e:c0:00:00:09"}"#),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let a = call("DELETE", "/api/v1/users/bob/phones/805ec0000009", None);
    assert_eq!(a.status, 409, "{}", a.text());
    let a = call(
        "DELETE",
        "/api/v1/users/bob/phones/805ec0000009?yes=true",
        None,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let a = call("POST", "/api/v1/users/bob/rotate-sip-password", None);
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(
        !a.text().contains("\"value\""),
        "no password in the answer: {}",
        a.text()
    );
    let a = call(
        "POST",
        "/api/v1/users",
        Some(r#"{"fields":{"username":"dora","first_name":"Dora","extension":"2280"}}"#),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let a = call("DELETE", "/api/v1/users/dora", None);
    assert_eq!(a.status, 409, "{}", a.text());
    assert_eq!(a.json()["would_delete"]["extensions"][0], "2280");
    let a = call("DELETE", "/api/v1/users/dora?yes=true", None);
    assert_eq!(a.status, 200, "{}", a.text());
    let a = call("DELETE", "/api/v1/users/dora?yes=true", None);
    assert_eq!(a.status, 404, "{}", a.text());
    let a = call(
        "PATCH",
        "/api/v1/users/nobody",
        Some(r#"{"fields":{"mobile":"1234"}}"#),
    );
    assert_eq!(a.status, 404, "{}", a.text());

    let h = call("GET", "/api/v1/history", None).json();
    let ops: Vec<(String, String)> = h
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|r| {
            (
                r["mode"].as_str().unwrap().to_string(),
                r["file"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let modes: Vec<&str> = ops.iter().map(|o| o.0.as_str()).collect();
    assert_eq!(
        modes,
        [
            "edit",
            "add-phone",
            "remove-phone",
            "rotate-sip-password",
            "create-user",
            "delete"
        ]
    );
    assert!(ops.iter().all(|o| o.1 == "(admin page)"), "{ops:?}");

    // Each call counted by operation and result, as imports are.
    let m = call("GET", "/metrics", None);
    assert_eq!(m.status, 200, "{}", m.text());
    let text = m.text();
    for (op, result, n) in [
        ("edit", "dry_run", 1),
        ("edit", "refused", 1),
        ("edit", "applied", 1),
        ("edit", "not_found", 1),
        ("add-phone", "applied", 1),
        ("remove-phone", "unconfirmed", 1),
        ("remove-phone", "applied", 1),
        ("rotate-sip-password", "applied", 1),
        ("create-user", "applied", 1),
        ("delete", "unconfirmed", 1),
        ("delete", "applied", 1),
        ("delete", "not_found", 1),
    ] {
        let line = format!("autoprov_user_changes_total{{op=\"{op}\",result=\"{result}\"}} {n}");
        assert!(text.lines().any(|l| l == line), "no {line} in:\n{text}");
    }
    let counted = text
        .lines()
        .filter(|l| l.starts_with("autoprov_user_changes_total{"))
        .count();
    assert_eq!(counted, 12, "{text}");
    server.stop_ok();
}
