//! Cisco SPA5xx and 78xx/88xx MPP (3PCC) end to end: real binary, real curl
//! over HTTPS with certificate verification, real Cisco User-Agents.
//!
//! The CSV gives each user one extension, so only the `_1_` line is checked;
//! the template loops over every line of the user.

use std::collections::BTreeMap;

use crate::support::cli::{autoprov, phone};
use crate::support::fixtures::{golden_bytes, provision_csv};
use crate::support::formats::{assert_settings, config_text, mask_phone_passwords};
use crate::support::server::{curl, serving};
use crate::support::tls::openssl_fingerprint;

const SPA_UA: &str = "Cisco/SPA504G-7.6.2 (0026990A0B0C)(CBT1234ABCD)";
const MPP_UA: &str = "Cisco-CP-8841-3PCC/12.0.1 (d0ec35010203)";
const SPA: &str = "0026990a0b0c";
const MPP: &str = "d0ec35010203";
const SPA_PW: &str = "Cisco-Spa-2024-jkl";

/// Checks a Cisco flat profile by docs/reference/vendors.md §9.1/§9.2 and returns its
/// parameters (element name → text; no name twice).
fn flat_profile(body: &[u8]) -> BTreeMap<String, String> {
    let text = config_text(body);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "flat-profile");
    let mut map = BTreeMap::new();
    for el in root.children().filter(|n| n.is_element()) {
        let name = el.tag_name().name();
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
            "bad element {name:?}"
        );
        assert!(
            el.children().all(|c| !c.is_element()),
            "{name} has children"
        );
        if let Some(ua) = el.attribute("ua") {
            assert!(["na", "ro", "rw"].contains(&ua), "{name} ua={ua}");
        }
        let value = el.text().unwrap_or("").to_string();
        assert!(
            map.insert(name.to_string(), value).is_none(),
            "{name} twice"
        );
    }
    for (k, v) in &map {
        if k.starts_with("SIP_Transport_") {
            assert!(
                ["UDP", "TCP", "TLS", "Auto"].contains(&v.as_str()),
                "{k} = {v}"
            );
        }
        if k.starts_with("Extended_Function_") && !v.is_empty() {
            let (fnc, rest) = v.split_once(';').unwrap_or((v, ""));
            let f = fnc.strip_prefix("fnc=").expect("fnc=");
            assert!(
                f.bytes().all(|b| b.is_ascii_lowercase() || b == b'+'),
                "{v}"
            );
            for field in rest.split(';').filter(|s| !s.is_empty()) {
                let (key, _) = field.split_once('=').expect("key=value");
                assert!(key.bytes().all(|b| b.is_ascii_lowercase()), "{v}");
            }
        }
        if k == "Time_Zone" {
            let t = v.strip_prefix("GMT").expect("GMT");
            let b = t.as_bytes();
            assert!(
                t.is_empty()
                    || (t.len() == 6
                        && (b[0] == b'+' || b[0] == b'-')
                        && b[3] == b':'
                        && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())),
                "{v}"
            );
        }
        if k.starts_with("Profile_Rule") && !v.is_empty() {
            // `[--uid u --pwd p] ` options, then the URL or path.
            let url = match v.strip_prefix('[') {
                Some(rest) => {
                    let (opts, url) = rest.split_once("] ").expect("closed options");
                    let words: Vec<&str> = opts.split(' ').collect();
                    assert!(matches!(words.as_slice(), ["--uid", _, "--pwd", _]), "{v}");
                    url
                }
                None => v.as_str(),
            };
            assert!(
                url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'),
                "{v}"
            );
            let macros = v.split('$').skip(1);
            for m in macros {
                assert!(m.starts_with("MA.") || m.starts_with("PSN"), "{v}");
            }
        }
    }
    if map.contains_key("Line_Enable_1_") {
        for required in ["User_ID_1_", "Proxy_1_"] {
            assert!(map.contains_key(required), "missing {required}");
        }
    }
    map
}

fn golden(name: &str) -> BTreeMap<String, String> {
    flat_profile(&golden_bytes(&format!("cisco/{name}")))
}

#[test]
fn spa_and_mpp_boot_sequences_over_https() {
    let (_tmp, data, server) = serving(&provision_csv("cisco"));

    // 1. The common files: the SPA's spa$PSN.cfg, the MPP's $PSN.xml and
    //    $PSN-3PCC.xml. No secrets; Profile_Rule_B points at $MA.xml over
    //    plain HTTP (the staged bootstrap), whichever listener served them.
    let mut commons = Vec::new();
    for (path, ua) in [
        ("/spa504G.cfg", SPA_UA),
        ("/spa525G2.cfg", SPA_UA),
        ("/8841.xml", MPP_UA),
        ("/8841-3PCC.xml", MPP_UA),
    ] {
        for r in [
            server.get_https(path, Some(ua)),
            server.get_http(path, Some(ua)),
            server.get_https(path, None),
        ] {
            assert_eq!(r.status, 200, "{path}: {}", server.log());
            assert!(r.content_type.starts_with("application/xml"));
            let c = flat_profile(&r.body);
            assert_eq!(
                c["Profile_Rule_B"],
                format!("{}/$MA.xml", server.http),
                "{path}"
            );
            assert_eq!(c["Resync_On_Reset"], "Yes");
            // Our certificate as the custom CA, over plain HTTP (the phone
            // cannot check our HTTPS before it has it).
            assert_eq!(c["Custom_CA_Rule"], format!("{}/ca.pem", server.http));
            assert!(!r.text().contains("Password"), "{path}");
            assert!(!c.contains_key("User_ID_1_"));
            commons.push(r.body);
        }
    }
    assert!(commons.windows(2).all(|w| w[0] == w[1]));

    // 2. The SPA's own profile with the account, BLF keys, locale, clock.
    let spa = server.get_https(&format!("/{SPA}.xml"), Some(SPA_UA));
    assert_eq!(spa.status, 200);
    let mut s = flat_profile(&spa.body);
    let expect = [
        ("Line_Enable_1_", "Yes"),
        ("Display_Name_1_", "Claire Roux"),
        ("User_ID_1_", "3001"),
        ("Auth_ID_1_", "3001"),
        ("Password_1_", SPA_PW),
        ("Proxy_1_", "pbx.example.com:5061"),
        ("SIP_Transport_1_", "TLS"),
        ("Extension_1_", "1"),
        ("Extension_2_", "Disabled"),
        // No label in the CSV: the target user's display name, escaped.
        ("Short_Name_2_", "Ali \"x\" <b>&"),
        (
            "Extended_Function_2_",
            "fnc=blf+sd+cp;sub=3002@$PROXY;nme=Ali \"x\" <b>&",
        ),
        ("Extension_3_", "Disabled"),
        ("Short_Name_3_", "Accueil"),
        (
            "Extended_Function_3_",
            "fnc=blf+sd+cp;sub=3003@$PROXY;nme=Accueil",
        ),
        ("Locale", "fr-FR"),
        // The display language by name, beside the locale (src/vendors/cisco.rs).
        ("Language_Selection", "French"),
        ("Time_Zone", "GMT+01:00"),
        ("Daylight_Saving_Time_Enable", "Yes"),
        (
            "Daylight_Saving_Time_Rule",
            "start=3/-1/7/2;end=10/-1/7/3;save=1",
        ),
        ("Primary_NTP_Server", "pool.ntp.org"),
        ("Resync_Periodic", "86400"),
    ];
    assert_settings(&s, &expect);
    assert!(!s.contains_key("Profile_Rule_B"));
    mask_phone_passwords(&mut s, &data, SPA);
    assert_eq!(s, golden(&format!("{SPA}.xml")));
    // The MAC in the request is lowercase; the UA's uppercase one matches.
    assert_eq!(
        server
            .get_https(&format!("/{}.xml", SPA.to_uppercase()), Some(SPA_UA))
            .body,
        spa.body
    );

    // 3. The MPP's profile: a display name full of XML specials round-trips.
    let mpp = server.get_https(&format!("/{MPP}.xml"), Some(MPP_UA));
    assert_eq!(mpp.status, 200);
    let mut m = flat_profile(&mpp.body);
    assert_eq!(m["Display_Name_1_"], "Ali \"x\" <b>&");
    assert_eq!(m["SIP_Transport_1_"], "TCP");
    assert_eq!(m["Proxy_1_"], "pbx.example.com:5060");
    assert_eq!(m["Locale"], "en-US");
    assert_eq!(m["Language_Selection"], "English");
    assert_eq!(m["Time_Zone"], "GMT-05:00");
    assert_eq!(
        m["Daylight_Saving_Time_Rule"],
        "start=3/8/7/2;end=11/1/7/2;save=1"
    );
    assert_eq!(m["Short_Name_2_"], "Claire Roux");
    mask_phone_passwords(&mut m, &data, MPP);
    assert_eq!(m, golden(&format!("{MPP}.xml")));

    let log = server.stop_ok();
    assert!(!log.contains(SPA_PW), "password in the log:\n{log}");

    // render prints exactly what HTTPS sent.
    for (mac, body, ua) in [(SPA, &spa.body, SPA_UA), (MPP, &mpp.body, MPP_UA)] {
        for args in [vec!["render", mac], vec!["render", mac, "--user-agent", ua]] {
            let out = autoprov(&data, &args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(&out.stdout, body, "{args:?}");
        }
    }

    // What the User-Agents taught the store.
    let p = phone(&data, SPA);
    assert_eq!(p["firmware"], "7.6.2");
    assert_eq!(p["last_fetch"]["user_agent"], SPA_UA);
    let p = phone(&data, MPP);
    assert_eq!(p["firmware"], "12.0.1");
    assert!(!p.to_string().contains("Cisco-Mpp-2024-mno"));
}

#[test]
fn plain_http_bootstrap_and_identical_refusals() {
    let (_tmp, data, server) = serving(&provision_csv("cisco"));
    let https_base = format!("{}/", server.https);

    let full = server.get_https(&format!("/{SPA}.xml"), Some(SPA_UA));
    let staged = server.get_http(&format!("/{SPA}.xml"), Some(SPA_UA));
    assert_eq!(staged.status, 200);
    assert!(!staged.text().contains(SPA_PW));
    let s = flat_profile(&staged.body);
    assert!(!s.keys().any(|k| k.starts_with("Password")), "{s:?}");
    // From now on straight to this file over HTTPS; the common file's
    // pointer to the bootstrap is cleared.
    assert_eq!(s["Profile_Rule"], format!("{https_base}$MA.xml"));
    assert_eq!(s["Profile_Rule_B"], "");
    assert_eq!(s["Resync_Periodic"], "300");
    // Everything else is the same file.
    let mut f = flat_profile(&full.body);
    f.remove("Password_1_");
    f.remove("Resync_Periodic");
    // The phone's web passwords, like the SIP password, only over HTTPS.
    for k in ["Admin_Passwd", "Admin_Password", "User_Password"] {
        assert!(f.remove(k).is_some(), "{k} over HTTPS");
        assert!(!s.contains_key(k), "{k} in the bootstrap");
    }
    let ca = curl(&s["Custom_CA_Rule"], &[]);
    assert_eq!(ca.status, 200);
    assert_eq!(openssl_fingerprint(&ca.body), server.cert_fingerprint());
    assert!(!f.contains_key("Custom_CA_Rule"), "HTTPS: trusted already");
    let mut s2 = s.clone();
    s2.remove("Profile_Rule");
    s2.remove("Profile_Rule_B");
    s2.remove("Custom_CA_Rule");
    s2.remove("Resync_Periodic");
    assert_eq!(f, s2);

    // Unknown MAC, a UA naming another MAC, unserved names: one 404.
    let unknown = server.get_https("/0026990000ff.xml", Some(SPA_UA));
    assert_eq!(unknown.status, 404);
    let other_spa = "Cisco/SPA504G-7.6.2 (0026990A0B0D)(CBT1234ABCD)";
    let other_mpp = "Cisco-CP-8841-3PCC/12.0.1 (d0ec35010204)";
    for r in [
        server.get_https("/0026990000ff.xml", None),
        server.get_http("/0026990000ff.xml", Some(SPA_UA)),
        server.get_https(&format!("/{SPA}.xml"), Some(other_spa)),
        server.get_http(&format!("/{SPA}.xml"), Some(other_spa)),
        server.get_https(&format!("/{MPP}.xml"), Some(other_mpp)),
        server.get_https(&format!("/{SPA}.cfg"), Some(SPA_UA)),
        server.get_https("/spa504g.xml", Some(SPA_UA)),
        server.get_https("/88410.xml", Some(MPP_UA)),
        server.get_https("/8841-3pcc.xml", Some(MPP_UA)),
        server.get_https(&format!("/..%2f{SPA}.xml"), Some(SPA_UA)),
    ] {
        assert_eq!(r, unknown);
    }

    // Cisco reports are not stored: PUT and POST get a 405.
    for method in ["PUT", "POST"] {
        let r = curl(
            &format!("{}/{SPA}.xml", server.http),
            &["-X", method, "--data-binary", "report", "-A", SPA_UA],
        );
        assert_eq!(r.status, 405);
    }
    assert!(!data.join("uploads").exists());
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(!log.contains("panicked"), "{log}");
}
