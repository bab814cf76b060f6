//! One table-driven check of every vendor: each phone of the example and
//! fixture spreadsheets, imported through the real import pipeline into an
//! in-memory store, gets each file its vendor serves (every rule but
//! uploads) over both deliveries (HTTPS and the plain-HTTP bootstrap),
//! rendered by the same provisioner the server uses, and each answer is
//! held to the rules every vendor shares:
//!
//! - the SIP password is in the secure main file and nowhere else;
//! - so are the phone's own web passwords, each on a line with the
//!   setting the vendor row names for it (docs/lockdown.md), and neither
//!   the passwords nor those settings appear in any other file;
//! - no template residue (`{{`, `{%`, `{#`, `None`, `undefined`, `none` as
//!   a value) and no byte-order mark (docs/reference/vendors.md §9.1);
//! - XML where the content type says XML, well-formed;
//! - the content type of the rule;
//! - the file name round-trips through the rule's pattern;
//! - the bootstrap names the HTTPS URL and, where the vendor row names a
//!   CA setting, the CA (and where it names none, no CA).
//!
//! Nothing here is per vendor: a new row in `VENDORS` with a phone in the
//! examples or fixtures is checked the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use autoprov::config::Config;
use autoprov::domain::mac::Mac;
use autoprov::domain::{Phone, User};
use autoprov::import::{self, ImportOptions};
use autoprov::keys::ServerKey;
use autoprov::pki::{self, CertSource, PhoneCa};
use autoprov::provision::{Channel, Provisioner, Request, Settings, Templates};
use autoprov::store::{MemoryStore, Store};
use autoprov::vendors::{self, FileKind, FileRule, MacCase, Part, Recheck, Vendor};

use crate::support::formats::names_setting;

const HTTPS_URL: &str = "https://prov.example.test:8443/";
const HTTP_URL: &str = "http://prov.example.test:8080/";
/// What every vendor's bootstrap keeps of [`HTTPS_URL`], whatever it strips
/// (Grandstream's P237 takes no scheme).
const HTTPS_AUTHORITY: &str = "prov.example.test:8443";

/// The spreadsheets whose phones are checked: the example every reader
/// starts from, and each vendor fixture of the serve tests.
fn spreadsheets() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("examples/users.csv")];
    let fixtures = std::fs::read_dir(root.join("tests/fixtures/provision")).expect("fixtures");
    let mut csvs: Vec<PathBuf> = fixtures
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    csvs.sort();
    files.extend(csvs);
    files
}

/// A store holding one spreadsheet, imported as `autoprov import` would.
fn imported(csv: &Path, config: &Config) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    store.put_sites(&config.sites).expect("sites");
    let opts = ImportOptions::upsert(csv.display().to_string());
    let bytes = std::fs::read(csv).expect("read spreadsheet");
    let outcome = import::run(store.as_ref(), config, bytes, &opts, None).expect("import");
    assert_eq!(
        outcome.exit_code,
        0,
        "{} did not import:\n{}",
        csv.display(),
        outcome.report.to_text()
    );
    store
}

/// A CA certificate for phones to trust, as `[tls] phone_ca` would give.
fn phone_ca(dir: &Path) -> PhoneCa {
    let mut params =
        rcgen::CertificateParams::new(vec!["ca.example.test".to_string()]).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    let path = dir.join("phone-ca.pem");
    std::fs::write(&path, cert.pem()).expect("write CA");
    let source = CertSource::Local {
        dir: dir.join("certs"),
        names: Vec::new(),
        lifetime: Default::default(),
    };
    pki::phone_ca(&source, Some(&path))
        .expect("read CA")
        .expect("a CA")
}

/// The provisioner `autoprov serve` builds, with device credentials issued
/// and a CA to hand out, so every optional part of the templates renders.
fn provisioner(store: Arc<MemoryStore>, config: &Config, ca: &PhoneCa) -> Provisioner {
    let p = &config.provision;
    provisioner_with(store, (p.repeat_minutes, p.bootstrap_repeat_minutes), ca)
}

/// The same with these re-check intervals (full files, bootstrap) in minutes.
fn provisioner_with(store: Arc<MemoryStore>, repeat: (u32, u32), ca: &PhoneCa) -> Provisioner {
    let settings = Settings {
        repeat_minutes: repeat.0,
        bootstrap_repeat_minutes: repeat.1,
        device_key: Some(ServerKey::from_bytes([7; 32])),
        phone_ca: Some(ca.clone()),
        ..Default::default()
    };
    let templates = Templates::new(None).expect("templates");
    Provisioner::new(store, templates, settings).expect("provisioner")
}

/// A name the rule matches for this phone: its MAC in the rule's case, its
/// model where the pattern has one (else a stand-in), digits where it has
/// digits. Per-MAC names must name this phone for the store to find it.
fn sample_name(rule: &FileRule, phone: &Phone) -> String {
    let model = phone
        .model
        .as_deref()
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphanumeric()));
    let mut name = String::new();
    for part in rule.pattern {
        match *part {
            Part::Lit(s) => name.push_str(s),
            Part::Mac(MacCase::Lower) => name.push_str(&phone.mac.plain()),
            Part::Mac(MacCase::Upper) => name.push_str(&phone.mac.upper()),
            Part::Digits(n) => name.extend((1..=n).map(|i| char::from(b'0' + (i % 10) as u8))),
            Part::Model(max) => match model.filter(|m| m.len() <= max) {
                Some(m) => name.push_str(m),
                None => name.push_str("model1"),
            },
        }
    }
    name
}

/// One row of the table.
struct Case<'a> {
    vendor: &'static Vendor,
    rule: &'static FileRule,
    user: &'a User,
    phone: &'a Phone,
    secure: bool,
}

impl Case<'_> {
    fn label(&self, name: &str) -> String {
        let delivery = if self.secure { "https" } else { "bootstrap" };
        format!("{} {name} ({delivery})", self.vendor.id)
    }

    fn channel(&self) -> Channel {
        if self.secure {
            Channel::Secure
        } else {
            Channel::Bootstrap {
                https_url: HTTPS_URL.to_string(),
            }
        }
    }

    /// The per-MAC file with secrets, over HTTPS: the only place a SIP
    /// password may be.
    fn carries_secrets(&self) -> bool {
        self.secure && self.rule.kind == FileKind::Main
    }

    fn is_bootstrap(&self) -> bool {
        !self.secure && self.rule.kind == FileKind::Main
    }

    /// The request a phone makes for this case's file at `path`.
    fn request<'p>(&self, path: &'p str) -> Request<'p> {
        Request {
            path,
            user_agent: None,
            channel: self.channel(),
            https_url: Some(HTTPS_URL),
            http_url: Some(HTTP_URL),
        }
    }
}

/// Every file each phone of `users` is served (uploads are not), over
/// HTTPS and as the plain-HTTP delivery.
fn cases(users: &[User]) -> Vec<Case<'_>> {
    let mut out = Vec::new();
    for user in users {
        for phone in &user.phones {
            let vendor = vendors::by_id(&phone.vendor).expect("stored vendor id");
            for rule in vendor.provisioning.files {
                if rule.kind == FileKind::Upload {
                    continue;
                }
                for secure in [true, false] {
                    out.push(Case {
                        vendor,
                        rule,
                        user,
                        phone,
                        secure,
                    });
                }
            }
        }
    }
    out
}

/// A value as it may stand in the file: as is, or XML-escaped.
fn appears(body: &str, value: &str) -> bool {
    let escaped = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;");
    body.contains(value) || body.contains(&escaped)
}

/// `none` where a value goes: `key = none`, `<k>none</k>`, `k="none"`.
fn none_as_value(body: &str) -> bool {
    [">none<", "\"none\"", "'none'"]
        .iter()
        .any(|p| body.contains(p))
        || body.lines().any(|l| {
            let l = l.trim_end();
            l.ends_with("= none") || l.ends_with("=none")
        })
}

/// The name-level checks: the pattern builds and matches the name, and the
/// path router picks this vendor's rule for it.
fn check_name(case: &Case<'_>, name: &str, failures: &mut Vec<String>) {
    let label = case.label(name);
    let mac = case.rule.mac_case().map(|_| case.phone.mac);
    if case.rule.matches(name) != Some(mac) {
        failures.push(format!("{label}: the rule does not match its own name"));
    }
    if let Some(built) = case.rule.file_name(case.phone.mac)
        && case.rule.matches(&built) != Some(mac)
    {
        failures.push(format!(
            "{label}: file_name gives {built}, which does not match"
        ));
    }
    let routed = vendors::matches(name)
        .iter()
        .any(|m| std::ptr::eq(m.rule, case.rule) && m.vendor.id == case.vendor.id);
    if !routed {
        failures.push(format!("{label}: vendors::matches does not find the rule"));
    }
}

/// Every check on one rendered answer.
fn check_body(
    case: &Case<'_>,
    name: &str,
    body: &str,
    ca: &PhoneCa,
    passwords: &[&str],
    failures: &mut Vec<String>,
) {
    let label = case.label(name);
    let mut fail = |what: String| failures.push(format!("{label}: {what}"));
    let own: Vec<&str> = case
        .user
        .lines
        .iter()
        .map(|l| l.sip_password.as_str())
        .filter(|p| !p.is_empty())
        .collect();
    if case.carries_secrets() {
        for p in &own {
            if !appears(body, p) {
                fail("the secure main file lacks the user's SIP password".into());
            }
        }
    } else if passwords.iter().any(|p| appears(body, p)) {
        fail("carries a SIP password".into());
    }
    for residue in ["{{", "{%", "{#", "None", "undefined"] {
        if body.contains(residue) {
            fail(format!("template residue {residue:?}"));
        }
    }
    if none_as_value(body) {
        fail("prints none as a value".into());
    }
    if body.starts_with('\u{feff}') {
        fail("starts with a byte-order mark".into());
    }
    if case.rule.content_type.contains("xml")
        && let Err(e) = roxmltree::Document::parse(body)
    {
        fail(format!("not well-formed XML: {e}"));
    }
    if case.is_bootstrap() {
        if !body.contains(HTTPS_AUTHORITY) {
            fail(format!("the bootstrap does not name {HTTPS_URL}"));
        }
        let ca_url = format!("{HTTP_URL}ca.pem");
        let ca_b64 = &ca.base64()[..64];
        let names_ca = body.contains(&ca_url) || body.contains(ca_b64);
        match case.vendor.provisioning.ca_setting {
            Some(key) if !(names_ca && body.contains(key)) => {
                fail(format!("the bootstrap does not hand over the CA in {key}"))
            }
            None if names_ca => fail("hands over a CA, but the row names no CA setting".into()),
            _ => {}
        }
    }
}

/// Renders one case over its delivery and checks the answer.
fn run_case(
    p: &Provisioner,
    case: &Case<'_>,
    ca: &PhoneCa,
    passwords: &[&str],
    failures: &mut Vec<String>,
) {
    let name = sample_name(case.rule, case.phone);
    check_name(case, &name, failures);
    let path = format!("/{name}");
    let served = match p.respond(&case.request(&path)) {
        Ok(s) => s,
        Err(e) => {
            failures.push(format!("{}: refused: {e}", case.label(&name)));
            return;
        }
    };
    let label = case.label(&name);
    if served.content_type != case.rule.content_type {
        failures.push(format!("{label}: content type {}", served.content_type));
    }
    if served.vendor != case.vendor.id || served.staged != case.is_bootstrap() {
        failures.push(format!(
            "{label}: served as {} (staged {})",
            served.vendor, served.staged
        ));
    }
    match std::str::from_utf8(&served.body) {
        Ok(body) => {
            check_body(case, &name, body, ca, passwords, failures);
            check_lockdown(p, case, body, &label, failures);
        }
        Err(e) => failures.push(format!("{label}: not UTF-8: {e}")),
    }
}

/// The phone's web passwords: in the secure main file, each on a line
/// with the setting its vendor row names; nowhere else, and no other file
/// names those settings.
fn check_lockdown(
    p: &Provisioner,
    case: &Case<'_>,
    body: &str,
    label: &str,
    failures: &mut Vec<String>,
) {
    let row = &case.vendor.provisioning;
    let stored = p
        .store()
        .phone_state(case.phone.mac)
        .expect("phone state")
        .and_then(|s| s.passwords);
    let settings = [
        (
            row.admin_password_setting,
            stored.as_ref().map(|s| &s.admin),
        ),
        (row.user_password_setting, stored.as_ref().map(|s| &s.user)),
    ];
    if case.carries_secrets() {
        let Some(_) = &stored else {
            failures.push(format!("{label}: no web passwords were issued"));
            return;
        };
        for (setting, pw) in settings {
            let (Some(setting), Some(pw)) = (setting, pw) else {
                continue;
            };
            if !body
                .lines()
                .any(|l| names_setting(l, setting) && l.contains(pw.as_str()))
            {
                failures.push(format!(
                    "{label}: no line sets {setting} to the phone's stored password"
                ));
            }
        }
        if row.admin_password_setting.is_none() {
            failures.push(format!("{label}: the row names no admin password setting"));
        }
        return;
    }
    for (setting, pw) in settings {
        if pw.is_some_and(|pw| body.contains(pw.as_str())) {
            failures.push(format!("{label}: carries the phone's web password"));
        }
        if setting.is_some_and(|s| names_setting(body, s)) {
            failures.push(format!("{label}: names the web password setting"));
        }
    }
}

#[test]
fn every_vendor_file_over_every_delivery() {
    let started = std::time::Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = phone_ca(tmp.path());
    let config = Config::default();
    let mut failures = Vec::new();
    let mut checked = 0usize;
    let mut covered: Vec<(&str, *const FileRule)> = Vec::new();
    for csv in spreadsheets() {
        let store = imported(&csv, &config);
        let users = store.users().expect("users");
        let passwords: Vec<&str> = users
            .iter()
            .flat_map(|u| &u.lines)
            .map(|l| l.sip_password.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        let p = provisioner(store.clone(), &config, &ca);
        for case in cases(&users) {
            covered.push((case.vendor.id, case.rule as *const FileRule));
            run_case(&p, &case, &ca, &passwords, &mut failures);
            checked += 1;
        }
    }
    for v in vendors::VENDORS {
        for rule in v.provisioning.files {
            if rule.kind != FileKind::Upload && !covered.contains(&(v.id, rule as *const FileRule))
            {
                failures.push(format!(
                    "{} {}: no phone in the examples or fixtures exercises this rule",
                    v.id,
                    rule.pattern_text()
                ));
            }
        }
    }
    eprintln!(
        "vendor conformance: {checked} cases in {} ms",
        started.elapsed().as_millis()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Rendering every file but the secure main one (bootstraps, boot and
/// common files) issues no web passwords: they are issued only where they
/// are sent.
#[test]
fn only_the_secure_main_file_issues_web_passwords() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = phone_ca(tmp.path());
    let config = Config::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let store = imported(&root.join("examples/users.csv"), &config);
    let p = provisioner(store.clone(), &config, &ca);
    let users = store.users().expect("users");
    for case in cases(&users).iter().filter(|c| !c.carries_secrets()) {
        let path = format!("/{}", sample_name(case.rule, case.phone));
        p.respond(&case.request(&path)).expect("served");
    }
    for phone in users.iter().flat_map(|u| &u.phones) {
        let state = store.phone_state(phone.mac).expect("state");
        assert!(
            state.and_then(|s| s.passwords).is_none(),
            "{}: web passwords issued without a secure main file",
            phone.mac.plain()
        );
    }
}

/// The stand-in names really are what the phones ask for.
#[test]
fn sample_names_look_like_requests() {
    let phone = Phone {
        mac: Mac::parse("000413aabbcc").expect("mac"),
        vendor: "snom".to_string(),
        model: Some("d785".to_string()),
        ip: None,
    };
    let snom = vendors::by_id("snom").expect("snom");
    let main = snom.main_file().expect("main");
    assert_eq!(sample_name(main, &phone), "snomd785-000413AABBCC.htm");
    let yealink = vendors::by_id("yealink").expect("yealink");
    assert_eq!(
        sample_name(&yealink.provisioning.files[2], &phone),
        "y123456789012.cfg"
    );
}

/// The body without XML comments, where a setting's name may stand in prose.
fn without_comments(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("-->")
            .map_or("", |end| &rest[start + end + 3..]);
    }
    out.push_str(rest);
    out
}

/// Every value the file gives the vendor's re-check setting: the first
/// number after each place the setting's name stands.
fn recheck_values(body: &str, recheck: &Recheck) -> Vec<u64> {
    let body = without_comments(body);
    body.match_indices(recheck.setting)
        .filter_map(|(at, name)| {
            let after = &body[at + name.len()..];
            let digits: String = after
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

/// Every file that sets a re-check interval sets one inside the range its
/// vendor's guide documents, for the default config and for the extremes a
/// config may hold (1 minute, u32::MAX minutes), on both deliveries; and
/// every main file sets one where the row names the setting.
#[test]
fn recheck_intervals_stay_inside_each_vendors_range() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ca = phone_ca(tmp.path());
    let config = Config::default();
    let defaults = (
        config.provision.repeat_minutes,
        config.provision.bootstrap_repeat_minutes,
    );
    let mut failures = Vec::new();
    let mut checked = 0usize;
    let mut seen: Vec<&str> = Vec::new();
    for csv in spreadsheets() {
        let store = imported(&csv, &config);
        let users = store.users().expect("users");
        for repeat in [defaults, (1, 1), (u32::MAX, u32::MAX)] {
            let p = provisioner_with(store.clone(), repeat, &ca);
            for case in cases(&users) {
                let Some(recheck) = case.vendor.provisioning.recheck else {
                    continue;
                };
                let name = sample_name(case.rule, case.phone);
                let path = format!("/{name}");
                let label = format!("{} {repeat:?}", case.label(&name));
                let served = match p.respond(&case.request(&path)) {
                    Ok(s) => s,
                    Err(e) => {
                        failures.push(format!("{label}: refused: {e}"));
                        continue;
                    }
                };
                let body = String::from_utf8_lossy(&served.body);
                let values = recheck_values(&body, &recheck);
                if case.rule.kind == FileKind::Main && values.is_empty() {
                    failures.push(format!("{label}: no {}", recheck.setting));
                }
                // What the config asked for, as the vendor must get it.
                let asked = if case.is_bootstrap() {
                    repeat.1
                } else {
                    repeat.0
                };
                let want = u64::from(recheck.clamp(asked)) * 60 / u64::from(recheck.unit_seconds);
                for v in values {
                    let minutes = v * u64::from(recheck.unit_seconds) / 60;
                    let (lo, hi) = recheck.minutes;
                    if minutes < u64::from(lo) || minutes > u64::from(hi) {
                        failures.push(format!(
                            "{label}: {} {v} is outside {lo}-{hi} minutes",
                            recheck.setting
                        ));
                    }
                    if v != want {
                        failures.push(format!("{label}: {} {v}, want {want}", recheck.setting));
                    }
                    checked += 1;
                }
                if !seen.contains(&case.vendor.id) {
                    seen.push(case.vendor.id);
                }
            }
        }
    }
    for v in vendors::VENDORS {
        if v.provisioning.recheck.is_some() && !seen.contains(&v.id) {
            failures.push(format!("{}: no phone in the fixtures exercises it", v.id));
        }
    }
    assert!(checked > 0, "no interval was checked");
    assert!(
        failures.is_empty(),
        "{} interval failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
