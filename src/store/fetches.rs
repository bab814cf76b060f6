//! A phone's recent fetches, kept in its [`super::PhoneState`]: what
//! `autoprov phones show` lists and what "bootstrap only / provisioned /
//! refused" is decided from.

use serde::{Deserialize, Serialize};

/// How many fetches a phone keeps; older ones drop off the front. Small:
/// the whole list is rewritten by every fetch.
pub const FETCH_HISTORY: usize = 20;

/// What one fetch was, as far as provisioning is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchKind {
    /// The per-MAC main file without secrets (plain HTTP), pointing the
    /// phone at HTTPS.
    Bootstrap,
    /// The per-MAC main file with the SIP account (HTTPS, or plain HTTP
    /// where secrets over HTTP are allowed).
    Full,
    /// Any other file served or received (common files, Yealink's
    /// `<mac>.boot`, uploads).
    Other,
    /// Refused for a reason the admin should see (credentials, allow-list,
    /// a User-Agent naming another MAC, ...).
    Refused,
    /// A name nobody serves (phones ask for many optional files): noted,
    /// but it says nothing about the phone's provisioning.
    NotFound,
}

/// One request of a phone, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchEvent {
    /// RFC 3339 UTC, whole seconds.
    pub time: String,
    pub file: String,
    /// `http`, `https` or `tftp`: the listener the request came on.
    pub channel: String,
    pub status: u16,
    pub kind: FetchKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Model and firmware this request's User-Agent reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
}

/// What the phone state keeps of its last telling fetch: small, since it
/// is rewritten with the state on every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telling {
    pub kind: FetchKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Telling {
    /// The part of `event` that decides the state, if it decides it.
    pub fn of(event: &FetchEvent) -> Option<Telling> {
        event.kind.is_telling().then(|| Telling {
            kind: event.kind,
            reason: event.reason.clone(),
        })
    }
}

/// Where a phone stands, from its last fetch that says anything about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisioning {
    /// No request of this phone was ever recorded.
    NeverFetched,
    /// Fetched before fetch histories were kept: the kind is unknown.
    Unknown,
    /// Only files other than its own main file so far.
    CommonOnly,
    BootstrapOnly,
    Provisioned,
    Refused(String),
}

impl Provisioning {
    /// The state of a phone whose last telling fetch (bootstrap, full or
    /// refused) was `telling`; `any` says whether any fetch is in its
    /// history, `fetched` whether any was recorded at all (the older
    /// `last_fetch`).
    pub fn of(telling: Option<&Telling>, any: bool, fetched: bool) -> Provisioning {
        match telling {
            Some(e) => match e.kind {
                FetchKind::Bootstrap => Provisioning::BootstrapOnly,
                FetchKind::Full => Provisioning::Provisioned,
                _ => Provisioning::Refused(e.reason.clone().unwrap_or_default()),
            },
            None if any => Provisioning::CommonOnly,
            None if fetched => Provisioning::Unknown,
            None => Provisioning::NeverFetched,
        }
    }
}

impl Provisioning {
    /// The JSON value: `never_fetched`, `unknown`, `common_only`,
    /// `bootstrap_only`, `provisioned` or `refused`.
    pub fn code(&self) -> &'static str {
        match self {
            Provisioning::NeverFetched => "never_fetched",
            Provisioning::Unknown => "unknown",
            Provisioning::CommonOnly => "common_only",
            Provisioning::BootstrapOnly => "bootstrap_only",
            Provisioning::Provisioned => "provisioned",
            Provisioning::Refused(_) => "refused",
        }
    }

    /// The refusal reason, for `refused`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Provisioning::Refused(r) => Some(r),
            _ => None,
        }
    }
}

impl std::fmt::Display for Provisioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Provisioning::NeverFetched => f.write_str("never fetched"),
            Provisioning::Unknown => f.write_str("fetched (kind not recorded)"),
            Provisioning::CommonOnly => f.write_str("common files only"),
            Provisioning::BootstrapOnly => f.write_str("bootstrap only"),
            Provisioning::Provisioned => f.write_str("provisioned"),
            Provisioning::Refused(r) => write!(f, "refused ({r})"),
        }
    }
}

impl FetchKind {
    /// Whether a fetch of this kind decides the phone's [`Provisioning`].
    pub fn is_telling(self) -> bool {
        matches!(
            self,
            FetchKind::Bootstrap | FetchKind::Full | FetchKind::Refused
        )
    }
}

/// The ring slot of a phone's fetch number `seq`: the history is kept in
/// [`FETCH_HISTORY`] slots per phone, each overwritten in turn, so a record
/// is one small write instead of rewriting the whole list.
pub fn slot(seq: u64) -> u8 {
    (seq % FETCH_HISTORY as u64) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: FetchKind, reason: Option<&str>) -> FetchEvent {
        FetchEvent {
            time: "2026-12-02T10:00:00Z".into(),
            file: "f".into(),
            channel: "http".into(),
            status: 200,
            kind,
            reason: reason.map(str::to_string),
            model: None,
            firmware: None,
        }
    }

    #[test]
    fn state_follows_the_last_telling_fetch() {
        use FetchKind::*;
        let of = |e: Option<FetchEvent>, any, fetched| {
            Provisioning::of(e.as_ref().and_then(Telling::of).as_ref(), any, fetched)
        };
        assert_eq!(of(None, false, false), Provisioning::NeverFetched);
        assert_eq!(of(None, false, true), Provisioning::Unknown);
        assert_eq!(of(None, true, true), Provisioning::CommonOnly);
        assert_eq!(
            of(Some(ev(Bootstrap, None)), true, true),
            Provisioning::BootstrapOnly
        );
        assert_eq!(
            of(Some(ev(Full, None)), true, true),
            Provisioning::Provisioned
        );
        let s = of(Some(ev(Refused, Some("bad credentials"))), true, true);
        assert_eq!(s.to_string(), "refused (bad credentials)");
        assert_eq!((s.code(), s.reason()), ("refused", Some("bad credentials")));
        assert!(!Other.is_telling() && !NotFound.is_telling());
    }

    #[test]
    fn slots_cycle_through_the_bound() {
        let slots: std::collections::BTreeSet<u8> =
            (1..=3 * FETCH_HISTORY as u64).map(slot).collect();
        assert_eq!(slots.len(), FETCH_HISTORY);
        assert_eq!(slot(1), slot(1 + FETCH_HISTORY as u64));
    }
}
