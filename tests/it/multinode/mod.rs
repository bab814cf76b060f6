//! Several `autoprov serve` nodes on one PostgreSQL database (docs/multi-node.md):
//! an import through one node served by the other within a second, the
//! same admin tokens on both, a node killed mid-import, and `/readyz`
//! following the database. Skipped where PostgreSQL cannot start, except
//! under `CI=true`.

mod dhcp;
mod serve;

use std::time::{Duration, Instant};

use crate::support::server::{Server, curl_headers};

/// A node: its own data directory (certificates, admin socket) on the
/// shared database `url`.
pub struct Node {
    _tmp: tempfile::TempDir,
    pub server: Server,
}

impl Node {
    pub fn start(url: &str) -> Node {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let server = Server::start(&data, &["--store", url], &[]);
        Node { _tmp: tmp, server }
    }

    /// `GET <admin>/<path>` without a token: (status, body).
    pub fn probe(&self, path: &str) -> (u16, String) {
        let a = curl_headers(&format!("{}{path}", self.server.admin), 10, &[]);
        (a.status, a.text())
    }
}

/// Polls `f` every 50 ms until it is true or `limit` passes; how long it took.
pub fn within(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
