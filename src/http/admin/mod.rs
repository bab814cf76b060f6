//! The admin face over HTTP: the JSON API and the web page, on their own
//! listener and on the Unix socket in the data directory. Every endpoint is
//! a thin adapter over [`crate::app`].

pub mod api;
pub mod health;
pub mod server;
pub mod web;
