//! Plan step: valid rows × the store snapshot → the exact set of changes,
//! checked against the final state the file would produce.
//!
//! Planning is pure (no writes), so a dry run and a real run produce the same
//! report by construction. Stored users are decoded only when a row names
//! them (see [`super::existing`]), and kept only if they change.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::Mode;
use super::existing::Existing;
use super::report::{ChangeEntry, FieldDiff, Generated, Issue};
use super::validate::{Cell, RowData, SecretInput};
use crate::domain::secret;
use crate::domain::{DEFAULT_SITE, Line, User};
use crate::store::{Change, ChangeSet};

/// Where each username appears in the file (valid or rejected rows).
#[derive(Debug, Clone)]
pub struct Mention {
    pub username: String,
    pub row: usize,
    pub line: usize,
}

/// The outcome of planning one set of rows.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: ChangeSet,
    pub entries: Vec<ChangeEntry>,
    pub generated: Vec<Generated>,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// Rows that got an error in this step (for `--partial`).
    pub failed_rows: HashSet<usize>,
    /// Web passwords still to hash, by index into `changes.changes`.
    pub pending_hashes: Vec<(usize, String)>,
}

pub struct PlanContext<'a> {
    /// The stored users (encoded), sites, and the next free id.
    pub existing: &'a Existing,
    pub mode: Mode,
    pub source: Option<&'a str>,
    pub show_secrets: bool,
    /// Every username mentioned by any row, even rejected ones: sync and
    /// replace never delete a user whose row merely had an error.
    pub mentions: &'a [Mention],
    /// Move a MAC from the user who has it to the row that claims it
    /// (`--reassign-macs`) instead of refusing the row.
    pub reassign_macs: bool,
    /// `[settings] allow_override`: owned vendor keys a setting may set.
    pub allow_override: &'a [String],
    /// What each row is called instead of its line (an LDAP entry's DN),
    /// by row number from 1; `None` for a file, whose rows have lines.
    pub labels: Option<&'a [String]>,
}

impl PlanContext<'_> {
    /// Where another row stands, in a message: `on line 7`, or `in entry
    /// DN` for a row named by a label.
    fn place(&self, row: usize, line: usize) -> String {
        match self.label(row) {
            Some(l) => format!("in entry {l}"),
            None => format!("on line {line}"),
        }
    }

    fn label(&self, row: usize) -> Option<&str> {
        self.labels?.get(row.checked_sub(1)?).map(String::as_str)
    }
}

fn issue(row: &RowData, column: &str, code: &'static str, message: String) -> Issue {
    Issue {
        row: Some(row.row),
        line: Some(row.line),
        entry: None,
        column: Some(column.to_string()),
        code,
        message,
    }
}

fn merge<T: Clone>(old: Option<&T>, cell: &Cell<T>) -> Option<T> {
    match cell {
        Cell::Absent => old.cloned(),
        Cell::Empty => None,
        Cell::Value(v) => Some(v.clone()),
    }
}

/// What building one user produced besides the user.
struct Built {
    user: User,
    /// Extensions whose SIP password this import generated, with the password.
    generated_sip: Vec<(String, String)>,
    web_password: Option<String>,
    /// For an existing user: what changes (never empty; unchanged users are
    /// not kept as `Built` at all).
    diff: Option<FieldDiff>,
    /// The stored user this row changes, decoded. Boxed: 100,000 `Built`
    /// of a first import would carry ~40 MB of empty inline users.
    old: Option<Box<User>>,
}

/// Splits a per-line cell (`a;b`) into one entry per line. A single line
/// takes the cell whole, so its password may contain `;`.
fn per_line<'a>(
    row: &RowData,
    column: &'static str,
    raw: &'a str,
    n: usize,
) -> Result<Vec<&'a str>, Issue> {
    if n == 1 {
        return Ok(vec![raw]);
    }
    let items: Vec<&str> = raw
        .split(';')
        .map(|s| s.trim_matches([' ', '\t']))
        .collect();
    if items.len() == n {
        return Ok(items);
    }
    Err(issue(
        row,
        column,
        "E_LINE_COUNT",
        format!(
            "the user has {n} extensions but {} {column} entries: give one per extension, ';'-separated, in the same order (values not shown)",
            items.len()
        ),
    ))
}

/// The user's SIP lines after this row: one per extension. A line keeps the
/// stored password and auth user of the same extension unless the row sets
/// them; new lines get a generated password.
fn build_lines(
    row: &RowData,
    old: Option<&User>,
    generated: &mut Vec<(String, String)>,
) -> Result<Vec<Line>, Issue> {
    let old_lines = old.map(|u| u.lines.as_slice()).unwrap_or(&[]);
    let exts: Vec<String> = match &row.extension {
        Cell::Absent => old_lines.iter().map(|l| l.extension.clone()).collect(),
        Cell::Empty => Vec::new(),
        Cell::Value(v) => v.clone(),
    };
    let n = exts.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let passwords: Vec<Option<SecretInput>> = match &row.sip_password {
        Cell::Value(raw) => per_line(row, "sip_password", raw, n)?
            .into_iter()
            .map(|p| (!p.is_empty()).then(|| SecretInput::parse(p)))
            .collect(),
        _ => vec![None; n],
    };
    let usernames: Vec<Cell<String>> = match &row.sip_username {
        Cell::Absent => vec![Cell::Absent; n],
        Cell::Empty => vec![Cell::Empty; n],
        Cell::Value(items) if items.len() == n => items
            .iter()
            .map(|u| {
                if u.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Value(u.clone())
                }
            })
            .collect(),
        Cell::Value(items) => {
            return Err(issue(
                row,
                "sip_username",
                "E_LINE_COUNT",
                format!(
                    "the user has {n} extensions but {} sip_username entries: give one per extension, ';'-separated",
                    items.len()
                ),
            ));
        }
    };
    let mut lines = Vec::with_capacity(n);
    for ((ext, pw), user) in exts.into_iter().zip(passwords).zip(usernames) {
        let base = old_lines.iter().find(|l| l.extension == ext);
        let sip_password = match (pw, base) {
            (Some(SecretInput::Set(p)), _) => p,
            (Some(SecretInput::Regen), _) | (None, None) => {
                let p = secret::generate_sip_password();
                generated.push((ext.clone(), p.clone()));
                p
            }
            (None, Some(b)) => b.sip_password.clone(),
        };
        if n > 1 && sip_password.contains(';') {
            return Err(issue(
                row,
                "sip_password",
                "E_SIP_PASSWORD",
                format!(
                    "extension {ext}'s SIP password contains ';', which separates the passwords of a user with several lines; set a new one or REGEN (value not shown)"
                ),
            ));
        }
        lines.push(Line {
            sip_username: merge(base.and_then(|b| b.sip_username.as_ref()), &user),
            transport: merge(base.and_then(|b| b.transport.as_ref()), &row.transport),
            extension: ext,
            sip_password,
        });
    }
    Ok(lines)
}

/// Applies a row's cells to the existing user (or a blank one).
fn build_user(
    row: &RowData,
    old: Option<&User>,
    id: u64,
    source: Option<&str>,
) -> Result<Built, Issue> {
    let mut generated_sip = Vec::new();
    let lines = build_lines(row, old, &mut generated_sip)?;
    let user = User {
        id,
        username: row.username.clone(),
        first_name: merge(old.and_then(|u| u.first_name.as_ref()), &row.first_name),
        last_name: merge(old.and_then(|u| u.last_name.as_ref()), &row.last_name),
        display_name: merge(old.and_then(|u| u.display_name.as_ref()), &row.display_name),
        email: merge(old.and_then(|u| u.email.as_ref()), &row.email),
        mobile: merge(old.and_then(|u| u.mobile.as_ref()), &row.mobile),
        enabled: match &row.enabled {
            Cell::Value(b) => *b,
            _ => old.is_none_or(|u| u.enabled),
        },
        web_password_hash: old.and_then(|u| u.web_password_hash.clone()),
        voicemail_pin: match &row.voicemail_pin {
            Cell::Value(p) => Some(p.clone()),
            _ => old.and_then(|u| u.voicemail_pin.clone()),
        },
        language: merge(old.and_then(|u| u.language.as_ref()), &row.language),
        timezone: merge(old.and_then(|u| u.timezone.as_ref()), &row.timezone),
        site: match &row.site {
            Cell::Value(s) => s.clone(),
            Cell::Empty => DEFAULT_SITE.to_string(),
            Cell::Absent => old.map_or_else(|| DEFAULT_SITE.to_string(), |u| u.site.clone()),
        },
        source: match old {
            Some(u) => u.source.clone(),
            None => source.map(str::to_string),
        },
        lines,
        phones: match &row.phones {
            Cell::Absent => old.map(|u| u.phones.clone()).unwrap_or_default(),
            Cell::Empty => Vec::new(),
            Cell::Value(p) => p.clone(),
        },
        blf: match &row.blf {
            Cell::Absent => old.map(|u| u.blf.clone()).unwrap_or_default(),
            Cell::Empty => Vec::new(),
            Cell::Value(b) => b.clone(),
        },
        settings: match &row.settings {
            Cell::Absent => old.map(|u| u.settings.clone()).unwrap_or_default(),
            Cell::Empty => Default::default(),
            Cell::Value(s) => s.clone(),
        },
        config_version: old.map_or(1, |u| u.config_version),
    };
    let web_password = match &row.web_password {
        Cell::Value(p) => Some(p.clone()),
        _ => None,
    };
    Ok(Built {
        user,
        generated_sip,
        web_password,
        diff: None,
        old: None,
    })
}

const MASK: &str = "***";

fn opt(s: &Option<String>) -> Option<String> {
    s.clone()
}

fn masked(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|_| MASK.to_string())
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> Option<String> {
    if items.is_empty() {
        None
    } else {
        Some(items.iter().map(f).collect::<Vec<_>>().join(";"))
    }
}

/// The admin-facing field values of a user, secrets masked.
fn fields(u: &User, web_changed: bool) -> Vec<(&'static str, Option<String>)> {
    let l = u.lines.first();
    vec![
        ("first_name", opt(&u.first_name)),
        ("last_name", opt(&u.last_name)),
        ("display_name", opt(&u.display_name)),
        ("email", opt(&u.email)),
        ("mobile", opt(&u.mobile)),
        ("extension", join(&u.lines, |l| l.extension.clone())),
        (
            "sip_username",
            if u.lines.iter().any(|l| l.sip_username.is_some()) {
                join(&u.lines, |l| l.sip_username.clone().unwrap_or_default())
            } else {
                None
            },
        ),
        ("sip_password", l.map(|_| MASK.to_string())),
        (
            "web_password",
            if web_changed {
                Some(format!("{MASK} (new)"))
            } else {
                masked(&u.web_password_hash)
            },
        ),
        ("voicemail_pin", masked(&u.voicemail_pin)),
        ("enabled", Some(u.enabled.to_string())),
        ("language", opt(&u.language)),
        ("timezone", opt(&u.timezone)),
        (
            "transport",
            l.and_then(|l| l.transport).map(|t| t.to_string()),
        ),
        ("mac", join(&u.phones, |p| p.mac.plain())),
        (
            "phone_model",
            join(&u.phones, |p| match &p.model {
                Some(m) => format!("{}-{m}", p.vendor),
                None => p.vendor.clone(),
            }),
        ),
        (
            "phoneip",
            // No phone with an IP: nothing to show (not an empty value).
            join(&u.phones, |p| {
                p.ip.map(|i| i.to_string()).unwrap_or_default()
            })
            .filter(|_| u.phones.iter().any(|p| p.ip.is_some())),
        ),
        (
            "blf",
            join(&u.blf, |b| match &b.label {
                Some(l) => format!("{}:{l}", b.extension),
                None => b.extension.clone(),
            }),
        ),
        ("site", Some(u.site.clone())),
        ("settings", super::settings::shown(&u.settings)),
    ]
}

/// Per-field `[old, new]` for what changed; a changed secret shows as masked.
fn diff(old: &User, new: &User, web_changed: bool) -> FieldDiff {
    let mut out = FieldDiff::new();
    let a = fields(old, false);
    let b = fields(new, web_changed);
    for ((name, x), (_, y)) in a.into_iter().zip(b) {
        if x != y {
            out.insert(name, [x, y]);
        }
    }
    // A password change on a line that stays shows as masked old → new.
    let rotated = new.lines.iter().any(|n| {
        old.lines
            .iter()
            .any(|o| o.extension == n.extension && o.sip_password != n.sip_password)
    });
    if rotated {
        out.insert(
            "sip_password",
            [Some(MASK.into()), Some(format!("{MASK} (new)"))],
        );
    }
    out
}

/// Plans `rows`. Errors found here name their rows in `failed_rows`.
pub fn plan(rows: &[RowData], ctx: &PlanContext) -> Plan {
    let mut p = Plan::default();
    let existing = ctx.existing;

    // Usernames mentioned twice anywhere in the file.
    let mut mention_count: HashMap<&str, usize> = HashMap::new();
    for m in ctx.mentions {
        *mention_count.entry(m.username.as_str()).or_default() += 1;
    }

    // Verify web passwords of existing users in parallel: a match is "unchanged".
    let web_same: HashSet<usize> = rows
        .par_iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let Cell::Value(pw) = &r.web_password else {
                return None;
            };
            let hash = existing
                .get(r.username.as_str())?
                .web_password_hash
                .as_ref()?;
            secret::verify_web_password(pw, hash).then_some(i)
        })
        .collect();

    let mut next_id = existing.next_id;
    let mut built: Vec<(usize, Built)> = Vec::new();
    // Report entries with their row, put in file order at the end.
    let mut ordered: Vec<(usize, ChangeEntry)> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let stored = existing.get(row.username.as_str());
        if mention_count
            .get(row.username.as_str())
            .copied()
            .unwrap_or(0)
            > 1
        {
            let others: Vec<&Mention> = ctx
                .mentions
                .iter()
                .filter(|m| m.username == row.username && m.row != row.row)
                .collect();
            let also = match ctx.labels {
                Some(_) => others
                    .iter()
                    .map(|m| ctx.place(m.row, m.line))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => {
                    let lines: Vec<String> = others.iter().map(|m| m.line.to_string()).collect();
                    format!("on line {}", lines.join(", "))
                }
            };
            p.errors.push(issue(
                row,
                "username",
                "E_USERNAME_DUPLICATE",
                format!(
                    "username {:?} appears more than once in the file (also {also})",
                    row.username,
                ),
            ));
            p.failed_rows.insert(row.row);
            continue;
        }
        if ctx.mode == Mode::Create && stored.is_some() {
            p.errors.push(issue(row, "username", "E_USER_EXISTS", format!(
                "user {:?} already exists; create mode only adds new users (use --mode upsert to update)",
                row.username
            )));
            p.failed_rows.insert(row.row);
            continue;
        }
        // Decoded only now, for this row; dropped below unless it changes.
        let old_user = stored.map(|s| s.user());
        let old = old_user.as_ref();
        let id = match old {
            Some(u) => u.id,
            None => {
                next_id += 1;
                next_id - 1
            }
        };
        let mut b = match build_user(row, old, id, ctx.source) {
            Ok(b) => b,
            Err(e) => {
                p.errors.push(e);
                p.failed_rows.insert(row.row);
                continue;
            }
        };
        if let Err(e) = super::settings::check_for_phones(&b.user, ctx.allow_override) {
            p.errors.push(issue(row, "settings", "E_SETTING", e));
            p.failed_rows.insert(row.row);
            continue;
        }
        if old.is_none() && b.user.first_name.is_none() && b.user.display_name.is_none() {
            p.errors.push(issue(
                row,
                "first_name",
                "E_REQUIRED",
                format!(
                    "new user {:?} needs a first_name or a display_name",
                    row.username
                ),
            ));
            p.failed_rows.insert(row.row);
            continue;
        }
        if let Some(o) = old {
            let web_changed = b.web_password.is_some() && !web_same.contains(&i);
            let fields = diff(o, &b.user, web_changed);
            if fields.is_empty() {
                // Dropped here, not carried to the end: a re-import of 100,000
                // unchanged users must not hold a second copy of each. The
                // final-state checks then treat the user as kept as stored.
                ordered.push((
                    row.row,
                    ChangeEntry {
                        username: row.username.clone(),
                        action: "unchanged",
                        fields,
                    },
                ));
                continue;
            }
            b.diff = Some(fields);
        }
        b.old = old_user.map(Box::new);
        built.push((i, b));
    }

    // Deletions (sync: this source's users absent from the file; replace: all absent).
    // Only sync and replace delete; an upsert of 100,000 rows need not hold
    // a set of their names.
    let mentioned: HashSet<&str> = match ctx.mode {
        Mode::Sync | Mode::Replace => ctx.mentions.iter().map(|m| m.username.as_str()).collect(),
        Mode::Create | Mode::Upsert => HashSet::new(),
    };
    let deletes: Vec<User> = match ctx.mode {
        Mode::Sync => existing
            .users
            .iter()
            .filter(|u| {
                u.source.as_deref() == ctx.source
                    && ctx.source.is_some()
                    && !mentioned.contains(&*u.name)
            })
            .map(|u| u.user())
            .collect(),
        Mode::Replace => existing
            .users
            .iter()
            .filter(|u| !mentioned.contains(&*u.name))
            .map(|u| u.user())
            .collect(),
        _ => Vec::new(),
    };

    let moves = check_final_state(rows, &built, &deletes, ctx, &mut p);
    reassign(&moves, existing, rows, &mut ordered, &mut p);

    // Changes, entries and generated secrets for rows that passed.
    for (i, b) in built {
        let row = &rows[i];
        if p.failed_rows.contains(&row.row) {
            continue;
        }
        let web_changed = b.web_password.is_some() && !web_same.contains(&i);
        let mut user = b.user;
        let several = user.lines.len() > 1;
        for (ext, pw) in &b.generated_sip {
            p.generated.push(Generated {
                username: user.username.clone(),
                field: "sip_password",
                extension: several.then(|| ext.clone()),
                value: ctx.show_secrets.then(|| pw.clone()),
            });
        }
        let idx = p.changes.changes.len();
        let (action, fields, old) = match b.old {
            None => ("create", FieldDiff::new(), None),
            Some(o) => {
                user.config_version = o.config_version + 1;
                ("update", b.diff.unwrap_or_default(), Some(o))
            }
        };
        if let Some(pw) = b.web_password
            && (old.is_none() || web_changed)
        {
            p.pending_hashes.push((idx, pw));
        }
        ordered.push((
            row.row,
            ChangeEntry {
                username: user.username.clone(),
                action,
                fields,
            },
        ));
        p.changes.changes.push(Change {
            old,
            new: Some(Box::new(user)),
        });
    }
    ordered.sort_by_key(|(row, _)| *row);
    p.entries = ordered.into_iter().map(|(_, e)| e).collect();
    for u in deletes {
        p.entries.push(ChangeEntry {
            username: u.username.clone(),
            action: "delete",
            fields: FieldDiff::new(),
        });
        p.changes.changes.push(Change {
            old: Some(Box::new(u)),
            new: None,
        });
    }
    p.changes.next_id = next_id;
    p
}

/// Extension and MAC uniqueness, extension ranges and BLF targets, judged on
/// the state after the whole file (so swaps inside one file are legal).
fn check_final_state(
    rows: &[RowData],
    built: &[(usize, Built)],
    deletes: &[User],
    ctx: &PlanContext,
    p: &mut Plan,
) -> Vec<MacMove> {
    let (existing, reassign_macs) = (ctx.existing, ctx.reassign_macs);
    let mut moves = Vec::new();
    let in_file: HashSet<&str> = built
        .iter()
        .map(|(_, b)| b.user.username.as_str())
        .collect();
    let deleted: HashSet<&str> = deletes.iter().map(|u| u.username.as_str()).collect();
    // Users the file leaves as they are keep their extensions and MACs.
    let mut ext_owner: HashMap<&str, Owner> = HashMap::new();
    let mut mac_owner: HashMap<[u8; 6], Owner> = HashMap::new();
    for u in &existing.users {
        if in_file.contains(&*u.name) || deleted.contains(&*u.name) {
            continue;
        }
        for x in &u.extensions {
            ext_owner.insert(x, Owner::Kept(&u.name));
        }
        for m in &u.macs {
            mac_owner.insert(*m, Owner::Kept(&u.name));
        }
    }
    let mut failed: Vec<Issue> = Vec::new();
    for (i, b) in built {
        let row = &rows[*i];
        for l in &b.user.lines {
            match ext_owner.get(l.extension.as_str()) {
                None => {
                    ext_owner.insert(l.extension.as_str(), Owner::Row(*i));
                }
                Some(Owner::Kept(other)) => failed.push(issue(
                    row,
                    "extension",
                    "E_EXTENSION_TAKEN",
                    format!(
                        "extension {} already belongs to user {other:?}",
                        l.extension
                    ),
                )),
                Some(Owner::Row(j)) => {
                    let other = &rows[*j];
                    failed.push(issue(
                        row,
                        "extension",
                        "E_EXTENSION_DUPLICATE",
                        format!(
                            "extension {} is also given to {:?} {}",
                            l.extension,
                            other.username,
                            ctx.place(other.row, other.line)
                        ),
                    ));
                    failed.push(issue(
                        other,
                        "extension",
                        "E_EXTENSION_DUPLICATE",
                        format!(
                            "extension {} is also given to {:?} {}",
                            l.extension,
                            row.username,
                            ctx.place(row.row, row.line)
                        ),
                    ));
                }
            }
        }
        for ph in &b.user.phones {
            match mac_owner.get(&ph.mac.bytes()) {
                None => {
                    mac_owner.insert(ph.mac.bytes(), Owner::Row(*i));
                }
                Some(Owner::Kept(other)) if reassign_macs => {
                    moves.push(MacMove { mac: ph.mac, from: other.to_string(), row: *i });
                    mac_owner.insert(ph.mac.bytes(), Owner::Row(*i));
                }
                Some(Owner::Kept(other)) => failed.push(issue(row, "mac", "E_MAC_TAKEN", format!(
                    "MAC {} is assigned to user {other:?}; remove it from that user in the same file, or pass --reassign-macs to move it",
                    ph.mac.colon()
                ))),
                Some(Owner::Row(j)) => {
                    let other = &rows[*j];
                    failed.push(issue(row, "mac", "E_MAC_DUPLICATE", format!(
                        "MAC {} is also given to {:?} {}", ph.mac.colon(), other.username, ctx.place(other.row, other.line)
                    )));
                    failed.push(issue(other, "mac", "E_MAC_DUPLICATE", format!(
                        "MAC {} is also given to {:?} {}", ph.mac.colon(), row.username, ctx.place(row.row, row.line)
                    )));
                }
            }
        }
        if let Some(site) = existing.sites.iter().find(|s| s.name == b.user.site)
            && let Some((lo, hi)) = site.extension_range
        {
            for l in &b.user.lines {
                let n: u64 = l.extension.parse().unwrap_or(u64::MAX);
                if n < lo || n > hi {
                    failed.push(issue(
                        row,
                        "extension",
                        "E_EXTENSION_RANGE",
                        format!(
                            "extension {} is outside site {}'s range {lo}-{hi}",
                            l.extension, site.name
                        ),
                    ));
                }
            }
        }
    }
    // BLF targets that no line will own are kept (park slots, external
    // extensions) but flagged.
    for (i, b) in built {
        for k in &b.user.blf {
            if !ext_owner.contains_key(k.extension.as_str()) {
                let row = &rows[*i];
                p.warnings.push(Issue {
                    row: Some(row.row),
                    line: Some(row.line),
                    entry: None,
                    column: Some("blf".into()),
                    code: "W_BLF_TARGET_UNKNOWN",
                    message: format!(
                        "BLF target {} is not an extension of any user; the key will show no name",
                        k.extension
                    ),
                });
            }
        }
    }
    failed.sort_by_key(|e| e.row);
    failed.dedup();
    for e in failed {
        if let Some(r) = e.row {
            p.failed_rows.insert(r);
        }
        p.errors.push(e);
    }
    moves
}

/// A phone moving from a user the file doesn't list to the row claiming it.
struct MacMove {
    mac: crate::domain::mac::Mac,
    from: String,
    /// Index into `rows` of the claiming row.
    row: usize,
}

/// Turns MAC moves of rows that passed into updates of the users losing the
/// phones, each with a warning naming both sides.
fn reassign(
    moves: &[MacMove],
    existing: &Existing,
    rows: &[RowData],
    ordered: &mut Vec<(usize, ChangeEntry)>,
    p: &mut Plan,
) {
    let mut losers: Vec<&str> = Vec::new();
    for m in moves
        .iter()
        .filter(|m| !p.failed_rows.contains(&rows[m.row].row))
    {
        let row = &rows[m.row];
        p.warnings.push(Issue {
            row: Some(row.row),
            line: Some(row.line),
            entry: None,
            column: Some("mac".into()),
            code: "W_MAC_REASSIGNED",
            message: format!(
                "MAC {} moves from user {:?} to {:?}",
                m.mac.colon(),
                m.from,
                row.username
            ),
        });
        if !losers.contains(&m.from.as_str()) {
            losers.push(&m.from);
        }
    }
    for name in losers {
        let Some(old) = existing.get(name).map(|s| s.user()) else {
            continue;
        };
        let mut new = old.clone();
        new.phones.retain(|ph| {
            !moves.iter().any(|m| {
                m.from == name && m.mac == ph.mac && !p.failed_rows.contains(&rows[m.row].row)
            })
        });
        new.config_version += 1;
        let first_row = moves
            .iter()
            .filter(|m| m.from == name)
            .map(|m| rows[m.row].row)
            .min()
            .unwrap_or(0);
        ordered.push((
            first_row,
            ChangeEntry {
                username: name.to_string(),
                action: "update",
                fields: diff(&old, &new, false),
            },
        ));
        p.changes.changes.push(Change {
            old: Some(Box::new(old)),
            new: Some(Box::new(new)),
        });
    }
}

#[derive(Clone, Copy)]
enum Owner<'a> {
    /// A user the file does not touch.
    Kept(&'a str),
    /// Index of the file row that claims it.
    Row(usize),
}
