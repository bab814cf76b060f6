//! Scheduled imports: named sources in the config (`[sources.NAME]`) whose
//! CSV is fetched from a URL on a schedule and imported as source NAME,
//! plus test runs (dry runs) on demand through the admin API.
//!
//! A failed fetch, an error status, an HTML page (a login page served
//! instead of the export) or an empty file never reaches the import, so it
//! can never delete anything; a sync of a header-only file is refused by
//! the import itself. Every scheduled run lands in the import history,
//! the ones that wrote nothing with the reason in `outcome`.

pub mod fetch;
pub mod ldap;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::app::Serving;
use crate::app::ops::{self, Answer, Format, ImportRequest};
use crate::config::SourceConfig;
use crate::import::ImportOptions;
use crate::import::mapping::{Mapping, MappingError};
use crate::import::read::ReadOptions;
use crate::store::ImportRecord;

/// How one source's last run went, for `GET /api/v1/sources`.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    /// When the run started (RFC 3339 seconds): the schedule's tick.
    pub time: String,
    pub dry_run: bool,
    pub exit_code: u8,
    /// `applied`, `dry_run`, or why nothing was written.
    pub outcome: String,
    /// The metric's result: `applied`, `dry_run`, `refused`, `file_error`,
    /// `failed`, or `skipped` (another node holds the run).
    pub result: String,
    /// What the import counted, when the file reached it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// Why the run wrote nothing (the fetch failed, the import refused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The import report's summary, as a source run shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl LastRun {
    /// The run that started at `time` and gave `answer`: a JSON report
    /// (or a preview, its report under `report`) when the file reached the
    /// import.
    fn of(time: String, dry_run: bool, answer: &Answer) -> LastRun {
        let counts = (answer.content_type == "application/json")
            .then(|| serde_json::from_slice::<serde_json::Value>(&answer.body).ok())
            .flatten()
            .and_then(|v| {
                let summary = v.get("summary").or_else(|| v.pointer("/report/summary"))?;
                serde_json::from_value::<Counts>(summary.clone()).ok()
            });
        let result = ops::result_label(answer, dry_run);
        LastRun {
            time,
            dry_run,
            exit_code: answer.exit_code,
            outcome: answer.message.clone().unwrap_or_else(|| result.to_string()),
            result: result.to_string(),
            counts,
            error: answer.message.clone().filter(|_| answer.exit_code != 0),
        }
    }
}

/// A source's last scheduled (or applied) run and its last test run,
/// kept apart so a test never hides when the source runs next.
#[derive(Debug, Clone, Default)]
struct Runs {
    run: Option<LastRun>,
    test: Option<LastRun>,
}

/// When a source runs next, as far as its last scheduled run tells
/// (RFC 3339 seconds): that run's start plus `every`, as the schedule
/// ticks. `None` before the first run.
fn next_run(last: Option<&LastRun>, src: &SourceConfig) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let last = last.filter(|l| !l.dry_run)?;
    let at = time::OffsetDateTime::parse(&last.time, &Rfc3339).ok()?;
    let next = at + src.interval().ok()?;
    next.replace_nanosecond(0).ok()?.format(&Rfc3339).ok()
}

/// Runs the configured sources against the served store.
pub struct Runner {
    serving: Arc<Serving>,
    /// Largest file fetched (the admin API's body limit).
    max_bytes: usize,
    last: Mutex<BTreeMap<String, Runs>>,
    /// This server's name in run leases (several nodes on one database).
    node: String,
}

/// What a scheduled run that another node holds says, in the sources list.
pub const ELSEWHERE: &str = "running on another node";
/// A run lease outlives its interval by this much, so the holder renews
/// it at its next run before anyone else may take it.
const LEASE_MARGIN_SECS: u64 = 60;

impl Runner {
    pub fn new(serving: Arc<Serving>, max_bytes: usize) -> Runner {
        Runner {
            serving,
            max_bytes,
            last: Mutex::new(BTreeMap::new()),
            node: "local".into(),
        }
    }

    /// Names this server in the run leases it takes.
    pub fn on_node(mut self, node: String) -> Runner {
        self.node = node;
        self
    }

    /// A scheduled run of source `name`: only on the node that holds its
    /// run lease (`source:NAME`, for the interval and a margin, renewed by
    /// each run), so with several nodes on one database the source runs
    /// once per interval, and another node takes over within an interval
    /// and [`LEASE_MARGIN_SECS`] after its holder dies. Skipped (and said
    /// so in the sources list) while another node holds it, or while the
    /// store cannot tell.
    pub async fn run_scheduled(&self, name: &str, every: Duration) -> Answer {
        let started = crate::domain::clock::now_rfc3339_seconds();
        let store = self.serving.store.clone();
        let (lease, node) = (format!("source:{name}"), self.node.clone());
        let ttl = every.as_secs().saturating_add(LEASE_MARGIN_SECS);
        let now = unix_now();
        let granted =
            tokio::task::spawn_blocking(move || store.try_run_lease(&lease, &node, ttl, now)).await;
        let why = match granted {
            Ok(Ok(true)) => return self.run_from(name, false, Format::Json, started).await,
            Ok(Ok(false)) => ELSEWHERE.to_string(),
            Ok(Err(e)) => format!("skipped: cannot take the run lease: {e}"),
            Err(e) => format!("skipped: run lease task failed: {e}"),
        };
        tracing::info!(source = %name, reason = %why, "scheduled import not run here");
        self.remember(
            name,
            LastRun {
                time: started,
                dry_run: false,
                exit_code: 0,
                outcome: why.clone(),
                result: "skipped".into(),
                counts: None,
                error: None,
            },
        );
        Answer {
            message: Some(why),
            ..Answer::ok(Vec::new(), "text/plain; charset=utf-8")
        }
    }

    /// The configured sources, by name.
    pub fn configured(&self) -> &std::collections::BTreeMap<String, SourceConfig> {
        &self.serving.config.sources
    }

    /// Keeps `run` as the source's last run or, for a dry run, last test.
    fn remember(&self, name: &str, run: LastRun) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let runs = last.entry(name.to_string()).or_default();
        if run.dry_run {
            runs.test = Some(run);
        } else {
            runs.run = Some(run);
        }
    }

    /// Every source with its settings (never its token), its last run and
    /// test, and when it runs next.
    pub fn list(&self) -> Answer {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let list: Vec<serde_json::Value> = self
            .serving
            .config
            .sources
            .iter()
            .map(|(name, s)| {
                serde_json::json!({
                    "name": name,
                    "kind": if s.url.is_ldap() { "ldap" } else { "csv" },
                    "url": s.url,
                    "every": s.every,
                    "mode": s.mode,
                    "partial": s.partial,
                    "last_run": last.get(name).and_then(|r| r.run.as_ref()),
                    "last_test": last.get(name).and_then(|r| r.test.as_ref()),
                    "next_run": next_run(last.get(name).and_then(|r| r.run.as_ref()), s),
                })
            })
            .collect();
        let body = serde_json::to_string_pretty(&list).unwrap_or_default() + "\n";
        Answer {
            body: body.into_bytes(),
            content_type: "application/json",
            exit_code: 0,
            message: None,
            status: 200,
        }
    }

    /// Fetches and imports source `name` once; a dry run writes nothing,
    /// not even history.
    pub async fn run(&self, name: &str, dry_run: bool, format: Format) -> Answer {
        let started = crate::domain::clock::now_rfc3339_seconds();
        self.run_from(name, dry_run, format, started).await
    }

    /// [`Runner::run`] of the run that started at `started`.
    async fn run_from(&self, name: &str, dry_run: bool, format: Format, started: String) -> Answer {
        let Some(src) = self.serving.config.sources.get(name) else {
            return Answer::fail(2, 404, format!("no source named {name:?} in the config"));
        };
        let mut req = match import_request(name, src, dry_run, format) {
            Ok(r) => r,
            Err(m) => return Answer::fail(2, 400, m),
        };
        let answer = match self.fetch(src, &req).await {
            Ok((bytes, notes)) => {
                req.options.notes = notes;
                self.import(bytes, req).await
            }
            Err(m) => {
                let msg = format!("source {name}: {m}; nothing imported");
                if !dry_run {
                    self.record_failure(name, src, &msg);
                }
                Answer::fail(2, 502, msg)
            }
        };
        let result = ops::result_label(&answer, dry_run);
        self.serving.metrics.import(mode_label(src), result);
        if !dry_run && answer.exit_code != 0 && answer.status != 502 {
            let why = answer.message.clone().unwrap_or_else(|| "refused".into());
            self.record_failure(name, src, &why);
        }
        self.remember(name, LastRun::of(started, dry_run, &answer));
        answer
    }

    /// The file (for LDAP, the search as a CSV, with its notes), or why
    /// there is nothing to import.
    async fn fetch(
        &self,
        src: &SourceConfig,
        req: &ImportRequest,
    ) -> Result<(Vec<u8>, Vec<crate::import::report::Issue>), String> {
        let timeout = Duration::from_secs(src.timeout_seconds);
        if src.url.is_ldap() {
            let mapping = req.options.mapping.as_ref().ok_or("no mapping")?;
            let search = ldap::search_for(src, mapping, timeout)?;
            let found = ldap::fetch(&search).await.map_err(|e| e.to_string())?;
            return Ok((found.csv, found.notes));
        }
        let opts = fetch::FetchOptions {
            timeout: Duration::from_secs(src.timeout_seconds),
            max_bytes: self.max_bytes,
            ca: src.ca.as_deref(),
            bearer_token: src.bearer_token.as_deref(),
        };
        Ok((fetch_csv(src.url.url(), &opts).await?, Vec::new()))
    }

    /// The web page's preview of source `name` (what
    /// `POST /api/v1/import/preview` gives for an upload): fetched or
    /// searched now, never written; kept only as the source's last test.
    pub async fn preview(&self, name: &str) -> Answer {
        let started = crate::domain::clock::now_rfc3339_seconds();
        let answer = self.preview_now(name).await;
        if answer.status != 404 {
            self.remember(name, LastRun::of(started, true, &answer));
        }
        answer
    }

    async fn preview_now(&self, name: &str) -> Answer {
        let Some(src) = self.serving.config.sources.get(name) else {
            return Answer::fail(2, 404, format!("no source named {name:?} in the config"));
        };
        let mut req = match import_request(name, src, true, Format::Json) {
            Ok(r) => r,
            Err(m) => return Answer::fail(2, 400, m),
        };
        let bytes = match self.fetch(src, &req).await {
            Ok((bytes, notes)) => {
                req.options.notes = notes;
                bytes
            }
            Err(m) => return Answer::fail(2, 502, format!("source {name}: {m}; nothing imported")),
        };
        let serving = self.serving.clone();
        let done = tokio::task::spawn_blocking(move || {
            crate::app::preview::preview(serving.store.as_ref(), &serving.config, bytes, &req)
        })
        .await;
        match done {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => Answer::fail(3, 500, e.to_string()),
            Err(e) => Answer::fail(3, 500, format!("preview task failed: {e}")),
        }
    }

    async fn import(&self, bytes: Vec<u8>, req: ImportRequest) -> Answer {
        let serving = self.serving.clone();
        let done = tokio::task::spawn_blocking(move || serving.import(bytes, &req)).await;
        match done {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => Answer::fail(3, 500, e.to_string()),
            Err(e) => Answer::fail(3, 500, format!("import task failed: {e}")),
        }
    }

    /// A history line for a scheduled run that wrote nothing.
    fn record_failure(&self, name: &str, src: &SourceConfig, why: &str) {
        let record = ImportRecord {
            time: crate::domain::clock::now_rfc3339(),
            file: src.url.to_string(),
            sha256: String::new(),
            mode: mode_label(src).to_string(),
            source: Some(name.to_string()),
            created: 0,
            updated: 0,
            deleted: 0,
            unchanged: 0,
            skipped: 0,
            outcome: Some(why.to_string()),
        };
        if let Err(e) = self.serving.store.record_run(&record) {
            tracing::error!(error = %e, source = %name, "cannot record the failed run");
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mode_label(src: &SourceConfig) -> &'static str {
    if src.mode == "sync" { "sync" } else { "upsert" }
}

/// The import a source runs: its mode, dialect and name.
fn import_request(
    name: &str,
    src: &SourceConfig,
    dry_run: bool,
    format: Format,
) -> Result<ImportRequest, String> {
    Ok(ImportRequest {
        options: ImportOptions {
            mode: ops::parse_mode(&src.mode)?,
            dry_run,
            partial: src.partial,
            source: Some(name.to_string()),
            read: ReadOptions {
                // An LDAP search's table is always written with ','.
                delimiter: match src.url.is_ldap() {
                    true => Some(b','),
                    false => ops::parse_delimiter(&src.delimiter)?,
                },
                encoding: ops::parse_encoding(&src.encoding)?,
            },
            show_secrets: false,
            reassign_macs: false,
            file_name: src.url.to_string(),
            mapping: mapping(name, src).map_err(|e| e.to_string())?,
            label_column: src.url.is_ldap().then(|| ldap::DN.to_string()),
            notes: Vec::new(),
            max_delete_percent: src.max_delete_percent.or(src
                .url
                .is_ldap()
                .then_some(crate::config::ldap::DEFAULT_MAX_DELETE_PERCENT)),
            ignore_columns: Vec::new(),
            operation: None,
        },
        yes: false,
        format,
    })
}

/// Source `name`'s `[sources.NAME.map]` and `filter`, parsed and checked.
/// A filter needs a map: without one the file is read by its own headers.
pub fn mapping(name: &str, src: &SourceConfig) -> Result<Option<Mapping>, MappingError> {
    if src.url.is_ldap() {
        return ldap::mapping(name, src).map(Some);
    }
    let origin = format!("sources.{name}.map");
    match (&src.map, &src.filter) {
        (Some(table), filter) => {
            Mapping::from_toml_with_filter(table, filter.as_deref(), &origin).map(Some)
        }
        (None, Some(_)) => Err(MappingError::Invalid {
            origin: format!("sources.{name}"),
            key: "filter".into(),
            reason:
                "a filter needs a [sources.NAME.map] (the filter reads the source's own columns)"
                    .into(),
        }),
        (None, None) => Ok(None),
    }
}

/// Every source's mapping, checked when the config is loaded so a broken
/// template or an unknown field stops `autoprov` before anything runs.
pub fn check_mappings(config: &crate::config::Config) -> Result<(), MappingError> {
    for (name, src) in &config.sources {
        mapping(name, src)?;
    }
    Ok(())
}

/// Fetches `url` and checks it is a CSV worth importing: the source's
/// fetch, and `autoprov import URL`'s.
pub async fn fetch_csv(url: &url::Url, opts: &fetch::FetchOptions<'_>) -> Result<Vec<u8>, String> {
    let got = fetch::get(url, opts).await.map_err(|e| e.to_string())?;
    check_csv(&got)?;
    Ok(got.body)
}

/// Refuses what is plainly not a CSV export: nothing at all, or an HTML
/// page (what a web app sends when the session behind an export URL has
/// expired).
fn check_csv(got: &fetch::Fetched) -> Result<(), String> {
    let text = got.body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&got.body);
    let start: Vec<u8> = text
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(512)
        .map(u8::to_ascii_lowercase)
        .collect();
    if start.is_empty() {
        return Err("the source sent an empty file".into());
    }
    let html_type = got
        .content_type
        .as_deref()
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("text/html"));
    let html_body = start.starts_with(b"<!doctype html")
        || start.starts_with(b"<html")
        || (start.starts_with(b"<") && start.windows(5).any(|w| w == b"<html"));
    if html_type || html_body {
        return Err("the source sent an HTML page (a login page?), not a CSV file".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got(body: &[u8], ct: Option<&str>) -> fetch::Fetched {
        fetch::Fetched {
            body: body.to_vec(),
            content_type: ct.map(str::to_string),
        }
    }

    /// Two nodes' runners on one shared store: the scheduled run happens on
    /// the node holding the run lease; the other skips it and says why.
    #[tokio::test]
    async fn a_scheduled_source_runs_on_one_node_at_a_time() {
        use crate::store::shared_fake::SharedFake;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        // Port 9 (discard): nothing listens, so a run fails fast, recorded.
        let config = crate::config::Config::parse(
            "[sources.hr]\nurl = \"http://127.0.0.1:9/users.csv\"\nevery = \"1h\"\n",
        )
        .unwrap();
        let store: Arc<dyn crate::store::Store + Send + Sync> = Arc::new(SharedFake::default());
        crate::pki::prepare(&crate::app::settings::cert_source(&data, &config), &[]).unwrap();
        let provisioner = crate::provision::Provisioner::new(
            store.clone(),
            crate::provision::Templates::new(None).unwrap(),
            crate::app::settings::provision(&data, &config).unwrap(),
        )
        .unwrap();
        let serving = Arc::new(Serving {
            store: store.clone(),
            provisioner: Arc::new(provisioner),
            config: Arc::new(config),
            metrics: Default::default(),
            health: Default::default(),
            fetch_log: None,
        });
        let a = Runner::new(serving.clone(), 1 << 20).on_node("a".into());
        let b = Runner::new(serving, 1 << 20).on_node("b".into());
        let hour = Duration::from_secs(3600);
        let ran = a.run_scheduled("hr", hour).await;
        assert_eq!(ran.status, 502, "A ran it (and the fetch failed)");
        let skipped = b.run_scheduled("hr", hour).await;
        assert_eq!(skipped.message.as_deref(), Some(ELSEWHERE));
        let list: serde_json::Value = serde_json::from_slice(&b.list().body).unwrap();
        assert_eq!(list[0]["last_run"]["outcome"], ELSEWHERE);
        // A renews its own lease; history holds A's one failed run.
        assert_eq!(a.run_scheduled("hr", hour).await.status, 502);
        assert_eq!(store.history().unwrap().len(), 2);

        // A's list: the failed run says why, and when the next one is due;
        // a test run afterwards is kept apart and moves neither.
        let before: serde_json::Value = serde_json::from_slice(&a.list().body).unwrap();
        let run = &before[0]["last_run"];
        assert_eq!(run["result"], "file_error", "{before}");
        assert!(
            run["error"].as_str().unwrap().contains("nothing imported"),
            "{before}"
        );
        assert!(run.get("counts").is_none(), "{before}");
        let at = |v: &serde_json::Value| {
            use time::format_description::well_known::Rfc3339;
            time::OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap()
        };
        assert_eq!(
            at(&before[0]["next_run"]) - at(&run["time"]),
            time::Duration::HOUR
        );
        assert_eq!(a.run("hr", true, Format::Json).await.status, 502);
        let after: serde_json::Value = serde_json::from_slice(&a.list().body).unwrap();
        assert_eq!(after[0]["last_run"], before[0]["last_run"]);
        assert_eq!(after[0]["next_run"], before[0]["next_run"]);
        assert_eq!(after[0]["last_test"]["dry_run"], true, "{after}");
        assert_eq!(after[0]["last_test"]["result"], "file_error", "{after}");
    }

    /// A run's counts come from its JSON report, or a preview's.
    #[test]
    fn a_run_keeps_the_report_counts() {
        let report = br#"{"summary":{"created":2,"updated":1,"deleted":0,"unchanged":9,"skipped":0,"errors":0,"warnings":1}}"#;
        let answer = Answer::ok(report.to_vec(), "application/json");
        let run = LastRun::of("2026-12-02T10:00:00Z".into(), false, &answer);
        let want = Counts {
            created: 2,
            updated: 1,
            unchanged: 9,
            warnings: 1,
            ..Counts::default()
        };
        assert_eq!(run.counts.as_ref(), Some(&want));
        assert_eq!((run.result.as_str(), run.error), ("applied", None));
        let preview = format!(r#"{{"report":{}}}"#, String::from_utf8_lossy(report));
        let answer = Answer::ok(preview.into_bytes(), "application/json");
        let test = LastRun::of("2026-12-02T10:00:00Z".into(), true, &answer);
        assert_eq!((test.counts, test.result.as_str()), (Some(want), "dry_run"));
        let text = Answer::ok(b"import ...".to_vec(), "text/plain; charset=utf-8");
        assert!(LastRun::of(String::new(), false, &text).counts.is_none());
    }

    #[test]
    fn html_and_empty_are_not_csv() {
        assert!(check_csv(&got(b"username\na\n", Some("text/csv"))).is_ok());
        assert!(check_csv(&got(b"username\na\n", None)).is_ok());
        assert!(check_csv(&got(b"", None)).is_err());
        assert!(check_csv(&got(b"\xef\xbb\xbf \r\n", None)).is_err());
        assert!(check_csv(&got(b"\n<!DOCTYPE html><p>login", None)).is_err());
        assert!(check_csv(&got(b"<HTML><body>", Some("text/plain"))).is_err());
        assert!(check_csv(&got(b"username\na\n", Some("text/html; charset=utf-8"))).is_err());
    }
}
