//! Validate step: one CSV record → typed [`RowData`], or every problem in it.
//!
//! Rules are per cell and need no store; checks that need the final state
//! (uniqueness, MAC ownership, extension ranges) live in `plan`.

use std::net::Ipv4Addr;

use serde::Deserialize;

use super::columns::{Column, ColumnMap};
use super::read::Record;
use super::report::Issue;
use crate::config::ImportPolicy;
use crate::domain::language;
use crate::domain::mac::Mac;
use crate::domain::{BlfKey, Phone, Site, Transport, canonical_timezone};
use crate::vendors;

/// A cell's meaning under the update semantics: absent column = keep,
/// empty cell = clear (or default), value = set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cell<T> {
    #[default]
    Absent,
    Empty,
    Value(T),
}

/// What the admin asked for a secret column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretInput {
    Set(String),
    /// The keyword `REGEN`: generate a new one.
    Regen,
}

impl SecretInput {
    /// `REGEN` (any case) asks for a new generated secret.
    pub fn parse(v: &str) -> SecretInput {
        if v.eq_ignore_ascii_case("regen") {
            SecretInput::Regen
        } else {
            SecretInput::Set(v.to_string())
        }
    }
}

/// One valid row, typed.
#[derive(Debug, Clone, Default)]
pub struct RowData {
    pub row: usize,
    pub line: usize,
    pub username: String,
    pub first_name: Cell<String>,
    pub last_name: Cell<String>,
    pub display_name: Cell<String>,
    pub email: Cell<String>,
    pub mobile: Cell<String>,
    /// One or more extensions (`1001;1002`): one SIP line each.
    pub extension: Cell<Vec<String>>,
    /// As written; split per line by the plan, which knows how many lines the
    /// user ends up with (a single line's password may contain `;`).
    pub sip_password: Cell<String>,
    /// One entry per extension; an empty entry means "same as the extension".
    pub sip_username: Cell<Vec<String>>,
    pub web_password: Cell<String>,
    pub voicemail_pin: Cell<String>,
    pub enabled: Cell<bool>,
    pub language: Cell<String>,
    pub timezone: Cell<String>,
    pub transport: Cell<Transport>,
    pub phones: Cell<Vec<Phone>>,
    pub blf: Cell<Vec<BlfKey>>,
    pub site: Cell<String>,
    /// Phone-level vendor settings; checked against the user's phones'
    /// vendors by the plan, which knows the phones the user ends up with.
    pub settings: Cell<std::collections::BTreeMap<String, String>>,
    /// What looks wrong but imports (a `?` where a letter should be).
    pub warnings: Vec<Issue>,
}

/// What validation needs besides the record.
pub struct RowContext<'a> {
    pub map: &'a ColumnMap,
    pub header_len: usize,
    pub sites: &'a [Site],
    pub policy: &'a ImportPolicy,
}

/// A rejected row: the username when it was readable (so sync never deletes a
/// user whose row merely had a typo), and every problem found.
#[derive(Debug)]
pub struct RowRejected {
    pub username: Option<String>,
    pub issues: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// The row's extensions and MACs that were valid, so a collision with
    /// another row is reported now, not after the admin fixed this one.
    pub extensions: Vec<String>,
    pub macs: Vec<Mac>,
}

struct Checker<'a> {
    rec: &'a Record,
    ctx: &'a RowContext<'a>,
    issues: Vec<Issue>,
    warnings: Vec<Issue>,
}

const WS: &[char] = &[' ', '\t', '\u{a0}'];

impl<'a> Checker<'a> {
    fn raw(&self, c: Column) -> Option<&'a str> {
        let idx = self.ctx.map.get(c)?;
        Some(self.rec.fields.get(idx).map(String::as_str).unwrap_or(""))
    }

    fn err(&mut self, c: Column, code: &'static str, message: String) {
        self.issues.push(Issue {
            row: Some(self.rec.row),
            line: Some(self.rec.line),
            entry: None,
            column: Some(c.name().to_string()),
            code,
            message,
        });
    }

    /// Trimmed cell with the update semantics applied.
    fn cell(&self, c: Column) -> Cell<&'a str> {
        match self.raw(c) {
            None => Cell::Absent,
            Some(v) => {
                let v = v.trim_matches(WS);
                if v.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Value(v)
                }
            }
        }
    }

    /// Applies `f` to a present, non-empty cell; errors are recorded.
    fn parse<T>(
        &mut self,
        c: Column,
        f: impl FnOnce(&str) -> Result<T, (&'static str, String)>,
    ) -> Cell<T> {
        match self.cell(c) {
            Cell::Absent => Cell::Absent,
            Cell::Empty => Cell::Empty,
            Cell::Value(v) => match f(v) {
                Ok(t) => Cell::Value(t),
                Err((code, msg)) => {
                    self.err(c, code, msg);
                    Cell::Absent
                }
            },
        }
    }

    /// Free text (names): single line, formula guard from our export undone.
    fn text(&mut self, c: Column) -> Cell<String> {
        self.parse(c, |v| {
            if v.chars().any(char::is_control) {
                return Err((
                    "E_CONTROL_CHAR",
                    format!(
                        "{} contains a line break or control character; phones need a single line",
                        c.name()
                    ),
                ));
            }
            Ok(unguard(v).to_string())
        })
    }

    /// A name with a `?` where a letter belongs (`?ucja`, `Kowalska-?ak`):
    /// what LibreOffice writes for a letter its legacy encoding lacks.
    /// Imported as written, with a warning naming the cell.
    fn name(&mut self, c: Column) -> Cell<String> {
        let cell = self.text(c);
        if let Cell::Value(v) = &cell
            && lost_letter(v)
        {
            self.warnings.push(Issue {
                row: Some(self.rec.row),
                line: Some(self.rec.line),
                entry: None,
                column: Some(c.name().to_string()),
                code: "W_LOST_LETTER",
                message: format!(
                    "{} {v:?} has a '?' where a letter should be: the program that saved the file could not write that letter in its encoding; fix the name, or export the file as UTF-8",
                    c.name()
                ),
            });
        }
        cell
    }
}

/// A `?` inside or at the start of a word: next to a letter, not after one
/// at the end (`Who?` stays quiet).
fn lost_letter(v: &str) -> bool {
    let chars: Vec<char> = v.chars().collect();
    chars.iter().enumerate().any(|(i, c)| {
        *c == '?'
            && chars
                .get(i + 1)
                .is_some_and(|n| n.is_alphabetic() || *n == '?')
    })
}

/// Collisions between a rejected row and any other row: what
/// [`rejected_collisions`] found, and the valid rows it failed.
#[derive(Debug, Default)]
pub struct Collisions {
    pub issues: Vec<Issue>,
    /// Valid rows that share an extension or MAC with a rejected one (none
    /// with `partial`, where the rejected row is dropped anyway).
    pub rows: Vec<usize>,
}

/// The same extension or MAC on a rejected row and on another row, in the
/// words the plan uses for two valid rows. The plan sees only valid rows,
/// so without this the admin would fix one error, retry, and only then
/// learn of the collision.
pub fn rejected_collisions(
    valid: &[RowData],
    rejected: &[(usize, usize, RowRejected)],
    partial: bool,
) -> Collisions {
    struct Claim<'a> {
        row: usize,
        line: usize,
        username: Option<&'a str>,
        valid: bool,
        extensions: Vec<&'a str>,
        macs: Vec<Mac>,
    }
    let mut claims: Vec<Claim> = Vec::new();
    for (row, line, r) in rejected {
        claims.push(Claim {
            row: *row,
            line: *line,
            username: r.username.as_deref(),
            valid: false,
            extensions: r.extensions.iter().map(String::as_str).collect(),
            macs: r.macs.clone(),
        });
    }
    if claims.is_empty() {
        return Collisions::default();
    }
    for d in valid {
        claims.push(Claim {
            row: d.row,
            line: d.line,
            username: Some(d.username.as_str()),
            valid: true,
            extensions: match &d.extension {
                Cell::Value(v) => v.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            },
            macs: match &d.phones {
                Cell::Value(p) => p.iter().map(|p| p.mac).collect(),
                _ => Vec::new(),
            },
        });
    }
    let mut out = Collisions::default();
    let who = |c: &Claim| match c.username {
        Some(u) => format!("{u:?} on line {}", c.line),
        None => format!("the row on line {}", c.line),
    };
    let mut push = |c: &Claim, column: &str, code: &'static str, message: String| {
        if c.valid {
            if partial {
                return;
            }
            out.rows.push(c.row);
        }
        out.issues.push(Issue {
            row: Some(c.row),
            line: Some(c.line),
            entry: None,
            column: Some(column.to_string()),
            code,
            message,
        });
    };
    // Only pairs with a rejected row: the plan judges two valid rows.
    let n_rejected = rejected.len();
    for (i, a) in claims.iter().enumerate().take(n_rejected) {
        for (j, b) in claims.iter().enumerate() {
            if i == j || (j < n_rejected && j < i) {
                continue; // each rejected pair once
            }
            for e in a.extensions.iter().filter(|e| b.extensions.contains(e)) {
                let msg = |other: &Claim| format!("extension {e} is also given to {}", who(other));
                push(a, "extension", "E_EXTENSION_DUPLICATE", msg(b));
                push(b, "extension", "E_EXTENSION_DUPLICATE", msg(a));
            }
            for m in a.macs.iter().filter(|m| b.macs.contains(m)) {
                let msg =
                    |other: &Claim| format!("MAC {} is also given to {}", m.colon(), who(other));
                push(a, "mac", "E_MAC_DUPLICATE", msg(b));
                push(b, "mac", "E_MAC_DUPLICATE", msg(a));
            }
        }
    }
    out
}

/// Undoes the `'` our export puts before cells a spreadsheet would run as a formula.
fn unguard(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => v,
    }
}

/// Excel turns long digit strings into `1.5555E+10`; that value is already damaged.
fn scientific(v: &str) -> bool {
    let Some((mant, exp)) = v.split_once(['e', 'E']) else {
        return false;
    };
    let mant_ok = !mant.is_empty()
        && mant
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && mant.chars().next().is_some_and(|c| c.is_ascii_digit());
    let exp = exp.strip_prefix('+').unwrap_or(exp);
    mant_ok && !exp.is_empty() && exp.chars().all(|c| c.is_ascii_digit())
}

fn sci_error(v: &str) -> (&'static str, String) {
    (
        "E_SCIENTIFIC_NOTATION",
        format!(
            "{v:?} is in scientific notation: the spreadsheet turned this column into numbers and lost digits; format the column as Text and export again"
        ),
    )
}

fn check_username(v: &str) -> Result<String, (&'static str, String)> {
    let ok = v.len() <= 64
        && v.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        return Ok(v.to_string());
    }
    let lower = v.to_ascii_lowercase();
    let hint = if lower != v
        && lower.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        }) {
        format!(" (write it as {lower:?})")
    } else {
        String::new()
    };
    Err((
        "E_USERNAME_FORMAT",
        format!(
            "username {v:?} may only contain lower-case letters, digits, '.', '_' and '-' (at most 64){hint}"
        ),
    ))
}

fn check_extension(v: &str) -> Result<String, (&'static str, String)> {
    if scientific(v) {
        return Err(sci_error(v));
    }
    if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err((
            "E_EXTENSION_FORMAT",
            format!("extension {v:?} must be 1 to 15 digits"),
        ));
    }
    Ok(v.to_string())
}

/// `1001` or `1001;1002`: each an extension, none twice.
fn check_extensions(v: &str) -> Result<Vec<String>, (&'static str, String)> {
    let mut out: Vec<String> = Vec::new();
    for item in split_list(v) {
        let ext = check_extension(item)?;
        if out.contains(&ext) {
            return Err((
                "E_EXTENSION_DUPLICATE",
                format!("extension {ext} is listed twice in this row"),
            ));
        }
        out.push(ext);
    }
    Ok(out)
}

/// One `;`-separated sip_username entry; empty means "the extension".
fn check_sip_username(v: &str) -> Result<String, (&'static str, String)> {
    let ok = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'));
    if ok {
        Ok(v.to_string())
    } else {
        Err((
            "E_SIP_USERNAME",
            format!("sip_username {v:?} may only contain letters, digits, '.', '_', '-' and '+'"),
        ))
    }
}

fn check_email(v: &str) -> Result<String, (&'static str, String)> {
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(v.to_string())
    } else {
        Err((
            "E_EMAIL_FORMAT",
            format!("{v:?} is not an e-mail address (expected name@example.com)"),
        ))
    }
}

fn check_mobile(v: &str) -> Result<String, (&'static str, String)> {
    if scientific(v) {
        return Err(sci_error(v));
    }
    let cleaned: String = v
        .chars()
        .filter(|c| !matches!(c, ' ' | '(' | ')' | '-' | '.' | '\u{a0}'))
        .collect();
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    if digits.len() >= 3 && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(cleaned)
    } else {
        Err((
            "E_MOBILE_FORMAT",
            format!(
                "mobile {v:?} must be a phone number: an optional '+' then 3 to 20 digits (spaces, (), - and . are removed)"
            ),
        ))
    }
}

fn check_bool(v: &str) -> Result<bool, (&'static str, String)> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "on" => Ok(true),
        "0" | "false" | "no" | "n" | "off" => Ok(false),
        _ => Err((
            "E_BOOL",
            format!(
                "{v:?} is not a yes/no value; accepted: 1/0, true/false, yes/no, y/n, on/off (any case)"
            ),
        )),
    }
}

/// `vendor-model` (`yealink-t54w`) or a bare vendor.
fn parse_model(v: &str) -> Result<(String, Option<String>), (&'static str, String)> {
    let lower = v.to_ascii_lowercase();
    let (vend, model) = match lower.split_once(['-', ' ', '_']) {
        Some((a, b)) => (a.to_string(), Some(b.trim().to_string())),
        None => (lower.clone(), None),
    };
    let Some(vendor) = vendors::by_name(&vend) else {
        return Err((
            "E_PHONE_MODEL",
            format!(
                "phone_model {v:?}: unknown vendor {vend:?}; write vendor-model such as yealink-t54w (vendors: {})",
                vendors::known_ids()
            ),
        ));
    };
    if let Some(m) = &model
        && (m.is_empty()
            || !m
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
    {
        return Err((
            "E_PHONE_MODEL",
            format!(
                "phone_model {v:?}: model part {m:?} may only contain letters, digits, '-' and '.'"
            ),
        ));
    }
    Ok((vendor.id.to_string(), model))
}

fn vendor_for(
    mac: Mac,
    model: Option<&str>,
) -> Result<(String, Option<String>), (&'static str, String)> {
    match model {
        Some(m) => parse_model(m),
        None => match vendors::by_oui(mac.oui()) {
            Some(v) => Ok((v.id.to_string(), None)),
            None => Err((
                "E_PHONE_MODEL_REQUIRED",
                format!(
                    "MAC {} has an OUI autoprov does not know; give phone_model (vendor-model such as yealink-t54w)",
                    mac.colon()
                ),
            )),
        },
    }
}

fn check_mac(v: &str) -> Result<Mac, (&'static str, String)> {
    // Parse first: `00041339e818` is a valid MAC that merely looks numeric.
    Mac::parse(v).map_err(|e| {
        if scientific(v) {
            sci_error(v)
        } else {
            (e.code(), e.to_string())
        }
    })
}

fn split_list(v: &str) -> Vec<&str> {
    v.split(';').map(|s| s.trim_matches(WS)).collect()
}

/// One phone as a row gives it, before checking; the columns say where to
/// point errors (all `phones` for the JSON form).
struct PhoneInput<'a> {
    mac: &'a str,
    model: Option<String>,
    ip: Option<&'a str>,
    columns: [Column; 3],
}

/// Checks each phone of a row (MAC, vendor, IP, no MAC twice). Any error
/// makes the whole cell count as absent, so nothing half-valid is applied.
fn build_phones(ch: &mut Checker, inputs: Vec<PhoneInput>) -> Cell<Vec<Phone>> {
    let mut phones: Vec<Phone> = Vec::new();
    let mut ok = true;
    for p in inputs {
        let [mac_col, model_col, ip_col] = p.columns;
        let result = check_mac(p.mac).map_err(|e| (mac_col, e)).and_then(|mac| {
            let (vendor, model) =
                vendor_for(mac, p.model.as_deref()).map_err(|e| (model_col, e))?;
            let ip =
                p.ip.map(check_phone_ip)
                    .transpose()
                    .map_err(|e| (ip_col, e))?;
            if phones.iter().any(|q| q.mac == mac) {
                let msg = format!("MAC {} is listed twice in this row", mac.colon());
                return Err((mac_col, ("E_MAC_DUPLICATE", msg)));
            }
            Ok(Phone {
                mac,
                vendor,
                model,
                ip,
            })
        });
        match result {
            Ok(phone) => phones.push(phone),
            Err((col, (code, msg))) => {
                ch.err(col, code, msg);
                ok = false;
            }
        }
    }
    if ok {
        Cell::Value(phones)
    } else {
        Cell::Absent
    }
}

fn check_phone_ip(s: &str) -> Result<Ipv4Addr, (&'static str, String)> {
    match s.parse::<Ipv4Addr>() {
        Ok(ip) if !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast() => Ok(ip),
        _ => Err((
            "E_PHONEIP",
            format!("phone IP {s:?} is not a usable IPv4 address"),
        )),
    }
}

/// `mac` + `phone_model` + `phoneip`, `;`-separated and paired by position.
fn phones_from_columns(ch: &mut Checker) -> Cell<Vec<Phone>> {
    let macs = match ch.cell(Column::Mac) {
        Cell::Absent => return Cell::Absent,
        Cell::Empty => return Cell::Value(Vec::new()),
        Cell::Value(v) if v.eq_ignore_ascii_case("virtual") => return Cell::Value(Vec::new()),
        Cell::Value(v) => split_list(v),
    };
    let models = match ch.cell(Column::PhoneModel) {
        Cell::Value(v) => split_list(v),
        _ => Vec::new(),
    };
    let ips = match ch.cell(Column::PhoneIp) {
        Cell::Value(v) => split_list(v),
        _ => Vec::new(),
    };
    let mut counts_ok = true;
    for (col, n, what) in [
        (Column::PhoneModel, models.len(), "phone models"),
        (Column::PhoneIp, ips.len(), "phone IPs"),
    ] {
        if n != 0 && n != macs.len() {
            ch.err(
                col,
                "E_PHONE_COUNT",
                format!(
                    "{} MACs but {n} {what}: give one per MAC, in the same order (or none)",
                    macs.len()
                ),
            );
            counts_ok = false;
        }
    }
    let inputs = macs
        .iter()
        .enumerate()
        .map(|(i, mac)| PhoneInput {
            mac,
            model: models
                .get(i)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
            ip: ips.get(i).copied().filter(|s| !s.is_empty()),
            columns: [Column::Mac, Column::PhoneModel, Column::PhoneIp],
        })
        .collect();
    match build_phones(ch, inputs) {
        Cell::Value(p) if counts_ok => Cell::Value(p),
        Cell::Value(_) => Cell::Absent,
        other => other,
    }
}

/// PortSIP's JSON `phones` column: an array of objects (a single object counts).
#[derive(Deserialize)]
struct JsonPhone {
    mac: String,
    vendor: Option<String>,
    model: Option<String>,
    ip: Option<String>,
}

fn phones_from_json(ch: &mut Checker) -> Cell<Vec<Phone>> {
    let v = match ch.cell(Column::Phones) {
        Cell::Absent => return Cell::Absent,
        Cell::Empty => return Cell::Value(Vec::new()),
        Cell::Value(v) => v,
    };
    let parsed: Result<Vec<JsonPhone>, _> = if v.trim_start().starts_with('{') {
        serde_json::from_str::<JsonPhone>(v).map(|p| vec![p])
    } else {
        serde_json::from_str(v)
    };
    let list = match parsed {
        Ok(l) => l,
        Err(e) => {
            let msg = format!(
                "phones is not a JSON array of {{\"mac\", \"vendor\", \"model\"}} objects: {e}"
            );
            ch.err(Column::Phones, "E_PHONES_JSON", msg);
            return Cell::Absent;
        }
    };
    let inputs = list
        .iter()
        .map(|p| PhoneInput {
            mac: p.mac.trim_matches(WS),
            model: match (&p.vendor, &p.model) {
                (Some(v), Some(m)) => Some(format!("{v}-{m}")),
                (Some(v), None) => Some(v.clone()),
                (None, Some(m)) => Some(m.clone()),
                (None, None) => None,
            },
            ip: p.ip.as_deref().map(str::trim).filter(|s| !s.is_empty()),
            columns: [Column::Phones; 3],
        })
        .collect();
    build_phones(ch, inputs)
}

#[derive(Deserialize)]
struct JsonBlf {
    #[serde(alias = "value", alias = "number", alias = "target")]
    extension: serde_json::Value,
    #[serde(alias = "name")]
    label: Option<String>,
    #[serde(alias = "key", alias = "index")]
    position: Option<u16>,
}

fn blf_key(
    ext: &str,
    label: Option<&str>,
    position: Option<u16>,
) -> Result<BlfKey, (&'static str, String)> {
    let ext = ext.trim_matches(WS);
    if ext.is_empty() || ext.len() > 15 || !ext.bytes().all(|b| b.is_ascii_digit()) {
        return Err((
            "E_BLF",
            format!("BLF target {ext:?} must be an extension (digits)"),
        ));
    }
    let label = label.map(|l| l.trim_matches(WS)).filter(|l| !l.is_empty());
    if let Some(l) = label
        && l.chars().any(|c| c.is_control() || c == ';')
    {
        return Err((
            "E_BLF",
            format!("BLF label {l:?} may not contain ';' or line breaks"),
        ));
    }
    Ok(BlfKey {
        extension: ext.to_string(),
        label: label.map(str::to_string),
        position,
    })
}

fn check_blf(v: &str) -> Result<Vec<BlfKey>, (&'static str, String)> {
    if v.starts_with('[') || v.starts_with('{') {
        let list: Vec<JsonBlf> = if v.starts_with('{') {
            serde_json::from_str::<JsonBlf>(v).map(|b| vec![b])
        } else {
            serde_json::from_str(v)
        }
        .map_err(|e| {
            (
                "E_BLF",
                format!("blf JSON must be an array of {{\"extension\", \"label\"}} objects: {e}"),
            )
        })?;
        return list
            .into_iter()
            .map(|b| {
                let ext = match &b.extension {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                blf_key(&ext, b.label.as_deref(), b.position)
            })
            .collect();
    }
    let mut keys: Vec<BlfKey> = Vec::new();
    for item in v
        .split(';')
        .map(|s| s.trim_matches(WS))
        .filter(|s| !s.is_empty())
    {
        let (ext, label) = match item.split_once(':') {
            Some((e, l)) => (e, Some(l)),
            None => (item, None),
        };
        let key = blf_key(ext, label, None)?;
        if keys.iter().any(|k| k.extension == key.extension) {
            return Err((
                "E_BLF",
                format!("BLF target {} is listed twice", key.extension),
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

fn check_site(v: &str, sites: &[Site]) -> Result<String, (&'static str, String)> {
    match sites.iter().find(|s| s.name.eq_ignore_ascii_case(v)) {
        Some(s) => Ok(s.name.clone()),
        None => {
            let names: Vec<&str> = sites.iter().map(|s| s.name.as_str()).collect();
            Err((
                "E_SITE_UNKNOWN",
                format!(
                    "site {v:?} does not exist; known sites: {}",
                    names.join(", ")
                ),
            ))
        }
    }
}

/// Validates one record. Secret values never appear in the messages.
pub fn validate_row(rec: &Record, ctx: &RowContext) -> Result<RowData, RowRejected> {
    let mut ch = Checker {
        rec,
        ctx,
        issues: Vec::new(),
        warnings: Vec::new(),
    };
    let extra = rec
        .fields
        .iter()
        .skip(ctx.header_len)
        .any(|f| !f.trim_matches(WS).is_empty());
    if extra || rec.fields.len() < ctx.header_len {
        ch.issues.push(Issue {
            row: Some(rec.row),
            line: Some(rec.line),
            entry: None,
            column: None,
            code: "E_FIELD_COUNT",
            message: format!(
                "row has {} fields but the header has {}; check for an unquoted delimiter or a missing cell",
                rec.fields.len(), ctx.header_len
            ),
        });
    }
    let username = match ch.cell(Column::Username) {
        Cell::Value(v) => match check_username(v) {
            Ok(u) => Some(u),
            Err((code, msg)) => {
                ch.err(Column::Username, code, msg);
                None
            }
        },
        _ => {
            ch.err(
                Column::Username,
                "E_REQUIRED",
                "username is required".into(),
            );
            None
        }
    };
    let mut d = RowData {
        row: rec.row,
        line: rec.line,
        ..RowData::default()
    };
    d.first_name = ch.name(Column::FirstName);
    d.last_name = ch.name(Column::LastName);
    d.display_name = ch.name(Column::DisplayName);
    d.email = ch.parse(Column::Email, check_email);
    d.mobile = ch.parse(Column::Mobile, check_mobile);
    d.extension = ch.parse(Column::Extension, check_extensions);
    d.sip_password = ch.parse(Column::SipPassword, |v| {
        if v.chars().any(char::is_control) {
            Err((
                "E_SIP_PASSWORD",
                "sip_password contains a line break or control character (value not shown)".into(),
            ))
        } else {
            Ok(unguard(v).to_string())
        }
    });
    d.sip_username = ch.parse(Column::SipUsername, |v| {
        split_list(v).into_iter().map(check_sip_username).collect()
    });
    let policy = ctx.policy;
    d.web_password = ch.parse(Column::WebPassword, |v| {
        let long = v.chars().count() >= policy.web_password_min_length;
        let letter = v.chars().any(char::is_alphabetic);
        let digit = v.chars().any(|c| c.is_ascii_digit());
        if long && letter && digit && !v.chars().any(char::is_control) {
            Ok(v.to_string())
        } else {
            Err(("E_WEB_PASSWORD_POLICY", format!(
                "web_password does not meet the policy: at least {} characters with a letter and a digit (value not shown)",
                policy.web_password_min_length
            )))
        }
    });
    d.voicemail_pin = ch.parse(Column::VoicemailPin, |v| {
        if !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit() || b == b'#') {
            Ok(v.to_string())
        } else {
            Err((
                "E_PIN_FORMAT",
                "voicemail_pin must be 1 to 20 digits (and '#') (value not shown)".into(),
            ))
        }
    });
    d.enabled = ch.parse(Column::Enabled, check_bool);
    d.language = ch.parse(Column::Language, |v| {
        language::normalise(v).map(str::to_string).ok_or_else(|| {
            (
                "E_LANGUAGE",
                format!(
                    "language {v:?} is not supported; accepted: {} (also en_US, de, German...)",
                    language::accepted()
                ),
            )
        })
    });
    d.timezone = ch.parse(Column::Timezone, |v| {
        canonical_timezone(v).ok_or_else(|| {
            ("E_TIMEZONE", format!("timezone {v:?} is not an IANA time zone name such as Europe/Berlin or America/New_York"))
        })
    });
    d.transport = ch.parse(Column::Transport, |v| {
        v.parse::<Transport>().map_err(|_| {
            (
                "E_TRANSPORT",
                format!("transport {v:?} must be udp, tcp or tls"),
            )
        })
    });
    d.phones = if ctx.map.has(Column::Phones) {
        phones_from_json(&mut ch)
    } else {
        phones_from_columns(&mut ch)
    };
    d.blf = ch.parse(Column::Blf, check_blf);
    d.site = ch.parse(Column::Site, |v| check_site(v, ctx.sites));
    d.settings = ch.parse(Column::Settings, super::settings::parse);
    match username {
        Some(u) if ch.issues.is_empty() => {
            d.username = u;
            d.warnings = ch.warnings;
            Ok(d)
        }
        u => Err(RowRejected {
            username: u,
            issues: ch.issues,
            warnings: ch.warnings,
            extensions: match d.extension {
                Cell::Value(v) => v,
                _ => Vec::new(),
            },
            macs: match d.phones {
                Cell::Value(p) => p.into_iter().map(|p| p.mac).collect(),
                _ => Vec::new(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scientific_notation_is_spotted() {
        assert!(scientific("1.5555E+10"));
        assert!(scientific("4.91701E+12"));
        assert!(scientific("1e5"));
        assert!(!scientific("1001"));
        assert!(!scientific("e5"));
        assert!(!scientific("80:5e:c0:12:34:56"));
        // Digits around one `e` can still be a valid MAC.
        assert!(check_mac("00041339e818").is_ok());
        assert_eq!(
            check_mac("8.05E+11").unwrap_err().0,
            "E_SCIENTIFIC_NOTATION"
        );
    }

    #[test]
    fn blf_simple_and_json() {
        let k = check_blf("2001;2002:Bob").unwrap();
        assert_eq!(k.len(), 2);
        assert_eq!(k[1].label.as_deref(), Some("Bob"));
        let j = check_blf(r#"[{"value":"2003","name":"Carol","key":3}]"#).unwrap();
        assert_eq!(j[0].extension, "2003");
        assert_eq!(j[0].position, Some(3));
        assert!(check_blf("20x1").is_err());
    }

    #[test]
    fn lost_letters_are_spotted() {
        assert!(lost_letter("?ucja"));
        assert!(lost_letter("Kowalska-?ak"));
        assert!(lost_letter("M??ller"));
        assert!(!lost_letter("Who?"));
        assert!(!lost_letter("Anna Maria"));
    }

    #[test]
    fn formula_guard_is_undone() {
        assert_eq!(unguard("'=cmd"), "=cmd");
        assert_eq!(unguard("'plain"), "'plain");
    }
}
