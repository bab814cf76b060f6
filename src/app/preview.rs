//! The web page's preview of an upload: the dry-run report plus what the
//! report alone cannot show, namely the column mapping and the rows
//! themselves, so errors can be marked on the cell they are about.

use serde_json::{Value, json};

use super::ops::{Answer, ImportRequest};
use crate::config::Config;
use crate::import::columns::{Column, map_header};
use crate::import::mapping::{Mapping, Source};
use crate::import::read::read_table;
use crate::import::{self, ImportError};
use crate::store::Store;

/// Rows sent besides every row with an error: enough to look at, not the
/// whole of a 100,000-row file.
const SAMPLE_ROWS: usize = 200;

/// Columns whose cells are masked in the preview, as in every report.
const SECRET: [Column; 3] = [
    Column::SipPassword,
    Column::WebPassword,
    Column::VoicemailPin,
];

/// `{"exit_code", "report", "table": {headers, columns, header_line, rows}}`:
/// `report` is exactly what `import --dry-run --format json` prints;
/// `columns[i]` is the canonical column header `i` maps to (`null` if
/// ignored); `rows` are the first rows and every row with an error.
pub fn preview(
    store: &dyn Store,
    config: &Config,
    bytes: Vec<u8>,
    req: &ImportRequest,
) -> Result<Answer, ImportError> {
    let mut opts = req.options.clone();
    opts.dry_run = true;
    let table = read_table(&bytes, &opts.read).ok();
    let outcome = import::run(store, config, bytes, &opts, None)?;
    let report = &outcome.report;
    let table = table.map(|t| {
        let columns = match &opts.mapping {
            Some(m) => mapped_columns(&t.headers, m),
            None => alias_columns(&t.headers, t.header_line),
        };
        let with_error: std::collections::HashSet<usize> =
            report.errors.iter().filter_map(|e| e.row).collect();
        // An LDAP search's rows are named by their DN, not a line.
        let label = opts
            .label_column
            .as_deref()
            .and_then(|c| t.headers.iter().position(|h| h == c));
        let rows: Vec<Value> = t
            .records
            .iter()
            .filter(|r| r.row <= SAMPLE_ROWS || with_error.contains(&r.row))
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
    let body = json!({
        "exit_code": exit_code,
        "report": report,
        "table": table,
    });
    Ok(Answer::ok(
        serde_json::to_vec(&body).unwrap_or_default(),
        "application/json",
    ))
}

/// The canonical column each header feeds by its aliases.
fn alias_columns(headers: &[String], header_line: usize) -> Vec<Option<Column>> {
    let map = map_header(headers, header_line).map(|(m, _)| m).ok();
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
