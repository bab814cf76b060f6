//! The admin API over its TCP listener, driven with real curl against the
//! real binary: tokens (missing, wrong, revoked), the import report against
//! the CLI's, imports while serving, `/metrics`, and what reaches the logs.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::cli::{autoprov, create_token, imported};
use crate::support::fixtures::{ALICE_MAC, UA, repo, users_csv};
use crate::support::formats::yealink_settings;
use crate::support::server::{Answer, Server, api};

/// A served store with the example users and a token named `ci`.
fn serving() -> (tempfile::TempDir, std::path::PathBuf, Server, String) {
    serving_logged("autoprov=info")
}

/// As [`serving`], with this `RUST_LOG` filter.
fn serving_logged(filter: &str) -> (tempfile::TempDir, std::path::PathBuf, Server, String) {
    let (tmp, data) = imported(&users_csv());
    let server = Server::start_logging(&data, &[], &[], filter);
    let token = create_token(&data, "ci");
    (tmp, data, server, token)
}

/// One endpoint: method, path, curl extras, status with a valid token.
type Endpoint = (&'static str, String, Vec<String>, u16);

/// Every endpoint once. Sources are tested in tests/it/admin/sources.rs; here
/// none is configured, so a run is a 404 once the token is accepted.
fn endpoints(csv: &Path) -> Vec<Endpoint> {
    let body = format!("@{}", csv.display());
    vec![
        ("GET", "/metrics".into(), vec![], 200),
        ("GET", "/api/v1/users".into(), vec![], 200),
        ("GET", "/api/v1/users/alice.martin".into(), vec![], 200),
        ("GET", "/api/v1/phones".into(), vec![], 200),
        ("GET", "/api/v1/history".into(), vec![], 200),
        ("GET", "/api/v1/export".into(), vec![], 200),
        // A render carries passwords: over TCP only with expose_secrets.
        ("GET", format!("/api/v1/render/{ALICE_MAC}"), vec![], 403),
        ("GET", format!("/api/v1/phones/{ALICE_MAC}"), vec![], 200),
        (
            "POST",
            format!("/api/v1/phones/{ALICE_MAC}/rotate-admin-password"),
            vec![],
            200,
        ),
        (
            "POST",
            "/api/v1/phones/rotate-admin-password".into(),
            vec![],
            200,
        ),
        (
            "POST",
            "/api/v1/import?dry_run=true".into(),
            vec!["--data-binary".into(), body.clone()],
            200,
        ),
        (
            "POST",
            "/api/v1/import/preview".into(),
            vec!["--data-binary".into(), body],
            200,
        ),
        (
            "POST",
            "/api/v1/users/alice.martin/settings?dry_run=true".into(),
            vec!["--data-binary".into(), "features.sample=1".into()],
            200,
        ),
        (
            "GET",
            "/api/v1/users?page=1&per_page=5&sort=name".into(),
            vec![],
            200,
        ),
        (
            "GET",
            "/api/v1/phones?page=1&state=never".into(),
            vec![],
            200,
        ),
        (
            "GET",
            format!("/api/v1/phones/{ALICE_MAC}/preview"),
            vec![],
            200,
        ),
        ("GET", "/api/v1/template.csv".into(), vec![], 200),
        (
            "PATCH",
            "/api/v1/users/alice.martin?dry_run=true".into(),
            json_body(r#"{"fields":{"mobile":"+33 6 00 00 00 01"}}"#),
            200,
        ),
        (
            "POST",
            "/api/v1/users?dry_run=true".into(),
            json_body(r#"{"fields":{"username":"new.user","first_name":"New"}}"#),
            200,
        ),
        (
            "DELETE",
            "/api/v1/users/alice.martin?dry_run=true".into(),
            vec![],
            200,
        ),
        (
            "POST",
            "/api/v1/users/alice.martin/phones?dry_run=true".into(),
            json_body(r#"{"mac":"805ec0000077"}"#),
            200,
        ),
        (
            "DELETE",
            format!("/api/v1/users/alice.martin/phones/{ALICE_MAC}?dry_run=true"),
            vec![],
            200,
        ),
        (
            "POST",
            "/api/v1/users/alice.martin/rotate-sip-password?dry_run=true".into(),
            vec![],
            200,
        ),
        ("GET", "/api/v1/sources".into(), vec![], 200),
        ("POST", "/api/v1/sources/hr/run".into(), vec![], 404),
        ("POST", "/api/v1/sources/hr/preview".into(), vec![], 404),
    ]
}

/// curl's arguments for a JSON body.
fn json_body(body: &str) -> Vec<String> {
    vec![
        "-H".into(),
        "Content-Type: application/json".into(),
        "--data-binary".into(),
        body.into(),
    ]
}

fn call(server: &Server, ep: &Endpoint, token: Option<&str>) -> Answer {
    let extra: Vec<&str> = ep.2.iter().map(String::as_str).collect();
    api(server, ep.0, &ep.1, token, &extra)
}

fn assert_refused(a: &Answer, what: &str) {
    assert_eq!(a.status, 401, "{what}: {}", a.text());
    let challenge = a.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{what}: {challenge:?}");
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    // Nothing of the store leaks into a refusal.
    assert!(!a.text().contains("alice"), "{what}: {}", a.text());
}

#[test]
fn every_endpoint_needs_a_valid_token_and_revoking_takes_effect_at_once() {
    // The token is created while the server holds the store.
    let (_tmp, data, server, token) = serving();
    let eps = endpoints(&users_csv());
    for ep in &eps {
        let what = format!("{} {}", ep.0, ep.1);
        assert_refused(&call(&server, ep, None), &format!("{what} without a token"));
        assert_refused(
            &call(&server, ep, Some("apt_not-a-real-token")),
            &format!("{what} with a wrong token"),
        );
        let ok = call(&server, ep, Some(&token));
        assert_eq!(ok.status, ep.3, "{what}: {}", ok.text());
        let code = if ep.3 == 200 { "0" } else { "2" };
        assert_eq!(
            ok.header("autoprov-exit-code").as_deref(),
            Some(code),
            "{what}"
        );
        assert!(!ok.body.is_empty(), "{what}: empty body");
    }
    // A second token keeps working when the first is revoked.
    let other = create_token(&data, "other");
    let out = autoprov(&data, &["admin", "token", "revoke", "ci"]);
    assert!(out.status.success());
    for ep in &eps {
        let what = format!("{} {} with a revoked token", ep.0, ep.1);
        assert_refused(&call(&server, ep, Some(&token)), &what);
        assert_eq!(call(&server, ep, Some(&other)).status, ep.3, "{what}");
    }
    // Unknown paths are refused before anything else, too.
    assert_refused(
        &api(&server, "GET", "/api/v1/nothing", None, &[]),
        "unknown path",
    );
    let listed = autoprov(&data, &["admin", "token", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed.contains("other") && !listed.contains("ci "),
        "{listed}"
    );
    assert!(!listed.contains(&other), "token list shows a token");
    server.stop_ok();
}

/// One import step: file, CLI flags, API query, multipart form fields (or
/// no multipart run), exit code.
type Step<'a> = (&'a Path, &'a [&'a str], &'a str, Option<&'a [&'a str]>, i32);

/// The same imports, in the same order, through the CLI on a stopped store
/// and through the API on a served one: the same report and exit code at
/// every step (raw body with query options, and multipart with form fields).
#[test]
fn api_import_report_equals_the_cli_report() {
    let tmp = tempfile::tempdir().unwrap();
    let good = users_csv();
    let text = std::fs::read_to_string(&good).unwrap();
    // One bad MAC and one unknown column: errors and warnings both. (A
    // near miss such as `emial` would be a file-level error now.)
    let bad = tmp.path().join("bad.csv");
    let bad_text = text
        .replace("0c383e07e16c", "0c383e07e16z")
        .replacen("email,", "remarks,", 1);
    assert_ne!(bad_text, text);
    std::fs::write(&bad, bad_text).unwrap();
    let not_csv = tmp.path().join("not.csv");
    std::fs::write(&not_csv, b"username,extension\n\"unterminated,1001\n").unwrap();

    let cli_data = tmp.path().join("cli");
    let api_data = tmp.path().join("api");
    let server = Server::start(&api_data, &[], &[]);
    let token = create_token(&api_data, "ci");
    // (file, CLI flags, API query, multipart form fields or None, exit code)
    let steps: [Step; 6] = [
        (&bad, &[], "", Some(&[]), 1),
        (&not_csv, &[], "", None, 2),
        (
            &good,
            &["--dry-run"],
            "&dry_run=true",
            Some(&["dry_run=true"]),
            0,
        ),
        (&bad, &["--partial"], "&partial=true", None, 0),
        (&good, &["--mode", "sync"], "&mode=sync", None, 2),
        (
            &good,
            &["--mode", "sync", "--source", "hr"],
            "&mode=sync&source=hr",
            None,
            0,
        ),
    ];
    for (csv, flags, query, form, code) in steps {
        let what = format!("{} {flags:?}", csv.display());
        let mut args = vec!["import", csv.to_str().unwrap(), "--format", "json"];
        args.extend_from_slice(flags);
        let cli = autoprov(&cli_data, &args);
        assert_eq!(
            cli.status.code(),
            Some(code),
            "{what}: {}",
            String::from_utf8_lossy(&cli.stderr)
        );
        let status = match code {
            0 => 200,
            1 => 422,
            _ => 400,
        };
        let mut answers = Vec::new();
        if let Some(fields) = form {
            let mut extra = vec!["-F".to_string(), format!("file=@{}", csv.display())];
            for f in fields {
                extra.extend(["-F".to_string(), f.to_string()]);
            }
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            answers.push((
                "multipart",
                api(&server, "POST", "/api/v1/import", Some(&token), &extra),
            ));
        }
        let body = format!("@{}", csv.display());
        answers.push((
            "raw",
            api(
                &server,
                "POST",
                &format!("/api/v1/import?format=json{query}"),
                Some(&token),
                &["--data-binary", &body, "-H", "Content-Type: text/csv"],
            ),
        ));
        for (how, answer) in answers {
            if code == 2 && cli.stdout.is_empty() {
                // A usage error (sync without a source): a problem document.
                assert_eq!(answer.json()["exit_code"], 2, "{how} {what}");
            } else {
                assert_eq!(
                    answer.text(),
                    String::from_utf8_lossy(&cli.stdout),
                    "{how} {what}"
                );
            }
            assert_eq!(
                answer.header("autoprov-exit-code"),
                Some(code.to_string()),
                "{how} {what}"
            );
            assert_eq!(answer.status, status, "{how} {what}");
        }
    }
    // The applied steps left both stores alike.
    server.stop_ok();
    let users = |d: &Path| autoprov(d, &["users", "--format", "json"]).stdout;
    assert_eq!(users(&cli_data), users(&api_data));
}

/// `POST <path>` with `csv` as the raw body.
fn post_csv(server: &Server, token: &str, path: &str, csv: &Path) -> Answer {
    let body = format!("@{}", csv.display());
    api(server, "POST", path, Some(token), &["--data-binary", &body])
}

/// Alice's display name in her own file, and in Hans's BLF key on her.
fn alice_as_served(server: &Server) -> (String, String, Vec<u8>) {
    let alice = server.get_https("/805ec0123456.cfg", Some(UA));
    let hans = server.get_https("/805ec0abcdef.cfg", None);
    assert_eq!((alice.status, hans.status), (200, 200), "{}", server.log());
    (
        yealink_settings(&alice.body, false)["account.1.display_name"].clone(),
        yealink_settings(&hans.body, false)["linekey.2.label"].clone(),
        alice.body,
    )
}

/// An import through the API applies to the store the provisioning
/// listeners serve from: the next fetch has the new data, for the phone's
/// own file and for another phone's BLF label naming that user.
#[test]
fn import_while_serving_changes_the_next_fetch() {
    let (tmp, _data, server, token) = serving();
    let (own, blf, _) = alice_as_served(&server);
    assert_eq!(
        (own.as_str(), blf.as_str()),
        ("Alice Martin", "Alice Martin")
    );

    let text = std::fs::read_to_string(users_csv()).unwrap();
    let changed = text.replace(
        "alice.martin,Alice,Martin,,",
        "alice.martin,Alice,Martin,Alice M. (Sales),",
    );
    assert_ne!(text, changed, "fixture row not found");
    let csv = tmp.path().join("users2.csv");
    std::fs::write(&csv, changed).unwrap();
    let r = post_csv(&server, &token, "/api/v1/import", &csv);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["summary"]["updated"], 1);
    let (own, blf, served) = alice_as_served(&server);
    assert_eq!(
        (own.as_str(), blf.as_str()),
        ("Alice M. (Sales)", "Alice M. (Sales)")
    );

    // A refused import changes nothing that is served.
    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        text.replace("Alice,Martin,,", "Alice,Martin,Other,")
            .replace("80:5e:c0:12:34:56", "zz"),
    )
    .unwrap();
    let r = post_csv(&server, &token, "/api/v1/import", &bad);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(alice_as_served(&server).2, served);
    server.stop_ok();
}

/// Phone-level settings through the API: the next fetch carries them,
/// `phones show` names their level, the same body again changes nothing,
/// a refused key is reported on row 1, column `settings`, and `render
/// --explain` through the running server names the level on stderr.
#[test]
fn user_settings_through_the_api() {
    let (_tmp, data, server, token) = serving();
    let path = "/api/v1/users/alice.martin/settings";
    let set = |body: &str| {
        api(
            &server,
            "POST",
            path,
            Some(&token),
            &["--data-binary", body],
        )
    };
    let r = set(r#"{"features.sample_key": "7"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["summary"]["updated"], 1, "{}", r.text());
    let served = server.get_https("/805ec0123456.cfg", Some(UA));
    assert_eq!(
        yealink_settings(&served.body, false)
            .get("features.sample_key")
            .map(String::as_str),
        Some("7")
    );
    let shown = api(
        &server,
        "GET",
        &format!("/api/v1/phones/{ALICE_MAC}?format=json"),
        Some(&token),
        &[],
    );
    assert_eq!(
        shown.json()["settings"][0]["level"],
        "phone",
        "{}",
        shown.text()
    );
    let version = shown.json()["config_version"].clone();

    let r = set("features.sample_key=7");
    assert_eq!(r.json()["summary"]["unchanged"], 1, "{}", r.text());
    let again = api(
        &server,
        "GET",
        &format!("/api/v1/phones/{ALICE_MAC}?format=json"),
        Some(&token),
        &[],
    );
    assert_eq!(again.json()["config_version"], version);

    let r = set("account.1.password=x");
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["column"], "settings");
    assert_eq!(r.json()["errors"][0]["row"], 1);

    let out = autoprov(&data, &["render", ALICE_MAC, "--explain"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("features.sample_key = 7  (phone)"),
        "{stderr}"
    );
    server.stop_ok();
}

/// A strict reading of the Prometheus text format (0.0.4): every line is a
/// `# HELP`/`# TYPE` comment or `name{label="value",...} number`, every
/// sample's family has a TYPE; returns sample → value.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = BTreeMap::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    assert!(text.ends_with('\n'), "exposition must end with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, tail) = (parts.next(), parts.next(), parts.next());
            assert!(matches!(kind, Some("HELP" | "TYPE")), "{line}");
            let name = name.unwrap_or_else(|| panic!("{line}"));
            assert!(name_ok(name), "{line}");
            if kind == Some("TYPE") {
                assert!(
                    matches!(
                        tail,
                        Some("counter" | "gauge" | "histogram" | "summary" | "untyped")
                    ),
                    "{line}"
                );
                assert!(typed.insert(name.to_string()), "second TYPE: {line}");
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                for pair in labels.split(',').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                    assert!(name_ok(k), "{line}");
                    assert!(
                        v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                        "{line}"
                    );
                }
                name
            }
            None => series,
        };
        assert!(name_ok(name), "{line}");
        assert!(typed.contains(name), "sample before its TYPE: {line}");
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "duplicate {line}"
        );
    }
    samples
}

#[test]
fn metrics_parse_and_count_a_fetch() {
    let (_tmp, _data, server, token) = serving();
    let before = parse_prometheus(&api(&server, "GET", "/metrics", Some(&token), &[]).text());
    let key = "autoprov_config_fetches_total{vendor=\"yealink\",status=\"200\"}";
    assert_eq!(before.get(key), None);
    assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    assert_eq!(server.get_https("/805ec0000000.cfg", None).status, 404);
    let r = post_csv(&server, &token, "/api/v1/import?dry_run=true", &users_csv());
    assert_eq!(r.status, 200);
    let m = api(&server, "GET", "/metrics", Some(&token), &[]);
    assert!(
        m.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain; version=0.0.4")
    );
    let after = parse_prometheus(&m.text());
    assert_eq!(after.get(key), Some(&1.0), "{}", m.text());
    assert_eq!(
        after.get("autoprov_config_fetches_total{vendor=\"unknown\",status=\"404\"}"),
        Some(&1.0)
    );
    assert_eq!(
        after.get("autoprov_import_runs_total{mode=\"upsert\",result=\"dry_run\"}"),
        Some(&1.0)
    );
    assert_eq!(after.get("autoprov_bans_total"), Some(&0.0));
    server.stop_ok();
}

/// Secrets need `[admin] expose_secrets` over TCP; the loopback opt-in lets
/// tokenless requests in; bodies are bounded; malformed input is a 400.
#[test]
fn secrets_opt_in_loopback_opt_in_and_bounds() {
    let (tmp, data, server, token) = serving();
    for path in [
        "/api/v1/export?include_secrets=true",
        "/api/v1/users/alice.martin?secrets=true",
        "/api/v1/import?dry_run=true&show_secrets=true",
        "/api/v1/render/00:15:65:12:34:56",
    ] {
        let method = if path.contains("import") {
            "POST"
        } else {
            "GET"
        };
        let r = api(
            &server,
            method,
            path,
            Some(&token),
            &["--data-binary", "username\n"],
        );
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(!r.text().contains("Alice-Sip-2024-xyz"));
    }
    let r = api(&server, "GET", "/api/v1/export", Some(&token), &[]);
    assert!(!r.text().contains("Alice-Sip-2024-xyz"));
    // Malformed multipart and bad options are usage errors, not crashes.
    let r = api(
        &server,
        "POST",
        "/api/v1/import",
        Some(&token),
        &[
            "-H",
            "Content-Type: multipart/form-data; boundary=x",
            "--data-binary",
            "--x\r\ngarbage",
        ],
    );
    assert_eq!(
        (r.status, r.json()["exit_code"].as_i64()),
        (400, Some(2)),
        "{}",
        r.text()
    );
    let r = api(
        &server,
        "POST",
        "/api/v1/import?mode=merge",
        Some(&token),
        &["--data-binary", "a"],
    );
    assert_eq!(r.status, 400);
    // A render is a reveal: refused before its MAC is even read.
    let r = api(
        &server,
        "GET",
        "/api/v1/render/not-a-mac",
        Some(&token),
        &[],
    );
    assert_eq!(r.status, 403);
    let r = api(&server, "GET", "/api/v1/users/nobody", Some(&token), &[]);
    assert_eq!((r.status, r.json()["exit_code"].as_i64()), (404, Some(1)));
    let r = api(&server, "DELETE", "/api/v1/users", Some(&token), &[]);
    assert_eq!(r.status, 405);
    server.stop_ok();

    let cfg = tmp.path().join("admin.toml");
    std::fs::write(
        &cfg,
        "[admin]\nanonymous_loopback = true\nexpose_secrets = true\nmax_body_bytes = 1024\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let r = api(
        &server,
        "GET",
        "/api/v1/export?include_secrets=true",
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Alice-Sip-2024-xyz"));
    // With the opt-in a render answers, and a bad MAC is a usage error.
    let r = api(
        &server,
        "GET",
        &format!("/api/v1/render/{ALICE_MAC}"),
        None,
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = api(&server, "GET", "/api/v1/render/not-a-mac", None, &[]);
    assert_eq!(r.status, 400, "{}", r.text());
    let body = format!("@{}", users_csv().display());
    let r = api(
        &server,
        "POST",
        "/api/v1/import?dry_run=true",
        None,
        &["--data-binary", &body],
    );
    assert_eq!(r.status, 413, "{}", r.text());
    server.stop_ok();
}

/// `RUST_LOG=debug` (every crate): neither the token nor any SIP password
/// appears in the server's log while the API, the socket and the
/// provisioning listeners are used.
#[test]
fn no_token_or_sip_password_in_debug_logs() {
    let (_tmp, data, server, token) = serving_logged("debug");
    let body = format!("@{}", users_csv().display());
    for (method, path) in [
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/export"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/import?show_secrets=true"),
        ("POST", "/api/v1/import"),
    ] {
        api(
            &server,
            method,
            path,
            Some(&token),
            &["--data-binary", &body],
        );
        api(
            &server,
            method,
            path,
            Some("apt_wrong-token-value"),
            &["--data-binary", &body],
        );
    }
    assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    // Through the socket, secrets are shown to the data directory's owner.
    let secrets = autoprov(&data, &["export", "--include-secrets"]);
    assert!(
        secrets.status.success(),
        "{}",
        String::from_utf8_lossy(&secrets.stderr)
    );
    let secrets = String::from_utf8(secrets.stdout).unwrap();
    assert!(secrets.contains("Alice-Sip-2024-xyz"));
    let imported = autoprov(
        &data,
        &[
            "import",
            users_csv().to_str().unwrap(),
            "--show-secrets",
            "--mode",
            "replace",
            "--yes",
        ],
    );
    assert!(imported.status.success());
    let log = server.stop_ok();
    assert!(
        log.contains("admin API"),
        "no admin log lines at all:\n{log}"
    );
    assert!(!log.contains(&token), "token in the log");
    assert!(
        !log.contains("apt_wrong-token-value"),
        "presented token in the log"
    );
    let mut reader = csv_rows(&secrets);
    let header = reader.remove(0);
    let col = header
        .iter()
        .position(|h| h == "sip_password")
        .expect("sip_password column");
    let passwords: Vec<&String> = reader
        .iter()
        .filter_map(|r| r.get(col))
        .filter(|p| !p.is_empty())
        .collect();
    assert!(passwords.len() >= 10, "{passwords:?}");
    for p in passwords {
        assert!(!log.contains(p.as_str()), "SIP password {p:?} in the log");
    }
}

/// Minimal CSV split for the export (no quoted commas in these columns).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The endpoints a load balancer calls without a token; everything else
/// needs one.
const UNAUTHENTICATED: [&str; 2] = ["/healthz", "/readyz"];

/// docs/openapi.yaml documents exactly the endpoints tested above, each
/// needing a token, plus [`UNAUTHENTICATED`], the only ones it marks
/// `security: []`, which answer without one.
#[test]
fn openapi_file_lists_every_endpoint() {
    let doc = std::fs::read_to_string(repo("docs/openapi.yaml")).expect("docs/openapi.yaml");
    assert!(doc.starts_with("openapi: 3."));
    // Each path with whether its block opts out of the global bearer rule.
    let mut paths: BTreeMap<String, bool> = BTreeMap::new();
    let mut current: Option<String> = None;
    for l in doc.lines() {
        if l.starts_with("  /") && l.ends_with(':') {
            let p = l.trim().trim_end_matches(':').to_string();
            paths.insert(p.clone(), false);
            current = Some(p);
        } else if !l.starts_with("  ") && !l.is_empty() {
            current = None;
        } else if l.trim() == "security: []"
            && let Some(p) = &current
        {
            paths.insert(p.clone(), true);
        }
    }
    let open: std::collections::BTreeSet<&str> = paths
        .iter()
        .filter(|(_, open)| **open)
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(open, UNAUTHENTICATED.into_iter().collect());
    let documented: std::collections::BTreeSet<String> = paths
        .into_iter()
        .filter(|(_, open)| !open)
        .map(|(p, _)| p)
        .collect();
    let tested: std::collections::BTreeSet<String> = endpoints(Path::new("x"))
        .into_iter()
        .map(|(_, p, _, _)| {
            let p = p.split('?').next().unwrap_or_default().to_string();
            p.replace("alice.martin", "{username}")
                .replace("/sources/hr/", "/sources/{name}/")
                .replace(ALICE_MAC, "{mac}")
        })
        .collect();
    assert_eq!(documented, tested);
    // What the file promises of the open ones holds.
    let (_tmp, data) = imported(&users_csv());
    let server = Server::start(&data, &[], &[]);
    for (path, body) in UNAUTHENTICATED.into_iter().zip(["ok\n", "ready\n"]) {
        let a = api(&server, "GET", path, None, &[]);
        assert_eq!((a.status, a.text().as_str()), (200, body), "{path}");
    }
    server.stop_ok();
}
