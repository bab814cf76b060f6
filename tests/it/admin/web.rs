//! The admin web page in headless Chromium, driven through chromedriver's
//! WebDriver protocol with curl: the `Browser` the page's tests share
//! (web_flow.rs runs a whole rollout with it), the column step on a foreign
//! export, and an LDAP source's preview. Screenshots go to
//! target/test-artifacts/.
//!
//! Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them);
//! skipped without them, except under CI=true.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cli::{autoprov, create_token};
use crate::support::fixtures::repo;
use crate::support::heavy;
use crate::support::server::Server;
use crate::support::tools::{find_in, unavailable};

/// WebDriver's key for an element reference.
pub(super) const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver on a free port, with one headless Chromium session.
pub(super) struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = wd(
            "DELETE",
            &format!("{}/session/{}", self.base, self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver call with curl; returns the `value` member.
pub(super) fn wd(method: &str, url: &str, body: Option<Value>) -> Value {
    use std::io::Write as _;
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "60", "-X", method, url]);
    // The body on stdin: axe-core's source is larger than an argument may be.
    if body.is_some() {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@-",
        ]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut stdin = child.stdin.take().expect("curl stdin");
    if let Some(b) = body {
        stdin
            .write_all(b.to_string().as_bytes())
            .expect("body to curl");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("curl");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{method} {url}: {}", String::from_utf8_lossy(&out.stdout)));
    v["value"].clone()
}

fn tool(name: &str) -> Option<PathBuf> {
    find_in(&["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"], name)
}

/// chromedriver on a port that was free just before; `None` if it exits
/// (the port was taken in between).
fn start_driver(driver: &Path) -> Option<(Child, String)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Command::new("curl")
        .args(["-sf", &format!("{base}/status")])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        if child.try_wait().expect("chromedriver status").is_some() {
            return None;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((child, base))
}

impl Browser {
    pub(super) fn start() -> Option<Browser> {
        let (Some(driver), Some(chromium)) = (tool("chromedriver"), tool("chromium")) else {
            return unavailable(
                "chromium/chromium-driver are not installed; install chromium and chromium-driver",
            );
        };
        // A port that was free a moment ago: another test's listener may
        // take it first, so a chromedriver that cannot bind it (it exits)
        // gets another one.
        let (child, base) = (0..5)
            .find_map(|_| start_driver(&driver))
            .expect("chromedriver did not start");
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1600",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let v = wd("POST", &format!("{base}/session"), Some(caps));
        let session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Some(Browser {
            driver: child,
            base,
            session,
            _profile: profile,
        })
    }

    pub(super) fn url(&self, rest: &str) -> String {
        format!("{}/session/{}{rest}", self.base, self.session)
    }

    pub(super) fn go(&self, url: &str) {
        wd("POST", &self.url("/url"), Some(json!({"url": url})));
    }

    /// The elements matching `css` now.
    pub(super) fn find_all(&self, css: &str) -> Vec<String> {
        let v = wd(
            "POST",
            &self.url("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits for the first element matching `css` whose text satisfies `ok`.
    #[track_caller]
    pub(super) fn wait(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for e in self.find_all(css) {
                let text = self.text(&e);
                if ok(&text) {
                    return e;
                }
            }
            if Instant::now() > deadline {
                let page = wd(
                    "POST",
                    &self.url("/execute/sync"),
                    Some(json!({"script": "return document.body.innerText;", "args": []})),
                );
                let seen: Vec<String> = self.find_all(css).iter().map(|e| self.text(e)).collect();
                panic!(
                    "no {css} as expected (those there read {seen:?}); the page reads:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(super) fn text(&self, e: &str) -> String {
        wd("GET", &self.url(&format!("/element/{e}/text")), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub(super) fn attr(&self, e: &str, name: &str) -> Option<String> {
        wd(
            "GET",
            &self.url(&format!("/element/{e}/attribute/{name}")),
            None,
        )
        .as_str()
        .map(str::to_string)
    }

    #[track_caller]
    pub(super) fn click(&self, css: &str) {
        let e = self.wait(css, |_| true);
        let v = wd(
            "POST",
            &self.url(&format!("/element/{e}/click")),
            Some(json!({})),
        );
        assert!(v.get("error").is_none(), "clicking {css}: {v}");
    }

    pub(super) fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css, |_| true);
        wd(
            "POST",
            &self.url(&format!("/element/{e}/clear")),
            Some(json!({})),
        );
        let r = wd(
            "POST",
            &self.url(&format!("/element/{e}/value")),
            Some(json!({"text": text})),
        );
        let now = wd(
            "GET",
            &self.url(&format!("/element/{e}/property/value")),
            None,
        );
        assert_eq!(now.as_str(), Some(text), "typing into {css}: {r}");
    }

    /// Drops a file with `content` on the element, as a drag from the
    /// desktop does (WebDriver cannot drag files, so the drop event is
    /// made in the page with a real `DataTransfer`).
    pub(super) fn drop_file(&self, css: &str, name: &str, content: &str) {
        let script = "const [css, name, text] = arguments;
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, {type: 'text/csv'}));
            const target = document.querySelector(css);
            target.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
            target.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));";
        wd(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": script, "args": [css, name, content]})),
        );
    }

    pub(super) fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let v = wd("GET", &self.url("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 screenshot"))
            .expect("valid base64");
        let dir = repo("target/test-artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub(super) fn exec(&self, script: &str, args: Value) -> Value {
        wd(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The window's size; headless Chromium's viewport is the window.
    pub(super) fn resize(&self, width: u32, height: u32) {
        wd(
            "POST",
            &self.url("/window/rect"),
            Some(json!({"width": width, "height": height})),
        );
    }

    /// What the file picker does: `path` chosen in the `#file` input.
    pub(super) fn choose_file(&self, path: &Path) {
        let input = self.wait("#file", |_| true);
        wd(
            "POST",
            &self.url(&format!("/element/{input}/value")),
            Some(json!({"text": path.display().to_string()})),
        );
    }

    /// Keys typed into whatever has the focus (`\u{E004}` Tab, `\u{E007}`
    /// Enter), as a keyboard-only user would.
    pub(super) fn press(&self, keys: &str) {
        let active = wd("GET", &self.url("/element/active"), None);
        let e = active[ELEMENT].as_str().expect("a focused element");
        wd(
            "POST",
            &self.url(&format!("/element/{e}/value")),
            Some(json!({"text": keys})),
        );
    }

    /// The console's errors since the last call (a failed load, say a
    /// favicon answered 401, is one).
    pub(super) fn console_errors(&self) -> Vec<String> {
        let v = wd(
            "POST",
            &self.url("/se/log"),
            Some(json!({"type": "browser"})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("no browser log: {v}")])
    }

    /// The id of the focused element.
    pub(super) fn focused(&self) -> String {
        self.exec("return document.activeElement.id || '';", json!([]))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// axe-core (tests/assets/axe, never served by the product) run in
    /// the page: the serious and critical violations, as "rule: targets".
    pub(super) fn axe_violations(&self) -> Vec<String> {
        let loaded = self.exec("return typeof window.axe === 'object';", json!([]));
        if loaded != Value::Bool(true) {
            let src = std::fs::read_to_string(repo("tests/assets/axe/axe.min.js"))
                .expect("tests/assets/axe/axe.min.js");
            // The source itself as the script body: no eval, so the page's
            // CSP (no 'unsafe-eval') does not stand in the way.
            self.exec(&format!("{src}\n;return typeof window.axe;"), json!([]));
        }
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']}).then((r) => done(r.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', '))),
              (e) => done(['axe failed: ' + e]));";
        let v = wd(
            "POST",
            &self.url("/execute/async"),
            Some(json!({"script": script, "args": []})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("axe gave {v}")])
    }

    /// One step's screenshots at 1400×1000 and 390×844 (as
    /// `admin-page-NAME-wide.png`, `-phone.png`); with `axe`, axe-core runs
    /// at each size and any serious or critical violation fails the test.
    pub(super) fn step(&self, name: &str, axe: bool) {
        for (w, h, size) in [(1400, 1000, "wide"), (390, 844, "phone")] {
            self.resize(w, h);
            let shot = self.screenshot(&format!("admin-page-{name}-{size}.png"));
            assert!(std::fs::metadata(shot).expect("screenshot").len() > 1000);
            if axe {
                let bad = self.axe_violations();
                assert!(bad.is_empty(), "{name} at {w}x{h}: axe found {bad:#?}");
            }
        }
        self.resize(1400, 1000);
    }
}

/// The column step: the HR export (Windows-1252, its own column names)
/// fails on its headers, the admin picks a target field per column and a
/// row filter, the preview follows the mapping, Apply imports with it, and
/// the page shows the mapping as a file to save.
#[test]
fn column_step_maps_a_foreign_export() {
    let _heavy = heavy();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[], &[]);
    let Some(browser) = Browser::start() else {
        server.stop_ok();
        return;
    };
    let token = create_token(&data, "browser");
    browser.go(&format!("{}/", server.admin));
    browser.type_into("#token", &token);
    browser.click("#login-btn");
    browser.wait("#drop", |t| t.contains("Drop a CSV"));

    let set = |script: &str| {
        wd(
            "POST",
            &browser.url("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    };
    set("const e = document.querySelector('#encoding'); e.value = 'windows-1252';");
    let export = repo("tests/fixtures/mapping/hr-export.csv");
    let file_input = browser.wait("#file", |_| true);
    wd(
        "POST",
        &browser.url(&format!("/element/{file_input}/value")),
        Some(json!({"text": export.display().to_string()})),
    );
    browser.wait("#problems li", |t| t.contains("username is missing"));
    browser.wait("#dialect", |t| {
        t.contains("windows-1252") && t.contains("5 rows")
    });

    // Pick a field for each column and a filter; one change event
    // re-runs the preview with the mapping.
    set("const pick = (h, f) => { document.querySelector(`#mapping select[data-header=\"${h}\"]`).value = f; };
        pick('Personalnummer', 'username');
        pick('Nachname, Vorname', 'display_name');
        pick('Durchwahl', 'extension');
        pick('Telefon-MAC', 'mac');
        document.querySelector('#filter').value = 'row[\"Durchwahl\"] != \"\"';
        document.querySelector('#filter').dispatchEvent(new Event('change'));");
    browser.wait("#verdict", |t| t.contains("The file is valid"));
    browser.wait("#summary", |t| {
        t.contains("create 4") && t.contains("skipped 1")
    });
    browser.wait("#problems li", |t| {
        t.contains("line 4") && t.contains("skipped")
    });
    // The mapping as a file (inside a closed <details>, so read its content).
    let pre = browser.wait("#map-toml", |_| true);
    let toml = wd(
        "GET",
        &browser.url(&format!("/element/{pre}/property/textContent")),
        None,
    );
    let toml = toml.as_str().unwrap_or_default();
    for line in [
        "filter = \"row[\\\"Durchwahl\\\"] != \\\"\\\"\"",
        "[map]",
        "username = \"Personalnummer\"",
        "display_name = \"Nachname, Vorname\"",
        "mac = \"Telefon-MAC\"",
    ] {
        assert!(toml.lines().any(|l| l == line), "{line} not in:\n{toml}");
    }
    browser.screenshot("admin_web_mapping.png");
    browser.click("#apply");
    browser.wait("#status", |t| t.contains("Applied: created 4"));
    drop(browser);

    let out = autoprov(&data, &["users", "--format", "json"]);
    let users: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["4711", "4712", "4714", "4715"]);
    let u = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "4711")
        .unwrap();
    assert_eq!(u["phones"][0]["mac"], "805ec0112201");
    server.stop_ok();
}

/// An LDAP source (a real slapd, tests/it/ldap.rs) on the page: listed
/// under the configured sources, its preview shown like an upload's, the
/// rows named by their DN, and Apply imports it.
#[test]
fn ldap_source_preview_on_the_page() {
    use crate::ldap::{READER, READER_PW, SUFFIX, Slapd};
    let _heavy = heavy();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("slapd");
    std::fs::create_dir_all(&dir).unwrap();
    let Some(slapd) = Slapd::start(&dir) else {
        return;
    };
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, READER_PW).unwrap();
    let cfg = tmp.path().join("autoprov.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sources.dir]\nurl = \"{}\"\nevery = \"1d\"\npreset = \"inetorgperson\"\nbase = \"ou=staff,{SUFFIX}\"\nbind_dn = \"{READER}\"\nbind_password_file = \"{}\"\nca = \"{}\"\n",
            slapd.ldaps,
            pw.display(),
            slapd.ca().display()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &["--config", cfg.to_str().unwrap()], &[]);
    let Some(browser) = Browser::start() else {
        server.stop_ok();
        return;
    };
    let token = create_token(&data, "browser");
    browser.go(&format!("{}/", server.admin));
    browser.type_into("#token", &token);
    browser.click("#login-btn");
    browser.click("button[data-view='sources']");
    browser.wait("#sources tr[data-source='dir']", |t| t.contains("ldap"));
    browser.click("button[data-source=dir]");
    // The scheduled run at start may have imported them already.
    browser.wait("#summary", |t| {
        t.contains("create 3") || t.contains("unchanged 3")
    });
    browser.wait("#rows tbody th", |t| {
        t.starts_with("cn=") && t.ends_with(SUFFIX)
    });
    let shot = browser.screenshot("ldap-source-preview");
    assert!(std::fs::metadata(shot).unwrap().len() > 1000);
    drop(browser);
    server.stop_ok();
}

/// The Sources tab: each source's last run (when, and its counts or its
/// error), its next run (the last run's start plus `every`, as the API
/// says), and "Test now": a dry run shown as a preview that writes
/// nothing, then kept beside the last run without hiding it; a source that
/// cannot be fetched says why, in the tab.
#[test]
fn sources_tab_shows_runs_and_tests_now() {
    use super::sources::{Upstream, history, outcome_has, wait_for_run};
    let _heavy = heavy();
    let tmp = tempfile::tempdir().unwrap();
    let csv = std::fs::read(repo("examples/users.csv")).unwrap();
    let hr = Upstream::start((200, "text/csv", csv.clone()));
    let broken = Upstream::start((500, "text/plain", b"oops".to_vec()));
    let cfg = tmp.path().join("autoprov.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sources.hr]\nurl = \"{}\"\nevery = \"1h\"\nmode = \"sync\"\n\n[sources.old]\nurl = \"{}\"\nevery = \"30m\"\n",
            hr.url, broken.url
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &["--config", cfg.to_str().unwrap()], &[]);
    // Both ran at start: hr created the 12, old failed on its HTTP 500.
    wait_for_run(&data, 0, |r| r["source"] == "hr" && r["created"] == 12);
    wait_for_run(&data, 0, |r| {
        r["source"] == "old" && outcome_has(r, "HTTP 500")
    });
    let runs = history(&data).len();
    let token = create_token(&data, "browser");
    let list =
        crate::support::server::api(&server, "GET", "/api/v1/sources", Some(&token), &[]).json();
    let hr_api = &list[0];
    assert_eq!(hr_api["name"], "hr");
    assert_eq!(hr_api["last_run"]["result"], "applied");
    assert_eq!(hr_api["last_run"]["counts"]["created"], 12);
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap_or_default(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap_or_else(|e| panic!("{v}: {e}"))
    };
    assert_eq!(
        parse(&hr_api["next_run"]) - parse(&hr_api["last_run"]["time"]),
        time::Duration::hours(1),
        "{hr_api}"
    );
    assert_eq!(list[1]["last_run"]["result"], "file_error");
    assert!(
        list[1]["last_run"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("HTTP 500"),
        "{list}"
    );
    assert!(list[1]["next_run"].is_string(), "{list}");

    let Some(browser) = Browser::start() else {
        server.stop_ok();
        return;
    };
    browser.go(&format!("{}/", server.admin));
    browser.type_into("#token", &token);
    browser.click("#login-btn");
    browser.click("button[data-view='sources']");
    let row = |name: &str, cell: &str| format!("#sources tr[data-source='{name}'] td.{cell}");
    browser.wait(&row("hr", "result"), |t| t == "applied: created 12");
    browser.wait(&row("hr", "last"), |t| !t.is_empty() && t != "not run yet");
    browser.wait(&row("hr", "next"), |t| {
        t.ends_with("(every 1h)") && t.len() > 12
    });
    browser.wait(&row("old", "result"), |t| t.contains("HTTP 500"));
    browser.step("sources-runs", true);

    // The source drops kim.tanaka: the test previews the deletion, writes
    // nothing, and the tab keeps the last run beside the test.
    let text = String::from_utf8(csv).unwrap();
    let fewer: String = text
        .lines()
        .filter(|l| !l.starts_with("kim.tanaka,"))
        .map(|l| format!("{l}\n"))
        .collect();
    hr.set((200, "text/csv", fewer.into_bytes()));
    browser.click("button[data-source='hr']");
    browser.wait("#verdict", |t| t.contains("DELETES 1 user"));
    browser.wait("#changes tr.action-delete", |t| t.contains("kim.tanaka"));
    browser.wait("#status", |t| t.contains("nothing was written"));
    assert_eq!(history(&data).len(), runs, "a test run was recorded");
    let out = autoprov(&data, &["users", "show", "kim.tanaka"]);
    assert!(out.status.success(), "the test deleted kim.tanaka");
    browser.click("button[data-view='sources']");
    browser.wait(&row("hr", "test"), |t| {
        t.contains("Tested") && t.contains("would delete 1") && t.contains("unchanged 11")
    });
    browser.wait(&row("hr", "result"), |t| t == "applied: created 12");
    browser.wait(&row("hr", "next"), |t| {
        t.ends_with("(every 1h)") && t.len() > 12
    });

    // An upstream that fails: the test says why, and the tab stays.
    hr.set((500, "text/plain", b"down".to_vec()));
    browser.click("button[data-source='hr']");
    browser.wait("#status", |t| t.contains("HTTP 500"));
    browser.wait(&row("hr", "test"), |t| {
        t.contains("Tested") && t.contains("HTTP 500")
    });
    browser.wait(&row("hr", "result"), |t| t == "applied: created 12");
    browser.step("sources-tested", true);
    drop(browser);
    server.stop_ok();
}
