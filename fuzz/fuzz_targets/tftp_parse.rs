//! Any datagram into the TFTP packet parser, and a parsed request's
//! options into the negotiation: an error or an answer, never a panic
//! (docs/development.md, Fuzzing). Whatever parses re-encodes (an OACK of
//! its options) and parses again to the same options.
#![no_main]

use std::time::Duration;

use autoprov::tftp::packet::{self, Packet};
use autoprov::tftp::transfer::{self, Limits, Window};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_blksize: 1468,
    max_window: 64,
    timeout: Duration::from_secs(1),
};

fuzz_target!(|data: &[u8]| {
    match packet::parse(data) {
        Ok(Packet::Read(r)) | Ok(Packet::Write(r)) => {
            let n = transfer::negotiate(&r.options, Some(data.len() as u64), LIMITS);
            assert!((8..=1468).contains(&n.blksize));
            assert!((1..=64).contains(&n.windowsize));
            let oack = packet::oack(&n.oack);
            assert_eq!(packet::parse(&oack), Ok(Packet::Oack(n.oack.clone())));
        }
        Ok(Packet::Ack(block)) => {
            // A stray ACK against a window in any state: never a panic.
            let mut w = Window::new(u16::from(data.len() as u8));
            while let Some(i) = w.next_to_send() {
                w.sent(i, i == 3);
            }
            let _ = w.ack(block);
            w.timed_out();
        }
        _ => {}
    }
});
