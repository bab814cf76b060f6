//! A database reached through its Unix socket directory, in both forms
//! tokio-postgres reads: the directory percent-encoded as the host, and
//! `?host=/dir`. The tests' PostgreSQL listens on a socket in its own
//! directory (support::postgres) as well as on 127.0.0.1.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::support::cli::Env;
use crate::support::fixtures::{ALICE_MAC, UA, users_csv};
use crate::support::postgres::{self, fresh_database};
use crate::support::server::Server;

#[test]
fn a_unix_socket_url_imports_serves_and_connects_through_the_socket() {
    let Some(url) = fresh_database() else { return };
    let Some(pg) = postgres::server() else { return };
    let db = postgres::db_name(&url).to_string();
    let dir = pg.dir.display().to_string();
    let encoded = format!(
        "postgres://postgres@{}:{}/{db}",
        utf8_percent_encode(&dir, NON_ALPHANUMERIC),
        pg.port
    );
    let param = format!("postgres:///{db}?user=postgres&host={dir}&port={}", pg.port);

    let env = Env::new();
    let csv = users_csv().display().to_string();
    let r = postgres::run(&env.data(), &encoded, &["import", &csv, "--no-progress"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The same users as the database shows over TCP.
    let over_tcp = postgres::export(&env.data(), &url);
    assert_eq!(postgres::export(&env.data(), &param), over_tcp);
    assert!(over_tcp.contains("alice.martin"));

    // A node on the socket serves a phone, and its connections to this
    // database are socket connections (no client address), none over TCP.
    let server = Server::start(&env.data(), &["--store", &param], &[]);
    let file = server.get_https(&format!("/{ALICE_MAC}.cfg"), Some(UA));
    assert_eq!(file.status, 200, "{}", server.log());
    let count = |addr: &str| {
        pg.psql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND client_addr IS {addr}"
            ),
        )
    };
    assert_ne!(count("NULL"), "0", "no socket connection");
    // The exports' TCP sessions end with their processes, a moment later.
    let tcp_gone = crate::multinode::within(std::time::Duration::from_secs(5), || {
        count("NOT NULL") == "0"
    });
    assert!(tcp_gone.is_some(), "a TCP connection to {db}");
    server.stop_ok();

    // A socket directory with nothing in it fails, naming no password.
    let missing = "postgres://postgres:s3cret@%2Fnonexistent-autoprov:5432/x";
    let r = postgres::run(&env.data(), missing, &["users"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("database error"), "{}", r.stderr);
    assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
}
