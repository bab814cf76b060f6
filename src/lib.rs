//! autoprov: turns a spreadsheet of users into working desk phones.
//!
//! Data flows one way: the CLI (and later HTTP) drives the domain, which
//! drives the store. Domain types (`domain`, `mac`) know nothing of CSV,
//! HTTP or sled.

pub mod app;
pub mod config;
pub mod dhcp;
pub mod domain;
pub mod export;
pub mod http;
pub mod import;
pub mod keys;
pub mod net;
pub mod pki;
pub mod provision;
pub mod sources;
pub mod store;
pub mod tftp;
pub mod vendors;
