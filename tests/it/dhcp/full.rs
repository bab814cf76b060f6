//! `serve --dhcp-mode full` against real DHCP clients in two namespaces the
//! test creates (docs/reference/test-peers.md §2): busybox udhcpc, ISC dhclient, dhcpcd in
//! test mode, and scapy for what the others cannot send (a relay with
//! option 82, a renewal). Checks pool leases, a reservation from the
//! imported `phoneip`, release, renewal, the relay path, and that leases
//! survive a kill -9 of the server.
//!
//! Skips with a message where namespaces or a client are unavailable,
//! except under CI=true, where that is a failure (.ci/run installs them).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::cli::{autoprov, command, run_ok};
use crate::support::netns::{Netns, Serve, hex, scapy, scapy_python, start_server};
use crate::support::tools::{find_in, unavailable};

const URL: &str = "http://10.99.0.1:8080/";
/// The imported Yealink with a reservation, and its address.
const RESERVED_MAC: &str = "80:5e:c0:00:00:42";
const RESERVED_IP: &str = "10.99.0.42";

const USERS: &str = "\
username,first_name,extension,mac,phone_model,phoneip
anna,Anna,2001,80:5e:c0:00:00:42,yealink-t54w,10.99.0.42
";

const CONFIG: &str = r#"
[dhcp]
router = "10.99.0.1"
dns = ["10.99.0.1"]
lease_seconds = 600

[[dhcp.relay]]
network = "10.98.0.0/24"
pool = "10.98.0.10-10.98.0.20"
router = "10.98.0.1"
"#;

const POOL: &str = "10.99.0.100-10.99.0.110";

fn in_pool(ip: &str) -> bool {
    let Ok(ip) = ip.parse::<Ipv4Addr>() else {
        return false;
    };
    (Ipv4Addr::new(10, 99, 0, 100)..=Ipv4Addr::new(10, 99, 0, 110)).contains(&ip)
}

/// Which of the clients this machine has; `None` (after saying why) if one
/// is missing.
fn tool(name: &str) -> Option<PathBuf> {
    find_in(&["/usr/sbin", "/usr/bin", "/sbin", "/bin"], name)
        .or_else(|| unavailable(&format!("{name} is not installed")))
}

/// A hook script for a DHCP client that appends the client's variables to
/// `out` and never touches the interface or resolv.conf (the namespace
/// sees the host's /etc).
fn hook(dir: &Path, name: &str, out: &Path) -> PathBuf {
    let script = dir.join(name);
    let body = format!(
        "#!/bin/sh\n{{ echo \"== event $1 $reason\"; env | sort; }} >> '{}'\nexit 0\n",
        out.display()
    );
    std::fs::write(&script, body).expect("write hook");
    let _ = Command::new("chmod").arg("755").arg(&script).status();
    script
}

/// `KEY=value` lines of the last event in a hook's output file.
fn last_event(out: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let last = text.rsplit("== event").next().unwrap_or("");
    last.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

fn var<'a>(vars: &'a [(String, String)], key: &str) -> Option<&'a str> {
    vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run client")
}

fn prepare_data(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    let csv = dir.join("users.csv");
    std::fs::write(&csv, USERS).expect("csv");
    let config = dir.join("autoprov.toml");
    std::fs::write(&config, CONFIG).expect("config");
    import(&data, &config, &csv);
    (data, config)
}

/// `autoprov import` as an admin runs it (through the server when one runs).
fn import(data: &Path, config: &Path, csv: &Path) {
    run_ok(
        command(data)
            .arg("--config")
            .arg(config)
            .arg("import")
            .arg(csv),
        "import",
    );
}

fn serve(n: &Netns, data: &Path, config: &Path) -> Serve {
    let config = config.to_str().expect("utf-8 path");
    start_server(
        n,
        data,
        &[
            "--config",
            config,
            "--dhcp-mode",
            "full",
            "--dhcp-pool",
            POOL,
        ],
    )
}

/// busybox udhcpc as a Yealink: DISCOVER/OFFER/REQUEST/ACK, then quits.
fn udhcpc(n: &Netns, dir: &Path, mac: &str) -> Vec<(String, String)> {
    let out = dir.join(format!("udhcpc-{}.out", mac.replace(':', "")));
    let _ = std::fs::remove_file(&out);
    let script = hook(dir, "udhcpc-hook.sh", &out);
    n.set_phone_mac(mac);
    let o = run(n
        .exec(&n.phone)
        .args(["timeout", "30", "busybox", "udhcpc", "-f", "-q", "-n"])
        .args(["-t", "5", "-T", "2", "-i", &n.phone_if, "-s"])
        .arg(&script)
        .args(["-V", "yealink", "-O", "tftp", "-O", "160"]));
    assert!(
        o.status.success(),
        "udhcpc: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    last_event(&out)
}

#[test]
fn full_mode_leases_addresses_to_real_clients() {
    let Some(n) = Netns::up(None) else {
        return;
    };
    let (Some(_), Some(dhclient), Some(dhcpcd)) =
        (tool("busybox"), tool("dhclient"), tool("dhcpcd"))
    else {
        return;
    };
    let Some(python) = scapy_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (data, config) = prepare_data(dir);
    let server = serve(&n, &data, &config);

    // 1. udhcpc: a pool address, with the subnet's options and lease time.
    let v = udhcpc(&n, dir, "80:5e:c0:aa:00:01");
    let first = var(&v, "ip").expect("udhcpc got an address").to_string();
    assert!(in_pool(&first), "{first} not in {POOL}: {v:?}");
    assert_eq!(var(&v, "serverid"), Some("10.99.0.1"));
    assert_eq!(var(&v, "lease"), Some("600"));
    assert_eq!(var(&v, "router"), Some("10.99.0.1"));
    assert_eq!(var(&v, "dns"), Some("10.99.0.1"));
    assert_eq!(var(&v, "subnet"), Some("255.255.255.0"));

    // 2. dhclient as the imported phone: its reserved address and the
    // provisioning URL in option 66; then a release, and an INIT-REBOOT
    // that gets the same address back.
    n.set_phone_mac(RESERVED_MAC);
    let out = dir.join("dhclient.out");
    let script = hook(dir, "dhclient-hook.sh", &out);
    let conf = dir.join("dhclient.conf");
    std::fs::write(
        &conf,
        "option prov-url-160 code 160 = string;\n\
         send vendor-class-identifier \"yealink\";\n\
         request subnet-mask, routers, domain-name-servers, tftp-server-name, prov-url-160;\n",
    )
    .expect("dhclient.conf");
    let leases = dir.join("dhclient.leases");
    let pid = dir.join("dhclient.pid");
    let dhclient_cmd = |extra: &[&str]| {
        let mut c = n.exec(&n.phone);
        c.arg("timeout")
            .arg("30")
            .arg(&dhclient)
            .args(extra)
            .arg("-cf")
            .arg(&conf)
            .arg("-lf")
            .arg(&leases)
            .arg("-pf")
            .arg(&pid)
            .arg("-sf")
            .arg(&script)
            .arg(&n.phone_if);
        run(&mut c)
    };
    let o = dhclient_cmd(&["-1", "-v"]);
    assert!(o.status.success(), "dhclient: {o:?}");
    let v = last_event(&out);
    assert_eq!(var(&v, "reason"), Some("BOUND"), "{v:?}");
    assert_eq!(var(&v, "new_ip_address"), Some(RESERVED_IP));
    assert_eq!(var(&v, "new_tftp_server_name"), Some(URL));
    assert_eq!(var(&v, "new_dhcp_lease_time"), Some("600"));
    // -r: DHCPRELEASE, and the running dhclient stops.
    let o = dhclient_cmd(&["-r", "-v"]);
    assert!(o.status.success(), "dhclient -r: {o:?}");
    assert_eq!(var(&last_event(&out), "reason"), Some("RELEASE"));
    // Started again with its lease file, dhclient asks for its old address
    // first (INIT-REBOOT, no server id).
    let o = dhclient_cmd(&["-1", "-v"]);
    assert!(o.status.success(), "dhclient again: {o:?}");
    let v = last_event(&out);
    assert!(
        matches!(var(&v, "reason"), Some("REBOOT" | "BOUND")),
        "{v:?}"
    );
    assert_eq!(var(&v, "new_ip_address"), Some(RESERVED_IP));
    let _ = dhclient_cmd(&["-x"]);

    // 3. dhcpcd in test mode as a Polycom: the OFFER carries a pool
    // address and option 160.
    n.set_phone_mac("00:04:f2:aa:00:03");
    let conf = dir.join("dhcpcd.conf");
    std::fs::write(
        &conf,
        "define 160 string prov_url\n\
         vendorclassid Polycom-VVX411\n\
         option prov_url, subnet_mask, routers\n",
    )
    .expect("dhcpcd.conf");
    let out = dir.join("dhcpcd.out");
    let file = std::fs::File::create(&out).expect("dhcpcd.out");
    let mut child = n
        .exec(&n.phone)
        .arg(&dhcpcd)
        .arg("-f")
        .arg(&conf)
        .args(["-4", "-T", "-t", "10", "--noipv4ll"])
        .arg(&n.phone_if)
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .spawn()
        .expect("dhcpcd");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.contains("new_prov_url") && text.contains("new_ip_address") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // dhcpcd's privsep helpers ignore SIGTERM (docs/reference/test-peers.md): SIGKILL.
    let _ = child.kill();
    let _ = child.wait();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('\'').to_string())
    };
    let offered = field("new_ip_address").unwrap_or_else(|| panic!("dhcpcd: {text}"));
    assert!(in_pool(&offered), "{offered}: {text}");
    assert_eq!(field("new_prov_url").as_deref(), Some(URL), "{text}");

    // 4. scapy: a renewal (unicast-style REQUEST with ciaddr) of the
    // udhcpc client's address is ACKed with the address in ciaddr. The
    // client holds the address by then, so the server's ARP for it works.
    let with_prefix = format!("{first}/24");
    n.phone_ip(&["addr", "add", &with_prefix, "dev", &n.phone_if]);
    let v = scapy(
        &n,
        &python,
        &[
            "80:5e:c0:aa:00:01",
            "request",
            &hex(b"yealink"),
            &first,
            "4",
        ],
        &[],
    );
    let r = &v["reply"];
    assert_eq!(r["type"], 5, "renewal ACK: {v}");
    assert_eq!(r["yiaddr"], first.as_str());
    assert_eq!(r["dst"], first.as_str(), "unicast to the renewing client");
    n.phone_ip(&["addr", "del", &with_prefix, "dev", &n.phone_if]);
    // Somebody else's address is refused with a NAK.
    let v = scapy(
        &n,
        &python,
        &["02:00:00:00:00:99", "request", "", "0.0.0.0", "4"],
        &[("REQ_IP", &first), ("SERVER_ID", "10.99.0.1")],
    );
    assert_eq!(v["reply"]["type"], 6, "NAK: {v}");

    // 5. A relay on the phone side (giaddr 10.99.0.2) for the network
    // 10.98.0.0/24 behind it, named by option 82 link selection: the
    // offer comes from that network's pool, goes to the relay, and
    // carries option 82 back.
    n.phone_ip(&["addr", "add", "10.99.0.2/24", "dev", &n.phone_if]);
    let agent = [1u8, 4, b'p', b'o', b'r', b't', 5, 4, 10, 98, 0, 0];
    let v = scapy(
        &n,
        &python,
        &[
            "80:5e:c0:aa:00:05",
            "discover",
            &hex(b"yealink"),
            "0.0.0.0",
            "4",
        ],
        &[
            ("GIADDR", "10.99.0.2"),
            ("SERVER", "10.99.0.1"),
            ("AGENT_HEX", &hex(&agent)),
        ],
    );
    let r = &v["reply"];
    assert_eq!(r["type"], 2, "relayed OFFER: {v}");
    assert_eq!(r["dst"], "10.99.0.2");
    let relayed: Ipv4Addr = r["yiaddr"].as_str().unwrap_or("").parse().expect("yiaddr");
    assert!(
        (Ipv4Addr::new(10, 98, 0, 10)..=Ipv4Addr::new(10, 98, 0, 20)).contains(&relayed),
        "{v}"
    );
    assert_eq!(r["options"]["82"], hex(&agent));
    assert_eq!(r["options"]["3"], hex(&[10, 98, 0, 1]));
    n.phone_ip(&["addr", "del", "10.99.0.2/24", "dev", &n.phone_if]);

    // 6. kill -9 and restart: the stored leases come back. The udhcpc
    // client gets its address again, and a newcomer does not get it.
    drop(server);
    let _server = serve(&n, &data, &config);
    let again = udhcpc(&n, dir, "80:5e:c0:aa:00:01");
    assert_eq!(var(&again, "ip"), Some(first.as_str()));
    let other = udhcpc(&n, dir, "80:5e:c0:aa:00:02");
    let other_ip = var(&other, "ip").expect("address");
    assert!(in_pool(other_ip) && other_ip != first, "{other_ip}");

    // 7. An import while the server runs (the CLI goes through the running
    // server) gives a new phone a reservation; DHCP picks it up within its
    // reload interval, without a restart.
    let csv = dir.join("more.csv");
    std::fs::write(
        &csv,
        format!(
            "{}bert,Bert,2002,80:5e:c0:00:00:43,yealink-t54w,10.99.0.43\n",
            USERS
        ),
    )
    .expect("csv");
    import(&data, &config, &csv);
    std::thread::sleep(Duration::from_millis(1500));
    let bert = udhcpc(&n, dir, "80:5e:c0:00:00:43");
    assert_eq!(var(&bert, "ip"), Some("10.99.0.43"));
}

#[test]
fn full_mode_needs_a_pool_and_options_only_refuses_one() {
    let env = tempfile::tempdir().expect("tempdir");
    let data = env.path().join("data");
    let run = |args: &[&str]| autoprov(&data, &[&["serve"], args].concat());
    let o = run(&["--dhcp", "lo", "--dhcp-mode", "full"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--dhcp-pool"));
    let o = run(&["--dhcp", "lo", "--dhcp-pool", "127.0.0.10-127.0.0.20"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only --dhcp-mode full"));
    let o = run(&["--dhcp-mode", "full", "--dhcp-pool", "1.2.3.4-1.2.3.5"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--dhcp", "lo", "--dhcp-mode", "full", "--dhcp-pool", "x-y"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("START-END"));
}
