//! Grandstream: everything autoprov knows about the vendor, in one place.

use super::*;
use crate::domain::Transport;
use crate::domain::mac::Mac;

pub const VENDOR: Vendor = Vendor {
    id: "grandstream",
    aliases: &["gs"],
    name: "Grandstream",
    ouis: &[[0x00, 0x0b, 0x82], [0xc0, 0x74, 0xad], [0xec, 0x74, 0xd7]],
    provisioning: GRANDSTREAM,
    // §4.3: class `Grandstream <MODEL>` (configurable); 66 and 43 (URL).
    dhcp: Dhcp {
        classes: &[ClassMatch::Prefix("Grandstream")],
        options: &[DhcpOption::ServerName, DhcpOption::VendorSpecific],
        boot_file: None,
        option43: Option43::Url,
        tftp_options: &[],
    },
};

/// Grandstream facts (docs/reference/vendors.md §4): `cfg<mac>.xml`, then `cfg<model>.xml`,
/// then `cfg.xml`, all lower case; XML `<gs_provision>` with config
/// version 1 (P-codes) throughout.
///
/// The legacy `cfg<mac>` name has no rule, so it gets a 404: that file is
/// Grandstream's encoded binary format, the phone would not parse XML there,
/// and on a 404 it moves on to `cfg<mac>.xml` (§0 routing notes, §4.1).
const GRANDSTREAM: Provisioning = Provisioning {
    files: &[
        FileRule {
            pattern: &[
                Part::Lit("cfg"),
                Part::Mac(MacCase::Lower),
                Part::Lit(".xml"),
            ],
            kind: FileKind::Main,
            template: Some(template!("grandstream/mac.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("cfg"), Part::Model(16), Part::Lit(".xml")],
            kind: FileKind::Common,
            template: Some(template!("grandstream/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("cfg.xml")],
            kind: FileKind::Common,
            template: Some(template!("grandstream/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
    ],
    user_agent: Some(grandstream_user_agent),
    // P130: 0 UDP, 1 TCP, 2 TLS/TCP (§4.4).
    transports: &[
        (Transport::Udp, "0"),
        (Transport::Tcp, "1"),
        (Transport::Tls, "2"),
    ],
    // P1362 codes (§4.4).
    languages: &[
        ("en", "en"),
        ("fr", "fr"),
        ("de", "de"),
        ("es", "es"),
        ("it", "it"),
        ("nl", "nl"),
    ],
    // P64's listed values (TIMEZONE_NAMES, §11).
    timezone_names: TIMEZONE_NAMES,
    // Per-device credentials: P1360/P1361, "Config HTTP/HTTPS User Name/Password".
    device_credentials: true,
    // Custom CAs can be provisioned, but no source names the P-code (§4.5).
    ca_setting: None,
    cert_name_prefixes: &[],
    display_languages: &[],
    // P193 (with P194 = 1): minutes, 60 to 5256000. Grandstream's user
    // manuals show the web field as "Automatic Upgrade: Yes, every 10080
    // minutes(60-5256000)" (GXW400x 1.0.14.1, DP715/DP710 1.0.0.33, HT502
    // 1.0.7.6, the same provisioning chapter in each), and Grandstream's GXP
    // configuration template says "Check for new firmware every () minutes,
    // unit is in minute, minimum 60 minutes, default is 7 days". (Issue 10
    // quoted 60-86400; no source we found says 86400.)
    recheck: Some(Recheck {
        setting: "<P193>",
        unit_seconds: 60,
        minutes: (60, 5_256_000),
    }),
    // Web passwords: P2 is "Admin Password" under Maintenance > Web Access
    // (Grandstream GXP21xx user manual, configuration file download);
    // P196 the end user's "New User Password" on the same page (a public
    // GXP XML example the code index holds without naming its repository;
    // not yet checked against Grandstream's own config template).
    admin_password_setting: Some("P2"),
    user_password_setting: Some("P196"),
    // §4.4 "firmware": the server path, with P6767 (protocol) and P232 (prefix).
    firmware: Some(FirmwareKeys {
        setting: "P192",
        file: FileKind::Main,
    }),
    // P246 takes any POSIX TZ string (Grandstream config template: "Self
    // Defined Time zone", at most 64 characters).
    clock: Clock::ANY,
    // Settings (docs/settings.md): `<Pnnn>value</Pnnn>` in <config>.
    // Owned: the P-codes phone_templates/grandstream/mac.xml writes for
    // account 1 (P3, P34-P36, P47, P48, P130, P270, P271) and accounts
    // 2-6 (`P?01`-`P?07`, `P?17`, `P?48`: any digit, so a few unrelated
    // codes such as P101 need an opt-in too), the provisioning server and
    // credentials (P212, P237, P145, P1360, P1361, re-check P193/P194),
    // the web passwords (P2, P196), all cited there, and the firmware
    // server (P192, P232: Grandstream GXP config template, "Firmware
    // Server Path" / "Firmware File Prefix").
    settings: settings::SettingRules {
        syntax: settings::Syntax::PCode,
        owned: &[
            "P2", "P3", "P34", "P35", "P36", "P47", "P48", "P130", "P270", "P271", "P?01", "P?02",
            "P?03", "P?04", "P?05", "P?06", "P?07", "P?17", "P?48", "P145", "P192", "P193", "P194",
            "P196", "P212", "P232", "P237", "P1360", "P1361",
        ],
        fixed: &[],
    },
};

/// P64 values, each paired with an IANA zone whose 2026–2027 rules the
/// value states (a POSIX TZ string: the offset is hours *west*, so
/// `CET-1…` is UTC+1).
///
/// Source: Grandstream's own config template, the "Time Zone" table above
/// P64 in `gxp17xx_config_1.0.1.106.txt`, kept in
/// wazo-platform/wazo-provd-plugins
/// `plugins/wazo-grandstream/docs/config-template/`. Values are copied as
/// listed; the table's labels are Grandstream's and some are stale
/// (`TZK+3` says Greenland, `UTC+3` says GMT-02:00), so the pairing follows
/// the string, not the label. A value without a rule part (`AKST9AKDT`,
/// `PST8PDT`, `MST7MDT`, `CST6CDT`, `EST5EDT`, `AST4ADT`) leaves the DST
/// dates to the phone's default, the US rules (second Sunday in March to
/// first Sunday in November).
///
/// Left out, because no zone keeps these rules in 2026 (tzdb 2025b):
/// `MST7MDT,M4.1.0,M10.5.0` and `CST6CDT,M4.1.0,M10.5.0` (Mexico, no DST
/// since 2022), `TZf+4:30` (Caracas, −4 since 2016),
/// `NST+3:30NDT+2:30,M3.2.0/00:01:00,M11.1.0/00:01:00` (St. John's has
/// changed at 02:00 since 2011), `BRST+3BRDT+2,M10.3.0,M2.3.0` (Brazil, no
/// DST since 2019), and the Australian DST strings
/// `CST-9:30CDT-10:30,M10.5.0/02:00:00,M3.5.0/03:00:00`,
/// `EST-10EDT-11,M10.5.0/02:00:00,M3.5.0/03:00:00` and
/// `EST-10EDT-11,M10.1.0/02:00:00,M3.5.0/03:00:00` (Australia has gone by
/// first Sunday in October to first Sunday in April since 2008). `auto`
/// is not a zone.
///
/// Any other zone can be set exactly: P64 = `customize` and P246 = the POSIX
/// TZ string ("Self Defined Time zone", at most 64 characters; the
/// template's example is `MTZ+6MDT+5,M4.1.0,M11.1.0`). Source: the same
/// template, the `customize` row and P246.
const TIMEZONE_NAMES: &[(&str, &str)] = &[
    ("Etc/GMT+12", "TZA+12"),
    ("Pacific/Pago_Pago", "TZB+11"),
    ("Pacific/Honolulu", "HAW10"),
    ("America/Anchorage", "AKST9AKDT"),
    ("America/Los_Angeles", "PST8PDT"),
    ("America/Tijuana", "PST8PDT,M3.2.0,M11.1.0"),
    ("America/Denver", "MST7MDT"),
    ("America/Phoenix", "MST7"),
    ("America/Chicago", "CST6CDT"),
    ("America/Guatemala", "CST+6"),
    ("America/New_York", "EST5EDT"),
    ("America/Panama", "EST5"),
    ("America/Halifax", "AST4ADT"),
    ("America/Moncton", "AST4ADT,M3.2.0,M11.1.0"),
    ("America/Sao_Paulo", "TZK+3"),
    ("America/Argentina/Buenos_Aires", "UTC+3"),
    ("Atlantic/South_Georgia", "TZL+2"),
    ("Atlantic/Cape_Verde", "TZM+1"),
    (
        "Europe/London",
        "GMT+0BST-1,M3.5.0/01:00:00,M10.5.0/02:00:00",
    ),
    (
        "Europe/Lisbon",
        "WET-0WEST-1,M3.5.0/01:00:00,M10.5.0/02:00:00",
    ),
    (
        "Europe/Dublin",
        "GMT+0IST-1,M3.5.0/01:00:00,M10.5.0/02:00:00",
    ),
    ("Etc/UTC", "TZN+0"),
    (
        "Europe/Paris",
        "CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00",
    ),
    ("Africa/Johannesburg", "TZP-2"),
    (
        "Europe/Helsinki",
        "EET-2EEST-3,M3.5.0/03:00:00,M10.5.0/04:00:00",
    ),
    ("Europe/Kyiv", "EET-2EEST,M3.5.0/3,M10.5.0/4"),
    ("Asia/Baghdad", "TZQ-3"),
    ("Europe/Moscow", "MSK-3"),
    ("Asia/Dubai", "TZR-4"),
    ("Asia/Karachi", "TZS-5"),
    ("Asia/Kolkata", "TZT-5:30"),
    ("Asia/Kathmandu", "TZU-5:45"),
    ("Asia/Dhaka", "TZV-6"),
    ("Asia/Yangon", "TZW-6:30"),
    ("Asia/Bangkok", "TZX-7"),
    ("Asia/Jakarta", "WIB-7"),
    ("Asia/Shanghai", "TZY-8"),
    ("Asia/Singapore", "SGT-8"),
    ("Asia/Ulaanbaatar", "ULAT-8"),
    ("Australia/Perth", "WST-8"),
    ("Asia/Tokyo", "TZZ-9"),
    ("Australia/Darwin", "CST-9:30"),
    ("Pacific/Guam", "TZb-10"),
    ("Australia/Brisbane", "EST-10"),
    ("Pacific/Noumea", "TZc-11"),
    (
        "Pacific/Auckland",
        "NZST-12NZDT-13,M9.5.0/02:00:00,M4.1.0/03:00:00",
    ),
    ("Pacific/Fiji", "TZd-12"),
    ("Pacific/Tongatapu", "TZe-13"),
];

/// `Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId 000b82aabbcc`, and
/// the old `Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/…) DevId 000b822726c8`.
fn grandstream_user_agent(ua: &str) -> Option<UaInfo> {
    let mut tokens = ua.split_whitespace();
    if !tokens.next()?.eq_ignore_ascii_case("grandstream") {
        return None;
    }
    let tokens: Vec<&str> = tokens.take(32).collect();
    let after = |key: &str| {
        tokens
            .iter()
            .position(|t| t.eq_ignore_ascii_case(key))
            .and_then(|i| tokens.get(i + 1))
            .copied()
    };
    let model = match tokens.as_slice() {
        [m, h, model, ..] if m.eq_ignore_ascii_case("model") && h.eq_ignore_ascii_case("hw") => {
            Some(*model)
        }
        [model, ..] => Some(*model),
        [] => None,
    }
    .filter(|m| is_model(m))
    .map(str::to_ascii_lowercase);
    let firmware = after("SW").filter(|f| is_firmware(f)).map(str::to_string);
    let mac = after("DevId")
        .filter(|m| m.len() == 12)
        .and_then(|m| Mac::parse(m).ok());
    Some(UaInfo {
        model,
        firmware,
        mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard offset of a POSIX TZ string (`NAME±h[:mm]…`), in seconds
    /// east of UTC (POSIX counts west, so the sign flips).
    fn posix_standard_offset(tz: &str) -> i32 {
        let rest = tz.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '+' | '-' | ':')))
            .unwrap_or(rest.len());
        let field = &rest[..end];
        let (west, hm) = match field.strip_prefix('-') {
            Some(hm) => (-1, hm),
            None => (1, field.trim_start_matches('+')),
        };
        let (h, m) = hm.split_once(':').unwrap_or((hm, "0"));
        let h: i32 = h.parse().unwrap_or_else(|e| panic!("{tz}: {e}"));
        let m: i32 = m.parse().unwrap_or_else(|e| panic!("{tz}: {e}"));
        -west * (h * 3600 + m * 60)
    }

    #[test]
    fn p64_values_match_their_zones() {
        super::super::yealink::zone_check::assert_current_zones(
            TIMEZONE_NAMES.iter().map(|(zone, _)| *zone),
        );
        let mut values = std::collections::HashSet::new();
        for (zone, value) in TIMEZONE_NAMES {
            assert!(values.insert(value), "{value} has two rows");
            assert!(value.len() <= 64, "{value}: longer than P64 takes");
            assert_eq!(
                posix_standard_offset(value),
                super::super::yealink::zone_check::standard_offset(zone),
                "{value} is not {zone}'s standard offset"
            );
        }
        assert_eq!(posix_standard_offset("TZT-5:30"), 19_800);
        assert_eq!(posix_standard_offset("NST+3:30NDT+2:30,M3.2.0"), -12_600);
        assert_eq!(posix_standard_offset("HAW10"), -36_000);
        assert_eq!(posix_standard_offset("WET-0WEST-1,M3.5.0"), 0);
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
        assert_eq!(
            g.timezone_name("Europe/Paris"),
            Some("CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00")
        );
    }
}
