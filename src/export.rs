//! CSV export with the canonical columns, round-trippable through import.
//!
//! Secrets are left out unless asked for (the import reads an absent secret
//! column as "keep"), and cells a spreadsheet would run as a formula get a
//! leading `'` that the import strips again.

use std::io::Write;

use crate::domain::User;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Prefixes `'` to a cell Excel/LibreOffice would evaluate (`=`, `+`, `-`, `@`,
/// tab, CR at the start), defusing CSV formula injection.
pub fn guard(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn joined<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(";")
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(guard).unwrap_or_default()
}

/// Writes every user, sorted by username, as CSV (UTF-8, `,`, header row).
pub fn write_csv<W: Write>(
    out: W,
    users: &[User],
    include_secrets: bool,
) -> Result<(), ExportError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    let mut header = vec![
        "username",
        "first_name",
        "last_name",
        "display_name",
        "email",
        "mobile",
        "extension",
        "sip_username",
    ];
    if include_secrets {
        header.extend(["sip_password", "voicemail_pin"]);
    }
    header.extend([
        "enabled",
        "language",
        "timezone",
        "transport",
        "mac",
        "phone_model",
        "phoneip",
        "blf",
        "site",
    ]);
    w.write_record(&header)?;
    let mut sorted: Vec<&User> = users.iter().collect();
    sorted.sort_by(|a, b| a.username.cmp(&b.username));
    for u in sorted {
        // The CSV has one transport per user; every line carries the same.
        let line = u.lines.first();
        // Mobile numbers keep their '+': only digits follow, nothing to evaluate.
        let mut rec = vec![
            u.username.clone(),
            opt(&u.first_name),
            opt(&u.last_name),
            opt(&u.display_name),
            opt(&u.email),
            u.mobile.clone().unwrap_or_default(),
            joined(&u.lines, |l| l.extension.clone()),
            if u.lines.iter().any(|l| l.sip_username.is_some()) {
                joined(&u.lines, |l| l.sip_username.clone().unwrap_or_default())
            } else {
                String::new()
            },
        ];
        if include_secrets {
            // Several lines: one password per extension, `;`-separated, as
            // the import reads them back.
            rec.push(guard(&joined(&u.lines, |l| l.sip_password.clone())));
            rec.push(u.voicemail_pin.clone().unwrap_or_default());
        }
        rec.extend([
            u.enabled.to_string(),
            u.language.clone().unwrap_or_default(),
            u.timezone.clone().unwrap_or_default(),
            line.and_then(|l| l.transport)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            joined(&u.phones, |p| p.mac.plain()),
            joined(&u.phones, |p| match &p.model {
                Some(m) => format!("{}-{m}", p.vendor),
                None => p.vendor.clone(),
            }),
            if u.phones.iter().any(|p| p.ip.is_some()) {
                joined(&u.phones, |p| {
                    p.ip.map(|i| i.to_string()).unwrap_or_default()
                })
            } else {
                String::new()
            },
            joined(&u.blf, |b| match &b.label {
                Some(l) => format!("{}:{l}", b.extension),
                None => b.extension.clone(),
            }),
            guard(&u.site),
        ]);
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::guard;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(guard("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(guard("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(guard("-2+3"), "'-2+3");
        assert_eq!(guard("Alice"), "Alice");
    }
}
