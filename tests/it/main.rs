//! The integration tests, as one test binary (`cargo test --test it`): one
//! link instead of one per file, one set of helpers. Every test runs the
//! real `autoprov` binary (or, for a few, also opens the library's store
//! directly); `support` holds what they share.
//!
//! `architecture` reads `src/` and enforces ARCHITECTURE.md's layers;
//! `vendors` renders every vendor's files in-process (conformance) and
//! checks the docs' vendor table against `VENDORS`.
//!
//! Former test files, now modules (filter with e.g.
//! `cargo test --test it serve::yealink`):
//!
//! | before                      | now                          |
//! |-----------------------------|------------------------------|
//! | tests/admin_api.rs          | admin/api.rs                 |
//! | tests/admin_cli.rs          | admin/cli.rs                 |
//! | tests/admin_sources.rs      | admin/sources.rs             |
//! | tests/admin_web.rs          | admin/web.rs                 |
//! | tests/dhcp_full.rs          | dhcp/full.rs                 |
//! | tests/dhcp_netns.rs         | dhcp/options_only.rs         |
//! | tests/dhcp_snippet.rs       | dhcp/snippet.rs              |
//! | tests/export_roundtrip.rs   | import/export_roundtrip.rs   |
//! | tests/import_crash.rs       | import/crash.rs              |
//! | tests/import_dialects.rs    | import/dialects.rs           |
//! | tests/import_rules.rs       | import/rules.rs              |
//! | tests/serve_<name>.rs       | serve/<name>.rs              |
//! | tests/common/mod.rs         | support/cli.rs, report.rs    |
//! | tests/serve_support/mod.rs  | support/server.rs, tls.rs, formats.rs, cli.rs, fixtures.rs |
//! | tests/netns_support/mod.rs  | support/netns.rs, tools.rs   |
//!
//! Fixtures stay in tests/fixtures, golden files in tests/golden, the
//! scapy phone in tests/dhcp.

mod admin;
mod architecture;
mod dhcp;
mod import;
mod ldap;
mod multinode;
mod serve;
mod site;
mod store;
mod support;
mod tftp;
mod vendors;
