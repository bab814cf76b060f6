//! A real PostgreSQL server for tests, started once per test process, with
//! a fresh database per test.
//!
//! Shared by the library's tests (the store conformance suite) and the
//! integration tests (`tests/it/support/postgres.rs` includes this file by
//! path), so it uses only std and libc. PostgreSQL refuses to run as root,
//! and CI runs as root: the server runs as the `postgres` user through
//! `runuser`, in a temporary directory that user owns, on a Unix socket in
//! that directory and a free 127.0.0.1 port. A watchdog stops it and
//! removes the directory when the test process is gone. Where it cannot
//! start the tests skip with the reason, except under `CI=true`, where a
//! missing PostgreSQL is a failure.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server of this test process.
pub struct TestServer {
    /// Holds `data/`, the socket and the log.
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    /// Root runs the server's tools as `postgres`.
    as_postgres: bool,
}

static SERVER: OnceLock<Result<TestServer, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The URL of a new, empty database on this process's server; `None`,
/// after printing why, where PostgreSQL cannot start (never under CI).
pub fn fresh_database() -> Option<String> {
    server().map(|s| {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        s.psql("postgres", &format!("CREATE DATABASE {name}"));
        s.url(&name)
    })
}

/// This process's server, started on first use.
pub fn server() -> Option<&'static TestServer> {
    match SERVER.get_or_init(TestServer::start) {
        Ok(s) => Some(s),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("PostgreSQL is required under CI=true but did not start: {why}")
        }
        Err(why) => {
            eprintln!("skipped: PostgreSQL cannot start here ({why})");
            None
        }
    }
}

impl TestServer {
    /// `postgres://postgres@127.0.0.1:PORT/DB` (trust authentication).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` in database `db` with psql over the Unix socket; its
    /// output (unaligned, tuples only). Panics when psql fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "postgres",
            ])
            .arg("-h")
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn start() -> Result<TestServer, String> {
        let bin =
            bin_dir().ok_or("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = std::env::temp_dir().join(format!(
            "autoprov-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let server = TestServer {
            port: free_port()?,
            dir,
            bin,
            as_postgres,
        };
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(&server.dir))?;
        }
        server.initdb()?;
        server.pg_ctl_start()?;
        server.watchdog()?;
        Ok(server)
    }

    /// `cmd` of PostgreSQL's, as the user that may run it.
    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn initdb(&self) -> Result<(), String> {
        run(self
            .tool("initdb")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]))
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-k {} -p {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            self.dir.display(),
            self.port
        );
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "start"]))
        .map_err(|e| format!("{e}; log: {}", self.log_tail()))
    }

    /// Stops the server and removes its directory once this process ends.
    fn watchdog(&self) -> Result<(), String> {
        let stop = format!(
            "{} -D {} stop -m immediate",
            self.bin.join("pg_ctl").display(),
            self.dir.join("data").display()
        );
        let stop = if self.as_postgres {
            format!("runuser -u postgres -- {stop}")
        } else {
            stop
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = self.dir.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| format!("cannot start the watchdog: {e}"))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }
}

/// The newest installed PostgreSQL's `bin` directory.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Runs `cmd` quietly; its stderr when it fails.
fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
