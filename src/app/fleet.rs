//! Which phone runs what: the fields `autoprov phones`, `phones show`, the
//! admin API and `/metrics` add from each phone's fetch history (model and
//! firmware its User-Agent reported, when it last asked, whether it got
//! its bootstrap or its full file, or why it was refused).
//!
//! Kept apart from `ops` so the listing and the detail view only call in.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::config::FirmwareConfig;
use crate::domain::clock::human;
use crate::domain::{Phone, User};
use crate::provision::firmware::{self, Target};
use crate::store::{FetchEvent, PhoneState, Store, StoreError};

/// Most label values one `/metrics` gauge shows; the rest are summed
/// under `other`, so a fleet of odd firmware strings cannot blow up the
/// scraper's series count.
pub const MAX_LABELS: usize = 50;

/// The model: as imported, else as last reported.
pub fn model(p: &Phone, s: &PhoneState) -> Option<String> {
    p.model.clone().or_else(|| s.learned_model.clone())
}

/// The phone's target firmware and whether it runs it: `yes`, `no`, or
/// `unknown` (no target for its model and site, or no version reported
/// yet), by the firmware module's own comparison.
pub fn on_target(
    firmware: &FirmwareConfig,
    p: &Phone,
    site: &str,
    s: &PhoneState,
) -> (Option<Target>, &'static str) {
    let target = firmware::target(firmware, &p.vendor, model(p, s).as_deref(), site);
    let state = match (&target, &s.firmware) {
        (Some(t), Some(_)) if firmware::is_outdated(s.firmware.as_deref(), t) => "no",
        (Some(_), Some(_)) => "yes",
        _ => "unknown",
    };
    (target, state)
}

/// The fields a phone's row gains in `autoprov phones --format json`.
pub fn row_fields(
    firmware: &FirmwareConfig,
    u: &User,
    p: &Phone,
    s: &PhoneState,
) -> Map<String, Value> {
    let prov = s.provisioning();
    let (target, current) = on_target(firmware, p, &u.site, s);
    let mut m = Map::new();
    m.insert("reported_model".into(), json!(s.learned_model));
    m.insert(
        "last_seen".into(),
        json!(s.last_fetch.as_ref().map(|f| human(&f.time))),
    );
    m.insert("provisioning".into(), json!(prov.code()));
    m.insert("refusal_reason".into(), json!(prov.reason()));
    m.insert(
        "firmware_target".into(),
        json!(target.as_ref().map(|t| &t.version)),
    );
    m.insert("firmware_current".into(), json!(current));
    m
}

/// The text table of `autoprov phones`: the original columns with
/// FIRMWARE, ON TARGET and STATE before the (free-form) LAST FETCH.
pub fn table(firmware: &FirmwareConfig, rows: &[(&User, &Phone, PhoneState)]) -> String {
    let mut out = format!(
        "{:<14} {:<12} {:<10} {:<20} {:<10} {:<16} {:<9} {:<16} LAST FETCH\n",
        "MAC", "VENDOR", "MODEL", "USER", "EXTENSION", "FIRMWARE", "ON TARGET", "STATE"
    );
    for (u, p, s) in rows {
        let fetch = match &s.last_fetch {
            Some(f) => format!(
                "{} {} {} {} ({})",
                human(&f.time),
                f.ip,
                f.file,
                f.status,
                f.user_agent
            ),
            None => "never".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<14} {:<12} {:<10} {:<20} {:<10} {:<16} {:<9} {:<16} {}",
            p.mac.plain(),
            p.vendor,
            model(p, s).as_deref().unwrap_or("-"),
            u.username,
            u.primary_line()
                .map(|l| l.extension.as_str())
                .unwrap_or("-"),
            s.firmware.as_deref().unwrap_or("-"),
            match on_target(firmware, p, &u.site, s) {
                (None, _) => "-",
                (Some(_), current) => current,
            },
            s.provisioning().to_string(),
            fetch
        );
    }
    out
}

/// What `phones show` adds to a phone: its state, target firmware, lines
/// (SIP passwords masked unless `secrets`) and last fetches.
pub fn story(
    firmware: &FirmwareConfig,
    u: &User,
    p: &Phone,
    s: &PhoneState,
    fetches: &[FetchEvent],
    secrets: bool,
) -> Map<String, Value> {
    let mut m = row_fields(firmware, u, p, s);
    let (target, _) = on_target(firmware, p, &u.site, s);
    m.insert(
        "firmware_target_file".into(),
        json!(target.map(|t| t.url_path)),
    );
    m.insert(
        "lines".into(),
        Value::Array(super::ops::lines_json(u, secrets)),
    );
    m.insert("fetches".into(), json!(fetches));
    m
}

/// The text blocks `phones show` prints under the phone's fields.
pub fn story_text(u: &User, fetches: &[FetchEvent], secrets: bool) -> String {
    let mut out = String::from("\nLINES\n");
    let _ = writeln!(
        out,
        "  {:<10} {:<20} {:<10} SIP PASSWORD",
        "EXTENSION", "SIP USER", "TRANSPORT"
    );
    for l in &u.lines {
        let _ = writeln!(
            out,
            "  {:<10} {:<20} {:<10} {}",
            l.extension,
            l.auth_user(),
            l.transport
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            if secrets {
                l.sip_password.as_str()
            } else {
                "***"
            }
        );
    }
    out.push_str("\nLAST FETCHES (newest first)\n");
    if fetches.is_empty() {
        out.push_str("  none recorded\n");
        return out;
    }
    let _ = writeln!(
        out,
        "  {:<23} {:<5} {:<6} {:<9} {:<24} {:<16} REASON",
        "TIME", "VIA", "STATUS", "KIND", "FILE", "FIRMWARE"
    );
    for e in fetches.iter().rev() {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<23} {:<5} {:<6} {:<9} {:<24} {:<16} {}",
            human(&e.time),
            e.channel,
            e.status,
            kind,
            e.file,
            e.firmware.as_deref().unwrap_or("-"),
            e.reason.as_deref().unwrap_or("")
        );
    }
    out
}

/// `/metrics` gauges: phones per model and per model and firmware, as the
/// store knows them now. Reads every phone's state: a scrape of a large
/// fleet costs one pass over the store.
pub fn gauges(store: &dyn Store) -> Result<String, StoreError> {
    let mut by_model: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_firmware: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut phones = Vec::new();
    store.for_each_user(&mut |u| phones.extend(u.phones))?;
    for p in &phones {
        let s = store.phone_state(p.mac)?.unwrap_or_default();
        let model = format!("{}-{}", p.vendor, model(p, &s).unwrap_or("unknown".into()));
        let firmware = s.firmware.clone().unwrap_or_else(|| "unknown".into());
        *by_model.entry(model.clone()).or_default() += 1;
        *by_firmware.entry((model, firmware)).or_default() += 1;
    }
    let mut out = String::new();
    gauge_head(
        &mut out,
        "autoprov_phones_by_model",
        "Phones by vendor-model (imported, else reported by the phone).",
    );
    for (m, n) in capped(by_model, || "other".to_string()) {
        let _ = writeln!(
            out,
            "autoprov_phones_by_model{{model=\"{}\"}} {n}",
            escape(&m)
        );
    }
    gauge_head(
        &mut out,
        "autoprov_phones_by_firmware",
        "Phones by vendor-model and the firmware their User-Agent last reported.",
    );
    for ((m, f), n) in capped(by_firmware, || ("other".to_string(), "other".to_string())) {
        let _ = writeln!(
            out,
            "autoprov_phones_by_firmware{{model=\"{}\",firmware=\"{}\"}} {n}",
            escape(&m),
            escape(&f)
        );
    }
    Ok(out)
}

/// The [`MAX_LABELS`] largest entries, and the rest summed under `other`.
fn capped<K: Ord + Clone>(counts: BTreeMap<K, u64>, other: impl Fn() -> K) -> Vec<(K, u64)> {
    let mut all: Vec<(K, u64)> = counts.into_iter().collect();
    if all.len() <= MAX_LABELS {
        return all;
    }
    // Largest first, ties by label, so the kept set is stable.
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: u64 = all.drain(MAX_LABELS - 1..).map(|(_, n)| n).sum();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.push((other(), rest));
    all
}

fn gauge_head(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// Label values escape `\`, `"` and newlines.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_capped_with_the_rest_in_other() {
        let counts: BTreeMap<String, u64> = (0..MAX_LABELS as u64 + 10)
            .map(|i| (format!("fw{i:03}"), i + 1))
            .collect();
        let total: u64 = counts.values().sum();
        let kept = capped(counts, || "other".to_string());
        assert_eq!(kept.len(), MAX_LABELS);
        assert_eq!(kept.iter().map(|(_, n)| n).sum::<u64>(), total);
        let (last, n) = kept.last().unwrap();
        assert_eq!(last, "other");
        // The 11 smallest (1..=11) went to `other`.
        assert_eq!(*n, (1..=11).sum::<u64>());
        assert!(kept.iter().any(|(k, _)| k == "fw059"));
    }
}
