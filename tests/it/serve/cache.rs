//! The render cache against a running `autoprov serve`, with real curl:
//! the file comes from the cache the second time, and an import, a
//! settings edit and a password rotation through the admin API each change
//! the very next response; the current ETag gets a 304, an older one the
//! file; a requester the access checks refuse is refused with a warm cache;
//! a template change reaches phones with the restart that loads it (templates
//! are read once at start); and stopping the server keeps the fetch records
//! still queued.

use crate::support::cli::{create_token, imported, phone};
use crate::support::fixtures::{ALICE_MAC, UA, users_csv};
use crate::support::formats::yealink_settings;
use crate::support::server::{Answer, Server, api, curl_headers};

const ALICE_FILE: &str = "/805ec0123456.cfg";
const ALICE_SIP_PW: &str = "Alice-Sip-2024-xyz";

/// GET over verified HTTPS as Alice's phone, with `headers` added.
fn fetch(server: &Server, path: &str, headers: &[&str]) -> Answer {
    let cacert = server.cert();
    let mut args = vec!["--cacert", cacert.to_str().expect("utf-8"), "-A", UA];
    for h in headers {
        args.extend(["-H", h]);
    }
    curl_headers(&format!("{}{path}", server.https), 20, &args)
}

/// One sample of `/metrics`.
fn metric(server: &Server, token: &str, name: &str) -> u64 {
    let text = api(server, "GET", "/metrics", Some(token), &[]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .parse()
        .expect("a number")
}

fn setting(a: &Answer, key: &str) -> Option<String> {
    yealink_settings(&a.body, false).get(key).cloned()
}

/// The phone's admin web password line (`admin:<password>`).
fn admin_password(a: &Answer) -> String {
    a.text()
        .lines()
        .find(|l| l.starts_with("static.security.user_password = admin:"))
        .expect("the admin password line")
        .to_string()
}

#[test]
fn every_admin_change_reaches_the_next_response() {
    let (tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &[]);
    let token = create_token(&data, "ci");

    let first = fetch(&server, ALICE_FILE, &[]);
    assert_eq!(first.status, 200, "{}", server.log());
    assert!(first.text().contains(ALICE_SIP_PW));
    let again = fetch(&server, ALICE_FILE, &[]);
    assert_eq!(again.body, first.body);
    assert_eq!(
        metric(&server, &token, "autoprov_render_cache_hits_total"),
        1
    );

    // 304 for the current tag; the file for another one.
    let etag = first.header("etag").expect("an ETag");
    let cond = fetch(&server, ALICE_FILE, &[&format!("If-None-Match: {etag}")]);
    assert_eq!(cond.status, 304, "{cond:?}");
    assert!(cond.body.is_empty());
    let stale = fetch(&server, ALICE_FILE, &["If-None-Match: \"0123\""]);
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, first.body);

    // A warm cache does not let the refused in: another phone's
    // User-Agent, and the plain-HTTP listener gets the bootstrap.
    let other_ua = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:ab:cd:01";
    let cacert = server.cert();
    let wrong = curl_headers(
        &format!("{}{ALICE_FILE}", server.https),
        20,
        &["--cacert", cacert.to_str().expect("utf-8"), "-A", other_ua],
    );
    assert_eq!((wrong.status, wrong.text().as_str()), (404, "not found\n"));
    let plain = curl_headers(&format!("{}{ALICE_FILE}", server.http), 20, &["-A", UA]);
    assert_eq!(plain.status, 200);
    assert!(!plain.text().contains(ALICE_SIP_PW), "{plain:?}");

    // An import through the API.
    let text = std::fs::read_to_string(users_csv()).expect("fixture");
    let changed = text.replace("Alice-Sip-2024-xyz", "Alice-Sip-2099-new");
    assert_ne!(text, changed);
    let csv = tmp.path().join("users2.csv");
    std::fs::write(&csv, changed).expect("write");
    let body = format!("@{}", csv.display());
    let r = api(
        &server,
        "POST",
        "/api/v1/import",
        Some(&token),
        &["--data-binary", &body],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let imported = fetch(&server, ALICE_FILE, &[&format!("If-None-Match: {etag}")]);
    assert_eq!(imported.status, 200, "the old tag no longer matches");
    assert!(imported.text().contains("Alice-Sip-2099-new"));
    assert!(!imported.text().contains(ALICE_SIP_PW));

    // A settings edit.
    let r = api(
        &server,
        "POST",
        "/api/v1/users/alice.martin/settings",
        Some(&token),
        &["--data-binary", r#"{"features.sample_key": "7"}"#],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let edited = fetch(&server, ALICE_FILE, &[]);
    assert_eq!(
        setting(&edited, "features.sample_key").as_deref(),
        Some("7")
    );

    // A rotation of the phone's web passwords.
    let before = admin_password(&edited);
    let r = api(
        &server,
        "POST",
        &format!("/api/v1/phones/{ALICE_MAC}/rotate-admin-password"),
        Some(&token),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let rotated = fetch(&server, ALICE_FILE, &[]);
    assert_ne!(admin_password(&rotated), before);
    server.stop_ok();
}

#[test]
fn a_template_change_is_served_from_the_restart_that_loads_it() {
    let (tmp, data) = imported(&users_csv());
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir_all(tpl.join("yealink")).expect("mkdir");
    let common = tpl.join("yealink/common.cfg");
    std::fs::write(&common, "#!version:1.0.0.1\nfeatures.note = one\n").expect("write");
    let args = ["--templates", tpl.to_str().expect("utf-8")];
    let server = Server::start(&data, &[], &args);
    let path = "/y000000000096.cfg";
    assert_eq!(
        fetch(&server, path, &[]).text(),
        "#!version:1.0.0.1\nfeatures.note = one\n"
    );
    std::fs::write(&common, "#!version:1.0.0.1\nfeatures.note = two\n").expect("write");
    // Templates are compiled at start: the running server keeps its set
    // (cached or not), and its fetch records are written before it stops.
    assert!(fetch(&server, path, &[]).text().ends_with("= one\n"));
    assert_eq!(fetch(&server, ALICE_FILE, &[]).status, 200);
    server.stop_ok();
    let seen = phone(&data, ALICE_MAC);
    assert_eq!(seen["last_fetch"]["file"], "805ec0123456.cfg", "{seen}");

    let server = Server::start(&data, &[], &args);
    assert_eq!(
        fetch(&server, path, &[]).text(),
        "#!version:1.0.0.1\nfeatures.note = two\n"
    );
    server.stop_ok();
}
