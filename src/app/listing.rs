//! The admin page's lists: users and phones a page at a time, searched
//! (name, extension, MAC), in natural order (`anna.becker224` before
//! `anna.becker1024`), with counts; and each phone's state in words an admin
//! acts on (never fetched, bootstrap only, provisioned, refused, outdated).

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::fleet;
use super::ops::{Answer, lines_json, mac_matches};
use crate::config::FirmwareConfig;
use crate::domain::{Phone, User};
use crate::store::{PhoneState, Provisioning, Store, StoreError};

/// Largest `per_page`; more is clamped.
pub const MAX_PER_PAGE: usize = 500;
/// `per_page` when not given.
pub const DEFAULT_PER_PAGE: usize = 50;

/// Which page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Case-insensitive search; empty finds everything.
    pub q: String,
    /// From 1.
    pub page: usize,
    pub per_page: usize,
    /// `name`, `extension`, or either with a leading `-` for descending.
    pub sort: String,
}

impl PageRequest {
    /// The page's slice of `n` items, as a range.
    fn range(&self, n: usize) -> std::ops::Range<usize> {
        let per = self.per_page.clamp(1, MAX_PER_PAGE);
        let start = (self.page.max(1) - 1).saturating_mul(per).min(n);
        start..(start + per).min(n)
    }

    fn per_page(&self) -> usize {
        self.per_page.clamp(1, MAX_PER_PAGE)
    }
}

/// Compares text the way people count: runs of digits by their value, the
/// rest case-insensitively, so `becker224` < `becker1024`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let m = digits(&mut x);
                let n = digits(&mut y);
                // Leading zeros aside, a longer run is a larger number.
                let (m0, n0) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let by_value = m0.len().cmp(&n0.len()).then_with(|| m0.cmp(n0));
                if by_value != Ordering::Equal {
                    return by_value;
                }
            }
            (Some(c), Some(d)) => {
                let o = c.to_lowercase().cmp(d.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                x.next();
                y.next();
            }
        }
    }
}

fn digits(it: &mut std::iter::Peekable<std::str::Chars>) -> String {
    let mut s = String::new();
    while let Some(c) = it.next_if(char::is_ascii_digit) {
        s.push(c);
    }
    s
}

/// The envelope both lists answer with.
fn envelope(total: usize, matched: usize, req: &PageRequest, items: Vec<Value>) -> Value {
    json!({
        "total": total,
        "matched": matched,
        "page": req.page.max(1),
        "per_page": req.per_page(),
        "pages": matched.div_ceil(req.per_page()).max(1),
        "items": items,
    })
}

/// Whether `u` matches the search: username, names, e-mail, extension or
/// MAC (any notation).
fn user_matches(u: &User, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_lowercase();
    u.username.to_lowercase().contains(&q)
        || u.display().to_lowercase().contains(&q)
        || u.email
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains(&q))
        || u.lines.iter().any(|l| l.extension.contains(&q))
        || mac_matches(u, &q)
}

/// `GET /api/v1/users?page=`: one page of users, secrets masked.
pub fn users_page(store: &dyn Store, req: &PageRequest) -> Result<Answer, StoreError> {
    let mut total = 0;
    let mut users = Vec::new();
    store.for_each_user(&mut |u| {
        total += 1;
        if user_matches(&u, &req.q) {
            users.push(u);
        }
    })?;
    let ext = |u: &User| {
        u.primary_line()
            .map(|l| l.extension.clone())
            .unwrap_or_default()
    };
    let (key, desc) = match req.sort.strip_prefix('-') {
        Some(k) => (k, true),
        None => (req.sort.as_str(), false),
    };
    users.sort_by(|a, b| {
        let o = match key {
            "extension" => natural_cmp(&ext(a), &ext(b)),
            _ => natural_cmp(&a.username, &b.username),
        };
        if desc { o.reverse() } else { o }
    });
    let matched = users.len();
    let items = users[req.range(matched)]
        .iter()
        .map(|u| {
            json!({
                "username": u.username,
                "display_name": u.display(),
                "first_name": u.first_name,
                "last_name": u.last_name,
                "email": u.email,
                "enabled": u.enabled,
                "site": u.site,
                "source": u.source,
                "extension": u.primary_line().map(|l| l.extension.clone()),
                "lines": lines_json(u, false),
                "phones": u.phones.iter().map(|p| json!({
                    "mac": p.mac.plain(), "vendor": p.vendor, "model": p.model,
                })).collect::<Vec<_>>(),
                "config_version": u.config_version,
            })
        })
        .collect();
    let body = envelope(total, matched, req, items);
    Ok(Answer::ok(
        serde_json::to_vec(&body).unwrap_or_default(),
        "application/json",
    ))
}

/// The phone states of the Phones list, by the `state=` filter's names.
pub const STATES: [(&str, &str); 5] = [
    ("never", "never_fetched"),
    ("bootstrap", "bootstrap_only"),
    ("provisioned", "provisioned"),
    ("refused", "refused"),
    ("outdated", "outdated"),
];

/// A phone's state for the list and what it waits for or why it was
/// refused: `(state, state_reason)`.
pub fn phone_state(
    firmware: &FirmwareConfig,
    u: &User,
    p: &Phone,
    s: &PhoneState,
) -> (&'static str, Option<String>) {
    match s.provisioning() {
        Provisioning::NeverFetched => (
            "never_fetched",
            Some("waiting for the phone's first request".into()),
        ),
        Provisioning::CommonOnly => (
            "never_fetched",
            Some("the phone asked only for common files, not its own file yet".into()),
        ),
        Provisioning::BootstrapOnly => (
            "bootstrap_only",
            Some("got its bootstrap file over plain HTTP; waiting for it to fetch its full file over HTTPS".into()),
        ),
        Provisioning::Refused(r) => ("refused", Some(r)),
        Provisioning::Provisioned | Provisioning::Unknown => {
            match fleet::on_target(firmware, p, &u.site, s) {
                (Some(t), "no") => (
                    "outdated",
                    Some(format!(
                        "runs firmware {}, target {}",
                        s.firmware.as_deref().unwrap_or("?"),
                        t.version
                    )),
                ),
                _ => ("provisioned", None),
            }
        }
    }
}

/// An RFC 3339 time to the second (`...09:30:00Z`), whatever precision was
/// stored.
pub fn seconds(t: &str) -> String {
    match (t.find('.'), t.rfind(['Z', '+'])) {
        (Some(dot), Some(zone)) if dot < zone => format!("{}{}", &t[..dot], &t[zone..]),
        _ => t.to_string(),
    }
}

/// Whether the phone's MAC contains the search, in any notation.
fn mac_hit(p: &Phone, q: &str) -> bool {
    let hex: String = q.chars().filter(char::is_ascii_hexdigit).collect();
    let notation = q
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    !hex.is_empty() && notation && p.mac.plain().contains(&hex)
}

/// `GET /api/v1/phones?page=`: one page of phones with their states, and
/// how many phones are in each state (of all phones matching `q`).
pub fn phones_page(
    store: &dyn Store,
    firmware: &FirmwareConfig,
    req: &PageRequest,
    state: Option<&str>,
) -> Result<Answer, StoreError> {
    let wanted = match state {
        None | Some("") => None,
        Some(s) => match STATES
            .iter()
            .find(|(short, long)| s == *short || s == *long)
        {
            Some((_, long)) => Some(*long),
            None => {
                let names: Vec<&str> = STATES.iter().map(|(s, _)| *s).collect();
                return Ok(Answer::fail(
                    2,
                    400,
                    format!("state {s:?} is not one of {}", names.join(", ")),
                ));
            }
        },
    };
    let users = store.users()?;
    let mut total = 0;
    let mut counts: Vec<(&str, usize)> = STATES.iter().map(|(s, _)| (*s, 0)).collect();
    let mut rows = Vec::new();
    for u in &users {
        for p in &u.phones {
            total += 1;
            let q = req.q.to_lowercase();
            let hit = q.is_empty()
                || u.username.to_lowercase().contains(&q)
                || u.lines.iter().any(|l| l.extension.contains(&q))
                || p.model
                    .as_deref()
                    .is_some_and(|m| m.to_lowercase().contains(&q))
                || p.vendor.contains(&q)
                || mac_hit(p, &q);
            if !hit {
                continue;
            }
            let s = store.phone_state(p.mac)?.unwrap_or_default();
            let (code, reason) = phone_state(firmware, u, p, &s);
            if let Some(c) = STATES
                .iter()
                .position(|(_, long)| *long == code)
                .and_then(|i| counts.get_mut(i))
            {
                c.1 += 1;
            }
            if wanted.is_some_and(|w| w != code) {
                continue;
            }
            rows.push((u, p, s, code, reason));
        }
    }
    let (key, desc) = match req.sort.strip_prefix('-') {
        Some(k) => (k, true),
        None => (req.sort.as_str(), false),
    };
    rows.sort_by(|a, b| {
        let o = match key {
            "name" | "username" => natural_cmp(&a.0.username, &b.0.username),
            "extension" => natural_cmp(
                &a.0.primary_line()
                    .map(|l| l.extension.clone())
                    .unwrap_or_default(),
                &b.0.primary_line()
                    .map(|l| l.extension.clone())
                    .unwrap_or_default(),
            ),
            _ => a.1.mac.cmp(&b.1.mac),
        };
        if desc { o.reverse() } else { o }
    });
    let matched = rows.len();
    let items = rows[req.range(matched)]
        .iter()
        .map(|(u, p, s, code, reason)| {
            json!({
                "mac": p.mac.plain(),
                "vendor": p.vendor,
                "model": fleet::model(p, s),
                "username": u.username,
                "extension": u.primary_line().map(|l| l.extension.clone()),
                "site": u.site,
                "state": code,
                "state_reason": reason,
                "last_fetch": s.last_fetch.as_ref().map(|f| seconds(&f.time)),
                "last_status": s.last_fetch.as_ref().map(|f| f.status),
                "last_channel": s.last_fetch.as_ref().and_then(|f| f.channel.clone()),
                "firmware": s.firmware,
            })
        })
        .collect();
    let mut body = envelope(total, matched, req, items);
    body["states"] = Value::Object(
        counts
            .into_iter()
            .map(|(k, n)| (k.to_string(), json!(n)))
            .collect(),
    );
    Ok(Answer::ok(
        serde_json::to_vec(&body).unwrap_or_default(),
        "application/json",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_counts_numbers() {
        let mut v = vec!["anna.becker1024", "anna.becker224", "Anna.becker3", "bob"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["Anna.becker3", "anna.becker224", "anna.becker1024", "bob"]
        );
        assert_eq!(natural_cmp("x2", "x10"), Ordering::Less);
    }

    #[test]
    fn pages_clamp() {
        let r = PageRequest {
            q: String::new(),
            page: 3,
            per_page: 2,
            sort: String::new(),
        };
        assert_eq!(r.range(5), 4..5);
        assert_eq!(r.range(3), 3..3);
    }

    #[test]
    fn seconds_drop_the_fraction() {
        assert_eq!(
            seconds("2026-12-02T09:30:00.123456789Z"),
            "2026-12-02T09:30:00Z"
        );
        assert_eq!(seconds("2026-12-02T09:30:00Z"), "2026-12-02T09:30:00Z");
    }
}
