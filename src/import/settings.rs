//! The `settings` column: phone-level vendor settings as `key=value;...`
//! or a JSON object (docs/settings.md). Validation checks the form and
//! the values; the plan checks the keys against the vendors of the phones
//! the user ends up with.

use std::collections::BTreeMap;

use crate::domain::User;
use crate::vendors::{self, settings as rules};

type Checked<T> = Result<T, (&'static str, String)>;

/// Keys whose value may be a secret (an opted-in password key): their
/// values are never shown in a message.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "pswd", "pwd", "secret"]
        .iter()
        .any(|s| k.contains(s))
}

/// The value as a message shows it.
fn shown_value(key: &str, value: &str) -> String {
    if secret_key(key) {
        "(value not shown)".into()
    } else {
        format!("{value:?}")
    }
}

/// Reads a cell: a JSON object of strings (or numbers and booleans), or
/// `key=value` pairs separated by `;`.
pub fn parse(v: &str) -> Checked<BTreeMap<String, String>> {
    let pairs: Vec<(String, String)> = if v.starts_with('{') {
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(v)
            .map_err(|e| ("E_SETTINGS", format!("settings is not a JSON object: {e}")))?;
        obj.into_iter()
            .map(|(k, val)| match val {
                serde_json::Value::String(s) => Ok((k, s)),
                serde_json::Value::Number(n) => Ok((k, n.to_string())),
                serde_json::Value::Bool(b) => Ok((k, u8::from(b).to_string())),
                _ => Err((
                    "E_SETTINGS",
                    format!("settings key {k:?}: the value must be a string or a number"),
                )),
            })
            .collect::<Result<_, _>>()?
    } else {
        v.split(';')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.split_once('=')
                    .map(|(k, val)| (k.trim().to_string(), val.trim().to_string()))
                    .ok_or_else(|| {
                        (
                            "E_SETTINGS",
                            format!("settings entry {item:?} is not key=value (entries are separated by ';')"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let mut out = BTreeMap::new();
    for (k, val) in pairs {
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        {
            return Err((
                "E_SETTING_KEY",
                format!(
                    "settings key {k:?}: keys are letters, digits, '.', '_', '-' and '/' only (the vendor's own rule is checked too)"
                ),
            ));
        }
        if let Err(e) = rules::check_value(&k, &val) {
            let rules::SettingError::Value { rule, .. } = &e else {
                return Err(("E_SETTING_VALUE", e.to_string()));
            };
            return Err((
                "E_SETTING_VALUE",
                format!(
                    "settings key {k:?}: the value {} {rule}",
                    shown_value(&k, &val)
                ),
            ));
        }
        if out.insert(k.clone(), val).is_some() {
            return Err(("E_SETTINGS", format!("settings key {k:?} is given twice")));
        }
    }
    Ok(out)
}

/// The column as reports and exports write it: `key=value;...`, values of
/// secret-looking keys masked.
pub fn shown(s: &BTreeMap<String, String>) -> Option<String> {
    (!s.is_empty()).then(|| {
        s.iter()
            .map(|(k, v)| {
                let v = if secret_key(k) { "***" } else { v.as_str() };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(";")
    })
}

/// Checks the user's settings against the vendor of each of their phones.
pub fn check_for_phones(user: &User, allow: &[String]) -> Result<(), String> {
    if user.settings.is_empty() {
        return Ok(());
    }
    if user.phones.is_empty() {
        return Err(
            "settings need a phone: the user has none, so no vendor to check the keys against"
                .into(),
        );
    }
    for phone in &user.phones {
        let Some(vendor) = vendors::by_id(&phone.vendor) else {
            continue;
        };
        for (k, v) in &user.settings {
            rules::check(vendor, k, v, allow).map_err(|e| {
                format!(
                    "setting {k}={} for {} phone {}: {e}",
                    shown_value(k, v).trim_matches('"'),
                    vendor.name,
                    phone.mac.colon()
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let a = parse("a.b=1; c = x y").unwrap();
        let b = parse(r#"{"a.b": 1, "c": "x y"}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(shown(&a).as_deref(), Some("a.b=1;c=x y"));
    }

    #[test]
    fn injections_are_refused() {
        for bad in [
            "{\"a\": \"1\\nb = 2\"}",
            "a=x\"y",
            "a=<b>",
            "a=]]>",
            "a<b=1",
            "a=1;a=2",
            "novalue",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let (_, msg) = parse("account.1.password=x\"y").unwrap_err();
        assert!(msg.contains("not shown"), "{msg}");
    }
}
