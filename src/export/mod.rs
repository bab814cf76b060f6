//! Exports: the CSV with the canonical columns, round-trippable through
//! import, and what each SIP registrar loads (`registrar`, one file per
//! registrar: `kamailio`, `asterisk`, `freeswitch`).
//!
//! CSV: secrets are left out unless asked for (the import reads an absent
//! secret column as "keep"), and cells a spreadsheet would run as a formula
//! get a leading `'` that the import strips again.

use std::io::Write;

use crate::domain::{Site, User};

pub mod asterisk;
pub mod freeswitch;
pub mod kamailio;
pub mod registrar;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    /// A registrar file without passwords would either fail every
    /// REGISTER or, worse, let an empty password through.
    #[error(
        "--format {0} writes SIP passwords for the registrar: add --include-secrets (include_secrets=1 in the API)"
    )]
    SecretsRequired(&'static str),
    /// A value the target format cannot carry safely (named, never shown).
    #[error("cannot write user {user}'s {field} as {format}: {why}")]
    Unwritable {
        user: String,
        field: &'static str,
        format: &'static str,
        why: &'static str,
    },
}

/// What `autoprov export --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The canonical CSV (the default, round-trips through import).
    #[default]
    Csv,
    /// Kamailio `subscriber` rows as SQL (auth_db over MySQL, PostgreSQL, SQLite).
    Kamailio,
    /// Kamailio `subscriber` table as a db_text file.
    KamailioDbtext,
    /// Asterisk PJSIP `pjsip.conf` endpoint/auth/aor sections.
    Asterisk,
    /// FreeSWITCH directory XML users.
    Freeswitch,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Csv,
        Format::Kamailio,
        Format::KamailioDbtext,
        Format::Asterisk,
        Format::Freeswitch,
    ];

    /// The name `--format` and the API's `format=` take.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Kamailio => "kamailio",
            Format::KamailioDbtext => "kamailio-dbtext",
            Format::Asterisk => "asterisk",
            Format::Freeswitch => "freeswitch",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Kamailio => "application/sql; charset=utf-8",
            Format::Freeswitch => "application/xml; charset=utf-8",
            Format::KamailioDbtext | Format::Asterisk => "text/plain; charset=utf-8",
        }
    }
}

/// Writes every user in `format`. Registrar formats need `include_secrets`
/// (they exist to carry the SIP passwords) and the sites (the SIP domain).
pub fn write<W: Write>(
    out: W,
    format: Format,
    users: &[User],
    sites: &[Site],
    include_secrets: bool,
) -> Result<(), ExportError> {
    if format == Format::Csv {
        return write_csv(out, users, include_secrets);
    }
    if !include_secrets {
        return Err(ExportError::SecretsRequired(format.name()));
    }
    let accounts = registrar::accounts(users, sites);
    match format {
        Format::Kamailio => kamailio::write_sql(out, &accounts),
        Format::KamailioDbtext => kamailio::write_dbtext(out, &accounts),
        Format::Asterisk => asterisk::write_pjsip(out, &accounts),
        Format::Freeswitch => freeswitch::write_directory(out, &accounts),
        Format::Csv => Ok(()),
    }
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
