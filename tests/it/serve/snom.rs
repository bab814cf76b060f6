//! The Snom boot sequence end to end (docs/reference/vendors.md §5): real binary, real
//! curl over HTTPS with certificate verification, real store.
//!
//! The CSV import gives each user one SIP line (`User.lines` can hold more,
//! but no import column fills a second), so one identity is tested.

use std::collections::BTreeMap;

use crate::support::cli::{autoprov, phone};
use crate::support::fixtures::{golden_bytes, provision_csv};
use crate::support::formats::{
    assert_render_equals, assert_settings, config_text, mask_ca, mask_phone_passwords,
};
use crate::support::server::serving;
use crate::support::tls::pem_of_base64;

const SNOM_UA: &str = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413AABBCC SXM:0 UXM:0)";
const SNOM_MAC: &str = "000413aabbcc";
const MAIN: &str = "/snomD785-000413AABBCC.htm";
const PASSWORD: &str = "Snom-Sip-3001-secret";
const DISPLAY: &str = "Ali \"x\" <b>&";

fn ua_with_mac(mac: &str) -> String {
    format!(
        "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {mac} SXM:0 UXM:0)"
    )
}

/// Checks a Snom settings file by docs/reference/vendors.md §9.1/§9.2 and returns its
/// settings: `name` or `name[idx]` → value; `fkey[idx]` → the key's
/// function and `fkey[idx]@label` / `@context` → its attributes.
fn snom_settings(body: &[u8]) -> BTreeMap<String, String> {
    let text = config_text(body);
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "settings");
    let mut map = BTreeMap::new();
    let mut put =
        |k: String, v: String| assert!(map.insert(k.clone(), v).is_none(), "duplicate {k}");
    for section in root.children().filter(|n| n.is_element()) {
        let sname = section.tag_name().name();
        assert!(
            [
                "phone-settings",
                "functionKeys",
                "tbook",
                "dialplan",
                "certificates"
            ]
            .contains(&sname),
            "section <{sname}>"
        );
        for el in section.children().filter(|n| n.is_element()) {
            let name = el.tag_name().name();
            if let Some(perm) = el.attribute("perm") {
                assert!(["", "R", "RW"].contains(&perm), "{name} perm={perm:?}");
            }
            assert!(
                el.children().all(|c| !c.is_element()),
                "{name} has children"
            );
            let value = el.text().unwrap_or("").to_string();
            let idx = el.attribute("idx").map(|i| {
                i.parse::<u32>()
                    .unwrap_or_else(|_| panic!("{name} idx={i:?}"))
            });
            match (sname, name) {
                ("functionKeys", "fkey") => {
                    let idx = idx.expect("fkey idx");
                    assert!(
                        [
                            "blf", "speed", "line", "dest", "orbit", "url", "none", "keyevent"
                        ]
                        .iter()
                        .any(|t| value == *t || value.starts_with(&format!("{t} "))),
                        "fkey {idx} = {value:?}"
                    );
                    for attr in ["label", "context"] {
                        if let Some(a) = el.attribute(attr) {
                            put(format!("fkey[{idx}]@{attr}"), a.to_string());
                        }
                    }
                    put(format!("fkey[{idx}]"), value);
                }
                ("functionKeys", other) => panic!("<{other}> in functionKeys"),
                (_, _) => {
                    if name.starts_with("user_") {
                        assert!(idx.is_some_and(|i| i >= 1), "{name} needs idx >= 1");
                    }
                    // An empty timezone hands the clock to utc_offset and dst.
                    if name == "timezone" && !value.is_empty() {
                        let (code, off) = value.split_at(value.find(['+', '-']).expect("sign"));
                        assert!(
                            (3..=4).contains(&code.len())
                                && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                                && off[1..].split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
                            "timezone {value:?}"
                        );
                    }
                    match idx {
                        Some(i) => put(format!("{name}[{i}]"), value),
                        None => put(name.to_string(), value),
                    }
                }
            }
        }
    }
    if map
        .keys()
        .any(|k| k.starts_with("user_") && k.ends_with("[1]"))
    {
        for required in ["user_active[1]", "user_name[1]", "user_host[1]"] {
            assert!(map.contains_key(required), "missing {required}");
        }
    }
    map
}

fn golden_snom(name: &str) -> BTreeMap<String, String> {
    snom_settings(&golden_bytes(&format!("snom/{name}")))
}

#[test]
fn snom_boot_sequence_over_https() {
    let (_tmp, data, server) = serving(&provision_csv("snom"));

    // 1. snom<model>.htm: the same for every phone, no account, no secrets.
    let common = server.get_https("/snomD785.htm", Some(SNOM_UA));
    assert_eq!(common.status, 200, "{}", server.log());
    assert!(common.content_type.starts_with("application/xml"));
    let c = snom_settings(&common.body);
    assert_eq!(
        c.get("ntp_server").map(String::as_str),
        Some("pool.ntp.org")
    );
    assert_eq!(
        c.get("settings_refresh_timer").map(String::as_str),
        Some("86400")
    );
    assert!(
        !c.keys()
            .any(|k| k.starts_with("user_") || k.starts_with("fkey"))
    );
    for needle in [PASSWORD, "3001", "Ali"] {
        assert!(
            !common.text().contains(needle),
            "{needle} in the common file"
        );
    }
    let stranger = server.get_https("/snomD785.htm", Some(&ua_with_mac("000413000001")));
    assert_eq!(stranger.body, common.body);

    // 2. snom<model>-<MAC>.htm: identity 1, keys, language, clock.
    let main = server.get_https(MAIN, Some(SNOM_UA));
    assert_eq!(main.status, 200, "{}", server.log());
    let m = snom_settings(&main.body);
    let expect = [
        ("user_active[1]", "on"),
        // The XML-special display name round-trips through the parser.
        ("user_realname[1]", DISPLAY),
        ("user_idle_text[1]", "3001"),
        ("user_name[1]", "3001"),
        ("user_pname[1]", "3001"),
        ("user_pass[1]", PASSWORD),
        ("user_host[1]", "pbx.example.com:5061"),
        ("user_outbound[1]", "pbx.example.com:5061;transport=tls"),
        ("user_srtp[1]", "on"),
        ("language", "Français"),
        ("web_language", "Français"),
        ("timezone", "FRA+1"),
        ("ntp_server", "pool.ntp.org"),
        ("settings_refresh_timer", "86400"),
        // idx is 0-based: key P1 is the line, then the two BLF keys.
        ("fkey[0]", "line"),
        ("fkey[1]", "blf sip:3002@pbx.example.com"),
        ("fkey[1]@label", "Bea Roux"),
        ("fkey[1]@context", "1"),
        ("fkey[2]", "blf sip:3003@pbx.example.com"),
        ("fkey[2]@label", "Front Desk"),
    ];
    assert_settings(&m, &expect);
    assert!(!m.contains_key("setting_server"));
    // Our certificate as a trusted certificate, inline base64 DER.
    let mut m = m;
    mask_ca(
        &mut m,
        "certificate",
        &server.cert_fingerprint(),
        pem_of_base64,
    );
    assert!(
        main.text().contains("&lt;b&gt;&amp;"),
        "escaped in the bytes"
    );
    mask_phone_passwords(&mut m, &data, SNOM_MAC);
    assert_eq!(m, golden_snom("snomD785-000413AABBCC.htm"));

    // 3. Plain HTTP: the staged bootstrap, no password, pointing at HTTPS.
    let boot = server.get_http(MAIN, Some(SNOM_UA));
    assert_eq!(boot.status, 200);
    let b = snom_settings(&boot.body);
    assert!(!b.contains_key("user_pass[1]"));
    assert!(!boot.text().contains(PASSWORD));
    // setting_server names a file the HTTPS listener serves, not the bare
    // root (a 404): filled in as the phone does ({phone_type} = snomD785,
    // {mac} = its MAC, upper case), it fetches this phone's full file.
    let named = b.get("setting_server").expect("setting_server");
    assert!(
        named.starts_with(&format!("{}/", server.https.trim_end_matches('/'))),
        "{named}"
    );
    assert!(named.contains("{mac}"), "{named}");
    let as_the_phone_asks = named
        .replace("{phone_type}", "snomD785")
        .replace("{mac}", "000413AABBCC");
    let next = server.get_url(&as_the_phone_asks, Some(SNOM_UA));
    assert_eq!(next.status, 200, "{as_the_phone_asks}: {}", server.log());
    assert_eq!(next.body, main.body);
    assert!(next.text().contains(PASSWORD));
    // The bare root the bootstrap used to name serves nothing.
    assert_eq!(server.get_https("/", Some(SNOM_UA)).status, 404);
    assert_eq!(b.get("user_name[1]").map(String::as_str), Some("3001"));
    // The common file carries nothing secret on either listener.
    assert_eq!(
        server.get_http("/snomD785.htm", Some(SNOM_UA)).body,
        common.body
    );

    // 4. An unknown MAC and refused requests look the same.
    let unknown = server.get_https(
        "/snomD785-000413000001.htm",
        Some(&ua_with_mac("000413000001")),
    );
    assert_eq!(unknown.status, 404);
    let refused = [
        // The User-Agent names another MAC.
        server.get_https(MAIN, Some(&ua_with_mac("000413FFFFFF"))),
        server.get_http(MAIN, Some(&ua_with_mac("000413FFFFFF"))),
        server.get_https("/snomD785-000413AABBCC.htm.bak", Some(SNOM_UA)),
        server.get_https("/snom-000413AABBCC.htm", Some(SNOM_UA)),
        server.get_https("/snomD785-000413AABBCC.xml", Some(SNOM_UA)),
    ];
    for r in &refused {
        assert_eq!(r, &unknown);
    }
    // Lower-case hex and another model spelling reach the same phone.
    assert_eq!(
        server
            .get_https("/snomD785-000413aabbcc.htm", Some(SNOM_UA))
            .body,
        main.body
    );

    let log = server.stop_ok();
    assert!(!log.contains(PASSWORD), "password in the log:\n{log}");

    // render prints exactly what HTTPS sent.
    assert_render_equals(
        &data,
        &[
            vec!["render", SNOM_MAC],
            vec!["render", "00:04:13:AA:BB:CC", "--user-agent", SNOM_UA],
            vec!["render", SNOM_MAC, "--file", "snomD785-000413AABBCC.htm"],
        ],
        &main.body,
    );
    let out = autoprov(&data, &["render", SNOM_MAC, "--file", "snomD785.htm"]);
    assert_eq!(out.stdout, common.body);
    let p = phone(&data, SNOM_MAC);
    assert_eq!(p["firmware"], "10.1.33.33");
    assert_eq!(p["last_fetch"]["file"], "snomD785-000413aabbcc.htm");
}
