//! The DHCP decision path without the network: parse → decide → encode for
//! full 4-way exchanges of fresh clients, then INFORMs in options-only mode.
//! Prints nanoseconds per packet (CPU time of this thread, so another
//! process on the machine disturbs it less than wall time). The kernel's
//! UDP work and the lease fsync are not in it; `scripts/bench-dhcp.sh`
//! measures those, side by side with Kea.
//!
//! cargo bench --bench dhcp_responder

use std::net::Ipv4Addr;
use std::time::Instant;

use autoprov::dhcp::full::Full;
use autoprov::dhcp::phones::KnownPhones;
use autoprov::dhcp::pool::Pool;
use autoprov::dhcp::subnet::{Subnet, parse_range};
use autoprov::dhcp::{Outcome, Provision, Responder, limit};

const CLIENTS: u32 = 50_000;

fn packet(n: u32, kind: u8, extra: &[(u8, &[u8])]) -> Vec<u8> {
    let mut b = vec![0u8; 240];
    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    b[4..8].copy_from_slice(&n.to_be_bytes());
    // Relayed, like perfdhcp: giaddr on the served network.
    b[24..28].copy_from_slice(&[10, 99, 0, 2]);
    let mac = [0x80, 0x5e, 0xc0, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    b[28..34].copy_from_slice(&mac);
    b[236..240].copy_from_slice(&[99, 130, 83, 99]);
    b.extend_from_slice(&[53, 1, kind, 60, 7]);
    b.extend_from_slice(b"yealink");
    b.extend_from_slice(&[55, 4, 1, 3, 6, 66]);
    for (code, data) in extra {
        b.push(*code);
        b.push(data.len() as u8);
        b.extend_from_slice(data);
    }
    b.push(255);
    b
}

fn responder() -> Responder {
    Responder::new(
        Provision {
            url: "http://10.99.0.1:8080/".into(),
            tftp: vec![Ipv4Addr::new(10, 99, 0, 1)],
        },
        Ipv4Addr::new(10, 99, 0, 1),
        KnownPhones::default(),
        limit::Limits {
            burst: 1e9,
            per_second: 1e9,
            max_clients: 1 << 20,
        },
    )
}

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn main() {
    let subnet = Subnet::new(
        "10.99.0.0/16".parse().expect("network"),
        parse_range("10.99.1.0-10.99.250.254").expect("range"),
        3600,
    )
    .expect("subnet");
    let mut r = responder().with_full(Full::new(vec![subnet], Pool::default()));
    let discovers: Vec<Vec<u8>> = (0..CLIENTS).map(|n| packet(n, 1, &[])).collect();
    let (start_wall, start_cpu) = (Instant::now(), thread_cpu_ns());
    let mut requests = Vec::with_capacity(CLIENTS as usize);
    for (n, d) in discovers.iter().enumerate() {
        if let Outcome::Reply { bytes, .. } = r.handle(d, Instant::now(), 1_000) {
            let yiaddr: [u8; 4] = bytes[16..20].try_into().expect("yiaddr");
            requests.push(packet(n as u32, 3, &[(50, &yiaddr), (54, &[10, 99, 0, 1])]));
        }
    }
    let mut acks = 0;
    for q in &requests {
        if let Outcome::Reply { writes, .. } = r.handle(q, Instant::now(), 1_001) {
            acks += usize::from(!writes.is_empty());
        }
    }
    let cpu = thread_cpu_ns() - start_cpu;
    let packets = discovers.len() + requests.len();
    assert_eq!(acks, CLIENTS as usize, "every client bound");
    println!(
        "full 4-way, {CLIENTS} fresh clients: {:.0} ns CPU per packet ({:.0} exchanges/s of one core), wall {:.2} s",
        cpu as f64 / packets as f64,
        1e9 / (cpu as f64 / CLIENTS as f64),
        start_wall.elapsed().as_secs_f64()
    );

    let mut r = responder();
    let mut informs = Vec::with_capacity(CLIENTS as usize);
    for n in 0..CLIENTS {
        let mut p = packet(n, 8, &[]);
        p[12..16].copy_from_slice(&[10, 99, 0, 2]);
        informs.push(p);
    }
    let start_cpu = thread_cpu_ns();
    let answered = informs
        .iter()
        .filter(|p| matches!(r.handle(p, Instant::now(), 0), Outcome::Reply { .. }))
        .count();
    let cpu = thread_cpu_ns() - start_cpu;
    assert_eq!(answered, CLIENTS as usize);
    println!(
        "options-only INFORM: {:.0} ns CPU per packet",
        cpu as f64 / CLIENTS as f64
    );
}
