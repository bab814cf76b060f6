//! The keys of an LDAP source (`[sources.NAME] url = "ldaps://..."`),
//! checked when the config is read: how to reach and bind to the server,
//! where to search, and which preset maps the entries to users. The search
//! itself is `app::sources::ldap`; docs/ldap.md is the admin's side.

use std::path::PathBuf;

use serde::Deserialize;

use super::{SourceConfig, SourceUrl};

/// What an LDAP source deletes at most in one run unless it says otherwise
/// (`max_delete_percent`): a wrong base or filter is the usual way a
/// directory search loses users, and it should not take them with it.
pub const DEFAULT_MAX_DELETE_PERCENT: u8 = 20;

/// Entries asked for per page (Simple Paged Results): below Active
/// Directory's `MaxPageSize` of 1,000, so every server grants it.
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// The LDAP keys of `[sources.NAME]`; every one is optional in the TOML,
/// and all are refused on an `http(s)://` source.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LdapKeys {
    /// DN (or, for Active Directory, `user@domain`) to bind as; anonymous
    /// without it.
    #[serde(default)]
    pub bind_dn: Option<String>,
    /// File whose content (trailing line break removed) is the password.
    #[serde(default)]
    pub bind_password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub bind_password_env: Option<String>,
    /// Read only to refuse it: a password never goes in the config.
    #[serde(default, rename = "bind_password")]
    pub(super) bind_password_in_config: Option<toml::Value>,
    /// Where the search starts.
    #[serde(default)]
    pub base: Option<String>,
    /// The LDAP search filter (RFC 4515); the preset's when absent.
    #[serde(default)]
    pub ldap_filter: Option<String>,
    /// `sub` (default), `one` or `base`.
    #[serde(default)]
    pub scope: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// Let an `ldap://` source without StartTLS bind and search in clear.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// `active-directory` or `inetorgperson`: the built-in attribute
    /// mapping the source's own mapping goes on top of.
    #[serde(default)]
    pub preset: Option<String>,
    /// The attribute holding the desk phone's MAC, if the directory has one.
    #[serde(default)]
    pub mac_attribute: Option<String>,
    /// More attributes to fetch, for a mapping template to read.
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Entries per page.
    #[serde(default)]
    pub page_size: Option<u32>,
}

/// The presets `preset` may name.
pub const PRESETS: [&str; 2] = ["active-directory", "inetorgperson"];

/// The scopes `scope` may name.
pub const SCOPES: [&str; 3] = ["sub", "one", "base"];

impl LdapKeys {
    /// Whether any LDAP-only key is set (refused on an HTTP source).
    fn any(&self) -> bool {
        let LdapKeys {
            bind_dn,
            bind_password_file,
            bind_password_env,
            bind_password_in_config,
            base,
            ldap_filter,
            scope,
            starttls,
            allow_plaintext,
            preset,
            mac_attribute,
            attributes,
            page_size,
        } = self;
        bind_dn.is_some()
            || bind_password_file.is_some()
            || bind_password_env.is_some()
            || bind_password_in_config.is_some()
            || base.is_some()
            || ldap_filter.is_some()
            || scope.is_some()
            || *starttls
            || *allow_plaintext
            || preset.is_some()
            || mac_attribute.is_some()
            || !attributes.is_empty()
            || page_size.is_some()
    }
}

/// Checks a source's LDAP keys against its URL: none on an HTTP source;
/// on an LDAP one, a base, a password from a file or the environment (never
/// the config), encryption unless plaintext is allowed outright.
pub(super) fn check(src: &SourceConfig<String>, url: &SourceUrl) -> Result<(), String> {
    let k = &src.ldap;
    if k.bind_password_in_config.is_some() {
        return Err(
            "bind_password is refused: the config file is no place for a password; put it in a file readable only by autoprov (bind_password_file) or in an environment variable (bind_password_env)".into(),
        );
    }
    if !url.is_ldap() {
        return match k.any() {
            true => Err("bind_dn, base, ldap_filter, starttls and the other LDAP keys need an ldap:// or ldaps:// url".into()),
            false => Ok(()),
        };
    }
    if src.bearer_token.is_some() {
        return Err(
            "bearer_token is for http(s) sources; an LDAP source binds with bind_dn".into(),
        );
    }
    if src.delimiter != "auto" || src.encoding != "auto" {
        return Err("delimiter and encoding are for CSV files, not an LDAP source".into());
    }
    check_connection(k, url)?;
    check_search(k)
}

fn check_connection(k: &LdapKeys, url: &SourceUrl) -> Result<(), String> {
    let ldaps = url.url().scheme() == "ldaps";
    if ldaps && k.starttls {
        return Err("starttls is for ldap:// urls; ldaps:// is encrypted from the start".into());
    }
    if !ldaps && !k.starttls && !k.allow_plaintext {
        return Err("an ldap:// source sends its bind password and the directory's data in clear: use ldaps://, or set starttls = true (or allow_plaintext = true to accept that)".into());
    }
    match (&k.bind_dn, &k.bind_password_file, &k.bind_password_env) {
        (Some(_), Some(_), Some(_)) => {
            Err("give bind_password_file or bind_password_env, not both".into())
        }
        (Some(_), None, None) => {
            Err("bind_dn needs bind_password_file or bind_password_env".into())
        }
        (None, Some(_), _) | (None, _, Some(_)) => {
            Err("a bind password without bind_dn: add bind_dn".into())
        }
        _ => Ok(()),
    }
}

fn check_search(k: &LdapKeys) -> Result<(), String> {
    if k.base.as_deref().is_none_or(|b| b.trim().is_empty()) {
        return Err("an LDAP source needs base, the DN its search starts from".into());
    }
    if let Some(s) = &k.scope
        && !SCOPES.contains(&s.as_str())
    {
        return Err(format!("scope {s:?} must be sub, one or base"));
    }
    if k.preset.is_none() && k.ldap_filter.is_none() {
        return Err(
            "an LDAP source needs a preset (active-directory, inetorgperson) or an ldap_filter and a [sources.NAME.map]".into(),
        );
    }
    if let Some(p) = &k.preset
        && !PRESETS.contains(&p.as_str())
    {
        return Err(format!(
            "preset {p:?} is not one autoprov knows: {}",
            PRESETS.join(", ")
        ));
    }
    // The same parser the search uses, so a filter that loads also runs.
    if let Some(f) = &k.ldap_filter
        && ldap3::parse_filter(f).is_err()
    {
        return Err(format!(
            "ldap_filter {f:?} is not an LDAP filter (RFC 4515), such as \"(objectClass=person)\""
        ));
    }
    if k.page_size == Some(0) {
        return Err("page_size must be at least 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn source(keys: &str) -> Result<Config, String> {
        Config::parse(&format!(
            "[sources.ad]\nevery = \"1h\"\nbase = \"dc=x\"\npreset = \"active-directory\"\n{keys}\n"
        ))
    }

    #[test]
    fn ldap_sources_are_checked_when_the_config_loads() {
        let ok = source("url = \"ldaps://dc1\"\nbind_dn = \"svc@x\"\nbind_password_env = \"PW\"");
        assert!(ok.is_ok_and(|c| c.sources["ad"].url.is_ldap()));
        for (keys, needle) in [
            (
                "url = \"ldaps://dc1\"\nbind_dn = \"svc@x\"\nbind_password = \"hunter2\"",
                "no place for a password",
            ),
            (
                "url = \"ldap://dc1\"\nbind_dn = \"svc@x\"\nbind_password_env = \"PW\"",
                "in clear",
            ),
            (
                "url = \"ldaps://dc1\"\nstarttls = true",
                "starttls is for ldap://",
            ),
            (
                "url = \"ldaps://dc1\"\nbind_dn = \"svc@x\"",
                "needs bind_password_file",
            ),
            (
                "url = \"ldaps://dc1\"\nldap_filter = \"(&(objectClass=user)\"",
                "not an LDAP filter",
            ),
            (
                "url = \"ldaps://dc1\"\nscope = \"tree\"",
                "sub, one or base",
            ),
            (
                "url = \"https://hr/x.csv\"",
                "need an ldap:// or ldaps:// url",
            ),
            (
                "url = \"ldaps://dc1\"\nmax_delete_percent = 120",
                "between 0 and 100",
            ),
        ] {
            let err = source(keys).expect_err(keys);
            assert!(err.contains(needle), "{keys}: {err}");
            assert!(
                !err.contains("hunter2"),
                "the password is never echoed: {err}"
            );
        }
        let plain = source("url = \"ldap://dc1\"\nallow_plaintext = true");
        assert!(plain.is_ok(), "{plain:?}");
    }
}
