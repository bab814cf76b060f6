//! Which vendor settings a phone gets (docs/settings.md): the config's site
//! and model levels and the user's own, merged by
//! [`crate::domain::settings::effective`], and shaped for the templates.

use crate::config::VendorSettings;
use crate::domain::User;
use crate::domain::settings::{Effective, Levels, effective as merge};
use crate::vendors::Vendor;

use super::context::SettingCtx;

/// The settings of one of `user`'s phones of `vendor`, `model` being the
/// stored model (else the one its User-Agent names), in key order.
pub fn effective(
    config: &VendorSettings,
    user: &User,
    vendor: &Vendor,
    model: Option<&str>,
) -> Vec<Effective> {
    let site = config
        .sites
        .get(&user.site)
        .and_then(|by_vendor| by_vendor.get(vendor.id))
        .map(|m| (user.site.as_str(), m));
    let model_name = model.map(|m| format!("{}-{}", vendor.id, m.to_ascii_lowercase()));
    let model = model_name
        .as_deref()
        .and_then(|n| config.models.get_key_value(n))
        .map(|(n, m)| (n.as_str(), m));
    merge(&Levels {
        site,
        model,
        phone: Some(&user.settings),
    })
}

/// The template's view: keys in order, `/`-paths with the elements to
/// open before each leaf and to close after it, so consecutive keys of
/// one section share its element.
pub fn for_template(settings: &[Effective]) -> Vec<SettingCtx> {
    let parts: Vec<Vec<&str>> = settings
        .iter()
        .map(|s| s.key.split('/').collect())
        .collect();
    fn sections<'a>(p: &[&'a str]) -> Vec<&'a str> {
        p[..p.len().saturating_sub(1)].to_vec()
    }
    let shared = |a: &[&str], b: &[&str]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
    settings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let here = sections(&parts[i]);
            let before = i
                .checked_sub(1)
                .map(|j| sections(&parts[j]))
                .unwrap_or_default();
            let after = parts.get(i + 1).map(|p| sections(p)).unwrap_or_default();
            let open = here[shared(&before, &here)..]
                .iter()
                .map(|x| x.to_string())
                .collect();
            let close = here[shared(&here, &after)..]
                .iter()
                .rev()
                .map(|x| x.to_string())
                .collect();
            SettingCtx {
                key: s.key.clone(),
                value: s.value.clone(),
                leaf: parts[i].last().map_or_else(String::new, |l| l.to_string()),
                open,
                close,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settings::Origin;

    fn e(key: &str) -> Effective {
        Effective {
            key: key.into(),
            value: "1".into(),
            origin: Origin::Phone,
        }
    }

    /// Rendering the opens, leaf and closes in order gives well-nested XML.
    #[test]
    fn paths_nest_and_flat_keys_do_not() {
        let keys = ["a/b/X", "a/b/Y", "a/c/Z", "d/W"].map(e);
        let out: String = for_template(&keys)
            .iter()
            .map(|s| {
                let open: String = s.open.iter().map(|o| format!("<{o}>")).collect();
                let close: String = s.close.iter().map(|c| format!("</{c}>")).collect();
                format!("{open}<{0}>1</{0}>{close}", s.leaf)
            })
            .collect();
        assert_eq!(
            out,
            "<a><b><X>1</X><Y>1</Y></b><c><Z>1</Z></c></a><d><W>1</W></d>"
        );
        let flat = for_template(&[e("x.y"), e("z")]);
        assert!(flat.iter().all(|s| s.open.is_empty() && s.close.is_empty()));
        assert_eq!(flat[0].leaf, "x.y");
    }
}
