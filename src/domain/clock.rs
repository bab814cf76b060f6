//! Wall-clock time as the records and reports write it.

/// Now, in UTC, as RFC 3339 (`2026-12-02T09:30:00Z`): the one timestamp
/// form of import history, fetch logs, token records and source runs.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Now, in UTC, as RFC 3339 to the second: fetch records, where the
/// nanoseconds only made listings harder to read.
pub fn now_rfc3339_seconds() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A stored RFC 3339 UTC time as people read it: `2026-12-02 09:30:00 UTC`,
/// without fractions of a second. Anything else is shown as it is.
pub fn human(rfc3339: &str) -> String {
    let Some((date, rest)) = rfc3339.split_once('T') else {
        return rfc3339.to_string();
    };
    let clock = rest.trim_end_matches('Z');
    let clock = clock.split('.').next().unwrap_or(clock);
    if rest.ends_with('Z') {
        format!("{date} {clock} UTC")
    } else {
        rfc3339.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_times() {
        assert_eq!(
            super::human("2026-12-02T09:30:00.123456789Z"),
            "2026-12-02 09:30:00 UTC"
        );
        assert_eq!(
            super::human("2026-12-02T09:30:00Z"),
            "2026-12-02 09:30:00 UTC"
        );
        assert_eq!(super::human("garbage"), "garbage");
        assert!(!super::now_rfc3339_seconds().contains('.'));
    }
}
