//! Any datagram into the DHCP parser and both responders: an error or an
//! answer, never a panic (docs/development.md, Fuzzing: malformed packets are dropped). Debug
//! assertions stay on here, which is what caught dhcproto's length asserts
//! in its typed option decoders. The full-mode responder lives across
//! inputs, so its lease table meets every sequence the fuzzer finds.
#![no_main]

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::time::Instant;

use autoprov::dhcp::full::Full;
use autoprov::dhcp::phones::KnownPhones;
use autoprov::dhcp::pool::Pool;
use autoprov::dhcp::subnet::{Subnet, parse_range};
use autoprov::dhcp::{Provision, Responder, limit, packet};
use autoprov::domain::mac::Mac;
use libfuzzer_sys::fuzz_target;

fn responder() -> Responder {
    let mut phones = KnownPhones::default();
    if let Ok(mac) = Mac::from_bytes([0x80, 0x5e, 0xc0, 0, 0, 1]) {
        phones.insert(mac, autoprov::vendors::by_id("cisco"), Some(Ipv4Addr::new(10, 0, 0, 200)));
    }
    Responder::new(
        Provision {
            url: "http://10.0.0.1:8080/".into(),
            tftp: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
        },
        Ipv4Addr::new(10, 0, 0, 1),
        phones,
        limit::Limits {
            burst: 1e9,
            per_second: 1e9,
            max_clients: 1024,
        },
    )
}

fn subnet(net: &str, range: &str) -> Subnet {
    let net = net.parse().expect("literal network");
    let range = parse_range(range).expect("literal range");
    Subnet::new(net, range, 600).expect("literal subnet")
}

thread_local! {
    static FULL: RefCell<(Responder, u64)> = RefCell::new((
        responder().with_full(Full::new(
            vec![
                subnet("10.0.0.0/24", "10.0.0.10-10.0.0.13"),
                subnet("10.9.0.0/24", "10.9.0.10-10.9.0.11"),
            ],
            Pool::default(),
        )),
        0,
    ));
}

fuzz_target!(|data: &[u8]| {
    let _ = packet::parse(data);
    let _ = responder().handle(data, Instant::now(), 0);
    FULL.with(|f| {
        let (r, clock) = &mut *f.borrow_mut();
        // Time moves on a little with every input, so offers and leases lapse.
        *clock += 7;
        let _ = r.handle(data, Instant::now(), *clock);
    });
});
