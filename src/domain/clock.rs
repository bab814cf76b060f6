//! Wall-clock time as the records and reports write it.

/// Now, in UTC, as RFC 3339 (`2026-12-02T09:30:00Z`): the one timestamp
/// form of import history, fetch logs, token records and source runs.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
