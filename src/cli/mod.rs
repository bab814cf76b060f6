//! The binary's commands: the clap definitions (`args`) and, per command,
//! the little that is the terminal's business (reading the input, drawing
//! progress, printing, binding and running listeners). What a command
//! computes lives in the library, mostly behind `app::backend::Backend`.

pub mod admin;
pub mod args;
pub mod dhcp;
pub mod export;
pub mod import;
pub mod import_ldap;
pub mod output;
pub mod progress;
pub mod serve;
pub mod store;
pub mod users;
