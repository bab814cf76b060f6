//! Scheduled import sources against a local HTTP server this test runs:
//! updates are applied (sync deletes what the source dropped), while a 500,
//! an HTML login page, an empty file or a header-only file deletes nothing,
//! and every scheduled run lands in the import history.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{autoprov, create_token, import};
use crate::support::fixtures::users_csv;
use crate::support::server::{Server, api};

/// What the fake upstream answers: status, content type, body.
pub(super) type Reply = (u16, &'static str, Vec<u8>);

/// A one-URL HTTP/1.1 server answering every request with the current reply.
pub(super) struct Upstream {
    pub(super) url: String,
    reply: Arc<Mutex<Reply>>,
}

impl Upstream {
    pub(super) fn start(first: Reply) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/export/users.csv", listener.local_addr().unwrap());
        let reply = Arc::new(Mutex::new(first));
        let current = reply.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let (status, ctype, body) = current.lock().unwrap().clone();
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
        });
        Upstream { url, reply }
    }

    pub(super) fn set(&self, r: Reply) {
        *self.reply.lock().unwrap() = r;
    }
}

pub(super) fn history(data: &Path) -> Vec<Value> {
    let out = autoprov(data, &["history", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits for a history record after the first `seen` that `pred` accepts.
pub(super) fn wait_for_run(data: &Path, seen: usize, pred: impl Fn(&Value) -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = history(data);
        if h.iter().skip(seen).any(&pred) {
            return h.len();
        }
        assert!(Instant::now() < deadline, "no such run; history: {h:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn usernames(data: &Path) -> Vec<String> {
    let out = autoprov(data, &["users", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

pub(super) fn outcome_has(r: &Value, needle: &str) -> bool {
    r["outcome"].as_str().is_some_and(|o| o.contains(needle))
}

#[test]
fn scheduled_sync_applies_updates_and_bad_answers_delete_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = std::fs::read(users_csv()).unwrap();
    let upstream = Upstream::start((200, "text/csv", csv.clone()));
    let cfg = tmp.path().join("sources.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sources.hr]\nurl = \"{}\"\nevery = \"1s\"\nmode = \"sync\"\n",
            upstream.url
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let token = create_token(&data, "ci");

    let seen = wait_for_run(&data, 0, |r| r["created"] == 12);
    let all = usernames(&data);
    assert_eq!(all.len(), 12);
    let first = &history(&data)[0];
    assert_eq!(
        (first["source"].as_str(), first["mode"].as_str()),
        (Some("hr"), Some("sync"))
    );
    assert_eq!(first["file"].as_str(), Some(upstream.url.as_str()));

    // Nothing of these reaches the import, or the import refuses it.
    let header_only = csv.split(|b| *b == b'\n').next().unwrap().to_vec();
    let bad: [(Reply, &str); 5] = [
        ((500, "text/plain", b"oops".to_vec()), "HTTP 500"),
        ((302, "text/html", Vec::new()), "HTTP 302"),
        (
            (
                200,
                "text/html",
                b"<!DOCTYPE html><form>Login</form>".to_vec(),
            ),
            "HTML",
        ),
        ((200, "text/csv", b"\n \n".to_vec()), "empty file"),
        (
            (200, "text/csv", [header_only, b"\n".to_vec()].concat()),
            "no data rows",
        ),
    ];
    let mut seen = seen;
    for (reply, why) in bad {
        upstream.set(reply);
        seen = wait_for_run(&data, seen, |r| outcome_has(r, why));
        assert_eq!(usernames(&data), all, "after {why}");
    }

    // The source drops a user: the next run deletes exactly that one.
    let text = String::from_utf8(csv).unwrap();
    let dropped: String = text
        .lines()
        .filter(|l| !l.starts_with("kim.tanaka,"))
        .map(|l| format!("{l}\n"))
        .collect();
    upstream.set((200, "text/csv; charset=utf-8", dropped.into_bytes()));
    wait_for_run(&data, seen, |r| r["deleted"] == 1);
    let now = usernames(&data);
    assert_eq!(now.len(), 11);
    assert!(!now.contains(&"kim.tanaka".to_string()));

    // A test run on demand: the report of a dry run, nothing written.
    let r = api(&server, "POST", "/api/v1/sources/hr/run", Some(&token), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["applied"], false);
    assert_eq!(report["summary"]["unchanged"], 11);
    let r = api(&server, "GET", "/api/v1/sources", Some(&token), &[]);
    let list = r.json();
    assert_eq!(list[0]["name"], "hr");
    assert!(list[0]["last_run"]["time"].is_string(), "{list}");
    let r = api(
        &server,
        "POST",
        "/api/v1/sources/nope/run",
        Some(&token),
        &[],
    );
    assert_eq!(r.status, 404);
    assert_refused_without_token(&server);
    server.stop_ok();
}

fn assert_refused_without_token(server: &Server) {
    for (m, p) in [
        ("GET", "/api/v1/sources"),
        ("POST", "/api/v1/sources/hr/run"),
    ] {
        assert_eq!(api(server, m, p, None, &[]).status, 401, "{m} {p}");
    }
}

#[test]
fn bad_source_config_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    for (body, needle) in [
        (
            "[sources.hr]\nurl = \"ftp://x/y.csv\"\nevery = \"1h\"\n",
            "http",
        ),
        (
            "[sources.hr]\nurl = \"http://x/y.csv\"\nevery = \"soon\"\n",
            "every",
        ),
        (
            "[sources.hr]\nurl = \"http://x/y.csv\"\nevery = \"1h\"\nmode = \"replace\"\n",
            "mode",
        ),
    ] {
        let cfg = tmp.path().join("c.toml");
        std::fs::write(&cfg, body).unwrap();
        let out = autoprov(tmp.path(), &["--config", cfg.to_str().unwrap(), "users"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{body}"
        );
    }
}

/// HTTPS sources verify the server: another autoprov's HTTPS listener (its
/// self-signed certificate given as `ca`) is reached, and refused without it.
#[test]
fn https_source_trusts_the_configured_ca_only() {
    let tmp = tempfile::tempdir().unwrap();
    let other_data = tmp.path().join("other");
    import(&other_data, &users_csv());
    let other = Server::start(&other_data, &[], &[]);
    // A common Yealink file: served to anyone, and certainly not a user CSV.
    let url = format!("{}/y000000000108.cfg", other.https);
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("sources.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sources.trusted]\nurl = \"{url}\"\nevery = \"1d\"\nca = \"{}\"\n\n[sources.untrusted]\nurl = \"{url}\"\nevery = \"1d\"\n",
            other.cert().display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let token = create_token(&data, "ci");
    let r = api(
        &server,
        "POST",
        "/api/v1/sources/trusted/run",
        Some(&token),
        &[],
    );
    // Fetched over TLS, then refused by the import as a file problem.
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["errors"][0]["row"],
        serde_json::Value::Null,
        "a file-level refusal"
    );
    let r = api(
        &server,
        "POST",
        "/api/v1/sources/untrusted/run",
        Some(&token),
        &[],
    );
    assert_eq!(r.status, 502, "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_string();
    assert!(
        detail.contains("cannot connect") && detail.contains("nothing imported"),
        "{detail}"
    );
    server.stop_ok();
    other.stop_ok();
}

/// `autoprov import URL` uses the same fetch and checks: a CSV is imported
/// (named by its URL in the history), an error status or an HTML page is a
/// file problem (exit 2) that writes nothing.
#[test]
fn cli_imports_from_a_url() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let upstream = Upstream::start((500, "text/plain", b"down".to_vec()));
    let out = autoprov(&data, &["import", &upstream.url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 500"));
    upstream.set((200, "text/html", b"<html>login</html>".to_vec()));
    let out = autoprov(&data, &["import", &upstream.url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTML"));
    // Nothing was imported, so no store was made (and `history` says so).
    assert!(!data.join("db").exists());
    assert_eq!(autoprov(&data, &["history"]).status.code(), Some(2));
    upstream.set((200, "text/csv", std::fs::read(users_csv()).unwrap()));
    let out = autoprov(&data, &["import", &upstream.url, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["created"], 12);
    assert_eq!(
        history(&data)[0]["file"].as_str(),
        Some(upstream.url.as_str())
    );
}

/// A scheduled source with `[sources.NAME.map]` and a `filter`: the HR
/// export imports as it comes, rows without an extension are skipped (in
/// the history's count, never as errors), and a sync deletes the user the
/// export dropped. The same mapping text goes through the admin API (a
/// `map` form field) and through `autoprov import --map` while serving.
#[test]
fn scheduled_source_with_a_mapping_and_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fixtures = crate::support::fixtures::repo("tests/fixtures/mapping");
    let export = std::fs::read(fixtures.join("hr-export.csv")).unwrap();
    let map_file = fixtures.join("hr-export.map.toml");
    let map_text = std::fs::read_to_string(&map_file).unwrap();
    let upstream = Upstream::start((200, "text/csv", export.clone()));
    // The mapping file's [map] and filter, as a source's keys.
    let (filter, table) = map_text.split_once("[map]\n").unwrap();
    let filter = filter.lines().find(|l| l.starts_with("filter")).unwrap();
    let cfg = tmp.path().join("sources.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sources.hr]\nurl = \"{}\"\nevery = \"1s\"\nmode = \"sync\"\nencoding = \"windows-1252\"\n{filter}\n\n[sources.hr.map]\n{table}",
            upstream.url
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let token = create_token(&data, "ci");

    let seen = wait_for_run(&data, 0, |r| r["created"] == 4);
    let first = &history(&data)[0];
    assert_eq!(first["skipped"], 1, "{first}");
    assert_eq!(usernames(&data), ["4711", "4712", "4714", "4715"]);

    // The on-demand dry run reports the skipped row with its reason.
    let r = api(&server, "POST", "/api/v1/sources/hr/run", Some(&token), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["summary"]["unchanged"], 4);
    assert_eq!(report["skipped_rows"][0]["line"], 4, "{report}");

    // The export drops 4714 (line 5): the next run deletes exactly that user.
    let dropped: Vec<u8> = export
        .split_inclusive(|b| *b == b'\n')
        .filter(|l| !l.starts_with(b"4714;"))
        .flatten()
        .copied()
        .collect();
    upstream.set((200, "text/csv", dropped));
    wait_for_run(&data, seen, |r| r["deleted"] == 1);
    assert_eq!(usernames(&data), ["4711", "4712", "4715"]);

    // The admin API takes the same mapping as a `map` form field.
    let csv = fixtures.join("hr-export.csv");
    let r = api(
        &server,
        "POST",
        "/api/v1/import?dry_run=true&encoding=windows-1252&format=json",
        Some(&token),
        &[
            "-F",
            &format!("file=@{}", csv.display()),
            "-F",
            &format!("map=<{}", map_file.display()),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["summary"]["created"], 1, "{report}");
    assert_eq!(report["summary"]["skipped"], 1, "{report}");
    // A broken one is a 400 naming the key, before the file is looked at.
    let r = api(
        &server,
        "POST",
        "/api/v1/import?dry_run=true",
        Some(&token),
        &[
            "-F",
            &format!("file=@{}", csv.display()),
            "-F",
            "map=[map]\nusername = \"Personalnummer\"\nlastname = \"x\"\n",
        ],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("map:3: lastname"), "{}", r.text());

    // The web page's preview follows a mapping: a column mapped to
    // sip_password is that column, so its cells are masked.
    let secret_csv = tmp.path().join("secret.csv");
    std::fs::write(&secret_csv, "login;Geheim;Nr\nanna;s3cret-Pass1;301\n").unwrap();
    let r = api(
        &server,
        "POST",
        "/api/v1/import/preview",
        Some(&token),
        &[
            "-F",
            &format!("file=@{}", secret_csv.display()),
            "-F",
            "map=[map]\nusername = \"login\"\nsip_password = \"Geheim\"\nextension = \"Nr\"\ndisplay_name = { default = \"Anna\" }\n",
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("s3cret"), "{}", r.text());
    let table = &r.json()["table"];
    assert_eq!(
        table["columns"],
        serde_json::json!(["username", "sip_password", "extension"])
    );
    assert_eq!(
        table["rows"][0]["cells"],
        serde_json::json!(["anna", "***", "301"])
    );
    assert_eq!(r.json()["report"]["summary"]["created"], 1, "{}", r.text());

    // `autoprov import --map` while serving sends the mapping to the server.
    let out = autoprov(
        &data,
        &[
            "import",
            csv.to_str().unwrap(),
            "--map",
            map_file.to_str().unwrap(),
            "--encoding",
            "windows-1252",
            "--dry-run",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["created"], 1, "{report}");
    assert_eq!(report["skipped_rows"][0]["row"], 3, "{report}");
    server.stop_ok();
}

/// A source's broken mapping stops every command at the config, naming
/// the source and the key.
#[test]
fn broken_source_mapping_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let head = "[sources.hr]\nurl = \"http://x/y.csv\"\nevery = \"1h\"\n";
    for (rest, needle) in [
        (
            "\n[sources.hr.map]\nusername = \"a\"\nlastname = \"b\"\n",
            "sources.hr.map: lastname: unknown target field",
        ),
        (
            "\n[sources.hr.map]\nusername = { template = '{{ row.a | }}' }\n",
            "sources.hr.map: username: template error",
        ),
        (
            "filter = 'row.a =='\n\n[sources.hr.map]\nusername = \"a\"\n",
            "sources.hr.map: filter: template error",
        ),
        ("filter = 'row.a'\n", "a filter needs a [sources.NAME.map]"),
    ] {
        let cfg = tmp.path().join("c.toml");
        std::fs::write(&cfg, format!("{head}{rest}")).unwrap();
        let out = autoprov(tmp.path(), &["--config", cfg.to_str().unwrap(), "users"]);
        assert_eq!(out.status.code(), Some(2), "{rest}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{rest}: {err}");
    }
}
