//! Vendor settings in levels (docs/settings.md): the template's own
//! defaults, then the site, then the model, then the phone, each level
//! overriding the one before. This module only merges; which keys and
//! values a vendor accepts is the vendor's row (`vendors::settings`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Where an effective setting came from. The template level has no entry:
/// a key no level sets is whatever the template writes, or absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "level", content = "name", rename_all = "lowercase")]
pub enum Origin {
    /// `[sites.NAME.settings.VENDOR]`.
    Site(String),
    /// `[models."vendor-model".settings]`.
    Model(String),
    /// The user's own `settings` (CSV column or admin API).
    Phone,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Site(n) => write!(f, "site {n}"),
            Origin::Model(m) => write!(f, "model {m}"),
            Origin::Phone => f.write_str("phone"),
        }
    }
}

/// One key as the phone gets it, with the level that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

/// The levels that apply to one phone, lowest first.
#[derive(Debug, Default)]
pub struct Levels<'a> {
    /// The site's name and its settings for this phone's vendor.
    pub site: Option<(&'a str, &'a BTreeMap<String, String>)>,
    /// `vendor-model` and its settings.
    pub model: Option<(&'a str, &'a BTreeMap<String, String>)>,
    pub phone: Option<&'a BTreeMap<String, String>>,
}

/// Merges the levels: each key once, from the highest level that sets it,
/// in key order.
pub fn effective(levels: &Levels<'_>) -> Vec<Effective> {
    let mut out: BTreeMap<&str, (&str, Origin)> = BTreeMap::new();
    if let Some((name, map)) = levels.site {
        for (k, v) in map {
            out.insert(k, (v, Origin::Site(name.to_string())));
        }
    }
    if let Some((name, map)) = levels.model {
        for (k, v) in map {
            out.insert(k, (v, Origin::Model(name.to_string())));
        }
    }
    if let Some(map) = levels.phone {
        for (k, v) in map {
            out.insert(k, (v, Origin::Phone));
        }
    }
    out.into_iter()
        .map(|(k, (v, origin))| Effective {
            key: k.to_string(),
            value: v.to_string(),
            origin,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn highest_level_wins_and_falls_back() {
        let site = map(&[("a", "site"), ("b", "site")]);
        let model = map(&[("a", "model"), ("c", "model")]);
        let phone = map(&[("a", "phone")]);
        let all = Levels {
            site: Some(("berlin", &site)),
            model: Some(("yealink-t54w", &model)),
            phone: Some(&phone),
        };
        let got = effective(&all);
        let by = |k: &str| got.iter().find(|e| e.key == k).cloned();
        assert_eq!(by("a").map(|e| e.origin), Some(Origin::Phone));
        assert_eq!(by("b").map(|e| e.value), Some("site".into()));
        assert_eq!(
            by("c").map(|e| e.origin.to_string()),
            Some("model yealink-t54w".into())
        );
        let no_phone = Levels { phone: None, ..all };
        let got = effective(&no_phone);
        assert_eq!(got[0].value, "model");
        let site_only = Levels {
            model: None,
            ..no_phone
        };
        assert_eq!(effective(&site_only)[0].origin.to_string(), "site berlin");
        assert!(effective(&Levels::default()).is_empty());
    }
}
