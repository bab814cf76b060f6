//! Repository files the tests read, by absolute path (`CARGO_MANIFEST_DIR`),
//! whatever the current directory.

use std::path::{Path, PathBuf};

/// Alice's Yealink in `examples/users.csv`: its User-Agent and MAC.
pub const UA: &str = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56";
pub const ALICE_MAC: &str = "805ec0123456";

/// A path below the repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `examples/users.csv` of this repository.
pub fn users_csv() -> PathBuf {
    repo("examples/users.csv")
}

/// `tests/fixtures/provision/<vendor>.csv`: the users of one vendor's
/// `serve` test.
pub fn provision_csv(vendor: &str) -> PathBuf {
    repo("tests/fixtures/provision").join(format!("{vendor}.csv"))
}

/// A real spreadsheet export in `tests/fixtures/spreadsheets`.
pub fn spreadsheet(name: &str) -> PathBuf {
    repo("tests/fixtures/spreadsheets").join(name)
}

/// The bytes of `tests/golden/<rel>` (`yealink/805ec0123456.cfg`).
pub fn golden_bytes(rel: &str) -> Vec<u8> {
    let path = repo("tests/golden").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `tests/dhcp/scapy_phone.py`, the impersonated phone of the DHCP tests.
pub fn scapy_phone_script() -> PathBuf {
    repo("tests/dhcp/scapy_phone.py")
}
