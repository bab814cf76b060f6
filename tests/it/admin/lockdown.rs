//! The phone lock-down endpoints of the admin API over TCP, with real curl:
//! revealing a phone's web passwords needs a token and `[admin]
//! expose_secrets`, and leaves an audit line in the log without the value;
//! rotation over the API renews them for the next HTTPS fetch.

use crate::support::cli::{autoprov, create_token, imported};
use crate::support::fixtures::{ALICE_MAC, users_csv};
use crate::support::formats::stored_phone_passwords;
use crate::support::server::{Server, api};

const MAIN: &str = "/805ec0123456.cfg";

/// The Yealink password lines of a main file: `(admin, user)`.
fn yealink_passwords(body: &str) -> (String, String) {
    let value = |account: &str| {
        let prefix = format!("static.security.user_password = {account}:");
        body.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {account} password line:\n{body}"))
            .to_string()
    };
    (value("admin"), value("user"))
}

#[test]
fn reveal_is_opt_in_and_audited_rotation_renews() {
    let (tmp, data) = imported(&users_csv());
    let server = Server::start_logging(&data, &[], &[], "autoprov=trace");
    let token = create_token(&data, "ci");
    let first = server.get_https(MAIN, None);
    assert_eq!(first.status, 200);
    let (admin, user) = yealink_passwords(&first.text());

    // Without a token: refused; with one, masked; secrets need the opt-in.
    let phone = format!("/api/v1/phones/{ALICE_MAC}");
    let reveal = format!("{phone}?secrets=1");
    assert_eq!(api(&server, "GET", &reveal, None, &[]).status, 401);
    let masked = api(&server, "GET", &phone, Some(&token), &[]);
    assert_eq!(masked.status, 200, "{}", masked.text());
    assert_eq!(masked.json()["admin_password"], "***");
    assert!(!masked.text().contains(&admin));
    let refused = api(&server, "GET", &reveal, Some(&token), &[]);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(!refused.text().contains(&admin));
    // Bad and unknown MACs.
    let r = api(&server, "GET", "/api/v1/phones/zz", Some(&token), &[]);
    assert_eq!((r.status, r.json()["exit_code"].as_i64()), (400, Some(2)));
    let r = api(
        &server,
        "GET",
        "/api/v1/phones/00:11:22:33:44:55",
        Some(&token),
        &[],
    );
    assert_eq!((r.status, r.json()["exit_code"].as_i64()), (404, Some(1)));
    let r = api(
        &server,
        "POST",
        "/api/v1/phones/001122334455/rotate-admin-password",
        Some(&token),
        &[],
    );
    assert_eq!(r.status, 404);
    // Rotation over the API: the next secure fetch carries new values.
    let r = api(
        &server,
        "POST",
        &format!("{phone}/rotate-admin-password"),
        Some(&token),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("1 phone(s)"), "{}", r.text());
    let (admin2, user2) = yealink_passwords(&server.get_https(MAIN, None).text());
    assert_ne!((&admin2, &user2), (&admin, &user));
    assert_eq!(
        stored_phone_passwords(&data, ALICE_MAC),
        (admin2.clone(), user2.clone())
    );
    let log = server.stop_ok();
    assert!(
        log.contains("admin API: phone web passwords rotated"),
        "{log}"
    );
    for secret in [&admin, &user, &admin2, &user2] {
        assert!(
            !log.contains(secret.as_str()),
            "a password in the log:\n{log}"
        );
    }

    // With the opt-in the reveal answers, and the log says who saw which
    // phone's passwords, without them.
    let cfg = tmp.path().join("admin.toml");
    std::fs::write(&cfg, "[admin]\nexpose_secrets = true\n").expect("config");
    let cfg = cfg.to_str().expect("path").to_string();
    let server = Server::start_logging(&data, &["--config", &cfg], &[], "autoprov=trace");
    let shown = api(&server, "GET", &reveal, Some(&token), &[]);
    assert_eq!(shown.status, 200, "{}", shown.text());
    assert_eq!(shown.json()["admin_password"], admin2.as_str());
    assert_eq!(shown.json()["user_password"], user2.as_str());
    let text = api(
        &server,
        "GET",
        &format!("{reveal}&format=text"),
        Some(&token),
        &[],
    );
    assert!(text.text().contains(&admin2));
    let all = api(
        &server,
        "POST",
        "/api/v1/phones/rotate-admin-password",
        Some(&token),
        &[],
    );
    assert_eq!(all.status, 200, "{}", all.text());
    let log = server.stop_ok();
    let audit: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("phone web passwords revealed"))
        .collect();
    assert_eq!(audit.len(), 2, "{log}");
    assert!(audit.iter().all(|l| l.contains(ALICE_MAC)), "{audit:?}");
    assert!(!log.contains(&admin2) && !log.contains(&user2), "{log}");

    // The CLI says the same on the store itself.
    let out = autoprov(&data, &["phones", "show", ALICE_MAC]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("***") && !text.contains(&admin2), "{text}");
}
