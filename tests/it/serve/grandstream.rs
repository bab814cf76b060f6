//! The Grandstream boot sequence end to end (docs/reference/vendors.md §4): real binary,
//! real curl over HTTPS with certificate verification, real store.
//!
//! The fixture's user has two SIP lines (`2001;2004`): account 1 has its own
//! P-codes, account 2 the P4xx block.

use std::collections::BTreeMap;

use crate::support::cli::{autoprov, phone};
use crate::support::fixtures::{golden_bytes, provision_csv};
use crate::support::formats::{
    assert_render_equals, assert_settings, config_text, mask_phone_passwords,
};
use crate::support::server::serving;

const GS_UA: &str = "Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId 000b82aabbcc";
const GS_MAC: &str = "000b82aabbcc";
const PASSWORD: &str = "Gs-Sip-2001-secret";
const DISPLAY: &str = "Ali \"x\" <b>&";

/// Checks a Grandstream file by docs/reference/vendors.md §9.1/§9.2 and returns its
/// settings: `Pnnn` → value, plus `mac` when the header is there.
fn gs_settings(body: &[u8]) -> BTreeMap<String, String> {
    let text = config_text(body);
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "gs_provision");
    assert!(root.attribute("version").is_some(), "version attribute");
    let mut map = BTreeMap::new();
    let children: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    let configs: Vec<_> = children
        .iter()
        .filter(|n| n.tag_name().name() == "config")
        .collect();
    assert_eq!(configs.len(), 1, "exactly one <config>");
    for c in &children {
        match c.tag_name().name() {
            "mac" => {
                let mac = c.text().unwrap_or("");
                assert!(
                    mac.len() == 12
                        && mac
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                    "mac header {mac:?}"
                );
                map.insert("mac".to_string(), mac.to_string());
            }
            "config" => {}
            other => panic!("unexpected <{other}>"),
        }
    }
    let config = configs[0];
    assert_eq!(config.attribute("version"), Some("1"));
    for p in config.children().filter(|n| n.is_element()) {
        let name = p.tag_name().name();
        assert!(
            name.len() >= 2
                && name.len() <= 6
                && name.starts_with('P')
                && name[1..].bytes().all(|b| b.is_ascii_digit()),
            "P-code name {name:?}"
        );
        assert!(
            p.children().all(|c| !c.is_element()),
            "{name} has child elements"
        );
        let value = p.text().unwrap_or("").to_string();
        assert!(
            map.insert(name.to_string(), value).is_none(),
            "duplicate {name}"
        );
    }
    if let Some(t) = map.get("P130") {
        assert!(["0", "1", "2"].contains(&t.as_str()), "P130 = {t}");
    }
    if let Some(tz) = map.get("P64") {
        assert!(
            is_posix_tz(tz) || tz == "auto" || tz == "customize" || listed(tz),
            "P64 = {tz}"
        );
    }
    if let Some(tz) = map.get("P246") {
        assert!(is_posix_tz(tz), "P246 = {tz}");
        assert_eq!(map.get("P64").map(String::as_str), Some("customize"));
    }
    if map.contains_key("P271") {
        for required in ["P47", "P35"] {
            assert!(map.contains_key(required), "missing {required}");
        }
    }
    map
}

/// `std offset [dst [offset] [,start[/time],end[/time]]]`, loosely.
fn is_posix_tz(s: &str) -> bool {
    let (head, rules) = match s.split_once(',') {
        Some((h, r)) => (h, Some(r)),
        None => (s, None),
    };
    let name_ok = head
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'<');
    let offset_ok = head.bytes().any(|b| b.is_ascii_digit());
    let rules_ok = rules.is_none_or(|r| {
        let parts: Vec<&str> = r.split(',').collect();
        parts.len() == 2
            && parts
                .iter()
                .all(|p| p.starts_with('M') || p.starts_with('J'))
    });
    name_ok && offset_ok && rules_ok
}

/// One of Grandstream's listed P64 values (the vendor row's list).
fn listed(value: &str) -> bool {
    let gs = autoprov::vendors::by_id("grandstream").expect("grandstream");
    gs.provisioning
        .timezone_names
        .iter()
        .any(|(_, v)| *v == value)
}

/// P64/P246 for a zone: a listed value, or customize with this POSIX
/// string. Which one depends on the vendor's list (data that grows), so
/// files are compared without them and they are checked here.
fn take_clock(m: &mut BTreeMap<String, String>, posix: &str) {
    let p64 = m.remove("P64").expect("P64");
    let p246 = m.remove("P246");
    if p64 == "customize" {
        assert_eq!(p246.as_deref(), Some(posix));
    } else {
        assert!(listed(&p64), "P64 {p64} is not a listed value");
        assert_eq!(p246, None);
    }
}

fn golden_gs(name: &str) -> BTreeMap<String, String> {
    gs_settings(&golden_bytes(&format!("grandstream/{name}")))
}

#[test]
fn grandstream_boot_sequence_over_https() {
    let (_tmp, data, server) = serving(&provision_csv("grandstream"));

    // 1. The legacy binary cfg<mac> is not served: the phone moves on.
    let legacy = server.get_https("/cfg000b82aabbcc", Some(GS_UA));
    assert_eq!(legacy.status, 404);
    assert_eq!(legacy.body, b"not found\n");

    // 2. cfg<mac>.xml: the account, BLF MPKs, language, clock, re-check.
    let main = server.get_https("/cfg000b82aabbcc.xml", Some(GS_UA));
    assert_eq!(main.status, 200, "{}", server.log());
    assert!(main.content_type.starts_with("application/xml"));
    let m = gs_settings(&main.body);
    let expect = [
        ("mac", GS_MAC),
        ("P271", "1"),
        ("P270", "2001"),
        // The XML-special display name round-trips through the parser.
        ("P3", DISPLAY),
        ("P47", "pbx.example.com:5061"),
        ("P48", ""),
        ("P35", "2001"),
        ("P36", "2001"),
        ("P34", PASSWORD),
        ("P130", "2"),
        // Account 2: the P4xx block, its own extension and password.
        ("P401", "1"),
        ("P417", "2004"),
        ("P407", DISPLAY),
        ("P402", "pbx.example.com:5061"),
        ("P403", ""),
        ("P404", "2004"),
        ("P405", "2004"),
        ("P406", "Gs-Sip-2004-secret"),
        ("P448", "2"),
        // MPK 1: BLF on account 1 watching 2002, labelled from the directory.
        ("P323", "1"),
        ("P301", "0"),
        ("P302", "Bea Klein"),
        ("P303", "2002"),
        // MPK 2: BLF with the label from the CSV.
        ("P324", "1"),
        ("P304", "0"),
        ("P305", "Front Desk"),
        ("P306", "2003"),
        ("P1362", "de"),
        ("P30", "pool.ntp.org"),
        ("P194", "1"),
        ("P193", "1440"),
    ];
    assert_settings(&m, &expect);
    assert!(!m.contains_key("P237") && !m.contains_key("P212"));
    assert!(
        main.text().contains("&lt;b&gt;&amp;"),
        "escaped in the bytes"
    );
    let mut m = m;
    mask_phone_passwords(&mut m, &data, GS_MAC);
    take_clock(&mut m, "CET-1CEST,M3.5.0,M10.5.0/3");
    let mut golden = golden_gs("cfg000b82aabbcc.xml");
    take_clock(&mut golden, "CET-1CEST,M3.5.0,M10.5.0/3");
    assert_eq!(m, golden);

    // 3. cfg<model>.xml and cfg.xml: no secrets, no user, no MAC header.
    let model = server.get_https("/cfggxp2170.xml", Some(GS_UA));
    assert_eq!(model.status, 200);
    let c = gs_settings(&model.body);
    assert!(!c.contains_key("mac") && !c.contains_key("P34") && !c.contains_key("P35"));
    assert_eq!(c.get("P30").map(String::as_str), Some("pool.ntp.org"));
    take_clock(&mut c.clone(), "UTC0");
    let generic = server.get_https("/cfg.xml", Some(GS_UA));
    assert_eq!(generic.status, 200);
    assert_eq!(generic.body, model.body);
    for body in [&model.text(), &generic.text()] {
        assert!(!body.contains(PASSWORD) && !body.contains("2001") && !body.contains("Ali"));
    }
    // The same common file whoever asks, known MAC or not.
    let stranger = server.get_https(
        "/cfggxp2170.xml",
        Some("Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId 000b82000001"),
    );
    assert_eq!(stranger.body, model.body);

    // 4. Plain HTTP: the staged bootstrap, no password, pointing at HTTPS.
    let boot = server.get_http("/cfg000b82aabbcc.xml", Some(GS_UA));
    assert_eq!(boot.status, 200);
    let b = gs_settings(&boot.body);
    assert!(!b.contains_key("P34") && !b.contains_key("P406"));
    assert!(!boot.text().contains("Gs-Sip-2004-secret"));
    assert_eq!(b.get("P404").map(String::as_str), Some("2004"));
    assert!(!boot.text().contains(PASSWORD));
    assert_eq!(b.get("P212").map(String::as_str), Some("2"));
    assert_eq!(b.get("P145").map(String::as_str), Some("0"));
    // The 5-minute bootstrap interval, raised to P193's documented minimum.
    assert_eq!(b.get("P194").map(String::as_str), Some("1"));
    assert_eq!(b.get("P193").map(String::as_str), Some("60"));
    let https_host = server
        .https
        .trim_start_matches("https://")
        .trim_end_matches('/');
    assert_eq!(b.get("P237").map(String::as_str), Some(https_host));
    assert_eq!(b.get("P35").map(String::as_str), Some("2001"));

    // 5. An unknown MAC and refused requests look the same.
    let unknown = server.get_https(
        "/cfg000b82000001.xml",
        Some("Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId 000b82000001"),
    );
    assert_eq!(unknown.status, 404);
    let mismatch = server.get_https(
        "/cfg000b82aabbcc.xml",
        Some("Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId 000b82ffffff"),
    );
    let upper = server.get_https("/CFG000b82aabbcc.xml", Some(GS_UA));
    let binary = server.get_http("/cfg000b82aabbcc", Some(GS_UA));
    for r in [&mismatch, &upper, &binary, &legacy] {
        assert_eq!(r, &unknown);
    }
    // Upper-case hex in the MAC is the same phone (docs/reference/vendors.md §0).
    assert_eq!(
        server.get_https("/cfg000B82AABBCC.xml", Some(GS_UA)).body,
        main.body
    );

    let log = server.stop_ok();
    assert!(!log.contains(PASSWORD), "password in the log:\n{log}");

    // render prints exactly what HTTPS sent.
    assert_render_equals(
        &data,
        &[
            vec!["render", GS_MAC],
            vec!["render", "00:0b:82:aa:bb:cc", "--user-agent", GS_UA],
            vec!["render", GS_MAC, "--file", "cfg000b82aabbcc.xml"],
        ],
        &main.body,
    );
    let out = autoprov(
        &data,
        &[
            "render",
            GS_MAC,
            "--file",
            "cfggxp2170.xml",
            "--user-agent",
            GS_UA,
        ],
    );
    assert_eq!(out.stdout, model.body);
    let p = phone(&data, GS_MAC);
    assert_eq!(p["firmware"], "1.0.11.79");
}
