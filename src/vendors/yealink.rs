//! Yealink: everything autoprov knows about the vendor, in one place.

use super::*;
use crate::domain::Transport;
use crate::domain::mac::Mac;

pub const VENDOR: Vendor = Vendor {
    id: "yealink",
    aliases: &[],
    name: "Yealink",
    provisioning: YEALINK,
    ouis: &[
        [0x00, 0x15, 0x65],
        [0xe4, 0x34, 0xd7],
        [0x80, 0x5e, 0xc0],
        [0x80, 0x5e, 0x0c],
        [0x24, 0x9a, 0xd8],
        [0x44, 0xdb, 0xd2],
        [0x64, 0x4f, 0x56],
        [0xec, 0x1d, 0xa9],
        [0x34, 0x97, 0xd7],
        [0xb0, 0x61, 0xa9],
        [0xc4, 0xfc, 0x22],
        [0xf0, 0x16, 0x53],
    ],
    // §1.3: class `yealink` [k]; option 66 with a full URL. 43 is ACS
    // information on Yealink, so it is not sent.
    dhcp: Dhcp {
        classes: &[ClassMatch::Prefix("yealink")],
        options: &[DhcpOption::ServerName],
        boot_file: None,
        option43: Option43::None,
    },
};

/// Yealink facts (docs/reference/vendors.md §1): boot files, common `y0000000000XX.cfg`
/// named after the firmware's first field, lowercase `<mac>.cfg`.
const YEALINK: Provisioning = Provisioning {
    files: &[
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit(".boot")],
            kind: FileKind::PerMac,
            template: Some(template!("yealink/boot")),
            content_type: "text/plain; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("y000000000000.boot")],
            kind: FileKind::Common,
            template: Some(template!("yealink/boot")),
            content_type: "text/plain; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("y"), Part::Digits(12), Part::Lit(".cfg")],
            kind: FileKind::Common,
            template: Some(template!("yealink/common.cfg")),
            content_type: "text/plain; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit(".cfg")],
            kind: FileKind::Main,
            template: Some(template!("yealink/mac.cfg")),
            content_type: "text/plain; charset=utf-8",
        },
    ],
    user_agent: Some(yealink_user_agent),
    // account.N.sip_server.M.transport_type [2src].
    transports: &[
        (Transport::Udp, "0"),
        (Transport::Tcp, "1"),
        (Transport::Tls, "2"),
    ],
    // lang.gui / lang.wui names from docs/reference/vendors.md §1.4 (Wazo's map).
    languages: &[
        ("en", "English"),
        ("fr", "French"),
        ("de", "German"),
        ("it", "Italian"),
        ("es", "Spanish"),
    ],
    // local_time.time_zone_name: France(Paris) from docs/reference/vendors.md §1.4 [k];
    // Pakistan(Islamabad) and India(Calcutta) from the Yealink admin
    // guide's AutoDST section. Add rows only from Yealink's own list.
    timezone_names: &[
        ("Europe/Paris", "France(Paris)"),
        ("Asia/Karachi", "Pakistan(Islamabad)"),
        ("Asia/Kolkata", "India(Calcutta)"),
    ],
    // Per-device credentials: static.auto_provision.server.username/password (§1.4).
    device_credentials: true,
    // The bootstrap loads our CA from static.trusted_certificates.url (§1.5).
    ca_setting: Some("static.trusted_certificates.url"),
    cert_name_prefixes: &[],
    // Manual DST: local_time.offset_time takes -300..300 minutes (Yealink
    // SIP-T2/T4/T5 admin guide, Auto DST file attributes, szOffset); the
    // offset (local_time.time_zone, "+5:30") any [+/-]h:mm up to 14 hours
    // (same table, szTime).
    clock: Clock {
        listed_offsets: &[],
        dst_save_minutes: (1, 300),
    },
};

/// `Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56`, `Yealink SIP VP-T49G …`,
/// `Yealink W52P …`, and the MAC-less `Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0`.
fn yealink_user_agent(ua: &str) -> Option<UaInfo> {
    let lower = ua.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("yealink")?;
    let rest = match rest.as_bytes().first() {
        Some(b' ') | Some(b'\t') => rest,
        Some(b'-') => &rest[1..],
        _ => return None,
    };
    let mut tokens = rest.split_whitespace().peekable();
    if tokens.peek() == Some(&"sip") {
        tokens.next();
    }
    let model = tokens
        .next()
        .map(|m| m.strip_prefix("sip-").unwrap_or(m))
        .filter(|m| {
            !m.is_empty()
                && m.len() <= 32
                && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string);
    let firmware = tokens
        .next()
        .filter(|f| {
            f.len() <= 32 && f.contains('.') && f.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
        .map(str::to_string);
    let mac = tokens
        .next()
        .filter(|m| m.len() == 17)
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
    fn value_maps() {
        let y = by_id("yealink").unwrap();
        assert_eq!(y.transport_value(Transport::Tls), Some("2"));
        assert_eq!(y.language_name("fr-CA"), Some("French"));
        assert_eq!(y.language_name("de-DE"), Some("German"));
        assert_eq!(y.language_name("ja-JP"), None);
        assert_eq!(y.timezone_name("Europe/Paris"), Some("France(Paris)"));
    }
}
