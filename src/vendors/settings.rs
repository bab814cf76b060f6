//! What a vendor setting may look like (docs/settings.md): the key syntax of
//! each vendor's main file, the keys autoprov owns there, and how a
//! rendered line names the key it sets (so a setting replaces the
//! template's own line instead of writing the key twice).
//!
//! Keys are held to a conservative character set per syntax, so a key can
//! never carry markup; values are refused if they hold anything that could
//! end the value early in any of the syntaxes (a line break, `"`, `<`, `>`),
//! and the XML templates escape the rest (`&`).

use std::collections::BTreeMap;

use super::{VENDORS, Vendor};
use crate::config::VendorSettings;

/// How a vendor's main file writes one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Not supported: the vendor has no main-file template.
    None,
    /// `key = value` lines (Yealink), keys `[A-Za-z0-9._-]`.
    Lines,
    /// `key="value"` attributes of an element (Polycom), keys
    /// `[A-Za-z0-9._-]` starting with a letter.
    Attribute,
    /// `<Key ...>value</Key>` elements (Cisco, Snom), keys `[A-Za-z0-9_]`
    /// starting with a letter.
    Element,
    /// `<Pnnn>value</Pnnn>` (Grandstream): `P` and 1 to 5 digits.
    PCode,
    /// `section/sub/Leaf`: 2 to 4 names `[A-Za-z0-9_]` starting with a
    /// letter, written as nested elements (Fanvil).
    Path,
}

/// One vendor's setting rules, a field of its provisioning row.
#[derive(Debug, Clone, Copy)]
pub struct SettingRules {
    pub syntax: Syntax,
    /// Keys autoprov writes for the SIP accounts, passwords, provisioning
    /// server and credentials, CA and web passwords: a setting may name
    /// one only if `[settings] allow_override` lists it. `*` matches any
    /// run of characters, `?` one digit.
    pub owned: &'static [&'static str],
    /// Keys the template writes where a setting cannot replace the
    /// template's own value without a duplicate (Fanvil's nested
    /// sections): refused even with `allow_override`.
    pub fixed: &'static [&'static str],
}

impl SettingRules {
    pub const NONE: SettingRules = SettingRules {
        syntax: Syntax::None,
        owned: &[],
        fixed: &[],
    };
}

/// Why a setting is refused; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("{vendor} has no main-file template, so it takes no settings")]
    Unsupported { vendor: &'static str },
    #[error("key {key:?} is not a {vendor} key: {rule}")]
    Key {
        vendor: &'static str,
        key: String,
        rule: &'static str,
    },
    #[error(
        "key {key:?} is set by autoprov on {vendor} phones (pattern {pattern:?}); list it in [settings] allow_override to set it anyway"
    )]
    Owned {
        vendor: &'static str,
        key: String,
        pattern: &'static str,
    },
    #[error(
        "key {key:?} is written by autoprov's {vendor} template in a nested section a setting cannot replace (pattern {pattern:?})"
    )]
    Fixed {
        vendor: &'static str,
        key: String,
        pattern: &'static str,
    },
    #[error("the value of {key:?} {rule}")]
    Value { key: String, rule: &'static str },
}

const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 1024;

impl Syntax {
    /// The rule for keys of this syntax, as shown in errors.
    fn rule(self) -> &'static str {
        match self {
            Syntax::None => "none",
            Syntax::Lines => "letters, digits, '.', '_' and '-' only, at most 128",
            Syntax::Attribute => {
                "a letter, then letters, digits, '.', '_' and '-' only, at most 128"
            }
            Syntax::Element => "a letter, then letters, digits and '_' only, at most 128",
            Syntax::PCode => "'P' and 1 to 5 digits (P-codes, e.g. P51)",
            Syntax::Path => {
                "2 to 4 '/'-separated names, each a letter then letters, digits and '_' (e.g. phone/display/Backlight)"
            }
        }
    }

    fn key_ok(self, key: &str) -> bool {
        let name = |s: &str, extra: &[u8]| {
            s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        };
        if key.is_empty() || key.len() > MAX_KEY {
            return false;
        }
        match self {
            Syntax::None => false,
            Syntax::Lines => key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            Syntax::Attribute => name(key, b"._-"),
            Syntax::Element => name(key, b"_"),
            Syntax::PCode => key.strip_prefix('P').is_some_and(|d| {
                (1..=5).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
            }),
            Syntax::Path => {
                let parts: Vec<&str> = key.split('/').collect();
                (2..=4).contains(&parts.len()) && parts.iter().all(|p| name(p, b"_"))
            }
        }
    }

    /// The key a line of a rendered main file sets, for the line-per-key
    /// syntaxes; `None` for other lines (and for Fanvil's nested paths).
    pub fn line_key(self, line: &str) -> Option<&str> {
        let t = line.trim();
        match self {
            Syntax::Lines => {
                let (k, _) = t.split_once('=')?;
                let k = k.trim_end();
                self.key_ok(k).then_some(k)
            }
            Syntax::Attribute => {
                // `key="v"` alone on a line, or `<elem key="v"/>`.
                let body = match t.strip_prefix('<') {
                    Some(rest) => rest.split_once(' ')?.1.strip_suffix("/>")?.trim_end(),
                    None => t,
                };
                let (k, v) = body.split_once("=\"")?;
                (self.key_ok(k) && v.ends_with('"') && !v[..v.len() - 1].contains('"')).then_some(k)
            }
            Syntax::Element | Syntax::PCode => {
                let rest = t.strip_prefix('<')?;
                let end = rest.find([' ', '>'])?;
                let k = &rest[..end];
                // Indexed elements (Snom's `idx="N"`) are per line or key,
                // never what a plain setting names.
                let head = &rest[..rest.find('>')?];
                (self.key_ok(k) && !head.contains("idx=") && t.ends_with(&format!("</{k}>")))
                    .then_some(k)
            }
            Syntax::None | Syntax::Path => None,
        }
    }
}

/// `*` any run of characters, `?` one ASCII digit.
fn glob(pattern: &str, key: &str) -> bool {
    fn go(p: &[u8], k: &[u8]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], k) || (!k.is_empty() && go(p, &k[1..])),
            (Some(b'?'), Some(c)) if c.is_ascii_digit() => go(&p[1..], &k[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &k[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), key.as_bytes())
}

/// Checks a value for every syntax: one line, nothing that closes a quote
/// or an element.
pub fn check_value(key: &str, value: &str) -> Result<(), SettingError> {
    let bad = |rule| {
        Err(SettingError::Value {
            key: key.to_string(),
            rule,
        })
    };
    if value.chars().any(char::is_control) {
        return bad("contains a line break or control character, which could start a second key");
    }
    if value.contains(['"', '<', '>']) {
        return bad("contains '\"', '<' or '>', which could end the value and start a second key");
    }
    if value.len() > MAX_VALUE {
        return bad("is longer than 1024 bytes");
    }
    Ok(())
}

/// Checks one key for a vendor: its syntax, then whether autoprov owns it.
pub fn check_key(vendor: &Vendor, key: &str, allow: &[String]) -> Result<(), SettingError> {
    let rules = &vendor.provisioning.settings;
    if rules.syntax == Syntax::None {
        return Err(SettingError::Unsupported { vendor: vendor.id });
    }
    if !rules.syntax.key_ok(key) {
        return Err(SettingError::Key {
            vendor: vendor.id,
            key: key.to_string(),
            rule: rules.syntax.rule(),
        });
    }
    if let Some(pattern) = rules.fixed.iter().find(|p| glob(p, key)) {
        return Err(SettingError::Fixed {
            vendor: vendor.id,
            key: key.to_string(),
            pattern,
        });
    }
    if let Some(pattern) = rules.owned.iter().find(|p| glob(p, key))
        && !allow.iter().any(|a| a == key)
    {
        return Err(SettingError::Owned {
            vendor: vendor.id,
            key: key.to_string(),
            pattern,
        });
    }
    Ok(())
}

/// Checks a key and its value.
pub fn check(
    vendor: &Vendor,
    key: &str,
    value: &str,
    allow: &[String],
) -> Result<(), SettingError> {
    check_key(vendor, key, allow)?;
    check_value(key, value)
}

/// Checks the config's site and model settings, naming the key path of
/// the first bad one (`sites.berlin.settings.yealink."key"`).
pub fn check_config(s: &VendorSettings) -> Result<(), String> {
    let allow = &s.allow_override;
    for (site, by_vendor) in &s.sites {
        for (vendor_id, map) in by_vendor {
            let path = format!("sites.{site}.settings.{vendor_id}");
            let vendor = super::by_id(vendor_id)
                .ok_or_else(|| format!("{path}: {vendor_id:?} is not a vendor ({})", ids()))?;
            check_map(vendor, map, allow, &path)?;
        }
    }
    for (model, map) in &s.models {
        let path = format!("models.{model:?}.settings");
        let vendor = model_vendor(model).ok_or_else(|| {
            format!(
                "models.{model:?}: the name must be vendor-model, e.g. yealink-t54w ({})",
                ids()
            )
        })?;
        check_map(vendor, map, allow, &path)?;
    }
    Ok(())
}

fn check_map(
    vendor: &Vendor,
    map: &BTreeMap<String, String>,
    allow: &[String],
    path: &str,
) -> Result<(), String> {
    for (k, v) in map {
        check(vendor, k, v, allow).map_err(|e| format!("{path}.{k:?}: {e}"))?;
    }
    Ok(())
}

/// The vendor of a `vendor-model` name.
fn model_vendor(model: &str) -> Option<&'static Vendor> {
    let (vendor, rest) = model.split_once('-')?;
    if rest.is_empty() {
        return None;
    }
    super::by_id(vendor)
}

fn ids() -> String {
    let ids: Vec<&str> = VENDORS.iter().map(|v| v.id).collect();
    format!("vendors: {}", ids.join(", "))
}

/// Drops every line of a rendered main file that sets one of `keys`,
/// except the last one: the settings block comes last, so the setting
/// wins and the key is written once.
pub fn keep_last(vendor: &Vendor, body: &str, keys: &[&str]) -> String {
    let syntax = vendor.provisioning.settings.syntax;
    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(k) = syntax.line_key(l).filter(|k| keys.contains(k)) {
            last.insert(k, i);
        }
    }
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            syntax
                .line_key(l)
                .and_then(|k| last.get(k))
                .is_none_or(|at| at == i)
        })
        .map(|(_, l)| *l)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendors::by_id;

    fn v(id: &str) -> &'static Vendor {
        by_id(id).expect("vendor")
    }

    #[test]
    fn keys_follow_each_vendor_syntax() {
        let none: &[String] = &[];
        assert!(
            check_key(
                v("yealink"),
                "static.network.vlan.internet_port_enable",
                none
            )
            .is_ok()
        );
        assert!(check_key(v("yealink"), "a b", none).is_err());
        assert!(check_key(v("cisco"), "Enable_VLAN", none).is_ok());
        assert!(check_key(v("cisco"), "Enable.VLAN", none).is_err());
        assert!(check_key(v("grandstream"), "P51", none).is_ok());
        assert!(check_key(v("grandstream"), "P51x", none).is_err());
        assert!(check_key(v("grandstream"), "P123456", none).is_err());
        assert!(check_key(v("polycom"), "up.backlight.idleIntensity", none).is_ok());
        assert!(check_key(v("polycom"), "1up", none).is_err());
        assert!(check_key(v("snom"), "vlan_id", none).is_ok());
        assert!(check_key(v("snom"), "vlan-id", none).is_err());
        assert!(check_key(v("fanvil"), "phone/display/Backlight", none).is_ok());
        assert!(check_key(v("fanvil"), "Backlight", none).is_err());
        assert!(check_key(v("fanvil"), "sip/line/RegisterPswd", none).is_err());
    }

    #[test]
    fn owned_keys_need_an_opt_in() {
        let none: &[String] = &[];
        for (vendor, key) in [
            ("yealink", "account.1.password"),
            ("yealink", "static.auto_provision.server.url"),
            ("cisco", "Password_1_"),
            ("cisco", "Profile_Rule"),
            ("grandstream", "P34"),
            ("grandstream", "P406"),
            ("polycom", "reg.2.auth.password"),
            ("snom", "http_pass"),
        ] {
            let e = check_key(v(vendor), key, none).expect_err(key);
            assert!(
                matches!(e, SettingError::Owned { .. }),
                "{vendor} {key}: {e}"
            );
            assert!(check_key(v(vendor), key, &[key.to_string()]).is_ok());
        }
    }

    #[test]
    fn values_cannot_start_a_second_key() {
        for bad in ["1\nx = 2", "a\"b", "<x>", "]]>", "a\rb"] {
            assert!(check_value("k", bad).is_err(), "{bad:?}");
        }
        assert!(check_value("k", "a & b, 'c'").is_ok());
    }

    #[test]
    fn line_keys() {
        assert_eq!(
            Syntax::Lines.line_key("lang.gui = English\n"),
            Some("lang.gui")
        );
        assert_eq!(Syntax::Lines.line_key("#!version:1.0.0.1\n"), None);
        assert_eq!(
            Syntax::Attribute.line_key("    tcpIpApp.sntp.address=\"x\"\n"),
            Some("tcpIpApp.sntp.address")
        );
        assert_eq!(
            Syntax::Attribute.line_key("  <lcl lcl.ml.lang=\"English\"/>\n"),
            Some("lcl.ml.lang")
        );
        assert_eq!(
            Syntax::Element.line_key("<Locale ua=\"na\">de-DE</Locale>"),
            Some("Locale")
        );
        assert_eq!(
            Syntax::Element.line_key("<user_name idx=\"1\" perm=\"R\">a</user_name>"),
            None
        );
        assert_eq!(Syntax::PCode.line_key("    <P30>ntp</P30>"), Some("P30"));
    }

    #[test]
    fn the_last_line_of_a_key_wins() {
        let body = "a = 1\nb = 2\n# x\na = 3\n";
        assert_eq!(keep_last(v("yealink"), body, &["a"]), "b = 2\n# x\na = 3\n");
        assert_eq!(keep_last(v("yealink"), body, &[]), body);
    }

    #[test]
    fn config_paths_are_named() {
        let mut s = VendorSettings::default();
        s.models.insert(
            "cisco-8851".into(),
            [("Password_1_".to_string(), "x".to_string())].into(),
        );
        let e = check_config(&s).unwrap_err();
        assert!(
            e.starts_with("models.\"cisco-8851\".settings.\"Password_1_\""),
            "{e}"
        );
        let mut s = VendorSettings::default();
        s.sites.insert(
            "berlin".into(),
            [(
                "yealink".to_string(),
                [("a.b".to_string(), "1\n".to_string())].into(),
            )]
            .into(),
        );
        let e = check_config(&s).unwrap_err();
        assert!(
            e.starts_with("sites.berlin.settings.yealink.\"a.b\""),
            "{e}"
        );
    }
}
