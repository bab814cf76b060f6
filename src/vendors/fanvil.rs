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
            template: "fanvil/mac.xml",
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("f0X4hw1.100.cfg")],
            kind: FileKind::Common,
            template: "fanvil/common.xml",
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("f0X3shw1.100.cfg")],
            kind: FileKind::Common,
            template: "fanvil/common.xml",
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("F0V00X600000.cfg")],
            kind: FileKind::Common,
            template: "fanvil/common.xml",
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("F0000X600000.cfg")],
            kind: FileKind::Common,
            template: "fanvil/common.xml",
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("F0V00X200000.cfg")],
            kind: FileKind::Common,
            template: "fanvil/common.xml",
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("f0C00620000.cfg")],
            kind: FileKind::Common,
            template: "fanvil/common.xml",
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
