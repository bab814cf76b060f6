//! The fetch log: every request about a known phone updates its
//! `PhoneState` (time, source, User-Agent, file, status), and a served file
//! teaches the model and firmware the User-Agent reported.

use std::net::IpAddr;

use crate::domain::clock::now_rfc3339;
use crate::provision::Identity;
use crate::store::{Fetch, PhoneState, Store, StoreError};

/// Longest User-Agent kept; longer ones are cut (they are only shown).
const MAX_UA: usize = 256;

/// Records one request. Only MACs that belong to a phone in the store are
/// recorded, so strangers cannot fill the store with made-up MACs.
pub fn record(
    store: &(dyn Store + Send + Sync),
    id: &Identity,
    ip: IpAddr,
    user_agent: Option<&str>,
    status: u16,
) -> Result<(), StoreError> {
    let Some(mac) = id.mac else { return Ok(()) };
    // A per-MAC file just served (200) was rendered for a phone in the
    // store; anything else is looked up.
    let served_per_mac = status == 200 && id.mac_in_path;
    if !served_per_mac && store.user_by_mac(mac)?.is_none() {
        return Ok(());
    }
    let fetch = Fetch {
        time: now_rfc3339(),
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
    store.update_phone_state(mac, &mut |state: &mut PhoneState| {
        state.last_fetch = Some(fetch.clone());
        if let Some(ua) = learned {
            if ua.model.is_some() {
                state.learned_model = ua.model.clone();
            }
            if ua.firmware.is_some() {
                state.firmware = ua.firmware.clone();
            }
        }
    })?;
    Ok(())
}

/// Printable, bounded copy of a header value.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(MAX_UA).collect()
}
