//! The data a template sees: built from the store's user and site, mapped
//! to the vendor's own values through the vendor table.
//!
//! Secrets enter the context only when the delivery may carry them, so no
//! template (default or override) can leak a password on a staged file.

use std::collections::{HashMap, HashSet};

use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::mac::Mac;
use crate::domain::zone::{self, Shape};
use crate::domain::{Site, User};
use crate::vendors::{Clock, UaInfo, Vendor};

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
    /// The vendor's display-language name for the same tag, where its
    /// display language is a setting of its own (Cisco `Language_Selection`).
    pub display_language: Option<&'static str>,
    pub timezone: TimezoneCtx,
    pub provisioning: ProvisioningCtx,
    /// The certificate the phone is told to trust; `none` when there is
    /// none yet (set by the provisioner, not from the store).
    pub ca: Option<CaCtx>,
    /// The phone's own web passwords; only in a secure main file, `none`
    /// everywhere else (set by the provisioner, docs/lockdown.md).
    pub lockdown: Option<LockdownCtx>,
    /// The image this phone should run, on per-phone files of phones in
    /// the store (set by the provisioner, docs/firmware.md).
    pub firmware: Option<FirmwareCtx>,
}

/// The target firmware as the templates write it.
#[derive(Debug, Serialize)]
pub struct FirmwareCtx {
    /// What the phone reports once it runs the image.
    pub version: String,
    /// The file's name (`T54W-96.86.0.100.rom`).
    pub file: String,
    /// Where the phone fetches it: this server's base URL + `firmware/<file>`.
    pub url: String,
    /// The same without the scheme and file (`host:port/firmware`), for
    /// vendors that take a server path and a protocol (Grandstream P192).
    pub server_path: String,
    /// Whether [`FirmwareCtx::url`] is HTTPS.
    pub https: bool,
    /// The part of `file` up to and including its last `-` (empty without
    /// one), for vendors that request a fixed image name behind a prefix
    /// (Grandstream P232).
    pub file_prefix: String,
    /// The phone's User-Agent already reports `version`.
    pub current: bool,
}

/// A phone's web passwords as its secure main file sets them.
#[derive(Serialize)]
pub struct LockdownCtx {
    pub admin_password: String,
    pub user_password: String,
}

impl std::fmt::Debug for LockdownCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockdownCtx { .. }")
    }
}

/// The certificate behind our HTTPS, in the forms vendors load it.
#[derive(Debug, Serialize)]
pub struct CaCtx {
    /// Plain-HTTP URL of the PEM; only on files a phone fetches before it
    /// trusts our HTTPS (bootstrap and common files).
    pub url: Option<String>,
    /// Canonical PEM (base64 lines between BEGIN/END, LF line ends).
    pub pem: String,
    /// The DER as one base64 line.
    pub base64: String,
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
    /// The vendor's value for the zone from its own list: the zone's row,
    /// else the first row of a zone with the same clock this year and next
    /// (`Vendor::zone_value`); `none` when the list has neither.
    pub name: Option<&'static str>,
    /// Whether the phone gets a DST rule (`dst_rule` is set).
    pub dst: bool,
    /// Standard (non-DST) offset east of UTC, in minutes.
    pub offset_minutes: i32,
    /// The vendor's listed offset (`Clock::listed_offsets`) at or below the
    /// standard offset, in minutes; the standard offset itself when the
    /// vendor lists none.
    pub listed_offset_minutes: i32,
    /// `offset_minutes - listed_offset_minutes` (0 to 59 on Cisco).
    pub offset_rest_minutes: i32,
    /// The zone's rule as a POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`),
    /// the form of a TZif footer; standard time only without a rule.
    pub posix: String,
    /// The DST rule, when one weekday rule gives every change of this year
    /// and next.
    pub dst_rule: Option<DstRule>,
    /// What this vendor's files cannot say about the zone: each one is
    /// returned with the render and logged, never silently dropped.
    pub warnings: Vec<String>,
}

pub use crate::domain::zone::{DstChange, DstRule};

#[derive(Debug, Serialize)]
pub struct ProvisioningCtx {
    /// Whether SIP passwords are in this rendering.
    pub secrets: bool,
    /// Set on the plain-HTTP bootstrap: the HTTPS URL to move to.
    pub server_url: Option<String>,
    /// Common files only: this server's plain-HTTP base URL, where a phone
    /// finds its staged bootstrap (Cisco's Profile_Rule_B).
    pub plain_url: Option<String>,
    /// Main files only: this server's HTTPS base URL when known (the one
    /// the phone used, or `[provision] https_url`), for a vendor whose
    /// credentials ride in the URL rule itself (Cisco).
    pub https_url: Option<String>,
    /// The re-check interval, already moved into the vendor's documented
    /// range ([`crate::vendors::Recheck`]).
    pub repeat_minutes: u32,
    /// The phone's own provisioning user and password, when issued (main
    /// files only; set by the provisioner, not from `Delivery`).
    pub username: Option<String>,
    pub password: Option<String>,
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
        display_language: env.vendor.display_language_name(&env.site.language),
        timezone: timezone(env.vendor, &env.site.timezone)?,
        provisioning: provisioning(env.vendor, delivery),
        ca: None,
        lockdown: None,
        firmware: None,
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
        display_language: env.vendor.display_language_name(lang_tag),
        timezone: timezone(env.vendor, tz)?,
        provisioning: provisioning(env.vendor, delivery),
        ca: None,
        lockdown: None,
        firmware: None,
    })
}

fn device(
    vendor: &'static Vendor,
    mac: Option<Mac>,
    model: Option<String>,
    ua: Option<&UaInfo>,
) -> DeviceCtx {
    let case = vendor.mac_case().unwrap_or(crate::vendors::MacCase::Lower);
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

/// The delivery's provisioning facts; the one place the configured re-check
/// interval meets the vendor's documented range.
fn provisioning(vendor: &Vendor, d: &Delivery<'_>) -> ProvisioningCtx {
    ProvisioningCtx {
        secrets: d.secrets,
        server_url: d.server_url.map(str::to_string),
        plain_url: None,
        https_url: None,
        repeat_minutes: vendor
            .provisioning
            .recheck
            .map_or(d.repeat_minutes, |r| r.clamp(d.repeat_minutes)),
        username: None,
        password: None,
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

/// The zone as this vendor's templates need it: its value from the
/// vendor's list, else a standard offset and a DST rule, and warnings for
/// what neither can say.
///
/// Every rendered file needs this, and analysing a zone's two years takes a
/// few thousand look-ups, so results are kept per vendor and zone for the
/// hour they were computed in (a boot storm renders thousands of files for a
/// handful of zones); the vendor's "same rules" index is built once per year.
pub fn timezone(vendor: &Vendor, iana: &str) -> Result<TimezoneCtx, ContextError> {
    type Cache = HashMap<(&'static str, Tz), (i64, TimezoneCtx)>;
    static CACHE: std::sync::OnceLock<std::sync::Mutex<Cache>> = std::sync::OnceLock::new();
    let tz: Tz = iana
        .parse()
        .map_err(|_| ContextError::Timezone(iana.to_string()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let hour = now.div_euclid(3600);
    let cache = CACHE.get_or_init(Default::default);
    let key = (vendor.id, tz);
    if let Some((h, ctx)) = cache.lock().ok().as_ref().and_then(|c| c.get(&key))
        && *h == hour
    {
        return Ok(ctx.clone());
    }
    let ctx = timezone_at(vendor, tz, now);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, (hour, ctx.clone()));
    }
    Ok(ctx)
}

/// [`timezone`] of `tz` for the year of Unix time `now` and the next, uncached.
fn timezone_at(vendor: &Vendor, tz: Tz, now: i64) -> TimezoneCtx {
    let year = zone::year_of(now);
    let listed = vendor.zone_value(tz, year);
    let (standard, rule, irregular) = match &zone::analyse(tz, year).shape {
        Shape::Fixed { offset } => (*offset, None, None),
        Shape::Rule { standard, rule } => (*standard, Some(rule.clone()), None),
        Shape::Irregular { offset, why } => (*offset, None, Some(why.clone())),
    };
    let offset_minutes = standard / 60;
    let listed_offset = listed_offset(&vendor.provisioning.clock, offset_minutes);
    let what = Unsaid {
        vendor,
        tz,
        standard,
        listed: listed.map(|(value, _)| value),
    };
    let mut warnings: Vec<String> = irregular.iter().map(|why| what.irregular(why)).collect();
    if listed.is_none() {
        warnings.extend(rule.as_ref().and_then(|r| what.dst_amount(r)));
        if listed_offset.is_none() {
            warnings.push(what.offset());
        }
    }
    let listed_offset_minutes = listed_offset.unwrap_or(offset_minutes);
    TimezoneCtx {
        iana: tz.name().to_string(),
        offset: format_offset(i64::from(standard)),
        name: listed.map(|(value, _)| value),
        dst: rule.is_some(),
        offset_minutes,
        listed_offset_minutes,
        offset_rest_minutes: offset_minutes - listed_offset_minutes,
        posix: posix(tz, year, standard, rule.as_ref()),
        dst_rule: rule,
        warnings,
    }
}

/// The vendor's listed offset at or below `minutes`: `minutes` itself when
/// it lists none, `None` when every listed one is above it.
fn listed_offset(clock: &Clock, minutes: i32) -> Option<i32> {
    if clock.listed_offsets.is_empty() {
        return Some(minutes);
    }
    clock
        .listed_offsets
        .iter()
        .copied()
        .filter(|o| *o <= minutes)
        .max()
}

/// The warnings for what a vendor's file cannot say about a zone; each
/// starts with the zone's name, which the fetch log takes apart.
struct Unsaid<'a> {
    vendor: &'a Vendor,
    tz: Tz,
    /// The standard offset sent, seconds east of UTC.
    standard: i32,
    /// The listed value sent instead of an offset and rule, if any.
    listed: Option<&'static str>,
}

impl Unsaid<'_> {
    fn irregular(&self, why: &str) -> String {
        match self.listed {
            Some(value) => format!(
                "{}: {why}; the phone applies its own rule for {value:?}, which may differ",
                self.tz.name()
            ),
            None => format!(
                "{}: {why}; {} phones get UTC{} all year",
                self.tz.name(),
                self.vendor.name,
                format_offset(i64::from(self.standard))
            ),
        }
    }

    fn dst_amount(&self, rule: &DstRule) -> Option<String> {
        let (lo, hi) = self.vendor.provisioning.clock.dst_save_minutes;
        if (lo..=hi).contains(&rule.save_minutes) {
            return None;
        }
        let can = if lo == hi {
            format!("only {lo}")
        } else {
            format!("{lo} to {hi}")
        };
        Some(format!(
            "{}: DST adds {} minutes, which {} phones cannot set ({can})",
            self.tz.name(),
            rule.save_minutes,
            self.vendor.name
        ))
    }

    fn offset(&self) -> String {
        format!(
            "{}: UTC{} is below every offset {} lists",
            self.tz.name(),
            format_offset(i64::from(self.standard)),
            self.vendor.name
        )
    }
}

/// The POSIX TZ string of a standard offset and optional rule, with the
/// zone's own abbreviations where it has them.
fn posix(tz: Tz, year: i32, standard: i32, rule: Option<&DstRule>) -> String {
    let abbr = |total: i32| abbreviation_with(tz, year, total);
    let mut s = format!(
        "{}{}",
        posix_abbr(&abbr(standard), i64::from(standard)),
        posix_offset(i64::from(standard))
    );
    let Some(rule) = rule else {
        return s;
    };
    let dst = standard + rule.save_minutes * 60;
    s.push_str(&posix_abbr(&abbr(dst), i64::from(dst)));
    if rule.save_minutes != 60 {
        s.push_str(&posix_offset(i64::from(dst)));
    }
    for c in [&rule.start, &rule.end] {
        s.push_str(&format!(",M{}.{}.{}", c.month, c.week, c.weekday));
        if c.minute != 120 {
            s.push_str(&format!("/{}", posix_time(i64::from(c.minute) * 60)));
        }
    }
    s
}

/// The zone's abbreviation while its offset is `total` seconds, sampled
/// over the two years from `year` (empty when it never is).
fn abbreviation_with(tz: Tz, year: i32, total: i32) -> String {
    let start = zone::year_start(year);
    (0..=104)
        .map(|week| start + week * 7 * 86_400)
        .find(|t| zone::offset_at(tz, *t) == total)
        .map(|t| zone::abbreviation_at(tz, t))
        .unwrap_or_default()
}

/// A POSIX zone abbreviation: alphabetic ones as they are, others quoted;
/// a zone without one (tzdata's numeric `-03`) gets its offset, quoted.
fn posix_abbr(abbr: &str, east: i64) -> String {
    if abbr.len() >= 3 && abbr.bytes().all(|b| b.is_ascii_alphabetic()) {
        abbr.to_string()
    } else if !abbr.is_empty()
        && abbr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
    {
        format!("<{abbr}>")
    } else {
        let sign = if east < 0 { '-' } else { '+' };
        let (h, m) = (east.abs() / 3600, east.abs() / 60 % 60);
        if m == 0 {
            format!("<{sign}{h:02}>")
        } else {
            format!("<{sign}{h:02}{m:02}>")
        }
    }
}

/// POSIX offsets count west of UTC: UTC+1 is `-1`, UTC-5 is `5`.
fn posix_offset(east: i64) -> String {
    let west = -east;
    let sign = if west < 0 { "-" } else { "" };
    format!("{sign}{}", posix_time(west.abs()))
}

/// `h`, `h:mm` or `h:mm:ss`.
fn posix_time(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (m, s) {
        (0, 0) => format!("{h}"),
        (_, 0) => format!("{h}:{m:02}"),
        _ => format!("{h}:{m:02}:{s:02}"),
    }
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
    use crate::vendors::by_id;

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
        assert_eq!(
            (ny.offset.as_str(), ny.dst, ny.name),
            ("-5", true, Some("United States-Eastern Time"))
        );
        let kolkata = timezone(y, "Asia/Kolkata").unwrap();
        assert_eq!((kolkata.offset.as_str(), kolkata.dst), ("+5:30", false));
        assert!(timezone(y, "Mars/Base").is_err());
    }

    #[test]
    fn posix_strings() {
        let y = by_id("yealink").unwrap();
        let tz = |z: &str| timezone(y, z).unwrap();
        assert_eq!(tz("Europe/Berlin").posix, "CET-1CEST,M3.5.0,M10.5.0/3");
        assert_eq!(tz("America/New_York").posix, "EST5EDT,M3.2.0,M11.1.0");
        assert_eq!(tz("Asia/Kolkata").posix, "IST-5:30");
        assert_eq!(tz("UTC").posix, "UTC0");
        let berlin = tz("Europe/Berlin");
        assert_eq!(berlin.offset_minutes, 60);
        let rule = berlin.dst_rule.unwrap();
        assert_eq!(rule.save_minutes, 60);
        assert_eq!(
            (rule.start.month, rule.start.week, rule.start.weekday),
            (3, 5, 0)
        );
        assert_eq!((rule.end.month, rule.end.minute), (10, 180));
        assert!(tz("Asia/Tokyo").dst_rule.is_none());
        // Where the system has tzdata, our rule is its TZif footer.
        for zone in [
            "Europe/London",
            "Europe/Paris",
            "Europe/Helsinki",
            "America/Chicago",
            "America/Los_Angeles",
            "America/Sao_Paulo",
            "Australia/Sydney",
            "Australia/Adelaide",
            "Pacific/Auckland",
            "Asia/Tokyo",
            "Asia/Dubai",
            "America/St_Johns",
        ] {
            let Ok(bytes) = std::fs::read(format!("/usr/share/zoneinfo/{zone}")) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            let footer = text.trim_end_matches('\n').rsplit('\n').next().unwrap();
            assert_eq!(tz(zone).posix, footer, "{zone}");
        }
    }

    /// Cisco lists whole hours; the rest of the offset is Time_Offset's.
    #[test]
    fn listed_offsets_and_rest() {
        let c = by_id("cisco").unwrap();
        let tz = |z: &str| timezone(c, z).unwrap();
        let parts = |z: &str| {
            let t = tz(z);
            (t.listed_offset_minutes, t.offset_rest_minutes)
        };
        assert_eq!(parts("Asia/Kolkata"), (300, 30));
        assert_eq!(parts("Pacific/Chatham"), (720, 45));
        assert_eq!(parts("America/St_Johns"), (-240, 30));
        assert_eq!(parts("Europe/Berlin"), (60, 0));
        assert!(tz("Pacific/Chatham").warnings.is_empty());
        // Yealink lists no offsets: the offset is its own listed value.
        let y = by_id("yealink").unwrap();
        let k = timezone(y, "Asia/Kathmandu").unwrap();
        assert_eq!((k.listed_offset_minutes, k.offset_rest_minutes), (345, 0));
    }

    /// What a vendor cannot say is a warning naming the zone; what it can
    /// say is not.
    #[test]
    fn warnings_name_what_cannot_be_said() {
        let p = by_id("polycom").unwrap();
        // Lord Howe moves its clock by 30 minutes; Polycom's DST is an hour.
        let lh = timezone(p, "Australia/Lord_Howe").unwrap();
        assert!(lh.dst_rule.is_some());
        assert_eq!(lh.warnings.len(), 1, "{:?}", lh.warnings);
        assert!(lh.warnings[0].starts_with("Australia/Lord_Howe: DST adds 30 minutes"));
        assert!(timezone(p, "Europe/Berlin").unwrap().warnings.is_empty());
        for v in crate::vendors::VENDORS {
            let casa = timezone(v, "Africa/Casablanca").unwrap();
            assert!(casa.dst_rule.is_none(), "{}", v.id);
            assert_eq!(casa.offset, "+1", "{}", v.id);
            assert_eq!(casa.warnings.len(), 1, "{}: {:?}", v.id, casa.warnings);
            assert!(casa.warnings[0].starts_with("Africa/Casablanca: "));
            for quiet in ["America/Sao_Paulo", "Australia/Sydney", "Asia/Kolkata"] {
                let t = timezone(v, quiet).unwrap();
                assert!(t.warnings.is_empty(), "{} {quiet}: {:?}", v.id, t.warnings);
            }
        }
        // Grandstream's P246 takes the 30-minute amount as it is.
        let g = by_id("grandstream").unwrap();
        let lh = timezone(g, "Australia/Lord_Howe").unwrap();
        assert!(lh.warnings.is_empty() || lh.name.is_some());
        assert_eq!(lh.posix, "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
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

    /// The configured interval reaches the template inside the vendor's
    /// range, and untouched for a vendor without one.
    #[test]
    fn repeat_minutes_are_clamped_per_vendor() {
        let site = Site::default();
        let dir = HashMap::new();
        let mac = Mac::parse("000b82000001").unwrap();
        let rendered = |id: &str, minutes: u32| {
            let env = Env {
                vendor: by_id(id).unwrap(),
                site: &site,
                directory: &dir,
            };
            let d = Delivery {
                secrets: true,
                server_url: None,
                repeat_minutes: minutes,
            };
            for_user(&env, &user(), mac, None, &d)
                .unwrap()
                .provisioning
                .repeat_minutes
        };
        assert_eq!(rendered("grandstream", 5), 60);
        assert_eq!(rendered("grandstream", 1440), 1440);
        assert_eq!(rendered("grandstream", u32::MAX), 5_256_000);
        assert_eq!(rendered("polycom", 5), 61);
        assert_eq!(rendered("yealink", 5), 5);
        assert_eq!(rendered("fanvil", 5), 5);
    }

    #[test]
    fn display_language_comes_from_the_second_table() {
        let site = Site::default();
        let dir = HashMap::new();
        let env = Env {
            vendor: by_id("cisco").unwrap(),
            site: &site,
            directory: &dir,
        };
        let d = Delivery {
            secrets: false,
            server_url: None,
            repeat_minutes: 60,
        };
        let mac = Mac::parse("0026990a0b0c").unwrap();
        let c = for_user(&env, &user(), mac, None, &d).unwrap();
        // The user's de-AT: Locale de-DE, Language_Selection German.
        assert_eq!(c.language, Some("de-DE"));
        assert_eq!(c.display_language, Some("German"));
    }
}
