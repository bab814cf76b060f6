//! Phone lock-down: every phone's web UI gets passwords of its own, so no
//! provisioned phone keeps its factory admin password (docs/lockdown.md).
//!
//! A phone's passwords are issued the first time its main file is rendered
//! with secrets (over TLS), stored in its `PhoneState`, and sent in that
//! file only. A site may fix them in the config instead; the fixed value
//! wins at rendering, the stored one stays for when it is removed.

use crate::config::FixedPhonePasswords;
use crate::domain::clock::now_rfc3339;
use crate::domain::mac::Mac;
use crate::domain::secret::PhonePasswords;
use crate::store::{Store, StoreError};

/// The passwords the phone's secure file carries: its stored ones, issued
/// now if it has none (racing requests all end with the one stored), with
/// the site's fixed values over them. Stored ones come from the store's
/// read model where it has one; issuing writes to the store, so where it
/// cannot (a database that is down) the render fails rather than hand out
/// passwords another node might issue differently.
pub fn issue(
    store: &(dyn Store + Send + Sync),
    mac: Mac,
    fixed: Option<&FixedPhonePasswords>,
) -> Result<PhonePasswords, StoreError> {
    let stored = match store.phone_passwords(mac)? {
        Some(p) => p,
        None => {
            // Drawn before the update: the update may run more than once
            // and must only decide, never draw.
            let fresh = PhonePasswords::generate();
            let now = now_rfc3339();
            let state = store.update_phone_state(mac, &mut |s| {
                if s.passwords.is_none() {
                    s.passwords = Some(fresh.clone());
                    s.passwords_set = Some(now.clone());
                }
            })?;
            let issued = state.passwords.unwrap_or(fresh);
            tracing::info!(mac = %mac.colon(), "issued the phone's web passwords");
            issued
        }
    };
    Ok(effective(stored, fixed))
}

/// The stored passwords with the site's fixed values over them.
pub fn effective(stored: PhonePasswords, fixed: Option<&FixedPhonePasswords>) -> PhonePasswords {
    let Some(f) = fixed else { return stored };
    PhonePasswords {
        admin: f.admin.clone().unwrap_or(stored.admin),
        user: f.user.clone().unwrap_or(stored.user),
    }
}

/// Gives the phone new random passwords (stored at once; its next secure
/// fetch carries them). Returns whether the phone had been issued any.
pub fn rotate(store: &(dyn Store + Send + Sync), mac: Mac) -> Result<bool, StoreError> {
    let fresh = PhonePasswords::generate();
    let now = now_rfc3339();
    let mut had = false;
    store.update_phone_state(mac, &mut |s| {
        had = s.passwords.is_some();
        s.passwords = Some(fresh.clone());
        s.passwords_set = Some(now.clone());
    })?;
    Ok(had)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn mac() -> Mac {
        Mac::parse("805ec0000077").unwrap()
    }

    #[test]
    fn issued_once_then_kept() {
        let store = MemoryStore::new();
        let first = issue(&store, mac(), None).unwrap();
        assert_ne!(first.admin, first.user);
        assert_eq!(issue(&store, mac(), None).unwrap(), first);
        let state = store.phone_state(mac()).unwrap().unwrap();
        assert_eq!(state.passwords, Some(first.clone()));
        assert!(state.passwords_set.is_some());
    }

    #[test]
    fn racing_requests_end_with_one_pair() {
        let store = MemoryStore::new();
        let got: Vec<PhonePasswords> = std::thread::scope(|scope| {
            let hs: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| issue(&store, mac(), None).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored = store
            .phone_state(mac())
            .unwrap()
            .unwrap()
            .passwords
            .unwrap();
        assert!(got.iter().all(|p| *p == stored));
    }

    #[test]
    fn fixed_values_win_and_rotation_replaces_the_stored_pair() {
        let store = MemoryStore::new();
        let stored = issue(&store, mac(), None).unwrap();
        let fixed = FixedPhonePasswords {
            admin: Some("Site-Admin-2026".into()),
            user: None,
        };
        let shown = issue(&store, mac(), Some(&fixed)).unwrap();
        assert_eq!(shown.admin, "Site-Admin-2026");
        assert_eq!(shown.user, stored.user);
        assert!(rotate(&store, mac()).unwrap());
        let after = issue(&store, mac(), None).unwrap();
        assert_ne!(after.admin, stored.admin);
        assert_ne!(after.user, stored.user);
        assert!(!rotate(&store, Mac::parse("805ec0000078").unwrap()).unwrap());
    }
}
