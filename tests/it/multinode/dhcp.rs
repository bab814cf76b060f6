//! Two full-mode DHCP servers on one PostgreSQL lease table, in a server
//! namespace on two interfaces, both reached through one relay agent in
//! the phone namespace (tests/dhcp/relay_clients.py: 2,000 phones, every
//! packet relayed to both servers, each phone taking one server's offer).
//! No address is ACKed or stored for two MACs, and every reservation is
//! honoured whichever server answered.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::cli::{command, command_in, run_ok};
use crate::support::fixtures::repo;
use crate::support::netns::{Netns, Serve, ip};
use crate::support::postgres::{self, fresh_database};
use crate::support::tools::{find_in, unavailable};

const CLIENTS: u16 = 2_000;
/// Clients 0..RESERVED are imported phones with an address of their own.
const RESERVED: u16 = 10;
const GIADDR: &str = "10.98.0.1";

const CONFIG: &str = r#"
[dhcp]
lease_seconds = 600

[[dhcp.relay]]
network = "10.98.0.0/20"
pool = "10.98.0.10-10.98.15.200"
router = "10.98.0.1"

# A pool just as large as its phones: the servers must race for it.
[[dhcp.relay]]
network = "10.96.0.0/24"
pool = "10.96.0.10-10.96.0.59"
router = "10.96.0.1"
"#;
/// The relay of the small pool, and its phones.
const SMALL_GIADDR: &str = "10.96.0.1";
const SMALL: u16 = 50;

fn reserved_ip(k: u16) -> Ipv4Addr {
    Ipv4Addr::new(10, 98, 15, 220 + k as u8)
}

/// The imported phones: clients 0..RESERVED, each with its `phoneip`.
fn users() -> String {
    let mut s = String::from("username,first_name,extension,mac,phone_model,phoneip\n");
    for k in 0..RESERVED {
        s.push_str(&format!(
            "phone{k},Phone{k},{},80:5e:c0:01:{:02x}:{:02x},yealink-t54w,{}\n",
            3000 + k,
            k >> 8,
            k & 0xff,
            reserved_ip(k)
        ));
    }
    s
}

/// `autoprov serve --dhcp IFACE --dhcp-mode full` in the server namespace
/// on the shared database, its HTTP ports `http`/`https`.
fn serve(
    n: &Netns,
    data: &Path,
    url: &str,
    config: &Path,
    iface: &str,
    pool: &str,
    ports: (u16, u16),
) -> Serve {
    let mut child = command_in(n.exec(&n.srv), data)
        .args(["--store", url, "--config"])
        .arg(config)
        .args(["serve", "--admin", "127.0.0.1:0"])
        .args(["--http", &format!("0.0.0.0:{}", ports.0)])
        .args(["--https", &format!("0.0.0.0:{}", ports.1)])
        .args(["--dhcp", iface, "--dhcp-mode", "full", "--dhcp-pool", pool])
        .env("RUST_LOG", "autoprov=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn autoprov serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[serve {iface_tag}] {line}", iface_tag = ports.0);
            let _ = tx.send(line);
        }
    });
    let server = Serve(child);
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if l.contains("DHCP listening on") => return server,
            Ok(_) => {}
            Err(_) => panic!("autoprov serve --dhcp did not start"),
        }
    }
}

fn must(args: &[&str]) {
    let o = ip(args).expect("run ip");
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn two_dhcp_servers_on_one_database_never_lease_an_address_twice() {
    let Some(pg) = postgres::server() else { return };
    let Some(url) = fresh_database() else { return };
    let Some(n) = Netns::up(Some("10.99.0.2")) else {
        return;
    };
    // The database's Unix socket is a file, so the server namespace reaches
    // it where 127.0.0.1 is its own loopback; socat there turns it back
    // into TCP (the engine's TLS connector wants a host name, so a
    // socket-directory URL does not connect).
    let Some(socat) = find_in(&["/usr/bin", "/bin"], "socat").or_else(|| unavailable("no socat"))
    else {
        return;
    };
    let db = postgres::db_name(&url);
    let socket = pg.dir.join(format!(".s.PGSQL.{}", pg.port));
    let mut bridge = n.exec(&n.srv);
    bridge
        .arg(&socat)
        .arg("TCP-LISTEN:5432,bind=127.0.0.1,fork,reuseaddr")
        .arg(format!("UNIX-CONNECT:{}", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Killed with the namespace's processes when `n` drops.
    let _bridge = Serve(bridge.spawn().expect("spawn socat"));
    let socket_url = format!("postgres://postgres@127.0.0.1:5432/{db}");

    // A second link between the namespaces for the second server.
    let (b_srv, b_phone) = (format!("{}b", n.srv_if), format!("{}b", n.phone_if));
    must(&[
        "link", "add", &b_srv, "netns", &n.srv, "type", "veth", "peer", "name", &b_phone, "netns",
        &n.phone,
    ]);
    must(&["-n", &n.srv, "addr", "add", "10.97.0.1/24", "dev", &b_srv]);
    must(&[
        "-n",
        &n.phone,
        "addr",
        "add",
        "10.97.0.2/24",
        "dev",
        &b_phone,
    ]);
    must(&["-n", &n.srv, "link", "set", &b_srv, "up"]);
    must(&["-n", &n.phone, "link", "set", &b_phone, "up"]);
    // The relay's address, and each server's way back to it over its own link.
    for relay in [GIADDR, SMALL_GIADDR] {
        must(&[
            "-n",
            &n.phone,
            "addr",
            "add",
            &format!("{relay}/32"),
            "dev",
            "lo",
        ]);
    }
    must(&[
        "-n",
        &n.srv,
        "route",
        "add",
        "10.96.0.0/24",
        "via",
        "10.99.0.2",
        "dev",
        &n.srv_if,
    ]);
    must(&[
        "-n",
        &n.srv,
        "route",
        "add",
        "10.96.0.0/24",
        "via",
        "10.97.0.2",
        "dev",
        &b_srv,
        "metric",
        "10",
    ]);
    must(&[
        "-n",
        &n.srv,
        "route",
        "add",
        "10.98.0.0/20",
        "via",
        "10.99.0.2",
        "dev",
        &n.srv_if,
    ]);
    must(&[
        "-n",
        &n.srv,
        "route",
        "add",
        "10.98.0.0/20",
        "via",
        "10.97.0.2",
        "dev",
        &b_srv,
        "metric",
        "10",
    ]);
    for ns in [&n.srv, &n.phone] {
        let _ = n
            .exec(ns)
            .args([
                "sysctl",
                "-qw",
                "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0",
            ])
            .status();
    }

    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("autoprov.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let csv = tmp.path().join("users.csv");
    std::fs::write(&csv, users()).expect("csv");
    run_ok(
        command(&tmp.path().join("importer"))
            .args(["--store", &url])
            .arg("--config")
            .arg(&config)
            .arg("import")
            .arg(&csv),
        "import",
    );
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let _sa = serve(
        &n,
        &a,
        &socket_url,
        &config,
        &n.srv_if,
        "10.99.0.100-10.99.0.110",
        (8080, 8443),
    );
    let _sb = serve(
        &n,
        &b,
        &socket_url,
        &config,
        &b_srv,
        "10.97.0.100-10.97.0.110",
        (8081, 8444),
    );

    // Half the phones through a relay to both servers (the deployment of
    // docs/multi-node.md), half through relays to one server each, where
    // only the database's conditional claim keeps the servers apart.
    let half = CLIENTS / 2;
    let mut acks: BTreeMap<u16, (String, String)> = BTreeMap::new();
    // Then 50 more, through relays to one server each, for a pool of 50.
    let mut small_naks = 0;
    for (relay, first, count, split) in [
        (GIADDR, 0, half, "0"),
        (GIADDR, half, half, "1"),
        (SMALL_GIADDR, CLIENTS, SMALL, "1"),
    ] {
        let out = n
            .exec(&n.phone)
            .arg("python3")
            .arg(repo("tests/dhcp/relay_clients.py"))
            .args([relay, &count.to_string(), "10.99.0.1", "10.97.0.1"])
            .env("FIRST", first.to_string())
            .env("SPLIT", split)
            .output()
            .expect("run the relay");
        assert!(
            out.status.success(),
            "relay: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("relay JSON");
        eprintln!(
            "relay {relay} (split {split}): naks {} rounds {}",
            v["naks"], v["rounds"]
        );
        if relay == SMALL_GIADDR {
            small_naks = v["naks"].as_u64().unwrap_or(0);
        }
        acks.extend(v["acks"].as_object().expect("acks").iter().map(|(k, a)| {
            (
                k.parse().expect("client"),
                (
                    a[0].as_str().unwrap_or("").to_string(),
                    a[1].as_str().unwrap_or("").to_string(),
                ),
            )
        }));
    }
    assert_eq!(
        acks.len(),
        usize::from(CLIENTS + SMALL),
        "every phone got an address"
    );
    assert!(small_naks > 0, "the servers never raced for the small pool");
    let ips: HashSet<&str> = acks.values().map(|(ip, _)| ip.as_str()).collect();
    assert_eq!(ips.len(), acks.len(), "an address ACKed to two phones");
    for server in ["10.99.0.1", "10.97.0.1"] {
        let by = acks.values().filter(|(_, s)| s == server).count();
        assert!(by >= usize::from(CLIENTS) / 3, "{server} bound only {by}");
    }
    for k in 0..RESERVED {
        assert_eq!(
            acks[&k].0,
            reserved_ip(k).to_string(),
            "reservation of phone {k}"
        );
    }

    // The database agrees: one bound MAC per address, the one ACKed.
    let rows = pg.psql(
        db,
        "SELECT ip, encode(mac, 'hex') FROM autoprov_leases WHERE state = 'bound' ORDER BY ip",
    );
    let stored: BTreeMap<String, String> = rows
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(ip, mac)| {
            let ip: u32 = ip.parse().expect("ip");
            (Ipv4Addr::from(ip).to_string(), mac.to_string())
        })
        .collect();
    for (k, (ip, _)) in &acks {
        let mac = format!("805ec001{:02x}{:02x}", k >> 8, k & 0xff);
        assert_eq!(stored.get(ip), Some(&mac), "{ip}: stored for another MAC");
    }
}
