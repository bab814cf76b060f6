//! The fetch log: every request about a known phone updates its
//! `PhoneState` (time, source, User-Agent, file, status, and a bounded
//! history of what each request was), and a served file teaches the model
//! and firmware the User-Agent reported. The request only builds the
//! record; [`FetchLog`] writes it in the background.

use std::net::IpAddr;

use crate::app::fetch_log::{FetchLog, FetchRecord};
use crate::domain::clock::now_rfc3339_seconds;
use crate::provision::Identity;
use crate::store::{Fetch, FetchEvent, FetchKind};

/// Longest refusal reason kept (a render error can be long).
const MAX_REASON: usize = 200;

/// What the pipeline made of a request, for the phone's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A file was sent (or an upload taken): which kind.
    Done(FetchKind),
    /// Refused; the reason the admin sees (never a secret).
    Refused(String),
    /// A name nobody serves.
    NotFound,
    /// A Digest challenge before any credentials: the usual first half of
    /// an authenticated fetch, so it is not kept in the history.
    Challenge,
}

/// The request's facts the record keeps beside the identity.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub ip: IpAddr,
    pub user_agent: Option<&'a str>,
    pub status: u16,
    /// The transport: `http`, `https` or `tftp` ([`crate::http::ConnInfo::channel`]).
    pub channel: &'static str,
    pub outcome: &'a Outcome,
}

/// Longest User-Agent kept; longer ones are cut (they are only shown).
const MAX_UA: usize = 256;

/// Queues the record of one request for the background writer
/// ([`FetchLog`]); false when it was dropped (queue full, counted there).
/// Only MACs that belong to a phone in the store are recorded, so
/// strangers cannot fill the store with made-up MACs: the writer checks
/// that, off the request path.
pub fn record(log: &FetchLog, id: &Identity, facts: Facts<'_>) -> bool {
    match entry(id, &facts) {
        Some(r) => log.submit(r),
        None => true,
    }
}

/// What the phone's state and history keep of one request; none when no
/// MAC is named.
pub fn entry(id: &Identity, facts: &Facts<'_>) -> Option<FetchRecord> {
    let Facts {
        ip,
        user_agent,
        status,
        ..
    } = *facts;
    let mac = id.mac?;
    let time = now_rfc3339_seconds();
    let event = event(id, facts, &time);
    let fetch = Fetch {
        time,
        ip: ip.to_canonical().to_string(),
        user_agent: clean(user_agent.unwrap_or("")),
        file: id.file.clone().unwrap_or_else(|| "(invalid name)".into()),
        status,
        channel: Some(facts.channel.to_string()),
    };
    // A 304 is the file served again, the client already holding it.
    let served = matches!(status, 200 | 304);
    let learned = served
        .then_some(id.ua.as_ref())
        .flatten()
        .filter(|ua| ua.mac.is_none_or(|m| m == mac));
    Some(FetchRecord {
        mac,
        fetch,
        event,
        learned_model: learned.and_then(|ua| ua.model.clone()),
        learned_firmware: learned.and_then(|ua| ua.firmware.clone()),
        // A per-MAC file just served (200, 304) was rendered for a phone in
        // the store; anything else is looked up by the writer.
        known: served && id.mac_in_path,
    })
}

/// The history line of a request; none for a bare challenge.
fn event(id: &Identity, facts: &Facts<'_>, time: &str) -> Option<FetchEvent> {
    let (kind, reason) = match facts.outcome {
        Outcome::Done(kind) => (*kind, None),
        Outcome::Refused(why) => (
            FetchKind::Refused,
            Some(why.chars().take(MAX_REASON).collect()),
        ),
        Outcome::NotFound => (FetchKind::NotFound, None),
        Outcome::Challenge => return None,
    };
    // What the User-Agent says about this MAC (not one naming another).
    let ua = id
        .ua
        .as_ref()
        .filter(|ua| ua.mac.is_none_or(|m| Some(m) == id.mac));
    Some(FetchEvent {
        time: time.to_string(),
        file: id.file.clone().unwrap_or_else(|| "(invalid name)".into()),
        channel: facts.channel.into(),
        status: facts.status,
        kind,
        reason,
        model: ua.and_then(|u| u.model.clone()),
        firmware: ua.and_then(|u| u.firmware.clone()).map(|f| clean(&f)),
    })
}

/// Printable, bounded copy of a header value.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(MAX_UA).collect()
}
