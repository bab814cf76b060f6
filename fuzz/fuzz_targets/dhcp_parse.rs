//! Any datagram into the DHCP parser and the whole options-only responder:
//! an error or an answer, never a panic (product.md: malformed packets are
//! dropped). Debug assertions stay on here, which is what caught dhcproto's
//! length asserts in its typed option decoders.
#![no_main]

use std::net::Ipv4Addr;
use std::time::Instant;

use autoprov::dhcp::{Provision, Responder, StoredVendor, limit, packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = packet::parse(data);
    let stored: StoredVendor = Box::new(|mac| (mac.oui() == [0x80, 0x5e, 0xc0]).then(|| "cisco".into()));
    let mut r = Responder::new(
        Provision {
            url: "http://10.0.0.1:8080/".into(),
            tftp: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
        },
        Ipv4Addr::new(10, 0, 0, 1),
        stored,
        limit::Limits::default(),
    );
    let _ = r.handle(data, Instant::now());
});
