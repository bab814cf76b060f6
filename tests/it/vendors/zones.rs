//! Every zone, every vendor: one phone per vendor in each of chrono-tz's
//! zones (`TZ_VARIANTS`: chrono-tz does not say which names are links, so
//! all of them, `US/Eastern` too), imported as `autoprov import` would and
//! rendered by the provisioner `autoprov render` uses. Each main file's
//! clock settings are read back in the vendor's own terms (an offset and a
//! weekday rule, a POSIX string through `tz-rs`, or a name from the
//! vendor's list standing for the zone of its row) and held to chrono-tz
//! over this year and next: the same offsets, every change within the hour.
//! Every listed value must be one of the vendor's; a zone the file cannot
//! express must carry a render warning, and every warned zone must really
//! be one that cannot be expressed (its own check here, not the engine's).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use autoprov::config::Config;
use autoprov::domain::mac::Mac;
use autoprov::import::{self, ImportOptions};
use autoprov::provision::{Channel, Provisioner, Request, Settings, Templates};
use autoprov::store::{MemoryStore, Store};
use autoprov::vendors::{VENDORS, Vendor};
use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::{OffsetComponents, Tz};

/// A phone model and MAC prefix per vendor, as the import takes them.
fn model_and_oui(vendor: &str) -> (&'static str, &'static str) {
    match vendor {
        "yealink" => ("yealink-t54w", "805ec0"),
        "polycom" => ("polycom-vvx411", "0004f2"),
        "cisco" => ("cisco-8841", "d0ec35"),
        "grandstream" => ("grandstream-gxp2170", "000b82"),
        "snom" => ("snom-d785", "000413"),
        "fanvil" => ("fanvil-x4", "0c383e"),
        other => panic!("no test phone for {other}"),
    }
}

/// The spreadsheet: one user per vendor and zone.
fn spreadsheet() -> (String, Vec<(&'static Vendor, Tz, Mac, String)>) {
    let mut csv = String::from(
        "username,first_name,last_name,display_name,email,mobile,extension,sip_password,language,timezone,transport,mac,phone_model,phoneip,blf,site\n",
    );
    let mut phones = Vec::new();
    for (vi, v) in VENDORS.iter().enumerate() {
        let (model, oui) = model_and_oui(v.id);
        for (zi, tz) in chrono_tz::TZ_VARIANTS.iter().enumerate() {
            let mac = format!("{oui}{:02x}{:04x}", vi, zi);
            let ext = 100_000 + vi * 1000 + zi;
            csv.push_str(&format!(
                "z{vi}x{zi},Zone,Test,,,,{ext},Zone-Pass-{ext},en-US,{},udp,{mac},{model},,,default\n",
                tz.name()
            ));
            let mac = Mac::parse(&mac).expect("test MAC");
            phones.push((
                v,
                *tz,
                mac,
                model
                    .split_once('-')
                    .map(|(_, m)| m.to_string())
                    .unwrap_or_default(),
            ));
        }
    }
    (csv, phones)
}

fn provisioner(csv: String) -> Provisioner {
    let config = Config::default();
    let store = Arc::new(MemoryStore::new());
    store.put_sites(&config.sites).expect("sites");
    let opts = ImportOptions::upsert("zones.csv".to_string());
    let outcome =
        import::run(store.as_ref(), &config, csv.into_bytes(), &opts, None).expect("import");
    assert_eq!(outcome.exit_code, 0, "{}", outcome.report.to_text());
    let settings = Settings {
        repeat_minutes: config.provision.repeat_minutes,
        bootstrap_repeat_minutes: config.provision.bootstrap_repeat_minutes,
        device_key: None,
        phone_ca: None,
        site_phone_passwords: Default::default(),
        firmware: Default::default(),
    };
    Provisioner::new(store, Templates::new(None).expect("templates"), settings)
        .expect("provisioner")
}

// ---- what a clock does: offsets and changes over the two years ----------

/// A change: Unix time and the total offset (seconds east) after it.
type Changes = (i32, Vec<(i64, i32)>);

fn year_start(y: i32) -> i64 {
    NaiveDate::from_ymd_opt(y, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

/// The offset at the start of `year` and every change until `year + 2`,
/// for any clock given as a function of Unix time: day by day, then to
/// the second.
fn scan(f: &dyn Fn(i64) -> i32, year: i32) -> Changes {
    let (from, to) = (year_start(year), year_start(year + 2));
    let first = f(from);
    let (mut prev, mut t, mut out) = (first, from, Vec::new());
    while t < to {
        let next = (t + 86_400).min(to);
        let cur = f(next);
        if cur != prev {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if f(mid) == prev { lo = mid } else { hi = mid }
            }
            if hi < to {
                out.push((hi, cur));
            }
            prev = cur;
        }
        t = next;
    }
    (first, out)
}

fn chrono_offset(tz: Tz) -> impl Fn(i64) -> i32 {
    move |t| {
        let d = chrono::DateTime::from_timestamp(t, 0).unwrap().naive_utc();
        let o = tz.offset_from_utc_datetime(&d);
        (o.base_utc_offset() + o.dst_offset()).num_seconds() as i32
    }
}

/// Whether a phone's clock keeps the zone's: the same offsets, each change
/// within the hour.
fn agree(said: &Changes, truth: &Changes) -> Result<(), String> {
    let fmt = |c: &Changes| format!("start {} changes {:?}", c.0, c.1);
    let ok = said.0 == truth.0
        && said.1.len() == truth.1.len()
        && said
            .1
            .iter()
            .zip(&truth.1)
            .all(|(a, b)| a.1 == b.1 && (a.0 - b.0).abs() < 3600);
    if ok {
        Ok(())
    } else {
        Err(format!("phone: {} / zone: {}", fmt(said), fmt(truth)))
    }
}

// ---- the vendors' own terms -------------------------------------------------

/// Which day of the month a rule names.
#[derive(Debug, Clone, Copy)]
enum Day {
    /// The n-th (1-4) weekday (0 = Sunday).
    Nth(u32, u32),
    Last(u32),
    /// The first weekday on or after a day of the month.
    OnOrAfter(u32, u32),
}

#[derive(Debug, Clone, Copy)]
struct When {
    month: u32,
    day: Day,
    /// Seconds after local midnight, by the clock before the change.
    secs: i64,
}

/// An offset and maybe one DST period a year, as a phone applies it.
#[derive(Debug)]
struct Model {
    standard: i32,
    dst: Option<(i32, When, When)>,
}

fn weekday(n: u32) -> chrono::Weekday {
    chrono::Weekday::try_from(((n + 6) % 7) as u8).unwrap_or(chrono::Weekday::Sun)
}

fn date(year: i32, w: &When) -> Result<NaiveDate, String> {
    let bad = || format!("no such day: {w:?} in {year}");
    let last_day = (28..=31)
        .rev()
        .find(|d| NaiveDate::from_ymd_opt(year, w.month, *d).is_some())
        .ok_or_else(bad)?;
    let mut days = (1..=last_day).filter_map(|d| NaiveDate::from_ymd_opt(year, w.month, d));
    match w.day {
        Day::Nth(n, wd) if (1..=4).contains(&n) => days
            .filter(|d| d.weekday() == weekday(wd))
            .nth(n as usize - 1)
            .ok_or_else(bad),
        Day::Nth(..) => Err(bad()),
        Day::Last(wd) => days
            .rev()
            .find(|d| d.weekday() == weekday(wd))
            .ok_or_else(bad),
        Day::OnOrAfter(from, wd) => days
            .find(|d| d.day() >= from && d.weekday() == weekday(wd))
            .ok_or_else(bad),
    }
}

fn instant(year: i32, w: &When, before: i32) -> Result<i64, String> {
    let midnight = date(year, w)?.and_hms_opt(0, 0, 0).ok_or("midnight")?;
    Ok(midnight.and_utc().timestamp() + w.secs - i64::from(before))
}

impl Model {
    fn changes(&self, year: i32) -> Result<Changes, String> {
        let Some((save, start, end)) = &self.dst else {
            return Ok((self.standard, Vec::new()));
        };
        let dst = self.standard + save;
        let mut out = Vec::new();
        for y in [year, year + 1] {
            out.push((instant(y, start, self.standard)?, dst));
            out.push((instant(y, end, dst)?, self.standard));
        }
        out.sort();
        // In DST on 1 January when the year's DST ends before it starts.
        let southern = instant(year, end, dst)? < instant(year, start, self.standard)?;
        Ok((if southern { dst } else { self.standard }, out))
    }
}

/// What a main file says about the clock.
enum Said {
    /// A value from the vendor's list, standing for its row's zone; with
    /// the standard offset (seconds east) the file states beside it, where
    /// the vendor tells same-named rows apart by it (Yealink's
    /// `Brazil(no DST)` at -3 and at -2).
    Listed(String, Option<i64>),
    /// Grandstream: a POSIX TZ string, listed (`true`) or self-defined.
    Posix(String, bool),
    Model(Model),
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{what}: {s:?} is not a number"))
}

/// A weekday in the vendor's numbering (`first` = Monday's or Sunday's
/// number, 7 values) as 0 = Sunday ... 6 = Saturday; out of range is an error.
fn weekday_of(n: u32, monday_first: bool, what: &str) -> Result<u32, String> {
    match (monday_first, n) {
        (true, 1..=7) => Ok(n % 7),
        (false, 0..=6) => Ok(n),
        _ => Err(format!("{what}: weekday {n} out of range")),
    }
}

/// `+5:30`, `-3:30`, `+1` → minutes.
fn hm(s: &str) -> Result<i32, String> {
    let neg = s.starts_with('-');
    let body = s.trim_start_matches(['+', '-']);
    let (h, m) = body.split_once(':').unwrap_or((body, "0"));
    let v = num::<i32>(h, "hours")? * 60 + num::<i32>(m, "minutes")?;
    Ok(if neg { -v } else { v })
}

/// `2`, `2:45:00` → seconds.
fn clock_time(s: &str) -> Result<i64, String> {
    let mut parts = s.split(':');
    let h: i64 = num(parts.next().unwrap_or("0"), "hour")?;
    let m: i64 = parts.next().map_or(Ok(0), |p| num(p, "minute"))?;
    Ok(h * 3600 + m * 60)
}

fn yealink(body: &str) -> Result<Said, String> {
    let kv: BTreeMap<&str, &str> = body
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let get = |k: &str| kv.get(k).copied().ok_or(format!("no {k}"));
    if let Some(name) = kv.get("local_time.time_zone_name") {
        if get("local_time.summer_time")? != "2" {
            return Err("a name without automatic DST".into());
        }
        let standard = hm(get("local_time.time_zone")?)? * 60;
        return Ok(Said::Listed(name.to_string(), Some(i64::from(standard))));
    }
    let standard = hm(get("local_time.time_zone")?)? * 60;
    let dst = match get("local_time.summer_time")? {
        "0" => None,
        "1" => {
            if get("local_time.dst_time_type")? != "1" {
                return Err("manual DST not by week".into());
            }
            let when = |k: &str| -> Result<When, String> {
                let f: Vec<u32> = get(k)?
                    .split('/')
                    .map(|p| num(p, k))
                    .collect::<Result<_, _>>()?;
                let [month, week, wd, hour] = f[..] else {
                    return Err(format!("{k}: four fields"));
                };
                let wd = weekday_of(wd, true, k)?;
                let day = if week == 5 {
                    Day::Last(wd)
                } else {
                    Day::Nth(week, wd)
                };
                Ok(When {
                    month,
                    day,
                    secs: i64::from(hour) * 3600,
                })
            };
            let save: i32 = num(get("local_time.offset_time")?, "offset_time")?;
            Some((
                save * 60,
                when("local_time.start_time")?,
                when("local_time.end_time")?,
            ))
        }
        other => return Err(format!("summer_time {other} without a name")),
    };
    Ok(Said::Model(Model { standard, dst }))
}

fn xml_children(body: &str) -> Result<BTreeMap<String, String>, String> {
    let doc = roxmltree::Document::parse(body).map_err(|e| e.to_string())?;
    Ok(doc
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| {
            (
                n.tag_name().name().to_string(),
                n.text().unwrap_or("").trim().to_string(),
            )
        })
        .collect())
}

fn cisco(body: &str, v: &Vendor) -> Result<Said, String> {
    let m = xml_children(body)?;
    let get = |k: &str| m.get(k).map(String::as_str).ok_or(format!("no {k}"));
    let zone = get("Time_Zone")?;
    let listed = match zone.strip_prefix("GMT").ok_or("Time_Zone without GMT")? {
        "" => 0,
        t if t.len() == 6 && t.as_bytes()[3] == b':' => hm(t)?,
        t => return Err(format!("Time_Zone GMT{t} is not in Cisco's form")),
    };
    if !v.provisioning.clock.listed_offsets.contains(&listed) {
        return Err(format!(
            "Time_Zone {zone} is not one of Cisco's listed values"
        ));
    }
    let rest = match get("Time_Offset__HH_mm_")? {
        "" => 0,
        r => {
            let (h, mm) = r.split_once('/').ok_or("Time_Offset without /")?;
            num::<i32>(h, "hh")? * 60 + num::<i32>(mm, "mm")?
        }
    };
    let standard = (listed + rest) * 60;
    let dst = match get("Daylight_Saving_Time_Enable")? {
        "No" => None,
        "Yes" => {
            let rule = get("Daylight_Saving_Time_Rule")?;
            let fields: BTreeMap<&str, &str> =
                rule.split(';').filter_map(|f| f.split_once('=')).collect();
            let when = |k: &str| -> Result<When, String> {
                let f: Vec<&str> = fields
                    .get(k)
                    .ok_or(format!("no {k}="))?
                    .split('/')
                    .collect();
                let [month, day, wd, time] = f[..] else {
                    return Err(format!("{k}: four fields"));
                };
                let (day, wd): (i32, u32) = (num(day, "day")?, num(wd, "weekday")?);
                let wd = weekday_of(wd, true, k)?;
                let day = if day == -1 {
                    Day::Last(wd)
                } else {
                    Day::OnOrAfter(day as u32, wd)
                };
                Ok(When {
                    month: num(month, "month")?,
                    day,
                    secs: clock_time(time)?,
                })
            };
            let save = clock_time(fields.get("save").ok_or("no save=")?)? as i32;
            Some((save, when("start")?, when("end")?))
        }
        other => return Err(format!("Daylight_Saving_Time_Enable {other}")),
    };
    Ok(Said::Model(Model { standard, dst }))
}

fn polycom(body: &str) -> Result<Said, String> {
    let doc = roxmltree::Document::parse(body).map_err(|e| e.to_string())?;
    let attrs: BTreeMap<String, String> = doc
        .descendants()
        .flat_map(|n| {
            n.attributes()
                .map(|a| (a.name().to_string(), a.value().to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    let get = |k: &str| {
        attrs
            .get(&format!("tcpIpApp.sntp.{k}"))
            .map(String::as_str)
            .ok_or(format!("no {k}"))
    };
    let standard: i32 = num(get("gmtOffset")?, "gmtOffset")?;
    let dst = match get("daylightSavings.enable")? {
        "0" => None,
        "1" => {
            if get("daylightSavings.fixedDayEnable")? != "0" {
                return Err("fixed-day DST".into());
            }
            let when = |k: &str| -> Result<When, String> {
                let wd = num::<u32>(get(&format!("daylightSavings.{k}.dayOfWeek"))?, "dayOfWeek")?;
                let wd = weekday_of(wd.wrapping_sub(1), false, k)?;
                let day = if get(&format!("daylightSavings.{k}.dayOfWeek.lastInMonth"))? == "1" {
                    Day::Last(wd)
                } else {
                    Day::OnOrAfter(num(get(&format!("daylightSavings.{k}.date"))?, "date")?, wd)
                };
                let hour: i64 = num(get(&format!("daylightSavings.{k}.time"))?, "time")?;
                Ok(When {
                    month: num(get(&format!("daylightSavings.{k}.month"))?, "month")?,
                    day,
                    secs: hour * 3600,
                })
            };
            // No key for the amount: Polycom's DST is one hour.
            Some((3600, when("start")?, when("stop")?))
        }
        other => return Err(format!("daylightSavings.enable {other}")),
    };
    Ok(Said::Model(Model { standard, dst }))
}

fn grandstream(body: &str) -> Result<Said, String> {
    let m = xml_children(body)?;
    match m.get("P64").map(String::as_str) {
        Some("customize") => Ok(Said::Posix(
            m.get("P246").cloned().ok_or("customize without P246")?,
            false,
        )),
        Some(v) => Ok(Said::Posix(v.to_string(), true)),
        None => Err("no P64".into()),
    }
}

fn snom(body: &str) -> Result<Said, String> {
    let m = xml_children(body)?;
    let get = |k: &str| m.get(k).map(String::as_str).ok_or(format!("no {k}"));
    let code = get("timezone")?;
    if !code.is_empty() {
        return Ok(Said::Listed(code.to_string(), None));
    }
    let standard: i32 = num(get("utc_offset")?.trim_start_matches('+'), "utc_offset")?;
    let dst = match get("dst")? {
        "" => None,
        d => {
            let f: Vec<&str> = d.split_whitespace().collect();
            let [save, sd, st, ed, et] = f[..] else {
                return Err(format!("dst {d:?}"));
            };
            let when = |d: &str, t: &str| -> Result<When, String> {
                let p: Vec<u32> = d
                    .split('.')
                    .map(|x| num(x, "dst date"))
                    .collect::<Result<_, _>>()?;
                let [month, week, wd] = p[..] else {
                    return Err(format!("dst date {d}"));
                };
                let wd = weekday_of(wd, true, "dst")?;
                let day = if week == 5 {
                    Day::Last(wd)
                } else {
                    Day::Nth(week, wd)
                };
                Ok(When {
                    month,
                    day,
                    secs: clock_time(t)?,
                })
            };
            Some((num(save, "save")?, when(sd, st)?, when(ed, et)?))
        }
    };
    Ok(Said::Model(Model { standard, dst }))
}

fn fanvil(body: &str) -> Result<Said, String> {
    let m = xml_children(body)?;
    let get = |k: &str| m.get(k).map(String::as_str).ok_or(format!("no {k}"));
    let standard = num::<i32>(get("TimeZone")?, "TimeZone")? * 15 * 60;
    let dst = match get("EnableDST")? {
        "0" => None,
        "2" => {
            if get("DSTFixedType")? != "2" {
                return Err("DST not by week".into());
            }
            let when = |k: &str| -> Result<When, String> {
                let n = |f: &str| num::<i32>(get(&format!("DST{k}{f}"))?, f);
                let wd = weekday_of(n("Wday")? as u32, false, k)?;
                let day = match n("Week")? {
                    -1 => Day::Last(wd),
                    w => Day::Nth(w as u32, wd),
                };
                Ok(When {
                    month: n("Mon")? as u32,
                    day,
                    secs: i64::from(n("Hour")?) * 3600,
                })
            };
            Some((
                num::<i32>(get("DSTMinOffset")?, "DSTMinOffset")? * 60,
                when("Start")?,
                when("End")?,
            ))
        }
        other => return Err(format!("EnableDST {other}")),
    };
    Ok(Said::Model(Model { standard, dst }))
}

fn said(v: &Vendor, body: &str) -> Result<Said, String> {
    match v.id {
        "yealink" => yealink(body),
        "cisco" => cisco(body, v),
        "polycom" => polycom(body),
        "grandstream" => grandstream(body),
        "snom" => snom(body),
        "fanvil" => fanvil(body),
        other => Err(format!("no reader for {other}")),
    }
}

/// A zone's standard offset (seconds east, DST left out) at the start of `year`.
fn standard_offset(tz: Tz, year: i32) -> i64 {
    use chrono::Offset;
    let start = tz.offset_from_utc_datetime(
        &NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("a date"),
    );
    i64::from(start.fix().local_minus_utc()) - start.dst_offset().num_seconds()
}

/// The clock a phone keeps from what its file says, over the two years.
fn kept(
    v: &Vendor,
    said: &Said,
    year: i32,
    zones: &mut HashMap<Tz, Changes>,
) -> Result<Changes, String> {
    let rows = v.provisioning.timezone_names;
    let listed_zone = |value: &str, standard: Option<i64>| -> Result<Tz, String> {
        let named: Vec<Tz> = rows
            .iter()
            .filter(|(_, val)| *val == value)
            .filter_map(|(zone, _)| zone.parse::<Tz>().ok())
            .collect();
        // Several rows of one name: the one whose offset the file states;
        // a single row stands for its zone whatever tzdata calls standard
        // (Dublin's winter is "negative DST" there).
        named
            .iter()
            .copied()
            .find(|tz| named.len() > 1 && standard.is_some_and(|s| standard_offset(*tz, year) == s))
            .or(named.first().copied())
            .ok_or(format!(
                "{value:?} is not one of {}'s listed values",
                v.name
            ))
    };
    match said {
        Said::Listed(value, standard) => {
            let tz = listed_zone(value, *standard)?;
            Ok(zones
                .entry(tz)
                .or_insert_with(|| scan(&chrono_offset(tz), year))
                .clone())
        }
        Said::Posix(s, listed) => {
            let paired = if *listed {
                Some(listed_zone(s, None)?)
            } else {
                None
            };
            let settings = tz::timezone::TimeZoneSettings::new(&[], |_| Err("no files".into()));
            let zone = match (settings.parse_posix_tz(s), paired) {
                (Ok(zone), _) => zone,
                // A listed value that is not plain POSIX (no rule given)
                // stands for its row's zone, as other vendors' names do.
                (Err(_), Some(tz)) => {
                    return Ok(zones
                        .entry(tz)
                        .or_insert_with(|| scan(&chrono_offset(tz), year))
                        .clone());
                }
                (Err(e), None) => return Err(format!("{s:?}: {e}")),
            };
            Ok(scan(
                &|t| {
                    zone.find_local_time_type(t)
                        .map(|l| l.ut_offset())
                        .unwrap_or(i32::MIN)
                },
                year,
            ))
        }
        Said::Model(m) => m.changes(year),
    }
}

// ---- which zones cannot be expressed, judged here on their own -------------

/// The ways a change can be named by weekday in its year.
fn names(at: i64, before: i32) -> Vec<(u32, u32, bool, u32, i64)> {
    let local = chrono::DateTime::from_timestamp(at + i64::from(before), 0)
        .unwrap()
        .naive_utc();
    let d = local.date();
    let secs = i64::from(local.hour() * 3600 + local.minute() * 60 + local.second());
    let wd = d.weekday().num_days_from_sunday();
    let last = d
        .checked_add_days(chrono::Days::new(7))
        .is_none_or(|n| n.month() != d.month());
    let mut out = vec![(d.month(), (d.day() - 1) / 7 + 1, false, wd, secs)];
    if last {
        out.push((d.month(), 0, true, wd, secs));
    }
    out
}

/// Whether no single weekday rule gives the zone's changes in both years.
fn irregular(truth: &Changes, year: i32) -> bool {
    if truth.1.is_empty() {
        return false;
    }
    let mut totals: Vec<i32> = truth.1.iter().map(|c| c.1).chain([truth.0]).collect();
    totals.sort();
    totals.dedup();
    let [low, high] = totals[..] else { return true };
    let in_year = |y: i32| -> Vec<(i64, i32)> {
        truth
            .1
            .iter()
            .copied()
            .filter(|c| c.0 >= year_start(y) && c.0 < year_start(y + 1))
            .collect()
    };
    let (a, b) = (in_year(year), in_year(year + 1));
    if a.len() != 2 || b.len() != 2 {
        return true;
    }
    for to in [high, low] {
        let before = if to == high { low } else { high };
        let pick = |cs: &[(i64, i32)]| cs.iter().find(|c| c.1 == to).map(|c| names(c.0, before));
        let (Some(x), Some(y)) = (pick(&a), pick(&b)) else {
            return true;
        };
        if !x.iter().any(|n| y.contains(n)) {
            return true;
        }
    }
    false
}

/// The DST amount (minutes) of a zone with two offsets.
fn save_minutes(truth: &Changes) -> Option<i32> {
    let mut totals: Vec<i32> = truth.1.iter().map(|c| c.1).chain([truth.0]).collect();
    totals.sort();
    totals.dedup();
    match totals[..] {
        [low, high] => Some((high - low) / 60),
        _ => None,
    }
}

#[test]
fn every_zone_every_vendor_keeps_the_zones_clock_or_warns() {
    // The engine judges the year of the rendering and the next one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let year = chrono::DateTime::from_timestamp(now as i64, 0)
        .expect("now")
        .year();
    let (csv, phones) = spreadsheet();
    let p = provisioner(csv);
    let mut truths: HashMap<Tz, Changes> = HashMap::new();
    let mut listed: HashMap<Tz, Changes> = HashMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut warned: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (v, tz, mac, model) in &phones {
        let truth = truths
            .entry(*tz)
            .or_insert_with(|| scan(&chrono_offset(*tz), year))
            .clone();
        let file = v
            .main_file()
            .and_then(|r| r.file_name_for(*mac, Some(model)))
            .expect("main file name");
        let req = Request {
            path: &format!("/{file}"),
            user_agent: None,
            channel: Channel::Secure,
            https_url: Some("https://prov.example.test:8443/"),
            http_url: None,
        };
        let served = match p.respond(&req) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{} {}: {e}", v.id, tz.name()));
                continue;
            }
        };
        let body = String::from_utf8(served.body).expect("UTF-8");
        let label = format!("{} {}", v.id, tz.name());
        let said = match said(v, &body) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let is_listed = matches!(said, Said::Listed(..)) || matches!(said, Said::Posix(_, true));
        let keeps = kept(v, &said, year, &mut listed);
        if served.warnings.is_empty() {
            match keeps {
                Ok(k) => {
                    if let Err(e) = agree(&k, &truth) {
                        failures.push(format!("{label}: {e}"));
                    }
                }
                Err(e) => failures.push(format!("{label}: {e}")),
            }
            if irregular(&truth, year) {
                failures.push(format!("{label}: irregular, but no warning"));
            }
            let (lo, hi) = v.provisioning.clock.dst_save_minutes;
            if !is_listed && save_minutes(&truth).is_some_and(|s| !(lo..=hi).contains(&s)) {
                failures.push(format!(
                    "{label}: a DST amount {} cannot set, but no warning",
                    v.name
                ));
            }
        } else {
            if let Err(e) = keeps {
                failures.push(format!("{label}: {e}"));
            }
            for w in &served.warnings {
                if !w.starts_with(&format!("{}: ", tz.name())) {
                    failures.push(format!("{label}: the warning does not name the zone: {w}"));
                }
            }
            let (lo, hi) = v.provisioning.clock.dst_save_minutes;
            let cannot = irregular(&truth, year)
                || save_minutes(&truth).is_some_and(|s| !(lo..=hi).contains(&s));
            if !cannot {
                failures.push(format!(
                    "{label}: warned, but expressible: {:?}",
                    served.warnings
                ));
            }
            warned.entry(v.id).or_default().push(tz.name().to_string());
        }
    }
    for (vendor, zones) in &warned {
        eprintln!("{vendor}: {} zones warn: {}", zones.len(), zones.join(", "));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (vendor, zones) in &warned {
        assert!(zones.len() <= 25, "{vendor}: {} zones warn", zones.len());
    }
    // The known irregular ones are among them, for every vendor.
    for v in VENDORS {
        let zones = warned.get(v.id).cloned().unwrap_or_default();
        assert!(zones.iter().any(|z| z == "Africa/Casablanca"), "{}", v.id);
    }
}
