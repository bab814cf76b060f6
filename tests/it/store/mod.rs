//! The store on PostgreSQL through the real binary: moving between engines,
//! imports from several processes on one database, a killed import, a
//! schema from a newer binary. Each test gets a fresh database on the
//! PostgreSQL server the tests start (support::postgres).

mod copy;
mod imports;
mod serve;
mod socket;
