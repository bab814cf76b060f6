//! CSV import: read → map columns → validate rows → plan against the store →
//! apply in one transaction. Nothing is written unless every step passed (or
//! the admin asked for a partial import).

pub mod columns;
pub mod plan;
pub mod read;
pub mod report;
pub mod validate;

use std::collections::HashSet;

use indicatif::ProgressBar;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::secret;
use crate::store::{ImportRecord, Store, StoreError};
use columns::map_header;
use plan::{Mention, PlanContext};
use read::{ReadOptions, delimiter_name, read_table};
use report::{FileInfo, Issue, Report, Summary};
use validate::{RowContext, RowData, validate_row};

/// How the file relates to the users already stored (cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only new users; an existing username is an error.
    Create,
    /// New users are created, existing ones updated (the default).
    Upsert,
    /// Upsert, then delete this source's users that the file no longer lists.
    Sync,
    /// The file becomes the whole user set.
    Replace,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Upsert => "upsert",
            Mode::Sync => "sync",
            Mode::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub mode: Mode,
    pub dry_run: bool,
    pub partial: bool,
    pub source: Option<String>,
    pub read: ReadOptions,
    pub show_secrets: bool,
    /// Shown in the history.
    pub file_name: String,
}

/// A finished import: the report and the exit code cli.md assigns to it.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    /// 0 applied (or dry run clean), 1 input refused, 2 file-level problem.
    pub exit_code: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn empty_report(opts: &ImportOptions) -> Report {
    Report {
        mode: opts.mode.as_str(),
        dry_run: opts.dry_run,
        applied: false,
        file: FileInfo::default(),
        summary: Summary::default(),
        errors: Vec::new(),
        warnings: Vec::new(),
        changes: Vec::new(),
        generated: Vec::new(),
    }
}

fn file_failure(mut report: Report, errors: Vec<Issue>) -> Outcome {
    report.summary.errors = errors.len();
    report.summary.warnings = report.warnings.len();
    report.errors = errors;
    Outcome {
        report,
        exit_code: 2,
    }
}

/// Runs one import against `store`. Only store failures are `Err`; every
/// problem with the input is in the returned report.
pub fn run(
    store: &dyn Store,
    config: &Config,
    bytes: &[u8],
    opts: &ImportOptions,
    progress: Option<&ProgressBar>,
) -> Result<Outcome, ImportError> {
    let mut report = empty_report(opts);
    let stage = |msg: &'static str| {
        if let Some(p) = progress {
            p.set_message(msg);
        }
    };

    stage("reading");
    let table = match read_table(bytes, &opts.read) {
        Ok(t) => t,
        Err(e) => {
            let err = Issue::file(e.code, e.line, None, e.message);
            return Ok(file_failure(report, vec![err]));
        }
    };
    report.file = FileInfo {
        encoding: table.encoding.to_string(),
        delimiter: delimiter_name(table.delimiter).to_string(),
        rows: table.records.len(),
    };
    let (map, warnings) = match map_header(&table.headers, table.header_line) {
        Ok(m) => m,
        Err(errors) => return Ok(file_failure(report, errors)),
    };
    report.warnings = warnings;
    if table.records.is_empty() && matches!(opts.mode, Mode::Sync | Mode::Replace) {
        let err = Issue::file(
            "E_EMPTY_SYNC",
            None,
            None,
            format!(
                "the file has no data rows; {} mode refuses it because it would delete every user it manages",
                opts.mode.as_str()
            ),
        );
        return Ok(file_failure(report, vec![err]));
    }

    stage("validating");
    let snapshot = store.snapshot()?;
    let ctx = RowContext {
        map: &map,
        header_len: table.headers.len(),
        sites: &snapshot.sites,
        policy: &config.import,
    };
    let results: Vec<_> = table
        .records
        .par_iter()
        .map(|r| validate_row(r, &ctx))
        .collect();
    let mut rows: Vec<RowData> = Vec::with_capacity(results.len());
    let mut mentions = Vec::with_capacity(results.len());
    let mut errors: Vec<Issue> = Vec::new();
    let mut rejected: HashSet<usize> = HashSet::new();
    for (rec, res) in table.records.iter().zip(results) {
        match res {
            Ok(d) => {
                mentions.push(Mention {
                    username: d.username.clone(),
                    row: d.row,
                    line: d.line,
                });
                rows.push(d);
            }
            Err(rej) => {
                if let Some(u) = rej.username {
                    mentions.push(Mention {
                        username: u,
                        row: rec.row,
                        line: rec.line,
                    });
                }
                rejected.insert(rec.row);
                errors.extend(rej.issues);
            }
        }
    }

    stage("planning");
    let pctx = PlanContext {
        snapshot: &snapshot,
        mode: opts.mode,
        source: opts.source.as_deref(),
        show_secrets: opts.show_secrets,
        mentions: &mentions,
    };
    let mut plan = plan::plan(&rows, &pctx);
    errors.append(&mut plan.errors);
    if opts.partial {
        // Dropping a row can free or take an extension another row relied on:
        // re-plan until no new row fails.
        while !plan.failed_rows.is_empty() {
            rejected.extend(plan.failed_rows.iter().copied());
            rows.retain(|r| !rejected.contains(&r.row));
            plan = plan::plan(&rows, &pctx);
            errors.append(&mut plan.errors);
        }
    } else {
        rejected.extend(plan.failed_rows.iter().copied());
    }
    // By row, then in the order the columns stand in the file.
    let position = |e: &Issue| {
        e.column
            .as_deref()
            .and_then(|c| columns::Column::ALL.iter().find(|k| k.name() == c))
            .and_then(|k| map.get(*k))
            .unwrap_or(usize::MAX)
    };
    errors.sort_by_key(|e| (e.row, position(e)));
    errors.dedup();

    report.warnings.append(&mut plan.warnings);
    report.warnings.sort_by_key(|w| (w.row, w.line));
    report.changes = std::mem::take(&mut plan.entries);
    report.generated = std::mem::take(&mut plan.generated);
    let count = |a: &str| report.changes.iter().filter(|c| c.action == a).count();
    report.summary = Summary {
        created: count("create"),
        updated: count("update"),
        deleted: count("delete"),
        unchanged: count("unchanged"),
        skipped: rejected.len(),
        errors: errors.len(),
        warnings: report.warnings.len(),
    };
    report.errors = errors;

    let refused = !report.errors.is_empty() && !opts.partial;
    let nothing_valid = opts.partial && rows.is_empty() && !table.records.is_empty();
    let exit_code = if refused || nothing_valid { 1 } else { 0 };
    if refused || nothing_valid || opts.dry_run {
        return Ok(Outcome { report, exit_code });
    }

    stage("hashing passwords");
    let hashes: Vec<(usize, String)> = plan
        .pending_hashes
        .par_iter()
        .map(|(idx, pw)| (*idx, secret::hash_web_password(pw)))
        .collect();
    for (idx, h) in hashes {
        if let Some(u) = plan
            .changes
            .changes
            .get_mut(idx)
            .and_then(|c| c.new.as_mut())
        {
            u.web_password_hash = Some(h);
        }
    }

    stage("writing");
    let record = ImportRecord {
        time: now_rfc3339(),
        file: opts.file_name.clone(),
        sha256: hex::encode(Sha256::digest(bytes)),
        mode: opts.mode.as_str().to_string(),
        source: opts.source.clone(),
        created: report.summary.created,
        updated: report.summary.updated,
        deleted: report.summary.deleted,
        unchanged: report.summary.unchanged,
        skipped: report.summary.skipped,
    };
    tracing::info!(changes = plan.changes.changes.len(), "applying import");
    store.apply(snapshot.generation, &plan.changes, &record)?;
    tracing::info!(
        changes = plan.changes.changes.len(),
        "import applied and flushed"
    );
    report.applied = true;
    Ok(Outcome { report, exit_code })
}

/// Current UTC time as RFC 3339, for history and fetch records.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
