//! "DHCP follows the transport" (docs/dhcp.md): with `serve --tftp` on,
//! a Cisco phone's DHCPINFORM gets the TFTP form (option 150 with the TFTP
//! listener's address, a bare address in 66, no URL in 160) while the
//! other vendors keep the URL form; then the phone fetches its common file
//! over TFTP from that address with atftp. dhcp/options_only.rs has the
//! same Cisco INFORM with TFTP off (the URL form, no 150).
//!
//! Namespaces and scapy as in dhcp/options_only.rs; skips without them
//! except under CI=true.

use serde_json::Value;

use crate::support::cli::import;
use crate::support::fixtures::users_csv;
use crate::support::netns::{Netns, hex, scapy, scapy_python, start_server};

/// The options of the reply, by code, as hex.
fn options(reply: &Value) -> &Value {
    assert_eq!(reply["reply"]["type"], 5, "a DHCPACK: {reply}");
    &reply["reply"]["options"]
}

#[test]
fn cisco_gets_option_150_and_a_bare_66_while_tftp_is_on() {
    let Some(n) = Netns::up(Some("10.99.0.50")) else {
        return;
    };
    let Some(python) = scapy_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    import(&data, &users_csv());
    let _server = start_server(&n, &data, &["--tftp", "0.0.0.0:69"]);

    let class = hex(b"Cisco Systems, Inc. IP Phone CP-8841-3PCC\0");
    let c = scapy(
        &n,
        &python,
        &["02:00:00:00:00:03", "inform", &class, "0.0.0.0", "4"],
        &[],
    );
    let o = options(&c);
    assert_eq!(o["150"], hex(&[10, 99, 0, 1]), "150: the TFTP address: {c}");
    assert_eq!(o["66"], hex(b"10.99.0.1"), "66: a bare address (TFTP): {c}");
    assert!(
        o.get("160").is_none(),
        "no URL in 160 for MPP to prefer: {c}"
    );

    // Vendors without a TFTP form keep the URL.
    let y = scapy(
        &n,
        &python,
        &[
            "02:00:00:00:00:01",
            "inform",
            &hex(b"yealink"),
            "0.0.0.0",
            "4",
        ],
        &[],
    );
    assert_eq!(options(&y)["66"], hex(b"http://10.99.0.1:8080/"), "{y}");
    assert!(options(&y).get("150").is_none(), "{y}");

    // The address in 150 serves TFTP on port 69: Carol's SPA504G common file.
    let out = dir.path().join("spa504G.cfg");
    let o = n
        .exec(&n.phone)
        .args([
            "atftp",
            "--option",
            "blksize 1428",
            "--get",
            "-r",
            "spa504G.cfg",
            "-l",
        ])
        .arg(&out)
        .args(["10.99.0.1", "69"])
        .output()
        .expect("atftp");
    assert!(
        o.status.success(),
        "atftp: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let body = std::fs::read_to_string(&out).expect("read");
    assert!(body.contains("<flat-profile"), "{body}");
}
