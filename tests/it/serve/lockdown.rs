//! Phone lock-down (docs/lockdown.md) end to end, tested like the security
//! feature it is: real binary, real curl over verified HTTPS and plain
//! HTTP, the server's whole log at trace level.
//!
//! For one phone of every vendor in the example spreadsheet: the plain-HTTP
//! bootstrap never issues nor carries the phone's web passwords; the secure
//! main file carries both, on the lines of the settings its vendor row
//! names, with the stored values; they stay the same fetch after fetch and
//! across a restart; `phones show` masks them unless `--secrets`; rotation
//! changes them, bumps the owner's config_version, and the next HTTPS fetch
//! carries the new ones; no log, export or listing ever holds them. Then
//! racing first fetches, and a site's fixed value.

use std::path::Path;

use serde_json::Value;

use autoprov::domain::mac::Mac;
use autoprov::vendors;

use crate::support::cli::{autoprov, imported, phones_json};
use crate::support::fixtures::users_csv;
use crate::support::formats::{names_setting, stored_phone_passwords};
use crate::support::server::{Fetched, Server};

/// Everything the server logs, secrets would show at this level first.
const TRACE: &str = "autoprov=trace";

/// One phone of each vendor in examples/users.csv, with the path of its
/// main file (built from the vendor row, as the phone asks for it).
fn one_phone_per_vendor(data: &Path) -> Vec<(String, String, String)> {
    let phones = phones_json(data);
    let mut out: Vec<(String, String, String)> = Vec::new();
    for v in vendors::VENDORS {
        let p = phones
            .as_array()
            .expect("array")
            .iter()
            .find(|p| p["vendor"] == v.id)
            .unwrap_or_else(|| panic!("no {} phone in examples/users.csv", v.id));
        let mac = p["mac"].as_str().expect("mac").to_string();
        let model = p["model"].as_str();
        let name = v
            .main_file()
            .and_then(|r| r.file_name_for(Mac::parse(&mac).expect("MAC"), model))
            .expect("main file name");
        out.push((v.id.to_string(), mac, format!("/{name}")));
    }
    out
}

/// `phones show MAC [--secrets] --format json`.
fn show(data: &Path, mac: &str, secrets: bool) -> (Value, String) {
    let mut args = vec!["phones", "show", mac, "--format", "json"];
    if secrets {
        args.push("--secrets");
    }
    let out = autoprov(data, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    (serde_json::from_str(&text).expect("JSON"), text)
}

/// The settings the vendor's row names for the two passwords.
fn settings(vendor: &str) -> (&'static str, &'static str) {
    let row = &vendors::by_id(vendor).expect("vendor").provisioning;
    (
        row.admin_password_setting.expect("admin setting"),
        row.user_password_setting.expect("user setting"),
    )
}

/// Whether a line of `body` sets `setting` to `value`.
fn sets(body: &str, setting: &str, value: &str) -> bool {
    body.lines()
        .any(|l| names_setting(l, setting) && l.contains(value))
}

fn https_ok(server: &Server, path: &str) -> Fetched {
    let f = server.get_https(path, None);
    assert_eq!(f.status, 200, "{path}: {}", server.log());
    f
}

fn config_version(data: &Path, username: &str) -> u64 {
    let out = autoprov(data, &["users", "show", username, "--format", "json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("user JSON");
    v["config_version"].as_u64().expect("config_version")
}

#[test]
fn every_vendor_gets_its_own_passwords_only_over_https_and_rotation_renews_them() {
    let (_tmp, data) = imported(&users_csv());
    let server = Server::start_logging(&data, &[], &[], TRACE);
    let phones = one_phone_per_vendor(&data);
    let mut every_password: Vec<String> = Vec::new();

    for (vendor, mac, path) in &phones {
        let (admin_key, user_key) = settings(vendor);
        // The bootstrap first: it issues nothing.
        let boot = server.get_http(path, None);
        assert_eq!(boot.status, 200, "{vendor} bootstrap");
        let (before, _) = show(&data, mac, true);
        assert!(before["admin_password"].is_null(), "{vendor}: {before}");
        assert!(before["passwords_issued"].is_null(), "{vendor}");

        // The secure main file issues them and carries the stored values.
        let first = https_ok(&server, path);
        let (admin, user) = stored_phone_passwords(&data, mac);
        assert_ne!(admin, user, "{vendor}");
        assert!(admin.len() >= 16 && user.len() >= 16, "{vendor}");
        let body = first.text();
        assert!(
            sets(&body, admin_key, &admin),
            "{vendor}: {admin_key}\n{body}"
        );
        assert!(sets(&body, user_key, &user), "{vendor}: {user_key}\n{body}");
        // The same on the next fetch: issued once.
        let again = https_ok(&server, path);
        assert_eq!(again.body, first.body, "{vendor}");

        // The bootstrap, now that they exist, still carries neither.
        let boot = server.get_http(path, None);
        assert_eq!(boot.status, 200);
        let boot = boot.text();
        for secret in [&admin, &user] {
            assert!(
                !boot.contains(secret.as_str()),
                "{vendor} bootstrap:\n{boot}"
            );
        }
        for key in [admin_key, user_key] {
            assert!(
                !names_setting(&boot, key),
                "{vendor}: {key} in the bootstrap"
            );
        }

        // Masked unless asked for.
        let (masked, text) = show(&data, mac, false);
        assert_eq!(masked["admin_password"], "***", "{vendor}");
        assert_eq!(masked["user_password"], "***", "{vendor}");
        assert!(!text.contains(&admin) && !text.contains(&user), "{vendor}");
        assert_eq!(masked["admin_password_setting"], admin_key);
        assert!(masked["passwords_issued"].is_string(), "{vendor}");
        every_password.extend([admin, user]);
    }

    // Rotation of one phone: new values, the owner's version bumped, and
    // the next secure fetch carries them.
    let (vendor, mac, path) = &phones[0];
    let (admin_key, _) = settings(vendor);
    let owner = show(&data, mac, false).0["username"]
        .as_str()
        .expect("owner")
        .to_string();
    let version = config_version(&data, &owner);
    let (old_admin, old_user) = stored_phone_passwords(&data, mac);
    let out = autoprov(&data, &["phones", "rotate-admin-password", mac]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rotated the web passwords of 1 phone(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(config_version(&data, &owner), version + 1);
    let (new_admin, new_user) = stored_phone_passwords(&data, mac);
    assert_ne!(new_admin, old_admin);
    assert_ne!(new_user, old_user);
    let after = https_ok(&server, path).text();
    assert!(sets(&after, admin_key, &new_admin), "{after}");
    assert!(!after.contains(&old_admin) && !after.contains(&old_user));
    every_password.extend([new_admin.clone(), new_user.clone()]);

    // Rotation of every phone.
    let total = phones_json(&data).as_array().expect("array").len();
    let out = autoprov(&data, &["phones", "rotate-admin-password", "--all"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("rotated the web passwords of {total} phone(s)")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for (_, mac, _) in &phones {
        let (a, u) = stored_phone_passwords(&data, mac);
        every_password.extend([a, u]);
    }
    assert_ne!(stored_phone_passwords(&data, mac).0, new_admin);

    // Nothing else the server or the CLI prints holds any of them.
    let mut elsewhere = vec![("the server log", server.stop_ok())];
    for args in [
        vec!["phones", "--format", "json"],
        vec!["phones"],
        vec!["export", "--include-secrets"],
        vec!["history", "--format", "json"],
        vec!["users", "--format", "json"],
    ] {
        let out = autoprov(&data, &args);
        assert!(out.status.success(), "{args:?}");
        elsewhere.push((
            "a listing",
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }
    for (what, text) in &elsewhere {
        for secret in &every_password {
            assert!(
                !text.contains(secret.as_str()),
                "a phone password in {what}:\n{text}"
            );
        }
    }

    // Stored durably: after the restart the same values are shown (the
    // store opened directly now) and served.
    let (vendor, mac, path) = &phones[1];
    let (admin, _) = stored_phone_passwords(&data, mac);
    let server = Server::start_logging(&data, &[], &[], TRACE);
    let body = https_ok(&server, path).text();
    assert!(sets(&body, settings(vendor).0, &admin), "{body}");
    let log = server.stop_ok();
    assert!(!log.contains(&admin), "{log}");
}

/// Phones booting at once ask for their main file in parallel; for a
/// phone without passwords yet, racing first fetches must all carry the
/// one pair that ends up stored.
#[test]
fn racing_first_fetches_all_carry_the_one_stored_pair() {
    let (_tmp, data) = imported(&users_csv());
    let server = Server::start_logging(&data, &[], &[], TRACE);
    let mut issued = Vec::new();
    for (vendor, mac, path) in one_phone_per_vendor(&data) {
        let bodies: Vec<String> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| https_ok(&server, &path).text()))
                .collect();
            racers
                .into_iter()
                .map(|r| r.join().expect("curl"))
                .collect()
        });
        let (admin, user) = stored_phone_passwords(&data, &mac);
        let (admin_key, user_key) = settings(&vendor);
        for body in &bodies {
            assert!(sets(body, admin_key, &admin), "{vendor}: {body}");
            assert!(sets(body, user_key, &user), "{vendor}: {body}");
        }
        issued.extend([admin, user]);
    }
    let log = server.stop_ok();
    for secret in &issued {
        assert!(!log.contains(secret.as_str()), "{log}");
    }
}

/// `[sites.NAME] phone_admin_password`: the site's phones get it instead
/// of their own; the user password stays generated; rotation says the
/// fixed value still wins; the value is never logged.
#[test]
fn a_sites_fixed_admin_password_wins() {
    const FIXED: &str = "Site-Admin-2026x";
    let (tmp, data) = imported(&users_csv());
    let config = tmp.path().join("autoprov.toml");
    std::fs::write(
        &config,
        format!("[sites.default]\nphone_admin_password = \"{FIXED}\"\n"),
    )
    .expect("config");
    let config = config.to_str().expect("path");
    let server = Server::start_logging(&data, &["--config", config], &[], TRACE);
    for (vendor, mac, path) in one_phone_per_vendor(&data) {
        let body = https_ok(&server, &path).text();
        let (admin_key, user_key) = settings(&vendor);
        assert!(sets(&body, admin_key, FIXED), "{vendor}: {body}");
        let (shown, _) = show(&data, &mac, true);
        assert_eq!(shown["admin_password"], FIXED);
        assert_eq!(shown["admin_password_fixed_by_site"], true);
        let user = shown["user_password"].as_str().expect("user password");
        assert_ne!(user, FIXED);
        assert!(sets(&body, user_key, user), "{vendor}: {body}");
    }
    let out = autoprov(&data, &["phones", "rotate-admin-password", "--all"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("which still wins"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (_, mac, path) = &one_phone_per_vendor(&data)[0];
    assert!(https_ok(&server, path).text().contains(FIXED));
    let log = server.stop_ok();
    assert!(
        !log.contains(FIXED),
        "the fixed password in the log:\n{log}"
    );
    // Shown the same by the CLI on the store itself, with the config.
    let out = autoprov(
        &data,
        &["--config", config, "phones", "show", mac, "--secrets"],
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(FIXED));
}
