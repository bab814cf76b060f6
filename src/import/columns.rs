//! Map step: header cells → canonical columns, with the aliases other PBX
//! products write (pascom, Wazo, PortSIP, Fonality, Carusto).

use super::report::Issue;

/// Every column autoprov understands, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Username,
    FirstName,
    LastName,
    DisplayName,
    Email,
    Mobile,
    Extension,
    SipPassword,
    SipUsername,
    WebPassword,
    VoicemailPin,
    Enabled,
    Language,
    Timezone,
    Transport,
    Mac,
    PhoneModel,
    PhoneIp,
    Phones,
    Blf,
    Site,
    Settings,
}

impl Column {
    pub const ALL: [Column; 22] = [
        Column::Username,
        Column::FirstName,
        Column::LastName,
        Column::DisplayName,
        Column::Email,
        Column::Mobile,
        Column::Extension,
        Column::SipPassword,
        Column::SipUsername,
        Column::WebPassword,
        Column::VoicemailPin,
        Column::Enabled,
        Column::Language,
        Column::Timezone,
        Column::Transport,
        Column::Mac,
        Column::PhoneModel,
        Column::PhoneIp,
        Column::Phones,
        Column::Blf,
        Column::Site,
        Column::Settings,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::Username => "username",
            Column::FirstName => "first_name",
            Column::LastName => "last_name",
            Column::DisplayName => "display_name",
            Column::Email => "email",
            Column::Mobile => "mobile",
            Column::Extension => "extension",
            Column::SipPassword => "sip_password",
            Column::SipUsername => "sip_username",
            Column::WebPassword => "web_password",
            Column::VoicemailPin => "voicemail_pin",
            Column::Enabled => "enabled",
            Column::Language => "language",
            Column::Timezone => "timezone",
            Column::Transport => "transport",
            Column::Mac => "mac",
            Column::PhoneModel => "phone_model",
            Column::PhoneIp => "phoneip",
            Column::Phones => "phones",
            Column::Blf => "blf",
            Column::Site => "site",
            Column::Settings => "settings",
        }
    }

    /// Header spellings seen in the wild, beyond the canonical name.
    /// `name` is absent on purpose: it is ambiguous (see [`resolve_name`]).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Username => &["web_username", "login", "user"],
            Column::FirstName => &["firstname", "givenname", "first name"],
            Column::LastName => &["lastname", "surname", "last name"],
            Column::DisplayName => &["displayname"],
            Column::Email => &["mail", "e-mail"],
            Column::Mobile => &["mobile_phone_number"],
            Column::Extension => &["exten", "extension_number", "phone"],
            Column::SipPassword => &["extension_password", "sippassword", "sip_secret", "secret"],
            Column::SipUsername => &["sip_user", "auth_name"],
            Column::WebPassword => &["password"],
            Column::VoicemailPin => &["pin", "vm_pin", "voicemail_password"],
            Column::Enabled => &[],
            Column::Language => &["lang", "voicemail_prompt"],
            Column::Timezone => &["tz", "time_zone"],
            Column::Transport => &["preferred_transport"],
            Column::Mac => &[
                "phonemac",
                "device mac address",
                "mac_address",
                "device_mac",
            ],
            Column::PhoneModel => &["model", "device_model"],
            Column::PhoneIp => &["phone_ip"],
            Column::Phones => &[],
            Column::Blf => &["blfs", "busy_lamps"],
            Column::Site => &["group", "location"],
            Column::Settings => &["phone_settings"],
        }
    }

    /// Secret columns: their values never appear in reports.
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            Column::SipPassword | Column::WebPassword | Column::VoicemailPin
        )
    }
}

/// Case-insensitive, ignoring spaces, `_` and `-` (docs/reference/csv.md).
fn fold(header: &str) -> String {
    header
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '\u{a0}'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn lookup(folded: &str) -> Option<Column> {
    Column::ALL
        .iter()
        .copied()
        .find(|c| fold(c.name()) == folded || c.aliases().iter().any(|a| fold(a) == folded))
}

/// Which header index feeds each column.
#[derive(Debug, Clone, Default)]
pub struct ColumnMap {
    slots: [Option<usize>; Column::ALL.len()],
}

impl ColumnMap {
    pub fn get(&self, c: Column) -> Option<usize> {
        self.slots[c as usize]
    }

    pub fn has(&self, c: Column) -> bool {
        self.get(c).is_some()
    }

    fn set(&mut self, c: Column, idx: usize) {
        self.slots[c as usize] = Some(idx);
    }
}

/// PortSIP's `name` is the login; Carusto's `Name` is the display name.
/// Decide from the rest of the header.
fn resolve_name(folded_headers: &[String]) -> Column {
    let has = |c: Column| {
        folded_headers
            .iter()
            .any(|h| h != "name" && lookup(h) == Some(c))
    };
    if has(Column::Username) {
        Column::DisplayName
    } else if has(Column::DisplayName) {
        Column::Username
    } else if folded_headers
        .iter()
        .any(|h| h == "sippassword" || h == "groupid")
    {
        Column::DisplayName
    } else {
        Column::Username
    }
}

/// The closest canonical name or alias, for "did you mean".
fn suggestion(folded: &str) -> Option<&'static str> {
    let mut best: Option<(f64, &'static str)> = None;
    for c in Column::ALL {
        for cand in std::iter::once(c.name()).chain(c.aliases().iter().copied()) {
            let score = strsim::jaro_winkler(folded, &fold(cand));
            if score >= 0.85 && best.is_none_or(|(s, _)| score > s) {
                best = Some((score, c.name()));
            }
        }
    }
    best.map(|(_, n)| n)
}

/// A header that is probably `known` misspelled, while the file has no
/// `known` column: its cells would be dropped without a word.
fn misspelled(raw: &str, known: &str, header_line: usize) -> Issue {
    Issue::file(
        "E_UNKNOWN_COLUMN",
        Some(header_line),
        Some(raw.to_string()),
        format!(
            "column {raw:?} is not a column autoprov knows; did you mean {known}? \
             Rename the header to {known}, or choose to ignore the column {raw:?} \
             (its cells are then not imported)"
        ),
    )
}

/// Maps the header. File-level errors (duplicate mapping, missing `username`)
/// come back as `Err`; unknown columns are warnings.
pub fn map_header(
    headers: &[String],
    header_line: usize,
) -> Result<(ColumnMap, Vec<Issue>), Vec<Issue>> {
    map_header_ignoring(headers, header_line, &[])
}

/// [`map_header`], with the columns the admin chose to ignore
/// (`--ignore-column`, `ignore_column=`): an unknown column that looks
/// like a misspelled known one (the "did you mean" distance) is an error,
/// since its data would silently go missing, unless it is named in
/// `ignore`; a named column is skipped even if it is a known one.
pub fn map_header_ignoring(
    headers: &[String],
    header_line: usize,
    ignore: &[String],
) -> Result<(ColumnMap, Vec<Issue>), Vec<Issue>> {
    let ignored: Vec<String> = ignore.iter().map(|h| fold(h)).collect();
    let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
    // Columns that the header feeds by name or alias: a near miss of one of
    // them is an extra column, not the only copy of its data.
    let present: Vec<Column> = folded
        .iter()
        .filter(|f| !ignored.contains(f))
        .filter_map(|f| lookup(f))
        .collect();
    let mut map = ColumnMap::default();
    let mut seen: Vec<(Column, usize)> = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for (idx, (raw, f)) in headers.iter().zip(&folded).enumerate() {
        if f.is_empty() {
            continue;
        }
        if ignored.contains(f) {
            warnings.push(Issue {
                row: None,
                line: Some(header_line),
                entry: None,
                column: Some(raw.clone()),
                code: "W_IGNORED_COLUMN",
                message: format!("column {raw:?} is ignored, as asked"),
            });
            continue;
        }
        let col = if f == "name" {
            Some(resolve_name(&folded))
        } else {
            lookup(f)
        };
        match col {
            Some(c) => {
                if let Some((_, first)) = seen.iter().find(|(sc, _)| *sc == c) {
                    errors.push(Issue::file(
                        "E_DUPLICATE_COLUMN",
                        Some(header_line),
                        Some(c.name().to_string()),
                        format!(
                            "header line {header_line}: columns {:?} and {:?} both map to {}; keep one",
                            headers[*first], raw, c.name()
                        ),
                    ));
                } else {
                    seen.push((c, idx));
                    map.set(c, idx);
                }
            }
            None => {
                let near = suggestion(f);
                // A header cell holding a delimiter is a wrong-delimiter
                // file, which the missing-username error explains better.
                let whole = !raw.contains([';', '\t', ',', '|']);
                if let Some(s) = near.filter(|s| whole && !present.iter().any(|c| c.name() == *s)) {
                    errors.push(misspelled(raw, s, header_line));
                    continue;
                }
                let hint = match near {
                    Some(s) => format!("; did you mean {s}?"),
                    None => String::new(),
                };
                warnings.push(Issue {
                    row: None,
                    line: Some(header_line),
                    entry: None,
                    column: Some(raw.clone()),
                    code: "W_UNKNOWN_COLUMN",
                    message: format!("unknown column {raw:?} is ignored{hint}"),
                });
            }
        }
    }
    if map.has(Column::Mac) && map.has(Column::Phones) {
        errors.push(Issue::file(
            "E_PHONES_AND_MAC",
            Some(header_line),
            Some("phones".into()),
            "the header has both a mac column and a phones (JSON) column; use one of them".into(),
        ));
    }
    if !map.has(Column::Username) {
        let mut msg = "required column username is missing (accepted headers: username, name, web_username, login, user)".to_string();
        if headers.len() == 1 && (headers[0].contains(';') || headers[0].contains('\t')) {
            msg.push_str(&format!(
                "; the header is a single column {:?}: the file may use another delimiter (try --delimiter ';' or --delimiter tab)",
                headers[0]
            ));
        } else {
            msg.push_str(
                "; a file in its own columns imports through a mapping (--map, docs/import.md)",
            );
        }
        errors.push(Issue::file(
            "E_MISSING_COLUMN",
            Some(header_line),
            Some("username".into()),
            msg,
        ));
    }
    if errors.is_empty() {
        Ok((map, warnings))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(h: &[&str]) -> ColumnMap {
        let h: Vec<String> = h.iter().map(|s| s.to_string()).collect();
        map_header(&h, 1).map(|(m, _)| m).expect("header maps")
    }

    #[test]
    fn folding_and_aliases() {
        let m = map(&["User Name", "E-Mail", "Device MAC Address", "EXTEN"]);
        assert_eq!(m.get(Column::Username), Some(0));
        assert_eq!(m.get(Column::Email), Some(1));
        assert_eq!(m.get(Column::Mac), Some(2));
        assert_eq!(m.get(Column::Extension), Some(3));
    }

    #[test]
    fn name_is_resolved_from_context() {
        // PortSIP: name is the login.
        let m = map(&["name", "extension_number", "display_name"]);
        assert_eq!(m.get(Column::Username), Some(0));
        // Carusto: Name is the display name (and the file lacks a username).
        let h: Vec<String> = ["id", "name", "sipPassword", "extension"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let err = map_header(&h, 1).unwrap_err();
        assert_eq!(err[0].code, "E_MISSING_COLUMN");
        let m = map(&["login", "Name"]);
        assert_eq!(m.get(Column::DisplayName), Some(1));
    }

    fn strings(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_column_near_a_present_one_suggests() {
        // The file has its email column: the near miss is an extra column.
        let h = strings(&["username", "email", "emial"]);
        let (_, w) = map_header(&h, 1).unwrap();
        assert_eq!(w[0].code, "W_UNKNOWN_COLUMN");
        assert!(
            w[0].message.contains("did you mean email"),
            "{}",
            w[0].message
        );
    }

    #[test]
    fn misspelled_missing_column_is_an_error_unless_ignored() {
        let h = strings(&["username", "Extention", "note"]);
        let err = map_header(&h, 1).unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!(err[0].code, "E_UNKNOWN_COLUMN");
        assert_eq!(err[0].column.as_deref(), Some("Extention"));
        assert!(err[0].message.contains("did you mean extension"));
        // Far from every known column: still only a warning.
        let (_, w) = map_header_ignoring(&h, 1, &strings(&["extention"])).unwrap();
        let codes: Vec<&str> = w.iter().map(|w| w.code).collect();
        assert_eq!(codes, ["W_IGNORED_COLUMN", "W_UNKNOWN_COLUMN"]);
        // A known column can be ignored too.
        let (m, _) =
            map_header_ignoring(&strings(&["username", "email"]), 1, &strings(&["EMAIL"])).unwrap();
        assert!(!m.has(Column::Email));
    }

    #[test]
    fn duplicate_mapping_is_file_error() {
        let h: Vec<String> = ["username", "mail", "email"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let err = map_header(&h, 1).unwrap_err();
        assert_eq!(err[0].code, "E_DUPLICATE_COLUMN");
    }
}
