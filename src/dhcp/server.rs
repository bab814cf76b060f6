//! The UDP side: binds port 67 on one interface and runs the [`Responder`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::iface;
use super::{Outcome, Responder, StoredVendor};
use crate::mac::Mac;
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
}

/// Resolves `--dhcp IFACE|ADDR`.
pub fn resolve(spec: &str) -> Result<Target, DhcpError> {
    let all = iface::ipv4_addresses().map_err(DhcpError::Interfaces)?;
    match spec.parse::<Ipv4Addr>() {
        Ok(ip) if ip.is_unspecified() || ip.is_broadcast() => Err(DhcpError::Unspecified(ip)),
        Ok(ip) => {
            let name = iface::holder(&all, ip).ok_or(DhcpError::NoSuchAddress(ip))?;
            Ok(Target {
                iface: name.to_string(),
                server_ip: ip,
            })
        }
        Err(_) => {
            let ip = iface::first_ipv4(&all, spec)
                .ok_or_else(|| DhcpError::NoSuchInterface(spec.to_string()))?;
            Ok(Target {
                iface: spec.to_string(),
                server_ip: ip,
            })
        }
    }
}

/// Binds `0.0.0.0:port` on the target's interface only. Broadcast
/// requests (the usual INFORM from a phone without a reply address) only
/// reach a socket bound to the wildcard address, and SO_BINDTODEVICE keeps
/// it to this interface.
pub fn bind(target: &Target, port: u16) -> Result<UdpSocket, DhcpError> {
    let fail = |source| DhcpError::Bind {
        iface: target.iface.clone(),
        port,
        source,
    };
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
    s.set_reuse_address(true).map_err(fail)?;
    s.set_broadcast(true).map_err(fail)?;
    s.bind_device(Some(target.iface.as_bytes())).map_err(fail)?;
    s.set_nonblocking(true).map_err(fail)?;
    let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    s.bind(&addr.into()).map_err(fail)?;
    UdpSocket::from_std(s.into()).map_err(fail)
}

/// Serves until the task is dropped. One task: the work per packet is a
/// parse, a store read and an encode, far below the socket's cost.
pub async fn run(socket: UdpSocket, mut responder: Responder) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "DHCP: receive failed");
                continue;
            }
        };
        let Some(packet) = buf.get(..len) else {
            continue;
        };
        match responder.handle(packet, Instant::now()) {
            Outcome::Reply { bytes, to, mac, .. } => {
                if let Err(e) = socket.send_to(&bytes, to).await {
                    tracing::warn!(error = %e, mac = %mac.colon(), %to, "DHCP: reply not sent");
                }
            }
            Outcome::NotInform(mac, t) => {
                tracing::debug!(mac = %mac.colon(), kind = ?t, %peer, "DHCP: options-only mode, not answering")
            }
            Outcome::UnknownVendor(mac) => {
                tracing::debug!(mac = %mac.colon(), %peer, "DHCP: not a known phone vendor")
            }
            Outcome::Malformed(_) | Outcome::Limited(_) => {}
        }
    }
}

/// The vendor of the imported phone with this MAC, read from the store. A
/// store error is logged and treated as "not imported": the packet's own
/// evidence still classifies the phone.
pub fn stored_vendor<S: Store + Send + Sync + 'static>(store: Arc<S>) -> StoredVendor {
    Box::new(move |mac: Mac| match store.user_by_mac(mac) {
        Ok(user) => user.and_then(|u| {
            u.phones
                .into_iter()
                .find(|p| p.mac == mac)
                .map(|p| p.vendor)
        }),
        Err(e) => {
            tracing::warn!(error = %e, mac = %mac.colon(), "DHCP: store lookup failed");
            None
        }
    })
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
