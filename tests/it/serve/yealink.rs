//! The Yealink boot sequence end to end: real binary, real curl over HTTPS
//! with certificate verification, real store.

use crate::support::cli::{autoprov, imported, phone};
use crate::support::fixtures::{ALICE_MAC, UA, users_csv};
use crate::support::formats::{
    assert_render_equals, assert_settings, golden_yealink, yealink_settings,
};
use crate::support::server::{Server, curl, serving};

#[test]
fn boot_sequence_over_https_matches_golden_and_render() {
    let (_tmp, data, server) = serving(&users_csv());

    // 1. <mac>.boot lists the common file for this firmware, then the MAC file.
    let boot = server.get_https("/805ec0123456.boot", Some(UA));
    assert_eq!(boot.status, 200, "{}", server.log());
    assert!(boot.content_type.starts_with("text/plain"));
    let b = yealink_settings(&boot.body, true);
    assert_eq!(b["include:config"], "y000000000096.cfg|805ec0123456.cfg");

    // 2. The common boot file says the same for this requester.
    let common_boot = server.get_https("/y000000000000.boot", Some(UA));
    assert_eq!(common_boot.status, 200);
    assert_eq!(common_boot.body, boot.body);

    // 3. The common config: no secrets, no user data.
    let common = server.get_https("/y000000000096.cfg", Some(UA));
    assert_eq!(common.status, 200);
    let c = yealink_settings(&common.body, false);
    assert_eq!(c["static.auto_provision.user_agent_mac.enable"], "1");
    assert!(!common.text().contains("password"));
    assert!(!common.text().contains("Alice"));

    // 4. The per-MAC config with the account, BLF keys, language, clock.
    let main = server.get_https("/805ec0123456.cfg", Some(UA));
    assert_eq!(main.status, 200);
    let m = yealink_settings(&main.body, false);
    let expect = [
        ("account.1.enable", "1"),
        ("account.1.label", "1001"),
        ("account.1.display_name", "Alice Martin"),
        ("account.1.user_name", "1001"),
        ("account.1.auth_name", "1001"),
        ("account.1.password", "Alice-Sip-2024-xyz"),
        ("account.1.sip_server.1.address", "pbx.example.com"),
        ("account.1.sip_server.1.port", "5061"),
        ("account.1.sip_server.1.transport_type", "2"),
        ("account.1.srtp_encryption", "2"),
        ("linekey.1.type", "15"),
        ("linekey.2.type", "16"),
        ("linekey.2.value", "1002"),
        // No label in the CSV: resolved to the target user's display name.
        ("linekey.2.label", "Bob Schulz"),
        ("linekey.3.type", "16"),
        ("linekey.3.value", "1003"),
        ("linekey.3.label", "Reception"),
        ("lang.gui", "French"),
        ("lang.wui", "French"),
        ("local_time.time_zone", "+1"),
        ("local_time.time_zone_name", "France(Paris)"),
        ("local_time.summer_time", "2"),
        ("local_time.ntp_server1", "pool.ntp.org"),
        ("static.auto_provision.repeat.enable", "1"),
        ("static.auto_provision.repeat.minutes", "1440"),
    ];
    assert_settings(&m, &expect);
    assert!(!m.contains_key("static.auto_provision.server.url"));
    assert_eq!(m, golden_yealink("yealink/805ec0123456.cfg"));

    // HTTP/1.1 and h2 give the same bytes.
    let cacert = server.cert();
    let h1 = curl(
        &format!("{}/805ec0123456.cfg", server.https),
        &["--http1.1", "--cacert", cacert.to_str().unwrap(), "-A", UA],
    );
    assert_eq!(h1.body, main.body);

    let log = server.stop_ok();
    assert!(log.contains("autoprov: stopped"), "{log}");
    assert!(
        !log.contains("Alice-Sip-2024-xyz"),
        "password in the log:\n{log}"
    );

    // render prints exactly what HTTPS sent, whatever the User-Agent.
    assert_render_equals(
        &data,
        &[
            vec!["render", "80:5e:c0:12:34:56"],
            vec!["render", ALICE_MAC, "--user-agent", UA],
            vec!["render", "805E.C012.3456", "--file", "805ec0123456.cfg"],
        ],
        &main.body,
    );
    let out = autoprov(
        &data,
        &[
            "render",
            ALICE_MAC,
            "--file",
            "805ec0123456.boot",
            "--user-agent",
            UA,
        ],
    );
    assert_eq!(out.stdout, boot.body);
    let out = autoprov(&data, &["render", ALICE_MAC, "--file", "y000000000096.cfg"]);
    assert_eq!(out.stdout, common.body);

    // The fetches were recorded, secrets-free, with what the UA taught us.
    let p = phone(&data, ALICE_MAC);
    let f = &p["last_fetch"];
    assert_eq!(f["file"], "805ec0123456.cfg");
    assert_eq!(f["status"], 200);
    assert_eq!(f["ip"], "127.0.0.1");
    assert_eq!(f["user_agent"], UA);
    assert!(f["time"].as_str().is_some_and(|t| t.len() >= 20));
    assert_eq!(p["firmware"], "96.86.0.100");
    assert!(!p.to_string().contains("Alice-Sip-2024-xyz"));
}

#[test]
fn render_refuses_unknown_and_unsupported() {
    let (_tmp, data) = imported(&users_csv());
    let unknown = autoprov(&data, &["render", "80:5e:c0:00:00:01"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(unknown.stdout.is_empty());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no phone"));
    let bad = autoprov(&data, &["render", "not-a-mac"]);
    assert_eq!(bad.status.code(), Some(2));
    // A file of another MAC is a usage error, not someone else's config.
    let other = autoprov(&data, &["render", ALICE_MAC, "--file", "805ec0abcdef.cfg"]);
    assert_eq!(other.status.code(), Some(2));
    assert!(other.stdout.is_empty());
    let mismatch = autoprov(
        &data,
        &[
            "render",
            ALICE_MAC,
            "--user-agent",
            "Yealink SIP-T54W 96.86.0.100 80:5e:c0:ab:cd:ef",
        ],
    );
    assert_eq!(mismatch.status.code(), Some(1));
    assert!(mismatch.stdout.is_empty());
    // A Polycom phone renders its own main file, <mac>-phone.cfg.
    let poly = autoprov(&data, &["render", "0004f2aabbcc"]);
    assert_eq!(poly.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&poly.stdout).contains("<polycomConfig>"));
}

#[test]
fn serve_import_flag_and_template_override() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir_all(tpl.join("yealink")).unwrap();
    std::fs::write(
        tpl.join("yealink/common.cfg"),
        "#!version:1.0.0.1\nfeatures.site_note = {{ site.name }}-override\n",
    )
    .unwrap();
    let csv = users_csv();
    let server = Server::start(
        &data,
        &[],
        &[
            "--import",
            csv.to_str().unwrap(),
            "--templates",
            tpl.to_str().unwrap(),
        ],
    );
    assert!(
        server.log().contains("created"),
        "import report on stderr:\n{}",
        server.log()
    );
    let common = server.get_https("/y000000000096.cfg", Some(UA));
    assert_eq!(
        common.text(),
        "#!version:1.0.0.1\nfeatures.site_note = default-override\n"
    );
    // Templates not overridden keep the built-in default.
    let main = server.get_https("/805ec0123456.cfg", Some(UA));
    assert_eq!(main.status, 200);
    assert_eq!(
        yealink_settings(&main.body, false),
        golden_yealink("yealink/805ec0123456.cfg")
    );
    let (status, _) = server.stop();
    assert!(status.success());
    let out = autoprov(
        &data,
        &[
            "render",
            ALICE_MAC,
            "--file",
            "y000000000096.cfg",
            "--templates",
            tpl.to_str().unwrap(),
        ],
    );
    assert_eq!(out.stdout, common.body);

    // A broken override stops the server at start-up with a usage error.
    std::fs::write(tpl.join("yealink/mac.cfg"), "{% if %}").unwrap();
    let out = autoprov(
        &data,
        &[
            "serve",
            "--http",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--templates",
            tpl.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("yealink/mac.cfg"));
}
