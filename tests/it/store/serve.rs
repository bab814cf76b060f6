//! `serve --store URL`: one node serving phones from PostgreSQL (several
//! nodes are the faces' tests), with what it learns written back there.

use crate::support::cli::Env;
use crate::support::fixtures::users_csv;
use crate::support::postgres::{self, fresh_database};
use crate::support::server::Server;

const ALICE_FILE: &str = "/805ec0123456.cfg";
const ALICE_UA: &str = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56";

#[test]
fn a_phone_is_served_from_postgresql_and_its_fetch_recorded_there() {
    let Some(url) = fresh_database() else { return };
    let env = Env::new();
    let csv = users_csv().display().to_string();
    let imported = postgres::run(&env.data(), &url, &["import", &csv, "--no-progress"]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);

    let server = Server::start(&env.data(), &["--store", &url], &[]);
    let file = server.get_https(ALICE_FILE, Some(ALICE_UA));
    assert_eq!(file.status, 200, "{}", server.log());
    assert!(file.text().contains("Alice-Sip-2024-xyz"));
    // While it serves, another process reads the same database directly
    // (no admin socket involved): the fetch is there (within a few seconds,
    // should fetch records be written in batches).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let shown = postgres::run(
            &env.data(),
            &url,
            &["phones", "show", "805ec0123456", "--format", "json"],
        );
        assert_eq!(shown.code, 0, "{}", shown.stderr);
        let phone = shown.json();
        if phone["provisioning"] == "provisioned" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not recorded: {phone}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.stop_ok();
}
