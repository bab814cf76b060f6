//! Which phone runs what, end to end: real binary, real curl over plain
//! HTTP and verified HTTPS. Each request's User-Agent is recorded with its
//! model and firmware; the bootstrap and then the full file move a phone
//! from "bootstrap only" to "provisioned"; a refused fetch keeps its
//! reason; the history stays at its bound; `phones`, `phones show`, the
//! admin API and `/metrics` all show it.

use serde_json::Value;

use crate::support::cli::{autoprov, create_token, imported, phone};
use crate::support::fixtures::{ALICE_MAC, users_csv};
use crate::support::server::{Server, api};

/// Alice's Yealink T54W, with the firmware it reports.
fn alice_ua(firmware: &str) -> String {
    format!("Yealink SIP-T54W {firmware} 80:5e:c0:12:34:56")
}
const ALICE_FILE: &str = "/805ec0123456.cfg";
const ALICE_SIP_PW: &str = "Alice-Sip-2024-xyz";
/// Ines's phone was imported without a model.
const INES_MAC: &str = "805ec0abcd01";
const INES_UA: &str = "Yealink SIP-T46U 66.86.0.15 80:5e:c0:ab:cd:01";
/// The history's bound (`store::FETCH_HISTORY`).
const BOUND: usize = autoprov::store::FETCH_HISTORY;

/// `phones show MAC [--secrets] --format json`, through the running server.
fn show(data: &std::path::Path, mac: &str, extra: &[&str]) -> Value {
    let mut args = vec!["phones", "show", mac, "--format", "json"];
    args.extend_from_slice(extra);
    let out = autoprov(data, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn text(data: &std::path::Path, args: &[&str]) -> String {
    let out = autoprov(data, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Whether `s` holds a time written as `2026-12-02 09:30:00 UTC`.
fn has_human_time(s: &str) -> bool {
    s.split(' ').collect::<Vec<_>>().windows(3).any(|w| {
        w[2] == "UTC"
            && w[0].len() == 10
            && w[0].as_bytes()[4] == b'-'
            && w[1].len() == 8
            && w[1].bytes().all(|b| b.is_ascii_digit() || b == b':')
    })
}

#[test]
fn fetch_history_tells_which_phone_runs_what() {
    let (tmp, data) = imported(&users_csv());
    // The T54W's target is 96.86.0.110 (docs/firmware.md).
    let fw = tmp.path().join("fw");
    std::fs::create_dir_all(&fw).expect("firmware dir");
    std::fs::write(fw.join("T54W-96.86.0.110.rom"), b"image").expect("image");
    let config = tmp.path().join("autoprov.toml");
    let toml = format!(
        "[firmware]\ndir = {:?}\n[firmware.\"yealink-t54w\"]\nversion = \"96.86.0.110\"\nfile = \"T54W-96.86.0.110.rom\"\n",
        fw.display().to_string()
    );
    std::fs::write(&config, toml).expect("config");
    let config = config.to_str().expect("UTF-8 path");
    let server = Server::start(&data, &["--config", config], &[]);

    let before = phone(&data, ALICE_MAC);
    assert_eq!(before["provisioning"], "never_fetched", "{before}");
    assert_eq!(before["last_seen"], Value::Null);
    assert_eq!(before["firmware_current"], "unknown");
    assert_eq!(before["firmware_target"], "96.86.0.110");

    // The plain-HTTP bootstrap: model and firmware from the User-Agent.
    let boot = server.get_http(ALICE_FILE, Some(&alice_ua("96.86.0.100")));
    assert_eq!(boot.status, 200, "{}", server.log());
    assert!(!boot.text().contains(ALICE_SIP_PW));
    let p = phone(&data, ALICE_MAC);
    assert_eq!(p["provisioning"], "bootstrap_only", "{p}");
    assert_eq!(p["firmware"], "96.86.0.100");
    assert_eq!(p["reported_model"], "t54w");
    assert_eq!(p["firmware_current"], "no");
    let seen = p["last_seen"].as_str().expect("last_seen");
    assert!(has_human_time(seen) && !seen.contains('.'), "{seen}");
    // The old fields are still there.
    assert_eq!(p["last_fetch"]["file"], "805ec0123456.cfg");

    // The full file over HTTPS, after an upgrade.
    let full = server.get_https(ALICE_FILE, Some(&alice_ua("96.86.0.110")));
    assert_eq!(full.status, 200);
    assert!(full.text().contains(ALICE_SIP_PW));
    let p = phone(&data, ALICE_MAC);
    assert_eq!(p["provisioning"], "provisioned", "{p}");
    assert_eq!(p["firmware"], "96.86.0.110");
    assert_eq!(p["firmware_current"], "yes");

    // Another phone, imported without a model: the User-Agent names it.
    let ines = server.get_https(&format!("/{INES_MAC}.cfg"), Some(INES_UA));
    assert_eq!(ines.status, 200);
    let p = phone(&data, INES_MAC);
    assert_eq!(
        (&p["model"], &p["firmware"]),
        (&"t46u".into(), &"66.86.0.15".into())
    );
    // No target for its model.
    assert_eq!(p["firmware_target"], Value::Null);
    assert_eq!(p["firmware_current"], "unknown");

    // A User-Agent naming another phone is refused, with its reason kept.
    let other = "Yealink SIP-T54W 96.86.0.110 80:5e:c0:ab:cd:ef";
    assert_eq!(server.get_http(ALICE_FILE, Some(other)).status, 404);
    let p = phone(&data, ALICE_MAC);
    assert_eq!(p["provisioning"], "refused", "{p}");
    let reason = p["refusal_reason"].as_str().expect("reason");
    assert!(reason.contains("User-Agent names MAC"), "{reason}");

    // The story: lines masked, the three fetches newest last.
    let story = show(&data, ALICE_MAC, &[]);
    assert_eq!(story["lines"][0]["extension"], "1001");
    assert_eq!(story["lines"][0]["sip_password"], "***");
    assert_eq!(
        story["firmware_target_file"],
        "/firmware/T54W-96.86.0.110.rom"
    );
    assert!(!story.to_string().contains(ALICE_SIP_PW));
    let fetches = story["fetches"].as_array().expect("fetches");
    let summary: Vec<(&str, &str, u64, &str)> = fetches
        .iter()
        .map(|f| {
            (
                f["channel"].as_str().unwrap_or(""),
                f["kind"].as_str().unwrap_or(""),
                f["status"].as_u64().unwrap_or(0),
                f["firmware"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("http", "bootstrap", 200, "96.86.0.100"),
            ("https", "full", 200, "96.86.0.110"),
            ("http", "refused", 404, "-"),
        ]
    );
    assert!(
        fetches
            .iter()
            .all(|f| !f["time"].as_str().unwrap_or(".").contains('.'))
    );
    let shown = show(&data, ALICE_MAC, &["--secrets"]);
    assert_eq!(shown["lines"][0]["sip_password"], ALICE_SIP_PW);

    let page = text(&data, &["phones", "show", ALICE_MAC]);
    assert!(page.contains("LAST FETCHES"), "{page}");
    assert!(page.contains("User-Agent names MAC"), "{page}");
    assert!(!page.contains(ALICE_SIP_PW), "{page}");
    let list = text(&data, &["phones"]);
    let row = list
        .lines()
        .find(|l| l.starts_with(ALICE_MAC))
        .expect("alice's row");
    assert!(
        row.contains("96.86.0.110") && row.contains("refused ("),
        "{row}"
    );
    assert!(has_human_time(row), "{row}");
    assert!(row.split_whitespace().any(|w| w == "yes"), "{row}");
    assert!(list.lines().next().unwrap_or("").contains("FIRMWARE"));

    // Bounded: many more fetches keep the last BOUND, the refusal drops off.
    for _ in 0..BOUND + 3 {
        let f = server.get_https(ALICE_FILE, Some(&alice_ua("96.86.0.110")));
        assert_eq!(f.status, 200);
    }
    let story = show(&data, ALICE_MAC, &[]);
    let fetches = story["fetches"].as_array().expect("fetches");
    assert_eq!(fetches.len(), BOUND);
    assert!(fetches.iter().all(|f| f["kind"] == "full"));
    assert_eq!(story["provisioning"], "provisioned");

    // The admin API says the same; /metrics counts models and firmware.
    let token = create_token(&data, "fleet");
    let listed = api(
        &server,
        "GET",
        "/api/v1/phones?format=json",
        Some(&token),
        &[],
    );
    assert_eq!(listed.status, 200);
    let alice = listed
        .json()
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["mac"] == ALICE_MAC)
        .cloned()
        .expect("alice");
    assert_eq!(alice["provisioning"], "provisioned");
    assert_eq!(alice["firmware"], "96.86.0.110");
    let one = api(
        &server,
        "GET",
        &format!("/api/v1/phones/{ALICE_MAC}?format=json"),
        Some(&token),
        &[],
    );
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["fetches"].as_array().map(Vec::len), Some(BOUND));
    assert_eq!(one.json()["lines"][0]["sip_password"], "***");

    let metrics = api(&server, "GET", "/metrics", Some(&token), &[]).text();
    assert!(
        metrics.contains("# TYPE autoprov_phones_by_model gauge"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "autoprov_phones_by_firmware{model=\"yealink-t54w\",firmware=\"96.86.0.110\"} 1\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "autoprov_phones_by_firmware{model=\"yealink-t46u\",firmware=\"66.86.0.15\"} 1\n"
        ),
        "{metrics}"
    );
    // Every phone of the example is counted once by model.
    let total: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("autoprov_phones_by_model{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    let phones = crate::support::cli::phones_json(&data);
    assert_eq!(total, phones.as_array().map(Vec::len).unwrap_or(0) as u64);
    server.stop_ok();
}
