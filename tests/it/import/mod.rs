//! CSV import through the real binary: rules, spreadsheet dialects, crash
//! safety, export round trips.

mod admin_rules;
mod crash;
mod dialects;
mod export_roundtrip;
mod mapping;
mod rules;
mod settings;
