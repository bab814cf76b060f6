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
pub mod fleet;
pub mod metrics;
pub mod ops;
pub mod outdated;
pub mod preview;
pub mod refresh;
pub mod settings;
pub mod sources;
pub mod tokens;

/// What a running server shares with its admin surface (the API and the
/// scheduled sources): the store the provisioning listeners serve from,
/// what they derive from it, the config and the counters.
pub struct Serving {
    pub store: Arc<dyn Store + Send + Sync>,
    pub provisioner: Arc<Provisioner>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// Whether the read model keeps up with the store (`/readyz`).
    pub health: refresh::Health,
}

impl Serving {
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
}
