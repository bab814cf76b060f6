//! `autoprov phones --outdated`: the phones with a target firmware
//! (docs/firmware.md) whose last User-Agent did not report it. Kept apart
//! from the phone listing so the fleet view can call it or fold it in.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::ops::{Answer, Format};
use crate::config::FirmwareConfig;
use crate::provision::firmware::{self, Target};
use crate::store::{Store, StoreError};

/// One phone that should move: what it reported, and where it should be.
struct Row {
    mac: String,
    vendor: String,
    model: Option<String>,
    username: String,
    site: String,
    reported: Option<String>,
    target: Target,
}

/// Every phone whose target it is not known to run, by MAC. A phone that
/// never reported a firmware is listed: nothing shows it runs the target.
pub fn outdated(
    store: &dyn Store,
    config: &FirmwareConfig,
    format: Format,
) -> Result<Answer, StoreError> {
    let mut rows = Vec::new();
    for u in store.users()? {
        for p in &u.phones {
            let state = store.phone_state(p.mac)?.unwrap_or_default();
            let model = p.model.clone().or(state.learned_model);
            let Some(target) = firmware::target(config, &p.vendor, model.as_deref(), &u.site)
            else {
                continue;
            };
            if firmware::is_outdated(state.firmware.as_deref(), &target) {
                rows.push(Row {
                    mac: p.mac.plain(),
                    vendor: p.vendor.clone(),
                    model,
                    username: u.username.clone(),
                    site: u.site.clone(),
                    reported: state.firmware,
                    target,
                });
            }
        }
    }
    rows.sort_by(|a, b| a.mac.cmp(&b.mac));
    let body = match format {
        Format::Json => {
            let list: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({
                        "mac": r.mac, "vendor": r.vendor, "model": r.model,
                        "username": r.username, "site": r.site,
                        "firmware": r.reported, "target": r.target,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
        }
        Format::Text => {
            let mut out = format!(
                "{:<14} {:<12} {:<10} {:<20} {:<12} {:<16} TARGET\n",
                "MAC", "VENDOR", "MODEL", "USER", "SITE", "FIRMWARE"
            );
            for r in &rows {
                let _ = writeln!(
                    out,
                    "{:<14} {:<12} {:<10} {:<20} {:<12} {:<16} {} ({})",
                    r.mac,
                    r.vendor,
                    r.model.as_deref().unwrap_or("-"),
                    r.username,
                    r.site,
                    r.reported.as_deref().unwrap_or("-"),
                    r.target.version,
                    r.target.file
                );
            }
            out
        }
    };
    Ok(Answer::ok(body, format.content_type()))
}
