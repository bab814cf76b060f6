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
        tftp_options: &[],
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
    // local_time.time_zone_name: Yealink's own names (TIMEZONE_NAMES, §11).
    timezone_names: TIMEZONE_NAMES,
    // Per-device credentials: static.auto_provision.server.username/password (§1.4).
    device_credentials: true,
    // The bootstrap loads our CA from static.trusted_certificates.url (§1.5).
    ca_setting: Some("static.trusted_certificates.url"),
    cert_name_prefixes: &[],
    display_languages: &[],
    // static.auto_provision.repeat.minutes: minutes, 1 to 43200 (Yealink
    // admin guide for T2/T4/T5/CP920 phones, "Permitted Values" of the
    // parameter [k]: not re-read against the guide for this change).
    recheck: Some(Recheck {
        setting: "static.auto_provision.repeat.minutes =",
        unit_seconds: 60,
        minutes: (1, 43_200),
    }),
    // Web passwords: `static.security.user_password = <account>:<password>`,
    // one line per account, `admin` and `user` (wazo-platform/wazo-provd-plugins
    // plugins/wazo_yealink/v87/templates/W90B.tpl; xivo-yealink 20.0
    // templates/common/model.tpl writes the same pairs without `static.`).
    admin_password_setting: Some("static.security.user_password = admin:"),
    user_password_setting: Some("static.security.user_password = user:"),
    // §1.4 "firmware": the .rom URL, read from the per-phone <mac>.cfg as from the common file.
    firmware: Some(FirmwareKeys {
        setting: "static.firmware.url",
        file: FileKind::Main,
    }),
    // Manual DST: local_time.offset_time takes -300..300 minutes (Yealink
    // SIP-T2/T4/T5 admin guide, Auto DST file attributes, szOffset); the
    // offset (local_time.time_zone, "+5:30") any [+/-]h:mm up to 14 hours
    // (same table, szTime).
    clock: Clock {
        listed_offsets: &[],
        dst_save_minutes: (1, 300),
    },
    // Settings (docs/settings.md): `key = value` lines. Owned: the keys
    // phone_templates/yealink/mac.cfg writes for the SIP accounts, the
    // provisioning server and its credentials, the CA and the web
    // passwords (each cited there), and the firmware URL
    // (`static.firmware.url`, Yealink T4x/T5x admin guide, "Firmware
    // upgrade"). Clock, language and line keys are not owned: a setting
    // replaces the template's line (keep_last).
    settings: settings::SettingRules {
        syntax: settings::Syntax::Lines,
        owned: &[
            "account.*.password",
            "account.*.auth_name",
            "account.*.user_name",
            "account.*.enable",
            "account.*.sip_server.*",
            "account.*.outbound_proxy*",
            "account.*.srtp_encryption",
            "account.*.display_name",
            "account.*.label",
            "static.auto_provision.*",
            "static.trusted_certificates.*",
            "static.security.*",
            "static.firmware.*",
        ],
        fixed: &[],
    },
};

/// `local_time.time_zone_name` values, each paired with the IANA zone of the
/// city it names (or, for a region, a zone with the same rules).
///
/// Source: the time zone table of Yealink's admin guides ("Time Zones",
/// SIP-T2/T4/T5/CP920 Administrator's Guide), as copied into
/// nethesis/nethvoice-wizard-ui
/// `wizard/app/scripts/services/provisioning/models/yealinkservice.js`
/// (`timezone_yealink`). Spellings are Yealink's, typos included
/// (`Denmark(Kopenhagen)`, `Iran(Teheran)`, `Nepal(Katmandu)`); that copy's
/// `Australia(Sydney,Melboume,Canberra)` is taken as a transcription slip
/// for `Melbourne`, which every other copy has. The phone's own offset for
/// each name is in the tests (`YEALINK_OFFSETS`).
///
/// Rows go west to east; within one set of zones with the same rules the
/// most common name comes first. Left out, because the name's offset is no
/// longer its city's (tzdb 2025b): Venezuela(Caracas) −4:30,
/// Paraguay(Asuncion) −4, United Kingdom(Falkland Islands) −4,
/// Denmark-Greenland(Nuuk) −3, Brazil(DST) −3, Morocco 0,
/// Namibia(Windhoek) +1, Jordan(Amman) +2, Syria(Damascus) +2,
/// Turkey(Ankara) +2, Kazakhstan(Aktau) +4, Kyrgyzstan(Bishkek) +5,
/// Kazakhstan(Astana, Almaty) +6, Norfolk Island +11:30. Left out as
/// meaningless: "Newfoundland and Labrador" −2:30, "Caicos" +1,
/// "Chatham Islands" +13:30. Left out for a spelling the copies disagree on
/// (`United Kingdom-Bermuda(Bermuda)` / `United Kingdom(Bernuda)`); Halifax
/// has Bermuda's rules.
///
/// The DST rules behind each name live in the phone's AutoDST table, not
/// here: where a country has since dropped DST (Mexico 2022, Iran 2022) a
/// firmware with the old table still applies it, and the manual DST keys
/// (§1.4) are the way round that.
const TIMEZONE_NAMES: &[(&str, &str)] = &[
    ("Pacific/Pago_Pago", "Samoa"),
    ("Pacific/Honolulu", "United States-Hawaii-Aleutian"),
    ("America/Adak", "United States-Alaska-Aleutian"),
    ("Pacific/Marquesas", "French Polynesia"),
    ("America/Anchorage", "United States-Alaska Time"),
    ("America/Los_Angeles", "United States-Pacific Time"),
    ("America/Vancouver", "Canada(Vancouver,Whitehorse)"),
    ("America/Tijuana", "Mexico(Tijuana,Mexicali)"),
    ("America/Denver", "United States-Mountain Time"),
    ("America/Edmonton", "Canada(Edmonton,Calgary)"),
    ("America/Phoenix", "United States-MST no DST"),
    ("America/Mazatlan", "Mexico(Mazatlan,Chihuahua)"),
    ("America/Chicago", "United States-Central Time"),
    ("America/Winnipeg", "Canada-Manitoba(Winnipeg)"),
    ("America/Mexico_City", "Mexico(Mexico City,Acapulco)"),
    ("Pacific/Easter", "Chile(Easter Islands)"),
    ("America/New_York", "United States-Eastern Time"),
    ("America/Toronto", "Canada(Montreal,Ottawa,Quebec)"),
    ("America/Nassau", "Bahamas(Nassau)"),
    ("America/Havana", "Cuba(Havana)"),
    ("America/Halifax", "Canada(Halifax,Saint John)"),
    ("America/Santiago", "Chile(Santiago)"),
    ("America/Port_of_Spain", "Trinidad&Tobago"),
    ("America/St_Johns", "Canada-New Foundland(St.Johns)"),
    // The same name twice, at −3 and at −2: the phone tells them apart by
    // `local_time.time_zone`.
    ("America/Sao_Paulo", "Brazil(no DST)"),
    ("America/Argentina/Buenos_Aires", "Argentina(Buenos Aires)"),
    ("America/Noronha", "Brazil(no DST)"),
    ("Atlantic/Azores", "Portugal(Azores)"),
    ("Europe/London", "United Kingdom(London)"),
    ("Europe/Dublin", "Ireland(Dublin)"),
    ("Europe/Lisbon", "Portugal(Lisboa,Porto,Funchal)"),
    ("Atlantic/Canary", "Spain-Canary Islands(Las Palmas)"),
    ("Atlantic/Faroe", "Denmark-Faroe Islands(Torshavn)"),
    ("Etc/UTC", "GMT"),
    // Greenland at 0 is Danmarkshavn, the one part of it without DST.
    ("America/Danmarkshavn", "Greenland"),
    ("Europe/Berlin", "Germany(Berlin)"),
    ("Europe/Paris", "France(Paris)"),
    ("Europe/Rome", "Italy(Rome)"),
    ("Europe/Madrid", "Spain(Madrid)"),
    ("Europe/Amsterdam", "Netherlands(Amsterdam)"),
    ("Europe/Brussels", "Belgium(Brussels)"),
    ("Europe/Vienna", "Austria(Vienna)"),
    ("Europe/Prague", "Czech Republic(Prague)"),
    ("Europe/Budapest", "Hungary(Budapest)"),
    ("Europe/Copenhagen", "Denmark(Kopenhagen)"),
    ("Europe/Luxembourg", "Luxembourg(Luxembourg)"),
    ("Europe/Zagreb", "Croatia(Zagreb)"),
    ("Europe/Skopje", "Macedonia(Skopje)"),
    ("Europe/Tirane", "Albania(Tirane)"),
    ("Africa/Ndjamena", "Chad"),
    ("Europe/Athens", "Greece(Athens)"),
    ("Europe/Helsinki", "Finland(Helsinki)"),
    ("Europe/Tallinn", "Estonia(Tallinn)"),
    ("Europe/Riga", "Latvia(Riga)"),
    ("Europe/Bucharest", "Romania(Bucharest)"),
    ("Europe/Kyiv", "Ukraine(Kyiv, Odessa)"),
    ("Europe/Chisinau", "Moldova(Kishinev)"),
    ("Asia/Jerusalem", "Israel(Tel Aviv)"),
    ("Asia/Gaza", "Gaza Strip(Gaza)"),
    ("Asia/Beirut", "Lebanon(Beirut)"),
    ("Europe/Kaliningrad", "Russia(Kaliningrad)"),
    ("Europe/Moscow", "Russia(Moscow)"),
    ("Asia/Baghdad", "Iraq(Baghdad)"),
    ("Africa/Nairobi", "East Africa Time"),
    ("Asia/Tehran", "Iran(Teheran)"),
    ("Asia/Yerevan", "Armenia(Yerevan)"),
    ("Asia/Baku", "Azerbaijan(Baku)"),
    ("Asia/Tbilisi", "Georgia(Tbilisi)"),
    ("Europe/Samara", "Russia(Samara)"),
    ("Asia/Kabul", "Afghanistan(Kabul)"),
    ("Asia/Karachi", "Pakistan(Islamabad)"),
    ("Asia/Yekaterinburg", "Russia(Chelyabinsk)"),
    ("Asia/Aqtobe", "Kazakhstan(Aqtobe)"),
    ("Asia/Kolkata", "India(Calcutta)"),
    ("Asia/Kathmandu", "Nepal(Katmandu)"),
    // Novosibirsk left +6 in 2016; Omsk is still there.
    ("Asia/Omsk", "Russia(Novosibirsk,Omsk)"),
    ("Asia/Yangon", "Myanmar(Naypyitaw)"),
    ("Asia/Bangkok", "Thailand(Bangkok)"),
    ("Asia/Krasnoyarsk", "Russia(Krasnoyarsk)"),
    ("Asia/Shanghai", "China(Beijing)"),
    ("Asia/Singapore", "Singapore(Singapore)"),
    ("Australia/Perth", "Australia(Perth)"),
    ("Asia/Irkutsk", "Russia(Irkutsk, Ulan-Ude)"),
    ("Australia/Eucla", "Eucla"),
    ("Asia/Tokyo", "Japan(Tokyo)"),
    ("Asia/Seoul", "Korea(Seoul)"),
    ("Asia/Yakutsk", "Russia(Yakutsk,Chita)"),
    ("Australia/Adelaide", "Australia(Adelaide)"),
    ("Australia/Darwin", "Australia(Darwin)"),
    ("Australia/Sydney", "Australia(Sydney,Melbourne,Canberra)"),
    ("Australia/Brisbane", "Australia(Brisbane)"),
    ("Australia/Hobart", "Australia(Hobart)"),
    ("Asia/Vladivostok", "Russia(Vladivostok)"),
    ("Australia/Lord_Howe", "Australia(Lord Howe Islands)"),
    ("Pacific/Noumea", "New Caledonia(Noumea)"),
    ("Asia/Srednekolymsk", "Russia(Srednekolymsk Time)"),
    ("Pacific/Auckland", "New Zealand(Wellington,Auckland)"),
    ("Asia/Kamchatka", "Russia(Kamchatka Time)"),
    ("Pacific/Chatham", "New Zealand(Chatham Islands)"),
    ("Pacific/Tongatapu", "Tonga(Nukualofa)"),
    ("Pacific/Kiritimati", "Kiribati"),
];

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

/// Checks the vendor zone lists (Yealink, Snom, Grandstream) share: each
/// row's IANA zone is a current name and has a known standard offset.
#[cfg(test)]
pub(super) mod zone_check {
    use chrono::{NaiveDate, Offset, TimeZone};
    use chrono_tz::Tz;
    use std::collections::HashSet;

    /// tzdb's list of zones by country region. It names the zone users pick
    /// for a place (Europe/Kyiv, Europe/Amsterdam) and leaves out tzdb's
    /// old aliases (Asia/Calcutta, Europe/Kiev), which chrono-tz also parses.
    const ZONE_TAB: &str = "/usr/share/zoneinfo/zone.tab";

    /// Panics unless every zone parses as a `chrono_tz::Tz`, appears once,
    /// and is in zone.tab or under Etc/. Without a zone.tab on the machine
    /// only the first two are checked, and the test says so.
    pub fn assert_current_zones<'a>(zones: impl Iterator<Item = &'a str>) {
        let tab = std::fs::read_to_string(ZONE_TAB);
        let current: Option<HashSet<&str>> = tab.as_ref().ok().map(|t| {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split('\t').nth(2))
                .collect()
        });
        if let Err(e) = &tab {
            eprintln!("{ZONE_TAB}: {e}; zone names checked against chrono-tz only");
        }
        let mut seen = HashSet::new();
        for zone in zones {
            assert!(zone.parse::<Tz>().is_ok(), "{zone} is not a tzdb zone");
            assert!(seen.insert(zone), "{zone} has two rows");
            if let Some(current) = &current {
                assert!(
                    zone.starts_with("Etc/") || current.contains(zone),
                    "{zone} is an alias, not a zone.tab name"
                );
            }
        }
    }

    /// The zone's standard offset in 2026–2027, in seconds east of UTC: the
    /// smallest offset it takes (DST only ever adds, which also reads
    /// Dublin's winter time right).
    pub fn standard_offset(zone: &str) -> i32 {
        let tz: Tz = zone.parse().unwrap_or_else(|e| panic!("{zone}: {e}"));
        (2026..=2027)
            .flat_map(|year| (1..=12).map(move |month| (year, month)))
            .filter_map(|(year, month)| NaiveDate::from_ymd_opt(year, month, 15))
            .filter_map(|day| day.and_hms_opt(12, 0, 0))
            .map(|noon| tz.offset_from_utc_datetime(&noon).fix().local_minus_utc())
            .min()
            .unwrap_or_else(|| panic!("{zone}: no offsets"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yealink's own offset (`local_time.time_zone`) for each name, from the
    /// same table as TIMEZONE_NAMES (the `text` beside each `value` in
    /// nethesis/nethvoice-wizard-ui yealinkservice.js, e.g. "+5:30 India(Calcutta)").
    const YEALINK_OFFSETS: &[(&str, &str)] = &[
        ("Samoa", "-11"),
        ("United States-Hawaii-Aleutian", "-10"),
        ("United States-Alaska-Aleutian", "-10"),
        ("French Polynesia", "-9:30"),
        ("United States-Alaska Time", "-9"),
        ("Canada(Vancouver,Whitehorse)", "-8"),
        ("Mexico(Tijuana,Mexicali)", "-8"),
        ("United States-Pacific Time", "-8"),
        ("Canada(Edmonton,Calgary)", "-7"),
        ("Mexico(Mazatlan,Chihuahua)", "-7"),
        ("United States-MST no DST", "-7"),
        ("United States-Mountain Time", "-7"),
        ("Canada-Manitoba(Winnipeg)", "-6"),
        ("Chile(Easter Islands)", "-6"),
        ("Mexico(Mexico City,Acapulco)", "-6"),
        ("United States-Central Time", "-6"),
        ("Bahamas(Nassau)", "-5"),
        ("Canada(Montreal,Ottawa,Quebec)", "-5"),
        ("Cuba(Havana)", "-5"),
        ("United States-Eastern Time", "-5"),
        ("Canada(Halifax,Saint John)", "-4"),
        ("Chile(Santiago)", "-4"),
        ("Trinidad&Tobago", "-4"),
        ("Canada-New Foundland(St.Johns)", "-3:30"),
        ("Argentina(Buenos Aires)", "-3"),
        ("Brazil(no DST)", "-3"),
        ("Brazil(no DST)", "-2"),
        ("Portugal(Azores)", "-1"),
        ("Denmark-Faroe Islands(Torshavn)", "0"),
        ("GMT", "0"),
        ("Greenland", "0"),
        ("Ireland(Dublin)", "0"),
        ("Portugal(Lisboa,Porto,Funchal)", "0"),
        ("Spain-Canary Islands(Las Palmas)", "0"),
        ("United Kingdom(London)", "0"),
        ("Albania(Tirane)", "+1"),
        ("Austria(Vienna)", "+1"),
        ("Belgium(Brussels)", "+1"),
        ("Chad", "+1"),
        ("Croatia(Zagreb)", "+1"),
        ("Czech Republic(Prague)", "+1"),
        ("Denmark(Kopenhagen)", "+1"),
        ("France(Paris)", "+1"),
        ("Germany(Berlin)", "+1"),
        ("Hungary(Budapest)", "+1"),
        ("Italy(Rome)", "+1"),
        ("Luxembourg(Luxembourg)", "+1"),
        ("Macedonia(Skopje)", "+1"),
        ("Netherlands(Amsterdam)", "+1"),
        ("Spain(Madrid)", "+1"),
        ("Estonia(Tallinn)", "+2"),
        ("Finland(Helsinki)", "+2"),
        ("Gaza Strip(Gaza)", "+2"),
        ("Greece(Athens)", "+2"),
        ("Israel(Tel Aviv)", "+2"),
        ("Latvia(Riga)", "+2"),
        ("Lebanon(Beirut)", "+2"),
        ("Moldova(Kishinev)", "+2"),
        ("Romania(Bucharest)", "+2"),
        ("Russia(Kaliningrad)", "+2"),
        ("Ukraine(Kyiv, Odessa)", "+2"),
        ("East Africa Time", "+3"),
        ("Iraq(Baghdad)", "+3"),
        ("Russia(Moscow)", "+3"),
        ("Iran(Teheran)", "+3:30"),
        ("Armenia(Yerevan)", "+4"),
        ("Azerbaijan(Baku)", "+4"),
        ("Georgia(Tbilisi)", "+4"),
        ("Russia(Samara)", "+4"),
        ("Afghanistan(Kabul)", "+4:30"),
        ("Kazakhstan(Aqtobe)", "+5"),
        ("Pakistan(Islamabad)", "+5"),
        ("Russia(Chelyabinsk)", "+5"),
        ("India(Calcutta)", "+5:30"),
        ("Nepal(Katmandu)", "+5:45"),
        ("Russia(Novosibirsk,Omsk)", "+6"),
        ("Myanmar(Naypyitaw)", "+6:30"),
        ("Russia(Krasnoyarsk)", "+7"),
        ("Thailand(Bangkok)", "+7"),
        ("Australia(Perth)", "+8"),
        ("China(Beijing)", "+8"),
        ("Russia(Irkutsk, Ulan-Ude)", "+8"),
        ("Singapore(Singapore)", "+8"),
        ("Eucla", "+8:45"),
        ("Japan(Tokyo)", "+9"),
        ("Korea(Seoul)", "+9"),
        ("Russia(Yakutsk,Chita)", "+9"),
        ("Australia(Adelaide)", "+9:30"),
        ("Australia(Darwin)", "+9:30"),
        ("Australia(Brisbane)", "+10"),
        ("Australia(Hobart)", "+10"),
        ("Australia(Sydney,Melbourne,Canberra)", "+10"),
        ("Russia(Vladivostok)", "+10"),
        ("Australia(Lord Howe Islands)", "+10:30"),
        ("New Caledonia(Noumea)", "+11"),
        ("Russia(Srednekolymsk Time)", "+11"),
        ("New Zealand(Wellington,Auckland)", "+12"),
        ("Russia(Kamchatka Time)", "+12"),
        ("New Zealand(Chatham Islands)", "+12:45"),
        ("Tonga(Nukualofa)", "+13"),
        ("Kiribati", "+14"),
    ];

    /// Yealink's `±h[:mm]` as seconds east of UTC.
    fn yealink_offset(text: &str) -> i32 {
        let (sign, rest) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.trim_start_matches('+')),
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let (h, m): (i32, i32) = (h.parse().unwrap(), m.parse().unwrap());
        sign * (h * 3600 + m * 60)
    }

    #[test]
    fn timezone_names_are_yealinks_and_match_their_zones() {
        zone_check::assert_current_zones(TIMEZONE_NAMES.iter().map(|(zone, _)| *zone));
        for (zone, name) in TIMEZONE_NAMES {
            let offsets: Vec<i32> = YEALINK_OFFSETS
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, o)| yealink_offset(o))
                .collect();
            assert!(!offsets.is_empty(), "{name:?} is not in Yealink's table");
            let standard = zone_check::standard_offset(zone);
            assert!(
                offsets.contains(&standard),
                "{name:?} is at {offsets:?} s, {zone} at {standard} s"
            );
        }
        // A name names one zone, unless the phone's offset tells its rows
        // apart (Brazil(no DST) at −3 and −2).
        for (i, (zone, name)) in TIMEZONE_NAMES.iter().enumerate() {
            for (other, _) in TIMEZONE_NAMES[i + 1..].iter().filter(|(_, n)| n == name) {
                assert_ne!(
                    zone_check::standard_offset(zone),
                    zone_check::standard_offset(other),
                    "{name:?} is both {zone} and {other}"
                );
            }
        }
        assert_eq!(
            TIMEZONE_NAMES
                .iter()
                .map(|(_, n)| *n)
                .collect::<std::collections::HashSet<_>>()
                .len(),
            TIMEZONE_NAMES.len() - 1,
            "only Brazil(no DST) repeats"
        );
    }

    #[test]
    fn the_offset_parser_reads_yealinks_forms() {
        assert_eq!(yealink_offset("+5:30"), 19_800);
        assert_eq!(yealink_offset("-3:30"), -12_600);
        assert_eq!(yealink_offset("0"), 0);
        assert_eq!(yealink_offset("-11"), -39_600);
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
    fn value_maps() {
        let y = by_id("yealink").unwrap();
        assert_eq!(y.transport_value(Transport::Tls), Some("2"));
        assert_eq!(y.language_name("fr-CA"), Some("French"));
        assert_eq!(y.language_name("de-DE"), Some("German"));
        assert_eq!(y.language_name("ja-JP"), None);
        assert_eq!(y.timezone_name("Europe/Paris"), Some("France(Paris)"));
        assert_eq!(
            y.timezone_name("America/New_York"),
            Some("United States-Eastern Time")
        );
        // An old alias has no row of its own but keeps Kolkata's clock.
        assert_eq!(y.timezone_name("Asia/Calcutta"), Some("India(Calcutta)"));
    }
}
