//! What the faces share: the operations behind every CLI command and admin
//! API endpoint (`ops`, `preview`), so a command gives the same output
//! whether it opens the store or asks the running server (`backend` picks
//! the route, `client` speaks over the admin socket); the config turned
//! into rendering settings (`settings`); the admin tokens; the counters
//! behind `/metrics`; and imports from configured sources (`sources`).
//! Nothing here listens.

use std::sync::Arc;

use crate::config::Config;
use crate::import::ImportError;
use crate::provision::Provisioner;
use crate::store::Store;
use metrics::Metrics;
use ops::{Answer, ImportRequest};

pub mod backend;
pub mod client;
pub mod explain;
pub mod fetch_log;
pub mod fleet;
pub mod listing;
pub mod masked;
pub mod metrics;
pub mod ops;
pub mod outdated;
pub mod preview;
pub mod refresh;
pub mod settings;
pub mod sources;
pub mod tokens;
pub mod users;

/// What a running server shares with its admin surface (the API and the
/// scheduled sources): the store the provisioning listeners serve from,
/// what they derive from it, the config and the counters.
pub struct Serving {
    pub store: Arc<dyn Store + Send + Sync>,
    pub provisioner: Arc<Provisioner>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The phone listener's fetch-record writer, which reads of the fleet
    /// flush first ([`Serving::settle`]).
    pub fetch_log: Option<Arc<fetch_log::FetchLog>>,
    /// Whether the read model keeps up with the store (`/readyz`).
    pub health: refresh::Health,
}

impl Serving {
    /// Waits (blocking, at most a second) until the fetch records queued
    /// so far are in the store, so a read shows every fetch answered
    /// before it.
    pub fn settle(&self) {
        if let Some(log) = &self.fetch_log
            && !log.flush(std::time::Duration::from_secs(1))
        {
            tracing::warn!("the fetch records were not all written within a second");
        }
    }

    /// An import into the served store: once it is applied, the
    /// provisioner re-reads what it derives from all users, so the very
    /// next phone request sees the change. Blocking (CPU and disk).
    pub fn import(&self, bytes: Vec<u8>, req: &ImportRequest) -> Result<Answer, ImportError> {
        let (answer, applied) = ops::import(self.store.as_ref(), &self.config, bytes, req, None)?;
        if applied && let Err(e) = self.provisioner.refresh() {
            tracing::error!(error = %e, "cannot refresh the provisioner after an import");
        }
        Ok(answer)
    }

    /// A single-user operation on the served store ([`users::run`]), the
    /// provisioner refreshed when it wrote.
    pub fn user_op(&self, req: &users::UserRequest) -> Result<Answer, ImportError> {
        let (answer, applied) = users::run(self.store.as_ref(), &self.config, req)?;
        if applied {
            self.refreshed();
        }
        Ok(answer)
    }

    /// [`users::delete`] on the served store.
    pub fn delete_user(
        &self,
        username: &str,
        (yes, dry_run): (bool, bool),
        origin: &str,
        format: ops::Format,
    ) -> Result<Answer, crate::store::StoreError> {
        let store = self.store.as_ref();
        let answer = users::delete(store, username, yes, dry_run, origin, format)?;
        if yes && !dry_run && answer.exit_code == 0 {
            self.refreshed();
        }
        Ok(answer)
    }

    fn refreshed(&self) {
        if let Err(e) = self.provisioner.refresh() {
            tracing::error!(error = %e, "cannot refresh the provisioner after a user change");
        }
    }
}
