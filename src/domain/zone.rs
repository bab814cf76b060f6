//! What an IANA zone's clock does over two calendar years, read from
//! chrono-tz's tables: every change of UTC offset, and the one weekday rule
//! (POSIX `Mm.w.d/t`) that describes them when there is one.
//!
//! Phones take a zone either by a name from their vendor's own list or as a
//! standard offset plus such a rule; this is what both are judged against.
//! "The years" are the calendar year of the rendering and the next one: a
//! rule that is right today but wrong next spring is not right.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use serde::Serialize;

/// One change of a zone's total UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Change {
    /// Unix time of the first second under the new offset.
    pub at: i64,
    /// Offsets east of UTC in seconds, before and after.
    pub before: i32,
    pub after: i32,
}

/// When DST starts and ends, as POSIX `Mm.w.d/time` rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DstRule {
    /// Minutes added to the standard offset during DST (always positive:
    /// the period with the larger offset is the DST one).
    pub save_minutes: i32,
    pub start: DstChange,
    pub end: DstChange,
}

/// One DST change: weekday `weekday` (0 = Sunday) of week `week` (1-4, or
/// 5 = the last one) of month `month` (1-12), at `minute` minutes after
/// local midnight by the clock in force before the change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DstChange {
    pub month: u32,
    pub week: u32,
    pub weekday: u32,
    pub minute: u32,
}

/// How a zone's clock can be told to a phone over the two years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// One offset (seconds east of UTC) throughout.
    Fixed { offset: i32 },
    /// A standard offset and one DST period a year, on a weekday rule that
    /// gives every change of both years to the second.
    Rule { standard: i32, rule: DstRule },
    /// Changes no single weekday rule describes (Ramadan-bound DST, a
    /// permanent move, more than one DST period a year). `offset` is the one
    /// in force longest over the two years.
    Irregular { offset: i32, why: String },
}

/// What a zone does over the two years starting with `year`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub year: i32,
    /// The offset at the start and every change: equal for two zones
    /// exactly when their clocks agree over the whole span.
    pub signature: (i32, Vec<(i64, i32)>),
    pub shape: Shape,
}

/// [`analyse_uncached`], kept per zone and year: every rendering and every
/// vendor's "same rules" look-up asks for the same few zones.
pub fn analyse(tz: Tz, year: i32) -> Arc<Analysis> {
    type Cache = HashMap<(Tz, i32), Arc<Analysis>>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(a) = cache.lock().ok().and_then(|c| c.get(&(tz, year)).cloned()) {
        return a;
    }
    let a = Arc::new(analyse_uncached(tz, year));
    if let Ok(mut c) = cache.lock() {
        c.insert((tz, year), a.clone());
    }
    a
}

/// The zone's changes over `year` and `year + 1`, and their shape.
pub fn analyse_uncached(tz: Tz, year: i32) -> Analysis {
    let (from, to) = (year_start(year), year_start(year + 2));
    let all = changes(tz, from, to);
    let start = offset_at(tz, from);
    let shape = shape_of(year, start, &all, (from, to));
    Analysis {
        year,
        signature: (start, all.iter().map(|c| (c.at, c.after)).collect()),
        shape,
    }
}

/// The calendar year (UTC) of Unix time `now`.
pub fn year_of(now: i64) -> i32 {
    chrono::DateTime::from_timestamp(now, 0).map_or(2026, |d| d.year())
}

/// Unix time of 1 January `year`, 00:00 UTC.
pub fn year_start(year: i32) -> i64 {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp())
}

/// Total offset (seconds east of UTC) in force at Unix time `secs`.
pub fn offset_at(tz: Tz, secs: i64) -> i32 {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| {
            let o = tz.offset_from_utc_datetime(&d.naive_utc());
            o.base_utc_offset().num_seconds() + o.dst_offset().num_seconds()
        })
        .and_then(|s| i32::try_from(s).ok())
        .unwrap_or(0)
}

/// The zone's abbreviation at `secs` (`CET`, or tzdata's numeric `-03`).
pub fn abbreviation_at(tz: Tz, secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .and_then(|d| {
            tz.offset_from_utc_datetime(&d.naive_utc())
                .abbreviation()
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Every change of total offset in `[from, to)`: found day by day, then to
/// the second (no zone changes twice within a day).
pub fn changes(tz: Tz, from: i64, to: i64) -> Vec<Change> {
    let mut out = Vec::new();
    let mut prev = offset_at(tz, from);
    let mut t = from;
    while t < to {
        let next = (t + 86_400).min(to);
        let cur = offset_at(tz, next);
        if cur != prev {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, mid) == prev {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            if hi < to {
                out.push(Change {
                    at: hi,
                    before: prev,
                    after: cur,
                });
            }
            prev = cur;
        }
        t = next;
    }
    out
}

/// Sorts the span's changes into one of the [`Shape`]s.
fn shape_of(year: i32, start: i32, all: &[Change], span: (i64, i64)) -> Shape {
    if all.is_empty() {
        return Shape::Fixed { offset: start };
    }
    let irregular = |why: String| Shape::Irregular {
        offset: longest_offset(start, all, span),
        why,
    };
    let mut totals: Vec<i32> = all.iter().map(|c| c.after).chain([start]).collect();
    totals.sort_unstable();
    totals.dedup();
    let [standard, dst] = totals[..] else {
        return irregular(format!(
            "it uses {} different UTC offsets in {}-{}",
            totals.len(),
            year,
            year + 1
        ));
    };
    let per_year = |y: i32| -> Vec<&Change> {
        all.iter()
            .filter(|c| c.at >= year_start(y) && c.at < year_start(y + 1))
            .collect()
    };
    let (first, second) = (per_year(year), per_year(year + 1));
    if first.len() != 2 || second.len() != 2 {
        return irregular(format!(
            "it changes its clock {} times in {} and {} times in {}",
            first.len(),
            year,
            second.len(),
            year + 1
        ));
    }
    let (Some(on), Some(off)) = (
        first.iter().find(|c| c.after == dst),
        first.iter().find(|c| c.after == standard),
    ) else {
        return irregular(format!("it has no DST period in {year}"));
    };
    let save = (dst - standard) / 60;
    let start_local = local(on.at, standard);
    let end_local = local(off.at, dst);
    for s in candidates(start_local) {
        for e in candidates(end_local) {
            let rule = DstRule {
                save_minutes: save,
                start: s.clone(),
                end: e.clone(),
            };
            if reproduces(&rule, standard, all, year) {
                return Shape::Rule { standard, rule };
            }
        }
    }
    irregular(format!(
        "its DST dates in {}-{} follow no weekday rule",
        year,
        year + 1
    ))
}

/// The local date and time of Unix time `at` on a clock `offset` east of UTC.
fn local(at: i64, offset: i32) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(at + i64::from(offset), 0)
        .unwrap_or_default()
        .naive_utc()
}

/// The ways a date can be named by weekday: the n-th one of its month and,
/// when it is the last one, "last" (tried first, as tzdata writes it).
fn candidates(at: chrono::NaiveDateTime) -> Vec<DstChange> {
    let date = at.date();
    let nth = (date.day() - 1) / 7 + 1;
    let last = date.day() + 7 > days_in_month(date.year(), date.month());
    let change = |week| DstChange {
        month: date.month(),
        week,
        weekday: date.weekday().num_days_from_sunday(),
        minute: at.hour() * 60 + at.minute(),
    };
    let mut out = Vec::new();
    if last {
        out.push(change(5));
    }
    if nth <= 4 {
        out.push(change(nth));
    }
    out
}

fn days_in_month(year: i32, month: u32) -> u32 {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|f| f.checked_add_months(chrono::Months::new(1)))
        .and_then(|n| n.pred_opt())
        .map_or(31, |l| l.day())
}

/// The date a weekday rule names in `year`.
pub fn rule_date(year: i32, c: &DstChange) -> Option<NaiveDate> {
    let weekday = chrono::Weekday::try_from(u8::try_from((c.weekday + 6) % 7).ok()?).ok()?;
    if c.week >= 5 {
        let last = NaiveDate::from_ymd_opt(year, c.month, days_in_month(year, c.month))?;
        let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
        last.checked_sub_days(chrono::Days::new(u64::from(back)))
    } else {
        NaiveDate::from_weekday_of_month_opt(year, c.month, weekday, u8::try_from(c.week).ok()?)
    }
}

/// Unix time at which `c` happens in `year` on a clock `before` east of UTC.
pub fn rule_instant(year: i32, c: &DstChange, before: i32) -> Option<i64> {
    let date = rule_date(year, c)?;
    let midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some(midnight + i64::from(c.minute) * 60 - i64::from(before))
}

/// Whether `rule` gives every change in `all` (over `year` and the next).
fn reproduces(rule: &DstRule, standard: i32, all: &[Change], year: i32) -> bool {
    let dst = standard + rule.save_minutes * 60;
    let mut want: Vec<(i64, i32)> = Vec::new();
    for y in [year, year + 1] {
        let (Some(on), Some(off)) = (
            rule_instant(y, &rule.start, standard),
            rule_instant(y, &rule.end, dst),
        ) else {
            return false;
        };
        want.push((on, dst));
        want.push((off, standard));
    }
    want.sort_unstable();
    let have: Vec<(i64, i32)> = all.iter().map(|c| (c.at, c.after)).collect();
    want == have
}

/// The offset in force for the longest time over `span`.
fn longest_offset(start: i32, all: &[Change], span: (i64, i64)) -> i32 {
    let mut time: HashMap<i32, i64> = HashMap::new();
    let mut since = span.0;
    let mut current = start;
    for c in all {
        *time.entry(current).or_default() += c.at - since;
        since = c.at;
        current = c.after;
    }
    *time.entry(current).or_default() += span.1 - since;
    time.into_iter()
        .max_by_key(|(offset, secs)| (*secs, *offset))
        .map_or(start, |(offset, _)| offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(zone: &str) -> Shape {
        analyse_uncached(zone.parse().unwrap(), 2026).shape
    }

    #[test]
    fn shapes() {
        let Shape::Rule { standard, rule } = shape("Europe/Berlin") else {
            panic!("Berlin has a rule");
        };
        assert_eq!(standard, 3600);
        assert_eq!(
            (rule.start.month, rule.start.week, rule.start.weekday),
            (3, 5, 0)
        );
        assert_eq!((rule.start.minute, rule.end.minute), (120, 180));
        let Shape::Rule { rule, .. } = shape("America/New_York") else {
            panic!("New York has a rule");
        };
        assert_eq!((rule.start.week, rule.end.month, rule.end.week), (2, 11, 1));
        // Southern hemisphere: DST starts in October and ends in April.
        let Shape::Rule { rule, .. } = shape("Australia/Sydney") else {
            panic!("Sydney has a rule");
        };
        assert_eq!((rule.start.month, rule.end.month), (10, 4));
        // Chatham: +12:45, changes at 2:45 standard time.
        let Shape::Rule { standard, rule } = shape("Pacific/Chatham") else {
            panic!("Chatham has a rule");
        };
        assert_eq!((standard, rule.start.minute), (45_900, 165));
        assert_eq!(shape("Asia/Kolkata"), Shape::Fixed { offset: 19_800 });
        assert_eq!(shape("America/Sao_Paulo"), Shape::Fixed { offset: -10_800 });
        // Morocco leaves +01 for Ramadan, whose dates move every year.
        let Shape::Irregular { offset, .. } = shape("Africa/Casablanca") else {
            panic!("Casablanca is irregular");
        };
        assert_eq!(offset, 3600);
    }

    #[test]
    fn rule_dates() {
        let last_sunday_march = DstChange {
            month: 3,
            week: 5,
            weekday: 0,
            minute: 120,
        };
        assert_eq!(
            rule_date(2026, &last_sunday_march),
            NaiveDate::from_ymd_opt(2026, 3, 29)
        );
        let second_sunday = DstChange {
            week: 2,
            ..last_sunday_march
        };
        assert_eq!(
            rule_date(2027, &second_sunday),
            NaiveDate::from_ymd_opt(2027, 3, 14)
        );
    }

    #[test]
    fn equal_clocks_have_equal_signatures() {
        let a = analyse("Europe/Berlin".parse().unwrap(), 2026);
        let b = analyse("Europe/Paris".parse().unwrap(), 2026);
        let c = analyse("Europe/London".parse().unwrap(), 2026);
        assert_eq!(a.signature, b.signature);
        assert_ne!(a.signature, c.signature);
    }
}
