//! `serve --dhcp` in options-only mode against a real client, in two network
//! namespaces this test creates (docs/reference/test-peers.md §1–2): scapy impersonates
//! phones of each vendor and reads the options from the raw reply frame.
//!
//! Skips with a message where namespaces or scapy are unavailable, except
//! under CI=true, where that is a failure (.ci/run installs what it needs).

use std::path::Path;

use serde_json::Value;

use crate::support::netns::{Netns, hex, scapy, scapy_python, start_server};

const URL: &str = "http://10.99.0.1:8080/";

/// One impersonated phone; the reply's options by code, as hex.
fn phone(
    n: &Netns,
    python: &Path,
    mac: &str,
    kind: &str,
    class: &[u8],
    ciaddr: &str,
    wait: &str,
) -> Value {
    let class = hex(class);
    scapy(n, python, &[mac, kind, &class, ciaddr, wait], &[])
}

/// Asserts an ACK carrying exactly these provisioning options.
fn assert_ack(reply: &Value, expect: &[(&str, Vec<u8>)], dst: &str) {
    let r = &reply["reply"];
    assert_eq!(r["type"], 5, "a DHCPACK: {reply}");
    assert_eq!(r["dst"], dst, "{reply}");
    assert_eq!(r["yiaddr"], "0.0.0.0", "INFORM answers give no address");
    let opts = &r["options"];
    assert_eq!(opts["54"], hex(&[10, 99, 0, 1]), "server id: {reply}");
    assert!(opts.get("51").is_none(), "no lease time: {reply}");
    for code in ["66", "67", "150", "160", "43"] {
        let want = expect.iter().find(|(c, _)| *c == code).map(|(_, v)| hex(v));
        assert_eq!(
            opts.get(code).and_then(Value::as_str),
            want.as_deref(),
            "option {code}: {reply}"
        );
    }
}

#[test]
fn options_only_answers_informs_per_vendor_and_never_offers() {
    let Some(n) = Netns::up(Some("10.99.0.50")) else {
        return;
    };
    let Some(python) = scapy_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let _server = start_server(&n, &dir.path().join("data"), &[]);
    let url = URL.as_bytes().to_vec();
    let bcast = "255.255.255.255";

    // Locally administered MACs: no OUI, so only option 60 decides.
    let y = phone(
        &n,
        &python,
        "02:00:00:00:00:01",
        "inform",
        b"yealink",
        "0.0.0.0",
        "4",
    );
    assert_ack(&y, &[("66", url.clone())], bcast);

    // Polycom's binary RFC 3925 class: enterprise 13885, sub-options.
    let mut poly = vec![0, 0, 0x36, 0x3d];
    let mut body = vec![1, 7];
    body.extend_from_slice(b"Polycom");
    body.extend_from_slice(&[2, 11]);
    body.extend_from_slice(b"VVX-VVX_411");
    body.push(0xff);
    poly.push(body.len() as u8);
    poly.extend_from_slice(&body);
    let p = phone(
        &n,
        &python,
        "02:00:00:00:00:02",
        "inform",
        &poly,
        "0.0.0.0",
        "4",
    );
    assert_ack(&p, &[("66", url.clone()), ("160", url.clone())], bcast);

    let c = phone(
        &n,
        &python,
        "02:00:00:00:00:03",
        "inform",
        b"Cisco Systems, Inc. IP Phone CP-8841-3PCC\0",
        "0.0.0.0",
        "4",
    );
    // TFTP is off: the URL form, no option 150 (dhcp/tftp_form.rs has it on).
    assert_ack(&c, &[("66", url.clone()), ("160", url.clone())], bcast);

    let g = phone(
        &n,
        &python,
        "02:00:00:00:00:04",
        "inform",
        b"Grandstream GXP2170",
        "0.0.0.0",
        "4",
    );
    assert_ack(&g, &[("66", url.clone()), ("43", url.clone())], bcast);

    // No option 60: the Snom OUI decides; the client has an address, so
    // the answer is unicast to it (RFC 2131 §4.3.5).
    let s = phone(
        &n,
        &python,
        "00:04:13:aa:bb:cc",
        "inform",
        b"",
        "10.99.0.50",
        "4",
    );
    assert_ack(
        &s,
        &[("66", url.clone()), ("67", b"{phone_type}.htm".to_vec())],
        "10.99.0.50",
    );

    // Options-only never offers an address.
    let d = phone(
        &n,
        &python,
        "80:5e:c0:12:34:56",
        "discover",
        b"yealink",
        "0.0.0.0",
        "3",
    );
    assert!(d["reply"].is_null(), "DISCOVER got an answer: {d}");

    // /metrics counts them, read through the admin socket (its file
    // permissions are the authentication there).
    let sock = dir.path().join("data/admin.sock");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "--unix-socket"])
        .arg(&sock)
        .arg("http://localhost/metrics")
        .output()
        .expect("curl");
    let metrics = String::from_utf8_lossy(&out.stdout);
    assert!(
        metrics.contains("autoprov_dhcp_packets_total{result=\"answered\"} 5\n"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("autoprov_dhcp_packets_total{result=\"ignored\"} 0\n"),
        "{metrics}"
    );
}
