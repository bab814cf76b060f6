//! The domain: users, their SIP lines, phones and BLF keys, and the small
//! value types they are made of (`mac`, `language`, `secret`, `clock`,
//! `zone`).
//!
//! The bottom layer: nothing here knows about CSV, HTTP, DHCP or sled, and
//! every other part converts to and from these types.

pub mod clock;
pub mod language;
pub mod mac;
pub mod secret;
pub mod settings;
pub mod zone;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::mac::Mac;

/// SIP transport a line registers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// The registrar port a phone uses when the site gives none.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            _ => 5060,
        }
    }
}

impl FromStr for Transport {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "udp" => Ok(Transport::Udp),
            "tcp" => Ok(Transport::Tcp),
            "tls" => Ok(Transport::Tls),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP account on the PBX. The password must stay retrievable (phones need
/// it), so it is stored as given and kept out of logs, reports and exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Digits only, kept as text so leading zeros survive; unique in the store.
    pub extension: String,
    /// SIP auth user; `None` means "same as the extension".
    pub sip_username: Option<String>,
    pub sip_password: String,
    /// `None` means "the site's default transport".
    pub transport: Option<Transport>,
}

impl Line {
    pub fn auth_user(&self) -> &str {
        self.sip_username.as_deref().unwrap_or(&self.extension)
    }
}

/// A busy-lamp-field key watching another extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlfKey {
    pub extension: String,
    pub label: Option<String>,
    /// Explicit key position on the phone, when the admin gave one.
    pub position: Option<u16>,
}

/// A vendor and optional model, as in `yealink-t54w`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneModel {
    pub vendor: String,
    pub model: Option<String>,
}

impl fmt::Display for PhoneModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.model {
            Some(m) => write!(f, "{}-{}", self.vendor, m),
            None => f.write_str(&self.vendor),
        }
    }
}

/// A desk phone assigned to a user, as the import describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    pub mac: Mac,
    /// Vendor id from `vendor::VENDORS`.
    pub vendor: String,
    /// Model as imported, lower case (`t54w`); may be learned later from the User-Agent.
    pub model: Option<String>,
    /// Fixed address for a DHCP reservation.
    pub ip: Option<std::net::Ipv4Addr>,
}

/// A person with (usually) one line and zero or more phones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable id, assigned on create and never reused.
    pub id: u64,
    /// Unique key for upsert and sync.
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// As given; `None` means "first last" (see [`User::display`]).
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub enabled: bool,
    /// PHC string (argon2id); never the password.
    pub web_password_hash: Option<String>,
    pub voicemail_pin: Option<String>,
    pub language: Option<String>,
    pub timezone: Option<String>,
    pub site: String,
    /// Which `--source` created the user; `None` for users created without one.
    pub source: Option<String>,
    pub lines: Vec<Line>,
    pub phones: Vec<Phone>,
    pub blf: Vec<BlfKey>,
    /// Phone-level vendor settings (`key` → `value`, docs/settings.md),
    /// checked against each of the user's phones' vendors at import.
    /// Defaults to none, so records written before it still decode.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, String>,
    /// Bumped whenever something a phone renders changes, never on a no-op import.
    pub config_version: u64,
}

#[cfg(test)]
impl User {
    /// An enabled user with only a name, on the default site, for tests to
    /// fill in with struct update (`User { lines, ..User::bare(1, "ann") }`).
    pub fn bare(id: u64, username: &str) -> User {
        User {
            id,
            username: username.into(),
            first_name: None,
            last_name: None,
            display_name: None,
            email: None,
            mobile: None,
            enabled: true,
            web_password_hash: None,
            voicemail_pin: None,
            language: None,
            timezone: None,
            site: "default".into(),
            source: None,
            lines: Vec::new(),
            phones: Vec::new(),
            blf: Vec::new(),
            settings: Default::default(),
            config_version: 1,
        }
    }
}

impl User {
    /// The name phones show: the explicit display name, else "first last".
    pub fn display(&self) -> String {
        if let Some(d) = &self.display_name {
            return d.clone();
        }
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            self.username.clone()
        } else {
            parts.join(" ")
        }
    }

    pub fn primary_line(&self) -> Option<&Line> {
        self.lines.first()
    }
}

/// The name every store has, for users given no site.
pub const DEFAULT_SITE: &str = "default";

/// Defaults shared by the phones of one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Site {
    pub name: String,
    pub sip_server: String,
    pub sip_port: Option<u16>,
    pub transport: Transport,
    pub outbound_proxy: Option<String>,
    pub ntp_server: String,
    pub language: String,
    pub timezone: String,
    /// Inclusive extension range, e.g. `(1000, 1999)`.
    pub extension_range: Option<(u64, u64)>,
}

impl Default for Site {
    fn default() -> Self {
        Site {
            name: DEFAULT_SITE.to_string(),
            sip_server: "pbx.example.com".to_string(),
            sip_port: None,
            transport: Transport::Tls,
            outbound_proxy: None,
            ntp_server: "pool.ntp.org".to_string(),
            language: "en-US".to_string(),
            timezone: "UTC".to_string(),
            extension_range: None,
        }
    }
}

/// Canonical IANA name for what the admin wrote, matched case-insensitively.
pub fn canonical_timezone(input: &str) -> Option<String> {
    let input = input.trim();
    if let Ok(tz) = input.parse::<chrono_tz::Tz>() {
        return Some(tz.name().to_string());
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(input))
        .map(|tz| tz.name().to_string())
}

/// Where a DHCP address stands (full DHCP mode). Offers are not here: they
/// live in memory for seconds and are never written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseState {
    /// Acknowledged to `mac` until `expires`.
    Bound,
    /// Given back by the client; kept so the same client gets it again.
    Released,
    /// A client found the address in use (DHCPDECLINE): held back until
    /// `expires`, then free again.
    Declined,
}

/// One address of the DHCP pool and who has (or last had) it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub ip: std::net::Ipv4Addr,
    pub mac: Mac,
    pub state: LeaseState,
    /// Unix seconds.
    pub expires: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezones() {
        assert_eq!(
            canonical_timezone("europe/berlin").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(canonical_timezone("UTC").as_deref(), Some("UTC"));
        assert_eq!(canonical_timezone("Mars/Olympus"), None);
    }

    #[test]
    fn transports() {
        assert_eq!("TLS".parse::<Transport>(), Ok(Transport::Tls));
        assert!("sctp".parse::<Transport>().is_err());
        assert_eq!(Transport::Tls.default_port(), 5061);
    }
}
