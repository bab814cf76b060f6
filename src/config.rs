//! The optional TOML config file. Everything has a working default, so
//! autoprov runs with no file at all.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use serde::Deserialize;

pub use crate::domain::secret::Credential;
use crate::domain::{DEFAULT_SITE, Site, Transport};

mod firmware;
pub mod ldap;
mod urls;
pub use firmware::{FirmwareConfig, FirmwareEntry, FirmwareImage, check_file_name};
pub use ldap::LdapKeys;
pub use urls::{HttpsUrl, ProvisionUrl, SourceUrl, UrlError, is_http, is_ldap};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
}

/// Rules the import enforces that an admin may tune.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportPolicy {
    /// Minimum web password length (plus one letter and one digit).
    pub web_password_min_length: usize,
}

impl Default for ImportPolicy {
    fn default() -> Self {
        ImportPolicy {
            web_password_min_length: 8,
        }
    }
}

/// `[listen]`: where `serve` binds unless a flag says otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    pub http: SocketAddr,
    pub https: SocketAddr,
    /// The admin API: an address, or `"off"`.
    pub admin: AdminAddr,
    /// The TFTP listener (docs/tftp.md); off unless set.
    pub tftp: Option<SocketAddr>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            https: SocketAddr::from(([127, 0, 0, 1], 8443)),
            admin: AdminAddr::default(),
            tftp: None,
        }
    }
}

/// Where the admin API's TCP listener binds, or `off` (the Unix socket in
/// the data directory stays, for the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminAddr(pub Option<SocketAddr>);

impl Default for AdminAddr {
    fn default() -> Self {
        AdminAddr(Some(SocketAddr::from(([127, 0, 0, 1], 8081))))
    }
}

impl std::str::FromStr for AdminAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" | "none" | "disabled" => Ok(AdminAddr(None)),
            _ => s.parse().map(|a| AdminAddr(Some(a))).map_err(|_| {
                format!("admin listener {s:?} must be an address like 127.0.0.1:8081, or off")
            }),
        }
    }
}

impl<'de> Deserialize<'de> for AdminAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[sources.NAME]`: a CSV fetched from a URL, or the entries of an LDAP
/// search, imported on a schedule as source NAME.
///
/// `U` is the URL's type: `String` as the TOML holds it, [`SourceUrl`]
/// (the default) once [`Config::parse`] has checked it, so a [`Config`]
/// never carries a URL that was not parsed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig<U = SourceUrl> {
    /// `http://` or `https://` URL of the CSV, or `ldap://`/`ldaps://`
    /// URL of a directory server.
    pub url: U,
    /// How often: a number with `s`, `m`, `h` or `d` (`"15m"`). The first
    /// run is right after `serve` starts.
    pub every: String,
    /// `upsert` (default) or `sync` (also deletes this source's users the
    /// file no longer lists).
    #[serde(default = "default_source_mode")]
    pub mode: String,
    #[serde(default = "auto")]
    pub delimiter: String,
    #[serde(default = "auto")]
    pub encoding: String,
    /// Apply the valid rows of a file with errors.
    #[serde(default)]
    pub partial: bool,
    /// Extra PEM CA bundle for an HTTPS server with a private CA (the
    /// system bundle is always trusted).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Bearer token sent as `Authorization: Bearer ...`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// The whole fetch must finish within this time.
    #[serde(default = "default_source_timeout")]
    pub timeout_seconds: u64,
    /// `[sources.NAME.map]`: target field → source column, template or
    /// default (docs/configuration.md); checked by the import's mapping
    /// parser when the config is loaded.
    #[serde(default)]
    pub map: Option<toml::Table>,
    /// A minijinja expression over `row`; rows it rejects are skipped.
    #[serde(default)]
    pub filter: Option<String>,
    /// A run that would delete more than this share (in percent) of the
    /// users the source manages deletes nothing. Default: none for an
    /// `http(s)://` source, [`ldap::DEFAULT_MAX_DELETE_PERCENT`] for LDAP.
    #[serde(default)]
    pub max_delete_percent: Option<u8>,
    /// The keys of an `ldap://` or `ldaps://` source (docs/ldap.md).
    #[serde(flatten)]
    pub ldap: LdapKeys,
}

fn default_source_mode() -> String {
    "upsert".into()
}

fn auto() -> String {
    "auto".into()
}

fn default_source_timeout() -> u64 {
    60
}

impl<U> SourceConfig<U> {
    /// `every` as a duration.
    pub fn interval(&self) -> Result<std::time::Duration, String> {
        let e = self.every.trim();
        let split = e.find(|c: char| !c.is_ascii_digit()).unwrap_or(e.len());
        let (n, unit) = e.split_at(split);
        let n: u64 = n
            .parse()
            .map_err(|_| format!("every = {e:?} must look like \"15m\""))?;
        let secs = match unit.trim() {
            "s" => n,
            "m" => n.saturating_mul(60),
            "h" => n.saturating_mul(3600),
            "d" => n.saturating_mul(86_400),
            _ => return Err(format!("every = {e:?}: the unit must be s, m, h or d")),
        };
        if secs == 0 {
            return Err("every must be at least 1s".into());
        }
        Ok(std::time::Duration::from_secs(secs))
    }
}

impl SourceConfig<String> {
    /// The checked source, its URL parsed. The checks run in the order
    /// their messages have always come in: the URL's scheme, `every`, the
    /// rest of the URL, then the other keys.
    fn check(self, name: &str) -> Result<SourceConfig, String> {
        let fail = |m: String| format!("sources.{name}: {m}");
        let url = SourceUrl::parse(&self.url);
        if let Err(e @ UrlError::NotHttp(_)) = &url {
            return Err(fail(e.to_string()));
        }
        self.interval().map_err(fail)?;
        let url = url.map_err(|e| fail(e.to_string()))?;
        if !matches!(self.mode.as_str(), "upsert" | "sync") {
            return Err(fail(format!("mode {:?} must be upsert or sync", self.mode)));
        }
        if self.timeout_seconds == 0 {
            return Err(fail("timeout_seconds must be at least 1".into()));
        }
        if self.max_delete_percent.is_some_and(|p| p > 100) {
            return Err(fail("max_delete_percent must be between 0 and 100".into()));
        }
        ldap::check(&self, &url).map_err(fail)?;
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !name_ok {
            return Err(fail(
                "source names are letters, digits, '-', '_' or '.'".into(),
            ));
        }
        Ok(self.with_url(url))
    }

    /// The same source with `url` in place of the text.
    fn with_url(self, url: SourceUrl) -> SourceConfig {
        let SourceConfig {
            url: _,
            every,
            mode,
            delimiter,
            encoding,
            partial,
            ca,
            bearer_token,
            timeout_seconds,
            map,
            filter,
            max_delete_percent,
            ldap,
        } = self;
        SourceConfig {
            url,
            every,
            mode,
            delimiter,
            encoding,
            partial,
            ca,
            bearer_token,
            timeout_seconds,
            map,
            filter,
            max_delete_percent,
            ldap,
        }
    }
}

/// `[admin]`: the admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Largest request body (an import), in bytes. A 100,000-user CSV is
    /// about 15 MB.
    pub max_body_bytes: usize,
    /// Let requests from loopback addresses in without a token (only
    /// those: the opt-in never opens the API to the network).
    pub anonymous_loopback: bool,
    /// Allow secrets (SIP passwords, PINs) in answers over the TCP listener
    /// when a request asks for them; the Unix socket always may.
    pub expose_secrets: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            max_body_bytes: 64 * 1024 * 1024,
            anonymous_loopback: false,
            expose_secrets: false,
        }
    }
}

/// `[http]`: the phone listener's request path.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Memory for rendered phone files kept between requests, in MB
    /// (bodies and keys); 0 turns the cache off. 24 MB holds ~14,000 main
    /// files and keeps a 100,000-phone server under 200 MB RSS
    /// (docs/configuration.md).
    pub render_cache_mb: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            render_cache_mb: 24,
        }
    }
}

/// `[tftp]`: the TFTP listener's limits (docs/tftp.md#limits); the
/// defaults are `tftp::{MAX_PER_SOURCE, MAX_TRANSFERS, TRIES,
/// DEFAULT_TIMEOUT}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TftpConfig {
    /// Transfers one source address may have at once.
    pub per_source: u32,
    /// Transfers at once over all sources.
    pub max_transfers: usize,
    /// Sends of a packet before a transfer is given up (the first and the
    /// retransmissions).
    pub tries: u32,
    /// Seconds before a retransmission, unless the client negotiates its
    /// own (RFC 2349 allows 1 to 255).
    pub timeout_seconds: u64,
}

impl Default for TftpConfig {
    fn default() -> Self {
        TftpConfig {
            per_source: 8,
            max_transfers: 4096,
            tries: 5,
            timeout_seconds: 1,
        }
    }
}

impl TftpConfig {
    fn validate(&self) -> Result<(), String> {
        let at_least_one = [
            ("per_source", self.per_source as u64),
            ("max_transfers", self.max_transfers as u64),
            ("tries", self.tries as u64),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, v)| *v == 0) {
            return Err(format!("tftp.{key} must be at least 1"));
        }
        if !(1..=255).contains(&self.timeout_seconds) {
            return Err("tftp.timeout_seconds must be between 1 and 255 (RFC 2349)".into());
        }
        Ok(())
    }
}

/// `[tls]`: PEM files to serve HTTPS with. Without them `serve` makes a
/// local CA into `<data>/certs/` once and serves a certificate it signs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// PEM bundle of CAs whose client certificates are accepted (mutual
    /// TLS), e.g. the vendors' factory device CAs.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `optional` (default: a verified certificate counts
    /// as authentication, clients without one use credentials) or
    /// `required` (no certificate, no handshake).
    pub client_auth: Option<ClientAuth>,
    /// The certificate phones are told to trust (served at `/ca.pem` and
    /// put into the vendors' trust settings); by default the last
    /// certificate of `cert` (or the self-signed one). Set it when `cert`
    /// does not end with the CA that signed it.
    pub phone_ca: Option<PathBuf>,
    /// Extra host names or addresses the generated server certificate names
    /// (the one phones reach us by, if DNS or NAT gives another); unused
    /// with `cert`/`key`.
    pub names: Vec<String>,
    /// How long a generated server certificate lives (seconds, at most 825
    /// days); it is re-issued two thirds into that, while serving. Default
    /// 180 days; unused with `cert`/`key`.
    pub leaf_lifetime_seconds: Option<u64>,
    /// Lets a returning client resume its TLS session (TLS 1.3 and 1.2
    /// tickets, and the server-side cache below) instead of paying a full
    /// handshake on every connection; phones open several per boot.
    /// Default true.
    pub session_resumption: Option<bool>,
    /// Sessions the server keeps for clients that resume by session ID
    /// (TLS 1.2 without tickets). Default 20,000 (a site's phones); 0
    /// keeps none. Each entry is a few hundred bytes, ~1.5 KB with a
    /// client certificate.
    pub session_cache: Option<usize>,
    /// Handshakes under way at once after their ClientHello; later ones
    /// wait in arrival order, so a boot storm finishes the phones that
    /// came first instead of slowing every handshake down. Default 64.
    pub handshake_concurrency: Option<usize>,
}

/// The longest `[tls] leaf_lifetime_seconds`: clients cap the server
/// certificates of private CAs at 825 days.
pub const MAX_LEAF_LIFETIME_SECONDS: u64 = 825 * 86_400;

/// An IP address or a DNS name (letters, digits, `-`, `.`) that a
/// certificate's subjectAltName can carry.
pub fn is_cert_name(name: &str) -> bool {
    name.parse::<std::net::IpAddr>().is_ok()
        || (!name.is_empty()
            && name.len() <= 253
            && !name.starts_with('.')
            && !name.contains("..")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
}

/// How a client certificate is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    Optional,
    Required,
}

/// `[policy]`: who may fetch provisioning files at all. Everyone else gets
/// the same 404 as an unknown MAC.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Source ranges allowed; loopback and private ranges by default, so zero
    /// touch works on a private phone network and nothing is open beyond it.
    pub allow: Vec<IpNet>,
    /// Schemes accepted once `credentials` are configured. Digest by
    /// default: Basic sends the password readable over the plain-HTTP
    /// listener, so it is an explicit choice (`basic` or `any`).
    pub auth: AuthScheme,
    /// Provisioning credentials phones must present (Digest or Basic).
    /// Empty (the default): no HTTP authentication, the allow-list alone.
    /// Several at once for rotation.
    pub credentials: Vec<Credential>,
    /// Digest realm.
    pub realm: String,
    /// Digest nonce lifetime; an older nonce gets a 401 with `stale=true`.
    pub nonce_seconds: u64,
    /// Miss throttling and bans.
    pub misses: MissConfig,
}

/// `[policy.misses]`: how a source that keeps missing is slowed, then
/// banned. A miss is an unknown MAC, a User-Agent naming another MAC, a
/// refused source or bad credentials; files that simply don't exist (phones
/// ask for many optional ones) and first, credential-less 401s are not.
///
/// The defaults are sized for a NATed site: 100 phones not yet imported,
/// each missing a few per-MAC names per boot, stay well under `ban_after`,
/// while a scanner gets 500 MACs per 20 minutes per address (a vendor OUI
/// holds 16.7 million).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissConfig {
    /// Length of the counting window.
    pub window_seconds: u64,
    /// Misses in a window after which answers are delayed.
    pub throttle_after: u32,
    /// The delay, per answer, once throttled.
    pub throttle_delay_ms: u64,
    /// Misses in a window after which the source is banned.
    pub ban_after: u32,
    /// How long a ban lasts.
    pub ban_seconds: u64,
    /// Sources tracked at most (bounded memory); the least recently seen
    /// one is dropped first.
    pub max_sources: usize,
}

impl Default for MissConfig {
    fn default() -> Self {
        MissConfig {
            window_seconds: 600,
            throttle_after: 50,
            throttle_delay_ms: 1000,
            ban_after: 500,
            ban_seconds: 600,
            max_sources: 65_536,
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let allow = [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
        PolicyConfig {
            allow,
            auth: AuthScheme::Digest,
            credentials: Vec::new(),
            realm: "autoprov".into(),
            nonce_seconds: 300,
            misses: MissConfig::default(),
        }
    }
}

/// Checks credentials as Digest and Basic need them (`what` names them in
/// the message).
fn validate_credentials(credentials: &[Credential], what: &str) -> Result<(), String> {
    for c in credentials {
        if c.user.is_empty() || c.password.is_empty() {
            return Err(format!("{what} need a non-empty user and password"));
        }
        if c.user.contains(':') || c.user.chars().any(|ch| ch.is_control() || ch == '"') {
            return Err(format!(
                "{what} user {:?} must not contain ':', '\"' or control characters",
                c.user
            ));
        }
    }
    Ok(())
}

impl PolicyConfig {
    fn validate(&self) -> Result<(), String> {
        validate_credentials(&self.credentials, "policy.credentials")?;
        let realm_ok = !self.realm.is_empty()
            && !self
                .realm
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\');
        if !realm_ok {
            return Err("policy.realm must be non-empty, without quotes or backslashes".into());
        }
        let m = &self.misses;
        if self.nonce_seconds == 0
            || m.window_seconds == 0
            || m.throttle_after == 0
            || m.ban_after == 0
            || m.max_sources == 0
        {
            return Err(
                "policy.nonce_seconds and the policy.misses counts must be at least 1".into(),
            );
        }
        Ok(())
    }
}

/// `[provision]`: how configs are delivered.
///
/// `U` is the type of `https_url`: `String` as the TOML holds it,
/// [`HttpsUrl`] (the default) once [`Config::parse`] has checked it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisionConfig<U = HttpsUrl> {
    /// Serve SIP passwords over plain HTTP too (legacy fleets without TLS).
    pub allow_secrets_over_http: bool,
    /// The HTTPS base URL the plain-HTTP bootstrap sends phones to; by default
    /// built from the address the phone used and the HTTPS listener's port.
    pub https_url: Option<U>,
    /// How often phones re-check their config (minutes).
    pub repeat_minutes: u32,
    /// Re-check interval in the plain-HTTP bootstrap file, short so that the
    /// phone comes back soon over HTTPS for its passwords.
    pub bootstrap_repeat_minutes: u32,
    /// Per-MAC files over HTTPS only for requests carrying the phone's own
    /// credentials, which its main file hands out (implies
    /// `issue_device_credentials`).
    pub require_device_auth: bool,
    /// Put each phone's own provisioning credentials (user = MAC, password
    /// derived from `<data>/auth.key`) into its main file, bootstrap and
    /// full, without enforcing them yet. Turn this on one repeat interval
    /// before `require_device_auth`, so phones already on HTTPS have them
    /// when they are first asked. All six vendors carry them
    /// (`device_credentials` in each vendor's row of `VENDORS`).
    pub issue_device_credentials: bool,
}

impl<U> Default for ProvisionConfig<U> {
    fn default() -> Self {
        ProvisionConfig {
            allow_secrets_over_http: false,
            https_url: None,
            repeat_minutes: 1440,
            bootstrap_repeat_minutes: 5,
            require_device_auth: false,
            issue_device_credentials: false,
        }
    }
}

impl ProvisionConfig<String> {
    /// The checked section, `https_url` parsed.
    fn check(self) -> Result<ProvisionConfig, String> {
        let https_url = self
            .https_url
            .as_deref()
            .map(HttpsUrl::parse)
            .transpose()
            .map_err(|e| format!("provision.https_url {e}"))?;
        if self.repeat_minutes == 0 || self.bootstrap_repeat_minutes == 0 {
            return Err(
                "provision.repeat_minutes and bootstrap_repeat_minutes must be at least 1".into(),
            );
        }
        let ProvisionConfig {
            allow_secrets_over_http,
            https_url: _,
            repeat_minutes,
            bootstrap_repeat_minutes,
            require_device_auth,
            issue_device_credentials,
        } = self;
        Ok(ProvisionConfig {
            allow_secrets_over_http,
            https_url,
            repeat_minutes,
            bootstrap_repeat_minutes,
            require_device_auth,
            issue_device_credentials,
        })
    }
}

/// `[store]`: where users, phones and leases live (docs/store.md). Without
/// `url`, the sled store in the data directory.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/db?sslmode=require`; overridden
    /// by `--store` / `AUTOPROV_STORE`.
    pub url: Option<String>,
}

impl std::fmt::Debug for StoreConfig {
    /// The URL may carry the database password: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.url.as_ref().map(|_| "..");
        f.debug_struct("StoreConfig").field("url", &shown).finish()
    }
}

impl StoreConfig {
    /// A URL autoprov can open: PostgreSQL's, nothing else.
    pub fn check_url(url: &str) -> Result<(), String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(())
        } else {
            Err("store.url must start with postgres:// or postgresql:// (leave it out for the sled store in the data directory)".into())
        }
    }
}

/// `[dhcp]`: the DHCP responder `serve` runs (flags override each key).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DhcpConfig {
    /// Interface name, or one of its IPv4 addresses, as for `--dhcp`.
    pub listen: Option<String>,
    pub mode: DhcpModeConfig,
    /// Full mode: `START-END` on the interface's network.
    pub pool: Option<String>,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub ntp: Vec<Ipv4Addr>,
    pub lease_seconds: u32,
    /// What options 66/160/43 carry (default: the plain-HTTP listener).
    pub provision_url: Option<String>,
    /// Networks behind DHCP relays (`[[dhcp.relay]]`), chosen by giaddr or
    /// the relay's link selection.
    pub relay: Vec<RelayNetwork>,
    /// Per-MAC flood limit: packets in a burst, and sustained per second.
    /// A booting phone sends a handful; load tools that replay a few
    /// hundred MACs at thousands of packets a second need more.
    pub flood_burst: f64,
    pub flood_per_second: f64,
}

impl Default for DhcpConfig {
    fn default() -> Self {
        DhcpConfig {
            listen: None,
            mode: DhcpModeConfig::OptionsOnly,
            pool: None,
            router: None,
            dns: Vec::new(),
            ntp: Vec::new(),
            // Phones on a provisioning VLAN stay for days; a day keeps
            // renewals rare without stranding addresses for long.
            lease_seconds: 86_400,
            provision_url: None,
            relay: Vec::new(),
            flood_burst: 8.0,
            flood_per_second: 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DhcpModeConfig {
    OptionsOnly,
    Full,
}

/// One `[[dhcp.relay]]` network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayNetwork {
    pub network: ipnet::Ipv4Net,
    pub pool: String,
    pub router: Option<Ipv4Addr>,
    #[serde(default)]
    pub dns: Vec<Ipv4Addr>,
    #[serde(default)]
    pub ntp: Vec<Ipv4Addr>,
    /// Defaults to `[dhcp] lease_seconds`.
    pub lease_seconds: Option<u32>,
}

/// A site as written in the config (`[sites.NAME]`); missing keys take the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SiteConfig {
    sip_server: Option<String>,
    sip_port: Option<u16>,
    transport: Option<Transport>,
    outbound_proxy: Option<String>,
    ntp_server: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
    /// `"1000-1999"`.
    extension_range: Option<String>,
    /// Provisioning credentials for this site's phones instead of
    /// `[[policy.credentials]]` (several at once for rotation).
    credentials: Vec<Credential>,
    /// A web administrator password every phone of the site gets instead
    /// of its own generated one (docs/lockdown.md).
    phone_admin_password: Option<String>,
    /// The same for the user-level web password.
    phone_user_password: Option<String>,
    /// `[sites.NAME.settings.VENDOR]`: vendor keys for the site's phones
    /// (docs/settings.md).
    settings: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    import: ImportPolicy,
    sites: BTreeMap<String, SiteConfig>,
    listen: ListenConfig,
    tls: TlsConfig,
    policy: PolicyConfig,
    provision: ProvisionConfig<String>,
    admin: AdminConfig,
    sources: BTreeMap<String, SourceConfig<String>>,
    dhcp: DhcpConfig,
    /// `[models."vendor-model"]`.
    models: BTreeMap<String, ModelConfig>,
    /// `[settings]`.
    settings: SettingsPolicy,
    /// `[firmware]`.
    firmware: FirmwareConfig,
    /// `[http]`.
    http: HttpConfig,
    /// `[store]`.
    store: StoreConfig,
    /// `[tftp]`.
    tftp: TftpConfig,
}

/// `[models."yealink-t54w"]`: what applies to every phone of one model.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ModelConfig {
    settings: BTreeMap<String, String>,
}

/// `[settings]`: rules for the vendor settings of every level.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsPolicy {
    /// Keys autoprov owns (SIP accounts, passwords, provisioning, CA) that
    /// a setting may set anyway, each named exactly.
    pub allow_override: Vec<String>,
}

/// The vendor settings of the config's levels (docs/settings.md); the keys
/// and values are checked against each vendor's rules by
/// `vendors::settings::check_config`, which the config layer cannot reach.
#[derive(Debug, Clone, Default)]
pub struct VendorSettings {
    /// Site → vendor id → key → value.
    pub sites: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    /// `vendor-model` (lower case) → key → value.
    pub models: BTreeMap<String, BTreeMap<String, String>>,
    pub allow_override: Vec<String>,
}

/// The validated configuration: the file's sections checked, its URLs
/// parsed.
#[derive(Debug, Clone)]
pub struct Config {
    pub import: ImportPolicy,
    /// Always contains the `default` site.
    pub sites: Vec<Site>,
    pub listen: ListenConfig,
    pub tls: TlsConfig,
    pub policy: PolicyConfig,
    pub provision: ProvisionConfig,
    pub admin: AdminConfig,
    /// Scheduled imports, by source name.
    pub sources: BTreeMap<String, SourceConfig>,
    pub dhcp: DhcpConfig,
    /// Sites with provisioning credentials of their own (`[sites.NAME]
    /// credentials`); kept here, not in the store, because they are secrets.
    pub site_credentials: BTreeMap<String, Vec<Credential>>,
    /// Sites whose phones get fixed web passwords (`[sites.NAME]
    /// phone_admin_password`, `phone_user_password`); secrets, so kept
    /// here too, never in the store's site table.
    pub site_phone_passwords: BTreeMap<String, FixedPhonePasswords>,
    /// Site and model settings, and which owned keys they may set.
    pub settings: VendorSettings,
    /// `[firmware]`: the image each model runs, per site (docs/firmware.md).
    pub firmware: FirmwareConfig,
    /// `[http]`: the phone listener's render cache.
    pub http: HttpConfig,
    /// `[store]`: the database several nodes share, if any (docs/store.md).
    pub store: StoreConfig,
    /// `[tftp]`: the TFTP listener's limits.
    pub tftp: TftpConfig,
}

/// A site's fixed phone web passwords; each one wins over the phone's
/// generated one. `Debug` never shows them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FixedPhonePasswords {
    pub admin: Option<String>,
    pub user: Option<String>,
}

impl std::fmt::Debug for FixedPhonePasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |p: &Option<String>| p.as_ref().map(|_| "..");
        f.debug_struct("FixedPhonePasswords")
            .field("admin", &shown(&self.admin))
            .field("user", &shown(&self.user))
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            import: ImportPolicy::default(),
            sites: vec![Site::default()],
            listen: ListenConfig::default(),
            tls: TlsConfig::default(),
            policy: PolicyConfig::default(),
            provision: ProvisionConfig::default(),
            admin: AdminConfig::default(),
            sources: BTreeMap::new(),
            dhcp: DhcpConfig::default(),
            site_credentials: BTreeMap::new(),
            site_phone_passwords: BTreeMap::new(),
            settings: VendorSettings::default(),
            firmware: FirmwareConfig::default(),
            http: HttpConfig::default(),
            tftp: TftpConfig::default(),
            store: StoreConfig::default(),
        }
    }
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: shown,
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let site_names: Vec<&str> = std::iter::once(DEFAULT_SITE)
            .chain(file.sites.keys().map(String::as_str))
            .collect();
        let firmware = file.firmware.check(&site_names)?;
        let mut sites = Vec::new();
        let mut site_credentials = BTreeMap::new();
        let mut site_phone_passwords = BTreeMap::new();
        let mut settings = VendorSettings {
            allow_override: file.settings.allow_override,
            models: file
                .models
                .into_iter()
                .map(|(m, mc)| (m.to_ascii_lowercase(), mc.settings))
                .collect(),
            ..VendorSettings::default()
        };
        if !file.sites.contains_key(DEFAULT_SITE) {
            sites.push(Site::default());
        }
        for (name, mut sc) in file.sites {
            let credentials = std::mem::take(&mut sc.credentials);
            if !credentials.is_empty() {
                validate_credentials(&credentials, &format!("sites.{name}.credentials"))?;
                site_credentials.insert(name.clone(), credentials);
            }
            if let Some(fixed) = fixed_phone_passwords(&name, &mut sc)? {
                site_phone_passwords.insert(name.clone(), fixed);
            }
            let site_settings = std::mem::take(&mut sc.settings);
            if !site_settings.is_empty() {
                let lower = site_settings
                    .into_iter()
                    .map(|(v, m)| (v.to_ascii_lowercase(), m))
                    .collect();
                settings.sites.insert(name.clone(), lower);
            }
            sites.push(build_site(name, sc)?);
        }
        if file.tls.cert.is_some() != file.tls.key.is_some() {
            return Err("tls.cert and tls.key must be given together".into());
        }
        if file.tls.client_auth.is_some() && file.tls.client_ca.is_none() {
            return Err("tls.client_auth needs tls.client_ca".into());
        }
        if let Some(bad) = file.tls.names.iter().find(|n| !is_cert_name(n)) {
            return Err(format!(
                "tls.names: {bad:?} is neither an IP address nor a DNS name"
            ));
        }
        if file.tls.handshake_concurrency == Some(0) {
            return Err("tls.handshake_concurrency must be at least 1".into());
        }
        if let Some(s) = file.tls.leaf_lifetime_seconds
            && !(1..=MAX_LEAF_LIFETIME_SECONDS).contains(&s)
        {
            return Err(format!(
                "tls.leaf_lifetime_seconds must be between 1 and {} (825 days)",
                MAX_LEAF_LIFETIME_SECONDS
            ));
        }
        let provision = file.provision.check()?;
        file.policy.validate()?;
        let sources = file
            .sources
            .into_iter()
            .map(|(name, src)| src.check(&name).map(|src| (name, src)))
            .collect::<Result<_, _>>()?;
        if let Some(url) = &file.store.url {
            StoreConfig::check_url(url)?;
        }
        if file.admin.max_body_bytes == 0 {
            return Err("admin.max_body_bytes must be at least 1".into());
        }
        file.tftp.validate()?;
        Ok(Config {
            import: file.import,
            sites,
            listen: file.listen,
            tls: file.tls,
            policy: file.policy,
            provision,
            admin: file.admin,
            sources,
            dhcp: file.dhcp,
            site_credentials,
            site_phone_passwords,
            settings,
            firmware,
            http: file.http,
            store: file.store,
            tftp: file.tftp,
        })
    }
}

/// Takes a site's fixed phone passwords out of its section, checked
/// against what every vendor accepts.
fn fixed_phone_passwords(
    site: &str,
    sc: &mut SiteConfig,
) -> Result<Option<FixedPhonePasswords>, String> {
    let fixed = FixedPhonePasswords {
        admin: sc.phone_admin_password.take(),
        user: sc.phone_user_password.take(),
    };
    for (key, value) in [
        ("phone_admin_password", &fixed.admin),
        ("phone_user_password", &fixed.user),
    ] {
        if let Some(v) = value {
            crate::domain::secret::check_phone_password(v)
                .map_err(|e| format!("sites.{site}.{key} {e}"))?;
        }
    }
    Ok((fixed != FixedPhonePasswords::default()).then_some(fixed))
}

fn build_site(name: String, sc: SiteConfig) -> Result<Site, String> {
    let d = Site::default();
    let language = match sc.language {
        Some(l) => crate::domain::language::normalise(&l)
            .ok_or_else(|| format!("site {name}: unsupported language {l:?}"))?
            .to_string(),
        None => d.language,
    };
    let timezone = match sc.timezone {
        Some(t) => crate::domain::canonical_timezone(&t)
            .ok_or_else(|| format!("site {name}: unknown timezone {t:?}"))?,
        None => d.timezone,
    };
    let extension_range = match sc.extension_range {
        None => None,
        Some(r) => {
            let parsed = r
                .split_once('-')
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?))
                })
                .filter(|(a, b)| a <= b);
            Some(parsed.ok_or_else(|| {
                format!("site {name}: extension_range {r:?} must look like \"1000-1999\"")
            })?)
        }
    };
    Ok(Site {
        name,
        sip_server: sc.sip_server.unwrap_or(d.sip_server),
        sip_port: sc.sip_port,
        transport: sc.transport.unwrap_or(d.transport),
        outbound_proxy: sc.outbound_proxy,
        ntp_server: sc.ntp_server.unwrap_or(d.ntp_server),
        language,
        timezone,
        extension_range,
    })
}

/// Which schemes a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    Digest,
    Basic,
    Any,
}

impl AuthScheme {
    pub fn digest(self) -> bool {
        matches!(self, AuthScheme::Digest | AuthScheme::Any)
    }
    pub fn basic(self) -> bool {
        matches!(self, AuthScheme::Basic | AuthScheme::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_site_always_exists() {
        let c = Config::parse(
            "[sites.berlin]\nextension_range = \"2000-2999\"\ntimezone = \"europe/berlin\"\n",
        )
        .unwrap();
        assert!(c.sites.iter().any(|s| s.name == "default"));
        let b = c.sites.iter().find(|s| s.name == "berlin").unwrap();
        assert_eq!(b.extension_range, Some((2000, 2999)));
        assert_eq!(b.timezone, "Europe/Berlin");
        assert!(Config::parse("[sites.x]\nextension_range = \"9-1\"\n").is_err());
        assert!(Config::parse("bogus = 1\n").is_err());
    }

    #[test]
    fn server_sections() {
        let d = Config::default();
        assert!(d.policy.allow.len() == 6 && !d.provision.allow_secrets_over_http);
        assert_eq!(d.listen.https.port(), 8443);
        let c = Config::parse(
            "[policy]\nallow = [\"10.0.0.0/8\"]\n[provision]\nallow_secrets_over_http = true\n[listen]\nhttp = \"0.0.0.0:80\"\n",
        )
        .unwrap();
        assert_eq!(c.policy.allow.len(), 1);
        assert!(c.provision.allow_secrets_over_http);
        assert_eq!(c.listen.http.port(), 80);
        assert_eq!(c.listen.https.port(), 8443);
        assert!(Config::parse("[policy]\nallow = [\"10.0.0.0/33\"]\n").is_err());
        assert!(Config::parse("[tls]\ncert = \"a.pem\"\n").is_err());
        assert!(Config::parse("[provision]\nhttps_url = \"http://x/\"\n").is_err());
    }

    #[test]
    fn auth_sections() {
        let d = Config::default();
        assert!(d.policy.credentials.is_empty() && d.policy.auth == AuthScheme::Digest);
        let c = Config::parse(
            "[policy]\nauth = \"any\"\n[[policy.credentials]]\nuser = \"a\"\npassword = \"x\"\n\
             [[policy.credentials]]\nuser = \"b\"\npassword = \"y\"\n[policy.misses]\nban_seconds = 2\n\
             [tls]\nclient_ca = \"ca.pem\"\nclient_auth = \"required\"\n",
        )
        .unwrap();
        assert_eq!(c.policy.credentials.len(), 2);
        assert_eq!(c.policy.misses.ban_seconds, 2);
        assert_eq!(c.policy.misses.ban_after, 500);
        assert_eq!(c.tls.client_auth, Some(ClientAuth::Required));
        assert!(Config::parse("[tls]\nclient_auth = \"optional\"\n").is_err());
        let c = Config::parse("[tls]\nnames = [\"prov.example.com\", \"10.1.2.3\"]\n").unwrap();
        assert_eq!(c.tls.names, ["prov.example.com", "10.1.2.3"]);
        assert!(Config::parse("[tls]\nnames = [\"a b\"]\n").is_err());
        assert!(Config::parse("[tls]\nnames = [\"\"]\n").is_err());
        let c = Config::parse("[tls]\nleaf_lifetime_seconds = 6\n").unwrap();
        assert_eq!(c.tls.leaf_lifetime_seconds, Some(6));
        assert_eq!(Config::default().tls.leaf_lifetime_seconds, None);
        assert!(Config::parse("[tls]\nleaf_lifetime_seconds = 0\n").is_err());
        assert!(Config::parse("[tls]\nleaf_lifetime_seconds = 71280001\n").is_err());
        let c = Config::parse(
            "[tls]\nsession_resumption = false\nsession_cache = 0\nhandshake_concurrency = 8\n",
        )
        .unwrap();
        assert_eq!(
            (
                c.tls.session_resumption,
                c.tls.session_cache,
                c.tls.handshake_concurrency
            ),
            (Some(false), Some(0), Some(8))
        );
        assert!(Config::parse("[tls]\nhandshake_concurrency = 0\n").is_err());
        assert!(Config::parse("[policy]\nauth = \"ntlm\"\n").is_err());
        assert!(
            Config::parse("[[policy.credentials]]\nuser = \"a:b\"\npassword = \"x\"\n").is_err()
        );
        assert!(Config::parse("[policy.misses]\nban_after = 0\n").is_err());
    }

    #[test]
    fn dhcp_section() {
        let d = Config::default();
        assert_eq!(d.dhcp.mode, DhcpModeConfig::OptionsOnly);
        assert_eq!(d.dhcp.lease_seconds, 86_400);
        let c = Config::parse(
            "[dhcp]\nlisten = \"eth1\"\nmode = \"full\"\npool = \"10.0.0.10-10.0.0.99\"\n\
             dns = [\"10.0.0.1\"]\n[[dhcp.relay]]\nnetwork = \"10.1.0.0/24\"\npool = \"10.1.0.10-10.1.0.20\"\n",
        )
        .unwrap();
        assert_eq!(c.dhcp.mode, DhcpModeConfig::Full);
        assert_eq!(c.dhcp.listen.as_deref(), Some("eth1"));
        assert_eq!(c.dhcp.relay.len(), 1);
        assert_eq!(c.dhcp.relay[0].lease_seconds, None);
        assert!(Config::parse("[dhcp]\nmode = \"relay\"\n").is_err());
        assert!(Config::parse("[dhcp]\ndns = [\"x\"]\n").is_err());
        assert!(Config::parse("[[dhcp.relay]]\nnetwork = \"10.1.0.0/24\"\n").is_err());
    }

    #[test]
    fn site_phone_passwords() {
        let c = Config::parse(
            "[sites.berlin]\nphone_admin_password = \"Berlin-Admin-2026\"\n[sites.paris]\n",
        )
        .unwrap();
        let fixed = &c.site_phone_passwords["berlin"];
        assert_eq!(fixed.admin.as_deref(), Some("Berlin-Admin-2026"));
        assert_eq!(fixed.user, None);
        assert!(!c.site_phone_passwords.contains_key("paris"));
        // Never printed by a dump of the config.
        assert!(!format!("{c:?}").contains("Berlin-Admin-2026"));
        for bad in ["short1A", "has:colon-Abc123", "no-digits-Abcdefg"] {
            let e = Config::parse(&format!("[sites.x]\nphone_user_password = \"{bad}\"\n"))
                .unwrap_err();
            assert!(e.contains("sites.x.phone_user_password"), "{e}");
            assert!(!e.contains(bad), "the error repeats the value: {e}");
        }
    }

    #[test]
    fn site_credentials() {
        let c = Config::parse(
            "[sites.berlin]\n[[sites.berlin.credentials]]\nuser = \"ber\"\npassword = \"b1\"\n\
             [[sites.berlin.credentials]]\nuser = \"ber\"\npassword = \"b2\"\n[sites.paris]\n",
        )
        .unwrap();
        assert_eq!(c.site_credentials.len(), 1);
        assert_eq!(c.site_credentials["berlin"].len(), 2);
        assert!(c.sites.iter().any(|s| s.name == "paris"));
        assert!(
            Config::parse("[[sites.x.credentials]]\nuser = \"a:b\"\npassword = \"p\"\n").is_err()
        );
        assert!(Config::parse("[[sites.x.credentials]]\nuser = \"a\"\npassword = \"\"\n").is_err());
    }
}
