//! The Fanvil boot sequence end to end (docs/reference/vendors.md §6), XML `<sysConf>`
//! syntax: real binary, real curl over HTTPS with certificate
//! verification, real store.
//!
//! The CSV import gives each user one SIP line (`User.lines` can hold more,
//! but no import column fills a second), so one line is tested.

use std::collections::BTreeMap;

use crate::support::cli::{autoprov, phone};
use crate::support::fixtures::{golden_bytes, provision_csv};
use crate::support::formats::{
    assert_render_equals, assert_settings, config_text, mask_phone_passwords,
};
use crate::support::server::serving;

const FANVIL_UA: &str = "Fanvil X4 2.10.2.6887 0c383e07e16c";
const FANVIL_MAC: &str = "0c383e07e16c";
const MAIN: &str = "/0c383e07e16c.cfg";
const PASSWORD: &str = "Fan-Sip-4001-secret";
const DISPLAY: &str = "Ali \"x\" <b>&";

/// Checks a `<sysConf>` file by docs/reference/vendors.md §9.1/§9.2 and returns its leaf
/// values by path: `sip/line[1]/PhoneNumber`, `dsskey/dssSide[1]/Fkey[2]/Value`.
fn fanvil_settings(body: &[u8]) -> BTreeMap<String, String> {
    let text = config_text(body);
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "sysConf");
    let first = root.children().find(|n| n.is_element()).expect("a child");
    assert_eq!(first.tag_name().name(), "Version");
    let mut map = BTreeMap::new();
    fn walk(node: roxmltree::Node<'_, '_>, prefix: &str, map: &mut BTreeMap<String, String>) {
        for el in node.children().filter(|n| n.is_element()) {
            let mut path = format!("{prefix}{}", el.tag_name().name());
            if let Some(i) = el.attribute("index") {
                assert!(i.parse::<u32>().is_ok(), "{path} index={i:?}");
                path.push_str(&format!("[{i}]"));
            }
            if el.children().any(|c| c.is_element()) {
                walk(el, &format!("{path}/"), map);
            } else {
                let v = el.text().unwrap_or("").to_string();
                assert!(map.insert(path.clone(), v).is_none(), "duplicate {path}");
            }
        }
    }
    walk(root, "", &mut map);
    let lines: Vec<&String> = map
        .keys()
        .filter(|k| k.starts_with("sip/line[") && k.ends_with("/RegisterAddr"))
        .collect();
    for l in &lines {
        let user = l.replace("/RegisterAddr", "/RegisterUser");
        assert!(map.contains_key(&user), "missing {user}");
    }
    if let Some(t) = map.get("sip/line[1]/Transport") {
        assert!(
            ["0", "1", "2", "3"].contains(&t.as_str()),
            "Transport = {t}"
        );
    }
    map
}

fn golden_fanvil(name: &str) -> BTreeMap<String, String> {
    fanvil_settings(&golden_bytes(&format!("fanvil/{name}")))
}

#[test]
fn fanvil_boot_sequence_over_https() {
    let (_tmp, data, server) = serving(&provision_csv("fanvil"));

    // 1. The model common file: no account, no secrets, the same for all.
    let common = server.get_https("/f0X4hw1.100.cfg", Some(FANVIL_UA));
    assert_eq!(common.status, 200, "{}", server.log());
    assert!(common.content_type.starts_with("application/xml"));
    let c = fanvil_settings(&common.body);
    assert!(!c.keys().any(|k| k.starts_with("sip/")));
    assert_eq!(
        c.get("phone/date/SNTPServer").map(String::as_str),
        Some("pool.ntp.org")
    );
    assert_eq!(
        c.get("ap/DownloadDeviceConf").map(String::as_str),
        Some("1")
    );
    for needle in [PASSWORD, "4001", "Ali"] {
        assert!(
            !common.text().contains(needle),
            "{needle} in the common file"
        );
    }
    for other in ["/F0V00X600000.cfg", "/f0C00620000.cfg"] {
        assert_eq!(server.get_https(other, Some(FANVIL_UA)).body, common.body);
    }
    let stranger = server.get_https(
        "/f0X4hw1.100.cfg",
        Some("Fanvil X4 2.10.2.6887 0c383e000001"),
    );
    assert_eq!(stranger.body, common.body);
    // Firmware descriptors are not settings: 404.
    assert_eq!(
        server
            .get_https("/fanvil_x4u_v2_hwv2_0.txt", Some(FANVIL_UA))
            .status,
        404
    );

    // 2. <mac>.cfg: line 1, keys, language, clock.
    let main = server.get_https(MAIN, Some(FANVIL_UA));
    assert_eq!(main.status, 200, "{}", server.log());
    let mut m = fanvil_settings(&main.body);
    let expect = [
        ("Version", "2.0002"),
        ("sip/line[1]/PhoneNumber", "4001"),
        // The XML-special display name round-trips through the parser.
        ("sip/line[1]/DisplayName", DISPLAY),
        ("sip/line[1]/RegisterAddr", "pbx.example.com"),
        ("sip/line[1]/RegisterPort", "5061"),
        ("sip/line[1]/RegisterUser", "4001"),
        ("sip/line[1]/RegisterPswd", PASSWORD),
        ("sip/line[1]/EnableReg", "1"),
        ("sip/line[1]/Transport", "3"),
        ("phone/display/DefaultLanguage", "it"),
        ("phone/date/EnableSNTP", "1"),
        ("phone/date/SNTPServer", "pool.ntp.org"),
        // America/New_York: UTC-5 in quarter hours, US DST rule.
        ("phone/date/TimeZone", "-20"),
        ("phone/date/TimeZoneName", "UTC-5"),
        ("phone/date/EnableDST", "2"),
        ("phone/date/DSTMinOffset", "60"),
        ("phone/date/DSTStartMon", "3"),
        ("phone/date/DSTStartWeek", "2"),
        ("phone/date/DSTStartWday", "0"),
        ("phone/date/DSTStartHour", "2"),
        ("phone/date/DSTEndMon", "11"),
        ("phone/date/DSTEndWeek", "1"),
        ("phone/date/DSTEndHour", "2"),
        ("dsskey/dssSide[1]/Fkey[1]/Type", "2"),
        ("dsskey/dssSide[1]/Fkey[1]/Value", "SIP1"),
        ("dsskey/dssSide[1]/Fkey[2]/Type", "1"),
        ("dsskey/dssSide[1]/Fkey[2]/Value", "4002@1/ba"),
        ("dsskey/dssSide[1]/Fkey[2]/Title", "Bea Fiore"),
        ("dsskey/dssSide[1]/Fkey[3]/Value", "4003@1/ba"),
        ("dsskey/dssSide[1]/Fkey[3]/Title", "Front Desk"),
    ];
    assert_settings(&m, &expect);
    assert!(!m.contains_key("ap/FlashServerIP"));
    assert!(
        main.text().contains("&lt;b&gt;&amp;"),
        "escaped in the bytes"
    );
    mask_phone_passwords(&mut m, &data, FANVIL_MAC);
    assert_eq!(m, golden_fanvil("0c383e07e16c.cfg"));

    // 3. Plain HTTP: the staged bootstrap, no password, pointing at HTTPS.
    let boot = server.get_http(MAIN, Some(FANVIL_UA));
    assert_eq!(boot.status, 200);
    let b = fanvil_settings(&boot.body);
    assert!(!b.contains_key("sip/line[1]/RegisterPswd"));
    assert!(!boot.text().contains(PASSWORD));
    assert_eq!(
        b.get("ap/FlashServerIP").map(|u| u.trim_end_matches('/')),
        Some(server.https.trim_end_matches('/'))
    );
    // HTTPS as the protocol code too, and SIP PnP (asked before the stored
    // server) off; the full file leaves the provisioning block alone.
    assert_eq!(b.get("ap/FlashProtocol").map(String::as_str), Some("5"));
    assert_eq!(b.get("ap/pnp/PNPEnable").map(String::as_str), Some("0"));
    assert!(!m.keys().any(|k| k.starts_with("ap/")), "{m:?}");

    // 4. An unknown MAC and refused requests look the same.
    let unknown = server.get_https(
        "/0c383e000001.cfg",
        Some("Fanvil X4 2.10.2.6887 0c383e000001"),
    );
    assert_eq!(unknown.status, 404);
    let refused = [
        server.get_https(MAIN, Some("Fanvil X4 2.10.2.6887 0c383effffff")),
        server.get_http(MAIN, Some("Fanvil X4 2.10.2.6887 0c383effffff")),
        server.get_https("/0c383e07e16c.cfg.bak", Some(FANVIL_UA)),
        server.get_https("/0c383e07e16c.xml", Some(FANVIL_UA)),
        // Another vendor's file name for this phone.
        server.get_https("/0c383e07e16c.boot", Some(FANVIL_UA)),
    ];
    for r in &refused {
        assert_eq!(r, &unknown);
    }
    assert_eq!(
        server.get_https("/0C383E07E16C.cfg", Some(FANVIL_UA)).body,
        main.body
    );

    let log = server.stop_ok();
    assert!(!log.contains(PASSWORD), "password in the log:\n{log}");

    // render prints exactly what HTTPS sent.
    assert_render_equals(
        &data,
        &[
            vec!["render", FANVIL_MAC],
            vec!["render", "0c:38:3e:07:e1:6c", "--user-agent", FANVIL_UA],
            vec!["render", FANVIL_MAC, "--file", "0c383e07e16c.cfg"],
        ],
        &main.body,
    );
    let out = autoprov(&data, &["render", FANVIL_MAC, "--file", "f0X4hw1.100.cfg"]);
    assert_eq!(out.stdout, common.body);
    let p = phone(&data, FANVIL_MAC);
    assert_eq!(p["firmware"], "2.10.2.6887");
}
