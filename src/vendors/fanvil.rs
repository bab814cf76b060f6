//! Fanvil: everything autoprov knows about the vendor, in one place.

use super::*;
use crate::domain::Transport;
use crate::domain::mac::Mac;

pub const VENDOR: Vendor = Vendor {
    id: "fanvil",
    aliases: &[],
    name: "Fanvil",
    ouis: &[[0x00, 0xa8, 0x59], [0x0c, 0x38, 0x3e]],
    provisioning: FANVIL,
    // §6.3: option 60 only if configured (`Fanvil X4SG`); 66 and 43
    // (raw text URL, as W sends it).
    dhcp: Dhcp {
        classes: &[ClassMatch::Prefix("Fanvil")],
        options: &[DhcpOption::ServerName, DhcpOption::VendorSpecific],
        boot_file: None,
        option43: Option43::Url,
        tftp_options: &[],
    },
};

/// Fanvil facts (docs/reference/vendors.md §6): a model common file, then lower-case
/// `<mac>.cfg`; both in the XML `<sysConf>` syntax (§6.4 (a), the one for
/// current X/V-series firmware). The newer `fanvil_*_v2_*.txt` names are
/// firmware descriptors, not settings, and get a 404.
const FANVIL: Provisioning = Provisioning {
    files: &[
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit(".cfg")],
            kind: FileKind::Main,
            template: Some(template!("fanvil/mac.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("f0X4hw1.100.cfg")],
            kind: FileKind::Common,
            template: Some(template!("fanvil/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("f0X3shw1.100.cfg")],
            kind: FileKind::Common,
            template: Some(template!("fanvil/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("F0V00X600000.cfg")],
            kind: FileKind::Common,
            template: Some(template!("fanvil/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("F0000X600000.cfg")],
            kind: FileKind::Common,
            template: Some(template!("fanvil/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("F0V00X200000.cfg")],
            kind: FileKind::Common,
            template: Some(template!("fanvil/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("f0C00620000.cfg")],
            kind: FileKind::Common,
            template: Some(template!("fanvil/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
    ],
    user_agent: Some(fanvil_user_agent),
    // sip/line/Transport: 0 UDP, 1 TCP; TLS is 3 in Wazo's map and the §6.6
    // example but 2 in one FusionPBX template ([conflict], §10): 3 chosen.
    transports: &[
        (Transport::Udp, "0"),
        (Transport::Tcp, "1"),
        (Transport::Tls, "3"),
    ],
    // phone/display/DefaultLanguage codes (§6.4).
    languages: &[
        ("en", "en"),
        ("fr", "fr"),
        ("de", "de"),
        ("it", "it"),
        ("es", "es"),
        ("nl", "nl"),
        ("ru", "ru"),
        ("pl", "pl"),
        ("pt", "pt"),
        ("tr", "tr"),
    ],
    timezone_names: &[],
    // Per-device credentials: Download_Username/Download_Password (§6.5).
    device_credentials: true,
    // No source documents a setting that loads a trusted CA by provisioning;
    // the legacy Trust_Certification only switches checking on or off (§6.5).
    ca_setting: None,
    cert_name_prefixes: &[],
    display_languages: &[],
    // The templates set no re-check interval (Fanvil's ap/FlashMode and
    // FlashInterval codes are unverified, §6.4): the phone keeps its own.
    recheck: None,
    // Web passwords: <web><account index="N"> with Name, Password and Level
    // (10 = administrator, 5 = guest), one account per line in the template
    // (wazo-platform/wazo-provd-plugins plugins/wazo-fanvil/common/templates/base-new.tpl).
    // No Fanvil guide among our sources; unverified on hardware.
    admin_password_setting: Some("account index=\"1\""),
    user_password_setting: Some("account index=\"2\""),
    // §6.4 "firmware": AUTOUPDATE_CONFIG_MODULE/Auto_Image_URL.
    firmware: Some(FirmwareKeys {
        setting: "Auto_Image_URL",
        file: FileKind::Main,
    }),
    // TimeZone in quarter hours; DSTMinOffset in minutes, which Wazo caps
    // at 60 (wazo-platform/wazo-provd-plugins
    // plugins/wazo-fanvil/common/common.py, _extract_tzinfo).
    clock: Clock {
        listed_offsets: &[],
        dst_save_minutes: (1, 60),
    },
    // Settings (docs/settings.md): `section/sub/Leaf` paths written as
    // nested elements in a section of their own at the end of <sysConf>.
    // Fanvil's sections are nested, so a setting cannot replace a value the
    // template writes without a second copy of the section: every path
    // phone_templates/fanvil/mac.xml writes is fixed (refused even with
    // allow_override), which also covers the accounts (`sip/*`), the
    // provisioning server and credentials (`ap/*`,
    // `AUTOUPDATE_CONFIG_MODULE/*`) and the web passwords (`web/*`).
    settings: settings::SettingRules {
        syntax: settings::Syntax::Path,
        owned: &[],
        fixed: &[
            "sip/*",
            "phone/display/DefaultLanguage",
            "phone/date/*",
            "dsskey/*",
            "ap/*",
            "AUTOUPDATE_CONFIG_MODULE/*",
            "web/*",
            "Version*",
        ],
    },
};

/// `Fanvil X4 2.10.2.6887 0c383e07e16c`, `Fanvil X6U Pro 0.0.10 0c383e2cd782`.
fn fanvil_user_agent(ua: &str) -> Option<UaInfo> {
    let mut tokens = ua.split_whitespace();
    if !tokens.next()?.eq_ignore_ascii_case("fanvil") {
        return None;
    }
    let tokens: Vec<&str> = tokens.take(32).collect();
    let model = tokens
        .first()
        .filter(|m| is_model(m))
        .map(|m| m.to_ascii_lowercase());
    let firmware = tokens
        .iter()
        .skip(1)
        .find(|t| is_firmware(t))
        .map(|f| f.to_string());
    let mac = tokens
        .last()
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
}
