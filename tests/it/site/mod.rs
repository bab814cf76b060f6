//! A whole zero-touch site, end to end, in two namespaces the test makes:
//! autoprov `serve` (DHCP full mode, HTTP, HTTPS) and Kamailio loading
//! autoprov's own `export --format kamailio-dbtext` on the server side;
//! on the phone side 60 simulated phones, 10 of each vendor, each doing a
//! DHCP exchange with its vendor's option 60 (scapy), reading the URL from
//! the option its firmware reads, fetching its files in its firmware's
//! order over plain HTTP, following the bootstrap to HTTPS with the device
//! credentials it carries (Digest), parsing every SIP line from its
//! vendor's format and REGISTERing each with sipp over the transport the
//! file names (TLS through socat): 401 then 200; a wrong password gets 401.
//!
//! `export` checks the registrar exports themselves (no namespaces).
//! The 1,000-phone run is scripts/bench-site.sh (`site_bench`, ignored).

mod export;
mod phones;
mod sip;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::support::cli::{command, run_ok};
use crate::support::netns::{Netns, hex, scapy_python, start_server};
use crate::support::tools::unavailable;
use phones::{MODELS, Phone, Provisioned, provision};
use sip::{Kamailio, register};

/// The site's size and shape: `per_vendor` phones of each vendor; with
/// `relays` > 0 they are spread over that many relayed subnets
/// (10.98.K.0/24, giaddr 10.98.K.1) besides the local one.
struct Shape {
    per_vendor: usize,
    relays: usize,
    workers: usize,
    /// `serve --tftp` too: the phones whose vendor DHCP then gives the TFTP
    /// form (Cisco) start over TFTP.
    tftp: bool,
}

/// Phases, seconds since the first DISCOVER.
#[derive(Default, Debug)]
struct Timing {
    dhcp: f64,
    files: f64,
    register: f64,
}

#[test]
fn site_phones_of_every_vendor_provision_and_register() {
    let shape = Shape {
        per_vendor: 10,
        relays: 0,
        workers: 6,
        tftp: false,
    };
    run_site(&shape, false);
}

/// The TFTP variant: `serve --tftp` on, so DHCP gives Cisco phones the TFTP
/// form (a bare 66 and 150, docs/dhcp.md "DHCP follows the transport") and
/// they fetch their first file (`8841.xml`) over TFTP, whose
/// `Profile_Rule_B` sends them to the plain-HTTP bootstrap and on to HTTPS; Polycom keeps the URL form (its factory protocol for a bare host
/// is FTP, not TFTP) and the others too. 5 phones per vendor.
#[test]
fn site_tftp_variant_cisco_starts_over_tftp() {
    let shape = Shape {
        per_vendor: 5,
        relays: 0,
        workers: 6,
        tftp: true,
    };
    run_site(&shape, false);
}

/// The bench (scripts/bench-site.sh): AUTOPROV_SITE_PHONES phones in all
/// (default 1,000) over AUTOPROV_SITE_RELAYS relayed subnets (default 4).
#[test]
#[ignore = "bench: scripts/bench-site.sh"]
fn site_bench() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let shape = Shape {
        per_vendor: env("AUTOPROV_SITE_PHONES", 1000).div_ceil(6),
        relays: env("AUTOPROV_SITE_RELAYS", 4),
        workers: env("AUTOPROV_SITE_WORKERS", 16),
        tftp: false,
    };
    run_site(&shape, true);
}

/// The MAC of phone `i` of model `v`.
fn mac(v: usize, i: usize) -> String {
    let o = MODELS[v].oui;
    format!(
        "{:02x}:{:02x}:{:02x}:5e:{:02x}:{:02x}",
        o[0],
        o[1],
        o[2],
        v * 16 + i / 256,
        i % 256
    )
}

/// The import: one user per phone, extension 1VII (V vendor, II index);
/// every fourth user has a second line; transports cycle UDP, TCP, TLS;
/// every other user's SIP password is left for autoprov to generate.
fn users_csv(shape: &Shape) -> String {
    let mut csv = String::from(
        "username,first_name,last_name,extension,sip_password,transport,mac,phone_model\n",
    );
    for (v, m) in MODELS.iter().enumerate() {
        for i in 0..shape.per_vendor {
            let ext = 10_000 + v * 2_000 + i * 2;
            let two = i % 4 == 3;
            let exts = if two {
                format!("{ext};{}", ext + 1)
            } else {
                ext.to_string()
            };
            let pw = match (i % 2, two) {
                (1, _) => String::new(),
                (_, true) => format!("Pw-{ext}-a;Pw-{}-b", ext + 1),
                _ => format!("Pw-{ext}-a"),
            };
            let transport = ["udp", "tcp", "tls"][i % 3];
            csv.push_str(&format!(
                "{}{i},{},Phone{i},{exts},{pw},{transport},{},{}\n",
                m.vendor,
                m.vendor,
                mac(v, i),
                m.phone_model
            ));
        }
    }
    csv
}

fn config(shape: &Shape) -> String {
    let mut c = String::from(
        "[dhcp]\nrouter = \"10.99.0.1\"\nlease_seconds = 3600\n\n\
         [provision]\nrequire_device_auth = true\n\n\
         [sites.default]\nsip_server = \"10.99.0.1\"\ntransport = \"udp\"\n",
    );
    for k in 0..shape.relays {
        c.push_str(&format!(
            "\n[[dhcp.relay]]\nnetwork = \"10.98.{k}.0/24\"\npool = \"10.98.{k}.10-10.98.{k}.250\"\nrouter = \"10.98.{k}.1\"\n"
        ));
    }
    c
}

/// The tools the site needs; `false` after saying why (a failure under CI).
fn tools_present() -> bool {
    for t in ["kamailio", "sipp", "socat", "curl"] {
        if !sip::have(t) {
            return unavailable::<()>(&format!("{t} is not installed")).is_some();
        }
    }
    Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so").exists()
        || unavailable::<()>("kamailio-tls-modules is not installed").is_some()
}

fn run_site(shape: &Shape, bench: bool) {
    if !tools_present() {
        return;
    }
    let Some(n) = Netns::up(None) else { return };
    let Some(python) = scapy_python() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let data = dir.join("data");
    let cfg = dir.join("autoprov.toml");
    std::fs::write(&cfg, config(shape)).expect("config");
    let csv = dir.join("users.csv");
    std::fs::write(&csv, users_csv(shape)).expect("csv");
    run_ok(
        command(&data)
            .arg("--config")
            .arg(&cfg)
            .arg("import")
            .arg(&csv),
        "import",
    );

    // The registrar loads autoprov's own export, version row included.
    let db = dir.join("kamdb");
    std::fs::create_dir(&db).expect("db dir");
    run_ok(
        command(&data)
            .arg("--config")
            .arg(&cfg)
            .args([
                "export",
                "--format",
                "kamailio-dbtext",
                "--include-secrets",
                "--output",
            ])
            .arg(&db),
        "export --format kamailio-dbtext",
    );
    let kamailio = Kamailio::start(&n, dir, &db);

    // Relayed subnets: the relay addresses and a route on each side.
    if shape.relays > 0 {
        n.phone_ip(&["addr", "add", "10.99.0.2/24", "dev", &n.phone_if]);
        let o = crate::support::netns::ip(&[
            "-n",
            &n.srv,
            "route",
            "add",
            "10.98.0.0/16",
            "dev",
            &n.srv_if,
        ])
        .expect("ip route");
        assert!(
            o.status.success(),
            "route: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for k in 0..shape.relays {
            n.phone_ip(&[
                "addr",
                "add",
                &format!("10.98.{k}.1/24"),
                "dev",
                &n.phone_if,
            ]);
        }
    }
    let cfg_s = cfg.to_str().expect("utf-8");
    let pool = "10.99.0.20-10.99.0.250";
    let mut extra = vec![
        "--config",
        cfg_s,
        "--dhcp-mode",
        "full",
        "--dhcp-pool",
        pool,
    ];
    if shape.tftp {
        extra.extend(["--tftp", "10.99.0.1:69"]);
    }
    let server = start_server(&n, &data, &extra);
    let serve_pid = server.0.id();
    let cpu_before = cpu_ticks(serve_pid);

    // 1. DHCP, every phone at once.
    let mut list = Vec::new();
    for (v, m) in MODELS.iter().enumerate() {
        for i in 0..shape.per_vendor {
            let giaddr = if shape.relays == 0 {
                "0.0.0.0".to_string()
            } else {
                match (v * shape.per_vendor + i) % (shape.relays + 1) {
                    0 => "0.0.0.0".to_string(),
                    k => format!("10.98.{}.1", k - 1),
                }
            };
            list.push(serde_json::json!({
                "mac": mac(v, i), "vclass_hex": hex(m.vclass),
                "giaddr": giaddr, "server": "10.99.0.1",
            }));
        }
    }
    let leases = dhcp_all(&n, &python, &serde_json::Value::Array(list));
    let t0 = leases["t_first"].as_f64().unwrap_or(0.0);
    let since_t0 = || unix_now() - t0;
    let mut timing = Timing {
        // scapy's own clock: its first DISCOVER to its last ACK.
        dhcp: leases["t_last"].as_f64().unwrap_or(0.0) - t0,
        ..Timing::default()
    };
    let mut all = Vec::new();
    let mut failures = Vec::new();
    for (v, m) in MODELS.iter().enumerate() {
        for i in 0..shape.per_vendor {
            let mac = mac(v, i);
            match &leases["phones"][&mac] {
                serde_json::Value::Null => {
                    failures.push(format!("{mac} ({}): no DHCP ACK", m.vendor))
                }
                lease => {
                    let ip = lease["ip"].as_str().unwrap_or_default().to_string();
                    let options = lease["options"]
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, h)| (k.clone(), unhex(h.as_str().unwrap_or(""))))
                                .collect()
                        })
                        .unwrap_or_default();
                    n.phone_ip(&["addr", "add", &format!("{ip}/24"), "dev", &n.phone_if]);
                    all.push(Phone {
                        model: m,
                        mac,
                        ip,
                        options,
                    });
                }
            }
        }
    }
    if shape.relays > 0 {
        n.phone_ip(&["route", "replace", "10.99.0.0/24", "dev", &n.phone_if]);
    }

    // 2. Files, every phone (in parallel), then 3. REGISTERs, so each
    // phase is timed on its own.
    let ca = data.join("certs/ca.pem");
    let files = in_parallel(shape.workers, &all, |phone| provision(&n, phone, &ca));
    timing.files = since_t0();
    let booted: Vec<(&Phone, Result<Provisioned, String>)> = all.iter().zip(files).collect();
    let results = in_parallel(shape.workers, &booted, |(phone, got)| {
        register_phone(&n, phone, got)
    });
    timing.register = since_t0();

    // The table, per vendor.
    let mut table: BTreeMap<&str, (usize, usize, usize, usize, usize)> = BTreeMap::new();
    for m in &MODELS {
        table.insert(m.vendor, (0, 0, 0, 0, 0));
    }
    for o in &results {
        let row = table.entry(o.vendor).or_default();
        row.0 += 1;
        row.1 += o.lines;
        row.2 += o.registered;
        row.3 += o.fetches;
        row.4 += o.tftp_fetches;
        // Over TFTP exactly when DHCP gave the vendor the TFTP form: with
        // --tftp, Cisco's first file (8841.xml, whose Profile_Rule_B sends
        // it on to the plain-HTTP bootstrap, then HTTPS).
        let want_tftp = shape.tftp && o.vendor == "cisco";
        if o.lines > 0 && (o.tftp_fetches > 0) != want_tftp {
            failures.push(format!(
                "{} phone: {} of {} fetches over TFTP (TFTP expected: {want_tftp})",
                o.vendor, o.tftp_fetches, o.fetches
            ));
        }
        failures.extend(o.errors.iter().cloned());
    }
    eprintln!(
        "\n| vendor | phones | lines | registered | files fetched | of which TFTP |\n|---|---|---|---|---|---|"
    );
    let (mut phones_n, mut lines_n, mut reg_n) = (0, 0, 0);
    for (v, (p, l, r, f, t)) in &table {
        eprintln!("| {v} | {p} | {l} | {r} | {f} | {t} |");
        phones_n += p;
        lines_n += l;
        reg_n += r;
    }
    eprintln!("| all | {phones_n} | {lines_n} | {reg_n} | | |");
    eprintln!(
        "site: {phones_n} phones, {lines_n} lines; from the first DISCOVER: last ACK {:.1} s, last file {:.1} s (files {:.1} s), last 200 OK {:.1} s (REGISTERs {:.1} s)",
        timing.dhcp,
        timing.files,
        timing.files - timing.dhcp,
        timing.register,
        timing.register - timing.files
    );
    if bench {
        let cpu = cpu_ticks(serve_pid).saturating_sub(cpu_before) as f64 / ticks_per_second();
        eprintln!(
            "autoprov serve: {cpu:.1} s CPU over the run, peak RSS {} kB",
            peak_rss_kb(serve_pid)
        );
    }
    // The wrong-password check: one line per vendor must be refused.
    let wrong: Vec<&Outcome> = results.iter().filter(|o| o.wrong_checked).collect();
    assert_eq!(
        wrong.len(),
        MODELS.len().min(results.len()),
        "wrong-password checks"
    );
    drop(server);
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}\nkamailio log tail:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        kamailio
            .log_text()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let expected_lines: usize = (0..shape.per_vendor)
        .map(|i| if i % 4 == 3 { 2 } else { 1 })
        .sum::<usize>()
        * MODELS.len();
    assert_eq!(phones_n, shape.per_vendor * MODELS.len());
    assert_eq!(lines_n, expected_lines, "every imported line in the files");
    assert_eq!(reg_n, lines_n, "every line registered");
    // Kamailio saw each over the transport its file named (TLS too, not
    // the socat bridge's TCP): its own log, a line per saved REGISTER.
    let log = kamailio.log_text();
    for t in ["udp", "tcp", "tls"] {
        let sent = results
            .iter()
            .flat_map(|o| &o.transports)
            .filter(|x| x.as_str() == t)
            .count();
        // Distinct users: a UDP retransmission under load is saved twice.
        let saved: std::collections::BTreeSet<&str> = log
            .lines()
            .filter_map(|l| l.strip_suffix(&format!(" saved via {t}")))
            .filter_map(|l| l.split("REGISTER ").nth(1))
            .collect();
        assert!(sent > 0, "no {t} line in the site");
        assert_eq!(saved.len(), sent, "users Kamailio saved over {t}");
    }
}

/// What one phone got to.
struct Outcome {
    vendor: &'static str,
    lines: usize,
    registered: usize,
    fetches: usize,
    tftp_fetches: usize,
    wrong_checked: bool,
    /// Transport of each line that registered.
    transports: Vec<String>,
    errors: Vec<String>,
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `f` over `items` on `workers` threads; results in the items' order.
fn in_parallel<T: Sync, R: Send>(
    workers: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = Mutex::new(0usize);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                loop {
                    let k = {
                        let mut g = next.lock().expect("lock");
                        *g += 1;
                        *g - 1
                    };
                    let Some(item) = items.get(k) else { break };
                    let r = f(item);
                    out.lock().expect("lock")[k] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .expect("lock")
        .into_iter()
        .map(|r| r.expect("every item done"))
        .collect()
}

/// Every line's REGISTER of a provisioned phone; the first phone of each
/// vendor (index 0) also tries its first line with a wrong password.
fn register_phone(n: &Netns, phone: &Phone, got: &Result<Provisioned, String>) -> Outcome {
    let mut o = Outcome {
        vendor: phone.model.vendor,
        lines: 0,
        registered: 0,
        fetches: 0,
        tftp_fetches: 0,
        wrong_checked: false,
        transports: Vec::new(),
        errors: Vec::new(),
    };
    let p = match got {
        Ok(p) => p,
        Err(e) => {
            o.errors
                .push(format!("{} ({}): {e}", phone.mac, phone.model.vendor));
            return o;
        }
    };
    o.lines = p.lines.len();
    o.fetches = p.fetches;
    o.tftp_fetches = p.tftp_fetches;
    for (j, line) in p.lines.iter().enumerate() {
        let port = 5060 + 4 * j as u16;
        match register(n, &phone.ip, port, line, false) {
            Ok(()) => {
                o.registered += 1;
                o.transports.push(line.transport.clone());
            }
            Err(e) => o
                .errors
                .push(format!("{} ({}): {e}", phone.mac, phone.model.vendor)),
        }
    }
    if let Some(line) = p.lines.first().filter(|_| is_first(phone)) {
        o.wrong_checked = true;
        if let Err(e) = register(n, &phone.ip, 5090, line, true) {
            o.errors.push(format!(
                "{} wrong password not refused with 401: {e}",
                phone.mac
            ));
        }
    }
    o
}

/// Index 0 of its vendor (`..:5e:V0:00`).
fn is_first(phone: &Phone) -> bool {
    phone.mac.ends_with(":00") && phone.mac.as_bytes().get(13) == Some(&b'0')
}

/// Runs tests/site/site_dhcp.py for `phones` in the phone namespace.
fn dhcp_all(n: &Netns, python: &Path, phones: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    let mut child = n
        .exec(&n.phone)
        .arg(python)
        .arg(script())
        .arg(&n.phone_if)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("scapy");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(phones.to_string().as_bytes())
        .expect("write phones");
    let out = child.wait_with_output().expect("scapy");
    assert!(
        out.status.success(),
        "site_dhcp.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("site_dhcp.py JSON")
}

fn script() -> PathBuf {
    crate::support::fixtures::repo("tests/site/site_dhcp.py")
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// utime + stime of `pid` and its threads, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 of stat; index 11 and 12 after the state field.
    get(11) + get(12)
}

fn ticks_per_second() -> f64 {
    100.0
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
