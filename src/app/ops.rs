//! The look-up and import commands as functions from the store to an
//! [`Answer`]: what the CLI prints, and what the admin API sends. One
//! implementation for both is what makes "the same command through the
//! running server" give the same bytes and the same exit code.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::fleet;
use crate::config::{Config, FirmwareConfig, FixedPhonePasswords};
use crate::domain::User;
use crate::domain::mac::Mac;
use crate::import::{self, ImportError, ImportOptions, Mode};
use crate::provision::{self, Channel, Provisioner, Refusal};
use crate::store::{Store, StoreError};

/// Output format of a look-up (`--format`, `?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Text,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// The result of one command: stdout bytes, the one-sentence stderr message
/// (without the `autoprov: ` prefix) and the exit code of docs/reference/cli.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// 0 ok, 1 refused or not found, 2 usage or file problem, 3 runtime.
    pub exit_code: u8,
    pub message: Option<String>,
    /// The HTTP status the admin API answers with.
    pub status: u16,
}

impl Answer {
    /// Output, exit code 0, HTTP 200.
    pub fn ok(body: impl Into<Vec<u8>>, content_type: &'static str) -> Answer {
        Answer {
            body: body.into(),
            content_type,
            exit_code: 0,
            message: None,
            status: 200,
        }
    }

    /// No output, a message, and the exit code and status that go with it.
    pub fn fail(exit_code: u8, status: u16, message: impl Into<String>) -> Answer {
        Answer {
            body: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            exit_code,
            message: Some(message.into()),
            status,
        }
    }
}

/// Narrows `users` (the API's filters; the CLI lists everyone).
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub site: Option<String>,
    pub source: Option<String>,
    pub enabled: Option<bool>,
    /// Case-insensitive substring of username, display name, email or an
    /// extension.
    pub q: Option<String>,
}

impl UserFilter {
    fn keeps(&self, u: &User) -> bool {
        let q = self.q.as_deref().map(str::to_lowercase);
        self.site.as_deref().is_none_or(|s| u.site == s)
            && self
                .source
                .as_deref()
                .is_none_or(|s| u.source.as_deref() == Some(s))
            && self.enabled.is_none_or(|e| u.enabled == e)
            && q.is_none_or(|q| {
                u.username.to_lowercase().contains(&q)
                    || u.display().to_lowercase().contains(&q)
                    || u.email
                        .as_deref()
                        .is_some_and(|e| e.to_lowercase().contains(&q))
                    || u.lines.iter().any(|l| l.extension.contains(&q))
                    || mac_matches(u, &q)
            })
    }
}

/// Whether one of `u`'s phones has a MAC containing `q` in any notation
/// (`0015`, `00:15:65`, `00-15-65`).
pub(crate) fn mac_matches(u: &User, q: &str) -> bool {
    let hex: String = q
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .flat_map(|c| c.to_lowercase())
        .collect();
    // Only a query that is all MAC notation: "anna" is not a MAC search.
    let notation = q
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    !hex.is_empty() && notation && u.phones.iter().any(|p| p.mac.plain().contains(&hex))
}

/// Narrows `phones`.
#[derive(Debug, Clone, Default)]
pub struct PhoneFilter {
    pub vendor: Option<String>,
    pub username: Option<String>,
    /// Only phones that fetched a file (`true`) or never did (`false`).
    pub fetched: Option<bool>,
}

/// A user's SIP lines as JSON, passwords masked unless `secrets`.
pub(crate) fn lines_json(u: &User, secrets: bool) -> Vec<Value> {
    u.lines
        .iter()
        .map(|l| {
            json!({
                "extension": l.extension,
                "sip_username": l.auth_user(),
                "sip_password": if secrets { json!(l.sip_password) } else { json!("***") },
                "transport": l.transport.map(|t| t.to_string()),
            })
        })
        .collect()
}

/// A user as JSON with secrets masked unless `secrets`; the web password hash
/// is never shown.
fn user_json(u: &User, secrets: bool) -> Value {
    let lines = lines_json(u, secrets);
    json!({
        "id": u.id,
        "username": u.username,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "display_name": u.display(),
        "email": u.email,
        "mobile": u.mobile,
        "enabled": u.enabled,
        "web_password": u.web_password_hash.as_ref().map(|_| "set"),
        "voicemail_pin": match (&u.voicemail_pin, secrets) {
            (Some(p), true) => json!(p),
            (Some(_), false) => json!("***"),
            (None, _) => Value::Null,
        },
        "language": u.language,
        "timezone": u.timezone,
        "site": u.site,
        "source": u.source,
        "lines": lines,
        "phones": u.phones,
        "blf": u.blf,
        "config_version": u.config_version,
    })
}

fn pretty(v: &impl Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// `autoprov users`: everyone (matching `filter`), sorted by username.
pub fn users(store: &dyn Store, format: Format, filter: &UserFilter) -> Result<Answer, StoreError> {
    let mut users = store.users()?;
    users.retain(|u| filter.keeps(u));
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let body = match format {
        Format::Json => pretty(
            &users
                .iter()
                .map(|u| user_json(u, false))
                .collect::<Vec<_>>(),
        ),
        Format::Text => {
            let mut out = format!(
                "{:<20} {:<28} {:<10} {:<8} {:<10} PHONES\n",
                "USERNAME", "DISPLAY NAME", "EXTENSION", "ENABLED", "SITE"
            );
            for u in &users {
                let phones: Vec<String> = u.phones.iter().map(|p| p.mac.plain()).collect();
                let _ = writeln!(
                    out,
                    "{:<20} {:<28} {:<10} {:<8} {:<10} {}",
                    u.username,
                    u.display(),
                    u.primary_line()
                        .map(|l| l.extension.as_str())
                        .unwrap_or("-"),
                    if u.enabled { "yes" } else { "no" },
                    u.site,
                    if phones.is_empty() {
                        "-".to_string()
                    } else {
                        phones.join(",")
                    }
                );
            }
            out
        }
    };
    Ok(Answer::ok(body, format.content_type()))
}

/// `autoprov users show NAME [--secrets]`.
pub fn user(
    store: &dyn Store,
    username: &str,
    secrets: bool,
    format: Format,
) -> Result<Answer, StoreError> {
    let Some(u) = store.user(username)? else {
        return Ok(Answer::fail(1, 404, format!("no user named {username:?}")));
    };
    let v = user_json(&u, secrets);
    let body = match format {
        Format::Json => pretty(&v),
        Format::Text => key_value_text(v, 15),
    };
    Ok(Answer::ok(body, format.content_type()))
}

/// `autoprov phones`: every phone with its owner and last fetch, by MAC.
pub fn phones(
    store: &dyn Store,
    firmware: &FirmwareConfig,
    format: Format,
    filter: &PhoneFilter,
) -> Result<Answer, StoreError> {
    let users = store.users()?;
    let mut rows = Vec::new();
    for u in &users {
        if filter.username.as_deref().is_some_and(|n| u.username != n) {
            continue;
        }
        for p in &u.phones {
            if filter.vendor.as_deref().is_some_and(|v| p.vendor != v) {
                continue;
            }
            let state = store.phone_state(p.mac)?.unwrap_or_default();
            if filter
                .fetched
                .is_some_and(|f| state.last_fetch.is_some() != f)
            {
                continue;
            }
            rows.push((u, p, state));
        }
    }
    rows.sort_by_key(|(_, p, _)| p.mac);
    let body = match format {
        Format::Json => {
            let list: Vec<Value> = rows
                .iter()
                .map(|(u, p, s)| {
                    let mut row = json!({
                        "mac": p.mac.plain(),
                        "vendor": p.vendor,
                        "model": p.model.clone().or_else(|| s.learned_model.clone()),
                        "ip": p.ip,
                        "username": u.username,
                        "extension": u.primary_line().map(|l| l.extension.clone()),
                        "firmware": s.firmware,
                        "last_fetch": s.last_fetch,
                    });
                    if let Value::Object(m) = &mut row {
                        m.extend(fleet::row_fields(firmware, u, p, s));
                    }
                    row
                })
                .collect();
            pretty(&list)
        }
        Format::Text => fleet::table(firmware, &rows),
    };
    Ok(Answer::ok(body, format.content_type()))
}

/// Which phones `rotate-admin-password` renews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateTarget {
    /// One phone, by MAC as the caller wrote it.
    Mac(String),
    All,
}

/// Sites' fixed phone passwords (`[sites.NAME] phone_admin_password`).
pub type SitePasswords = BTreeMap<String, FixedPhonePasswords>;

/// `autoprov phones show MAC [--secrets]`: the phone, its owner, its last
/// fetch and whether its web passwords were issued; with `secrets` the
/// passwords the phone's secure file carries (a site's fixed ones win).
pub fn phone(
    store: &dyn Store,
    sites: &SitePasswords,
    firmware: &FirmwareConfig,
    mac: &str,
    secrets: bool,
    format: Format,
) -> Result<Answer, StoreError> {
    let mac = match Mac::parse(mac) {
        Ok(m) => m,
        Err(e) => return Ok(Answer::fail(2, 400, e.to_string())),
    };
    let Some(user) = store.user_by_mac(mac)? else {
        return Ok(Answer::fail(
            1,
            404,
            format!("no phone with MAC {} in the store", mac.colon()),
        ));
    };
    let Some(p) = user.phones.iter().find(|p| p.mac == mac) else {
        return Ok(Answer::fail(
            1,
            404,
            format!("no phone with MAC {} in the store", mac.colon()),
        ));
    };
    let state = store.phone_state(mac)?.unwrap_or_default();
    let fixed = sites.get(&user.site);
    let shown = |v: Option<String>| match (v, secrets) {
        (Some(v), true) => json!(v),
        (Some(_), false) => json!("***"),
        (None, _) => Value::Null,
    };
    let effective = state
        .passwords
        .clone()
        .map(|pw| crate::provision::lockdown::effective(pw, fixed));
    let from_site =
        |f: fn(&FixedPhonePasswords) -> &Option<String>| fixed.and_then(|x| f(x).clone());
    // A site's fixed value applies even before the phone's own were issued.
    let admin = effective
        .as_ref()
        .map(|e| e.admin.clone())
        .or_else(|| from_site(|f| &f.admin));
    let user_pw = effective
        .as_ref()
        .map(|e| e.user.clone())
        .or_else(|| from_site(|f| &f.user));
    let vendor_row = crate::vendors::by_id(&p.vendor);
    let v = json!({
        "mac": p.mac.plain(),
        "vendor": p.vendor,
        "model": p.model.clone().or_else(|| state.learned_model.clone()),
        "ip": p.ip,
        "username": user.username,
        "display_name": user.display(),
        "extension": user.primary_line().map(|l| l.extension.clone()),
        "site": user.site,
        "config_version": user.config_version,
        "firmware": state.firmware,
        "last_fetch": state.last_fetch,
        "passwords_issued": state.passwords_set,
        "admin_password": shown(admin),
        "admin_password_fixed_by_site": fixed.is_some_and(|f| f.admin.is_some()),
        "admin_password_setting": vendor_row.and_then(|r| r.provisioning.admin_password_setting),
        "user_password": shown(user_pw),
        "user_password_fixed_by_site": fixed.is_some_and(|f| f.user.is_some()),
        "user_password_setting": vendor_row.and_then(|r| r.provisioning.user_password_setting),
    });
    let fetches = store.fetch_events(mac)?;
    let story = fleet::story(firmware, &user, p, &state, &fetches, secrets);
    let body = phone_body(v, story, &user, &fetches, secrets, format);
    Ok(Answer::ok(body, format.content_type()))
}

/// `phones show`'s fields, then the phone's story (lines, last fetches:
/// [`fleet::story`]).
fn phone_body(
    mut v: Value,
    mut story: serde_json::Map<String, Value>,
    user: &User,
    fetches: &[crate::store::FetchEvent],
    secrets: bool,
    format: Format,
) -> String {
    match format {
        Format::Json => {
            if let Value::Object(m) = &mut v {
                m.append(&mut story);
            }
            pretty(&v)
        }
        Format::Text => {
            // The tables print below; the scalars join the fields.
            story.remove("lines");
            story.remove("fetches");
            if let Value::Object(m) = &mut v {
                m.append(&mut story);
            }
            key_value_text(v, 30) + &fleet::story_text(user, fetches, secrets)
        }
    }
}

/// One `key value` line per field of a JSON object, keys padded to `width`
/// (`users show` 15, `phones show` 30); a fetch reads as one line.
fn key_value_text(v: Value, width: usize) -> String {
    let mut out = String::new();
    if let Value::Object(map) = v {
        for (k, val) in map {
            let shown = match val {
                Value::String(s) => s,
                Value::Null => "-".to_string(),
                Value::Object(o) if k == "last_fetch" => {
                    let f = |n: &str| match o.get(n) {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => "-".into(),
                    };
                    format!(
                        "{} {} {} {} ({})",
                        crate::domain::clock::human(&f("time")),
                        f("ip"),
                        f("file"),
                        f("status"),
                        f("user_agent")
                    )
                }
                other => other.to_string(),
            };
            let _ = writeln!(out, "{k:<width$} {shown}");
        }
    }
    out
}

/// `autoprov phones rotate-admin-password MAC|--all`: new random web
/// passwords (admin and user) for the phones, and their owners'
/// `config_version` bumped so the change shows; each phone gets them at its
/// next secure fetch.
pub fn rotate_phone_passwords(
    store: &(dyn Store + Send + Sync),
    sites: &SitePasswords,
    target: &RotateTarget,
) -> Result<Answer, StoreError> {
    let phones: Vec<(Mac, String, String)> = match target {
        RotateTarget::Mac(text) => {
            let mac = match Mac::parse(text) {
                Ok(m) => m,
                Err(e) => return Ok(Answer::fail(2, 400, e.to_string())),
            };
            match store.user_by_mac(mac)? {
                Some(u) => vec![(mac, u.username, u.site)],
                None => {
                    return Ok(Answer::fail(
                        1,
                        404,
                        format!("no phone with MAC {} in the store", mac.colon()),
                    ));
                }
            }
        }
        RotateTarget::All => {
            let mut all = Vec::new();
            store.for_each_user(&mut |u| {
                for p in &u.phones {
                    all.push((p.mac, u.username.clone(), u.site.clone()));
                }
            })?;
            all
        }
    };
    let mut owners: Vec<String> = Vec::new();
    let mut fixed = 0usize;
    for (mac, owner, site) in &phones {
        crate::provision::lockdown::rotate(store, *mac)?;
        owners.push(owner.clone());
        if sites.get(site).is_some_and(|f| f.admin.is_some()) {
            fixed += 1;
        }
    }
    owners.sort();
    owners.dedup();
    store.bump_config_versions(&owners)?;
    tracing::info!(phones = phones.len(), "rotated phone web passwords");
    let mut body = format!(
        "rotated the web passwords of {} phone(s); each gets them at its next check over HTTPS\n",
        phones.len()
    );
    if fixed > 0 {
        let _ = writeln!(
            body,
            "{fixed} of them belong to a site with phone_admin_password set in the config, which still wins"
        );
    }
    Ok(Answer::ok(body, Format::Text.content_type()))
}

/// `autoprov history`: the import runs, oldest first.
pub fn history(store: &dyn Store, format: Format) -> Result<Answer, StoreError> {
    let history = store.history()?;
    let body = match format {
        Format::Json => pretty(&history),
        Format::Text => {
            let mut out = String::new();
            for h in history {
                let sha = match h.sha256.get(..12.min(h.sha256.len())) {
                    Some(s) if !s.is_empty() => s,
                    _ => "-",
                };
                let _ = writeln!(
                    out,
                    "{}  {:<8} {:<24} created {} updated {} deleted {} unchanged {} skipped {}  sha256 {}{}",
                    h.time,
                    h.mode,
                    h.file,
                    h.created,
                    h.updated,
                    h.deleted,
                    h.unchanged,
                    h.skipped,
                    sha,
                    h.outcome
                        .as_deref()
                        .map(|o| format!("  ({o})"))
                        .unwrap_or_default()
                );
            }
            out
        }
    };
    Ok(Answer::ok(body, format.content_type()))
}

/// `autoprov export`: the CSV of every user.
pub fn export(store: &dyn Store, include_secrets: bool) -> Result<Answer, OpError> {
    let users = store.users()?;
    let mut buf = Vec::new();
    crate::export::write_csv(&mut buf, &users, include_secrets)?;
    Ok(Answer::ok(buf, "text/csv; charset=utf-8"))
}

/// The import options the CLI and the API share, before the file is read.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub options: ImportOptions,
    /// Confirms a replace import.
    pub yes: bool,
    pub format: Format,
}

/// Refuses option combinations docs/reference/cli.md forbids (exit 2), before any byte of
/// the file is read.
pub fn check_import(req: &ImportRequest) -> Result<(), String> {
    let o = &req.options;
    if o.mode == Mode::Sync && o.source.is_none() {
        return Err("--mode sync needs --source NAME: it deletes only the users that this source created earlier".into());
    }
    if o.mode == Mode::Replace && !req.yes && !o.dry_run {
        return Err("--mode replace deletes every user the file does not list; run it with --dry-run to preview, then add --yes".into());
    }
    Ok(())
}

/// [`check_import`] in the words of a page or an API client, which have
/// no flags: the same refusals, said plainly.
pub fn check_import_plain(req: &ImportRequest) -> Result<(), String> {
    let o = &req.options;
    if o.mode == Mode::Sync && o.source.is_none() {
        return Err("sync mode needs the name of a source: it deletes only the users that this source created earlier, so without one it cannot tell which users to delete".into());
    }
    if o.mode == Mode::Replace && !req.yes && !o.dry_run {
        return Err("replace mode deletes every user the file does not list: preview it first, then confirm the deletions".into());
    }
    Ok(())
}

/// `autoprov import`: the report as stdout, the first error as the message.
/// (The CLI refused contradicting flags in its own words before this.)
pub fn import(
    store: &dyn Store,
    config: &Config,
    bytes: Vec<u8>,
    req: &ImportRequest,
    progress: Option<&dyn crate::import::Progress>,
) -> Result<(Answer, bool), ImportError> {
    if let Err(m) = check_import_plain(req) {
        return Ok((Answer::fail(2, 400, m), false));
    }
    let opts = &req.options;
    let outcome = import::run(store, config, bytes, opts, progress)?;
    let body = match req.format {
        Format::Json => outcome.report.to_json() + "\n",
        Format::Text => outcome.report.to_text(),
    };
    let exit_code = u8::try_from(outcome.exit_code).unwrap_or(3);
    let message = outcome
        .report
        .errors
        .first()
        .filter(|_| exit_code != 0)
        .map(|first| {
            let place = match (first.line, &first.column) {
                (Some(l), Some(c)) => format!("line {l}, column {c}: "),
                (Some(l), None) => format!("line {l}: "),
                _ => String::new(),
            };
            format!(
                "import of {} refused, nothing written: {place}{} ({} error(s) in all)",
                opts.file_name,
                first.message,
                outcome.report.errors.len()
            )
        });
    let status = match exit_code {
        0 => 200,
        1 => 422,
        _ => 400,
    };
    let answer = Answer {
        body: body.into_bytes(),
        content_type: req.format.content_type(),
        exit_code,
        message,
        status,
    };
    Ok((answer, outcome.report.applied))
}

/// The `result` label of `autoprov_import_runs_total` for an import's answer.
pub fn result_label(answer: &Answer, dry_run: bool) -> &'static str {
    match answer.exit_code {
        0 if dry_run => "dry_run",
        0 => "applied",
        1 => "refused",
        2 => "file_error",
        _ => "failed",
    }
}

/// What `render` previews.
#[derive(Debug, Clone, Default)]
pub struct RenderRequest {
    pub mac: String,
    pub file: Option<String>,
    pub user_agent: Option<String>,
    /// Report each vendor setting's level in the message (`--explain`).
    pub explain: bool,
}

/// `autoprov render MAC [--file NAME] [--user-agent UA]`: exactly the bytes
/// the phone gets over HTTPS.
pub fn render(
    provisioner: &Provisioner,
    https_url: Option<&str>,
    req: &RenderRequest,
) -> Result<Answer, OpError> {
    let mac = match Mac::parse(&req.mac) {
        Ok(m) => m,
        Err(e) => return Ok(Answer::fail(2, 400, e.to_string())),
    };
    let Some((user, vendor)) = provisioner.phone(mac)? else {
        return Ok(Answer::fail(
            1,
            404,
            format!("no phone with MAC {} in the store", mac.colon()),
        ));
    };
    let file = match &req.file {
        Some(f) => f.trim_start_matches('/').to_string(),
        None => match vendor.main_file().and_then(|r| {
            let model = user.phones.iter().find(|p| p.mac == mac);
            r.file_name_for(mac, model.and_then(|p| p.model.as_deref()))
        }) {
            Some(f) => f,
            None => {
                return Ok(Answer::fail(
                    1,
                    404,
                    format!(
                        "phone {} is a {} phone; autoprov has no {} templates yet",
                        mac.colon(),
                        vendor.name,
                        vendor.name
                    ),
                ));
            }
        },
    };
    let other_mac = provision::path::file_name(&format!("/{file}"))
        .and_then(|n| provision::path::matches(&n).into_iter().find_map(|m| m.mac))
        .filter(|m| *m != mac);
    if let Some(other) = other_mac {
        return Ok(Answer::fail(
            2,
            400,
            format!(
                "--file {file} belongs to MAC {}, not {}",
                other.colon(),
                mac.colon()
            ),
        ));
    }
    let preq = provision::Request {
        path: &format!("/{file}"),
        user_agent: req.user_agent.as_deref(),
        channel: Channel::Secure,
        https_url,
        http_url: None,
    };
    match provisioner.respond(&preq) {
        Ok(served) => {
            let mut answer = Answer::ok(served.body, served.content_type);
            // Printed on stderr by the CLI (the admin API sends it as the
            // message header): a clock the vendor cannot express.
            if !served.warnings.is_empty() {
                let lines: Vec<String> = served
                    .warnings
                    .iter()
                    .map(|w| format!("warning: {w}"))
                    .collect();
                answer.message = Some(lines.join("\nautoprov: "));
            }
            if req.explain {
                let report = super::explain::report(&served.settings, served.firmware.as_deref());
                answer.message = Some(match answer.message.take() {
                    Some(m) => format!("{m}\nautoprov: {report}"),
                    None => report,
                });
            }
            Ok(answer)
        }
        Err(r @ (Refusal::UnknownMac(_) | Refusal::UaMismatch { .. })) => {
            Ok(Answer::fail(1, 404, r.to_string()))
        }
        Err(r) if r.is_server_error() => Err(OpError::Render(r)),
        Err(r) => Ok(Answer::fail(2, 400, format!("{file}: {r}"))),
    }
}

/// Failures that are not about the input: exit code 3, HTTP 500.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error(transparent)]
    Render(Refusal),
}

/// `--mode` / `?mode=`.
pub fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "create" => Ok(Mode::Create),
        "upsert" => Ok(Mode::Upsert),
        "sync" => Ok(Mode::Sync),
        "replace" => Ok(Mode::Replace),
        other => Err(format!(
            "mode {other:?} is not supported; use create, upsert, sync or replace"
        )),
    }
}

/// `--delimiter` / `?delimiter=`; `None` detects it.
pub fn parse_delimiter(s: &str) -> Result<Option<u8>, String> {
    match s {
        "auto" => Ok(None),
        "," | "comma" => Ok(Some(b',')),
        ";" | "semicolon" => Ok(Some(b';')),
        "tab" | "\t" | "\\t" => Ok(Some(b'\t')),
        "|" | "pipe" => Ok(Some(b'|')),
        other => Err(format!(
            "--delimiter {other:?} is not supported; use auto, ',', ';', tab or '|'"
        )),
    }
}

/// `--encoding` / `?encoding=`, with the CLI's aliases.
pub fn parse_encoding(s: &str) -> Result<crate::import::read::EncodingChoice, String> {
    use crate::import::read::EncodingChoice as E;
    match s.to_ascii_lowercase().as_str() {
        "auto" => Ok(E::Auto),
        "utf-8" | "utf8" => Ok(E::Utf8),
        "windows-1252" | "cp1252" | "latin1" => Ok(E::Windows1252),
        "utf-16" | "utf16" => Ok(E::Utf16),
        other => Err(format!(
            "encoding {other:?} is not supported; use auto, utf-8, windows-1252 or utf-16"
        )),
    }
}

/// The canonical name of a forced encoding, as the API's query takes it.
pub fn encoding_name(e: crate::import::read::EncodingChoice) -> &'static str {
    use crate::import::read::EncodingChoice as E;
    match e {
        E::Auto => "auto",
        E::Utf8 => "utf-8",
        E::Windows1252 => "windows-1252",
        E::Utf16 => "utf-16",
    }
}
