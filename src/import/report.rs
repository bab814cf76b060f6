//! The import report: the JSON object of docs/reference/cli.md and its text rendering.
//! Secret values never reach it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// One error or warning, pinned to a row/line/column where there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub row: Option<usize>,
    pub line: Option<usize>,
    /// The entry a row came from when it is not a line of a file (an LDAP
    /// entry's DN); `line` is then `null`. Absent for a file's rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    pub column: Option<String>,
    pub code: &'static str,
    pub message: String,
}

impl Issue {
    /// A file-level problem (`row: null`).
    pub fn file(
        code: &'static str,
        line: Option<usize>,
        column: Option<String>,
        message: String,
    ) -> Issue {
        Issue {
            row: None,
            line,
            entry: None,
            column,
            code,
            message,
        }
    }
}

/// A row a source's filter left out: counted as skipped, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    pub row: usize,
    /// `null` for an entry (an LDAP search's row); see [`Issue::entry`].
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    pub encoding: String,
    pub delimiter: String,
    pub rows: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// A field's `[old, new]` pair; secrets are shown as `"***"`.
pub type FieldDiff = BTreeMap<&'static str, [Option<String>; 2]>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeEntry {
    pub username: String,
    pub action: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: FieldDiff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generated {
    pub username: String,
    pub field: &'static str,
    /// Which line, for users with several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Only with `--show-secrets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub dry_run: bool,
    pub applied: bool,
    pub file: FileInfo,
    pub summary: Summary,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    pub changes: Vec<ChangeEntry>,
    pub generated: Vec<Generated>,
    /// Rows a mapping's filter skipped (only present when there are some).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_rows: Vec<SkippedRow>,
}

/// `1 row`, `5 rows`.
pub fn rows(n: usize) -> String {
    if n == 1 {
        "1 row".to_string()
    } else {
        format!("{n} rows")
    }
}

/// A generated field as a sentence names it.
fn spoken(field: &str) -> &str {
    match field {
        "sip_password" => "SIP password",
        "web_password" => "web password",
        "voicemail_pin" => "voicemail PIN",
        other => other,
    }
}

impl Report {
    /// Names rows by `labels` (by row number from 1; an LDAP entry's DN)
    /// instead of by line: the generated file's lines mean nothing to the
    /// admin. File-level problems lose their line for the same reason.
    pub fn label_rows(&mut self, labels: &[String]) {
        let label = |row: Option<usize>| {
            row.and_then(|r| r.checked_sub(1))
                .and_then(|i| labels.get(i))
                .cloned()
        };
        for i in self.errors.iter_mut().chain(self.warnings.iter_mut()) {
            i.entry = label(i.row);
            i.line = None;
        }
        for r in &mut self.skipped_rows {
            r.entry = label(Some(r.row));
            r.line = None;
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Human report for the terminal: summary first, then every problem.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let s = &self.summary;
        let verb = if self.applied {
            "applied"
        } else if self.dry_run {
            "dry run, nothing written"
        } else {
            "NOT applied, nothing written"
        };
        let _ = write!(out, "import ({} mode, {verb})", self.mode);
        // A file refused before its dialect was known says nothing of one.
        if self.file.encoding.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(
                out,
                ": {} ({}, delimiter {})",
                rows(self.file.rows),
                self.file.encoding,
                self.file.delimiter
            );
        }
        let _ = writeln!(
            out,
            "  created {}, updated {}, deleted {}, unchanged {}, skipped {}, errors {}, warnings {}",
            s.created, s.updated, s.deleted, s.unchanged, s.skipped, s.errors, s.warnings
        );
        for (label, list) in [("error", &self.errors), ("warning", &self.warnings)] {
            for i in list {
                let mut place = String::new();
                // One numbering in messages: the line, which is also the
                // spreadsheet's row number (the header is 1).
                if let Some(e) = &i.entry {
                    let _ = write!(place, "entry {e}");
                } else if let Some(l) = i.line {
                    let _ = write!(place, "line {l}");
                } else if let Some(r) = i.row {
                    let _ = write!(place, "row {r}");
                }
                if let Some(c) = &i.column {
                    let _ = write!(place, ", column {c}");
                }
                let _ = writeln!(out, "  {label} {}: {}: {}", i.code, place.trim(), i.message);
            }
        }
        for r in &self.skipped_rows {
            let place = match (&r.entry, r.line) {
                (Some(e), _) => format!("entry {e}"),
                (None, Some(l)) => format!("line {l}"),
                (None, None) => format!("row {}", r.row),
            };
            let _ = writeln!(out, "  skipped {place}: {}", r.reason);
        }
        for c in self.changes.iter().filter(|c| c.action != "unchanged") {
            let _ = write!(out, "  {} {}", c.action, c.username);
            if !c.fields.is_empty() {
                let names: Vec<&str> = c.fields.keys().copied().collect();
                let _ = write!(out, " ({})", names.join(", "));
            }
            out.push('\n');
        }
        for g in &self.generated {
            match &g.value {
                Some(v) => {
                    let _ = writeln!(out, "  generated {} for {}: {v}", g.field, g.username);
                }
                // Nothing was stored: no password exists to look up yet.
                None if !self.applied => {
                    let _ = writeln!(
                        out,
                        "  a {} will be generated for {}",
                        spoken(g.field),
                        g.username
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  generated {} for {} (see: autoprov users show {} --secrets)",
                        g.field, g.username, g.username
                    );
                }
            }
        }
        out
    }
}
