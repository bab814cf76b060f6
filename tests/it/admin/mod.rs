//! The admin API, the CLI through the running server's socket, scheduled
//! import sources, the admin web page.

mod api;
mod cli;
mod lockdown;
mod pages;
mod single_user;
mod sources;
mod web;
mod web_flow;
