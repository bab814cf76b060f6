//! Single-user operations (the admin page's user view, `autoprov users
//! edit|add|add-phone|remove-phone|rotate-sip-password|delete`): each one
//! is a one-row import, so its checks, its report and its history line are
//! the import's; there is no second rule set. Only a delete, which no row
//! can say, writes its change itself, with the same history record.

use std::collections::BTreeMap;

use serde_json::json;

use super::ops::{Answer, Format};
use crate::config::Config;
use crate::domain::User;
use crate::domain::mac::Mac;
use crate::import::columns::Column;
use crate::import::{self, ImportError, ImportOptions, Mode};
use crate::store::{Change, ChangeSet, ImportRecord, Store, StoreError};

/// Where a single-user operation came from, as the history's file names it.
pub const FROM_CLI: &str = "(cli)";
/// The admin API (the page, or any API client).
pub const FROM_ADMIN: &str = "(admin page)";

/// What to do to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserOp {
    /// Set these columns (canonical names, as a CSV's header has them); an
    /// empty value clears, as an empty cell does.
    Edit(BTreeMap<String, String>),
    /// A new user with these columns.
    Create(BTreeMap<String, String>),
    /// One more phone (`model` as the `phone_model` column takes it).
    AddPhone {
        mac: String,
        model: Option<String>,
    },
    RemovePhone {
        mac: String,
    },
    /// A new random SIP password on every line.
    RotateSipPassword,
}

impl UserOp {
    /// The history's mode for this operation.
    pub fn name(&self) -> &'static str {
        match self {
            UserOp::Edit(_) => "edit",
            UserOp::Create(_) => "create-user",
            UserOp::AddPhone { .. } => "add-phone",
            UserOp::RemovePhone { .. } => "remove-phone",
            UserOp::RotateSipPassword => "rotate-sip-password",
        }
    }
}

/// One single-user operation and how to run it.
#[derive(Debug, Clone)]
pub struct UserRequest {
    pub username: String,
    pub op: UserOp,
    pub dry_run: bool,
    /// Confirms what deletes (removing a phone): without it nothing is
    /// written and the answer is a 409 (exit 1) with what would change.
    pub yes: bool,
    /// [`FROM_CLI`] or [`FROM_ADMIN`].
    pub origin: String,
    pub format: Format,
}

/// Runs `req` as a one-row import. The answer's body is the import report
/// (text or JSON); a refusal says which column and why. The flag tells
/// whether anything was written.
pub fn run(
    store: &dyn Store,
    config: &Config,
    req: &UserRequest,
) -> Result<(Answer, bool), ImportError> {
    let old = store.user(&req.username)?;
    let row = match row_for(&req.username, old.as_ref(), &req.op) {
        Ok(r) => r,
        Err(refusal) => return Ok((refusal, false)),
    };
    let mut opts = ImportOptions::upsert(req.origin.clone());
    opts.mode = match req.op {
        UserOp::Create(_) => Mode::Create,
        _ => Mode::Upsert,
    };
    let unconfirmed = matches!(req.op, UserOp::RemovePhone { .. }) && !req.yes && !req.dry_run;
    opts.dry_run = req.dry_run || unconfirmed;
    opts.operation = Some(req.op.name().to_string());
    let mut outcome = import::run(store, config, csv_of(&row), &opts, None)?;
    outcome.report.mode = req.op.name();
    let mut answer = answer(&req.username, &req.op, &outcome, req.format);
    if unconfirmed && answer.exit_code == 0 {
        answer.exit_code = 1;
        answer.status = 409;
        answer.message = Some(format!(
            "{} of {} needs a confirmation (--yes, or yes=true): nothing written",
            req.op.name(),
            req.username
        ));
    }
    Ok((answer, outcome.report.applied))
}

/// The one CSV row an operation is: `(column, cell)` pairs, username first.
type Row = Vec<(String, String)>;

/// The row that carries out `op` on the user as stored (`old`), or the
/// refusal when the request cannot be a row at all (no such user, a field
/// that is not a column).
fn row_for(username: &str, old: Option<&User>, op: &UserOp) -> Result<Row, Answer> {
    let mut row: Row = vec![("username".into(), username.to_string())];
    let missing = || Answer::fail(1, 404, format!("no user named {username:?}"));
    match op {
        UserOp::Create(fields) => {
            if old.is_some() {
                return Err(Answer::fail(
                    1,
                    409,
                    format!("user {username:?} already exists; edit it instead"),
                ));
            }
            row.extend(checked_fields(fields)?);
        }
        UserOp::Edit(fields) => {
            old.ok_or_else(missing)?;
            if fields.is_empty() {
                return Err(Answer::fail(
                    2,
                    400,
                    "nothing to change: give at least one field",
                ));
            }
            row.extend(checked_fields(fields)?);
        }
        UserOp::AddPhone { mac, model } => {
            let u = old.ok_or_else(missing)?;
            let mut phones = phone_cells(&u.phones);
            phones.push((
                mac.trim().to_string(),
                model.clone().unwrap_or_default(),
                String::new(),
            ));
            row.extend(phone_columns(&phones));
        }
        UserOp::RemovePhone { mac } => {
            let u = old.ok_or_else(missing)?;
            let parsed = Mac::parse(mac).map_err(|e| Answer::fail(2, 400, e.to_string()))?;
            if !u.phones.iter().any(|p| p.mac == parsed) {
                return Err(Answer::fail(
                    1,
                    404,
                    format!("user {username:?} has no phone with MAC {}", parsed.colon()),
                ));
            }
            let kept: Vec<_> = u
                .phones
                .iter()
                .filter(|p| p.mac != parsed)
                .cloned()
                .collect();
            row.extend(phone_columns(&phone_cells(&kept)));
        }
        UserOp::RotateSipPassword => {
            let u = old.ok_or_else(missing)?;
            if u.lines.is_empty() {
                return Err(Answer::fail(
                    1,
                    422,
                    format!("user {username:?} has no SIP line (no extension) to rotate"),
                ));
            }
            row.push(("sip_password".into(), "REGEN".into()));
        }
    }
    Ok(row)
}

/// The requested fields, each a column the import knows by its canonical
/// name; `username` is the row's key, so it cannot be changed here.
fn checked_fields(fields: &BTreeMap<String, String>) -> Result<Row, Answer> {
    let mut out = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        if k == "username" {
            return Err(Answer::fail(
                2,
                400,
                "the username cannot be changed (it is how the user is found); create a new user instead",
            ));
        }
        if !Column::ALL.iter().any(|c| c.name() == k) {
            let known: Vec<&str> = Column::ALL.iter().skip(1).map(|c| c.name()).collect();
            return Err(Answer::fail(
                2,
                400,
                format!("{k:?} is not a user field; fields: {}", known.join(", ")),
            ));
        }
        out.push((k.clone(), v.clone()));
    }
    Ok(out)
}

/// A user's phones as (mac, phone_model, phoneip) cells.
fn phone_cells(phones: &[crate::domain::Phone]) -> Vec<(String, String, String)> {
    phones
        .iter()
        .map(|p| {
            let model = match &p.model {
                Some(m) => format!("{}-{m}", p.vendor),
                None => p.vendor.clone(),
            };
            let ip = p.ip.map(|i| i.to_string()).unwrap_or_default();
            (p.mac.plain(), model, ip)
        })
        .collect()
}

/// The `mac`, `phone_model` and `phoneip` columns of a phone list (empty
/// cells clear the user's phones).
fn phone_columns(phones: &[(String, String, String)]) -> Row {
    let join = |f: fn(&(String, String, String)) -> &String| {
        phones.iter().map(f).cloned().collect::<Vec<_>>().join(";")
    };
    let mut row = vec![
        ("mac".to_string(), join(|p| &p.0)),
        ("phone_model".to_string(), join(|p| &p.1)),
    ];
    // Only when some phone has an IP: a column of empty cells would say
    // "one IP per MAC" with none given.
    if phones.iter().any(|p| !p.2.is_empty()) {
        row.push(("phoneip".to_string(), join(|p| &p.2)));
    }
    row
}

/// The row as a CSV file (header and one record), quoted as needed.
fn csv_of(row: &Row) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
    let cells: Vec<&str> = row.iter().map(|(_, v)| v.as_str()).collect();
    // Writing to a Vec cannot fail.
    let _ = w.write_record(&header);
    let _ = w.write_record(&cells);
    w.into_inner().unwrap_or_default()
}

/// The import's outcome as the operation's answer: the report as the body,
/// and for a refusal its first error by column (the row's line means
/// nothing to whoever edited one user).
fn answer(username: &str, op: &UserOp, outcome: &import::Outcome, format: Format) -> Answer {
    let report = &outcome.report;
    let body = match format {
        Format::Json => report.to_json() + "\n",
        Format::Text => report.to_text(),
    };
    let exit_code = u8::try_from(outcome.exit_code).unwrap_or(3);
    let message = report.errors.first().filter(|_| exit_code != 0).map(|e| {
        let place = e
            .column
            .as_deref()
            .map(|c| format!("{c}: "))
            .unwrap_or_default();
        format!(
            "{} of {username} refused, nothing written: {place}{} ({} error(s) in all)",
            op.name(),
            e.message,
            report.errors.len()
        )
    });
    Answer {
        body: body.into_bytes(),
        content_type: format.content_type(),
        exit_code,
        message,
        status: match exit_code {
            0 => 200,
            1 => 422,
            _ => 400,
        },
    }
}

/// Deletes one user (and so its phones), recorded in the history with mode
/// `delete`. Without `yes` (or with `dry_run`) nothing is written and the
/// answer says what would go: exit 1 and HTTP 409 without `yes`, so a
/// caller that forgot to confirm cannot mistake it for done.
pub fn delete(
    store: &dyn Store,
    username: &str,
    yes: bool,
    dry_run: bool,
    origin: &str,
    format: Format,
) -> Result<Answer, StoreError> {
    let Some(user) = store.user(username)? else {
        return Ok(Answer::fail(1, 404, format!("no user named {username:?}")));
    };
    let what = doomed(&user);
    let applied = yes && !dry_run;
    if applied {
        // The generation guards against a writer in between; next_id stays.
        let snapshot = store.snapshot()?;
        let record = ImportRecord {
            time: crate::domain::clock::now_rfc3339(),
            file: origin.to_string(),
            sha256: String::new(),
            mode: "delete".into(),
            source: None,
            created: 0,
            updated: 0,
            deleted: 1,
            unchanged: 0,
            skipped: 0,
            outcome: None,
        };
        let changes = ChangeSet {
            changes: vec![Change {
                old: Some(Box::new(user.clone())),
                new: None,
            }],
            next_id: snapshot.next_id,
        };
        store.apply(snapshot.generation, changes, &record)?;
        tracing::info!(user = %username, "user deleted");
    }
    let v = json!({
        "username": username,
        "deleted": applied,
        "dry_run": dry_run,
        "would_delete": what,
    });
    let body = match format {
        Format::Json => serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
        Format::Text => {
            let verb = if applied { "deleted" } else { "would delete" };
            let mut out = format!("{verb} user {username}");
            if let Some(ext) = what["extensions"].as_array().filter(|a| !a.is_empty()) {
                let list: Vec<&str> = ext.iter().filter_map(|e| e.as_str()).collect();
                out.push_str(&format!(", extension(s) {}", list.join(", ")));
            }
            if let Some(macs) = what["phones"].as_array().filter(|a| !a.is_empty()) {
                let list: Vec<&str> = macs.iter().filter_map(|e| e.as_str()).collect();
                out.push_str(&format!(", phone(s) {}", list.join(", ")));
            }
            out + "\n"
        }
    };
    let mut answer = Answer::ok(body, format.content_type());
    if !yes && !dry_run {
        answer.exit_code = 1;
        answer.status = 409;
        answer.message = Some(format!(
            "deleting user {username} needs a confirmation (--yes, or yes=true): nothing written"
        ));
    }
    Ok(answer)
}

/// What deleting `u` takes with it.
fn doomed(u: &User) -> serde_json::Value {
    json!({
        "extensions": u.lines.iter().map(|l| l.extension.clone()).collect::<Vec<_>>(),
        "phones": u.phones.iter().map(|p| p.mac.colon()).collect::<Vec<_>>(),
    })
}
