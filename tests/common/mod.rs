//! Helpers shared by the integration tests: run the real binary against a
//! temporary data directory, the way an admin would.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_autoprov")
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
        Command::new(bin())
            .arg("--data")
            .arg(self.data())
            .args(args)
            .env_remove("AUTOPROV_CONFIG")
            .output()
            .expect("run autoprov")
            .into()
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = Command::new(bin())
            .arg("--data")
            .arg(self.data())
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

/// Summary field of a JSON report.
pub fn summary(v: &Value, key: &str) -> i64 {
    v["summary"][key]
        .as_i64()
        .unwrap_or_else(|| panic!("summary.{key} missing in {v}"))
}

/// The (row, line, column, code) of every error in a report.
/// (row, line, column, code) of one report entry.
pub type ErrorAt = (Option<i64>, Option<i64>, Option<String>, String);

pub fn errors(v: &Value) -> Vec<ErrorAt> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["row"].as_i64(),
                        e["line"].as_i64(),
                        e["column"].as_str().map(str::to_string),
                        e["code"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn codes(v: &Value) -> Vec<String> {
    errors(v).into_iter().map(|e| e.3).collect()
}
