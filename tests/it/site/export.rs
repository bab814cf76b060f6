//! The registrar exports as an admin runs them: refused without
//! `--include-secrets`, written 0600, and a re-export after an import
//! differs from the first only in the rows of the users that changed.

use std::os::unix::fs::PermissionsExt;

use crate::support::cli::Env;
use crate::support::server::{Server, api};

const BEFORE: &str = "\
username,first_name,last_name,extension,sip_password,transport,mac,phone_model
anna,Anna,Berg,1001,Anna-pw-1,udp,80:5e:c0:00:10:01,yealink-t54w
bert,Bert,Cole,1002;1003,Bert-pw-2;Bert-pw-3,tcp,00:04:f2:00:10:02,polycom-vvx411
cara,Cara,Dahl,1004,Cara-pw-4,tls,00:0b:82:00:10:04,grandstream-gxp2170
dirk,Dirk,Eck,1005,Dirk-pw-5,udp,,
";

/// bert's second password changes; everyone else as before.
const AFTER: &str = "\
username,first_name,last_name,extension,sip_password,transport,mac,phone_model
anna,Anna,Berg,1001,Anna-pw-1,udp,80:5e:c0:00:10:01,yealink-t54w
bert,Bert,Cole,1002;1003,Bert-pw-2;Bert-pw-NEW,tcp,00:04:f2:00:10:02,polycom-vvx411
cara,Cara,Dahl,1004,Cara-pw-4,tls,00:0b:82:00:10:04,grandstream-gxp2170
dirk,Dirk,Eck,1005,Dirk-pw-5,udp,,
";

const FORMATS: [&str; 4] = ["kamailio", "kamailio-dbtext", "asterisk", "freeswitch"];

/// Lines of `b` not in `a`, and of `a` not in `b`.
fn changed(a: &str, b: &str) -> (Vec<String>, Vec<String>) {
    let out = std::process::Command::new("diff")
        .args([
            "--unchanged-line-format=",
            "--old-line-format=-%L",
            "--new-line-format=+%L",
        ])
        .arg(a)
        .arg(b)
        .output()
        .expect("diff");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pick = |c: char| {
        text.lines()
            .filter_map(|l| l.strip_prefix(c))
            .map(str::to_string)
            .collect()
    };
    (pick('-'), pick('+'))
}

#[test]
fn registrar_exports_need_secrets_are_private_and_diff_by_user() {
    let env = Env::new();
    let r = env.import_csv(BEFORE, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for f in FORMATS {
        // Without the secrets flag: refused (exit 2), nothing written.
        let out = env.dir.path().join(format!("{f}.refused"));
        let r = env.run(&["export", "--format", f, "--output", out.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{f}: {}", r.stderr);
        assert!(r.stderr.contains("--include-secrets"), "{}", r.stderr);
        assert!(!out.exists(), "{f}: a refused export wrote a file");
    }
    let export = |tag: &str| {
        for f in FORMATS {
            let out = env.dir.path().join(format!("{f}.{tag}"));
            let r = env.run(&[
                "export",
                "--format",
                f,
                "--include-secrets",
                "--output",
                out.to_str().unwrap(),
            ]);
            assert_eq!(r.code, 0, "{f}: {}", r.stderr);
            let mode = std::fs::metadata(&out)
                .expect("written")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f} written {mode:o}");
        }
    };
    export("1");
    let r = env.import_csv(AFTER, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    export("2");
    for f in FORMATS {
        let a = env.dir.path().join(format!("{f}.1"));
        let b = env.dir.path().join(format!("{f}.2"));
        let (gone, new) = changed(a.to_str().unwrap(), b.to_str().unwrap());
        assert!(!new.is_empty(), "{f}: the changed password left no trace");
        for l in gone.iter().chain(&new) {
            // Only bert's line 1003 changed: its password (or hashes of it).
            assert!(
                l.contains("Bert-pw-3")
                    || l.contains("Bert-pw-NEW")
                    || l.contains("1003") && f.starts_with("kamailio"),
                "{f}: unrelated line changed: {l}"
            );
        }
        assert!(
            new.iter().any(|l| l.contains("Bert-pw-NEW")),
            "{f}: {new:?}"
        );
        let text = std::fs::read_to_string(&b).expect("read");
        // Everyone enabled, every line: 5 accounts, in username order.
        for ext in ["1001", "1002", "1003", "1004", "1005"] {
            assert!(text.contains(ext), "{f}: {ext} missing");
        }
        let anna = text.find("1001").expect("anna");
        let dirk = text.find("1005").expect("dirk");
        assert!(anna < dirk, "{f}: not in username order");
    }
    // The CSV export is unchanged by all this: default format, header as before.
    let csv = env.export(&[]);
    assert!(
        csv.starts_with("username,first_name,last_name,display_name,"),
        "{csv}"
    );
}

/// The same exports from a running server: over the admin API with
/// `format=` (secrets opted in), and from the CLI, which then goes through
/// the server's admin socket; both give the bytes the store gives.
#[test]
fn registrar_export_over_the_admin_api_and_while_serving() {
    let env = Env::new();
    let r = env.import_csv(BEFORE, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let offline = env.run(&["export", "--format", "freeswitch", "--include-secrets"]);
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let cfg = env.file(
        "admin.toml",
        "[admin]\nanonymous_loopback = true\nexpose_secrets = true\n",
    );
    let server = Server::start(&env.data(), &["--config", cfg.to_str().unwrap()], &[]);
    let get = |q: &str| api(&server, "GET", &format!("/api/v1/export{q}"), None, &[]);
    let r = get("?format=kamailio-dbtext&include_secrets=true");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text()
            .starts_with("id(int,auto) username(string) domain(string)"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains(":1003:pbx.example.com:Bert-pw-3:"),
        "{}",
        r.text()
    );
    let r = get("?format=asterisk");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("include_secrets"), "{}", r.text());
    assert!(!r.text().contains("Anna-pw-1"));
    let r = get("?format=bind9&include_secrets=true");
    assert_eq!(r.status, 400, "{}", r.text());
    // The plain export is still the CSV.
    let r = get("");
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("username,"), "{}", r.text());
    let served = get("?format=freeswitch&include_secrets=true");
    assert_eq!(served.text(), offline.stdout);
    let through_socket = env.run(&["export", "--format", "freeswitch", "--include-secrets"]);
    assert_eq!(through_socket.code, 0, "{}", through_socket.stderr);
    assert_eq!(through_socket.stdout, offline.stdout);
    server.stop_ok();
}

/// Kamailio 5.6's `subscriber` table for SQLite (kamailio/kamailio
/// utils/kamctl/sqlite/auth_db-create.sql, table version 7), and a
/// subscriber autoprov does not know.
const SQLITE_SCHEMA: &str = "\
CREATE TABLE version (table_name VARCHAR(32) NOT NULL, table_version INTEGER DEFAULT 0 NOT NULL);
INSERT INTO version (table_name, table_version) values ('subscriber','7');
CREATE TABLE subscriber (
    id INTEGER PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT subscriber_account_idx UNIQUE (username, domain)
);
CREATE INDEX subscriber_username_idx ON subscriber (username);
INSERT INTO subscriber (username, domain, password) VALUES ('trunk', 'pbx.example.com', 'keep-me');
";

/// The SQL export loads into a real database (sqlite3), twice without a
/// conflict, replaces the changed row after a re-import, keeps a quote in
/// a password intact and leaves other subscribers alone.
#[test]
fn kamailio_sql_loads_into_sqlite_and_reloads() {
    if !super::sip::have("sqlite3") {
        crate::support::tools::unavailable::<()>("sqlite3 is not installed");
        return;
    }
    let env = Env::new();
    let quoted = BEFORE.replace("Anna-pw-1", "Anna's-pw-1");
    let r = env.import_csv(&quoted, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let db = env.dir.path().join("kamailio.sqlite");
    let sqlite = |input: &str| {
        let r = env.dir.path().join("input.sql");
        std::fs::write(&r, input).expect("sql");
        let out = std::process::Command::new("sqlite3")
            .arg(&db)
            .stdin(std::fs::File::open(&r).expect("open"))
            .output()
            .expect("sqlite3");
        assert!(
            out.status.success(),
            "sqlite3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    sqlite(SQLITE_SCHEMA);
    let export = || {
        let r = env.run(&["export", "--format", "kamailio", "--include-secrets"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    let first = export();
    sqlite(&first);
    sqlite(&first);
    let rows = sqlite("SELECT username, domain, password FROM subscriber ORDER BY username;");
    assert_eq!(
        rows,
        "1001|pbx.example.com|Anna's-pw-1\n1002|pbx.example.com|Bert-pw-2\n1003|pbx.example.com|Bert-pw-3\n\
         1004|pbx.example.com|Cara-pw-4\n1005|pbx.example.com|Dirk-pw-5\ntrunk|pbx.example.com|keep-me\n"
    );
    let r = env.import_csv(&AFTER.replace("Anna-pw-1", "Anna's-pw-1"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    sqlite(&export());
    let rows = sqlite("SELECT password, length(ha1) FROM subscriber WHERE username = '1003';");
    assert_eq!(rows, "Bert-pw-NEW|32\n");
    assert_eq!(sqlite("SELECT count(*) FROM subscriber;"), "6\n");
}
