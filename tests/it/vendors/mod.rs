//! Checks over every row of `VENDORS` at once, in-process: the conformance
//! table (every vendor × file × delivery) and the docs' vendor table.

mod conformance;
mod table;
