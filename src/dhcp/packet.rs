//! Incoming DHCPv4 packets, parsed without trusting a byte of them.
//!
//! dhcproto's owned decoder silently stops at the first option it cannot
//! decode (docs/reference/crates.md §1.4), which would lose option 82 or 60 behind one odd
//! client option. The borrowed decoder hands out every raw `(code, data)`
//! instead; options are kept raw and only the few the responder needs are
//! interpreted here, each on its own.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dhcproto::v4::{self, MessageType, borrowed};

use crate::domain::mac::Mac;

/// Smallest BOOTP message: fixed header (236) plus the magic cookie.
const MIN_LEN: usize = 240;
/// Offsets of the fixed header (RFC 2131 §2).
const OP: usize = 0;
const HTYPE: usize = 1;
const HLEN: usize = 2;
const CHADDR: std::ops::Range<usize> = 28..44;
/// Ethernet hardware type.
const HTYPE_ETHERNET: u8 = 1;
/// Options checked against their type: the ones the responder reads.
/// Only these go through dhcproto's typed decoder, whose decoders for some
/// other codes `debug_assert!` on the client's length (a panic in debug
/// and fuzz builds); everything else stays raw bytes.
const TYPED: [u8; 8] = [50, 53, 54, 55, 60, 61, 82, 118];

/// Why a packet was dropped before any answer was considered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("shorter than a BOOTP header ({0} bytes)")]
    TooShort(usize),
    #[error("not a BOOTREQUEST (op {0})")]
    NotRequest(u8),
    #[error("no DHCP magic cookie")]
    NoCookie,
    #[error("hardware address is not Ethernet (htype {htype}, hlen {hlen})")]
    NotEthernet { htype: u8, hlen: u8 },
    #[error("client hardware address is not a unicast MAC")]
    BadMac,
    #[error("option 53 (message type) missing or invalid")]
    BadMessageType,
}

/// The parts of a client request the responder acts on.
#[derive(Debug, Clone)]
pub struct Request {
    pub xid: u32,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub hops: u8,
    pub mac: Mac,
    pub msg_type: MessageType,
    /// Every option as sent (continuations joined, RFC 3396), by code.
    pub options: BTreeMap<u8, Vec<u8>>,
    /// Options whose contents did not decode for their type; kept raw above,
    /// counted so an odd client shows up in the logs.
    pub bad_options: Vec<u8>,
}

impl Request {
    /// Option 60, without the trailing NULs some phones add (Cisco MPP).
    pub fn vendor_class(&self) -> Option<&[u8]> {
        let raw = self.options.get(&60)?;
        let end = raw.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        (end > 0).then(|| &raw[..end])
    }

    /// An option holding one IPv4 address (50 requested, 54 server id, 118
    /// subnet selection); `None` when absent or not 4 bytes.
    pub fn ipv4_option(&self, code: u8) -> Option<Ipv4Addr> {
        let b: [u8; 4] = self.options.get(&code)?.as_slice().try_into().ok()?;
        Some(Ipv4Addr::from(b))
    }

    /// The link the client is on, as a relay or the client says it
    /// (RFC 3527 link selection in option 82, RFC 3011 option 118), when it
    /// differs from giaddr.
    pub fn link_selection(&self) -> Option<Ipv4Addr> {
        if let Some(agent) = self.options.get(&82) {
            let mut rest = agent.as_slice();
            while let [code, len, tail @ ..] = rest {
                let Some((data, next)) = tail.split_at_checked(usize::from(*len)) else {
                    break;
                };
                if let (5, Ok(b)) = (*code, <[u8; 4]>::try_from(data)) {
                    return Some(Ipv4Addr::from(b));
                }
                rest = next;
            }
        }
        self.ipv4_option(118)
    }

    /// The option codes of option 55, if the client sent one.
    pub fn requested(&self) -> &[u8] {
        self.options.get(&55).map_or(&[], Vec::as_slice)
    }
}

/// Parses one datagram. Never panics, whatever the bytes.
pub fn parse(buf: &[u8]) -> Result<Request, Malformed> {
    if buf.len() < MIN_LEN {
        return Err(Malformed::TooShort(buf.len()));
    }
    // Header fields are read here, not through `borrowed::Message::chaddr`,
    // which slices by the client's `hlen` and would panic on hlen > 212.
    let op = buf[OP];
    if op != 1 {
        return Err(Malformed::NotRequest(op));
    }
    let (htype, hlen) = (buf[HTYPE], buf[HLEN]);
    if htype != HTYPE_ETHERNET || hlen != 6 {
        return Err(Malformed::NotEthernet { htype, hlen });
    }
    let chaddr = &buf[CHADDR];
    let mut bytes = [0u8; 6];
    bytes.copy_from_slice(&chaddr[..6]);
    let mac = Mac::from_bytes(bytes).map_err(|_| Malformed::BadMac)?;
    let msg = borrowed::Message::new(buf).map_err(|_| Malformed::TooShort(buf.len()))?;
    if buf[236..240] != v4::MAGIC {
        return Err(Malformed::NoCookie);
    }
    let mut options = BTreeMap::new();
    let mut bad_options = Vec::new();
    let mut msg_type = None;
    for opt in msg.opts() {
        let code = u8::from(opt.code());
        let data = opt.data().to_vec();
        // The first instance wins; the iterator already joined split ones.
        if options.contains_key(&code) {
            continue;
        }
        if TYPED.contains(&code) {
            match opt.into_option() {
                Ok(v4::DhcpOption::MessageType(t)) if !matches!(t, MessageType::Unknown(_)) => {
                    msg_type = Some(t)
                }
                Ok(v4::DhcpOption::MessageType(_)) | Err(_) => bad_options.push(code),
                Ok(_) => {}
            }
        }
        options.insert(code, data);
    }
    let msg_type = msg_type.ok_or(Malformed::BadMessageType)?;
    Ok(Request {
        xid: msg.xid(),
        flags: u16::from_be_bytes([buf[10], buf[11]]),
        ciaddr: msg.ciaddr(),
        giaddr: msg.giaddr(),
        hops: msg.hops(),
        mac,
        msg_type,
        options,
        bad_options,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal well-formed request from `mac` with extra raw options.
    pub(crate) fn request(mac: [u8; 6], msg_type: u8, extra: &[(u8, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[0] = 1;
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        b[28..34].copy_from_slice(&mac);
        b[236..240].copy_from_slice(&v4::MAGIC);
        b.extend_from_slice(&[53, 1, msg_type]);
        for (code, data) in extra {
            b.push(*code);
            b.push(data.len() as u8);
            b.extend_from_slice(data);
        }
        b.push(255);
        b
    }

    const MAC: [u8; 6] = [0x80, 0x5e, 0xc0, 0x12, 0x34, 0x56];

    #[test]
    fn parses_an_inform() {
        let r = parse(&request(MAC, 8, &[(60, b"yealink\0\0"), (55, &[66, 67])])).unwrap();
        assert_eq!(r.msg_type, MessageType::Inform);
        assert_eq!(r.mac.plain(), "805ec0123456");
        assert_eq!(r.vendor_class(), Some(&b"yealink"[..]));
        assert_eq!(r.requested(), &[66, 67]);
        assert_eq!(r.xid, 0x1234_5678);
    }

    #[test]
    fn a_bad_option_does_not_hide_the_ones_after_it() {
        // Option 54 (server id) must be 4 bytes; 3 fails to decode.
        let r = parse(&request(MAC, 8, &[(54, &[1, 2, 3]), (60, b"snomD785")])).unwrap();
        assert_eq!(r.bad_options, vec![54]);
        assert_eq!(r.vendor_class(), Some(&b"snomD785"[..]));
    }

    #[test]
    fn addresses_and_link_selection() {
        let agent = [1, 2, b'e', b'0', 5, 4, 10, 98, 0, 0, 2, 1, b'x'];
        let r = parse(&request(
            MAC,
            3,
            &[(50, &[10, 99, 0, 7]), (54, &[10, 99, 0, 1]), (82, &agent)],
        ))
        .unwrap();
        assert_eq!(r.ipv4_option(50), Some(Ipv4Addr::new(10, 99, 0, 7)));
        assert_eq!(r.ipv4_option(54), Some(Ipv4Addr::new(10, 99, 0, 1)));
        assert_eq!(r.link_selection(), Some(Ipv4Addr::new(10, 98, 0, 0)));
        let r = parse(&request(MAC, 3, &[(118, &[10, 97, 0, 0]), (50, &[1, 2])])).unwrap();
        assert_eq!(r.link_selection(), Some(Ipv4Addr::new(10, 97, 0, 0)));
        assert_eq!(r.ipv4_option(50), None);
        // A truncated sub-option is not read past.
        let r = parse(&request(MAC, 3, &[(82, &[5, 9, 10, 98])])).unwrap();
        assert_eq!(r.link_selection(), None);
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(&[]).unwrap_err(), Malformed::TooShort(0));
        let mut reply = request(MAC, 8, &[]);
        reply[0] = 2;
        assert_eq!(parse(&reply).unwrap_err(), Malformed::NotRequest(2));
        let mut long_hw = request(MAC, 8, &[]);
        long_hw[2] = 255;
        assert!(matches!(
            parse(&long_hw).unwrap_err(),
            Malformed::NotEthernet { hlen: 255, .. }
        ));
        let mut cookie = request(MAC, 8, &[]);
        cookie[236] = 0;
        assert_eq!(parse(&cookie).unwrap_err(), Malformed::NoCookie);
        let no_type = &request(MAC, 8, &[])[..240];
        assert_eq!(parse(no_type).unwrap_err(), Malformed::BadMessageType);
        assert_eq!(
            parse(&request(MAC, 99, &[])).unwrap_err(),
            Malformed::BadMessageType
        );
    }

    /// Every truncation and a spread of byte flips of real-looking packets:
    /// an error or a request, never a panic.
    #[test]
    fn truncated_and_garbage_never_panic() {
        let polycom = [
            0, 0, 0x36, 0x3d, 9, 1, 7, b'P', b'o', b'l', b'y', b'c', b'o', b'm',
        ];
        let samples = [
            request(MAC, 8, &[(60, b"yealink"), (55, &[1, 3, 66, 150])]),
            request(MAC, 1, &[(60, &polycom), (82, &[1, 3, b'a', b'b', b'c'])]),
            request(MAC, 3, &[(50, &[10, 0, 0, 5]), (61, &[1, 2, 3])]),
            // Lengths dhcproto's typed decoders assert on (FQDN, routes).
            request(MAC, 8, &[(81, &[1]), (121, &[40, 1, 2, 3, 4]), (93, &[])]),
        ];
        for s in &samples {
            for cut in 0..s.len() {
                let _ = parse(&s[..cut]);
            }
            for i in 0..s.len() {
                for v in [0u8, 1, 6, 0x7f, 0xff] {
                    let mut m = s.clone();
                    m[i] = v;
                    let _ = parse(&m);
                    m.truncate(i + 1);
                    let _ = parse(&m);
                }
            }
        }
        // Pseudo-random garbage behind a valid header.
        let mut x: u32 = 0x9e37_79b9;
        for n in 0..2000 {
            let mut m = request(MAC, 8, &[]);
            m.truncate(240);
            for _ in 0..(n % 300) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                m.push(x as u8);
            }
            let _ = parse(&m);
        }
    }
}
