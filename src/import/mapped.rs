//! The mapping step of an import: a table read from a foreign file becomes
//! a table of canonical columns, so validation and the report are the same
//! as for a CSV written in autoprov's own columns.

use super::mapping::{MappedRow, Mapping};
use super::read::{Record, Table};
use super::report::{Issue, SkippedRow};

/// A row the mapping could not produce.
pub struct Reject {
    pub row: usize,
    pub line: usize,
    /// The user the row meant, when its username still maps.
    pub username: Option<String>,
    pub issue: Issue,
}

/// The mapped table and what the mapping left out.
pub struct Mapped {
    pub table: Table,
    pub skipped: Vec<SkippedRow>,
    pub rejects: Vec<Reject>,
}

/// Maps every record. A mapping that names a column the file lacks is a
/// file error, before any row is mapped.
pub fn map_table(table: Table, mapping: &Mapping) -> Result<Mapped, Issue> {
    mapping.check_columns(&table.headers).map_err(|e| {
        Issue::file(
            "E_MAPPING",
            Some(table.header_line),
            e.key().map(str::to_string),
            e.to_string(),
        )
    })?;
    let Table {
        encoding,
        bom,
        delimiter,
        headers,
        header_line,
        records,
    } = table;
    let mut kept = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    let mut rejects = Vec::new();
    for r in records {
        match mapping.apply(&headers, &r.fields) {
            Ok(MappedRow::Kept(values)) => kept.push(Record {
                row: r.row,
                line: r.line,
                fields: values.into_iter().map(|(_, v)| v).collect(),
            }),
            Ok(MappedRow::Skipped(reason)) => skipped.push(SkippedRow {
                row: r.row,
                line: Some(r.line),
                entry: None,
                reason,
            }),
            Err(e) => rejects.push(Reject {
                row: r.row,
                line: r.line,
                username: mapping.username_of(&headers, &r.fields),
                issue: Issue {
                    row: Some(r.row),
                    line: Some(r.line),
                    entry: None,
                    column: Some(e.field.clone()),
                    code: "E_MAPPING",
                    message: e.to_string(),
                },
            }),
        }
    }
    Ok(Mapped {
        table: Table {
            encoding,
            bom,
            delimiter,
            headers: mapping.targets(),
            header_line,
            records: kept,
        },
        skipped,
        rejects,
    })
}

/// Says which source column (or template) a row's problem came from.
pub fn annotate(issue: &mut Issue, mapping: &Mapping) {
    if issue.row.is_none() || issue.code == "E_MAPPING" {
        return;
    }
    if let Some(from) = issue
        .column
        .as_deref()
        .and_then(|c| mapping.describe_source(c))
    {
        issue.message.push_str(&format!(" (from {from})"));
    }
}
