//! PostgreSQL for the store tests: the library's test server
//! (src/store/postgres/testdb.rs, included by path so the library's own
//! tests and these share one helper), and `autoprov --store URL` runs.

use std::path::Path;
use std::process::Command;

#[path = "../../../src/store/postgres/testdb.rs"]
mod testdb;

pub use testdb::{fresh_database, server};

use super::cli::{Run, command};

/// `autoprov --data DATA --store URL`, ready for more arguments.
pub fn on(data: &Path, url: &str) -> Command {
    let mut c = command(data);
    c.args(["--store", url]);
    c
}

/// Runs one command against the database at `url`.
pub fn run(data: &Path, url: &str, args: &[&str]) -> Run {
    on(data, url)
        .args(args)
        .output()
        .expect("run autoprov")
        .into()
}

/// `export --include-secrets` of the database at `url`.
pub fn export(data: &Path, url: &str) -> String {
    let r = run(data, url, &["export", "--include-secrets"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

/// The database name at the end of a test URL.
pub fn db_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}
