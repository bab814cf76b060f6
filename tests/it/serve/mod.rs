//! `autoprov serve`: each vendor's boot sequence end to end (one module per
//! vendor, the same shape: import the vendor's fixture, fetch over real
//! HTTPS, check the files by docs/reference/vendors.md §9 and against tests/golden, compare
//! with `render`), then authentication, certificates, security and
//! lifecycle across vendors.

mod auth;
mod cache;
mod cisco;
mod fanvil;
mod firmware;
mod fleet;
mod grandstream;
mod leaves;
mod lifecycle;
mod lines;
mod local_ca;
mod lockdown;
mod polycom;
mod resumption;
mod security;
mod snom;
mod trust;
mod yealink;
