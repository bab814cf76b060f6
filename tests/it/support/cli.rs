//! The binary under test, run the way an admin would: one command builder
//! for every run, temporary data directories, imports and store queries.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The `autoprov` binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_autoprov");

/// `autoprov --data DATA`, ready for more arguments: `AUTOPROV_CONFIG` of
/// whoever runs the tests is removed (a test names its config with
/// `--config`), stdin is empty.
pub fn command(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    with_data(&mut c, data);
    c
}

/// The same run wrapped in another program (`ip netns exec NS`): `outer`
/// with `autoprov --data DATA` appended.
pub fn command_in(mut outer: Command, data: &Path) -> Command {
    outer.arg(BIN);
    with_data(&mut outer, data);
    outer
}

fn with_data(c: &mut Command, data: &Path) {
    c.arg("--data")
        .arg(data)
        .env_remove("AUTOPROV_CONFIG")
        .stdin(Stdio::null());
}

/// Runs a one-shot `autoprov` command against `data`.
pub fn autoprov(data: &Path, args: &[&str]) -> Output {
    command(data).args(args).output().expect("run autoprov")
}

/// Runs a command to completion, insisting it starts and succeeds.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Imports a CSV and insists it was applied.
pub fn import(data: &Path, csv: &Path) {
    let out = autoprov(data, &["import", csv.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "import failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh temporary directory with `csv` imported into its `data`
/// directory: (the directory, removed on drop; the data directory).
pub fn imported(csv: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    import(&data, csv);
    (tmp, data)
}

/// `autoprov phones --format json`, as JSON.
pub fn phones_json(data: &Path) -> Value {
    let out = autoprov(data, &["phones", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("phones JSON")
}

/// The phone with this MAC in `phones --format json`.
pub fn phone(data: &Path, mac: &str) -> Value {
    phones_json(data)
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["mac"] == mac)
        .cloned()
        .unwrap_or_else(|| panic!("no phone {mac}"))
}

/// `autoprov admin token create --name NAME`: the printed token.
pub fn create_token(data: &Path, name: &str) -> String {
    let out = autoprov(data, &["admin", "token", "create", "--name", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

/// A fresh data directory and a scratch folder for input files.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// The result of one CLI run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes `bytes` to a file in the scratch folder and returns its path.
    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).expect("write input");
        p
    }

    pub fn run(&self, args: &[&str]) -> Run {
        autoprov(&self.data(), args).into()
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = command(&self.data())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn autoprov");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        child.wait_with_output().expect("wait").into()
    }

    /// `import FILE --format json --no-progress` plus extra args.
    pub fn import(&self, path: &Path, extra: &[&str]) -> Run {
        let p = path.to_string_lossy().into_owned();
        let mut args = vec!["import", p.as_str(), "--format", "json", "--no-progress"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Imports CSV text given inline.
    pub fn import_csv(&self, csv: &str, extra: &[&str]) -> Run {
        let p = self.file("input.csv", csv);
        self.import(&p, extra)
    }

    pub fn users_json(&self) -> Vec<Value> {
        let r = self.run(&["users", "--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        match r.json() {
            Value::Array(a) => a,
            other => panic!("users --format json is not an array: {other}"),
        }
    }

    pub fn user(&self, name: &str) -> Option<Value> {
        self.users_json()
            .into_iter()
            .find(|u| u["username"] == name)
    }

    pub fn export(&self, extra: &[&str]) -> String {
        let mut args = vec!["export"];
        args.extend_from_slice(extra);
        let r = self.run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    }
}

/// Every file below `dir` with a SHA-256 of its bytes, for "nothing was
/// written" checks. sled's `snap.*` files are left out: sled rewrites that
/// recovery index whenever a process closes the database, even one that only
/// read; it holds no data, and every data-bearing file is compared.
pub fn tree_bytes(dir: &Path) -> Vec<(PathBuf, String)> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("snap."))
            {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push((p.clone(), hex::encode(Sha256::digest(&bytes))));
            }
        }
    }
    out.sort();
    out
}

/// The time between an import's "applying import" and "import applied"
/// log lines, read from `child` (an `autoprov import` with info logs on a
/// piped stderr): where a kill must land to test the apply's atomicity.
pub fn apply_window(mut child: std::process::Child) -> std::time::Duration {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().expect("stderr");
    let mut start = None;
    let mut window = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap_or_default();
        if line.contains("applying import") {
            start = Some(std::time::Instant::now());
        } else if line.contains("import applied") {
            window = start.map(|s| s.elapsed());
        }
    }
    assert!(child.wait().expect("wait").success());
    window.expect("the import logged both apply lines")
}
