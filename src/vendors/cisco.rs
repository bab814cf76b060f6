//! Cisco: everything autoprov knows about the vendor, in one place.

use super::*;
use crate::domain::Transport;
use crate::domain::mac::Mac;

pub const VENDOR: Vendor = Vendor {
    id: "cisco",
    aliases: &[],
    name: "Cisco",
    ouis: &[
        [0x00, 0x26, 0x99],
        [0x50, 0x3d, 0xe5],
        [0x00, 0xe1, 0x6d],
        [0x00, 0xda, 0x55],
        [0x10, 0xbd, 0x18],
        [0xd0, 0xec, 0x35],
    ],
    provisioning: CISCO,
    // §3.3: `Cisco SPA504G`, `CISCO SPA112`, `LINKSYS SPA-942`, MPP
    // `Cisco Systems, Inc. IP Phone CP-7841-3PCC\0`; MPP reads
    // 66,160,159,150,… and SPA reads 66 (150 on some firmware).
    dhcp: Dhcp {
        classes: &[
            ClassMatch::Prefix("Cisco"),
            ClassMatch::Prefix("CISCO"),
            ClassMatch::Prefix("LINKSYS"),
        ],
        options: &[DhcpOption::ServerName, DhcpOption::ProvisioningUrl160],
        boot_file: None,
        option43: Option43::None,
        // The factory Profile_Rule names no scheme (SPA `/spa$PSN.cfg`, MPP
        // `/$PSN.xml`), and "without a scheme TFTP is used, and without a
        // host the DHCP-supplied server" (docs/reference/vendors.md §3 and
        // §3.1, from the Cisco SPA100 and 7800 MPP admin guides); MPP also
        // reads 150, Cisco's TFTP list (§3.3). So with TFTP on: a bare
        // address in 66, the list in 150, and no URL in 160 that MPP reads
        // before 150.
        tftp_options: &[DhcpOption::TftpServerName, DhcpOption::TftpAddresses],
    },
};

/// Cisco SPA5xx and 78xx/88xx MPP 3PCC facts (docs/reference/vendors.md §3): common
/// `spa$PSN.cfg` / `$PSN.xml` / `$PSN-3PCC.xml` without secrets, then the
/// lowercase `$MA.xml` the common file's Profile_Rule_B points at.
const CISCO: Provisioning = Provisioning {
    files: &[
        FileRule {
            pattern: &[Part::Lit("spa"), Part::Digits(3), Part::Lit(".cfg")],
            kind: FileKind::Common,
            template: Some(template!("cisco/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("spa"), Part::Digits(3), Part::Lit("G.cfg")],
            kind: FileKind::Common,
            template: Some(template!("cisco/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("spa"), Part::Digits(3), Part::Lit("G2.cfg")],
            kind: FileKind::Common,
            template: Some(template!("cisco/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Digits(4), Part::Lit(".xml")],
            kind: FileKind::Common,
            template: Some(template!("cisco/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Digits(4), Part::Lit("-3PCC.xml")],
            kind: FileKind::Common,
            template: Some(template!("cisco/common.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit(".xml")],
            kind: FileKind::Main,
            template: Some(template!("cisco/mac.xml")),
            content_type: "application/xml; charset=utf-8",
        },
    ],
    user_agent: Some(cisco_user_agent),
    // SIP_Transport_N_ [src MPP guide].
    transports: &[
        (Transport::Udp, "UDP"),
        (Transport::Tcp, "TCP"),
        (Transport::Tls, "TLS"),
    ],
    // MPP Locale values (docs/reference/vendors.md §3.4); SPA ignores the element.
    languages: &[
        ("en-GB", "en-GB"),
        ("en", "en-US"),
        ("fr-CA", "fr-CA"),
        ("fr", "fr-FR"),
        ("de", "de-DE"),
        ("es", "es-ES"),
        ("it", "it-IT"),
        ("nl", "nl-NL"),
    ],
    timezone_names: &[],
    // Per-device credentials: --uid/--pwd in the Profile_Rule that moves the phone to HTTPS (§3 rule syntax).
    device_credentials: true,
    // The bootstrap loads our CA from the URL in Custom_CA_Rule (§3.5).
    ca_setting: Some("Custom_CA_Rule"),
    // Cisco names a phone `SEP<MAC>` in its certificates' subject CN
    // (`SEP805EC0123456`, docs/tls.md), so such a certificate is bound to it.
    cert_name_prefixes: &["SEP"],
    // Language_Selection names, sent beside Locale: the display language
    // takes a language name, not a locale (wazo-platform/wazo-provd-plugins
    // plugins/wazo_cisco_sip/v12_0_7/common.py `_LANGUAGE` and
    // common/templates/base.tpl; fusionpbx/fusionpbx
    // resources/templates/provision/cisco/8851/{$mac}.xml sends the element
    // too). Only the names those sources list; Italian and Dutch tags get no
    // Language_Selection (§3.4: non-English names may need a dictionary
    // server, Dictionary_Server_Script, on older firmware).
    display_languages: &[
        ("en", "English"),
        ("fr", "French"),
        ("de", "German"),
        ("es", "Spanish"),
    ],
    // Resync_Periodic: seconds, 0 switches periodic resync off, default 3600
    // (§3.4, Cisco MPP 7800/8800 admin guide). No other bound in our
    // sources: at least a minute (0 would mean off), and seconds inside 32
    // bits.
    recheck: Some(Recheck {
        setting: "<Resync_Periodic",
        unit_seconds: 1,
        minutes: (1, 71_582_788),
    }),
    // Web passwords: SPA5xx reads Admin_Passwd (the base.tpl that
    // wazo-platform/wazo-provd-plugins plugins/wazo-cisco-spa/7.5.5/templates/SPA50xG.tpl
    // extend; the code search found it without its path), 78xx/88xx MPP Admin_Password
    // (plugins/wazo-cisco-sip/11.3.1/templates/base.tpl); the template writes
    // both, on the assumption (unverified on hardware) that each firmware
    // skips the name it does not have. User_Password is the
    // same for both (and the MPP guide's "Bypass the Set Password Screen").
    admin_password_setting: Some("Admin_Passwd"),
    user_password_setting: Some("User_Password"),
    // §3.4 "firmware": Upgrade_Rule, with Upgrade_Enable.
    firmware: Some(FirmwareKeys {
        setting: "Upgrade_Rule",
        file: FileKind::Main,
    }),
    // Time_Zone is a choice from Cisco's list (GMT-12:00 ... GMT+14:00);
    // only its whole hours are taken here, and the rest of the offset rides
    // on Time_Offset (HH/mm), which the SPA/MPP admin guides describe as a
    // further offset added to Time_Zone. The rule's save= takes
    // [+|-]HH[:mm[:ss]] (SPA500 admin guide, Daylight Saving Time Rule).
    clock: Clock {
        listed_offsets: &TIME_ZONE_HOURS,
        dst_save_minutes: (1, 1440),
    },
    // Settings (docs/settings.md): `<Key ua="na">value</Key>` in the
    // flat-profile. Owned: the elements phone_templates/cisco/mac.xml
    // writes for the lines (`*_N_`), the profile rules, resync, the CA
    // rule and the web passwords (each cited there), and `Upgrade_Rule`
    // (Cisco SPA/MPP provisioning guide, firmware upgrade).
    settings: settings::SettingRules {
        syntax: settings::Syntax::Element,
        owned: &[
            "Password_*",
            "Auth_ID_*",
            "Use_Auth_ID_*",
            "User_ID_*",
            "Display_Name_*",
            "Line_Enable_*",
            "Proxy_*",
            "Outbound_Proxy_*",
            "Use_Outbound_Proxy_*",
            "SIP_Transport_*",
            "Use_DNS_SRV_*",
            "Profile_Rule*",
            "Resync_*",
            "Custom_CA_Rule",
            "Admin_Passwd",
            "Admin_Password",
            "User_Password",
            "Upgrade_Rule",
        ],
        fixed: &[],
    },
};

/// The whole-hour entries of Cisco's Time_Zone list, GMT-12:00 to
/// GMT+14:00, in minutes east of UTC (Cisco IP Phone 7800/8800
/// Multiplatform admin guide, Regional > Time; SPA500 admin guide). Every
/// release's list has these; the half- and quarter-hour entries vary, so a
/// zone like Asia/Kolkata gets GMT+05:00 plus a Time_Offset of 00/30.
const TIME_ZONE_HOURS: [i32; 27] = [
    -720, -660, -600, -540, -480, -420, -360, -300, -240, -180, -120, -60, 0, 60, 120, 180, 240,
    300, 360, 420, 480, 540, 600, 660, 720, 780, 840,
];

/// `Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)` (model `spa508g`),
/// `Cisco/SPA525G-7.4.7 (CBT141900G7)` (no MAC) and
/// `Cisco-CP-7832-3PCC/11.0.1 (00562b043615)` (model `7832`).
fn cisco_user_agent(ua: &str) -> Option<UaInfo> {
    let ua = ua.trim();
    let (product, rest) = ua.split_once(' ').unwrap_or((ua, ""));
    let (model, firmware) = if let Some(p) = product.strip_prefix("Cisco-CP-") {
        let (model, fw) = p.split_once('/')?;
        (model.strip_suffix("-3PCC").unwrap_or(model), fw)
    } else {
        let p = product.strip_prefix("Cisco/")?;
        p.split_once('-').unwrap_or((p, ""))
    };
    Some(UaInfo {
        model: clean_model(model),
        firmware: clean_firmware(firmware),
        mac: first_paren_mac(rest),
    })
}

fn clean_model(m: &str) -> Option<String> {
    let m = m.to_ascii_lowercase();
    (!m.is_empty() && m.len() <= 32 && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then_some(m)
}

fn clean_firmware(f: &str) -> Option<String> {
    (!f.is_empty()
        && f.len() <= 32
        && f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-()".contains(&b)))
    .then(|| f.to_string())
}

/// The MAC in the first `(…)` group, when it is 12 hex digits.
fn first_paren_mac(s: &str) -> Option<Mac> {
    let inner = s.trim_start().strip_prefix('(')?.split(')').next()?;
    (inner.len() == 12 && inner.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Mac::parse(inner).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cisco_user_agents() {
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
        for junk in ["Cisco/", "Cisco-CP-", "Cisco-CP-x", "Cisco/\u{fffd} (zz"] {
            if let Some((_, i)) = parse_user_agent(junk) {
                assert_eq!(i.mac, None, "{junk}");
            }
        }
    }

    #[test]
    fn cisco_files() {
        let c = by_id("cisco").unwrap();
        let m = mac("0004f2aabbcc");
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
    fn value_maps() {
        let c = by_id("cisco").unwrap();
        assert_eq!(c.transport_value(Transport::Tcp), Some("TCP"));
        assert_eq!(c.language_name("fr-CA"), Some("fr-CA"));
        assert_eq!(c.language_name("fr-BE"), Some("fr-FR"));
        // Language_Selection takes names, not locales.
        assert_eq!(c.display_language_name("fr-CA"), Some("French"));
        assert_eq!(c.display_language_name("de-AT"), Some("German"));
        assert_eq!(c.display_language_name("it"), None);
    }

    #[test]
    fn certificate_names_carry_sep() {
        let c = by_id("cisco").unwrap();
        assert_eq!(c.provisioning.cert_name_prefixes, ["SEP"]);
    }
}
