//! Interface ↔ IPv4 address lookups (getifaddrs), for `--dhcp IFACE|ADDR`:
//! the responder binds to an interface and names one of its addresses as
//! the server identifier.

use std::ffi::CStr;
use std::net::Ipv4Addr;

/// One IPv4 address on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub name: String,
    pub addr: Ipv4Addr,
    /// Prefix length of the address's network (full mode serves it).
    pub prefix: u8,
}

/// Every IPv4 address of every interface, in the kernel's order.
pub fn ipv4_addresses() -> std::io::Result<Vec<IfAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below, once.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; ifa_name is a NUL-terminated string and an
        // AF_INET ifa_addr points to a sockaddr_in.
        unsafe {
            let ifa = &*cur;
            let sa = ifa.ifa_addr;
            if !sa.is_null() && i32::from((*sa).sa_family) == libc::AF_INET {
                let sin = &*(sa as *const libc::sockaddr_in);
                let addr = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let name = CStr::from_ptr(ifa.ifa_name).to_string_lossy().into_owned();
                let mask = ifa.ifa_netmask;
                let prefix = if mask.is_null() {
                    32
                } else {
                    let m = &*(mask as *const libc::sockaddr_in);
                    u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                };
                out.push(IfAddr { name, addr, prefix });
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The first IPv4 address of interface `name`.
pub fn first_ipv4<'a>(all: &'a [IfAddr], name: &str) -> Option<&'a IfAddr> {
    all.iter().find(|a| a.name == name)
}

/// The interface entry that holds `addr`.
pub fn holder(all: &[IfAddr], addr: Ipv4Addr) -> Option<&IfAddr> {
    all.iter().find(|a| a.addr == addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed() {
        let all = ipv4_addresses().unwrap();
        let lo = holder(&all, Ipv4Addr::LOCALHOST).expect("127.0.0.1 on some interface");
        assert_eq!(lo.prefix, 8);
        assert_eq!(
            first_ipv4(&all, &lo.name).map(|a| a.addr),
            Some(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(holder(&all, Ipv4Addr::new(192, 0, 2, 254)), None);
    }
}
