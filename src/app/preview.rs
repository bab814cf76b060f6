//! The web page's preview of an upload: the dry-run report plus what the
//! report alone cannot show, namely the column mapping and the rows
//! themselves, so errors can be marked on the cell they are about.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::ops::{Answer, ImportRequest};
use crate::config::Config;
use crate::domain::DEFAULT_SITE;
use crate::import::columns::{Column, map_header_ignoring};
use crate::import::mapping::{Mapping, Source};
use crate::import::read::read_table;
use crate::import::report::Issue;
use crate::import::{self, ImportError};
use crate::store::Store;

/// Columns whose cells are masked in the preview, as in every report.
const SECRET: [Column; 3] = [
    Column::SipPassword,
    Column::WebPassword,
    Column::VoicemailPin,
];

/// `{"exit_code", "report", "table": {headers, columns, header_line, rows},
/// "deletions": {count, users}, "changes": [...]}`:
/// `report` is exactly what `import --dry-run --format json` prints (plus
/// a sync without a source refused in plain words); `columns[i]` is the
/// canonical column header `i` maps to (`null` if ignored); `rows` are all
/// rows (the page pages through them); `changes` are the report's changes
/// with what a created or updated user will have (see [`glance`]).
pub fn preview(
    store: &dyn Store,
    config: &Config,
    bytes: Vec<u8>,
    req: &ImportRequest,
) -> Result<Answer, ImportError> {
    let mut opts = req.options.clone();
    opts.dry_run = true;
    let table = read_table(&bytes, &opts.read).ok();
    let mut outcome = import::run(store, config, bytes, &opts, None)?;
    let checked = ImportRequest {
        options: opts.clone(),
        yes: true,
        format: req.format,
    };
    if let Err(m) = super::ops::check_import_plain(&checked) {
        let report = &mut outcome.report;
        report
            .errors
            .insert(0, Issue::file("E_SYNC_NEEDS_SOURCE", None, None, m));
        report.summary.errors = report.errors.len();
        outcome.exit_code = 2;
    }
    let report = &outcome.report;
    let mut details: HashMap<String, Value> = HashMap::new();
    let table = table.map(|t| {
        let columns = match &opts.mapping {
            Some(m) => mapped_columns(&t.headers, m),
            None => alias_columns(&t.headers, t.header_line, &opts.ignore_columns),
        };
        details = glances(&t, &columns);
        // An LDAP search's rows are named by their DN, not a line.
        let label = opts
            .label_column
            .as_deref()
            .and_then(|c| t.headers.iter().position(|h| h == c));
        let rows: Vec<Value> = t
            .records
            .iter()
            .map(|r| {
                let cells: Vec<&str> = r
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let secret = columns
                            .get(i)
                            .copied()
                            .flatten()
                            .is_some_and(|c| SECRET.contains(&c));
                        if secret && !f.is_empty() {
                            "***"
                        } else {
                            f.as_str()
                        }
                    })
                    .collect();
                match label.and_then(|i| r.fields.get(i)) {
                    Some(dn) => json!({"row": r.row, "line": null, "entry": dn, "cells": cells}),
                    None => json!({"row": r.row, "line": r.line, "cells": cells}),
                }
            })
            .collect();
        json!({
            "headers": t.headers,
            "header_line": t.header_line,
            "columns": columns.iter().map(|c| c.map(Column::name)).collect::<Vec<_>>(),
            "rows": rows,
            "total_rows": t.records.len(),
            "fields": Column::ALL.iter().map(|c| c.name()).collect::<Vec<_>>(),
        })
    });
    let exit_code = u8::try_from(outcome.exit_code).unwrap_or(3);
    let deleted: Vec<&str> = report
        .changes
        .iter()
        .filter(|c| c.action == "delete")
        .map(|c| c.username.as_str())
        .collect();
    let body = json!({
        "exit_code": exit_code,
        "report": report,
        "table": table,
        "deletions": {"count": deleted.len(), "users": deleted},
        "changes": changes(store, report, &details)?,
    });
    Ok(Answer::ok(
        serde_json::to_vec(&body).unwrap_or_default(),
        "application/json",
    ))
}

/// The report's changes, each create and update with what the user will
/// have: extension(s), MAC(s), model(s), site, and `"sip_password": "will
/// be generated"` when one is (never a value). From the file's cells where
/// it has the column, else from the stored user.
fn changes(
    store: &dyn Store,
    report: &crate::import::report::Report,
    details: &HashMap<String, Value>,
) -> Result<Vec<Value>, ImportError> {
    let generated: std::collections::HashSet<&str> = report
        .generated
        .iter()
        .filter(|g| g.field == "sip_password")
        .map(|g| g.username.as_str())
        .collect();
    let mut out = Vec::with_capacity(report.changes.len());
    for c in &report.changes {
        let mut v = json!({"username": c.username, "action": c.action, "fields": c.fields});
        if matches!(c.action, "create" | "update") {
            let stored = match c.action {
                "update" => store.user(&c.username)?,
                _ => None,
            };
            let mut g = stored.as_ref().map(stored_glance).unwrap_or_else(
                || json!({"extension": [], "macs": [], "models": [], "site": DEFAULT_SITE}),
            );
            if let (Value::Object(g), Some(Value::Object(file))) =
                (&mut g, details.get(&c.username))
            {
                g.extend(file.clone());
            }
            if generated.contains(c.username.as_str()) {
                g["sip_password"] = json!("will be generated");
            }
            if let (Value::Object(v), Value::Object(g)) = (&mut v, g) {
                v.extend(g);
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// What a stored user has, in [`changes`]' fields.
fn stored_glance(u: &crate::domain::User) -> Value {
    json!({
        "extension": u.lines.iter().map(|l| l.extension.clone()).collect::<Vec<_>>(),
        "macs": u.phones.iter().map(|p| p.mac.plain()).collect::<Vec<_>>(),
        "models": u.phones.iter().map(|p| match &p.model {
            Some(m) => format!("{}-{m}", p.vendor),
            None => p.vendor.clone(),
        }).collect::<Vec<_>>(),
        "site": u.site,
    })
}

/// Per username, the cells of the file's extension, mac, phone_model and
/// site columns (where it has them), as `;`-lists split.
fn glances(t: &crate::import::read::Table, columns: &[Option<Column>]) -> HashMap<String, Value> {
    let at = |c: Column| columns.iter().position(|k| *k == Some(c));
    let Some(user_at) = at(Column::Username) else {
        return HashMap::new();
    };
    let list = |v: &str| -> Vec<String> {
        v.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut out = HashMap::new();
    for r in &t.records {
        let Some(name) = r.fields.get(user_at) else {
            continue;
        };
        let mut g = serde_json::Map::new();
        for (col, key) in [
            (Column::Extension, "extension"),
            (Column::Mac, "macs"),
            (Column::PhoneModel, "models"),
        ] {
            if let Some(cell) = at(col).and_then(|i| r.fields.get(i)) {
                let mut items = list(cell);
                if col == Column::Mac {
                    // As the store writes them; a cell that is no MAC as written.
                    for m in &mut items {
                        if let Ok(mac) = crate::domain::mac::Mac::parse(m) {
                            *m = mac.plain();
                        }
                    }
                }
                g.insert(key.into(), json!(items));
            }
        }
        if let Some(site) = at(Column::Site).and_then(|i| r.fields.get(i)) {
            let site = site.trim();
            g.insert(
                "site".into(),
                json!(if site.is_empty() { DEFAULT_SITE } else { site }),
            );
        }
        out.entry(name.trim().to_string())
            .or_insert(Value::Object(g));
    }
    out
}

/// The canonical column each header feeds by its aliases.
fn alias_columns(headers: &[String], header_line: usize, ignore: &[String]) -> Vec<Option<Column>> {
    // A misspelled column refuses the file, but the page still shows how
    // the other columns read: map again with it ignored.
    let map = match map_header_ignoring(headers, header_line, ignore) {
        Ok((m, _)) => Some(m),
        Err(errors) => {
            let mut also: Vec<String> = ignore.to_vec();
            also.extend(
                errors
                    .iter()
                    .filter(|e| e.code == "E_UNKNOWN_COLUMN")
                    .filter_map(|e| e.column.clone()),
            );
            map_header_ignoring(headers, header_line, &also)
                .map(|(m, _)| m)
                .ok()
        }
    };
    (0..headers.len())
        .map(|i| {
            map.as_ref()
                .and_then(|m| Column::ALL.iter().find(|c| m.get(**c) == Some(i)).copied())
        })
        .collect()
}

/// The canonical column each header feeds through a mapping (first field
/// that reads it as a plain column), so errors land on the right cell and
/// a mapped secret column is masked.
fn mapped_columns(headers: &[String], mapping: &Mapping) -> Vec<Option<Column>> {
    headers
        .iter()
        .map(|h| {
            mapping.fields.iter().find_map(|r| match &r.source {
                Source::Column(c) if c == h => {
                    Column::ALL.iter().find(|k| k.name() == r.field).copied()
                }
                _ => None,
            })
        })
        .collect()
}

/// `GET /api/v1/template.csv`: the canonical columns and two example rows
/// that import as they are (secrets left empty: SIP passwords are then
/// generated, web passwords and PINs stay unset).
pub const TEMPLATE_CSV: &str = "username,first_name,last_name,display_name,email,mobile,extension,sip_password,web_password,voicemail_pin,enabled,language,timezone,transport,mac,phone_model,phoneip,blf,site,settings
anna.becker,Anna,Becker,,anna.becker@example.com,+49 170 1234567,2201,,,,yes,de,Europe/Berlin,,805ec0000001,yealink-t54w,,2202:Ben,,
ben.schulz,Ben,Schulz,Ben Schulz (Support),ben.schulz@example.com,,2202,,,,yes,en,Europe/Berlin,tls,,,,,,
";

/// The error report of an upload as CSV (`POST /api/v1/import/preview?report=csv`):
/// one line per error and warning, `row,line,column,code,message`, in the
/// report's order. Cells a spreadsheet would run as a formula are quoted
/// with `'` (a column name comes from the uploaded header).
pub fn report_csv(
    store: &dyn Store,
    config: &Config,
    bytes: Vec<u8>,
    req: &ImportRequest,
) -> Result<Answer, ImportError> {
    let mut opts = req.options.clone();
    opts.dry_run = true;
    let outcome = import::run(store, config, bytes, &opts, None)?;
    let report = &outcome.report;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let num = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
    let _ = w.write_record(["row", "line", "column", "code", "message"]);
    for i in report.errors.iter().chain(&report.warnings) {
        let column = i.column.as_deref().unwrap_or("");
        let place = match &i.entry {
            Some(e) => e.clone(),
            None => num(i.line),
        };
        let _ = w.write_record([
            num(i.row),
            place,
            defused(column),
            i.code.to_string(),
            defused(&i.message),
        ]);
    }
    let body = w.into_inner().unwrap_or_default();
    let mut answer = Answer::ok(body, "text/csv; charset=utf-8");
    answer.exit_code = u8::try_from(outcome.exit_code).unwrap_or(3);
    // The report itself is the answer, whatever the import thought of the file.
    answer.status = 200;
    Ok(answer)
}

/// A cell that cannot start a spreadsheet formula.
fn defused(v: &str) -> String {
    if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_string()
    }
}
