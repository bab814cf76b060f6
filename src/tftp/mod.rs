//! The TFTP listener (`serve --tftp ADDR`, `[listen] tftp`): read-only
//! TFTP for the phones whose factory firmware fetches its first file that
//! way (docs/tftp.md). Another transport for the phone pipeline: a read
//! request becomes a plain GET of the file name through
//! [`crate::http::Pipeline`], so file rules, the allow-list, the fetch log,
//! metrics and miss throttling hold as for plain HTTP, and only the
//! bootstrap is served unless secrets over plain transport are allowed.
//!
//! - `packet`: the wire format, parsed and encoded, no I/O (fuzzed).
//! - `transfer`: option negotiation and the sending window, no I/O.
//! - `server`: the sockets: one ephemeral port and task per transfer.
//!
//! No crate was used for the protocol: async-tftp (the maintained one)
//! runs on smol's reactor beside tokio's and answers from a file handler,
//! with no place for the per-source limit or the pipeline's HTTP answer.

pub mod packet;
mod server;
pub mod transfer;

pub use server::{
    DEFAULT_TIMEOUT, MAX_PER_SOURCE, MAX_TRANSFERS, MAX_WINDOW, TRIES, TftpError, TftpLimits,
    TftpServer,
};
