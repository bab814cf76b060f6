//! An LDAP directory (Active Directory, OpenLDAP) as an import source: one
//! paged search becomes a table (a `dn` column, then one column per
//! attribute the mapping reads, one row per entry), written as a CSV and
//! imported through the same mapping, validation and report as any file,
//! each row named by its entry's DN instead of a line.
//!
//! Nothing reaches the import unless the whole search succeeded: a failed
//! connection or bind, a timeout, a result cut short (size or time limit,
//! a referral for the base) or an empty result is an error, so a sync never
//! deletes on a partial answer. Referrals are not followed (that would send
//! the bind password to whichever server the directory names); search
//! references are counted in a warning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use ldap3::adapters::{Adapter, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use url::Url;

use crate::config::ldap::DEFAULT_PAGE_SIZE;
use crate::config::{LdapKeys, SourceConfig};
use crate::import::mapping::{Mapping, MappingError};
use crate::import::report::Issue;

/// The column holding each entry's DN, which also names its row.
pub const DN: &str = "dn";

/// Fields that take `;`-separated lists (docs/reference/csv.md): an
/// attribute mapped straight to one keeps all its values.
const LIST_FIELDS: [&str; 6] = [
    "extension",
    "mac",
    "phone_model",
    "phoneip",
    "blf",
    "sip_username",
];

/// The Active Directory preset: `user` objects by their logon name, the
/// extension from `ipPhone` (else `telephoneNumber`), digits only, and
/// `enabled = no` when `userAccountControl` has ACCOUNTDISABLE (0x2).
/// Attribute names: Microsoft's AD schema (as OpenLDAP's msuser.schema
/// reproduces it: sAMAccountName 1.2.840.113556.1.4.221, ipPhone
/// 1.2.840.113556.1.4.721, userAccountControl 1.2.840.113556.1.4.8).
const ACTIVE_DIRECTORY: &str = r#"
username = { template = '{{ row["sAMAccountName"] | lower }}' }
first_name = "givenName"
last_name = "sn"
display_name = "displayName"
email = "mail"
mobile = "mobile"
extension = { template = '{{ (row["ipPhone"] or row["telephoneNumber"]) | replace(" ", "") | replace("-", "") | replace("(", "") | replace(")", "") | replace("/", "") | replace(".", "") | replace("+", "") }}' }
enabled = { template = '{% if row["userAccountControl"] %}{{ "no" if ((row["userAccountControl"] | int) // 2) % 2 == 1 else "yes" }}{% endif %}' }
"#;

/// The OpenLDAP `inetOrgPerson` preset (RFC 2798): `uid` is the login,
/// the display name falls back to `cn`, the extension is
/// `telephoneNumber`'s digits.
const INET_ORG_PERSON: &str = r#"
username = { template = '{{ row["uid"] | lower }}' }
first_name = "givenName"
last_name = "sn"
display_name = { template = '{{ row["displayName"] or row["cn"] }}' }
email = "mail"
mobile = "mobile"
extension = { template = '{{ row["telephoneNumber"] | replace(" ", "") | replace("-", "") | replace("(", "") | replace(")", "") | replace("/", "") | replace(".", "") | replace("+", "") }}' }
"#;

/// A preset's mapping text and its default search filter.
fn preset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "active-directory" => Some((
            ACTIVE_DIRECTORY,
            "(&(objectCategory=person)(objectClass=user))",
        )),
        "inetorgperson" => Some((INET_ORG_PERSON, "(objectClass=inetOrgPerson)")),
        _ => None,
    }
}

/// Why a search gave nothing to import.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("cannot read the bind password: {0}")]
    Password(String),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the server refused the bind as {dn}: {message}")]
    Bind { dn: String, message: String },
    #[error("the search under {base:?} failed: {message}")]
    Search { base: String, message: String },
    #[error("the search under {base:?} with {filter} matched no entries")]
    Empty { base: String, filter: String },
    #[error("no complete answer within {0} s")]
    Timeout(u64),
    #[error("{0}")]
    Tls(String),
}

/// Where the bind password comes from: never the config itself.
#[derive(Debug, Clone)]
pub enum Password {
    File(PathBuf),
    Env(String),
}

/// One search: the server, the credentials and what to ask for.
#[derive(Debug, Clone)]
pub struct Search {
    pub url: Url,
    pub starttls: bool,
    pub ca: Option<PathBuf>,
    pub bind: Option<(String, Password)>,
    pub base: String,
    pub filter: String,
    pub scope: Scope,
    pub page_size: u32,
    pub timeout: Duration,
    /// Attributes asked for, as the mapping spells them (the table's headers).
    pub attributes: Vec<String>,
    /// Attributes whose values are all kept, `;`-joined.
    pub joined: BTreeSet<String>,
}

/// What a search found, ready for the import.
#[derive(Debug)]
pub struct Found {
    /// The table as a CSV (UTF-8, `,`), `dn` first.
    pub csv: Vec<u8>,
    pub entries: usize,
    /// Binary attributes, extra values and references, as report warnings.
    pub notes: Vec<Issue>,
}

/// The LDAP keys as a search, with the attributes `mapping` reads.
pub fn search_for(
    src: &SourceConfig,
    mapping: &Mapping,
    timeout: Duration,
) -> Result<Search, String> {
    let k = &src.ldap;
    let default_filter = k.preset.as_deref().and_then(preset).map(|(_, f)| f);
    let filter = k
        .ldap_filter
        .clone()
        .or(default_filter.map(str::to_string))
        .ok_or("an LDAP source without a preset needs ldap_filter")?;
    Ok(Search {
        url: src.url.url().clone(),
        starttls: k.starttls,
        ca: src.ca.clone(),
        bind: bind_of(k),
        base: k.base.clone().unwrap_or_default(),
        filter,
        scope: scope(k.scope.as_deref().unwrap_or("sub"))?,
        page_size: k.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
        timeout,
        attributes: attributes(mapping, &k.attributes),
        joined: joined(mapping),
    })
}

fn bind_of(k: &LdapKeys) -> Option<(String, Password)> {
    let dn = k.bind_dn.clone()?;
    let pw = match (&k.bind_password_file, &k.bind_password_env) {
        (Some(f), _) => Password::File(f.clone()),
        (None, Some(e)) => Password::Env(e.clone()),
        (None, None) => return None,
    };
    Some((dn, pw))
}

/// `sub`, `one` or `base`.
pub fn scope(s: &str) -> Result<Scope, String> {
    match s {
        "sub" => Ok(Scope::Subtree),
        "one" => Ok(Scope::OneLevel),
        "base" => Ok(Scope::Base),
        other => Err(format!("scope {other:?} must be sub, one or base")),
    }
}

/// The source's mapping: its preset with `[sources.NAME.map]` on top (a
/// key there replaces the preset's), `mac_attribute` as `mac` unless the
/// map says otherwise, and the source's `filter`. Carries its text, so a
/// CLI can hand it to a running server.
pub fn mapping(name: &str, src: &SourceConfig) -> Result<Mapping, MappingError> {
    let origin = format!("sources.{name}.map");
    let k = &src.ldap;
    mapping_of(
        k.preset.as_deref(),
        src.map.as_ref(),
        k.mac_attribute.as_deref(),
        src.filter.as_deref(),
        &origin,
    )
}

/// [`mapping`] from its parts (the CLI's `--preset`, `--map`...).
pub fn mapping_of(
    preset_name: Option<&str>,
    map: Option<&toml::Table>,
    mac_attribute: Option<&str>,
    filter: Option<&str>,
    origin: &str,
) -> Result<Mapping, MappingError> {
    let invalid = |reason: String| MappingError::File {
        origin: origin.to_string(),
        reason,
    };
    let mut table = match preset_name {
        None => toml::Table::new(),
        Some(p) => {
            let (text, _) = preset(p).ok_or_else(|| invalid(format!("unknown preset {p:?}")))?;
            text.parse::<toml::Table>()
                .map_err(|e| invalid(format!("preset {p}: {e}")))?
        }
    };
    if let Some(mac) = mac_attribute {
        table.insert("mac".into(), toml::Value::String(mac.to_string()));
    }
    for (k, v) in map.into_iter().flatten() {
        table.insert(k.clone(), v.clone());
    }
    if table.is_empty() {
        return Err(invalid(
            "an LDAP source needs a preset (active-directory, inetorgperson) or a [map]".into(),
        ));
    }
    let mut m = Mapping::from_toml_with_filter(&table, filter, origin)?;
    let mut file = toml::Table::new();
    if let Some(f) = filter {
        file.insert("filter".into(), toml::Value::String(f.to_string()));
    }
    file.insert("map".into(), toml::Value::Table(table));
    m.text = toml::to_string(&file).ok();
    Ok(m)
}

/// What to ask the server for: every column the mapping reads and the
/// `attributes` key, each once (names compare without case, as LDAP's do),
/// never `dn` (every entry has its DN).
pub fn attributes(mapping: &Mapping, extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in mapping.columns().into_iter().chain(extra.iter().cloned()) {
        if !a.eq_ignore_ascii_case(DN) && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// Attributes mapped straight to a list field keep all their values.
fn joined(mapping: &Mapping) -> BTreeSet<String> {
    LIST_FIELDS
        .iter()
        .filter_map(|f| mapping.source_column(f))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Runs the search within its timeout.
pub async fn fetch(search: &Search) -> Result<Found, LdapError> {
    let secs = search.timeout.as_secs();
    tokio::time::timeout(search.timeout, fetch_inner(search))
        .await
        .unwrap_or(Err(LdapError::Timeout(secs)))
}

fn read_password(p: &Password) -> Result<String, LdapError> {
    let pw = match p {
        Password::File(f) => std::fs::read_to_string(f)
            .map_err(|e| LdapError::Password(format!("{}: {e}", f.display())))?,
        Password::Env(v) => std::env::var(v)
            .map_err(|_| LdapError::Password(format!("the environment variable {v} is not set")))?,
    };
    let pw = pw.strip_suffix('\n').unwrap_or(&pw);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    // An empty password is an unauthenticated bind (RFC 4513 §5.1.2),
    // which some servers accept as anonymous: never what was meant.
    if pw.is_empty() {
        return Err(LdapError::Password("the password is empty".into()));
    }
    Ok(pw.to_string())
}

async fn fetch_inner(s: &Search) -> Result<Found, LdapError> {
    let password = s.bind.as_ref().map(|(_, p)| read_password(p)).transpose()?;
    let tls =
        super::fetch::client_config(s.ca.as_deref()).map_err(|e| LdapError::Tls(e.to_string()))?;
    let settings = LdapConnSettings::new()
        .set_conn_timeout(s.timeout)
        .set_starttls(s.starttls)
        .set_config(tls);
    let connect = |e: &dyn std::fmt::Display| LdapError::Connect {
        url: s.url.to_string(),
        message: e.to_string(),
    };
    let (conn, mut ldap) = LdapConnAsync::from_url_with_settings(settings, &s.url)
        .await
        .map_err(|e| connect(&e))?;
    ldap3::drive!(conn);
    ldap.with_timeout(s.timeout);
    if let (Some((dn, _)), Some(pw)) = (&s.bind, &password) {
        let res = ldap.simple_bind(dn, pw).await.map_err(|e| connect(&e))?;
        if res.rc != 0 {
            return Err(LdapError::Bind {
                dn: dn.clone(),
                message: result_text(res.rc, &res.text),
            });
        }
    }
    let found = collect(&mut ldap, s).await;
    let _ = ldap.unbind().await;
    found
}

/// `invalidCredentials (49): text`.
fn result_text(rc: u32, text: &str) -> String {
    let name = match rc {
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        10 => "referral",
        11 => "adminLimitExceeded",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "error",
    };
    match text.trim() {
        "" => format!("{name} ({rc})"),
        t => format!("{name} ({rc}): {t}"),
    }
}

/// The paged search, entry by entry, into the table.
async fn collect(ldap: &mut ldap3::Ldap, s: &Search) -> Result<Found, LdapError> {
    let failed = |message: String| LdapError::Search {
        base: s.base.clone(),
        message,
    };
    let page = i32::try_from(s.page_size).unwrap_or(i32::MAX);
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![Box::new(PagedResults::new(page))];
    let attrs: Vec<&str> = if s.attributes.is_empty() {
        vec!["1.1"] // RFC 4511 §4.5.1.8: no attributes, only the DNs
    } else {
        s.attributes.iter().map(String::as_str).collect()
    };
    let mut stream = ldap
        .streaming_search_with(adapters, &s.base, s.scope, &s.filter, attrs)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let mut table = Table::new(s);
    while let Some(entry) = stream.next().await.map_err(|e| failed(e.to_string()))? {
        if entry.is_ref() {
            table.references += 1;
            continue;
        }
        if entry.is_intermediate() {
            continue;
        }
        // The BER was read by the connection; a malformed entry panics
        // inside ldap3, which must not take the scheduler with it.
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            SearchEntry::construct(entry)
        }))
        .map_err(|_| failed("the server sent an entry that cannot be parsed".into()))?;
        table.push(parsed);
    }
    let res = stream.finish().await;
    if res.rc != 0 {
        let why = match res.rc {
            4 => format!(
                "{}; the result would be incomplete after {} entries, so nothing is imported",
                result_text(res.rc, &res.text),
                table.rows.len()
            ),
            10 => format!(
                "{}: the base is held by another server ({}); referrals are not followed",
                result_text(res.rc, &res.text),
                res.refs.join(", ")
            ),
            _ => result_text(res.rc, &res.text),
        };
        return Err(failed(why));
    }
    if table.rows.is_empty() {
        return Err(LdapError::Empty {
            base: s.base.clone(),
            filter: s.filter.clone(),
        });
    }
    table.finish().map_err(failed)
}

/// The search result as a table, and what was left out of it.
struct Table<'a> {
    search: &'a Search,
    rows: Vec<Vec<String>>,
    binary: BTreeMap<String, usize>,
    multi: BTreeMap<String, usize>,
    references: usize,
}

impl<'a> Table<'a> {
    fn new(search: &'a Search) -> Table<'a> {
        Table {
            search,
            rows: Vec::new(),
            binary: BTreeMap::new(),
            multi: BTreeMap::new(),
            references: 0,
        }
    }

    fn push(&mut self, e: SearchEntry) {
        let mut row = Vec::with_capacity(self.search.attributes.len() + 1);
        row.push(e.dn.clone());
        for name in &self.search.attributes {
            let values = e
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_slice())
                .unwrap_or_default();
            let binary = e.bin_attrs.keys().any(|k| k.eq_ignore_ascii_case(name))
                || values.iter().any(|v| v.contains('\0'));
            if binary {
                *self.binary.entry(name.clone()).or_default() += 1;
                row.push(String::new());
                continue;
            }
            let cell = if self.search.joined.contains(&name.to_ascii_lowercase()) {
                values.join(";")
            } else {
                if values.len() > 1 {
                    *self.multi.entry(name.clone()).or_default() += 1;
                }
                values.first().cloned().unwrap_or_default()
            };
            row.push(cell);
        }
        self.rows.push(row);
    }

    fn finish(self) -> Result<Found, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = std::iter::once(DN).chain(self.search.attributes.iter().map(String::as_str));
        w.write_record(header).map_err(|e| e.to_string())?;
        for r in &self.rows {
            w.write_record(r).map_err(|e| e.to_string())?;
        }
        let csv = w.into_inner().map_err(|e| e.to_string())?;
        Ok(Found {
            csv,
            entries: self.rows.len(),
            notes: notes(&self.binary, &self.multi, self.references),
        })
    }
}

/// The warnings a search adds to the report.
fn notes(
    binary: &BTreeMap<String, usize>,
    multi: &BTreeMap<String, usize>,
    references: usize,
) -> Vec<Issue> {
    let note = |code: &'static str, column: Option<&str>, message: String| Issue {
        row: None,
        line: None,
        entry: None,
        column: column.map(str::to_string),
        code,
        message,
    };
    let mut out = Vec::new();
    for (a, n) in binary {
        out.push(note(
            "W_LDAP_BINARY",
            Some(a),
            format!("attribute {a} holds binary values in {n} entries; binary values are never imported, so the column is empty there"),
        ));
    }
    for (a, n) in multi {
        out.push(note(
            "W_LDAP_MULTI_VALUED",
            Some(a),
            format!("attribute {a} has several values in {n} entries; the first (in the server's order) was used, as only a field that takes a list (extension, mac, ...) keeps them all"),
        ));
    }
    if references > 0 {
        out.push(note(
            "W_LDAP_REFERENCE",
            None,
            format!("the server named {references} other part(s) of the directory (search references); referrals are not followed, so their entries are not imported"),
        ));
    }
    out
}

/// The codes [`notes`] gives, for a note that travelled as text.
pub fn note_code(code: &str) -> Option<&'static str> {
    ["W_LDAP_BINARY", "W_LDAP_MULTI_VALUED", "W_LDAP_REFERENCE"]
        .into_iter()
        .find(|c| *c == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_read_their_attributes() {
        for p in ["active-directory", "inetorgperson"] {
            let m = mapping_of(Some(p), None, Some("macAddress"), None, "t").expect(p);
            let attrs = attributes(&m, &[]);
            assert!(attrs.contains(&"sn".to_string()), "{attrs:?}");
            assert!(attrs.contains(&"macAddress".to_string()), "{attrs:?}");
            assert!(joined(&m).contains("macaddress"));
            // The text a CLI sends a running server reads back the same.
            let again = Mapping::from_file_text(m.text.as_deref().unwrap(), "t").unwrap();
            assert_eq!(again, m);
        }
    }

    #[test]
    fn active_directory_disabled_bit_and_digits() {
        let m = mapping_of(Some("active-directory"), None, None, None, "t").unwrap();
        let headers: Vec<String> = m.columns();
        let row = |uac: &str, ip: &str, tel: &str| -> Vec<String> {
            headers
                .iter()
                .map(|h| match h.as_str() {
                    "sAMAccountName" => "JDoe".to_string(),
                    "userAccountControl" => uac.to_string(),
                    "ipPhone" => ip.to_string(),
                    "telephoneNumber" => tel.to_string(),
                    _ => String::new(),
                })
                .collect()
        };
        let get = |r: Vec<String>, f: &str| match m.apply(&headers, &r).unwrap() {
            crate::import::mapping::MappedRow::Kept(v) => {
                v.into_iter().find(|(k, _)| k == f).unwrap().1
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(get(row("514", "", ""), "enabled"), "no");
        assert_eq!(get(row("512", "", ""), "enabled"), "yes");
        assert_eq!(get(row("66050", "", ""), "enabled"), "no");
        assert_eq!(get(row("", "", ""), "enabled"), "");
        assert_eq!(
            get(row("512", "2001", "+49 30 1234-99"), "extension"),
            "2001"
        );
        assert_eq!(
            get(row("512", "", "+49 (30) 1234-99"), "extension"),
            "4930123499"
        );
        assert_eq!(get(row("512", "", ""), "username"), "jdoe");
    }

    #[test]
    fn a_source_map_goes_on_top_of_the_preset() {
        let map: toml::Table = "extension = \"pager\"".parse().unwrap();
        let m = mapping_of(Some("inetorgperson"), Some(&map), None, None, "t").unwrap();
        assert_eq!(m.source_column("extension"), Some("pager"));
        assert!(joined(&m).contains("pager"));
        assert!(mapping_of(None, None, None, None, "t").is_err());
    }

    #[test]
    fn passwords_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\n").unwrap();
        assert_eq!(read_password(&Password::File(f.clone())).unwrap(), "s3cret");
        std::fs::write(&f, "\n").unwrap();
        assert!(read_password(&Password::File(f)).is_err());
        assert!(read_password(&Password::Env("AUTOPROV_TEST_UNSET_VARIABLE".into())).is_err());
    }
}
