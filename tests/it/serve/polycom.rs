//! The Poly/Polycom boot sequence end to end: real binary, real curl over
//! HTTPS with certificate verification, a real Polycom User-Agent (no MAC:
//! the MAC comes from the path), log uploads by PUT.
//!
//! The CSV gives each user one extension, so only `reg.1.*` is checked; the
//! template loops over every line of the user.

use std::collections::BTreeMap;

use crate::support::cli::{autoprov, phone};
use crate::support::fixtures::{golden_bytes, provision_csv};
use crate::support::formats::{assert_settings, config_text, mask_ca, mask_phone_passwords};
use crate::support::server::{Fetched, Server, curl, port, serving};

const POLY_UA: &str = "FileTransport PolycomVVX-VVX_411-UA/5.9.0.9373 Type/Application";
const PAUL: &str = "0004f2a1b2c3";
const ALI: &str = "0004f2d4e5f6";
const PAUL_PW: &str = "Poly-Sip-2024-abc";

/// Checks a Polycom file by docs/reference/vendors.md §9.1/§9.2 and returns its root
/// element name and every attribute of every element (no name twice).
fn polycom_attrs(body: &[u8]) -> (String, BTreeMap<String, String>) {
    let text = config_text(body);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\""));
    let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let mut map = BTreeMap::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        for a in node.attributes() {
            let name = a.name();
            assert!(
                name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'),
                "bad attribute name {name:?}"
            );
            let old = map.insert(name.to_string(), a.value().to_string());
            // device.set="1" opens each <device> group (the lock-down block
            // has its own); any other name twice is a mistake.
            assert!(
                old.is_none() || (name == "device.set" && old.as_deref() == Some("1")),
                "{name} set twice"
            );
        }
    }
    // Per-key value rules.
    for (k, v) in &map {
        if k.starts_with("reg.") && k.ends_with(".transport") {
            assert!(
                ["DNSnaptr", "TCPpreferred", "UDPOnly", "TLS", "TCPOnly"].contains(&v.as_str()),
                "{k} = {v}"
            );
        }
        if let Some(dev) = k.strip_prefix("device.")
            && dev != "set"
            && !dev.ends_with(".set")
        {
            assert_eq!(map.get(&format!("{k}.set")).map(String::as_str), Some("1"));
            assert_eq!(map.get("device.set").map(String::as_str), Some("1"));
        }
    }
    if map.contains_key("reg.1.address") {
        assert!(map.contains_key("reg.1.server.1.address"));
    }
    (doc.root_element().tag_name().name().to_string(), map)
}

fn golden_attrs(name: &str) -> BTreeMap<String, String> {
    polycom_attrs(&golden_bytes(&format!("polycom/{name}"))).1
}

/// `curl -X PUT --data-binary @file` with the Polycom User-Agent.
fn put(url: &str, body: &[u8], extra: &[&str]) -> Fetched {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload");
    std::fs::write(&file, body).unwrap();
    let data = format!("@{}", file.display());
    let mut args = vec!["-X", "PUT", "--data-binary", &data, "-A", POLY_UA];
    args.extend_from_slice(extra);
    curl(url, &args)
}

#[test]
fn boot_sequence_over_https_matches_golden_and_render() {
    let (_tmp, data, server) = serving(&provision_csv("polycom"));

    // 1. The per-phone master, asked for first.
    let master = server.get_https(&format!("/{PAUL}.cfg"), Some(POLY_UA));
    assert_eq!(master.status, 200, "{}", server.log());
    assert!(master.content_type.starts_with("application/xml"));
    let (root, m) = polycom_attrs(&master.body);
    assert_eq!(root, "APPLICATION");
    assert_eq!(m["APP_FILE_PATH"], "sip.ld");
    assert_eq!(m["CONFIG_FILES"], format!("{PAUL}-phone.cfg"));
    assert_eq!(m, golden_attrs(&format!("{PAUL}.cfg")));

    // 2. The default master: the same for every phone, MAC as the macro.
    let default = server.get_https("/000000000000.cfg", Some(POLY_UA));
    assert_eq!(default.status, 200);
    let (root, d) = polycom_attrs(&default.body);
    assert_eq!(root, "APPLICATION");
    assert_eq!(d["CONFIG_FILES"], "[PHONE_MAC_ADDRESS]-phone.cfg");
    assert_eq!(
        server.get_https("/000000000000.cfg", None).body,
        default.body
    );
    assert_eq!(
        server.get_http("/000000000000.cfg", None).body,
        default.body
    );
    // Every CONFIG_FILES entry is a file this server serves.
    for cfg in [&m["CONFIG_FILES"], &d["CONFIG_FILES"]] {
        for entry in cfg.split(',').map(str::trim) {
            let file = entry.replace("[PHONE_MAC_ADDRESS]", PAUL);
            let r = server.get_https(&format!("/{file}"), Some(POLY_UA));
            assert_eq!(r.status, 200, "{file}");
        }
    }

    // 3. The per-phone config with the secrets.
    let main = server.get_https(&format!("/{PAUL}-phone.cfg"), Some(POLY_UA));
    assert_eq!(main.status, 200);
    let (root, p) = polycom_attrs(&main.body);
    assert_eq!(root, "polycomConfig");
    let expect = [
        ("reg.1.address", "2001"),
        ("reg.1.label", "2001"),
        ("reg.1.displayName", "Paul Weber"),
        ("reg.1.auth.userId", "2001"),
        ("reg.1.auth.password", PAUL_PW),
        ("reg.1.server.1.address", "pbx.example.com"),
        ("reg.1.server.1.port", "5061"),
        ("reg.1.server.1.transport", "TLS"),
        // No label in the CSV: the target user's display name, escaped.
        ("attendant.resourceList.1.address", "2002"),
        ("attendant.resourceList.1.label", "Ali \"x\" <b>&"),
        ("attendant.resourceList.1.type", "normal"),
        ("attendant.resourceList.2.address", "2003"),
        ("attendant.resourceList.2.label", "Empfang"),
        ("attendant.resourceList.2.type", "normal"),
        ("lcl.ml.lang", "German_Germany"),
        ("tcpIpApp.sntp.address", "pool.ntp.org"),
        ("tcpIpApp.sntp.gmtOffset", "3600"),
        ("tcpIpApp.sntp.daylightSavings.enable", "1"),
        ("tcpIpApp.sntp.daylightSavings.fixedDayEnable", "0"),
        ("tcpIpApp.sntp.daylightSavings.start.month", "3"),
        ("tcpIpApp.sntp.daylightSavings.start.dayOfWeek", "1"),
        (
            "tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth",
            "1",
        ),
        ("tcpIpApp.sntp.daylightSavings.start.time", "2"),
        ("tcpIpApp.sntp.daylightSavings.stop.month", "10"),
        ("tcpIpApp.sntp.daylightSavings.stop.dayOfWeek", "1"),
        (
            "tcpIpApp.sntp.daylightSavings.stop.dayOfWeek.lastInMonth",
            "1",
        ),
        ("tcpIpApp.sntp.daylightSavings.stop.time", "3"),
        ("prov.polling.enabled", "1"),
        ("prov.polling.period", "86400"),
    ];
    assert_settings(&p, &expect);
    // The only device.* settings over HTTPS: our certificate as custom CA 1.
    let mut p = p;
    mask_ca(
        &mut p,
        "device.sec.TLS.customCaCert1",
        &server.cert_fingerprint(),
        str::to_string,
    );
    assert_eq!(p["device.sec.TLS.customCaCert1.set"], "1");
    assert!(!p.keys().any(|k| k.starts_with("device.prov")), "{p:?}");
    mask_phone_passwords(&mut p, &data, PAUL);
    assert_eq!(p, golden_attrs(&format!("{PAUL}-phone.cfg")));
    // The master and the common files carry no secrets.
    for body in [&master.body, &default.body] {
        assert!(!String::from_utf8_lossy(body).contains("password"));
    }

    // 4. A display name full of XML specials round-trips through the parser.
    let ali = server.get_https(&format!("/{ALI}-phone.cfg"), Some(POLY_UA));
    let (_, a) = polycom_attrs(&ali.body);
    assert_eq!(a["reg.1.displayName"], "Ali \"x\" <b>&");
    assert_eq!(a["reg.1.server.1.transport"], "UDPOnly");
    assert_eq!(a["lcl.ml.lang"], "English_United_States");
    assert_eq!(a["tcpIpApp.sntp.gmtOffset"], "-18000");
    // US rules: second Sunday of March, first Sunday of November.
    assert_eq!(a["tcpIpApp.sntp.daylightSavings.start.date"], "8");
    assert_eq!(
        a["tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth"],
        "0"
    );
    assert_eq!(a["tcpIpApp.sntp.daylightSavings.stop.month"], "11");
    assert_eq!(a["tcpIpApp.sntp.daylightSavings.stop.date"], "1");
    assert!(!a.contains_key("attendant.resourceList.1.address"));

    let log = server.stop_ok();
    assert!(!log.contains(PAUL_PW), "password in the log:\n{log}");

    // render prints exactly what HTTPS sent.
    for args in [
        vec!["render", "00:04:f2:a1:b2:c3"],
        vec!["render", PAUL, "--user-agent", POLY_UA],
    ] {
        let out = autoprov(&data, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, main.body, "{args:?}");
    }
    let file = format!("{PAUL}.cfg");
    let out = autoprov(&data, &["render", PAUL, "--file", &file]);
    assert_eq!(out.stdout, master.body);

    // The fetch was recorded with the model and firmware of the User-Agent.
    let ph = phone(&data, PAUL);
    assert_eq!(ph["last_fetch"]["file"], format!("{PAUL}-phone.cfg"));
    assert_eq!(ph["last_fetch"]["user_agent"], POLY_UA);
    assert_eq!(ph["firmware"], "5.9.0.9373");
    assert!(!ph.to_string().contains(PAUL_PW));
}

#[test]
fn plain_http_gets_a_bootstrap_and_refusals_look_alike() {
    let (tmp, data, server) = serving(&provision_csv("polycom"));
    let https_port = port(&server.https).to_string();

    let full = server.get_https(&format!("/{PAUL}-phone.cfg"), Some(POLY_UA));
    let staged = server.get_http(&format!("/{PAUL}-phone.cfg"), Some(POLY_UA));
    assert_eq!(staged.status, 200);
    assert!(!staged.text().contains(PAUL_PW));
    let (_, s) = polycom_attrs(&staged.body);
    assert!(!s.keys().any(|k| k.contains("password")), "{s:?}");
    assert_eq!(s["device.set"], "1");
    assert_eq!(s["device.prov.serverType"], "HTTPS");
    assert_eq!(
        s["device.prov.serverName"],
        format!("https://127.0.0.1:{https_port}/")
    );
    // The boot server stays the stored one even where DHCP still offers
    // option 66/160 (Polycom's "Static"), so the phone does not fall back
    // to this password-less file.
    assert_eq!(s["device.dhcp.bootSrvUseOpt"], "Static");
    assert_eq!(s["device.dhcp.bootSrvUseOpt.set"], "1");
    // The 5-minute bootstrap interval, raised to Polycom's documented
    // minimum (more than 3600 s in rel mode): 61 minutes.
    assert_eq!(s["prov.polling.mode"], "rel");
    assert_eq!(s["prov.polling.period"], "3660");
    // Everything else is the same file; the full file leaves the boot
    // server setting alone.
    let (_, mut f) = polycom_attrs(&full.body);
    assert!(!f.keys().any(|k| k.starts_with("device.dhcp")), "{f:?}");
    assert_eq!(f["prov.polling.period"], "86400");
    f.remove("reg.1.auth.password");
    f.remove("prov.polling.period");
    // The phone's web passwords, like the SIP password, only over HTTPS.
    for k in [
        "device.auth.localAdminPassword",
        "device.auth.localAdminPassword.set",
        "device.auth.localUserPassword",
        "device.auth.localUserPassword.set",
    ] {
        assert!(f.remove(k).is_some(), "{k} over HTTPS");
    }
    let mut s2 = s.clone();
    s2.retain(|k, _| {
        !k.starts_with("device.prov") && !k.starts_with("device.dhcp") && k != "prov.polling.period"
    });
    assert_eq!(f, s2);
    // The bootstrap carries our certificate too (inline, no URL needed).
    let fp = server.cert_fingerprint();
    mask_ca(&mut s2, "device.sec.TLS.customCaCert1", &fp, str::to_string);
    // Files without secrets are the same on both listeners.
    assert_eq!(
        server.get_http(&format!("/{PAUL}.cfg"), Some(POLY_UA)).body,
        server
            .get_https(&format!("/{PAUL}.cfg"), Some(POLY_UA))
            .body
    );

    // Unknown MAC, upload-only names, unserved names, another vendor's
    // phone, traversal: all the same 404.
    let unknown = server.get_https("/0004f2000001-phone.cfg", Some(POLY_UA));
    assert_eq!(unknown.status, 404);
    for r in [
        server.get_http("/0004f2000001-phone.cfg", Some(POLY_UA)),
        server.get_https("/0004f2000001.cfg", Some(POLY_UA)),
        server.get_https(&format!("/{PAUL}-app.log"), Some(POLY_UA)),
        server.get_https(&format!("/{PAUL}-boot.log"), Some(POLY_UA)),
        server.get_https(&format!("/{PAUL}-web.cfg"), Some(POLY_UA)),
        server.get_https(&format!("/{PAUL}.boot"), Some(POLY_UA)),
        server.get_https("/805ec0777777-phone.cfg", Some(POLY_UA)),
        server.get_https(&format!("/..%2f{PAUL}-phone.cfg"), Some(POLY_UA)),
    ] {
        assert_eq!(r, unknown);
    }
    // The Yealink phone's <mac>.cfg is still its Yealink file.
    let y = server.get_https("/805ec0777777.cfg", None);
    assert!(y.text().starts_with("#!version:1.0.0.1"));
    server.stop();

    let cfg = tmp.path().join("closed.toml");
    std::fs::write(&cfg, "[policy]\nallow = [\"10.0.0.0/8\"]\n").unwrap();
    let closed = Server::start(&data, &["--config", cfg.to_str().unwrap()], &[]);
    for r in [
        closed.get_https(&format!("/{PAUL}-phone.cfg"), Some(POLY_UA)),
        closed.get_https(&format!("/{PAUL}.cfg"), Some(POLY_UA)),
        closed.get_https("/000000000000.cfg", Some(POLY_UA)),
    ] {
        assert_eq!(r, unknown);
    }
    // Uploads from a refused source are refused like any other bad PUT.
    let refused = put(&format!("{}/{PAUL}-app.log", closed.http), b"x", &[]);
    assert_eq!(refused.status, 405);
    closed.stop();
    assert!(!data.join("uploads").join(PAUL).exists());
}

#[test]
fn log_uploads_are_bounded_and_confined() {
    let (_tmp, data, server) = serving(&provision_csv("polycom"));
    let dir = data.join("uploads").join(PAUL);

    // A log of a known Polycom phone is stored under uploads/<mac>/.
    let log = b"0101000000|cfg  |4|00|Prov|Starting to update\n";
    let r = put(&format!("{}/{PAUL}-app.log", server.http), log, &[]);
    assert_eq!(r.status, 204, "{}", server.log());
    assert_eq!(
        std::fs::read(dir.join(format!("{PAUL}-app.log"))).unwrap(),
        log
    );
    let cacert = server.cert();
    let r = put(
        &format!("{}/{PAUL}-boot.log", server.https),
        b"boot",
        &["--cacert", cacert.to_str().unwrap()],
    );
    assert_eq!(r.status, 204);
    // A later upload replaces the earlier one.
    let r = put(&format!("{}/{PAUL}-app.log", server.http), b"second", &[]);
    assert_eq!(r.status, 204);
    assert_eq!(
        std::fs::read(dir.join(format!("{PAUL}-app.log"))).unwrap(),
        b"second"
    );

    // 1 MiB is the limit: one byte more is refused and nothing changes.
    let big = vec![b'x'; 1024 * 1024 + 1];
    let r = put(&format!("{}/{PAUL}-app.log", server.http), &big, &[]);
    assert_eq!(r.status, 413);
    assert_eq!(
        std::fs::read(dir.join(format!("{PAUL}-app.log"))).unwrap(),
        b"second"
    );
    let exact = vec![b'y'; 1024 * 1024];
    let r = put(&format!("{}/{PAUL}-boot.log", server.http), &exact, &[]);
    assert_eq!(r.status, 204);

    // Everything else gets the same 405: unknown MAC, config overrides,
    // another vendor's phone, traversal, made-up names.
    let refused = [
        "/0004f2000001-app.log".to_string(),
        format!("/{PAUL}-phone.cfg"),
        format!("/{PAUL}-web.cfg"),
        format!("/{PAUL}.cfg"),
        "/805ec0777777-app.log".to_string(),
        format!("/..%2f{PAUL}-app.log"),
        format!("/%2e%2e%2f%2e%2e%2f{PAUL}-app.log"),
        format!("/{PAUL}-app.log%2f..%2f..%2fx"),
        "/uploads".to_string(),
    ];
    let first = put(&format!("{}{}", server.http, refused[0]), b"x", &[]);
    assert_eq!(first.status, 405);
    for path in &refused[1..] {
        let r = put(&format!("{}{path}", server.http), b"x", &[]);
        assert_eq!(r, first, "{path}");
    }
    // POST is not an upload method.
    let post = curl(
        &format!("{}/{PAUL}-app.log", server.http),
        &["-X", "POST", "--data-binary", "x"],
    );
    assert_eq!(post.status, 405);

    // Only the two log files exist, only in the phone's directory.
    let mut names: Vec<String> = std::fs::read_dir(data.join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, vec![PAUL.to_string()]);
    names = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![format!("{PAUL}-app.log"), format!("{PAUL}-boot.log")]
    );

    // The server is still fine.
    assert_eq!(
        server
            .get_https(&format!("/{PAUL}-phone.cfg"), Some(POLY_UA))
            .status,
        200
    );
    let (status, log) = server.stop();
    assert!(status.success());
    assert!(!log.contains("panicked"), "{log}");
}
