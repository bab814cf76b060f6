//! Polycom: everything autoprov knows about the vendor, in one place.

use super::*;
use crate::domain::Transport;

pub const VENDOR: Vendor = Vendor {
    id: "polycom",
    aliases: &["poly"],
    name: "Poly/Polycom",
    ouis: &[[0x00, 0x04, 0xf2], [0x64, 0x16, 0x7f], [0x48, 0x25, 0x67]],
    provisioning: POLYCOM,
    // §2.3: binary RFC 3925 class (enterprise 13885), or text
    // `Polycom-…`; default boot server order is 160, then 66.
    dhcp: Dhcp {
        classes: &[ClassMatch::Enterprise(13885), ClassMatch::Prefix("Polycom")],
        options: &[DhcpOption::ServerName, DhcpOption::ProvisioningUrl160],
        boot_file: None,
        option43: Option43::None,
        tftp_options: &[],
    },
};

/// Poly/Polycom UC Software facts (docs/reference/vendors.md §2): the phone asks for
/// `<mac>.cfg` (per-phone master), else `000000000000.cfg`, then each
/// `CONFIG_FILES` entry; logs come back as PUTs. All names lowercase.
const POLYCOM: Provisioning = Provisioning {
    files: &[
        FileRule {
            pattern: &[Part::Lit("000000000000.cfg")],
            kind: FileKind::Common,
            template: Some(template!("polycom/master.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit(".cfg")],
            kind: FileKind::PerMac,
            template: Some(template!("polycom/master.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit("-phone.cfg")],
            kind: FileKind::Main,
            template: Some(template!("polycom/phone.xml")),
            content_type: "application/xml; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit("-boot.log")],
            kind: FileKind::Upload,
            template: None,
            content_type: "text/plain; charset=utf-8",
        },
        FileRule {
            pattern: &[Part::Mac(MacCase::Lower), Part::Lit("-app.log")],
            kind: FileKind::Upload,
            template: None,
            content_type: "text/plain; charset=utf-8",
        },
    ],
    user_agent: Some(polycom_user_agent),
    // reg.N.server.M.transport [2src].
    transports: &[
        (Transport::Udp, "UDPOnly"),
        (Transport::Tcp, "TCPOnly"),
        (Transport::Tls, "TLS"),
    ],
    // lcl.ml.lang names from docs/reference/vendors.md §2.4 (Wazo's map).
    languages: &[
        ("en", "English_United_States"),
        ("fr", "French_France"),
        ("de", "German_Germany"),
        ("es", "Spanish_Spain"),
        ("it", "Italian_Italy"),
        ("nl", "Dutch_Netherlands"),
    ],
    timezone_names: &[],
    // Per-device credentials: device.prov.user/password (§2.4).
    device_credentials: true,
    // The bootstrap carries our CA inline as device.sec.TLS.customCaCert1 (§2.5).
    ca_setting: Some("device.sec.TLS.customCaCert1"),
    cert_name_prefixes: &[],
    display_languages: &[],
    // prov.polling.period: seconds, "integer > 3600" with polling mode rel
    // (Poly UC Software 5.8.1 admin guide, "Provisional Polling of Polycom
    // Phones": "Relative - the phone polls every x seconds, where x is a
    // number greater than 3600"; the Trio admin guide's parameter table
    // says the same, default 86400). 61 minutes is the first whole minute
    // above 3600 s. No upper bound is documented; 71582788 minutes keeps the
    // seconds inside 32 bits.
    recheck: Some(Recheck {
        setting: "prov.polling.period=",
        unit_seconds: 1,
        minutes: (61, 71_582_788),
    }),
    // Web passwords, each with its `.set="1"` under device.set="1"
    // (wazo-platform/wazo-provd-plugins plugins/wazo-polycom/common/templates/base.tpl).
    admin_password_setting: Some("device.auth.localAdminPassword"),
    user_password_setting: Some("device.auth.localUserPassword"),
    // §2.1 point 2: the master file names the application image.
    firmware: Some(FirmwareKeys {
        setting: "APP_FILE_PATH",
        file: FileKind::PerMac,
    }),
    // tcpIpApp.sntp.gmtOffset takes any offset in seconds; the
    // daylightSavings.* keys have no amount, so DST is one hour (Polycom
    // SoundPoint IP / UC admin guide, tcpIpApp.sntp).
    clock: Clock {
        listed_offsets: &[],
        dst_save_minutes: (60, 60),
    },
    // Settings (docs/settings.md): `key="value"` attributes of an element
    // of their own. Owned: the SIP registrations (`reg.*`, written by
    // phone_templates/polycom/phone.xml), the provisioning server,
    // credentials and boot-server source (`device.prov.*`,
    // `device.dhcp.bootSrvUseOpt*`), the CA (`device.sec.*`) and the web
    // passwords (`device.auth.*`), all cited there.
    settings: settings::SettingRules {
        syntax: settings::Syntax::Attribute,
        owned: &[
            "reg.*",
            "device.prov.*",
            "device.sec.*",
            "device.auth.*",
            "device.dhcp.bootSrvUseOpt*",
            "prov.*",
        ],
        fixed: &[],
    },
};

/// `FileTransport PolycomVVX-VVX_411-UA/5.9.0.9373 Type/Application`,
/// `FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078`: model
/// (`vvx_411`) and firmware; Polycom User-Agents never carry the MAC.
fn polycom_user_agent(ua: &str) -> Option<UaInfo> {
    let rest = ua.trim().strip_prefix("FileTransport Poly")?;
    let product = rest.split_whitespace().next()?;
    let (name, firmware) = product.split_once("-UA/")?;
    let model = name
        .split_once('-')
        .map(|(_, m)| m.to_ascii_lowercase())
        .filter(|m| {
            !m.is_empty()
                && m.len() <= 32
                && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    let firmware = Some(firmware.to_string()).filter(|f| {
        !f.is_empty() && f.len() <= 32 && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
    });
    Some(UaInfo {
        model,
        firmware,
        mac: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polycom_user_agents() {
        let (v, i) =
            parse_user_agent("FileTransport PolycomVVX-VVX_411-UA/5.9.0.9373 Type/Application")
                .unwrap();
        assert_eq!(v.id, "polycom");
        assert_eq!(i.model.as_deref(), Some("vvx_411"));
        assert_eq!(i.firmware.as_deref(), Some("5.9.0.9373"));
        assert_eq!(i.mac, None);
        let (_, i) =
            parse_user_agent("FileTransport PolycomVVX-VVX_411-UA/5.9.0.x Type/Application")
                .unwrap();
        assert_eq!(i.firmware.as_deref(), Some("5.9.0.x"));
        let (_, i) =
            parse_user_agent("FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078").unwrap();
        assert_eq!(i.model.as_deref(), Some("spip_335"));
        if let Some((_, i)) = parse_user_agent("FileTransport Poly") {
            assert_eq!(i.mac, None);
        }
    }

    #[test]
    fn polycom_files() {
        let p = by_id("polycom").unwrap();
        let m = mac("0004f2aabbcc");
        assert_eq!(
            p.main_file().and_then(|r| r.file_name(m)).as_deref(),
            Some("0004f2aabbcc-phone.cfg")
        );
    }

    #[test]
    fn value_maps() {
        let p = by_id("polycom").unwrap();
        assert_eq!(p.transport_value(Transport::Tls), Some("TLS"));
        assert_eq!(p.language_name("de-AT"), Some("German_Germany"));
    }
}
