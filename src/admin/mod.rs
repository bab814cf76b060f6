//! The admin surface besides the CLI: an HTTP API on its own listener and on
//! a Unix socket in the data directory, bearer tokens for it, and the
//! command logic both share with the CLI (`ops`), so a command gives the
//! same output whether it opens the store or asks the running server.

pub mod api;
pub mod client;
pub mod ops;
pub mod preview;
pub mod server;
pub mod tokens;
pub mod web;
