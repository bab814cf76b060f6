//! The admin API the page is built on, with curl against the real server:
//! paged and naturally sorted lists with counts, phone states, the masked
//! config preview, downloads, deletions that need a confirmation, the
//! preview's details, and the 401 the page recognises.

use crate::support::cli::{autoprov, create_token, imported};
use crate::support::fixtures::{ALICE_MAC, users_csv};
use crate::support::server::{Answer, Server, api};

const ALICE_SIP_PW: &str = "Alice-Sip-2024-xyz";

fn alice_ua(firmware: &str) -> String {
    format!("Yealink SIP-T54W {firmware} 80:5e:c0:12:34:56")
}

/// The example users plus two whose names sort differently as text, served
/// with a firmware target for the T54W, and a token.
fn serving() -> (tempfile::TempDir, std::path::PathBuf, Server, String) {
    let (tmp, data) = imported(&users_csv());
    let extra = tmp.path().join("more.csv");
    std::fs::write(
        &extra,
        "username,first_name,extension\nanna.becker1024,Anna,3024\nanna.becker224,Anna,3224\n",
    )
    .unwrap();
    let out = autoprov(&data, &["import", extra.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fw = tmp.path().join("fw");
    std::fs::create_dir_all(&fw).unwrap();
    std::fs::write(fw.join("T54W-96.86.0.110.rom"), b"image").unwrap();
    let config = tmp.path().join("autoprov.toml");
    std::fs::write(
        &config,
        format!(
            "[firmware]\ndir = {:?}\n[firmware.\"yealink-t54w\"]\nversion = \"96.86.0.110\"\nfile = \"T54W-96.86.0.110.rom\"\n",
            fw.display().to_string()
        ),
    )
    .unwrap();
    let server = Server::start(&data, &["--config", config.to_str().unwrap()], &[]);
    let token = create_token(&data, "ci");
    (tmp, data, server, token)
}

fn get(server: &Server, token: &str, path: &str) -> Answer {
    api(server, "GET", path, Some(token), &[])
}

fn upload(server: &Server, token: &str, path: &str, csv: &str) -> Answer {
    api(
        server,
        "POST",
        path,
        Some(token),
        &["--data-binary", csv, "-H", "Content-Type: text/csv"],
    )
}

#[test]
fn users_and_phones_page_search_sort_and_count() {
    let (_tmp, _data, server, token) = serving();
    // Without page, the old shape: an array.
    assert!(get(&server, &token, "/api/v1/users").json().is_array());

    let a = get(&server, &token, "/api/v1/users?page=1&per_page=5");
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(
        (v["total"].as_u64(), v["matched"].as_u64()),
        (Some(14), Some(14))
    );
    assert_eq!(v["items"].as_array().unwrap().len(), 5);
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "alice.martin",
            "anna.becker224",
            "anna.becker1024",
            "bob.schulz",
            "carol.jones"
        ]
    );
    // The last page has what is left; descending order; no secrets.
    let v = get(
        &server,
        &token,
        "/api/v1/users?page=3&per_page=5&sort=-name",
    )
    .json();
    assert_eq!(v["items"].as_array().unwrap().len(), 4);
    assert_eq!(v["items"][3]["username"], "alice.martin");
    assert!(!v.to_string().contains(ALICE_SIP_PW));
    // Search by MAC in another notation, and by extension.
    let v = get(&server, &token, "/api/v1/users?page=1&q=80-5E-C0-12-34-56").json();
    assert_eq!(v["matched"], 1);
    assert_eq!(v["items"][0]["username"], "alice.martin");
    let v = get(&server, &token, "/api/v1/users?page=1&q=3224").json();
    assert_eq!(v["items"][0]["username"], "anna.becker224");
    assert_eq!(get(&server, &token, "/api/v1/users?page=0").status, 400);

    // Phones: every phone never fetched, then alice's bootstrap, then its
    // full file on old firmware (outdated), then refused.
    let v = get(&server, &token, "/api/v1/phones?page=1&per_page=100").json();
    let phones = v["total"].as_u64().unwrap();
    assert!(phones >= 10, "{v}");
    assert_eq!(v["states"]["never"].as_u64(), Some(phones), "{v}");
    let boot = server.get_http("/805ec0123456.cfg", Some(&alice_ua("96.86.0.100")));
    assert_eq!(boot.status, 200);
    let v = get(
        &server,
        &token,
        &format!("/api/v1/phones?page=1&q={ALICE_MAC}"),
    )
    .json();
    assert_eq!(v["matched"], 1, "{v}");
    let p = &v["items"][0];
    assert_eq!(p["state"], "bootstrap_only", "{p}");
    assert!(p["state_reason"].as_str().unwrap().contains("HTTPS"), "{p}");
    let at = p["last_fetch"].as_str().unwrap();
    assert!(at.ends_with('Z') && !at.contains('.'), "{at}");
    assert_eq!(p["last_status"], 200);
    let full = server.get_https("/805ec0123456.cfg", Some(&alice_ua("96.86.0.100")));
    assert_eq!(full.status, 200);
    let v = get(&server, &token, "/api/v1/phones?state=outdated").json();
    assert_eq!(v["matched"], 1, "{v}");
    assert_eq!(v["items"][0]["mac"], ALICE_MAC);
    assert!(
        v["items"][0]["state_reason"]
            .as_str()
            .unwrap()
            .contains("96.86.0.110")
    );
    assert_eq!(v["states"]["outdated"], 1);
    assert_eq!(v["states"]["never"].as_u64(), Some(phones - 1));
    let v = get(&server, &token, "/api/v1/phones?state=never&per_page=2").json();
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_eq!(v["matched"].as_u64(), Some(phones - 1));
    assert_eq!(
        get(&server, &token, "/api/v1/phones?state=happy").status,
        400
    );
    server.stop_ok();
}

#[test]
fn phone_preview_masks_every_secret() {
    let (_tmp, data, server, token) = serving();
    let a = get(
        &server,
        &token,
        &format!("/api/v1/phones/{ALICE_MAC}/preview"),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    let file = &v["files"][0];
    assert_eq!(file["name"], "805ec0123456.cfg");
    let content = file["content"].as_str().unwrap();
    assert!(
        content.contains("1001"),
        "the extension is shown: {content}"
    );
    assert!(content.contains("********"), "{content}");
    assert!(
        !content.contains(ALICE_SIP_PW),
        "SIP password in the preview"
    );
    // The phone's web passwords, issued by that rendering, are masked too.
    let shown = autoprov(
        &data,
        &["phones", "show", ALICE_MAC, "--secrets", "--format", "json"],
    );
    assert!(shown.status.success());
    let p: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    for k in ["admin_password", "user_password"] {
        let pw = p[k].as_str().expect(k);
        assert!(pw.len() >= 8 && !content.contains(pw), "{k} in the preview");
    }
    assert_eq!(
        get(&server, &token, "/api/v1/phones/805ec0ffffff/preview").status,
        404
    );
    server.stop_ok();
}

#[test]
fn downloads_and_previews_for_the_page() {
    let (_tmp, _data, server, token) = serving();
    // The template: canonical header, two rows that import cleanly.
    let t = get(&server, &token, "/api/v1/template.csv");
    assert_eq!(t.status, 200);
    assert!(t.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        t.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let text = t.text();
    assert!(text.starts_with("username,first_name,last_name,"), "{text}");
    assert_eq!(text.lines().count(), 3);
    let a = upload(
        &server,
        &token,
        "/api/v1/import?dry_run=true&format=json",
        &text,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["summary"]["created"], 2);
    assert_eq!(a.json()["summary"]["warnings"], 0);
    let e = get(&server, &token, "/api/v1/export");
    assert!(
        e.header("content-disposition")
            .unwrap()
            .contains("autoprov-users.csv")
    );

    // The error report as CSV.
    let bad = "username,first_name,extension,mac\nx1,X,4001,zz\nx2,Y,4001,\n";
    let r = upload(&server, &token, "/api/v1/import/preview?report=csv", bad);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let body = r.text();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "row,line,column,code,message");
    assert!(
        lines.iter().any(|l| l.starts_with("1,2,mac,E_MAC_FORMAT,")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("2,3,extension,E_EXTENSION_DUPLICATE,")),
        "{lines:?}"
    );

    // The preview of creates: extension, MAC, model, the password marker.
    let csv =
        "username,first_name,extension,mac,phone_model\nmm,Max,4100,805ec0000042,yealink-t54w\n";
    let v = upload(&server, &token, "/api/v1/import/preview", csv).json();
    let c = &v["changes"][0];
    assert_eq!(c["action"], "create", "{v}");
    assert_eq!(c["extension"][0], "4100");
    assert_eq!(c["macs"][0], "805ec0000042");
    assert_eq!(c["models"][0], "yealink-t54w");
    assert_eq!(c["site"], "default");
    assert_eq!(c["sip_password"], "will be generated");
    assert_eq!(v["deletions"]["count"], 0);
    // A misspelled key column blocks, and ignore_column lets it through.
    let misspelled = "username,first_name,Extention\nmm,Max,4100\n";
    let v = upload(&server, &token, "/api/v1/import/preview", misspelled).json();
    assert_ne!(v["exit_code"], 0, "{v}");
    assert_eq!(v["report"]["errors"][0]["code"], "E_UNKNOWN_COLUMN");
    // The other columns still show how they read.
    assert_eq!(
        v["table"]["columns"],
        serde_json::json!(["username", "first_name", null])
    );
    let v = upload(
        &server,
        &token,
        "/api/v1/import/preview?ignore_column=Extention&ignore_column=other",
        misspelled,
    )
    .json();
    assert_eq!(v["exit_code"], 0, "{v}");
    server.stop_ok();
}

#[test]
fn deleting_imports_ask_first_and_sync_needs_a_source_in_plain_words() {
    let (_tmp, data, server, token) = serving();
    let two = "username,first_name,extension\nalice.martin,Alice,1001\nbob.schulz,Bob,1002\n";
    // The preview names the deletions.
    let v = upload(&server, &token, "/api/v1/import/preview?mode=replace", two).json();
    assert_eq!(v["deletions"]["count"], 12, "{v}");
    assert!(
        v["deletions"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "carol.jones")
    );
    // Applying without yes: 409 with the count, nothing written.
    let a = upload(&server, &token, "/api/v1/import?mode=replace", two);
    assert_eq!(a.status, 409, "{}", a.text());
    let p = a.json();
    assert_eq!(p["code"], "confirm_deletions");
    assert_eq!(p["deletions"], 12);
    let users = autoprov(&data, &["users", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 14, "nothing deleted");
    // Sync without a source: the preview says why, in words, not flags.
    let v = upload(&server, &token, "/api/v1/import/preview?mode=sync", two).json();
    assert_eq!(v["exit_code"], 2, "{v}");
    let e = &v["report"]["errors"][0];
    assert_eq!(e["code"], "E_SYNC_NEEDS_SOURCE");
    assert!(!e["message"].as_str().unwrap().contains("--"), "{e}");
    let a = upload(&server, &token, "/api/v1/import?mode=sync", two);
    assert_eq!(a.status, 400);
    assert!(
        !a.json()["detail"].as_str().unwrap().contains("--"),
        "{}",
        a.text()
    );
    // Confirmed: applied.
    let a = upload(
        &server,
        &token,
        "/api/v1/import?mode=replace&yes=true&format=json",
        two,
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()["summary"]["deleted"], 12);
    server.stop_ok();
}

#[test]
fn a_revoked_token_is_a_problem_the_page_recognises() {
    let (_tmp, data, server, token) = serving();
    assert_eq!(get(&server, &token, "/api/v1/users").status, 200);
    let out = autoprov(&data, &["admin", "token", "revoke", "ci"]);
    assert!(out.status.success());
    let a = get(&server, &token, "/api/v1/users?page=1");
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(a.json()["code"], "token_invalid");
    let a = api(&server, "GET", "/api/v1/users", None, &[]);
    assert_eq!(a.json()["code"], "token_missing");
    // The browser's icon request needs no token and is no error.
    let f = api(&server, "GET", "/favicon.ico", None, &[]);
    assert!(f.status == 204 || f.status == 200, "{}", f.status);
    server.stop_ok();
}
