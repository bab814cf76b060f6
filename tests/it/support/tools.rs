//! External programs some tests need (network namespaces, DHCP servers and
//! clients, scapy, Chromium): without them a test skips with a message,
//! except under CI=true, where that is a failure (.ci/run installs them).

use std::path::{Path, PathBuf};

/// CI=true: missing tools fail the test instead of skipping it.
pub fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skips (returns `None` after saying why, naming the test), or fails
/// under CI.
pub fn unavailable<T>(why: &str) -> Option<T> {
    assert!(!ci(), "CI=true but {why}");
    let test = std::thread::current().name().unwrap_or("test").to_string();
    eprintln!("SKIP {test}: {why}");
    None
}

/// The first of `dirs` that holds `name`, if any.
pub fn find_in(dirs: &[&str], name: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}
