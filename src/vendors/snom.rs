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
        tftp_options: &[],
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
    // `timezone` codes (TIMEZONE_NAMES, §11).
    timezone_names: TIMEZONE_NAMES,
    // Per-device credentials: http_client_user/http_client_pass (§5.4).
    device_credentials: true,
    // The bootstrap carries our CA inline in the <certificates> section (§5.5).
    ca_setting: Some("certificates"),
    cert_name_prefixes: &[],
    display_languages: &[],
    // settings_refresh_timer: seconds, 0 = off (§5.4; Snom "Provisioning
    // Polling for desk phones" and the Gigaset/Snom wiki use 86400). No range
    // is documented: at least a minute, seconds inside 32 bits.
    recheck: Some(Recheck {
        setting: "<settings_refresh_timer",
        unit_seconds: 1,
        minutes: (1, 71_582_788),
    }),
    // Web passwords: admin_mode_password for the admin mode, http_user /
    // http_pass for the web login (wazo-platform/wazo-provd-plugins
    // plugins/wazo-snom/common/templates/base.tpl; fusionpbx's Snom PA1
    // template writes the same three).
    admin_password_setting: Some("admin_mode_password"),
    user_password_setting: Some("http_pass"),
    // §5.1 point 4: a direct firmware URL, with update_policy.
    firmware: Some(FirmwareKeys {
        setting: "firmware",
        file: FileKind::Main,
    }),
    // Without a code: utc_offset in seconds and dst as "<save seconds>
    // MM.WW.DD HH:MM:SS MM.WW.DD HH:MM:SS" (wazo-platform/wazo-provd-plugins
    // plugins/wazo-snom/common/common.py, _format_tzinfo).
    clock: Clock::ANY,
    // Settings (docs/settings.md): `<key perm="R">value</key>` in
    // phone-settings, no `idx` (indexed keys are not supported). Owned:
    // the identities (`user_*`), the provisioning server and its
    // credentials (`setting_server`, `http_client_*`,
    // `settings_refresh_timer`), the web passwords (`http_user`,
    // `http_pass`, `admin_mode_password`), all written and cited in
    // phone_templates/snom/mac.htm, and the firmware (`firmware*`,
    // `update_policy`: snom "Firmware update" wiki, the firmware_status
    // URL and its policy).
    settings: settings::SettingRules {
        syntax: settings::Syntax::Element,
        owned: &[
            "user_*",
            "http_*",
            "admin_mode_password*",
            "setting_server",
            "settings_refresh_timer",
            "firmware*",
            "update_policy",
        ],
        fixed: &[],
    },
};

/// Snom's `timezone` codes, each paired with the IANA zone of the place its
/// label names (or, for a region, a zone with the same rules).
///
/// Source: the timezone list of Snom's web UI as copied into
/// nethesis/nethvoice-wizard-ui
/// `wizard/app/scripts/services/provisioning/models/snomservice.js`
/// (`timezone_snom`: value, and the label that names the place). That list
/// is the current one (it has `COL-5`, `LTU+2`, `UAE+4`, and China and
/// Korea as `CHN+8`, `KOR+9`); older firmware listed `CHN+7` and `KOR+8`
/// for the same places (FreePBX endpointman's `endpointman_time_zones`).
/// The number in a code is Snom's standard offset; the phone keeps the DST
/// rules for each code itself.
///
/// Rows go west to east; within one set of zones with the same rules the
/// most common code comes first. Left out, because the code's offset is no
/// longer its place's (tzdb 2025b): `VEN-4.5`, `PRY-4`, `FLK-4`, `GRL-3`,
/// `BRA1-3` (Brazil with DST), `NAM+1`, `BLR+2`, `JOR+2`, `SYR+2`, `TUR+2`,
/// `KAZ+4` (Aqtau), `KGZ+5`, `KAZ+6` (Almaty, +5 since 2024). Left out as
/// meaningless: `CAI+1` ("Caicos") and `CHA+1` ("Chatam").
///
/// A zone without a row can still be set exactly: leave `timezone` empty
/// and write `utc_offset` (seconds east of UTC, signed: `+3600`) and `dst`
/// (`<DST seconds> <start> <end>`, each `MM.WW.DD HH:MM:SS` with week 1–5,
/// 5 the last, and day 1 Monday … 7 Sunday, or `DD.MM HH:MM:SS` for a
/// fixed date; empty for no DST). Source: wazo-platform/wazo-provd-plugins
/// `plugins/wazo-snom/common/common.py` (`_format_tzinfo`,
/// `_format_dst_change`), which writes exactly that for every zone.
const TIMEZONE_NAMES: &[(&str, &str)] = &[
    // "-10 United States - Hawaii-Aleutian" (and "Alaska-Aleutian", the same
    // code): Hawaii, the no-DST half.
    ("Pacific/Honolulu", "USA-10"),
    ("America/Anchorage", "USA-9"),
    ("America/Los_Angeles", "USA-8"),
    ("America/Vancouver", "CAN-8"),
    ("America/Tijuana", "MEX-8"),
    ("America/Denver", "USA-7"),
    ("America/Edmonton", "CAN-7"),
    ("America/Phoenix", "USA2-7"),
    // Mexico dropped DST in 2022; a firmware with the old table still applies it.
    ("America/Mazatlan", "MEX-7"),
    ("America/Chicago", "USA-6"),
    ("America/Winnipeg", "CAN-6"),
    ("America/Mexico_City", "MEX-6"),
    ("Pacific/Easter", "CHL-6"),
    ("America/New_York", "USA-5"),
    ("America/Toronto", "CAN-5"),
    ("America/Nassau", "BHS-5"),
    ("America/Havana", "CUB-5"),
    ("America/Bogota", "COL-5"),
    ("America/Halifax", "CAN-4"),
    ("Atlantic/Bermuda", "BMU-4"),
    ("America/Santiago", "CHL-4"),
    ("America/Port_of_Spain", "TTB-4"),
    ("America/St_Johns", "CAN-3.5"),
    ("America/Sao_Paulo", "BRA2-3"),
    ("America/Argentina/Buenos_Aires", "ARG-3"),
    ("America/Noronha", "BRA-2"),
    ("Atlantic/Azores", "PRT-1"),
    ("Europe/London", "GBR-0"),
    ("Europe/Dublin", "IRL-0"),
    ("Europe/Lisbon", "PRT-0"),
    ("Atlantic/Canary", "ESP-0"),
    ("Atlantic/Faroe", "FRO-0"),
    ("Europe/Berlin", "GER+1"),
    ("Europe/Paris", "FRA+1"),
    ("Europe/Rome", "ITA+1"),
    ("Europe/Madrid", "ESP+1"),
    ("Europe/Amsterdam", "NLD+1"),
    ("Europe/Brussels", "BEL+1"),
    ("Europe/Vienna", "AUT+1"),
    ("Europe/Zurich", "CHE+1"),
    ("Europe/Stockholm", "SWE+1"),
    ("Europe/Oslo", "NOR+1"),
    ("Europe/Copenhagen", "DNK+1"),
    ("Europe/Warsaw", "POL+1"),
    ("Europe/Prague", "CZE+1"),
    ("Europe/Bratislava", "SVK+1"),
    ("Europe/Budapest", "HUN+1"),
    ("Europe/Luxembourg", "LUX+1"),
    ("Europe/Zagreb", "HRV+1"),
    ("Europe/Belgrade", "YUG+1"),
    ("Europe/Skopje", "MAK+1"),
    ("Europe/Tirane", "ALB+1"),
    ("Europe/Gibraltar", "GIB+1"),
    ("Africa/Lagos", "WAT+1"),
    ("Europe/Athens", "GRC+2"),
    ("Europe/Helsinki", "FIN+2"),
    ("Europe/Tallinn", "EST+2"),
    ("Europe/Riga", "LVA+2"),
    ("Europe/Vilnius", "LTU+2"),
    ("Europe/Bucharest", "ROU+2"),
    ("Europe/Sofia", "BGR+2"),
    ("Europe/Kyiv", "UKR+2"),
    ("Asia/Nicosia", "CYP+2"),
    ("Europe/Chisinau", "MDA+2"),
    ("Asia/Jerusalem", "ISR+2"),
    ("Asia/Gaza", "GAZ+2"),
    ("Asia/Beirut", "LBN+2"),
    // Egypt brought DST back in 2023; a firmware with the old table may not have it.
    ("Africa/Cairo", "EGY+2"),
    ("Europe/Kaliningrad", "RUS+2"),
    ("Africa/Maputo", "CAT+2"),
    ("Europe/Moscow", "RUS+3"),
    ("Asia/Baghdad", "IRQ+3"),
    ("Africa/Nairobi", "EAT+3"),
    // Iran dropped DST in 2022; a firmware with the old table still applies it.
    ("Asia/Tehran", "IRN+3.5"),
    ("Asia/Dubai", "UAE+4"),
    ("Asia/Yerevan", "ARM+4"),
    ("Asia/Baku", "AZE+4"),
    ("Asia/Tbilisi", "GEO+4"),
    ("Europe/Samara", "RUS+4"),
    ("Asia/Karachi", "PAK+5"),
    // "Russia (Chelyabinsk)": Chelyabinsk keeps Yekaterinburg's time.
    ("Asia/Yekaterinburg", "RUS+5"),
    ("Asia/Aqtobe", "KAZ+5"),
    ("Asia/Kolkata", "IND+5.5"),
    // "Russia (Novosibirsk, Omsk)": Novosibirsk left +6 in 2016, Omsk did not.
    ("Asia/Omsk", "RUS+6"),
    ("Asia/Bangkok", "THA+7"),
    ("Asia/Krasnoyarsk", "RUS+7"),
    ("Asia/Shanghai", "CHN+8"),
    ("Asia/Singapore", "SGP+8"),
    ("Australia/Perth", "AUS+8"),
    ("Asia/Tokyo", "JPN+9"),
    ("Asia/Seoul", "KOR+9"),
    ("Australia/Adelaide", "AUS+9.5"),
    ("Australia/Darwin", "AUS2+9.5"),
    ("Australia/Sydney", "AUS+10"),
    ("Australia/Brisbane", "AUS2+10"),
    ("Australia/Hobart", "AUS3+10"),
    ("Asia/Vladivostok", "RUS+10"),
    ("Australia/Lord_Howe", "AUS+10.5"),
    ("Pacific/Noumea", "NCL+11"),
    ("Pacific/Auckland", "NZL+12"),
    ("Asia/Kamchatka", "RUS+12"),
    ("Pacific/Chatham", "NZL+12.75"),
    ("Pacific/Tongatapu", "TON+13"),
];

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

    /// The offset in a Snom code (`IND+5.5`, `USA2-7`), in seconds east of UTC.
    fn snom_offset(code: &str) -> i32 {
        let at = code
            .find(['+', '-'])
            .unwrap_or_else(|| panic!("{code}: no offset"));
        let hours: f64 = code[at..].parse().unwrap_or_else(|e| panic!("{code}: {e}"));
        (hours * 3600.0).round() as i32
    }

    #[test]
    fn timezone_codes_are_snoms_and_match_their_zones() {
        super::super::yealink::zone_check::assert_current_zones(
            TIMEZONE_NAMES.iter().map(|(zone, _)| *zone),
        );
        let mut codes = std::collections::HashSet::new();
        for (zone, code) in TIMEZONE_NAMES {
            assert!(codes.insert(code), "{code} has two rows");
            let prefix = &code[..code.find(['+', '-']).unwrap_or(0)];
            assert!(
                prefix.len() >= 3
                    && prefix
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                "{code}: not a Snom code"
            );
            assert_eq!(
                snom_offset(code),
                super::super::yealink::zone_check::standard_offset(zone),
                "{code} is not {zone}'s standard offset"
            );
        }
        assert_eq!(snom_offset("NZL+12.75"), 45_900);
        assert_eq!(snom_offset("CAN-3.5"), -12_600);
        assert_eq!(snom_offset("GBR-0"), 0);
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
        assert_eq!(s.timezone_name("Asia/Kolkata"), Some("IND+5.5"));
        assert_eq!(s.language_name("de-AT"), Some("Deutsch"));
        assert_eq!(s.transport_value(Transport::Tls), Some("tls"));
    }
}
