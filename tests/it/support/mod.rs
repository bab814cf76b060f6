//! Helpers shared by every test module, one file per concern:
//!
//! - [`fixtures`]: repository files the tests read (examples/users.csv and
//!   what the tests know of it, tests/fixtures, tests/golden, the scapy
//!   script).
//! - [`cli`]: the one `autoprov` command builder (the binary under test,
//!   `AUTOPROV_CONFIG` removed), temporary data directories, imports.
//! - [`report`]: reading the JSON import report.
//! - [`server`]: a running `autoprov serve` on ephemeral ports, and curl
//!   against it (provisioning listeners and admin API).
//! - [`tls`]: openssl: test CAs and certificates, fingerprints, chains.
//! - [`formats`]: checks shared by every vendor's files, the Yealink parser,
//!   golden-file comparison.
//! - [`netns`]: network namespaces, DHCP servers inside them, scapy.
//! - [`tools`]: external programs a test needs: skip without them, except
//!   under CI=true, where that is a failure.
//!
//! All tests run as threads of one process (two at a time by default), so
//! nothing here uses fixed ports, fixed names or fixed paths, nor changes
//! the process's environment or current directory. Tests that load the
//! machine take [`heavy`]; tests that assert on elapsed time take
//! [`timed`].

pub mod cli;
pub mod fixtures;
pub mod formats;
pub mod netns;
pub mod postgres;
pub mod report;
pub mod server;
pub mod tls;
pub mod tools;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Held for writing by a heavy test, for reading by a timed one.
static LOAD: RwLock<()> = RwLock::new(());

/// For the tests that load the machine and each ran as a binary of its own
/// before: headless Chromium, the 10,000-user SIGKILL loop, network
/// namespaces with DHCP servers and clients. One at a time, and never
/// beside a [`timed`] test; an ordinary test may run beside it.
pub fn heavy() -> RwLockWriteGuard<'static, ()> {
    // A test that failed while holding it must not fail the others.
    LOAD.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// For the tests that assert on elapsed time (throttling, nonce lifetimes,
/// drain and slow-client limits): never beside a [`heavy`] test, but
/// beside each other and ordinary tests, as they ran in their own binary.
pub fn timed() -> RwLockReadGuard<'static, ()> {
    LOAD.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}
