//! The data a template sees: built from the store's user and site, mapped
//! to the vendor's own values through the vendor table.
//!
//! Secrets enter the context only when the delivery may carry them, so no
//! template (default or override) can leak a password on a staged file.

use std::collections::{HashMap, HashSet};

use chrono::TimeZone;
use chrono_tz::{OffsetComponents, Tz};
use serde::Serialize;

use crate::domain::{Site, User};
use crate::mac::Mac;
use crate::vendor::{UaInfo, Vendor};

/// Everything a template may use. Optional fields are present as `none`.
#[derive(Debug, Serialize)]
pub struct Context {
    pub device: DeviceCtx,
    pub user: Option<UserCtx>,
    pub lines: Vec<LineCtx>,
    pub keys: Vec<KeyCtx>,
    pub site: SiteCtx,
    /// The vendor's language name, if the vendor has one for the tag.
    pub language: Option<&'static str>,
    pub timezone: TimezoneCtx,
    pub provisioning: ProvisioningCtx,
}

#[derive(Debug, Serialize)]
pub struct DeviceCtx {
    /// In the vendor's file-name case; `none` when no MAC is known.
    pub mac: Option<String>,
    pub mac_colon: Option<String>,
    pub vendor: &'static str,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub firmware_major: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct UserCtx {
    pub username: String,
    pub display_name: String,
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
pub struct LineCtx {
    /// 1-based account number on the phone.
    pub number: usize,
    pub enabled: bool,
    pub extension: String,
    pub label: String,
    pub display_name: String,
    pub user_name: String,
    pub auth_name: String,
    /// `none` on a staged (plain-HTTP) delivery.
    pub password: Option<String>,
    pub server: String,
    pub port: u16,
    /// `udp`, `tcp` or `tls`.
    pub transport: &'static str,
    /// The vendor's code for the transport.
    pub transport_code: &'static str,
    pub outbound_proxy: Option<HostPort>,
}

#[derive(Debug, Serialize)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

/// A programmable key: one per line, then the BLF keys.
#[derive(Debug, Serialize)]
pub struct KeyCtx {
    /// 1-based key number.
    pub position: u16,
    /// `line` or `blf`.
    pub kind: &'static str,
    /// Account the key belongs to (1-based).
    pub line: usize,
    /// BLF: the watched extension; line keys: the line's extension.
    pub value: String,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct SiteCtx {
    pub name: String,
    pub ntp_server: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimezoneCtx {
    pub iana: String,
    /// Standard (non-DST) offset as `+1`, `-5`, `+5:30`, `+0`.
    pub offset: String,
    /// The vendor's own zone name where the vendor table has one.
    pub name: Option<&'static str>,
    /// Whether the zone observes daylight saving time this year.
    pub dst: bool,
}

#[derive(Debug, Serialize)]
pub struct ProvisioningCtx {
    /// Whether SIP passwords are in this rendering.
    pub secrets: bool,
    /// Set on the plain-HTTP bootstrap: the HTTPS URL to move to.
    pub server_url: Option<String>,
    pub repeat_minutes: u32,
}

/// Read-only facts the builder needs beyond the user.
pub struct Env<'a> {
    pub vendor: &'static Vendor,
    pub site: &'a Site,
    /// Extension → display name, to label BLF keys.
    pub directory: &'a HashMap<String, String>,
}

/// How the file is delivered.
pub struct Delivery<'a> {
    pub secrets: bool,
    pub server_url: Option<&'a str>,
    pub repeat_minutes: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("{vendor} has no setting value for SIP transport {transport}")]
    Transport {
        vendor: &'static str,
        transport: &'static str,
    },
    #[error("unknown timezone {0:?}")]
    Timezone(String),
}

/// The context for a file about no particular user (common files, boot files).
pub fn device_only(
    env: &Env<'_>,
    mac: Option<Mac>,
    ua: Option<&UaInfo>,
    delivery: &Delivery<'_>,
) -> Result<Context, ContextError> {
    Ok(Context {
        device: device(env.vendor, mac, None, ua),
        user: None,
        lines: Vec::new(),
        keys: Vec::new(),
        site: site(env.site),
        language: env.vendor.language_name(&env.site.language),
        timezone: timezone(env.vendor, &env.site.timezone)?,
        provisioning: provisioning(delivery),
    })
}

/// The context for a user's phone.
pub fn for_user(
    env: &Env<'_>,
    user: &User,
    mac: Mac,
    ua: Option<&UaInfo>,
    delivery: &Delivery<'_>,
) -> Result<Context, ContextError> {
    let stored_model = user
        .phones
        .iter()
        .find(|p| p.mac == mac)
        .and_then(|p| p.model.clone());
    let lines = lines(env, user, delivery.secrets)?;
    let keys = keys(env, user, &lines);
    let lang_tag = user.language.as_deref().unwrap_or(&env.site.language);
    let tz = user.timezone.as_deref().unwrap_or(&env.site.timezone);
    Ok(Context {
        device: device(env.vendor, Some(mac), stored_model, ua),
        user: Some(UserCtx {
            username: user.username.clone(),
            display_name: user.display(),
            enabled: user.enabled,
        }),
        lines,
        keys,
        site: site(env.site),
        language: env.vendor.language_name(lang_tag),
        timezone: timezone(env.vendor, tz)?,
        provisioning: provisioning(delivery),
    })
}

fn device(
    vendor: &'static Vendor,
    mac: Option<Mac>,
    model: Option<String>,
    ua: Option<&UaInfo>,
) -> DeviceCtx {
    let case = vendor.mac_case().unwrap_or(crate::vendor::MacCase::Lower);
    DeviceCtx {
        mac: mac.map(|m| case.format(m)),
        mac_colon: mac.map(|m| m.colon()),
        vendor: vendor.id,
        model: model.or_else(|| ua.and_then(|u| u.model.clone())),
        firmware: ua.and_then(|u| u.firmware.clone()),
        firmware_major: ua.and_then(UaInfo::firmware_major),
    }
}

fn site(s: &Site) -> SiteCtx {
    SiteCtx {
        name: s.name.clone(),
        ntp_server: s.ntp_server.clone(),
    }
}

fn provisioning(d: &Delivery<'_>) -> ProvisioningCtx {
    ProvisioningCtx {
        secrets: d.secrets,
        server_url: d.server_url.map(str::to_string),
        repeat_minutes: d.repeat_minutes,
    }
}

fn lines(env: &Env<'_>, user: &User, secrets: bool) -> Result<Vec<LineCtx>, ContextError> {
    let site = env.site;
    user.lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let transport = l.transport.unwrap_or(site.transport);
            let transport_code =
                env.vendor
                    .transport_value(transport)
                    .ok_or(ContextError::Transport {
                        vendor: env.vendor.id,
                        transport: transport.as_str(),
                    })?;
            Ok(LineCtx {
                number: i + 1,
                enabled: user.enabled,
                extension: l.extension.clone(),
                label: l.extension.clone(),
                display_name: user.display(),
                user_name: l.extension.clone(),
                auth_name: l.auth_user().to_string(),
                password: secrets.then(|| l.sip_password.clone()),
                server: site.sip_server.clone(),
                port: site.sip_port.unwrap_or(transport.default_port()),
                transport: transport.as_str(),
                transport_code,
                outbound_proxy: site
                    .outbound_proxy
                    .as_deref()
                    .map(|p| host_port(p, transport.default_port())),
            })
        })
        .collect()
}

/// `host`, `host:port`, `[v6]:port` → host and port.
fn host_port(s: &str, default_port: u16) -> HostPort {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return HostPort {
            host: host.to_string(),
            port: port.unwrap_or(default_port),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => HostPort {
                host: h.to_string(),
                port,
            },
            Err(_) => HostPort {
                host: s.to_string(),
                port: default_port,
            },
        },
        _ => HostPort {
            host: s.to_string(),
            port: default_port,
        },
    }
}

/// One line key per account (keys 1..=L), then BLF keys: an explicit
/// position is honoured when that key is free, otherwise (and for keys
/// without one) the next free key is used, so rendering never fails on a
/// clash the import let through.
fn keys(env: &Env<'_>, user: &User, lines: &[LineCtx]) -> Vec<KeyCtx> {
    let mut out: Vec<KeyCtx> = lines
        .iter()
        .zip(1u16..)
        .map(|(l, pos)| KeyCtx {
            position: pos,
            kind: "line",
            line: l.number,
            value: l.extension.clone(),
            label: l.label.clone(),
        })
        .collect();
    let mut taken: HashSet<u16> = out.iter().map(|k| k.position).collect();
    let mut wanted: Vec<(Option<u16>, &crate::domain::BlfKey)> = user
        .blf
        .iter()
        .map(|b| (b.position.filter(|p| *p >= 1), b))
        .collect();
    // Explicit positions claim their keys before the others fill gaps.
    let mut placed: Vec<(u16, &crate::domain::BlfKey)> = Vec::new();
    for (pos, b) in wanted.iter_mut() {
        if let Some(p) = *pos {
            if taken.insert(p) {
                placed.push((p, *b));
            } else {
                *pos = None;
            }
        }
    }
    let mut next = 1u16;
    for (pos, b) in &wanted {
        if pos.is_some() {
            continue;
        }
        while taken.contains(&next) {
            next = next.saturating_add(1);
        }
        taken.insert(next);
        placed.push((next, b));
    }
    placed.sort_by_key(|(p, _)| *p);
    // BLF keys belong to the first account, the one the user is known by.
    out.extend(placed.into_iter().map(|(p, b)| {
        KeyCtx {
            position: p,
            kind: "blf",
            line: 1,
            value: b.extension.clone(),
            label: b
                .label
                .clone()
                .or_else(|| env.directory.get(&b.extension).cloned())
                .unwrap_or_else(|| b.extension.clone()),
        }
    }));
    out
}

/// Standard offset, DST use and vendor name of an IANA zone. The standard
/// offset is taken now, so a zone that changed its base offset in the past
/// gets today's value.
pub fn timezone(vendor: &Vendor, iana: &str) -> Result<TimezoneCtx, ContextError> {
    let tz: Tz = iana
        .parse()
        .map_err(|_| ContextError::Timezone(iana.to_string()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let at = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|d| tz.offset_from_utc_datetime(&d.naive_utc()))
    };
    let base = at(now)
        .map(|o| o.base_utc_offset().num_seconds())
        .unwrap_or(0);
    // DST if any day sampled across the coming year has a DST component.
    let dst = (0..12).any(|m| {
        at(now + m * 30 * 86_400)
            .map(|o| o.dst_offset().num_seconds() != 0)
            .unwrap_or(false)
    });
    Ok(TimezoneCtx {
        iana: tz.name().to_string(),
        offset: format_offset(base),
        name: vendor.timezone_name(tz.name()),
        dst,
    })
}

/// `3600` → `+1`, `-18000` → `-5`, `19800` → `+5:30`, `0` → `+0`.
fn format_offset(secs: i64) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let mins = secs.abs() / 60;
    let (h, m) = (mins / 60, mins % 60);
    if m == 0 {
        format!("{sign}{h}")
    } else {
        format!("{sign}{h}:{m:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BlfKey, Line, Transport};
    use crate::vendor::by_id;

    #[test]
    fn offsets() {
        assert_eq!(format_offset(3600), "+1");
        assert_eq!(format_offset(-18000), "-5");
        assert_eq!(format_offset(19800), "+5:30");
        assert_eq!(format_offset(-12600), "-3:30");
        assert_eq!(format_offset(0), "+0");
        let y = by_id("yealink").unwrap();
        let paris = timezone(y, "Europe/Paris").unwrap();
        assert_eq!(paris.offset, "+1");
        assert_eq!(paris.name, Some("France(Paris)"));
        assert!(paris.dst);
        let ny = timezone(y, "America/New_York").unwrap();
        assert_eq!((ny.offset.as_str(), ny.dst, ny.name), ("-5", true, None));
        let kolkata = timezone(y, "Asia/Kolkata").unwrap();
        assert_eq!((kolkata.offset.as_str(), kolkata.dst), ("+5:30", false));
        assert!(timezone(y, "Mars/Base").is_err());
    }

    #[test]
    fn host_ports() {
        let hp = host_port("proxy.example.com:5080", 5060);
        assert_eq!((hp.host.as_str(), hp.port), ("proxy.example.com", 5080));
        let hp = host_port("proxy.example.com", 5061);
        assert_eq!((hp.host.as_str(), hp.port), ("proxy.example.com", 5061));
        let hp = host_port("[2001:db8::1]:5070", 5060);
        assert_eq!((hp.host.as_str(), hp.port), ("2001:db8::1", 5070));
    }

    fn user() -> User {
        User {
            id: 1,
            username: "a".into(),
            first_name: Some("Ann".into()),
            last_name: None,
            display_name: None,
            email: None,
            mobile: None,
            enabled: true,
            web_password_hash: None,
            voicemail_pin: None,
            language: Some("de-AT".into()),
            timezone: None,
            site: "default".into(),
            source: None,
            lines: vec![Line {
                extension: "100".into(),
                sip_username: None,
                sip_password: "pw".into(),
                transport: Some(Transport::Udp),
            }],
            phones: vec![],
            blf: vec![
                BlfKey {
                    extension: "200".into(),
                    label: None,
                    position: None,
                },
                BlfKey {
                    extension: "300".into(),
                    label: Some("Desk".into()),
                    position: Some(1),
                },
                BlfKey {
                    extension: "400".into(),
                    label: None,
                    position: Some(5),
                },
            ],
            config_version: 1,
        }
    }

    #[test]
    fn keys_and_secrets() {
        let y = by_id("yealink").unwrap();
        let site = Site::default();
        let mut dir = HashMap::new();
        dir.insert("200".to_string(), "Bea".to_string());
        let env = Env {
            vendor: y,
            site: &site,
            directory: &dir,
        };
        let mac = Mac::parse("805ec0000001").unwrap();
        let full = Delivery {
            secrets: true,
            server_url: None,
            repeat_minutes: 60,
        };
        let c = for_user(&env, &user(), mac, None, &full).unwrap();
        assert_eq!(c.lines[0].password.as_deref(), Some("pw"));
        assert_eq!(c.lines[0].transport_code, "0");
        assert_eq!(c.lines[0].port, 5060);
        assert_eq!(c.language, Some("German"));
        let k: Vec<(u16, &str, &str)> = c
            .keys
            .iter()
            .map(|k| (k.position, k.value.as_str(), k.label.as_str()))
            .collect();
        // Key 1 is the line; the BLF that asked for key 1 moves to the next free key.
        assert_eq!(
            k,
            vec![
                (1, "100", "100"),
                (2, "200", "Bea"),
                (3, "300", "Desk"),
                (5, "400", "400")
            ]
        );
        let staged = Delivery {
            secrets: false,
            server_url: Some("https://h:1/"),
            repeat_minutes: 5,
        };
        let c = for_user(&env, &user(), mac, None, &staged).unwrap();
        assert!(c.lines.iter().all(|l| l.password.is_none()));
        assert_eq!(c.provisioning.server_url.as_deref(), Some("https://h:1/"));
    }
}
