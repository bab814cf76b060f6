//! The UDP side: binds port 67 on one interface and runs the [`Responder`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipnet::Ipv4Net;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::UdpSocket as StdUdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};

use super::phones::KnownPhones;
use super::{Outcome, Responder};
use crate::domain::mac::Mac;
use crate::domain::{Lease, LeaseState};
use crate::net::iface;
use crate::store::Store;

/// Why the DHCP listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum DhcpError {
    #[error("cannot list network interfaces: {0}")]
    Interfaces(std::io::Error),
    #[error("--dhcp {0}: no interface has that IPv4 address")]
    NoSuchAddress(Ipv4Addr),
    #[error("--dhcp {0}: no interface of that name with an IPv4 address")]
    NoSuchInterface(String),
    #[error(
        "--dhcp needs one interface or one of its addresses, not {0} (the replies must name the server's address)"
    )]
    Unspecified(Ipv4Addr),
    #[error(
        "cannot listen for DHCP on {iface} port {port}: {source} (port 67 needs root or CAP_NET_BIND_SERVICE)"
    )]
    Bind {
        iface: String,
        port: u16,
        source: std::io::Error,
    },
}

/// The interface the responder serves and the address it answers as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub iface: String,
    pub server_ip: Ipv4Addr,
    /// The address's network: full mode's own subnet.
    pub network: Ipv4Net,
}

/// Resolves `--dhcp IFACE|ADDR`.
pub fn resolve(spec: &str) -> Result<Target, DhcpError> {
    let all = iface::ipv4_addresses().map_err(DhcpError::Interfaces)?;
    match spec.parse::<Ipv4Addr>() {
        Ok(ip) if ip.is_unspecified() || ip.is_broadcast() => Err(DhcpError::Unspecified(ip)),
        Ok(ip) => iface::holder(&all, ip)
            .map(target)
            .ok_or(DhcpError::NoSuchAddress(ip)),
        Err(_) => iface::first_ipv4(&all, spec)
            .map(target)
            .ok_or_else(|| DhcpError::NoSuchInterface(spec.to_string())),
    }
}

fn target(a: &iface::IfAddr) -> Target {
    Target {
        iface: a.name.clone(),
        server_ip: a.addr,
        // A prefix over 32 cannot come from the kernel; fall back to a host route.
        network: Ipv4Net::new(a.addr, a.prefix)
            .unwrap_or_else(|_| Ipv4Net::from(a.addr))
            .trunc(),
    }
}

/// Binds `0.0.0.0:port` on the target's interface only. Broadcast
/// requests (the usual INFORM from a phone without a reply address) only
/// reach a socket bound to the wildcard address, and SO_BINDTODEVICE keeps
/// it to this interface.
pub fn bind(target: &Target, port: u16) -> Result<StdUdpSocket, DhcpError> {
    let fail = |source| DhcpError::Bind {
        iface: target.iface.clone(),
        port,
        source,
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
    s.set_reuse_address(true).map_err(fail)?;
    s.set_broadcast(true).map_err(fail)?;
    // Room for a boot storm's burst while a batch is being written.
    if let Err(e) = s.set_recv_buffer_size(4 << 20) {
        tracing::debug!(error = %e, "DHCP: receive buffer left at the system default");
    }
    s.bind_device(Some(target.iface.as_bytes())).map_err(fail)?;
    let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    s.bind(&addr.into()).map_err(fail)?;
    Ok(s.into())
}

/// Packets handled per store write, at most: under load the socket has a
/// queue, and one durable write then covers all of its leases.
const BATCH: usize = 256;
/// How often the phone table is checked against the store's generation.
const RELOAD_CHECK: Duration = Duration::from_secs(1);
/// On a lease database other nodes share, how often full mode re-reads
/// the leases they wrote (so a renewal or rebinding of their client is
/// answered here, and their addresses are not offered) ...
const LEASE_SYNC: Duration = Duration::from_secs(2);
/// ... and how soon after losing a claim, at the earliest.
const LEASE_RESYNC: Duration = Duration::from_millis(500);

/// A reply waiting for its batch's leases to be durable.
struct Pending {
    bytes: Vec<u8>,
    to: SocketAddrV4,
    mac: Mac,
    /// Where its leases are in the batch's writes; empty: nothing to wait for.
    leases: Range<usize>,
    /// The request, kept on a shared lease database only, to answer with
    /// a NAK if another node's claim on the address came first.
    request: Option<Vec<u8>>,
}

/// One batch: the replies decided and the leases they wait for.
#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    writes: Vec<Lease>,
    /// Whether the store is shared with other nodes (claims can be refused).
    shared: bool,
}

/// The running DHCP thread.
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    /// Stops the thread after its current batch and waits for it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.thread.join().is_err() {
            tracing::error!("DHCP: the server thread panicked");
        }
    }
}

/// Starts the server on a thread of its own. DHCP is one socket and a
/// tight loop whose only wait is the lease fsync: on a plain thread that
/// wait blocks nothing else, where on the async runtime each batch had to
/// hand its worker over (`block_in_place`), and the context switches cost
/// more than the packets did.
pub fn spawn(
    socket: StdUdpSocket,
    responder: Responder,
    store: Arc<dyn Store + Send + Sync>,
) -> std::io::Result<Running> {
    socket.set_read_timeout(Some(STOP_CHECK))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("dhcp".into())
        .spawn(move || run(&socket, responder, store.as_ref(), &flag))?;
    Ok(Running { stop, thread })
}

/// How often a waiting server looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(250);

/// The loop, with group commit: it takes every packet already queued (up
/// to [`BATCH`]), decides them all, makes their leases durable in one
/// store write, then sends the replies. No ACK leaves before its lease is
/// on disk, and the ~2 ms fsync is shared by the whole batch instead of
/// paid per client.
///
/// On a lease database several nodes share (an engine with a read model
/// to keep fresh, [`Store::staleness`]), the write is a conditional claim:
/// an ACK whose address another node bound first becomes a NAK, and the
/// pool re-reads the stored leases every [`LEASE_SYNC`].
fn run(socket: &StdUdpSocket, mut responder: Responder, store: &dyn Store, stop: &AtomicBool) {
    let mut buf = vec![0u8; 4096];
    let mut batch = Batch {
        pending: Vec::with_capacity(BATCH),
        writes: Vec::new(),
        shared: store.staleness().is_some(),
    };
    if batch.shared {
        responder.share_pool();
    }
    let mut sync = LeaseSync::new(batch.shared);
    let mut checked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if checked.elapsed() >= RELOAD_CHECK {
            checked = Instant::now();
            reload_phones(store, &mut responder);
        }
        sync.maybe(store, &mut responder);
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => decide(&mut responder, &buf[..len], &mut batch),
            Err(e) if is_timeout(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "DHCP: receive failed");
                continue;
            }
        }
        drain(socket, &mut buf, &mut responder, &mut batch);
        let claims = persist(store, &batch.writes);
        if send(socket, &mut responder, &mut batch, claims.as_deref()) {
            sync.lost = true;
        }
    }
}

/// When full mode re-reads the leases other nodes wrote.
struct LeaseSync {
    on: bool,
    last: Instant,
    /// A claim was lost since the last sync: sync sooner.
    lost: bool,
    failures: u64,
}

impl LeaseSync {
    fn new(on: bool) -> LeaseSync {
        LeaseSync {
            on,
            last: Instant::now(),
            lost: false,
            failures: 0,
        }
    }

    fn maybe(&mut self, store: &dyn Store, responder: &mut Responder) {
        let since = self.last.elapsed();
        if !self.on || (since < LEASE_SYNC && !(self.lost && since >= LEASE_RESYNC)) {
            return;
        }
        self.last = Instant::now();
        match store.leases() {
            Ok(leases) => {
                self.lost = false;
                self.failures = 0;
                responder.learn_leases(leases, unix_now());
            }
            Err(e) => {
                self.failures += 1;
                if self.failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures = self.failures, "DHCP: cannot re-read the shared leases");
                }
            }
        }
    }
}

/// Takes what is already queued on the socket, without waiting.
fn drain(socket: &StdUdpSocket, buf: &mut [u8], responder: &mut Responder, batch: &mut Batch) {
    if let Err(e) = socket.set_nonblocking(true) {
        tracing::warn!(error = %e, "DHCP: cannot drain the socket");
        return;
    }
    for _ in 1..BATCH {
        match socket.recv_from(buf) {
            Ok((len, _)) => decide(responder, &buf[..len], batch),
            Err(e) if is_timeout(&e) => break,
            Err(e) => {
                tracing::warn!(error = %e, "DHCP: receive failed");
                break;
            }
        }
    }
    if let Err(e) = socket.set_nonblocking(false) {
        tracing::warn!(error = %e, "DHCP: socket left non-blocking");
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Runs the responder on one datagram and queues what it decided.
fn decide(r: &mut Responder, packet: &[u8], batch: &mut Batch) {
    let unix = unix_now();
    match r.handle(packet, Instant::now(), unix) {
        Outcome::Reply {
            bytes,
            to,
            mac,
            writes: w,
            ..
        } => {
            let start = batch.writes.len();
            let request = (batch.shared && !w.is_empty()).then(|| packet.to_vec());
            batch.writes.extend(w);
            batch.pending.push(Pending {
                bytes,
                to,
                mac,
                leases: start..batch.writes.len(),
                request,
            });
        }
        Outcome::Recorded { writes: w, .. } => batch.writes.extend(w),
        Outcome::NotInform(..)
        | Outcome::UnknownVendor(_)
        | Outcome::Ignored(..)
        | Outcome::Malformed(_)
        | Outcome::Limited(_) => {}
    }
}

/// Writes the batch's leases durably (a conditional claim on a shared
/// database); per lease, whether it was written. `None` on failure: the
/// ACKs that depend on them are not sent, the clients retry, and the retry
/// writes again.
fn persist(store: &dyn Store, writes: &[Lease]) -> Option<Vec<bool>> {
    if writes.is_empty() {
        return Some(Vec::new());
    }
    match store.claim_leases(writes, unix_now()) {
        Ok(ok) if ok.len() == writes.len() => Some(ok),
        Ok(ok) => {
            tracing::error!(
                asked = writes.len(),
                answered = ok.len(),
                "DHCP: the store answered for another number of leases; their ACKs are held back"
            );
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "DHCP: cannot store leases; their ACKs are held back");
            None
        }
    }
}

/// Sends the batch's replies (see [`settle`]); whether a claim was lost.
fn send(
    socket: &StdUdpSocket,
    responder: &mut Responder,
    batch: &mut Batch,
    claims: Option<&[bool]>,
) -> bool {
    let (replies, lost_any) = settle(responder, batch, claims);
    for (bytes, to, mac) in replies {
        if let Err(e) = socket.send_to(&bytes, to) {
            tracing::warn!(error = %e, mac = %mac.colon(), to = %to, "DHCP: reply not sent");
        }
    }
    lost_any
}

/// A reply ready to leave: its bytes, where to, and for whom.
type Ready = (Vec<u8>, SocketAddrV4, Mac);

/// The batch's replies once its leases were written (`claims`, `None`:
/// the write failed): those waiting on leases only if written, a NAK
/// instead of an ACK whose address another node claimed first. Also
/// whether a claim was lost. Empties the batch.
fn settle(
    responder: &mut Responder,
    batch: &mut Batch,
    claims: Option<&[bool]>,
) -> (Vec<Ready>, bool) {
    let mut lost_any = false;
    let mut out = Vec::with_capacity(batch.pending.len());
    for p in batch.pending.drain(..) {
        let ready = match (p.leases.is_empty(), claims) {
            (true, _) => (p.bytes, p.to, p.mac),
            (false, None) => continue,
            (false, Some(ok)) => match lost(&batch.writes, ok, p.leases.clone()) {
                None => (p.bytes, p.to, p.mac),
                Some(ip) => {
                    lost_any = true;
                    let nak = p
                        .request
                        .and_then(|r| responder.lost_claim(&r, ip, unix_now()));
                    match nak {
                        Some(Outcome::Reply { bytes, to, .. }) => (bytes, to, p.mac),
                        _ => continue,
                    }
                }
            },
        };
        out.push(ready);
    }
    batch.writes.clear();
    (out, lost_any)
}

/// The address of a bound lease in `range` the store refused, if any.
fn lost(writes: &[Lease], ok: &[bool], range: Range<usize>) -> Option<Ipv4Addr> {
    range
        .filter(|&i| !ok.get(i).copied().unwrap_or(false))
        .filter_map(|i| writes.get(i))
        .find(|l| l.state == LeaseState::Bound)
        .map(|l| l.ip)
}

/// Reloads the imported phones when an import changed the store.
fn reload_phones(store: &dyn Store, responder: &mut Responder) {
    match store.generation() {
        Ok(g) if g == responder.phones_generation() => {}
        Ok(_) => match KnownPhones::load(store) {
            Ok(phones) => {
                tracing::info!(
                    phones = phones.len(),
                    "DHCP: phone list reloaded after an import"
                );
                responder.set_phones(phones);
            }
            Err(e) => tracing::warn!(error = %e, "DHCP: cannot reload the phone list"),
        },
        Err(e) => tracing::warn!(error = %e, "DHCP: cannot read the store generation"),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_loopback_both_ways() {
        let t = resolve("127.0.0.1").unwrap();
        assert_eq!(t.server_ip, Ipv4Addr::LOCALHOST);
        assert_eq!(resolve(&t.iface).unwrap(), t);
        assert!(matches!(resolve("0.0.0.0"), Err(DhcpError::Unspecified(_))));
        assert!(matches!(
            resolve("192.0.2.254"),
            Err(DhcpError::NoSuchAddress(_))
        ));
        assert!(matches!(
            resolve("no-such-if0"),
            Err(DhcpError::NoSuchInterface(_))
        ));
    }

    /// Two full-mode nodes on one shared lease store, driven in-process:
    /// each round every client still without an address sends its next
    /// packet to its node, and each node handles its packets as one batch
    /// (decide, claim, settle), as the socket loop does.
    mod shared {
        use std::collections::{HashMap, HashSet};
        use std::sync::atomic::Ordering;

        use dhcproto::v4::borrowed;

        use super::*;
        use crate::dhcp::Provision;
        use crate::dhcp::full::Full;
        use crate::dhcp::limit::Limits;
        use crate::dhcp::packet::tests::request;
        use crate::dhcp::pool::Pool;
        use crate::dhcp::subnet::{Subnet, parse_range};
        use crate::store::shared_fake::SharedFake;

        const CLIENTS: u8 = 200;
        /// Clients 0..RESERVED have a reservation, .200 + n.
        const RESERVED: u8 = 5;

        fn mac(n: u8) -> [u8; 6] {
            [0x80, 0x5e, 0xc0, 0, 1, n]
        }

        fn phones() -> KnownPhones {
            let mut p = KnownPhones::default();
            for n in 0..RESERVED {
                let m = Mac::from_bytes(mac(n)).unwrap();
                p.insert(m, None, Some(Ipv4Addr::new(10, 99, 0, 200 + n)));
            }
            p
        }

        fn node(last: u8, spread: bool) -> Responder {
            let subnet = Subnet::new(
                "10.99.0.0/24".parse().unwrap(),
                parse_range("10.99.0.10-10.99.0.250").unwrap(),
                3600,
            )
            .unwrap();
            let mut r = Responder::new(
                Provision {
                    url: "http://10.99.0.1:8080/".into(),
                    tftp: Vec::new(),
                },
                Ipv4Addr::new(10, 99, 0, last),
                phones(),
                Limits::default(),
            )
            .with_full(Full::new(vec![subnet], Pool::default()));
            if spread {
                r.share_pool();
            }
            r
        }

        /// One node's batch: the replies, as (type, yiaddr, MAC byte).
        fn batch(
            r: &mut Responder,
            store: &dyn Store,
            packets: &[Vec<u8>],
        ) -> Vec<(u8, Ipv4Addr, u8)> {
            let mut b = Batch {
                shared: true,
                ..Batch::default()
            };
            for p in packets {
                decide(r, p, &mut b);
            }
            let claims = persist(store, &b.writes);
            let (out, _) = settle(r, &mut b, claims.as_deref());
            out.iter()
                .map(|(bytes, _, mac)| {
                    let m = borrowed::Message::new(bytes).unwrap();
                    let kind = m
                        .opts()
                        .find(|o| u8::from(o.code()) == 53)
                        .map_or(0, |o| o.data()[0]);
                    (kind, m.yiaddr(), mac.bytes()[5])
                })
                .collect()
        }

        /// Runs the clients to the end; returns each one's ACKed address
        /// (and the node that ACKed it) and the NAKs sent.
        fn boot(
            a: &mut Responder,
            b: &mut Responder,
            store: &SharedFake,
        ) -> (HashMap<u8, (Ipv4Addr, u8)>, usize) {
            boot_on(a, b, [store, store])
        }

        /// As [`boot`], each node with its own handle on the shared store.
        fn boot_on(
            a: &mut Responder,
            b: &mut Responder,
            stores: [&dyn Store; 2],
        ) -> (HashMap<u8, (Ipv4Addr, u8)>, usize) {
            let mut offered: HashMap<u8, Ipv4Addr> = HashMap::new();
            let mut bound = HashMap::new();
            let mut naks = 0;
            for _round in 0..20 {
                let mut to = [Vec::new(), Vec::new()];
                for n in (0..CLIENTS).filter(|n| !bound.contains_key(n)) {
                    let node = usize::from(n % 2);
                    let sid = [10, 99, 0, 1 + n % 2];
                    // Relayed, as both nodes are reached in production.
                    let mut p = match offered.get(&n) {
                        None => request(mac(n), 1, &[]),
                        Some(ip) => request(mac(n), 3, &[(54, &sid), (50, &ip.octets())]),
                    };
                    p[24..28].copy_from_slice(&[10, 99, 0, 254]);
                    to[node].push(p);
                }
                if to.iter().all(Vec::is_empty) {
                    break;
                }
                // A round is a client's retry time (seconds): longer than
                // the lease sync after a lost claim.
                for (r, store) in [(&mut *a, stores[0]), (&mut *b, stores[1])] {
                    r.learn_leases(store.leases().unwrap(), unix_now());
                }
                for (node, r) in [(0u8, &mut *a), (1, &mut *b)] {
                    let store = stores[usize::from(node)];
                    for (kind, ip, n) in batch(r, store, &to[usize::from(node)]) {
                        match kind {
                            2 => {
                                offered.insert(n, ip);
                            }
                            5 => {
                                bound.insert(n, (ip, node));
                            }
                            6 => {
                                naks += 1;
                                offered.remove(&n);
                            }
                            k => panic!("unexpected reply type {k}"),
                        }
                    }
                }
            }
            (bound, naks)
        }

        fn check(bound: &HashMap<u8, (Ipv4Addr, u8)>, store: &dyn Store) {
            assert_eq!(
                bound.len(),
                usize::from(CLIENTS),
                "every client got an address"
            );
            let ips: HashSet<_> = bound.values().map(|(ip, _)| *ip).collect();
            assert_eq!(ips.len(), bound.len(), "an address ACKed to two clients");
            for n in 0..RESERVED {
                assert_eq!(
                    bound[&n].0,
                    Ipv4Addr::new(10, 99, 0, 200 + n),
                    "reservation of client {n}"
                );
            }
            let leases = store.leases().unwrap();
            for (n, (ip, _)) in bound {
                let l = leases
                    .iter()
                    .find(|l| l.ip == *ip)
                    .expect("ACKed lease stored");
                assert_eq!(l.mac.bytes(), mac(*n), "{ip}: stored for another MAC");
                assert_eq!(l.state, LeaseState::Bound);
            }
        }

        #[test]
        fn lost_claims_become_naks_and_no_address_has_two_macs() {
            let store = SharedFake::default();
            // Worst case: both nodes search the pool from the same point.
            let (mut a, mut b) = (node(1, false), node(2, false));
            let (bound, naks) = boot(&mut a, &mut b, &store);
            check(&bound, &store);
            assert!(
                naks > 50,
                "the nodes raced for the same addresses: {naks} NAKs"
            );
            assert_eq!(b.stats.naks.load(Ordering::Relaxed), naks as u64);
            assert_eq!(
                a.stats.acks.load(Ordering::Relaxed) + b.stats.acks.load(Ordering::Relaxed),
                u64::from(CLIENTS),
                "a lost ACK is not counted"
            );
        }

        /// The same race on a real PostgreSQL, each node with its own
        /// connection pool: the database's conditional insert decides.
        #[test]
        fn on_postgresql_lost_claims_become_naks() {
            use crate::store::postgres::{PostgresStore, testdb};
            let Some(url) = testdb::fresh_database() else {
                return;
            };
            let (sa, sb) = (
                PostgresStore::open(&url).unwrap(),
                PostgresStore::open(&url).unwrap(),
            );
            let (mut a, mut b) = (node(1, false), node(2, false));
            let (bound, naks) = boot_on(&mut a, &mut b, [&sa, &sb]);
            check(&bound, &sb);
            assert!(
                naks > 50,
                "the nodes raced for the same addresses: {naks} NAKs"
            );
        }

        #[test]
        fn spread_nodes_seldom_race() {
            let store = SharedFake::default();
            let (mut a, mut b) = (node(1, true), node(2, true));
            let (bound, naks) = boot(&mut a, &mut b, &store);
            check(&bound, &store);
            assert!(naks < 20, "{naks} NAKs");
        }

        #[test]
        fn a_renewal_on_the_other_node_is_accepted_after_the_lease_sync() {
            let store = SharedFake::default();
            let (mut a, mut b) = (node(1, true), node(2, true));
            let (bound, _) = boot(&mut a, &mut b, &store);
            // Client 6 was bound by node A; it rebinds (broadcast, ciaddr)
            // and a third node, started after the boot, answers once its
            // lease sync has run.
            let (ip, by) = bound[&6];
            assert_eq!(by, 0);
            let mut c = node(3, true);
            let mut rebind = request(mac(6), 3, &[]);
            rebind[12..16].copy_from_slice(&ip.octets());
            rebind[24..28].copy_from_slice(&[10, 99, 0, 254]);
            assert!(
                batch(&mut c, &store, std::slice::from_ref(&rebind)).is_empty(),
                "a client the node has no record of is left alone"
            );
            c.learn_leases(store.leases().unwrap(), unix_now());
            let before = store
                .leases()
                .unwrap()
                .into_iter()
                .find(|l| l.ip == ip)
                .unwrap();
            std::thread::sleep(Duration::from_millis(1100));
            assert_eq!(batch(&mut c, &store, &[rebind]), vec![(5, ip, 6)]);
            let after = store
                .leases()
                .unwrap()
                .into_iter()
                .find(|l| l.ip == ip)
                .unwrap();
            assert!(after.expires > before.expires, "the renewal is stored");
            // C also keeps A's and B's addresses out of its offers, even
            // the one a new client asks for.
            let fresh = request(mac(250), 1, &[(50, &bound[&8].0.octets())]);
            let offer = batch(&mut c, &store, &[fresh]);
            assert_eq!(offer.len(), 1);
            assert!(!bound.values().any(|(ip, _)| *ip == offer[0].1));
        }
    }
}
