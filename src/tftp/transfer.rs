//! The pure half of a read transfer: option negotiation (RFC 2347–2349,
//! RFC 7440) and the sending window, with no sockets or clocks, so both are
//! tested in-process. The socket loop in `server.rs` drives them.
//!
//! Blocks are counted from 1 as `u64`; on the wire a block number is that
//! count modulo 65,536, so past block 65,535 the number wraps to 0 (as
//! tftp-hpa's server does; RFC 1350 sets no limit, and clients that
//! cannot wrap fail either way on files that large).

use std::time::Duration;

/// Smallest and largest block size RFC 2348 allows.
pub const MIN_BLKSIZE: u16 = 8;
pub const MAX_BLKSIZE: u16 = 65464;
/// RFC 1350's block size, when the client asks for none.
pub const DEFAULT_BLKSIZE: u16 = 512;

/// What the server allows, whatever a client asks.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest block the path carries unfragmented (its MTU less the
    /// IP, UDP and TFTP headers), at most [`MAX_BLKSIZE`].
    pub max_blksize: u16,
    /// The largest window (RFC 7440) granted.
    pub max_window: u16,
    /// The retransmission timeout when the client sets none.
    pub timeout: Duration,
}

/// What a transfer runs with, and the OACK that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: usize,
    pub windowsize: u16,
    pub timeout: Duration,
    /// The options acknowledged, in the order asked; empty: no OACK, data
    /// starts at once (RFC 2347: options only when the client asked).
    pub oack: Vec<(String, String)>,
}

/// Answers the options of a read request. `size` is the file's length as
/// sent, when known before sending (a streamed netascii file is not).
/// Invalid or unknown options are left out of the OACK, which RFC 2347
/// lets a server do; a valid one is granted, clamped to `limits`.
pub fn negotiate(options: &[(String, String)], size: Option<u64>, limits: Limits) -> Negotiated {
    let mut n = Negotiated {
        blksize: usize::from(DEFAULT_BLKSIZE),
        windowsize: 1,
        timeout: limits.timeout,
        oack: Vec::new(),
    };
    for (name, value) in options {
        let granted = match name.as_str() {
            "blksize" => value
                .parse::<u32>()
                .ok()
                .filter(|b| (u32::from(MIN_BLKSIZE)..=u32::from(MAX_BLKSIZE)).contains(b))
                .map(|b| {
                    let b = b.min(u32::from(limits.max_blksize.max(MIN_BLKSIZE)));
                    n.blksize = b as usize;
                    b.to_string()
                }),
            // RFC 2349: 1–255 seconds, granted as asked or not at all.
            "timeout" => value
                .parse::<u64>()
                .ok()
                .filter(|t| (1..=255).contains(t))
                .map(|t| {
                    n.timeout = Duration::from_secs(t);
                    t.to_string()
                }),
            // RFC 2349: a read request asks with 0; answer the real size.
            "tsize" => size.map(|s| s.to_string()),
            "windowsize" => value
                .parse::<u32>()
                .ok()
                .filter(|w| (1..=65535).contains(w))
                .map(|w| {
                    let w = w.min(u32::from(limits.max_window.max(1)));
                    n.windowsize = w as u16;
                    w.to_string()
                }),
            _ => None,
        };
        if let Some(v) = granted {
            n.oack.push((name.clone(), v));
        }
    }
    n
}

/// The wire number of block `index` (counted from 1): wraps past 65,535.
pub fn wire_block(index: u64) -> u16 {
    (index % 65536) as u16
}

/// The sending window of one transfer: which blocks are acknowledged,
/// which are in flight, which is the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    size: u64,
    /// Every block up to this one is acknowledged (0: none yet).
    acked: u64,
    /// Every block up to this one has been sent at least once this round.
    sent: u64,
    /// The final (short) block, once read.
    last: Option<u64>,
}

/// What an ACK did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    /// New blocks acknowledged: send the next window.
    Advanced,
    /// Nothing new (a duplicate or a stray number): ignored, so a delayed
    /// ACK does not double the traffic (the Sorcerer's Apprentice bug).
    Stale,
    /// The last block is acknowledged: the transfer is complete.
    Done,
}

impl Window {
    pub fn new(size: u16) -> Window {
        Window {
            size: u64::from(size.max(1)),
            acked: 0,
            sent: 0,
            last: None,
        }
    }

    /// The next block to send in this window, if the window has room.
    pub fn next_to_send(&self) -> Option<u64> {
        let next = self.sent + 1;
        let in_window = next <= self.acked + self.size;
        let exists = self.last.is_none_or(|l| next <= l);
        (in_window && exists).then_some(next)
    }

    /// Block `index` went out; `last` when it is the final one.
    pub fn sent(&mut self, index: u64, last: bool) {
        self.sent = self.sent.max(index);
        if last {
            self.last = Some(index);
        }
    }

    /// The first block not yet acknowledged.
    pub fn first_unacked(&self) -> u64 {
        self.acked + 1
    }

    /// An ACK with wire number `block`. It counts when it names a block
    /// sent and not yet acknowledged; the blocks after it in the window
    /// are sent again (RFC 7440 §4: the client saw a gap).
    pub fn ack(&mut self, block: u16) -> Acked {
        let offset = u64::from(block.wrapping_sub(wire_block(self.acked)));
        if offset == 0 || offset > self.sent - self.acked {
            return Acked::Stale;
        }
        self.acked += offset;
        self.sent = self.acked;
        if self.last == Some(self.acked) {
            Acked::Done
        } else {
            Acked::Advanced
        }
    }

    /// No ACK within the timeout: send the window again from the first
    /// unacknowledged block.
    pub fn timed_out(&mut self) {
        self.sent = self.acked;
    }
}

/// Appends `data` in netascii (RFC 1350 §5, RFC 764): LF as CR LF, CR as
/// CR NUL, as tftp-hpa's server sends it, so the client's translation back
/// gives the file's bytes. Byte by byte, so a file translates in any
/// chunks.
pub fn netascii_into(out: &mut bytes::BytesMut, data: &[u8]) {
    out.reserve(data.len() + data.len() / 16);
    for &b in data {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            _ => out.extend_from_slice(&[b]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_blksize: 1468,
        max_window: 16,
        timeout: Duration::from_secs(1),
    };

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn no_options_no_oack() {
        let n = negotiate(&[], Some(10), LIMITS);
        assert_eq!(n.blksize, 512);
        assert_eq!(n.windowsize, 1);
        assert!(n.oack.is_empty());
    }

    #[test]
    fn options_are_clamped_or_left_out() {
        let n = negotiate(
            &opts(&[
                ("blksize", "8192"),
                ("tsize", "0"),
                ("timeout", "3"),
                ("windowsize", "64"),
                ("utimeout", "5000"),
            ]),
            Some(4242),
            LIMITS,
        );
        assert_eq!(n.blksize, 1468);
        assert_eq!(n.windowsize, 16);
        assert_eq!(n.timeout, Duration::from_secs(3));
        assert_eq!(
            n.oack,
            opts(&[
                ("blksize", "1468"),
                ("tsize", "4242"),
                ("timeout", "3"),
                ("windowsize", "16")
            ])
        );
        let n = negotiate(
            &opts(&[("blksize", "7"), ("timeout", "0"), ("tsize", "0")]),
            None,
            LIMITS,
        );
        assert_eq!(n.blksize, 512);
        assert!(n.oack.is_empty());
        let n = negotiate(&opts(&[("blksize", "1428")]), None, LIMITS);
        assert_eq!(n.oack, opts(&[("blksize", "1428")]));
    }

    /// Sends every block the window allows; `total` blocks, the last short.
    fn fill(w: &mut Window, total: u64) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(i) = w.next_to_send() {
            w.sent(i, i == total);
            out.push(i);
        }
        out
    }

    #[test]
    fn lockstep_with_a_lost_ack() {
        let mut w = Window::new(1);
        assert_eq!(fill(&mut w, 3), vec![1]);
        assert_eq!(w.ack(1), Acked::Advanced);
        assert_eq!(fill(&mut w, 3), vec![2]);
        // The ACK of 2 is lost: resend 2.
        w.timed_out();
        assert_eq!(fill(&mut w, 3), vec![2]);
        assert_eq!(w.ack(1), Acked::Stale);
        assert_eq!(w.ack(2), Acked::Advanced);
        assert_eq!(fill(&mut w, 3), vec![3]);
        assert_eq!(w.ack(3), Acked::Done);
    }

    #[test]
    fn windows_and_gaps() {
        let mut w = Window::new(4);
        assert_eq!(fill(&mut w, 10), vec![1, 2, 3, 4]);
        // Block 3 was lost: the client acks 2, we go on from 3.
        assert_eq!(w.ack(2), Acked::Advanced);
        assert_eq!(fill(&mut w, 10), vec![3, 4, 5, 6]);
        assert_eq!(w.ack(9), Acked::Stale);
        assert_eq!(w.ack(6), Acked::Advanced);
        assert_eq!(fill(&mut w, 10), vec![7, 8, 9, 10]);
        assert_eq!(fill(&mut w, 10), Vec::<u64>::new());
        assert_eq!(w.ack(10), Acked::Done);
    }

    #[test]
    fn netascii_line_ends() {
        let mut out = bytes::BytesMut::new();
        netascii_into(&mut out, b"a\nb\r\nc\r");
        assert_eq!(&out[..], b"a\r\nb\r\0\r\nc\r\0");
    }

    #[test]
    fn block_numbers_wrap_to_zero() {
        assert_eq!(wire_block(65535), 65535);
        assert_eq!(wire_block(65536), 0);
        assert_eq!(wire_block(65537), 1);
        let mut w = Window::new(1);
        for i in 1..=65540u64 {
            assert_eq!(w.next_to_send(), Some(i));
            w.sent(i, i == 65540);
            let r = w.ack(wire_block(i));
            assert_eq!(
                r,
                if i == 65540 {
                    Acked::Done
                } else {
                    Acked::Advanced
                }
            );
        }
    }
}
