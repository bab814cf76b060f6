//! Checks over every row of `VENDORS` at once, in-process: the conformance
//! table (every vendor × file × delivery), the docs' vendor table, and every
//! time zone on every vendor; and `autoprov render` (the real binary) of
//! each vendor's clock in six offices.

mod cities;
mod conformance;
mod settings;
mod table;
mod zones;
