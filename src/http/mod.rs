//! The provisioning listeners: plain HTTP and HTTPS on hyper 1 with the
//! hyper-util auto builder (HTTP/1.1 and h2), tokio-rustls for TLS.
//!
//! How a request flows:
//!
//! 1. `server` accepts it (TLS handshake on the HTTPS port, keeping a
//!    verified client certificate), and hands the request head, a
//!    [`ConnInfo`] and the unread body to the [`Pipeline`].
//! 2. `pipeline` throttles or bans missing sources, then for a GET or
//!    HEAD asks `access` (allow-list, client certificate, credentials),
//!    serves `/ca.pem` or asks the provisioner, and records the fetch.
//!    A PUT is an `upload` when authorised for a known phone, else 405.
//! 3. `respond` builds the answers: every refusal is the same 404.
//!
//! Every slow or hostile client is bounded: TLS handshakes and request
//! headers time out, headers are size-limited, request bodies are only read
//! for bounded uploads (Polycom logs of known phones, everything else gets a
//! 405), and shutdown drains for a limited time.

mod access;
pub mod admin;
pub mod auth;
mod cache;
pub mod client_cert;
mod firmware;
pub mod guard;
mod options;
mod pipeline;
pub mod policy;
pub mod record;
mod respond;
mod server;
pub mod settings;
pub mod tls;
mod upload;

#[cfg(test)]
mod tests;

pub use guard::GuardSettings;
pub use options::ServeOptions;
pub use pipeline::{BodyError, ConnInfo, Pipeline, RequestBody};
pub use policy::AccessPolicy;
pub use server::{ServeError, Server};
pub use tls::{CertSource, ClientCa, TlsError};
