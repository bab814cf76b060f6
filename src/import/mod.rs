//! CSV import: read → map columns → validate rows → plan against the store →
//! apply in one transaction. Nothing is written unless every step passed (or
//! the admin asked for a partial import).

pub mod columns;
pub mod existing;
pub mod mapped;
pub mod mapping;
pub mod plan;
pub mod read;
pub mod report;
pub mod settings;
pub mod validate;

use std::collections::HashSet;

use rayon::iter::Either;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::secret;
use crate::store::{ImportRecord, Store, StoreError};
use columns::map_header_ignoring;
use plan::{Mention, PlanContext};
use read::{ReadOptions, delimiter_name, read_table};
use report::{FileInfo, Issue, Report, Summary};
use validate::{RowContext, RowData, validate_row};

/// How the file relates to the users already stored (docs/reference/cli.md).
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
    /// Move MACs from users the file doesn't list instead of refusing the row.
    pub reassign_macs: bool,
    /// Shown in the history.
    pub file_name: String,
    /// Source columns → canonical fields, and a row filter (`--map`,
    /// `[sources.NAME.map]`); `None` reads the header by its aliases.
    pub mapping: Option<mapping::Mapping>,
    /// A column whose cell names each row in the report instead of its
    /// line: `dn` for the table an LDAP search becomes.
    pub label_column: Option<String>,
    /// What the source itself has to say (an LDAP search's skipped binary
    /// attributes), added to the report's warnings.
    pub notes: Vec<Issue>,
    /// Refuse a sync or replace that would delete more than this share (in
    /// percent) of the users it manages; nothing is written then.
    pub max_delete_percent: Option<u8>,
    /// Header columns not to import (`--ignore-column`, `ignore_column=`):
    /// how the admin accepts an unknown column that looks misspelled.
    pub ignore_columns: Vec<String>,
    /// The single-user operation this one-row import carries out (`edit`,
    /// `add-phone`...), recorded in the history as its mode.
    pub operation: Option<String>,
}

impl ImportOptions {
    /// What a plain `autoprov import FILE` does: upsert, all or nothing,
    /// delimiter and encoding detected, secrets masked in the report.
    pub fn upsert(file_name: impl Into<String>) -> ImportOptions {
        ImportOptions {
            mode: Mode::Upsert,
            dry_run: false,
            partial: false,
            source: None,
            read: ReadOptions {
                delimiter: None,
                encoding: read::EncodingChoice::Auto,
            },
            show_secrets: false,
            reassign_macs: false,
            file_name: file_name.into(),
            mapping: None,
            label_column: None,
            notes: Vec::new(),
            max_delete_percent: None,
            ignore_columns: Vec::new(),
            operation: None,
        }
    }
}

/// A finished import: the report and the exit code docs/reference/cli.md assigns to it.
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
        skipped_rows: Vec::new(),
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

/// Told how a long import is going, so a face can show it (the CLI draws
/// a bar on a terminal); the import itself knows nothing of terminals.
/// Called from several threads while passwords are hashed.
pub trait Progress: Sync {
    /// A new step began (`reading`, `validating`, `hashing passwords`...).
    fn stage(&self, name: &'static str);
    /// The current step has `total` items to count.
    fn count_to(&self, total: u64);
    /// One more item is done.
    fn counted(&self);
    /// Counting is over; the step goes on uncounted.
    fn count_done(&self);
}

/// Runs one import against `store`. Only store failures are `Err`; every
/// problem with the input is in the returned report.
pub fn run(
    store: &dyn Store,
    config: &Config,
    bytes: Vec<u8>,
    opts: &ImportOptions,
    progress: Option<&dyn Progress>,
) -> Result<Outcome, ImportError> {
    let mut labels = None;
    let mut outcome = import_rows(store, config, bytes, opts, progress, &mut labels)?;
    let report = &mut outcome.report;
    if let Some(labels) = &labels {
        report.label_rows(labels);
    }
    report.warnings.extend(opts.notes.iter().cloned());
    report.summary.warnings = report.warnings.len();
    Ok(outcome)
}

/// The cells of `column`, one per data record in order, when the table
/// has that column.
fn row_labels(table: &read::Table, column: &str) -> Option<Vec<String>> {
    let i = table.headers.iter().position(|h| h == column)?;
    Some(
        table
            .records
            .iter()
            .map(|r| r.fields.get(i).cloned().unwrap_or_default())
            .collect(),
    )
}

/// A sync or replace that would delete more of the users it manages than
/// `max_delete_percent` allows: refused, whatever `--partial` says.
fn too_many_deletes(
    deleted: usize,
    existing: &existing::Existing,
    opts: &ImportOptions,
) -> Option<Issue> {
    let percent = opts.max_delete_percent?;
    let managed = match opts.mode {
        Mode::Sync => existing
            .users
            .iter()
            .filter(|u| u.source.is_some() && u.source.as_deref() == opts.source.as_deref())
            .count(),
        Mode::Replace => existing.users.len(),
        Mode::Create | Mode::Upsert => return None,
    };
    // deleted / managed > percent / 100, in integers.
    (deleted * 100 > usize::from(percent) * managed).then(|| {
        Issue::file(
            "E_TOO_MANY_DELETES",
            None,
            None,
            format!(
                "this import would delete {deleted} of the {managed} users it manages, more than the {percent} % allowed (max_delete_percent); nothing is written. If the source really dropped them, raise the limit for one run"
            ),
        )
    })
}

/// The process's peak resident memory so far (Linux `VmHWM`), for the
/// stage log: where an import's memory goes is what its benchmark watches.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// [`run`], with the row labels it found (see [`ImportOptions::label_column`])
/// left in `labels` for the report.
fn import_rows(
    store: &dyn Store,
    config: &Config,
    bytes: Vec<u8>,
    opts: &ImportOptions,
    progress: Option<&dyn Progress>,
    labels: &mut Option<Vec<String>>,
) -> Result<Outcome, ImportError> {
    let mut report = empty_report(opts);
    let started = std::time::Instant::now();
    let stage = |msg: &'static str| {
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            rss_peak_kb = peak_rss_kb(),
            "import stage: {msg}"
        );
        if let Some(p) = progress {
            p.stage(msg);
        }
    };

    stage("reading");
    // The file is hashed for the history and then dropped: at 100,000 rows
    // every copy of it held to the end costs peak memory.
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let table = read_table(&bytes, &opts.read);
    drop(bytes);
    let table = match table {
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
    *labels = opts
        .label_column
        .as_deref()
        .and_then(|c| row_labels(&table, c));
    let mut mapping_rejects = Vec::new();
    let table = match &opts.mapping {
        None => table,
        Some(m) => match mapped::map_table(table, m) {
            Ok(out) => {
                report.skipped_rows = out.skipped;
                mapping_rejects = out.rejects;
                out.table
            }
            Err(issue) => return Ok(file_failure(report, vec![issue])),
        },
    };
    let mapped = map_header_ignoring(&table.headers, table.header_line, &opts.ignore_columns);
    let (map, warnings) = match mapped {
        Ok(m) => m,
        Err(errors) => {
            // A header that reads fine but names a column wrongly is the
            // admin's data refused (exit 1), not a file autoprov can't read.
            let misspelled = errors.iter().all(|e| e.code == "E_UNKNOWN_COLUMN");
            let mut outcome = file_failure(report, errors);
            if misspelled {
                outcome.exit_code = 1;
            }
            return Ok(outcome);
        }
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
    // Rows need only the sites; the stored users are read after the raw
    // records are gone, so the two never sit in memory together.
    let sites = store.sites()?;
    let ctx = RowContext {
        map: &map,
        header_len: table.headers.len(),
        sites: &sites,
        policy: &config.import,
    };
    let record_count = table.records.len();
    // Records are consumed as they are validated, so the raw cells and the
    // typed rows are not both held in full.
    // Split straight into valid rows and rejections: no third vector of
    // results alongside them.
    let (rows, rejections): (Vec<RowData>, Vec<_>) =
        table
            .records
            .into_par_iter()
            .partition_map(|r| match validate_row(&r, &ctx) {
                Ok(d) => Either::Left(d),
                Err(rej) => Either::Right((r.row, r.line, rej)),
            });
    let mut rows = rows;
    // Every rule on every row: a rejected row's valid extension or MAC
    // still collides with another row's (the plan sees valid rows only).
    let cross = validate::rejected_collisions(&rows, &rejections, opts.partial);
    for r in &mut rows {
        report.warnings.append(&mut r.warnings);
    }
    let mut mentions = Vec::with_capacity(rows.len() + rejections.len());
    mentions.extend(rows.iter().map(|d| Mention {
        username: d.username.clone(),
        row: d.row,
        line: d.line,
    }));
    let mut errors: Vec<Issue> = Vec::new();
    let mut rejected: HashSet<usize> = HashSet::new();
    rejected.extend(cross.rows);
    errors.extend(cross.issues);
    rows.retain(|r| !rejected.contains(&r.row));
    for (row, line, mut rej) in rejections {
        report.warnings.append(&mut rej.warnings);
        if let Some(u) = rej.username {
            mentions.push(Mention {
                username: u,
                row,
                line,
            });
        }
        rejected.insert(row);
        errors.extend(rej.issues);
    }
    for r in mapping_rejects {
        if let Some(u) = r.username {
            mentions.push(Mention {
                username: u,
                row: r.row,
                line: r.line,
            });
        }
        rejected.insert(r.row);
        errors.push(r.issue);
    }

    stage("planning");
    // One at a time into their encoded form: no decoded snapshot ever sits
    // beside the typed rows.
    let existing = existing::Existing::load(store)?;
    tracing::debug!(
        users = existing.users.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        rss_peak_kb = peak_rss_kb(),
        "stored users read"
    );
    let pctx = PlanContext {
        existing: &existing,
        mode: opts.mode,
        source: opts.source.as_deref(),
        show_secrets: opts.show_secrets,
        mentions: &mentions,
        reassign_macs: opts.reassign_macs,
        allow_override: &config.settings.allow_override,
        labels: labels.as_deref(),
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
    if let Some(m) = &opts.mapping {
        for issue in errors.iter_mut().chain(report.warnings.iter_mut()) {
            mapped::annotate(issue, m);
        }
    }
    report.changes = std::mem::take(&mut plan.entries);
    report.generated = std::mem::take(&mut plan.generated);
    let count = |a: &str| report.changes.iter().filter(|c| c.action == a).count();
    let guard = too_many_deletes(count("delete"), &existing, opts);
    let guarded = guard.is_some();
    errors.extend(guard);
    report.summary = Summary {
        created: count("create"),
        updated: count("update"),
        deleted: count("delete"),
        unchanged: count("unchanged"),
        skipped: rejected.len() + report.skipped_rows.len(),
        errors: errors.len(),
        warnings: report.warnings.len(),
    };
    report.errors = errors;

    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        rss_peak_kb = peak_rss_kb(),
        "planned"
    );
    let refused = guarded || (!report.errors.is_empty() && !opts.partial);
    let nothing_valid = opts.partial && rows.is_empty() && record_count > 0;
    let exit_code = if refused || nothing_valid { 1 } else { 0 };
    if refused || nothing_valid || opts.dry_run {
        return Ok(Outcome { report, exit_code });
    }

    // Only the plan is needed from here on; free the rows and the snapshot
    // before hashing and writing, the two steps that need memory of their own.
    let (generation, provisional_id) = (existing.generation, existing.next_id);

    drop((rows, mentions, existing));

    stage("hashing passwords");
    // The one step long enough to deserve a real bar (~20 s at 100,000 rows).
    if let Some(p) = progress
        && !plan.pending_hashes.is_empty()
    {
        p.count_to(plan.pending_hashes.len() as u64);
    }
    let hashes: Vec<(usize, String)> = plan
        .pending_hashes
        .par_iter()
        .map(|(idx, pw)| {
            let h = secret::hash_web_password(pw);
            if let Some(p) = progress {
                p.counted();
            }
            (*idx, h)
        })
        .collect();
    if let Some(p) = progress {
        p.count_done();
    }
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
        time: crate::domain::clock::now_rfc3339(),
        file: opts.file_name.clone(),
        sha256,
        mode: opts
            .operation
            .clone()
            .unwrap_or_else(|| opts.mode.as_str().to_string()),
        source: opts.source.clone(),
        created: report.summary.created,
        updated: report.summary.updated,
        deleted: report.summary.deleted,
        unchanged: report.summary.unchanged,
        skipped: report.summary.skipped,
        outcome: None,
    };
    existing::renumber(store, &mut plan.changes, provisional_id)?;
    let count = plan.changes.changes.len();
    tracing::info!(changes = count, "applying import");
    store.apply(generation, std::mem::take(&mut plan.changes), &record)?;
    tracing::info!(
        changes = count,
        elapsed_ms = started.elapsed().as_millis() as u64,
        rss_peak_kb = peak_rss_kb(),
        "import applied and flushed"
    );
    report.applied = true;
    Ok(Outcome { report, exit_code })
}
