//! Where each vendor setting of a phone comes from (docs/settings.md):
//! `render --explain`'s report and the settings section of `phones show`.
//! Kept apart from the rendered bytes, so `render` prints the same file
//! with or without `--explain`.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::ops::{Answer, Format};
use crate::config::VendorSettings;
use crate::domain::mac::Mac;
use crate::domain::settings::Effective;
use crate::store::{Store, StoreError};

/// Keys whose value may be a secret (an opted-in password key).
fn masked(e: &Effective) -> &str {
    let k = e.key.to_ascii_lowercase();
    if ["pass", "pswd", "pwd", "secret"]
        .iter()
        .any(|s| k.contains(s))
    {
        "***"
    } else {
        &e.value
    }
}

/// `render --explain`'s report, one line a setting: `key = value  (level)`,
/// and the firmware the file points at with the level it came from.
pub fn report(settings: &[Effective], firmware: Option<&str>) -> String {
    let mut out = if settings.is_empty() {
        "explain: no site, model or phone settings in this file; every key is the template's"
            .to_string()
    } else {
        let mut out =
            String::from("explain: settings in this file, with the level each came from:");
        for e in settings {
            let _ = write!(out, "\n  {} = {}  ({})", e.key, masked(e), e.origin);
        }
        out
    };
    if let Some(f) = firmware {
        let _ = write!(out, "\n  firmware: {f}");
    }
    out
}

/// Adds the phone's effective settings, with their levels, to a
/// `phones show` answer: a `settings` array in JSON, `setting` lines in
/// text. Answers that are not a shown phone pass through unchanged.
pub fn phone_settings(
    answer: Answer,
    store: &dyn Store,
    config: &VendorSettings,
    mac: &str,
    format: Format,
) -> Result<Answer, StoreError> {
    let Ok(mac) = Mac::parse(mac) else {
        return Ok(answer);
    };
    if answer.exit_code != 0 {
        return Ok(answer);
    }
    let Some(user) = store.user_by_mac(mac)? else {
        return Ok(answer);
    };
    let Some(phone) = user.phones.iter().find(|p| p.mac == mac) else {
        return Ok(answer);
    };
    let Some(vendor) = crate::vendors::by_id(&phone.vendor) else {
        return Ok(answer);
    };
    let learned = store.phone_state(mac)?.and_then(|s| s.learned_model);
    let model = phone.model.clone().or(learned);
    let settings = crate::provision::settings::effective(config, &user, vendor, model.as_deref());
    let mut answer = answer;
    match format {
        Format::Json => {
            let Ok(mut v) = serde_json::from_slice::<Value>(&answer.body) else {
                return Ok(answer);
            };
            let list: Vec<Value> = settings
                .iter()
                .map(|e| json!({"key": e.key, "value": masked(e), "level": e.origin.to_string()}))
                .collect();
            if let Value::Object(map) = &mut v {
                map.insert("settings".into(), Value::Array(list));
            }
            let mut body = serde_json::to_vec_pretty(&v).unwrap_or_default();
            body.push(b'\n');
            answer.body = body;
        }
        Format::Text => {
            let mut text = String::from_utf8_lossy(&answer.body).into_owned();
            if settings.is_empty() {
                let _ = writeln!(text, "{:<30} -", "settings");
            }
            for e in &settings {
                let _ = writeln!(
                    text,
                    "{:<30} {} = {}  ({})",
                    "setting",
                    e.key,
                    masked(e),
                    e.origin
                );
            }
            answer.body = text.into_bytes();
        }
    }
    Ok(answer)
}
