//! The UDP side: binds port 67 on one interface and runs the [`Responder`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipnet::Ipv4Net;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::UdpSocket as StdUdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};

use super::phones::KnownPhones;
use super::{Outcome, Responder};
use crate::domain::Lease;
use crate::domain::mac::Mac;
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

/// A reply waiting for its batch's leases to be durable.
struct Pending {
    bytes: Vec<u8>,
    to: SocketAddrV4,
    mac: Mac,
    durable: bool,
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
pub fn spawn<S: Store + Send + Sync + 'static>(
    socket: StdUdpSocket,
    responder: Responder,
    store: Arc<S>,
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
fn run<S: Store>(socket: &StdUdpSocket, mut responder: Responder, store: &S, stop: &AtomicBool) {
    let mut buf = vec![0u8; 4096];
    let mut pending: Vec<Pending> = Vec::with_capacity(BATCH);
    let mut writes: Vec<Lease> = Vec::new();
    let mut checked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if checked.elapsed() >= RELOAD_CHECK {
            checked = Instant::now();
            reload_phones(store, &mut responder);
        }
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => decide(&mut responder, &buf[..len], &mut pending, &mut writes),
            Err(e) if is_timeout(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "DHCP: receive failed");
                continue;
            }
        }
        drain(socket, &mut buf, &mut responder, &mut pending, &mut writes);
        let durable = writes.is_empty() || persist(store, &mut writes);
        for p in pending.drain(..) {
            if p.durable && !durable {
                continue;
            }
            if let Err(e) = socket.send_to(&p.bytes, p.to) {
                tracing::warn!(error = %e, mac = %p.mac.colon(), to = %p.to, "DHCP: reply not sent");
            }
        }
    }
}

/// Takes what is already queued on the socket, without waiting.
fn drain(
    socket: &StdUdpSocket,
    buf: &mut [u8],
    responder: &mut Responder,
    pending: &mut Vec<Pending>,
    writes: &mut Vec<Lease>,
) {
    if let Err(e) = socket.set_nonblocking(true) {
        tracing::warn!(error = %e, "DHCP: cannot drain the socket");
        return;
    }
    for _ in 1..BATCH {
        match socket.recv_from(buf) {
            Ok((len, _)) => decide(responder, &buf[..len], pending, writes),
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
fn decide(r: &mut Responder, packet: &[u8], pending: &mut Vec<Pending>, writes: &mut Vec<Lease>) {
    let unix = unix_now();
    match r.handle(packet, Instant::now(), unix) {
        Outcome::Reply {
            bytes,
            to,
            mac,
            writes: w,
            ..
        } => {
            pending.push(Pending {
                bytes,
                to,
                mac,
                durable: !w.is_empty(),
            });
            writes.extend(w);
        }
        Outcome::Recorded { writes: w, .. } => writes.extend(w),
        Outcome::NotInform(..)
        | Outcome::UnknownVendor(_)
        | Outcome::Ignored(..)
        | Outcome::Malformed(_)
        | Outcome::Limited(_) => {}
    }
}

/// Writes the batch's leases durably. On failure the ACKs that depend on
/// them are not sent: the clients retry, and the retry writes again.
fn persist<S: Store>(store: &S, writes: &mut Vec<Lease>) -> bool {
    let result = store.put_leases(writes);
    writes.clear();
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "DHCP: cannot store leases; their ACKs are held back");
            false
        }
    }
}

/// Reloads the imported phones when an import changed the store.
fn reload_phones<S: Store>(store: &S, responder: &mut Responder) {
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
}
