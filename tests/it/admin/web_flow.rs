//! The admin page as an administrator runs a rollout from it, in one
//! headless Chromium session (tests/it/admin/web.rs's `Browser`): fix and
//! retry with the file picker on the same file name, a `replace` whose
//! confirm is cancelled (nothing written) and then accepted, a misspelled
//! key column that blocks Apply until ignored, a keyboard-only upload, the
//! single-user operations (edit, rotate the SIP password, add and remove a
//! phone, delete a user: the confirm names the user, cancelling writes
//! nothing), each seen by `autoprov users show` and in the history tab, the
//! phones and sources tabs, a 5,000-row preview that keeps Apply in view and pages
//! through its rows, and a revoked token that sends the page back to the
//! login.
//!
//! Every step is screenshotted at 1400×1000 and 390×844 under
//! target/test-artifacts/ (`admin-page-STEP-wide.png`, `-phone.png`) and
//! checked with axe-core (no serious or critical violation) at both sizes.

use serde_json::{Value, json};

use super::web::Browser;
use crate::support::cli::{autoprov, create_token};
use crate::support::fixtures::{UA, users_csv};
use crate::support::heavy;
use crate::support::server::Server;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

fn users_text(data: &std::path::Path) -> String {
    let out = autoprov(data, &["users"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The number of users the CLI lists.
fn user_count(data: &std::path::Path) -> usize {
    let out = autoprov(data, &["users", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("users JSON");
    v.as_array()
        .map(Vec::len)
        .or_else(|| v["total"].as_u64().map(|n| n as usize))
        .unwrap_or(0)
}

/// The viewport-relative box of `css` and the viewport: `[top, bottom,
/// left, right, innerHeight, innerWidth]`.
fn rect(browser: &Browser, css: &str) -> Vec<f64> {
    let v = browser.exec(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();
         return [r.top, r.bottom, r.left, r.right, innerHeight, innerWidth];",
        json!([css]),
    );
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// The text of the download the page saved as `name`, waiting for it.
fn saved(browser: &Browser, name: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let v = browser.exec(
            "const s = (window.saved || []).find(([n]) => n === arguments[0]); return s ? s[1] : null;",
            json!([name]),
        );
        if let Some(t) = v.as_str() {
            return t.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "{name} never saved");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `users show NAME` through the CLI (the running server's socket), as JSON.
fn shown(data: &std::path::Path, name: &str) -> Option<Value> {
    let out = autoprov(
        data,
        &["users", "show", name, "--secrets", "--format", "json"],
    );
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("users show JSON"))
}

/// The user's first SIP password as the CLI shows it ("" when none).
fn sip_password(data: &std::path::Path, name: &str) -> String {
    let u = shown(data, name).unwrap_or_else(|| panic!("no user {name}"));
    u["lines"][0]["sip_password"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The MACs (plain) of the user's phones as the CLI shows them.
fn macs(data: &std::path::Path, name: &str) -> Vec<String> {
    let u = shown(data, name).unwrap_or_else(|| panic!("no user {name}"));
    u["phones"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["mac"].as_str())
                .map(|m| m.replace([':', '-', '.'], "").to_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// Empties the status line, so the next wait reads only what comes after.
fn clear_status(browser: &Browser) {
    browser.exec(
        "document.querySelector('#status').textContent = '';",
        json!([]),
    );
}

/// Adds a phone to gina.novak and removes it (the confirm names it), then
/// deletes kim.tanaka: the confirm names the user, cancelling writes
/// nothing, confirming deletes. Each checked with `autoprov users show`.
fn single_user_operations(browser: &Browser, data: &std::path::Path) {
    const NEW_MAC: &str = "805ec0777001";
    browser.type_into("#add-mac", "80:5e:c0:77:70:01");
    browser.type_into("#add-model", "yealink-t54w");
    browser.click("#add-phone");
    browser.wait("#user-msg", |t| t.contains("added"));
    browser.wait("#user-phones li", |t| t.contains(NEW_MAC));
    assert!(macs(data, "gina.novak").contains(&NEW_MAC.to_string()));
    browser.step("user-phone-added", true);

    browser.click(&format!("#user-phones button[data-remove='{NEW_MAC}']"));
    browser.wait("#confirm-h", |t| t.contains(NEW_MAC));
    browser.step("user-phone-remove-confirm", true);
    clear_status(browser);
    browser.click("#confirm-no");
    browser.wait("#status", |t| t.contains("nothing was written"));
    assert!(macs(data, "gina.novak").contains(&NEW_MAC.to_string()));
    browser.click(&format!("#user-phones button[data-remove='{NEW_MAC}']"));
    browser.click("#confirm-yes");
    browser.wait("#user-msg", |t| t.contains("removed"));
    assert_eq!(macs(data, "gina.novak"), ["0c383e07e16c"]);

    // Delete: the confirm names the user; cancel keeps, confirm deletes.
    browser.type_into("#users-q", "kim.tanaka");
    browser.wait("#users-count", |t| t.contains("1 user match"));
    browser.click("#users tr[data-username='kim.tanaka'] button");
    browser.wait("#user-h", |t| t.contains("kim.tanaka"));
    browser.click("#user-delete");
    browser.wait("#confirm-h", |t| t == "Delete kim.tanaka?");
    browser.wait("#confirm-list li", |t| t == "kim.tanaka");
    browser.wait("#confirm-yes", |t| t == "Delete kim.tanaka");
    browser.step("user-delete-confirm", true);
    clear_status(browser);
    browser.click("#confirm-no");
    browser.wait("#status", |t| t.contains("nothing was written"));
    assert!(
        shown(data, "kim.tanaka").is_some(),
        "cancel deleted kim.tanaka"
    );
    browser.click("#user-delete");
    browser.click("#confirm-yes");
    browser.wait("#status", |t| t.contains("User kim.tanaka deleted"));
    assert!(
        shown(data, "kim.tanaka").is_none(),
        "kim.tanaka still there"
    );
    browser.exec(
        "const q = document.querySelector('#users-q'); q.value = ''; q.dispatchEvent(new Event('input'));",
        json!([]),
    );
    browser.wait("#users-count", |t| t == "11 users.");
    browser.step("user-deleted", true);
}

/// Tabs (at most 40 times) until `id` has the focus.
fn tab_to(browser: &Browser, id: &str) {
    for _ in 0..40 {
        if browser.focused() == id {
            return;
        }
        browser.press(TAB);
    }
    panic!("Tab never reached #{id} (focus on #{})", browser.focused());
}

#[test]
fn admin_page_rollout_end_to_end() {
    let _heavy = heavy();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[], &[]);
    let Some(browser) = Browser::start() else {
        server.stop_ok();
        return;
    };
    let token = create_token(&data, "page");
    browser.resize(1400, 1000);
    browser.go(&format!("{}/", server.admin));
    browser.wait("#login-h", |t| t == "Log in");
    // Script errors from here on (a TypeError on an expired token, say).
    browser.exec(
        "window.__errors = [];
         addEventListener('error', (e) => window.__errors.push(String(e.message)));
         addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));",
        json!([]),
    );
    browser.step("login", true);
    // A wrong token is refused on the page.
    browser.type_into("#token", "apt_wrong");
    browser.click("#login-btn");
    browser.wait("#login-error", |t| t.contains("not valid"));
    browser.type_into("#token", &token);
    browser.press(ENTER);
    browser.wait("#drop", |t| t.contains("Drop a CSV"));
    let tab = browser.wait("button[data-view='import']", |_| true);
    assert_eq!(browser.attr(&tab, "aria-current").as_deref(), Some("page"));

    // 1. Fix and retry with the file picker, same file name each time.
    let text = std::fs::read_to_string(users_csv()).unwrap();
    let file = tmp.path().join("users.csv");
    std::fs::write(&file, text.replace("0c383e07e16c", "0c383e07e16z")).unwrap();
    browser.choose_file(&file);
    browser.wait("#verdict", |t| t.contains("has problems"));
    let cell = browser.wait("#rows tr[data-row='7'] td.error", |t| t == "0c383e07e16z");
    assert_eq!(browser.attr(&cell, "data-column").as_deref(), Some("mac"));
    let title = browser.attr(&cell, "title").unwrap_or_default();
    assert!(title.contains("not a MAC address"), "{title}");
    browser.wait("#problems-box", |t| t.contains("Problems"));
    browser.step("errors", true);
    // The error report as CSV (the page's save() caught, not the OS dialog).
    browser.exec(
        "window.saved = [];
         window.save = (blob, name) => blob.text().then((t) => window.saved.push([name, t]));",
        json!([]),
    );
    browser.click("#dl-report");
    let report = saved(&browser, "users-errors.csv");
    assert!(
        report.starts_with("row,line,column,code,message")
            && report.lines().any(|l| l.starts_with("7,8,mac,E_")),
        "{report}"
    );
    // The problem links to its row.
    browser.click("#problems button[data-goto='7']");
    assert_eq!(browser.focused(), "row-7");
    std::fs::write(&file, &text).unwrap();
    browser.choose_file(&file);
    browser.wait("#verdict", |t| t.contains("The file is valid"));
    browser.wait("#summary", |t| t.contains("create 12"));
    // Changing an option re-runs the preview from memory.
    browser.exec(
        "const e = document.querySelector('#encoding'); e.value = 'utf-8'; e.dispatchEvent(new Event('change'));",
        json!([]),
    );
    browser.wait("#dialect", |t| t.contains("utf-8") && t.contains("12 rows"));
    // Creates say what they will set up.
    browser.wait("#changes tr[data-user='gina.novak']", |t| {
        t.contains("1007") && t.contains("0c383e07e16c") && t.contains("will be generated")
    });
    // The file changes on disk after the preview: Apply sends what was previewed.
    std::fs::write(&file, "username\nsomeone.else\n").unwrap();
    browser.step("valid", false);
    browser.click("#apply");
    browser.wait("#status", |t| t.contains("Applied: created 12"));
    assert_eq!(user_count(&data), 12);
    browser.click("#dl-template");
    assert!(saved(&browser, "autoprov-template.csv").starts_with("username,"));
    browser.click("#dl-export");
    assert!(saved(&browser, "autoprov-users.csv").contains("gina.novak"));

    // 3. A misspelled key column blocks Apply until ignored.
    let typo = tmp.path().join("typo.csv");
    std::fs::write(
        &typo,
        "username,display_name,Extention\nmia.klein,Mia Kowalska-?ak,2250\n",
    )
    .unwrap();
    browser.choose_file(&typo);
    browser.wait("#verdict", |t| t.contains("has problems"));
    let apply = browser.wait("#apply", |_| true);
    assert!(browser.attr(&apply, "disabled").is_some(), "Apply enabled");
    browser.step("misspelled-column", false);
    browser.click("#problems button[data-ignore='Extention']");
    browser.wait("#verdict", |t| t.contains("The file is valid"));
    browser.wait("#problems li", |t| {
        t.contains("Ignored on purpose: Extention")
    });
    // LibreOffice's '?' for a letter it could not encode is shown.
    browser.wait("#problems li", |t| t.contains("W_LOST_LETTER"));
    // sync without a source: explained, and refused in plain words.
    browser.exec(
        "const e = document.querySelector('#mode'); e.value = 'sync'; e.dispatchEvent(new Event('change'));",
        json!([]),
    );
    browser.wait("#mode-help", |t| t.contains("DELETES"));
    browser.wait("#problems li", |t| t.contains("E_SYNC_NEEDS_SOURCE"));

    // 2. replace: deletions in red, a confirm naming them; cancel writes nothing.
    let ten: String = text.lines().take(11).map(|l| format!("{l}\n")).collect();
    let fewer = tmp.path().join("fewer.csv");
    std::fs::write(&fewer, &ten).unwrap();
    browser.exec(
        "const e = document.querySelector('#mode'); e.value = 'replace'; e.dispatchEvent(new Event('change'));",
        json!([]),
    );
    browser.wait("#mode-help", |t| t.contains("DELETED"));
    browser.choose_file(&fewer);
    browser.wait("#verdict", |t| t.contains("DELETES 2 users"));
    browser.wait("#changes tr.action-delete", |t| t.contains("lea.dubois"));
    browser.step("replace-preview", false);
    // The README's picture (docs/admin-page.png is a copy of this one).
    browser.resize(1000, 720);
    browser.exec("window.scrollTo(0, 250);", json!([]));
    browser.screenshot("admin-page-docs.png");
    browser.click("#apply");
    browser.wait("#confirm-text", |t| t.contains("deletes 2 users"));
    browser.step("replace-confirm", true);
    browser.click("#confirm-no");
    browser.wait("#status", |t| t.contains("nothing was written"));
    assert_eq!(user_count(&data), 12, "cancel wrote something");
    browser.click("#apply");
    browser.click("#confirm-yes");
    browser.wait("#status", |t| {
        t.contains("Applied") && t.contains("deleted 2")
    });
    assert_eq!(user_count(&data), 10);
    assert!(!users_text(&data).contains("lea.dubois"));

    // 5. Keyboard only: back to upsert, the drop zone opens the picker on
    // Enter, "choose one" is the next stop, Apply is reached by Tab.
    browser.exec(
        "const e = document.querySelector('#mode'); e.value = 'upsert'; e.dispatchEvent(new Event('change'));
         window.picked = 0;
         document.querySelector('#file').addEventListener('click', (e) => { window.picked += 1; e.preventDefault(); });
         document.activeElement.blur();",
        json!([]),
    );
    tab_to(&browser, "drop");
    browser.press(ENTER);
    browser.press(" ");
    tab_to(&browser, "choose");
    browser.press(ENTER);
    assert_eq!(browser.exec("return window.picked;", json!([])), json!(3));
    // The picker's answer (WebDriver cannot drive the OS dialog).
    browser.choose_file(&users_csv());
    browser.wait("#summary", |t| t.contains("create 2"));
    tab_to(&browser, "apply");
    browser.press(ENTER);
    browser.wait("#status", |t| t.contains("Applied: created 2"));
    assert_eq!(user_count(&data), 12);

    // Users: search, natural sort, a single-user edit the CLI sees.
    browser.click("button[data-view='users']");
    browser.wait("#users-count", |t| t.contains("12 users"));
    browser.type_into("#users-q", "1007");
    browser.wait("#users-count", |t| t.contains("1 user match"));
    browser.click("#users tr[data-username='gina.novak'] button");
    browser.wait("#user-h", |t| t.contains("gina.novak"));
    browser.type_into("#edit-extension", "2251");
    browser.click("#user-save");
    browser.wait("#user-msg", |t| t.contains("Saved"));
    let shown = autoprov(&data, &["users", "show", "gina.novak"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("2251"), "users show:\n{shown}");
    let before = sip_password(&data, "gina.novak");
    browser.click("#user-rotate");
    browser.wait("#user-msg", |t| t.contains("new SIP password"));
    let after = sip_password(&data, "gina.novak");
    assert!(
        !after.is_empty() && after != "***",
        "no SIP password shown after the rotation"
    );
    assert!(
        before != after,
        "the rotation left the SIP password as it was"
    );
    browser.step("users", true);
    single_user_operations(&browser, &data);

    // Phones: one fetched over HTTPS, the rest never fetched (neutral).
    assert_eq!(server.get_https("/805ec0123456.cfg", Some(UA)).status, 200);
    browser.click("button[data-view='phones']");
    // The last fetch says how it came.
    browser.wait("#phones tr[data-mac='805ec0123456']", |t| {
        t.contains("provisioned") && t.ends_with("via https")
    });
    let never = browser.wait("#phones tr[data-mac='0004f2aabbcc']", |t| {
        t.contains("never fetched")
    });
    assert_eq!(
        browser.attr(&never, "data-state").as_deref(),
        Some("never_fetched")
    );
    browser.click("#phones tr[data-mac='805ec0123456'] button");
    browser.wait("#fetches tbody tr", |t| t.contains("805ec0123456.cfg"));
    let detail = browser.text(&browser.wait("#phone-detail", |t| t.contains("Config as served")));
    assert!(!detail.contains("Alice-Sip-2024-xyz"), "{detail}");
    browser.exec(
        "const e = document.querySelector('#phones-state'); e.value = 'provisioned'; e.dispatchEvent(new Event('change'));",
        json!([]),
    );
    browser.wait("#phones-count", |t| t.contains("1 match"));
    assert_eq!(browser.find_all("#phones tbody tr").len(), 1);
    browser.step("phones", true);

    browser.click("button[data-view='history']");
    browser.wait("#history tbody tr", |t| t.contains("replace"));
    // Each single-user operation is a history line of the page's.
    for op in [
        "edit",
        "rotate-sip-password",
        "add-phone",
        "remove-phone",
        "delete",
    ] {
        browser.wait("#history tbody tr", |t| {
            t.split_whitespace().any(|c| c == op) && t.contains("(admin page)")
        });
    }
    browser.step("history", true);
    browser.click("button[data-view='sources']");
    browser.wait("#sources-empty", |t| t.contains("No sources"));
    browser.step("sources", true);

    // 6. 5,000 rows: Apply stays in view, the rows page through all.
    browser.click("button[data-view='import']");
    let mut big = String::from("username,display_name,extension,mac\n");
    for i in 0..5000 {
        big.push_str(&format!(
            "anna.becker{i},Anna Becker {i},{},805ec0{:06x}\n",
            20000 + i,
            i
        ));
    }
    browser.drop_file("#drop", "big.csv", &big);
    browser.wait("#summary", |t| t.contains("create 5000"));
    browser.wait("#rows-pager", |t| t.contains("1–100 of 5,000 rows"));
    for (w, h) in [(1400, 1000), (390, 844)] {
        browser.resize(w, h);
        browser.exec("window.scrollTo(0, document.body.scrollHeight);", json!([]));
        let r = rect(&browser, "#apply");
        assert!(
            r.len() == 6 && r[0] >= 0.0 && r[1] <= r[4] && r[2] >= 0.0 && r[3] <= r[5],
            "Apply out of view at {w}x{h}: {r:?}"
        );
        assert!(
            browser
                .exec("return document.body.scrollHeight;", json!([]))
                .as_f64()
                < Some(20000.0),
            "page too tall"
        );
    }
    browser.resize(1400, 1000);
    // Scrolled to, as the admin would (it sits under the sticky summary now).
    browser.exec(
        "document.querySelector('#rows-pager').scrollIntoView({block: 'center'});",
        json!([]),
    );
    browser.click("#rows-pager button.next");
    browser.wait("#rows-pager", |t| t.contains("101–200 of 5,000 rows"));
    browser.click("#rows-pager button.last");
    browser.wait("#rows tbody tr:last-child th", |t| t == "5001");
    browser.step("big-preview", false);

    // 4. A revoked token: the next call sends the page back to the login.
    let out = autoprov(&data, &["admin", "token", "revoke", "page"]);
    assert!(out.status.success());
    browser.click("button[data-view='users']");
    browser.wait("#login-error", |t| t.contains("session expired"));
    let app = browser.wait("#app", |_| true);
    assert!(browser.attr(&app, "hidden").is_some());
    let errors = browser.exec("return window.__errors || [];", json!([]));
    assert_eq!(errors, json!([]), "page errors");
    // The console holds the revoked token's 401 (so the log is read), and
    // no favicon 401 from any page load.
    let console = browser.console_errors();
    assert!(
        console.iter().any(|m| m.contains("401")) && console.iter().all(|m| !m.contains("favicon")),
        "{console:#?}"
    );
    browser.step("expired", false);
    drop(browser);
    server.stop_ok();
}
