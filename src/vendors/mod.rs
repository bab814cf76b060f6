//! Vendors as data: one file per vendor (`yealink.rs`, ...), each holding
//! the vendor's whole row: OUIs, DHCP classes and options, request file
//! patterns, User-Agent parser, template names and value maps.
//!
//! The provisioning and DHCP parts read everything vendor-specific from here,
//! so adding a vendor means one file here (its row, its User-Agent parser
//! and its unit tests), one line in [`VENDORS`] and its folder under
//! `phone_templates/`, not match arms spread through the code. Each file
//! rule carries its own compiled-in [`Template`] (see `template!`), so no
//! other list has to learn the new names.
//!
//! A bare `§` in this folder is a section of `docs/reference/vendors.md`,
//! which names the vendor's own guide or the other project each fact came
//! from.

use std::fmt;

use crate::domain::Transport;
use crate::domain::mac::Mac;
use crate::domain::zone;

/// `template!("yealink/mac.cfg")`: the [`Template`] of that name, its
/// default text read from `phone_templates/` at compile time. A macro so the
/// name is written once and the file must exist for the crate to build.
macro_rules! template {
    ($name:literal) => {
        $crate::vendors::Template {
            name: $name,
            source: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/phone_templates/",
                $name
            )),
        }
    };
}

mod cisco;
mod fanvil;
mod grandstream;
mod polycom;
pub mod settings;
mod snom;
mod yealink;

/// One vendor's identity facts.
#[derive(Debug)]
pub struct Vendor {
    /// Stable lower-case id used in `phone_model` (`yealink-t54w`) and the store.
    pub id: &'static str,
    /// Other spellings admins use for the vendor part of `phone_model`.
    pub aliases: &'static [&'static str],
    /// Human name for reports.
    pub name: &'static str,
    /// MAC OUIs (first 3 bytes) known to belong to the vendor's phones.
    pub ouis: &'static [[u8; 3]],
    /// How the vendor's phones are provisioned over HTTP(S);
    /// [`Provisioning::NONE`] until someone writes the vendor's templates.
    pub provisioning: Provisioning,
    /// How the vendor's phones find the provisioning server over DHCP.
    pub dhcp: Dhcp,
}

/// A vendor's DHCP facts (docs/reference/vendors.md §x.3 and §8): how its phones say who
/// they are in option 60, and which options they read the server from.
#[derive(Debug)]
pub struct Dhcp {
    /// Option 60 (vendor class) tests; any one matching classifies the phone.
    pub classes: &'static [ClassMatch],
    /// The options the phone reads, in the order autoprov adds them. Sent
    /// whether or not option 55 asked: no vendor documents its PRL (§8).
    pub options: &'static [DhcpOption],
    /// Option 67 value, when the vendor reads a file name from it; phones
    /// expand their own placeholders in it.
    pub boot_file: Option<&'static str>,
    /// What option 43 carries when [`DhcpOption::VendorSpecific`] is listed.
    pub option43: Option43,
    /// The options sent instead of `options` while autoprov's TFTP listener
    /// is on, for a vendor whose factory firmware fetches its first file
    /// over TFTP from the server DHCP names (docs/dhcp.md, "DHCP follows
    /// the transport"); empty: the URL form whatever the transport.
    pub tftp_options: &'static [DhcpOption],
}

/// One way a vendor class (option 60) identifies a vendor. Matching ignores
/// ASCII case and trailing NULs (Cisco MPP ends its class with one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassMatch {
    /// The class starts with this text (`yealink`, `Cisco SPA504G`).
    Prefix(&'static str),
    /// RFC 3925 form: the first 4 bytes are this IANA enterprise number
    /// (Polycom sends 13885 = `00 00 36 3d`).
    Enterprise(u32),
}

/// A provisioning option a vendor's phones read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpOption {
    /// 66: the provisioning URL as text.
    ServerName,
    /// 67: [`Dhcp::boot_file`].
    BootFile,
    /// 150: the server's IPv4 addresses (Cisco TFTP list).
    TftpAddresses,
    /// 66: the TFTP server's IPv4 address as text, no scheme: firmware
    /// that reads a bare host there fetches over TFTP.
    TftpServerName,
    /// 160: the provisioning URL as text (Polycom custom default, Cisco MPP).
    ProvisioningUrl160,
    /// 43: vendor-specific, laid out as [`Dhcp::option43`] says.
    VendorSpecific,
}

impl DhcpOption {
    /// The option code on the wire.
    pub fn code(self) -> u8 {
        match self {
            DhcpOption::ServerName | DhcpOption::TftpServerName => 66,
            DhcpOption::BootFile => 67,
            DhcpOption::TftpAddresses => 150,
            DhcpOption::ProvisioningUrl160 => 160,
            DhcpOption::VendorSpecific => 43,
        }
    }
}

/// The layout of option 43 for a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Option43 {
    /// The vendor does not read option 43.
    None,
    /// The whole option is the provisioning URL as text (Grandstream, and
    /// W's Fanvil config).
    Url,
    /// Sub-option TLVs, each carrying the provisioning URL, closed by 255
    /// (the Aastra-style layout; no current row needs it).
    UrlSubOptions(&'static [u8]),
}

impl Dhcp {
    /// A vendor autoprov has no DHCP facts for: only OUI classification.
    pub const NONE: Dhcp = Dhcp {
        classes: &[],
        options: &[],
        boot_file: None,
        option43: Option43::None,
        tftp_options: &[],
    };
}

/// Everything the provisioning server needs to know about one vendor.
#[derive(Debug)]
pub struct Provisioning {
    /// The files the phones request, as exact file-name patterns.
    pub files: &'static [FileRule],
    /// Reads model, firmware and MAC out of the vendor's User-Agent.
    pub user_agent: Option<fn(&str) -> Option<UaInfo>>,
    /// SIP transport → the vendor's setting value.
    pub transports: &'static [(Transport, &'static str)],
    /// BCP 47 tag (`fr-CA`) or primary subtag (`fr`) → the vendor's language
    /// name; full tags are looked up first.
    pub languages: &'static [(&'static str, &'static str)],
    /// A second language map, for vendors whose display-language setting
    /// takes other names than [`Provisioning::languages`] (Cisco's
    /// `Language_Selection` beside its `Locale`); looked up the same way.
    pub display_languages: &'static [(&'static str, &'static str)],
    /// IANA zone → the vendor's own zone name, where the vendor has one.
    /// Each row stands for its zone's rules: a zone without a row of its
    /// own takes the first row whose zone keeps the same clock
    /// ([`Vendor::zone_value`]).
    pub timezone_names: &'static [(&'static str, &'static str)],
    /// The setting that makes the phone re-check its files, and the interval
    /// range its guide allows; `None` where the templates set no interval.
    pub recheck: Option<Recheck>,
    /// Whether the main-file template hands the phone its own provisioning
    /// credentials (the vendor has keys for them); only then may
    /// `require_device_auth` demand them of its phones.
    pub device_credentials: bool,
    /// The setting through which the plain-HTTP bootstrap hands the phone
    /// the CA to trust before it moves to HTTPS; `None` where no source
    /// documents one. The templates write it; this names it, so the vendor
    /// conformance test can hold each bootstrap to it.
    pub ca_setting: Option<&'static str>,
    /// Prefixes the vendor's factory certificates put before the MAC in a
    /// subject name (Cisco's `SEP805EC0123456`), so a client certificate
    /// naming the phone that way is bound to it.
    pub cert_name_prefixes: &'static [&'static str],
    /// The setting through which the secure main file sets the phone's
    /// own web administrator password (docs/lockdown.md), as the file
    /// spells it on the line that carries the value; `None` where no
    /// source documents one. The templates write it; this names it, so
    /// the conformance test can hold each secure file to it.
    pub admin_password_setting: Option<&'static str>,
    /// The same for the vendor's user-level web password, where it has one.
    pub user_password_setting: Option<&'static str>,
    /// Where a phone is pointed at its target firmware (docs/firmware.md);
    /// `None` where no source documents it. The templates write it; this
    /// names it, so the conformance test can hold each file to it.
    pub firmware: Option<FirmwareKeys>,
    /// What the vendor's clock settings can say besides a listed name.
    pub clock: Clock,
    /// Which keys site, model and phone settings may set, and how the
    /// main file writes them (docs/settings.md).
    pub settings: settings::SettingRules,
}

/// What a vendor's clock settings can express for a zone its name list
/// lacks: a standard offset and one weekday DST rule, within these limits.
/// Anything beyond them is a render warning (docs/phones.md, "How each
/// vendor encodes zones").
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The standard offsets (minutes east of UTC) the vendor's offset
    /// setting lists; the template adds the rest through another key
    /// (Cisco's `Time_Offset`). Empty: any offset.
    pub listed_offsets: &'static [i32],
    /// The DST amounts (minutes, inclusive) its rule can carry.
    pub dst_save_minutes: (i32, i32),
}

impl Clock {
    /// Any offset, DST of 1 minute to a day.
    pub const ANY: Clock = Clock {
        listed_offsets: &[],
        dst_save_minutes: (1, 1440),
    };
}

impl Provisioning {
    /// A vendor whose files autoprov does not serve yet.
    pub const NONE: Provisioning = Provisioning {
        files: &[],
        user_agent: None,
        transports: &[],
        languages: &[],
        display_languages: &[],
        timezone_names: &[],
        recheck: None,
        device_credentials: false,
        ca_setting: None,
        cert_name_prefixes: &[],
        admin_password_setting: None,
        user_password_setting: None,
        firmware: None,
        clock: Clock::ANY,
        settings: settings::SettingRules::NONE,
    };
}

/// A vendor's firmware settings: the one that carries the image's
/// location, as the file spells it on the line that holds the value, and
/// the kind of file the phone reads it from.
#[derive(Debug, Clone, Copy)]
pub struct FirmwareKeys {
    pub setting: &'static str,
    /// The per-phone file that carries it ([`FileKind::Main`], or
    /// Polycom's per-phone master, [`FileKind::PerMac`]).
    pub file: FileKind,
}

/// How often a vendor's phones re-check their files: the setting that says
/// so and the range its guide documents. The provisioning context clamps the
/// configured interval into [`Recheck::minutes`] before any template sees it,
/// so no vendor is sent a value its firmware rejects or misreads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recheck {
    /// The setting's name as it stands in the rendered file, just before
    /// its value (`<P193>`, `prov.polling.period=`).
    pub setting: &'static str,
    /// Seconds per unit of the setting's value: 60 for minutes, 1 for seconds.
    pub unit_seconds: u32,
    /// The interval in minutes the vendor accepts, both ends included.
    pub minutes: (u32, u32),
}

impl Recheck {
    /// `minutes` moved into the documented range.
    pub fn clamp(&self, minutes: u32) -> u32 {
        let (lo, hi) = self.minutes;
        minutes.clamp(lo, hi.max(lo))
    }
}

/// How a phone writes its MAC into a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacCase {
    Lower,
    Upper,
}

impl MacCase {
    pub fn format(self, mac: Mac) -> String {
        match self {
            MacCase::Lower => mac.plain(),
            MacCase::Upper => mac.upper(),
        }
    }
}

/// One element of a file-name pattern. Patterns only ever match the
/// characters these parts allow, so no request name can escape the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Literal text, matched exactly.
    Lit(&'static str),
    /// The phone's MAC as 12 hex digits. Requests in either case match
    /// (docs/reference/vendors.md §0); the case is the one the phone uses, for building names.
    Mac(MacCase),
    /// Exactly this many ASCII digits.
    Digits(usize),
    /// A model name: 1 to this many ASCII letters and digits (`gxp2170`,
    /// `D785`), never 12 hex digits, so a model part cannot take a MAC.
    Model(usize),
}

/// How a part reads in the docs' vendor table: literals as they are,
/// `<mac>` / `<MAC>` in the case the phone writes, `<model>`, `<4 digits>`.
impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Lit(s) => f.write_str(s),
            Part::Mac(MacCase::Lower) => f.write_str("<mac>"),
            Part::Mac(MacCase::Upper) => f.write_str("<MAC>"),
            Part::Digits(n) => write!(f, "<{n} digits>"),
            Part::Model(_) => f.write_str("<model>"),
        }
    }
}

/// A phone template: the default text compiled into the binary, under the
/// name an override file in `--templates DIR` takes. Its extension also
/// decides escaping (`.xml`, `.htm`: XML entities; others: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// Path under `phone_templates/`, e.g. `yealink/mac.cfg`.
    pub name: &'static str,
    /// The compiled-in default text.
    pub source: &'static str,
}

/// What a file is to the server, which decides who may get what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The per-MAC file carrying SIP passwords: staged over plain HTTP, and
    /// what `autoprov render` prints by default.
    Main,
    /// Per-MAC, no secrets (Yealink's `<mac>.boot`).
    PerMac,
    /// The same for every phone of the vendor; never carries secrets, and
    /// never depends on whether the requesting MAC is known.
    Common,
    /// A per-MAC file the phone uploads with PUT (Polycom logs); never
    /// served, has no template.
    Upload,
}

/// One file a vendor's phones request.
#[derive(Debug)]
pub struct FileRule {
    pub pattern: &'static [Part],
    pub kind: FileKind,
    /// The template the file is rendered from; `None` only for uploads,
    /// which are never served.
    pub template: Option<Template>,
    pub content_type: &'static str,
}

impl FileRule {
    /// The pattern as the docs write it: `y<12 digits>.cfg`, `<MAC>.htm`.
    pub fn pattern_text(&self) -> String {
        self.pattern.iter().map(Part::to_string).collect()
    }

    /// The MAC part of the pattern, if the file is per-MAC.
    pub fn mac_case(&self) -> Option<MacCase> {
        self.pattern.iter().find_map(|p| match p {
            Part::Mac(c) => Some(*c),
            _ => None,
        })
    }

    /// The file name this rule gives for `mac`; `None` if the pattern has
    /// parts a MAC cannot fill (digits, a model).
    pub fn file_name(&self, mac: Mac) -> Option<String> {
        self.file_name_for(mac, None)
    }

    /// The same, filling a model part with `model` (as the phone's model
    /// is stored); `None` if a part stays unfilled.
    pub fn file_name_for(&self, mac: Mac, model: Option<&str>) -> Option<String> {
        let mut out = String::new();
        for p in self.pattern {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Mac(c) => out.push_str(&c.format(mac)),
                Part::Model(max) => {
                    let m = model.filter(|m| {
                        !m.is_empty()
                            && m.len() <= *max
                            && m.bytes().all(|b| b.is_ascii_alphanumeric())
                    })?;
                    out.push_str(m);
                }
                Part::Digits(_) => return None,
            }
        }
        Some(out)
    }

    /// Matches a decoded file name; `Some(mac)` (inner `None` for files
    /// without a MAC) when every part matches and nothing is left over.
    pub fn matches(&self, name: &str) -> Option<Option<Mac>> {
        let mut rest = name;
        let mut mac = None;
        for p in self.pattern {
            match p {
                Part::Lit(s) => rest = rest.strip_prefix(s)?,
                Part::Mac(_) => {
                    let hex = rest.get(..12)?;
                    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return None;
                    }
                    mac = Some(Mac::parse(hex).ok()?);
                    rest = &rest[12..];
                }
                Part::Digits(n) => {
                    let digits = rest.get(..*n)?;
                    if !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    rest = &rest[*n..];
                }
                Part::Model(max) => {
                    let len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
                    let model = &rest[..len];
                    let looks_like_mac = len == 12 && model.bytes().all(|b| b.is_ascii_hexdigit());
                    if len == 0 || len > *max || looks_like_mac {
                        return None;
                    }
                    rest = &rest[len..];
                }
            }
        }
        rest.is_empty().then_some(mac)
    }
}

/// What a User-Agent says about the phone sending it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UaInfo {
    /// Lower case, without the vendor's `SIP-` prefix (`t54w`).
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub mac: Option<Mac>,
}

impl UaInfo {
    /// The first dotted field of the firmware as a number (`96` for
    /// `96.86.0.100`): Yealink names its common file after it.
    pub fn firmware_major(&self) -> Option<u64> {
        let fw = self.firmware.as_deref()?;
        let first = fw.split('.').next()?;
        if first.is_empty() || first.len() > 12 || !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        first.parse().ok()
    }
}

impl Vendor {
    /// The rule of the file `autoprov render` shows by default.
    pub fn main_file(&self) -> Option<&'static FileRule> {
        self.provisioning
            .files
            .iter()
            .find(|r| r.kind == FileKind::Main)
    }

    /// How this vendor writes MACs in file names (from its main file).
    pub fn mac_case(&self) -> Option<MacCase> {
        self.provisioning.files.iter().find_map(FileRule::mac_case)
    }

    /// The vendor's value for a SIP transport.
    pub fn transport_value(&self, t: Transport) -> Option<&'static str> {
        self.provisioning
            .transports
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, v)| *v)
    }

    /// The vendor's name for a BCP 47 language tag: the full tag first,
    /// then its primary subtag.
    pub fn language_name(&self, tag: &str) -> Option<&'static str> {
        lookup_language(self.provisioning.languages, tag)
    }

    /// The vendor's display-language name for a tag, from
    /// [`Provisioning::display_languages`], looked up like [`Vendor::language_name`].
    pub fn display_language_name(&self, tag: &str) -> Option<&'static str> {
        lookup_language(self.provisioning.display_languages, tag)
    }

    /// The vendor's own name for an IANA zone this year and next, where it
    /// has one ([`Vendor::zone_value`]).
    pub fn timezone_name(&self, iana: &str) -> Option<&'static str> {
        let tz: chrono_tz::Tz = iana.parse().ok()?;
        let year = zone::year_of(time::OffsetDateTime::now_utc().unix_timestamp());
        self.zone_value(tz, year).map(|(value, _)| value)
    }

    /// The vendor's value for `tz` over `year` and the next, and the zone of
    /// the row it came from: the zone's own row, else the first row whose
    /// zone keeps the same UTC offsets and changes (the nearest city with the
    /// same rules), else `None`.
    pub fn zone_value(&self, tz: chrono_tz::Tz, year: i32) -> Option<(&'static str, &'static str)> {
        let rows = self.provisioning.timezone_names;
        if let Some((zone, value)) = rows.iter().find(|(k, _)| *k == tz.name()) {
            return Some((value, zone));
        }
        if rows.is_empty() {
            return None;
        }
        let signature = zone::analyse(tz, year).signature.clone();
        same_rules(self, year).get(&signature).copied()
    }
}

/// A tag in a language table: the full tag first, then its primary subtag.
fn lookup_language(
    table: &'static [(&'static str, &'static str)],
    tag: &str,
) -> Option<&'static str> {
    let primary = tag.split('-').next().unwrap_or(tag);
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(tag))
        .or_else(|| table.iter().find(|(k, _)| k.eq_ignore_ascii_case(primary)))
        .map(|(_, v)| *v)
}

/// Clock signature → (value, zone) of the first row with it, per vendor and
/// year: built once, on the first look-up that misses an exact row.
fn same_rules(vendor: &Vendor, year: i32) -> std::sync::Arc<SameRules> {
    type Cache = std::collections::HashMap<(&'static str, i32), std::sync::Arc<SameRules>>;
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Cache>> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(index) = cache
        .lock()
        .ok()
        .and_then(|c| c.get(&(vendor.id, year)).cloned())
    {
        return index;
    }
    let mut index = SameRules::new();
    for (zone, value) in vendor.provisioning.timezone_names {
        if let Ok(tz) = zone.parse::<chrono_tz::Tz>() {
            index
                .entry(zone::analyse(tz, year).signature.clone())
                .or_insert((value, zone));
        }
    }
    let index = std::sync::Arc::new(index);
    if let Ok(mut c) = cache.lock() {
        c.insert((vendor.id, year), index.clone());
    }
    index
}

type SameRules = std::collections::HashMap<(i32, Vec<(i64, i32)>), (&'static str, &'static str)>;

/// A plausible model name out of a User-Agent.
fn is_model(m: &str) -> bool {
    !m.is_empty() && m.len() <= 32 && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A dotted numeric firmware version.
fn is_firmware(f: &str) -> bool {
    f.len() <= 32
        && f.contains('.')
        && f.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && f.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Every vendor autoprov knows, one file each. Sources: docs/reference/vendors.md (Wazo's DHCP classes).
pub static VENDORS: &[Vendor] = &[
    yealink::VENDOR,
    polycom::VENDOR,
    cisco::VENDOR,
    grandstream::VENDOR,
    snom::VENDOR,
    fanvil::VENDOR,
];

/// Looks a vendor up by id or alias, case-insensitively.
pub fn by_name(name: &str) -> Option<&'static Vendor> {
    let name = name.to_ascii_lowercase();
    VENDORS
        .iter()
        .find(|v| v.id == name || v.aliases.contains(&name.as_str()))
}

/// Looks a vendor up by its stable id.
pub fn by_id(id: &str) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| v.id == id)
}

/// The vendor whose phones carry this OUI, if known.
pub fn by_oui(oui: [u8; 3]) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| v.ouis.contains(&oui))
}

/// Comma-separated vendor ids, for error messages.
pub fn known_ids() -> String {
    VENDORS.iter().map(|v| v.id).collect::<Vec<_>>().join(", ")
}

/// The first vendor whose parser recognises this User-Agent.
pub fn parse_user_agent(ua: &str) -> Option<(&'static Vendor, UaInfo)> {
    VENDORS.iter().find_map(|v| {
        let parse = v.provisioning.user_agent?;
        parse(ua).map(|info| (v, info))
    })
}

/// One vendor file a name matches.
#[derive(Debug, Clone, Copy)]
pub struct Match {
    pub vendor: &'static Vendor,
    pub rule: &'static FileRule,
    pub mac: Option<Mac>,
}

/// Every vendor rule the name matches (several vendors share `<mac>.cfg`).
pub fn matches(name: &str) -> Vec<Match> {
    VENDORS
        .iter()
        .flat_map(|v| v.provisioning.files.iter().map(move |r| (v, r)))
        .filter_map(|(vendor, rule)| rule.matches(name).map(|mac| Match { vendor, rule, mac }))
        .collect()
}

/// The compiled-in template of this name, from whichever rule carries it:
/// the default a template loader falls back to without an override file.
pub fn default_template(name: &str) -> Option<&'static Template> {
    VENDORS
        .iter()
        .flat_map(|v| v.provisioning.files)
        .filter_map(|r| r.template.as_ref())
        .find(|t| t.name == name)
}

/// The prefixes any vendor's certificates put before the MAC in a subject
/// name (Cisco's `SEP`), from every row: what a client certificate reader
/// strips before it looks for a MAC.
pub fn cert_name_prefixes() -> impl Iterator<Item = &'static str> {
    VENDORS
        .iter()
        .flat_map(|v| v.provisioning.cert_name_prefixes.iter().copied())
}

/// A MAC from a literal, for the vendor tests (each vendor file's tests
/// reach it through their `use super::*`).
#[cfg(test)]
fn mac(s: &str) -> Mac {
    Mac::parse(s).expect("test MAC")
}

#[cfg(test)]
mod tests {
    //! Checks across vendors; each vendor's own rows are tested in its file.

    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(by_name("Poly").map(|v| v.id), Some("polycom"));
        assert_eq!(by_oui([0x80, 0x5e, 0xc0]).map(|v| v.id), Some("yealink"));
        assert!(by_oui([0x12, 0x34, 0x56]).is_none());
        for v in VENDORS {
            assert!(by_id(v.id).is_some());
        }
    }

    #[test]
    fn user_agent_parsers_never_panic() {
        let samples = [
            "Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId 000b82aabbcc",
            "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)",
            "Fanvil X4 2.10.2.6887 0c383e07e16c",
            "Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56",
        ];
        for ua in samples {
            for (i, _) in ua.char_indices() {
                for insert in ["", "é", "\u{1f600}", " ", "(", "-SIP", "\0"] {
                    let s = format!("{}{insert}{}", &ua[..i], &ua[i..]);
                    let _ = parse_user_agent(&s);
                    let _ = parse_user_agent(&ua[..i]);
                    let _ = parse_user_agent(&ua[i..]);
                }
            }
        }
    }

    #[test]
    fn vendor_matches() {
        // Several vendors name a file <mac>.cfg; the phone's vendor decides.
        let m = matches("805ec0123456.cfg");
        assert!(m.iter().any(|m| m.vendor.id == "yealink"));
        assert!(m.iter().any(|m| m.vendor.id == "polycom"));
        assert!(m.iter().all(|m| m.mac.is_some()));
        assert_eq!(matches("y000000000096.cfg").len(), 1);
        assert!(matches("passwd").is_empty());
    }

    /// Every served rule carries a template from its own vendor's folder;
    /// only uploads carry none.
    #[test]
    fn every_served_rule_has_its_vendors_template() {
        for v in VENDORS {
            for rule in v.provisioning.files {
                match (rule.kind, rule.template) {
                    (FileKind::Upload, None) => {}
                    (FileKind::Upload, Some(t)) => panic!("{}: upload with {}", v.id, t.name),
                    (_, None) => panic!("{}: {} has no template", v.id, rule.pattern_text()),
                    (_, Some(t)) => {
                        assert!(t.name.starts_with(&format!("{}/", v.id)), "{}", t.name);
                        assert!(!t.source.is_empty(), "{}", t.name);
                        assert_eq!(default_template(t.name), Some(&t));
                    }
                }
            }
        }
        assert_eq!(default_template("yealink/nope.cfg"), None);
        assert_eq!(default_template(""), None);
    }

    /// A name built from a rule is one that rule matches, for the same MAC.
    #[test]
    fn built_names_match_their_rule() {
        let m = mac("0c383e07e16c");
        for v in VENDORS {
            for rule in v.provisioning.files {
                for name in [rule.file_name(m), rule.file_name_for(m, Some("D785"))]
                    .into_iter()
                    .flatten()
                {
                    let want = rule.mac_case().map(|_| m);
                    assert_eq!(rule.matches(&name), Some(want), "{}: {name}", v.id);
                }
            }
        }
    }

    #[test]
    fn patterns_read_as_in_the_docs() {
        let texts = |id: &str| -> Vec<String> {
            by_id(id)
                .unwrap()
                .provisioning
                .files
                .iter()
                .map(FileRule::pattern_text)
                .collect()
        };
        assert_eq!(
            texts("yealink"),
            [
                "<mac>.boot",
                "y000000000000.boot",
                "y<12 digits>.cfg",
                "<mac>.cfg"
            ]
        );
        assert_eq!(texts("snom"), ["snom<model>-<MAC>.htm", "snom<model>.htm"]);
        assert_eq!(texts("cisco")[3], "<4 digits>.xml");
    }

    /// A row stands for every zone with the same clock; the zone's own row
    /// comes first; a zone no row shares a clock with has no value.
    #[test]
    fn zone_values_by_row_then_same_rules() {
        static SHORT: Vendor = Vendor {
            id: "test-zones",
            aliases: &[],
            name: "Test",
            ouis: &[],
            provisioning: Provisioning {
                timezone_names: &[
                    ("Europe/Paris", "P"),
                    ("America/New_York", "NY"),
                    ("Europe/Brussels", "B"),
                ],
                ..Provisioning::NONE
            },
            dhcp: Dhcp::NONE,
        };
        let value = |z: &str| SHORT.zone_value(z.parse().unwrap(), 2026);
        assert_eq!(value("Europe/Paris"), Some(("P", "Europe/Paris")));
        assert_eq!(value("Europe/Brussels"), Some(("B", "Europe/Brussels")));
        assert_eq!(value("Europe/Berlin"), Some(("P", "Europe/Paris")));
        assert_eq!(value("America/Toronto"), Some(("NY", "America/New_York")));
        assert_eq!(value("US/Eastern"), Some(("NY", "America/New_York")));
        assert_eq!(value("Europe/London"), None);
        assert_eq!(value("America/Chicago"), None);
    }

    /// The same over the real lists, whatever they hold: a value is the
    /// zone's own row or a row whose zone keeps the same clock, and no
    /// value means no row does.
    #[test]
    fn real_lists_follow_the_same_rules() {
        let zones = [
            "Europe/Berlin",
            "Europe/Vienna",
            "America/Detroit",
            "Asia/Calcutta",
            "Asia/Kolkata",
            "Australia/Melbourne",
            "Pacific/Chatham",
            "Africa/Casablanca",
        ];
        for v in VENDORS {
            let rows = v.provisioning.timezone_names;
            for z in zones {
                let tz: chrono_tz::Tz = z.parse().unwrap();
                let sig = zone::analyse(tz, 2026).signature.clone();
                let same = |row: &str| {
                    row.parse::<chrono_tz::Tz>()
                        .is_ok_and(|t| zone::analyse(t, 2026).signature == sig)
                };
                match v.zone_value(tz, 2026) {
                    Some((value, row)) => {
                        assert!(rows.contains(&(row, value)), "{}: {z}", v.id);
                        assert!(row == z || same(row), "{}: {z} -> {row}", v.id);
                    }
                    None => assert!(!rows.iter().any(|(r, _)| same(r)), "{}: {z}", v.id),
                }
            }
        }
    }

    #[test]
    fn recheck_clamps_into_the_range() {
        let r = Recheck {
            setting: "x",
            unit_seconds: 60,
            minutes: (60, 86_400),
        };
        assert_eq!(r.clamp(5), 60);
        assert_eq!(r.clamp(1440), 1440);
        assert_eq!(r.clamp(u32::MAX), 86_400);
        // Every row's range is ordered and starts at a minute or more.
        for v in VENDORS {
            if let Some(r) = v.provisioning.recheck {
                assert!(1 <= r.minutes.0 && r.minutes.0 <= r.minutes.1, "{}", v.id);
                assert!(r.unit_seconds == 1 || r.unit_seconds == 60, "{}", v.id);
            }
        }
    }

    #[test]
    fn certificate_name_prefixes_come_from_the_rows() {
        assert!(cert_name_prefixes().any(|p| p == "SEP"));
    }
}
