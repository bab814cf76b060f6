//! Snom: everything autoprov knows about the vendor, in one place.

use super::*;
use crate::domain::Transport;
use crate::domain::mac::Mac;

pub const VENDOR: Vendor = Vendor {
    id: "snom",
    aliases: &[],
    name: "Snom",
    ouis: &[[0x00, 0x04, 0x13], [0x00, 0x08, 0x7b]],
    provisioning: SNOM,
    // §5.3: class `snom<model>`; 66 = server, 67 = file name, in which
    // the phone expands `{phone_type}` (snomD785) and then also tries
    // the `-<MAC>` variant (§5.1).
    dhcp: Dhcp {
        classes: &[ClassMatch::Prefix("snom")],
        options: &[DhcpOption::ServerName, DhcpOption::BootFile],
        boot_file: Some("{phone_type}.htm"),
        option43: Option43::None,
    },
};

/// Snom facts (docs/reference/vendors.md §5): the phone fetches `snom<model>.htm` and
/// `snom<model>-<MAC>.htm` (MAC in UPPER case); both are XML `<settings>`.
const SNOM: Provisioning = Provisioning {
    files: &[
        FileRule {
            pattern: &[
                Part::Lit("snom"),
                Part::Model(16),
                Part::Lit("-"),
                Part::Mac(MacCase::Upper),
                Part::Lit(".htm"),
            ],
            kind: FileKind::Main,
            template: "snom/mac.htm",
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("snom"), Part::Model(16), Part::Lit(".htm")],
            kind: FileKind::Common,
            template: "snom/common.htm",
            content_type: "application/xml; charset=utf-8",
        },
    ],
    user_agent: Some(snom_user_agent),
    // The `transport=` parameter of user_outbound (§5.4).
    transports: &[
        (Transport::Udp, "udp"),
        (Transport::Tcp, "tcp"),
        (Transport::Tls, "tls"),
    ],
    // language / web_language names (§5.4, Wazo's map).
    languages: &[
        ("en", "English"),
        ("de", "Deutsch"),
        ("fr", "Français"),
        ("es", "Espanol"),
        ("it", "Italiano"),
        ("nl", "Nederlands"),
    ],
    // Snom's own `timezone` codes; only those docs/reference/vendors.md §5.4 names. A zone
    // without a row leaves the phone's timezone setting alone.
    timezone_names: &[
        ("America/New_York", "USA-5"),
        ("Europe/London", "GBR-0"),
        ("Europe/Berlin", "GER+1"),
        ("Europe/Paris", "FRA+1"),
        ("Europe/Rome", "ITA+1"),
    ],
    // Per-device credentials: http_client_user/http_client_pass (§5.4).
    device_credentials: true,
};

/// `Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5
/// 000413922D24 SXM:0 UXM:0)`; older firmware sends no MAC.
fn snom_user_agent(ua: &str) -> Option<UaInfo> {
    let tokens: Vec<&str> = ua
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';')
        .filter(|t| !t.is_empty())
        .take(32)
        .collect();
    let at = tokens.iter().position(|t| {
        t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("snom"))
            && t.len() > 8
            && t.get(t.len() - 4..)
                .is_some_and(|s| s.eq_ignore_ascii_case("-sip"))
    })?;
    let token = tokens[at];
    let model = token
        .get(4..token.len() - 4)
        .filter(|m| is_model(m))
        .map(str::to_ascii_lowercase);
    let firmware = tokens
        .get(at + 1)
        .filter(|f| is_firmware(f))
        .map(|f| f.to_string());
    let mac = tokens[at + 1..]
        .iter()
        .rev()
        .find(|t| t.len() == 12 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|m| Mac::parse(m).ok());
    Some(UaInfo {
        model,
        firmware,
        mac,
    })
}
