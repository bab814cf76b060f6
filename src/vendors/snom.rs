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
            template: Some(template!("snom/mac.htm")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Lit("snom"), Part::Model(16), Part::Lit(".htm")],
            kind: FileKind::Common,
            template: Some(template!("snom/common.htm")),
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
    // The bootstrap carries our CA inline in the <certificates> section (§5.5).
    ca_setting: Some("certificates"),
    cert_name_prefixes: &[],
    // Without a code: utc_offset in seconds and dst as "<save seconds>
    // MM.WW.DD HH:MM:SS MM.WW.DD HH:MM:SS" (wazo-platform/wazo-provd-plugins
    // plugins/wazo-snom/common/common.py, _format_tzinfo).
    clock: Clock::ANY,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
