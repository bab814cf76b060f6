//! Vendors as data: one file per vendor (`yealink.rs`, ...), each holding
//! the vendor's whole row: OUIs, DHCP classes and options, request file
//! patterns, User-Agent parser, template names and value maps.
//!
//! The provisioning and DHCP parts read everything vendor-specific from here,
//! so adding a vendor means one file, one line in [`VENDORS`] and its
//! templates, not match arms spread through the code.
//!
//! A bare `§` in this folder is a section of `docs/reference/vendors.md`,
//! which names the vendor's own guide or the other project each fact came
//! from.

use crate::domain::Transport;
use crate::domain::mac::Mac;

mod cisco;
mod fanvil;
mod grandstream;
mod polycom;
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
    /// 160: the provisioning URL as text (Polycom custom default, Cisco MPP).
    ProvisioningUrl160,
    /// 43: vendor-specific, laid out as [`Dhcp::option43`] says.
    VendorSpecific,
}

impl DhcpOption {
    /// The option code on the wire.
    pub fn code(self) -> u8 {
        match self {
            DhcpOption::ServerName => 66,
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
    /// IANA zone → the vendor's own zone name, where the vendor has one.
    pub timezone_names: &'static [(&'static str, &'static str)],
    /// Whether the main-file template hands the phone its own provisioning
    /// credentials (the vendor has keys for them); only then may
    /// `require_device_auth` demand them of its phones.
    pub device_credentials: bool,
}

impl Provisioning {
    /// A vendor whose files autoprov does not serve yet.
    pub const NONE: Provisioning = Provisioning {
        files: &[],
        user_agent: None,
        transports: &[],
        languages: &[],
        timezone_names: &[],
        device_credentials: false,
    };
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
    /// Template name under `phone_templates/`, e.g. `yealink/mac.cfg`.
    pub template: &'static str,
    pub content_type: &'static str,
}

impl FileRule {
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
        let table = self.provisioning.languages;
        let primary = tag.split('-').next().unwrap_or(tag);
        table
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(tag))
            .or_else(|| table.iter().find(|(k, _)| k.eq_ignore_ascii_case(primary)))
            .map(|(_, v)| *v)
    }

    /// The vendor's own name for an IANA zone, where it has one.
    pub fn timezone_name(&self, iana: &str) -> Option<&'static str> {
        self.provisioning
            .timezone_names
            .iter()
            .find(|(k, _)| *k == iana)
            .map(|(_, v)| *v)
    }
}

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

#[cfg(test)]
mod tests {
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

    fn mac(s: &str) -> Mac {
        Mac::parse(s).unwrap()
    }

    #[test]
    fn yealink_user_agents() {
        let (v, i) = parse_user_agent("Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56").unwrap();
        assert_eq!(v.id, "yealink");
        assert_eq!(i.model.as_deref(), Some("t54w"));
        assert_eq!(i.firmware.as_deref(), Some("96.86.0.100"));
        assert_eq!(i.mac, Some(mac("805ec0123456")));
        assert_eq!(i.firmware_major(), Some(96));

        let (_, i) = parse_user_agent("Yealink SIP VP-T49G 51.80.0.10 00:15:65:9b:5a:44").unwrap();
        assert_eq!(i.model.as_deref(), Some("vp-t49g"));
        let (_, i) = parse_user_agent("Yealink W52P 25.80.0.15 00:15:65:b8:60:05").unwrap();
        assert_eq!(i.model.as_deref(), Some("w52p"));
        let (_, i) = parse_user_agent("yealink SIP-T28P 2.70.0.140 00:15:65:13:ae:0b").unwrap();
        assert_eq!(i.model.as_deref(), Some("t28p"));
        let (_, i) = parse_user_agent("Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0").unwrap();
        assert_eq!(i.model.as_deref(), Some("t46g"));
        assert_eq!(i.firmware.as_deref(), Some("28.71.0.81"));
        assert_eq!(i.mac, None);

        assert!(parse_user_agent("curl/8.5.0").is_none());
        assert!(parse_user_agent("Yealinkish 1.2").is_none());
        assert!(parse_user_agent("").is_none());
        // Garbage after the vendor name never panics and yields nothing useful.
        let (_, i) = parse_user_agent("Yealink \u{fffd}\u{fffd} 1..2 zz").unwrap();
        assert_eq!(i.mac, None);
    }

    #[test]
    fn file_patterns() {
        let y = by_id("yealink").unwrap();
        let main = y.main_file().unwrap();
        assert_eq!(
            main.file_name(mac("80:5e:c0:12:34:56")).as_deref(),
            Some("805ec0123456.cfg")
        );
        assert_eq!(
            main.matches("805ec0123456.cfg"),
            Some(Some(mac("805ec0123456")))
        );
        assert_eq!(
            main.matches("805EC0123456.cfg"),
            Some(Some(mac("805ec0123456")))
        );
        assert_eq!(main.matches("805ec0123456.cfg.bak"), None);
        assert_eq!(main.matches("805ec012345.cfg"), None);
        assert_eq!(main.matches("ffffffffffff.cfg"), None);
        assert_eq!(main.matches("é05ec0123456.cfg"), None);
        let common = &y.provisioning.files[2];
        assert_eq!(common.matches("y000000000096.cfg"), Some(None));
        assert_eq!(common.matches("y00000000096.cfg"), None);
        assert_eq!(common.matches("y0000000000x6.cfg"), None);
        assert_eq!(y.mac_case(), Some(MacCase::Lower));
    }

    #[test]
    fn grandstream_rows() {
        let (v, i) =
            parse_user_agent("Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId 000b82aabbcc")
                .unwrap();
        assert_eq!(v.id, "grandstream");
        assert_eq!(i.model.as_deref(), Some("gxp2170"));
        assert_eq!(i.firmware.as_deref(), Some("1.0.11.79"));
        assert_eq!(i.mac, Some(mac("000b82aabbcc")));
        let (_, i) =
            parse_user_agent("Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad0b63ee")
                .unwrap();
        assert_eq!(i.model.as_deref(), Some("grp2614"));
        let (_, i) = parse_user_agent(
            "Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8",
        )
        .unwrap();
        assert_eq!(i.model.as_deref(), Some("gxp2000"));
        assert_eq!(i.mac, Some(mac("000b822726c8")));
        for junk in [
            "Grandstream",
            "Grandstream DevId",
            "Grandstream Model HW",
            "grandstream \u{fffd} SW",
        ] {
            let (_, i) = parse_user_agent(junk).unwrap();
            assert_eq!(i.mac, None, "{junk}");
        }
        let g = by_id("grandstream").unwrap();
        let main = g.main_file().unwrap();
        assert_eq!(
            main.file_name(mac("000b82aabbcc")).as_deref(),
            Some("cfg000b82aabbcc.xml")
        );
        let model = &g.provisioning.files[1];
        assert_eq!(model.matches("cfggxp2170.xml"), Some(None));
        // A model part never takes a MAC, so the per-MAC file is unambiguous.
        assert_eq!(model.matches("cfg000b82aabbcc.xml"), None);
        assert_eq!(model.matches("cfg.xml"), None);
        assert_eq!(model.matches("cfggxp-2170.xml"), None);
        assert_eq!(model.matches(&format!("cfg{}.xml", "a".repeat(17))), None);
        let hits = matches("cfg000b82aabbcc.xml");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].rule.kind, FileKind::Main);
        // The legacy binary name has no rule (404).
        assert!(matches("cfg000b82aabbcc").is_empty());
        assert_eq!(g.transport_value(Transport::Tls), Some("2"));
        assert_eq!(g.language_name("de-DE"), Some("de"));
    }

    #[test]
    fn snom_rows() {
        let ua = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)";
        let (v, i) = parse_user_agent(ua).unwrap();
        assert_eq!(v.id, "snom");
        assert_eq!(i.model.as_deref(), Some("d785"));
        assert_eq!(i.firmware.as_deref(), Some("10.1.33.33"));
        assert_eq!(i.mac, Some(mac("000413922d24")));
        let (_, i) = parse_user_agent(
            "Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)",
        )
        .unwrap();
        assert_eq!(i.model.as_deref(), Some("710"));
        assert_eq!(i.mac, Some(mac("000413741767")));
        let (_, i) =
            parse_user_agent("Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)").unwrap();
        assert_eq!((i.model.as_deref(), i.mac), (Some("320"), None));
        assert!(parse_user_agent("Mozilla/4.0 (compatible; MSIE 6.0)").is_none());
        for junk in [
            "snom-SIP",
            "(snomé-SIP",
            "snomD785-SIP",
            "x snom\u{fffd}\u{fffd}-SIP (",
        ] {
            if let Some((_, i)) = parse_user_agent(junk) {
                assert_eq!(i.mac, None, "{junk}");
            }
        }
        let s = by_id("snom").unwrap();
        let main = s.main_file().unwrap();
        assert_eq!(
            main.matches("snomD785-000413AABBCC.htm"),
            Some(Some(mac("000413aabbcc")))
        );
        // The model is not a MAC part: a name alone cannot be built.
        assert_eq!(main.file_name(mac("000413aabbcc")), None);
        assert_eq!(
            main.file_name_for(mac("000413aabbcc"), Some("D785"))
                .as_deref(),
            Some("snomD785-000413AABBCC.htm")
        );
        assert_eq!(main.file_name_for(mac("000413aabbcc"), Some("d-785")), None);
        assert_eq!(s.mac_case(), Some(MacCase::Upper));
        let common = &s.provisioning.files[1];
        assert_eq!(common.matches("snomD785.htm"), Some(None));
        assert_eq!(common.matches("snomD785-000413AABBCC.htm"), None);
        assert_eq!(common.matches("snom.htm"), None);
        assert_eq!(s.timezone_name("Europe/Berlin"), Some("GER+1"));
        assert_eq!(s.language_name("de-AT"), Some("Deutsch"));
        assert_eq!(s.transport_value(Transport::Tls), Some("tls"));
    }

    #[test]
    fn fanvil_rows() {
        let (v, i) = parse_user_agent("Fanvil X4 2.10.2.6887 0c383e07e16c").unwrap();
        assert_eq!(v.id, "fanvil");
        assert_eq!(i.model.as_deref(), Some("x4"));
        assert_eq!(i.firmware.as_deref(), Some("2.10.2.6887"));
        assert_eq!(i.mac, Some(mac("0c383e07e16c")));
        let (_, i) = parse_user_agent("Fanvil X6U Pro 0.0.10 0c383e2cd782").unwrap();
        assert_eq!(i.model.as_deref(), Some("x6u"));
        assert_eq!(i.firmware.as_deref(), Some("0.0.10"));
        assert_eq!(i.mac, Some(mac("0c383e2cd782")));
        for junk in ["Fanvil", "Fanvil \u{fffd}", "fanvil X4 zz 0c383e07e16"] {
            let (_, i) = parse_user_agent(junk).unwrap();
            assert_eq!(i.mac, None, "{junk}");
        }
        let f = by_id("fanvil").unwrap();
        let main = f.main_file().unwrap();
        assert_eq!(
            main.file_name(mac("0c383e07e16c")).as_deref(),
            Some("0c383e07e16c.cfg")
        );
        // Yealink, Polycom and Fanvil all name a file <mac>.cfg.
        let hits = matches("0c383e07e16c.cfg");
        assert!(hits.iter().any(|m| m.vendor.id == "fanvil"));
        assert!(hits.iter().any(|m| m.vendor.id == "yealink"));
        for common in ["f0X4hw1.100.cfg", "F0V00X600000.cfg", "f0C00620000.cfg"] {
            let hits = matches(common);
            assert_eq!(hits.len(), 1, "{common}");
            assert_eq!(hits[0].rule.kind, FileKind::Common);
        }
        assert!(matches("fanvil_x4u_v2_hwv2_0.txt").is_empty());
        assert_eq!(f.transport_value(Transport::Tls), Some("3"));
        assert_eq!(f.language_name("it-IT"), Some("it"));
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
    fn value_maps() {
        let y = by_id("yealink").unwrap();
        assert_eq!(y.transport_value(Transport::Tls), Some("2"));
        assert_eq!(y.language_name("fr-CA"), Some("French"));
        assert_eq!(y.language_name("de-DE"), Some("German"));
        assert_eq!(y.language_name("ja-JP"), None);
        assert_eq!(y.timezone_name("Europe/Paris"), Some("France(Paris)"));
        let p = by_id("polycom").unwrap();
        assert_eq!(p.transport_value(Transport::Tls), Some("TLS"));
        assert_eq!(p.language_name("de-AT"), Some("German_Germany"));
        let c = by_id("cisco").unwrap();
        assert_eq!(c.transport_value(Transport::Tcp), Some("TCP"));
        assert_eq!(c.language_name("fr-CA"), Some("fr-CA"));
        assert_eq!(c.language_name("fr-BE"), Some("fr-FR"));
    }

    #[test]
    fn polycom_and_cisco_user_agents() {
        let (v, i) =
            parse_user_agent("FileTransport PolycomVVX-VVX_411-UA/5.9.0.9373 Type/Application")
                .unwrap();
        assert_eq!(v.id, "polycom");
        assert_eq!(i.model.as_deref(), Some("vvx_411"));
        assert_eq!(i.firmware.as_deref(), Some("5.9.0.9373"));
        assert_eq!(i.mac, None);
        let (_, i) =
            parse_user_agent("FileTransport PolycomVVX-VVX_411-UA/5.9.0.x Type/Application")
                .unwrap();
        assert_eq!(i.firmware.as_deref(), Some("5.9.0.x"));
        let (_, i) =
            parse_user_agent("FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078").unwrap();
        assert_eq!(i.model.as_deref(), Some("spip_335"));

        let (v, i) = parse_user_agent("Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)").unwrap();
        assert_eq!(v.id, "cisco");
        assert_eq!(i.model.as_deref(), Some("spa508g"));
        assert_eq!(i.firmware.as_deref(), Some("7.4.4"));
        assert_eq!(i.mac, Some(mac("0002fdff2103")));
        let (_, i) = parse_user_agent("Cisco/SPA525G-7.4.7 (CBT141900G7)").unwrap();
        assert_eq!((i.model.as_deref(), i.mac), (Some("spa525g"), None));
        let (_, i) = parse_user_agent("Cisco-CP-7832-3PCC/11.0.1 (00562b043615)").unwrap();
        assert_eq!(i.model.as_deref(), Some("7832"));
        assert_eq!(i.firmware.as_deref(), Some("11.0.1"));
        assert_eq!(i.mac, Some(mac("00562b043615")));
        for junk in [
            "Cisco/",
            "Cisco-CP-",
            "Cisco-CP-x",
            "FileTransport Poly",
            "Cisco/\u{fffd} (zz",
        ] {
            if let Some((_, i)) = parse_user_agent(junk) {
                assert_eq!(i.mac, None, "{junk}");
            }
        }
    }

    #[test]
    fn polycom_and_cisco_files() {
        let p = by_id("polycom").unwrap();
        let m = mac("0004f2aabbcc");
        assert_eq!(
            p.main_file().and_then(|r| r.file_name(m)).as_deref(),
            Some("0004f2aabbcc-phone.cfg")
        );
        let c = by_id("cisco").unwrap();
        assert_eq!(
            c.main_file().and_then(|r| r.file_name(m)).as_deref(),
            Some("0004f2aabbcc.xml")
        );
        let common = |name: &str| {
            c.provisioning
                .files
                .iter()
                .any(|r| r.kind == FileKind::Common && r.matches(name) == Some(None))
        };
        for ok in [
            "spa504G.cfg",
            "spa525G2.cfg",
            "spa303.cfg",
            "8841.xml",
            "8841-3PCC.xml",
        ] {
            assert!(common(ok), "{ok}");
        }
        for no in [
            "spa50G.cfg",
            "spa504G.xml",
            "884.xml",
            "88410.xml",
            "8841-3pcc.xml",
        ] {
            assert!(!common(no), "{no}");
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
}
