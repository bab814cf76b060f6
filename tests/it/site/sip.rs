//! The registrar side of the site test: Kamailio 5.6 in the server
//! namespace, loading autoprov's own `export --format kamailio-dbtext`,
//! and the phone side's `sipp` REGISTERs (TLS bridged through `socat`,
//! Debian's sipp having no TLS). Recipe and traps: test-peers.md §7.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fixtures::repo;
use crate::support::netns::Netns;
use crate::support::tls::openssl;

/// The registrar's address (the server namespace's side of the veth).
pub const REGISTRAR: &str = "10.99.0.1";

/// A kamailio.cfg for a bare registrar: REGISTER only, Digest against the
/// db_text `subscriber` table (auth_db reads its `ha1` column, the default
/// `calculate_ha1` 0), contacts in memory (usrloc `db_mode` 0); UDP and
/// TCP on 5060, TLS on 5061. Module list: test-peers.md §7.
fn config(db: &Path, tls_cfg: &Path) -> String {
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=4
tcp_children=4
auto_aliases=no
listen=udp:{REGISTRAR}:5060
listen=tcp:{REGISTRAR}:5060
listen=tls:{REGISTRAR}:5061
enable_tls=yes
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "tls.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "db_text.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("tls", "config", "{tls}")
modparam("usrloc", "db_mode", 0)
modparam("auth_db", "db_url", "text://{db}")
modparam("auth_db", "load_credentials", "")
request_route {{
    if (!is_method("REGISTER")) {{ sl_send_reply("405", "Method Not Allowed"); exit; }}
    if (!www_authorize("$td", "subscriber")) {{
        www_challenge("$td", "0");
        exit;
    }}
    if (!save("location")) {{ sl_reply_error(); exit; }}
    xlog("L_INFO", "REGISTER $tu saved via $pr\n");
    exit;
}}
"#,
        tls = tls_cfg.display(),
        db = db.display(),
    )
}

/// Kamailio in the server namespace; killed (by pid) on drop.
pub struct Kamailio {
    child: Child,
    pub log: PathBuf,
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Kamailio {
    /// Starts Kamailio on the db_text directory `db` (autoprov's export)
    /// with a fresh self-signed TLS certificate, and waits for its ports.
    pub fn start(n: &Netns, dir: &Path, db: &Path) -> Kamailio {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "kam.key",
                "-out",
                "kam.pem",
                "-days",
                "30",
                "-subj",
                "/CN=10.99.0.1",
            ],
        );
        let tls_cfg = dir.join("kam-tls.cfg");
        std::fs::write(
            &tls_cfg,
            format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = {}\ncertificate = {}\n",
                dir.join("kam.key").display(),
                dir.join("kam.pem").display()
            ),
        )
        .expect("tls cfg");
        let cfg = dir.join("kam.cfg");
        std::fs::write(&cfg, config(db, &tls_cfg)).expect("kam.cfg");
        let log = dir.join("kam.log");
        let file = std::fs::File::create(&log).expect("kam.log");
        let child = n
            .exec(&n.srv)
            .arg("kamailio")
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-P"])
            .arg(dir.join("kam.pid"))
            // "Listening on" goes to stdout, the log lines to stderr.
            .stdout(file.try_clone().expect("kam.log"))
            .stderr(file)
            .spawn()
            .expect("spawn kamailio");
        let k = Kamailio { child, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !k.listening() {
            assert!(
                Instant::now() < deadline,
                "kamailio did not start:\n{}",
                k.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        k
    }

    fn listening(&self) -> bool {
        // Printed once every socket is bound (-P is not written with -DD).
        let log = self.log_text();
        log.contains("Listening on") && log.contains("tls: ")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// What a phone file says about one SIP line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipLine {
    pub user: String,
    pub auth: String,
    pub password: String,
    pub host: String,
    pub port: u16,
    /// `udp`, `tcp` or `tls`.
    pub transport: String,
}

/// Registers `line` from the phone address `addr` (local SIP port
/// `port`) with sipp: 401 then 200, or with `wrong_password` 401 twice.
/// TLS goes through a one-shot socat on `addr:port+1`. Ok, or why not.
pub fn register(
    n: &Netns,
    addr: &str,
    port: u16,
    line: &SipLine,
    wrong_password: bool,
) -> Result<(), String> {
    let scenario = if wrong_password {
        "tests/site/register_wrong.xml"
    } else {
        "tests/site/register.xml"
    };
    let password = if wrong_password {
        format!("{}-wrong", line.password)
    } else {
        line.password.clone()
    };
    let mut bridge = None;
    let (dest, t, via) = match line.transport.as_str() {
        "udp" => (format!("{}:{}", line.host, line.port), "u1", "UDP"),
        "tcp" => (format!("{}:{}", line.host, line.port), "t1", "TCP"),
        "tls" => {
            let local = port + 1;
            let child = n
                .exec(&n.phone)
                .arg("socat")
                .arg(format!("TCP-LISTEN:{local},bind={addr},reuseaddr"))
                .arg(format!("OPENSSL:{}:{},verify=0", line.host, line.port))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("socat: {e}"))?;
            bridge = Some(Bridge(child));
            wait_listening(n, addr, local);
            (format!("{addr}:{local}"), "t1", "TLS")
        }
        other => return Err(format!("unknown transport {other}")),
    };
    let out = n
        .exec(&n.phone)
        .arg("sipp")
        .arg("-sf")
        .arg(repo(scenario))
        .args(["-au", &line.auth, "-ap", &password, "-s", &line.user])
        .args(["-key", "domain", &line.host, "-key", "via", via])
        .args(["-t", t, "-m", "1", "-i", addr, "-p", &port.to_string()])
        .args(["-nostdin", "-timeout", "15s", "-timeout_error"])
        .args(["-trace_err", "-error_file"])
        .arg(std::env::temp_dir().join(format!("sipp-{addr}-{port}.err")))
        .arg(&dest)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("sipp: {e}"))?;
    drop(bridge);
    let err_file = std::env::temp_dir().join(format!("sipp-{addr}-{port}.err"));
    let detail = std::fs::read_to_string(&err_file).unwrap_or_default();
    let _ = std::fs::remove_file(&err_file);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "sipp {} {}@{} over {} exit {:?}: {}{}",
            if wrong_password {
                "(wrong password)"
            } else {
                ""
            },
            line.user,
            dest,
            line.transport,
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim(),
            detail.lines().take(12).collect::<Vec<_>>().join("\n")
        ))
    }
}

/// socat, killed when the REGISTER is done.
struct Bridge(Child);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to 3 s) until something listens on `addr:port` in the phone
/// namespace.
fn wait_listening(n: &Netns, addr: &str, port: u16) {
    let want = format!("{addr}:{port}");
    for _ in 0..60 {
        let out = n
            .exec(&n.phone)
            .args(["ss", "-Hltn"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if out.contains(&want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Is `tool` on this machine? (sipp, socat, kamailio.)
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
