//! Keeping a node's read model current when other nodes write the same
//! store (a database engine), and telling a load balancer whether this node
//! should get traffic.
//!
//! Four times a second [`refresh_loop`] asks the store to re-read what other
//! nodes changed; when the generation moved it does what an import on this
//! node does to the run-time caches (the provisioner's directory; the DHCP
//! thread and the render cache follow [`crate::store::Store::generation`]
//! by themselves) and re-reads the shared admin tokens. A failure is
//! logged (rate-limited) and remembered, so `/readyz` fails while it lasts;
//! serving goes on from the last good read model.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Serving;
use super::tokens::TokenSet;
use crate::store::Store;

/// How often the read model is refreshed. The promise is "an import on one
/// node is served by every node within a second"; a one-second poll would
/// spend the whole second waiting, leaving nothing for the reload and the
/// first request, so the poll (one `SELECT` on one row) runs four times a
/// second.
pub const REFRESH_EVERY: Duration = Duration::from_millis(250);
/// A read model confirmed longer ago than this is not ready (twenty missed
/// refreshes: a database that stopped answering, not one slow poll).
pub const MAX_STALENESS: Duration = Duration::from_secs(5);
/// A failing refresh is logged once, then at most this often.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// What the last refresh said; read by `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    /// Since when refreshes fail, and the last time that was logged.
    failing: Mutex<Option<Failing>>,
}

#[derive(Debug, Clone, Copy)]
struct Failing {
    since: Instant,
    logged: Instant,
}

/// Why this node should get no traffic now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// `Store::ping` failed or did not answer in time.
    Unreachable,
    /// Refreshing the read model fails.
    RefreshFailing,
    /// The read model was last confirmed this long ago.
    Stale(Duration),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Unreachable => f.write_str("store unreachable"),
            NotReady::RefreshFailing => f.write_str("read model refresh failing"),
            NotReady::Stale(d) => write!(f, "read model {} s old", d.as_secs()),
        }
    }
}

impl Health {
    /// Notes a failed refresh; true when it should be logged now.
    fn failed(&self, now: Instant) -> bool {
        let mut f = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        match f.as_mut() {
            None => {
                *f = Some(Failing {
                    since: now,
                    logged: now,
                });
                true
            }
            Some(state) if now.duration_since(state.logged) >= LOG_EVERY => {
                state.logged = now;
                true
            }
            Some(_) => false,
        }
    }

    /// Notes a good refresh; returns how long refreshes had failed, if they had.
    fn succeeded(&self, now: Instant) -> Option<Duration> {
        let mut f = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        f.take().map(|s| now.duration_since(s.since))
    }

    pub fn refresh_failing(&self) -> bool {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The readiness check: the store answers, the last refresh worked and
    /// the read model is recent. Blocking (it reaches the store).
    pub fn check(&self, store: &dyn Store) -> Result<(), NotReady> {
        if let Err(e) = store.ping() {
            tracing::debug!(error = %e, "readiness: the store does not answer");
            return Err(NotReady::Unreachable);
        }
        if self.refresh_failing() {
            return Err(NotReady::RefreshFailing);
        }
        match store.staleness() {
            Some(age) if age > MAX_STALENESS => Err(NotReady::Stale(age)),
            _ => Ok(()),
        }
    }
}

/// One refresh: re-reads the store and, when another node changed it,
/// the caches an import on this node would refresh. Blocking.
pub fn refresh_once(serving: &Serving, tokens: Option<&TokenSet>) {
    let now = Instant::now();
    let result = serving.store.refresh().and_then(|moved| {
        if moved {
            tracing::info!("store changed on another node; read model refreshed");
            serving.provisioner.refresh()?;
        }
        Ok(())
    });
    if let Some(t) = tokens {
        t.reload();
    }
    match result {
        Ok(()) => {
            if let Some(down) = serving.health.succeeded(now) {
                tracing::warn!(after_secs = down.as_secs(), "store refresh works again");
            }
        }
        Err(e) => {
            if serving.health.failed(now) {
                tracing::error!(error = %e, "cannot refresh the read model from the store; serving the last one");
            }
        }
    }
}

/// Refreshes every [`REFRESH_EVERY`] until the task is aborted. Each
/// refresh runs on the blocking pool, never on an async worker; a refresh
/// still running when the next is due delays it instead of piling up.
pub async fn refresh_loop(serving: Arc<Serving>, tokens: Option<TokenSet>) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (s, t) = (serving.clone(), tokens.clone());
        if let Err(e) = tokio::task::spawn_blocking(move || refresh_once(&s, t.as_ref())).await {
            tracing::error!(error = %e, "store refresh task failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_once_a_minute_and_recovery_clears_them() {
        let h = Health::default();
        let t0 = Instant::now();
        assert!(!h.refresh_failing());
        assert!(h.failed(t0), "the first failure is logged");
        assert!(!h.failed(t0 + Duration::from_secs(1)));
        assert!(h.refresh_failing());
        assert!(h.failed(t0 + LOG_EVERY + Duration::from_secs(1)));
        assert_eq!(
            h.succeeded(t0 + Duration::from_secs(70)),
            Some(Duration::from_secs(70))
        );
        assert!(!h.refresh_failing());
        assert_eq!(h.succeeded(t0 + Duration::from_secs(71)), None);
    }

    #[test]
    fn ready_only_while_the_store_answers_and_refreshes_work() {
        use crate::store::shared_fake::SharedFake;
        let store = SharedFake::default();
        let h = Health::default();
        assert_eq!(h.check(&store), Ok(()));
        store.down.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(h.check(&store), Err(NotReady::Unreachable));
        store
            .down
            .store(false, std::sync::atomic::Ordering::Relaxed);
        h.failed(Instant::now());
        assert_eq!(h.check(&store), Err(NotReady::RefreshFailing));
        h.succeeded(Instant::now());
        assert_eq!(h.check(&store), Ok(()));
        // An embedded engine is always current.
        assert_eq!(h.check(&crate::store::MemoryStore::new()), Ok(()));
    }
}
