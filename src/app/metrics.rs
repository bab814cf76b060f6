//! Counters for `/metrics` on the admin listener, in the Prometheus text
//! exposition format (version 0.0.4). Hand-written: a few counters do not
//! justify a metrics crate and its registry.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A counter with two labels, e.g. fetches by vendor and status.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; 2],
    values: Mutex<BTreeMap<[String; 2], u64>>,
}

impl Family {
    const fn new(name: &'static str, help: &'static str, labels: [&'static str; 2]) -> Family {
        Family {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    fn bump(&self, a: &str, b: &str) {
        let mut m = self.values.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry([a.to_string(), b.to_string()]).or_default() += 1;
    }

    fn render(&self, out: &mut String) {
        family(out, self.name, self.help);
        let [la, lb] = self.labels;
        for ([a, b], n) in self.values.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "{}{{{la}=\"{}\",{lb}=\"{}\"}} {n}",
                self.name,
                escape(a),
                escape(b)
            );
        }
    }
}

/// Everything counted since the server started. Shared by the provisioning
/// listeners (fetches, bans), the admin API (imports) and DHCP.
#[derive(Debug)]
pub struct Metrics {
    fetches: Family,
    imports: Family,
    /// TFTP transfers by result and mode (the TFTP face's own counter;
    /// its fetches also count in `fetches`, as plain HTTP's do).
    tftp: Family,
    /// Single-user operations (edit, add-phone, delete, ...) by operation
    /// and result, as `imports` counts whole files.
    user_changes: Family,
    bans: AtomicU64,
    dhcp: Mutex<Option<std::sync::Arc<DhcpStats>>>,
    /// TLS handshakes completed: full, and resumed from a ticket or the
    /// session cache.
    tls_full: AtomicU64,
    tls_resumed: AtomicU64,
    fetch_log: Mutex<Option<std::sync::Arc<FetchLogStats>>>,
    render_cache: Mutex<Option<std::sync::Arc<RenderCacheStats>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            fetches: Family::new(
                "autoprov_config_fetches_total",
                "Provisioning requests by vendor served and HTTP status.",
                ["vendor", "status"],
            ),
            imports: Family::new(
                "autoprov_import_runs_total",
                "Imports through the admin API by mode and result.",
                ["mode", "result"],
            ),
            tftp: Family::new(
                "autoprov_tftp_transfers_total",
                "TFTP read requests by result and transfer mode.",
                ["result", "mode"],
            ),
            user_changes: Family::new(
                "autoprov_user_changes_total",
                "Single-user operations through the admin API by operation and result.",
                ["op", "result"],
            ),
            bans: AtomicU64::new(0),
            dhcp: Mutex::new(None),
            tls_full: AtomicU64::new(0),
            tls_resumed: AtomicU64::new(0),
            fetch_log: Mutex::new(None),
            render_cache: Mutex::new(None),
        }
    }
}

impl Metrics {
    /// One provisioning request; `vendor` is `"unknown"` when it was not served.
    pub fn fetch(&self, vendor: &str, status: u16) {
        self.fetches.bump(vendor, &status.to_string());
    }

    /// One import run; `result` is `applied`, `dry_run`, `refused`,
    /// `file_error` or `failed`.
    pub fn import(&self, mode: &str, result: &str) {
        self.imports.bump(mode, result);
    }

    /// One TFTP request; `result` is `sent`, `not_found`, `refused`,
    /// `timed_out`, `aborted`, `busy` or `failed`.
    pub fn tftp(&self, result: &str, mode: &str) {
        self.tftp.bump(result, mode);
    }

    /// One single-user operation; `op` is the history's mode (`edit`,
    /// `add-phone`, `delete`, ...), `result` is `applied`, `dry_run`,
    /// `unconfirmed`, `not_found`, `refused`, `usage` or `failed`.
    pub fn user_change(&self, op: &str, result: &str) {
        self.user_changes.bump(op, result);
    }

    /// A source was banned for misses.
    pub fn ban(&self) {
        self.bans.fetch_add(1, Ordering::Relaxed);
    }

    /// The DHCP responder's counters, once it runs.
    pub fn attach_dhcp(&self, stats: std::sync::Arc<DhcpStats>) {
        *self.dhcp.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
    }

    /// One completed TLS handshake on the phone listener.
    pub fn tls_handshake(&self, resumed: bool) {
        let c = if resumed {
            &self.tls_resumed
        } else {
            &self.tls_full
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The background fetch-record writer's counters, once it runs.
    pub fn attach_fetch_log(&self, stats: std::sync::Arc<FetchLogStats>) {
        *self.fetch_log.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
    }

    /// The phone listener's render cache counters, once it runs.
    pub fn attach_render_cache(&self, stats: std::sync::Arc<RenderCacheStats>) {
        *self.render_cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.fetches.render(&mut out);
        self.imports.render(&mut out);
        self.tftp.render(&mut out);
        self.user_changes.render(&mut out);
        family(
            &mut out,
            "autoprov_tls_handshakes_total",
            "TLS handshakes on the phone listener, full or resumed.",
        );
        for (kind, c) in [("full", &self.tls_full), ("resumed", &self.tls_resumed)] {
            let _ = writeln!(
                out,
                "autoprov_tls_handshakes_total{{kind=\"{kind}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        family(
            &mut out,
            "autoprov_bans_total",
            "Sources banned for repeated misses.",
        );
        let _ = writeln!(
            out,
            "autoprov_bans_total {}",
            self.bans.load(Ordering::Relaxed)
        );
        if let Some(s) = self.dhcp.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            family(
                &mut out,
                "autoprov_dhcp_packets_total",
                "DHCP packets by what the responder did with them.",
            );
            for (what, c) in [
                ("answered", &s.answered),
                ("ignored", &s.ignored),
                ("malformed", &s.malformed),
                ("limited", &s.limited),
            ] {
                let _ = writeln!(
                    out,
                    "autoprov_dhcp_packets_total{{result=\"{what}\"}} {}",
                    c.load(Ordering::Relaxed)
                );
            }
        }
        if let Some(s) = self
            .fetch_log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            s.render(&mut out);
        }
        if let Some(s) = self
            .render_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            s.render(&mut out);
        }
        out
    }
}

/// The fetch-record queue (`app::fetch_log`): records waiting, written,
/// and dropped because the queue was full.
#[derive(Debug, Default)]
pub struct FetchLogStats {
    pub queued: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
}

impl FetchLogStats {
    fn render(&self, out: &mut String) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        for (name, help, kind, value) in [
            (
                "autoprov_fetch_records_dropped_total",
                "Fetch records not kept because the write queue was full.",
                "counter",
                load(&self.dropped),
            ),
            (
                "autoprov_fetch_records_written_total",
                "Fetch records written to the store by the background writer.",
                "counter",
                load(&self.written),
            ),
            (
                "autoprov_fetch_records_queued",
                "Fetch records waiting for the background writer.",
                "gauge",
                load(&self.queued),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }
}

/// The phone listener's render cache (`http::cache`).
#[derive(Debug, Default)]
pub struct RenderCacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Answered 304 Not Modified.
    pub not_modified: AtomicU64,
    pub bytes: AtomicU64,
    pub entries: AtomicU64,
}

impl RenderCacheStats {
    fn render(&self, out: &mut String) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        for (name, help, kind, value) in [
            (
                "autoprov_render_cache_hits_total",
                "Phone files answered from the render cache.",
                "counter",
                load(&self.hits),
            ),
            (
                "autoprov_render_cache_misses_total",
                "Phone files rendered because the cache had no current copy.",
                "counter",
                load(&self.misses),
            ),
            (
                "autoprov_render_cache_not_modified_total",
                "Phone files answered 304 Not Modified.",
                "counter",
                load(&self.not_modified),
            ),
            (
                "autoprov_render_cache_bytes",
                "Bytes the render cache accounts for (bodies and keys).",
                "gauge",
                load(&self.bytes),
            ),
            (
                "autoprov_render_cache_entries",
                "Files in the render cache.",
                "gauge",
                load(&self.entries),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

/// Label values escape `\`, `"` and newlines.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The DHCP listener's counters, readable while it runs.
#[derive(Debug, Default)]
pub struct DhcpStats {
    pub malformed: AtomicU64,
    pub limited: AtomicU64,
    /// Replies of any kind.
    pub answered: AtomicU64,
    pub ignored: AtomicU64,
    pub offers: AtomicU64,
    pub acks: AtomicU64,
    pub naks: AtomicU64,
    pub releases: AtomicU64,
    pub declines: AtomicU64,
}

impl DhcpStats {
    /// Bumps a counter and returns its new value.
    pub fn bump(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = Metrics::default();
        m.fetch("yealink", 200);
        m.fetch("yealink", 200);
        m.fetch("unknown", 404);
        m.import("upsert", "applied");
        m.ban();
        let text = m.render();
        assert!(
            text.contains("autoprov_config_fetches_total{vendor=\"yealink\",status=\"200\"} 2\n")
        );
        assert!(
            text.contains("autoprov_config_fetches_total{vendor=\"unknown\",status=\"404\"} 1\n")
        );
        assert!(
            text.contains("autoprov_import_runs_total{mode=\"upsert\",result=\"applied\"} 1\n")
        );
        assert!(text.contains("autoprov_bans_total 1\n"));
        assert!(!text.contains("dhcp"));
    }
}
