//! The access decision for one phone request, made before the provisioner
//! is asked: the source allow-list, bans and miss throttling, a verified
//! client certificate's MAC binding, per-device credentials and
//! Digest/Basic.
//!
//! Credentials are checked before anything about the name is looked up, so
//! the 401 is the same for every name; every other "no" is the 404 an
//! unknown MAC gets.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use hyper::http::request::Parts;

use super::auth::{self, Presented, Verdict};
use super::guard::{Gate, MissGuard, Slot};
use super::options::ServeOptions;
use super::pipeline::ConnInfo;
use super::policy::AccessPolicy;
use super::respond;
use crate::app::metrics::Metrics;
use crate::domain::mac::Mac;
use crate::net::Resp;
use crate::provision;
use crate::store::Store;

/// The store the decisions look phones up in.
type PhoneStore<'a> = &'a (dyn Store + Send + Sync);

/// The access decision for one request, before the provisioner is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Granted,
    /// 401 with a challenge; `bad` when wrong credentials were presented.
    Challenge {
        stale: bool,
        bad: Option<&'static str>,
    },
    /// The same 404 as an unknown MAC.
    Refused(&'static str),
}

/// A source's turn to be answered; holds a throttled source's slot (one of
/// its few parallel answers) until dropped.
pub(super) struct Turn<'a> {
    _slot: Option<Slot<'a>>,
}

/// Who may have what: the access policy plus the per-source miss counts.
pub(super) struct Gatekeeper {
    policy: AccessPolicy,
    guard: MissGuard,
    /// Mutual TLS is optional: per-MAC files over HTTPS need a client
    /// certificate unless credentials are configured.
    cert_optional: bool,
    metrics: Arc<Metrics>,
}

impl Gatekeeper {
    pub(super) fn new(opts: &ServeOptions) -> Gatekeeper {
        Gatekeeper {
            policy: opts.policy.clone(),
            guard: MissGuard::new(opts.misses.clone()),
            cert_optional: opts.client_ca.as_ref().is_some_and(|c| !c.required),
            metrics: opts.metrics.clone(),
        }
    }

    /// Waits out a throttled source's delay. `None` for a banned source or
    /// a throttled one at its parallel limit: they get the 404 at once,
    /// whatever they asked, without a store lookup.
    pub(super) async fn wait_turn(&self, peer: SocketAddr) -> Option<Turn<'_>> {
        match self.guard.gate(peer.ip()) {
            Gate::Pass => Some(Turn { _slot: None }),
            Gate::Throttle(delay, slot) => {
                tokio::time::sleep(delay).await;
                Some(Turn { _slot: Some(slot) })
            }
            Gate::Busy => {
                tracing::debug!(peer = %peer, "refused: throttled source at its parallel limit");
                None
            }
            Gate::Banned => {
                tracing::debug!(peer = %peer, "refused: source banned for misses");
                None
            }
        }
    }

    /// Whether the source is in `policy.allow`.
    pub(super) fn allows(&self, ip: IpAddr) -> bool {
        self.policy.allows(ip)
    }

    /// Credentials first, before anything about the MAC is looked up, so
    /// the 401 is the same for every name. A verified client certificate
    /// stands in for credentials, for its own MAC's files when it names one.
    pub(super) fn authorize(
        &self,
        conn: ConnInfo,
        presented: &Presented<'_>,
        path: &str,
        store: PhoneStore<'_>,
    ) -> Access {
        if let Some(cert) = conn.client_cert {
            // A device certificate opens its own phone's files only.
            if let Some(mac) = path_mac(path)
                && !cert.allows(mac)
            {
                return Access::Refused("client certificate names another MAC");
            }
            return Access::Granted;
        }
        if conn.secure
            && let Some(dev) = self.policy.device_auth()
            && let Some(mac) = path_mac(path)
            && device_auth_applies(store, mac)
        {
            let own = dev.key().device_credential(&mac);
            return access(dev.check_as(presented, std::slice::from_ref(&own)));
        }
        if let Some(auth) = self.policy.auth() {
            return self.http_auth(auth, presented, path, store);
        }
        if self.cert_optional && conn.secure && names_a_mac(path) {
            return Access::Refused("per-MAC file without a client certificate");
        }
        Access::Granted
    }

    /// Digest/Basic. A phone's files want its site's own credentials when
    /// the site has some (`[sites.NAME] credentials`), else the global ones;
    /// common files take any valid credential. Credentials that are valid
    /// only for another site get the same 404 as an unknown MAC rather than
    /// a 401, so a credential holder learns nothing about which MACs exist
    /// elsewhere.
    fn http_auth(
        &self,
        auth: &auth::Authenticator,
        presented: &Presented<'_>,
        path: &str,
        store: PhoneStore<'_>,
    ) -> Access {
        if !self.policy.has_site_credentials() {
            return access(auth.check(presented));
        }
        let Some(mac) = path_mac(path) else {
            return access(auth.check_as(presented, self.policy.all_credentials()));
        };
        let site = match store.user_by_mac(mac) {
            Ok(Some(user)) => Some(user.site),
            Ok(None) | Err(_) => None,
        };
        let verdict = match site
            .as_deref()
            .and_then(|s| self.policy.site_credentials(s))
        {
            Some(own) => auth.check_as(presented, own),
            None => auth.check(presented),
        };
        match verdict {
            Verdict::Bad(_)
                if auth.check_as(presented, self.policy.all_credentials()) == Verdict::Ok =>
            {
                Access::Refused("credentials of another site")
            }
            v => access(v),
        }
    }

    /// A 401 with one `WWW-Authenticate` per accepted scheme.
    pub(super) fn challenge(&self, stale: bool) -> Resp {
        let mut r = respond::plain(StatusCode::UNAUTHORIZED, b"authentication required\n");
        for c in self
            .policy
            .auth()
            .or(self.policy.device_auth())
            .map(|a| a.challenges(stale))
            .unwrap_or_default()
        {
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(WWW_AUTHENTICATE, v);
            }
        }
        r
    }

    /// Counts a miss against the source; says so when it starts a ban.
    pub(super) fn miss(&self, peer: SocketAddr) {
        if self.guard.miss(peer.ip()) {
            self.metrics.ban();
            tracing::warn!(peer = %peer, "source banned after too many misses");
        }
    }
}

/// Whether `mac`'s per-MAC files need its own credentials: not for a
/// phone whose vendor's templates don't hand them out (it could never
/// present them). An unknown MAC is challenged like a real one.
fn device_auth_applies(store: PhoneStore<'_>, mac: Mac) -> bool {
    match store.user_by_mac(mac) {
        Ok(Some(user)) => user.phones.iter().find(|p| p.mac == mac).is_none_or(|p| {
            crate::vendors::by_id(&p.vendor).is_some_and(|v| v.provisioning.device_credentials)
        }),
        Ok(None) | Err(_) => true,
    }
}

/// The access decision for a credential check.
fn access(v: Verdict) -> Access {
    match v {
        Verdict::Ok => Access::Granted,
        Verdict::Missing => Access::Challenge {
            stale: false,
            bad: None,
        },
        Verdict::Stale => Access::Challenge {
            stale: true,
            bad: None,
        },
        Verdict::Bad(why) => Access::Challenge {
            stale: false,
            bad: Some(why),
        },
    }
}

/// The MAC of a per-MAC file name of some vendor.
fn path_mac(path: &str) -> Option<Mac> {
    let name = provision::path::file_name(path)?;
    provision::path::matches(&name).iter().find_map(|m| m.mac)
}

/// Whether the path is a per-MAC file name of some vendor.
fn names_a_mac(path: &str) -> bool {
    provision::path::file_name(path)
        .is_some_and(|n| provision::path::matches(&n).iter().any(|m| m.mac.is_some()))
}

/// What a request offers for authentication.
pub(super) fn presented(parts: &Parts) -> Presented<'_> {
    Presented {
        method: parts.method.as_str(),
        uri: request_target(parts),
        authorization: parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes()),
    }
}

/// The request target as the client sent it, which Digest's `uri` covers.
fn request_target(parts: &Parts) -> &str {
    parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
}
