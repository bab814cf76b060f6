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
    // P64 takes a POSIX TZ string built from the zone, not a name.
    timezone_names: &[],
    // Per-device credentials: P1360/P1361, "Config HTTP/HTTPS User Name/Password".
    device_credentials: true,
    // Custom CAs can be provisioned, but no source names the P-code (§4.5).
    ca_setting: None,
    cert_name_prefixes: &[],
    // P246 takes any POSIX TZ string (Grandstream config template: "Self
    // Defined Time zone", at most 64 characters).
    clock: Clock::ANY,
};

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
}
