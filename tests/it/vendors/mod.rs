//! Checks over every row of `VENDORS` at once, in-process: the conformance
//! table (every vendor × file × delivery), the docs' vendor table, and every
//! time zone on every vendor.

mod conformance;
mod table;
mod zones;
