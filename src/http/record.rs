//! The fetch log: every request about a known phone updates its
//! `PhoneState` (time, source, User-Agent, file, status, and a bounded
//! history of what each request was), and a served file teaches the model
//! and firmware the User-Agent reported.

use std::net::IpAddr;

use crate::domain::clock::now_rfc3339_seconds;
use crate::provision::Identity;
use crate::store::{Fetch, FetchEvent, FetchKind, PhoneState, Store, StoreError};

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
    /// Came over TLS.
    pub secure: bool,
    pub outcome: &'a Outcome,
}

/// Longest User-Agent kept; longer ones are cut (they are only shown).
const MAX_UA: usize = 256;

/// Records one request. Only MACs that belong to a phone in the store are
/// recorded, so strangers cannot fill the store with made-up MACs.
pub fn record(
    store: &(dyn Store + Send + Sync),
    id: &Identity,
    facts: Facts<'_>,
) -> Result<(), StoreError> {
    let Facts {
        ip,
        user_agent,
        status,
        ..
    } = facts;
    let Some(mac) = id.mac else { return Ok(()) };
    // A per-MAC file just served (200) was rendered for a phone in the
    // store; anything else is looked up.
    let served_per_mac = status == 200 && id.mac_in_path;
    if !served_per_mac && store.user_by_mac(mac)?.is_none() {
        return Ok(());
    }
    let time = now_rfc3339_seconds();
    let event = event(id, &facts, &time);
    let fetch = Fetch {
        time,
        ip: ip.to_canonical().to_string(),
        user_agent: clean(user_agent.unwrap_or("")),
        file: id.file.clone().unwrap_or_else(|| "(invalid name)".into()),
        status,
    };
    let learned = (status == 200)
        .then_some(id.ua.as_ref())
        .flatten()
        .filter(|ua| ua.mac.is_none_or(|m| m == mac));
    // One atomic update: the phone's passwords, issued by the same request
    // a moment ago, are kept.
    let state = store.update_phone_state(mac, &mut |state: &mut PhoneState| {
        state.last_fetch = Some(fetch.clone());
        if let Some(e) = &event {
            state.push_fetch(e);
        }
        if let Some(ua) = learned {
            if ua.model.is_some() {
                state.learned_model = ua.model.clone();
            }
            if ua.firmware.is_some() {
                state.firmware = ua.firmware.clone();
            }
        }
    })?;
    // The event goes into its own small slot: rewriting a whole list on
    // every request cost ~20 us (release) on the boot storm's path.
    if let Some(e) = &event {
        store.put_fetch_event(mac, state.fetch_seq, e)?;
    }
    Ok(())
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
        channel: if facts.secure { "https" } else { "http" }.into(),
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
