//! The provisioning options a vendor's phones get, and the DHCPACK that
//! answers a DHCPINFORM (RFC 2131 §4.3.5).

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{self, DhcpOption, MessageType, OptionCode, UnknownOption};
use dhcproto::{Encodable, Encoder};

use super::packet::Request;
use crate::vendors::{self, Option43, Vendor};

/// One option as it goes on the wire: code and value bytes.
pub type RawOption = (u8, Vec<u8>);

/// What the site hands to phones, whatever their vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provision {
    /// The provisioning URL (66, 160, 43): plain HTTP by default, because the
    /// HTTP file is the staged bootstrap that moves phones to HTTPS.
    pub url: String,
    /// The TFTP listener's addresses (option 150, and a bare 66 for the
    /// vendors that read it as TFTP); empty while TFTP is off.
    pub tftp: Vec<Ipv4Addr>,
}

/// The raw `(code, value)` options for `vendor`, in the vendor's order:
/// its TFTP form while TFTP is on and it has one, else its URL form
/// ("DHCP follows the transport", docs/dhcp.md).
pub fn vendor_options(vendor: &Vendor, p: &Provision) -> Vec<RawOption> {
    let d = &vendor.dhcp;
    let url = p.url.as_bytes();
    let form = if !p.tftp.is_empty() && !d.tftp_options.is_empty() {
        d.tftp_options
    } else {
        d.options
    };
    form.iter()
        .filter_map(|o| {
            let value = match o {
                vendors::DhcpOption::ServerName | vendors::DhcpOption::ProvisioningUrl160 => {
                    url.to_vec()
                }
                vendors::DhcpOption::BootFile => d.boot_file?.as_bytes().to_vec(),
                vendors::DhcpOption::TftpAddresses => {
                    p.tftp.iter().flat_map(|a| a.octets()).collect()
                }
                vendors::DhcpOption::TftpServerName => p.tftp.first()?.to_string().into_bytes(),
                vendors::DhcpOption::VendorSpecific => option43(d.option43, url)?,
            };
            // One option carries 255 bytes; dhcproto splits longer ones
            // (RFC 3396), but an empty one says nothing.
            (!value.is_empty()).then(|| (o.code(), value))
        })
        .collect()
}

/// Option 43 for a layout; `None` when the vendor sends none.
fn option43(layout: Option43, url: &[u8]) -> Option<Vec<u8>> {
    match layout {
        Option43::None => None,
        Option43::Url => Some(url.to_vec()),
        Option43::UrlSubOptions(codes) => {
            // A sub-option's length is one byte: cut at 255, never wrap.
            let url = &url[..url.len().min(255)];
            let mut out = Vec::new();
            for code in codes {
                out.push(*code);
                out.push(url.len() as u8);
                out.extend_from_slice(url);
            }
            out.push(255);
            Some(out)
        }
    }
}

/// Encoding a reply failed (only on a bug: every input is bounded).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the DHCP reply: {0}")]
pub struct EncodeError(String);

/// The DHCPACK for an INFORM: no address, no lease time (§4.3.5), the
/// vendor's options whatever option 55 asked for.
pub fn inform_ack(
    req: &Request,
    server_id: Ipv4Addr,
    options: &[RawOption],
) -> Result<Vec<u8>, EncodeError> {
    build(
        req,
        MessageType::Ack,
        Ipv4Addr::UNSPECIFIED,
        server_id,
        &[options],
    )
}

/// A reply of `kind` to `req` (RFC 2131 table 3): `yiaddr` is the address
/// offered or bound (unspecified for INFORM and NAK), the option groups
/// (subnet, vendor, …) go in as given after 53 and 54, and a relay's
/// option 82 is echoed (RFC 3046).
pub fn build(
    req: &Request,
    kind: MessageType,
    yiaddr: Ipv4Addr,
    server_id: Ipv4Addr,
    groups: &[&[RawOption]],
) -> Result<Vec<u8>, EncodeError> {
    let mac = req.mac.bytes();
    let nak = kind == MessageType::Nak;
    // ciaddr is echoed in ACKs (a renewing client's address), never in
    // OFFER or NAK; siaddr names us as the next server for TFTP phones.
    let ciaddr = match kind {
        MessageType::Ack => req.ciaddr,
        _ => Ipv4Addr::UNSPECIFIED,
    };
    let siaddr = if nak || yiaddr.is_unspecified() {
        Ipv4Addr::UNSPECIFIED
    } else {
        server_id
    };
    let mut m = v4::Message::new_with_id(req.xid, ciaddr, yiaddr, siaddr, req.giaddr, &mac);
    // A NAK through a relay must be broadcast on the client's link (§4.3.2).
    let flags = if nak && !req.giaddr.is_unspecified() {
        req.flags | 0x8000
    } else {
        req.flags
    };
    m.set_opcode(v4::Opcode::BootReply)
        .set_flags(v4::Flags::new(flags));
    let o = m.opts_mut();
    o.insert(DhcpOption::MessageType(kind));
    o.insert(DhcpOption::ServerIdentifier(server_id));
    for (code, value) in groups.iter().flat_map(|g| g.iter()) {
        o.insert(raw_option(*code, value.clone()));
    }
    let mut buf = Vec::with_capacity(576);
    m.encode(&mut Encoder::new(&mut buf))
        .map_err(|e| EncodeError(e.to_string()))?;
    if let Some(agent) = req.options.get(&82) {
        append_last(&mut buf, 82, agent)?;
    }
    Ok(buf)
}

/// Puts an option right before the End option of an encoded message.
/// Option 82 goes in this way: dhcproto keys a raw option by its own
/// `Unknown(82)` code, which its encoder both writes in order and again as
/// "the" relay option at the end, so it went out twice.
fn append_last(buf: &mut Vec<u8>, code: u8, data: &[u8]) -> Result<(), EncodeError> {
    let mut i = 240;
    while let Some(&c) = buf.get(i) {
        match c {
            255 => {
                let mut opt = Vec::with_capacity(data.len() + 4);
                for chunk in data.chunks(255) {
                    opt.push(code);
                    opt.push(chunk.len() as u8);
                    opt.extend_from_slice(chunk);
                }
                buf.splice(i..i, opt);
                return Ok(());
            }
            0 => i += 1,
            _ => i += 2 + usize::from(*buf.get(i + 1).unwrap_or(&0)),
        }
    }
    Err(EncodeError("no End option in the encoded reply".into()))
}

/// Lease time (51) with renewal (58, half) and rebinding (59, 7/8) times.
pub fn lease_times(seconds: u32) -> [RawOption; 3] {
    let t2 = (u64::from(seconds) * 7 / 8) as u32;
    [
        (51, seconds.to_be_bytes().to_vec()),
        (58, (seconds / 2).to_be_bytes().to_vec()),
        (59, t2.to_be_bytes().to_vec()),
    ]
}

/// Raw options go in as `Unknown`, so dhcproto writes the bytes as given:
/// its typed 150 holds one address only, and 160 has no type (docs/reference/crates.md §1.4).
fn raw_option(code: u8, value: Vec<u8>) -> DhcpOption {
    match code {
        66 => DhcpOption::TFTPServerName(value),
        67 => DhcpOption::BootfileName(value),
        43 => DhcpOption::VendorExtensions(value),
        _ => DhcpOption::Unknown(UnknownOption::new(OptionCode::Unknown(code), value)),
    }
}

/// Where a reply goes (RFC 2131 §4.1): through the relay that forwarded
/// the request; a NAK otherwise broadcast; else to the address the client
/// already has; else broadcast. (The RFC's unicast to a client without an
/// address needs an ARP entry written by hand; broadcast reaches every
/// client as well.)
pub fn destination(req: &Request, kind: MessageType) -> SocketAddrV4 {
    if !req.giaddr.is_unspecified() {
        SocketAddrV4::new(req.giaddr, 67)
    } else if kind != MessageType::Nak && !req.ciaddr.is_unspecified() {
        SocketAddrV4::new(req.ciaddr, 68)
    } else {
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 68)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::packet::{parse, tests::request};
    use crate::vendors::by_id;
    use dhcproto::v4::borrowed;

    fn site() -> Provision {
        Provision {
            url: "http://10.99.0.1:8080/".into(),
            tftp: vec![Ipv4Addr::new(10, 99, 0, 1), Ipv4Addr::new(10, 99, 0, 2)],
        }
    }

    fn codes(id: &str) -> Vec<(u8, Vec<u8>)> {
        vendor_options(by_id(id).unwrap(), &site())
    }

    const URL: &[u8] = b"http://10.99.0.1:8080/";

    #[test]
    fn per_vendor_options() {
        assert_eq!(codes("yealink"), vec![(66, URL.to_vec())]);
        assert_eq!(
            codes("polycom"),
            vec![(66, URL.to_vec()), (160, URL.to_vec())]
        );
        // TFTP is on in `site()`: Cisco gets the TFTP form, the others the URL.
        assert_eq!(
            codes("cisco"),
            vec![
                (66, b"10.99.0.1".to_vec()),
                (150, vec![10, 99, 0, 1, 10, 99, 0, 2]),
            ]
        );
        assert_eq!(
            codes("grandstream"),
            vec![(66, URL.to_vec()), (43, URL.to_vec())]
        );
        assert_eq!(
            codes("snom"),
            vec![(66, URL.to_vec()), (67, b"{phone_type}.htm".to_vec())]
        );
        assert_eq!(
            codes("fanvil"),
            vec![(66, URL.to_vec()), (43, URL.to_vec())]
        );
    }

    #[test]
    fn cisco_gets_the_url_form_while_tftp_is_off() {
        let p = Provision {
            tftp: vec![],
            ..site()
        };
        let o = vendor_options(by_id("cisco").unwrap(), &p);
        assert_eq!(o, vec![(66, URL.to_vec()), (160, URL.to_vec())]);
    }

    #[test]
    fn sub_option_layout() {
        let o = option43(Option43::UrlSubOptions(&[2, 3]), b"http://x/").unwrap();
        assert_eq!(&o[..2], &[2, 9]);
        assert_eq!(&o[11..13], &[3, 9]);
        assert_eq!(o.last(), Some(&255));
        let long = vec![b'a'; 400];
        let o = option43(Option43::UrlSubOptions(&[2]), &long).unwrap();
        assert_eq!(o[1], 255);
        assert_eq!(o.len(), 2 + 255 + 1);
    }

    #[test]
    fn ack_carries_every_option_on_the_wire() {
        let mac = [0x00, 0x26, 0x99, 1, 2, 3];
        let req = parse(&request(mac, 8, &[(60, b"Cisco SPA504G"), (55, &[1, 3])])).unwrap();
        let bytes = inform_ack(&req, Ipv4Addr::new(10, 99, 0, 1), &codes("cisco")).unwrap();
        let m = borrowed::Message::new(&bytes).unwrap();
        assert_eq!(m.xid(), req.xid);
        assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
        let got: Vec<(u8, Vec<u8>)> = m
            .opts()
            .map(|o| (u8::from(o.code()), o.data().to_vec()))
            .collect();
        let get = |c: u8| got.iter().find(|(k, _)| *k == c).map(|(_, v)| v.clone());
        assert_eq!(get(53), Some(vec![5]));
        assert_eq!(get(54), Some(vec![10, 99, 0, 1]));
        assert_eq!(get(66).as_deref(), Some(&b"10.99.0.1"[..]));
        assert_eq!(get(150), Some(vec![10, 99, 0, 1, 10, 99, 0, 2]));
        assert_eq!(get(160), None);
        // INFORM answers carry no lease time.
        assert_eq!(get(51), None);
        assert_eq!(got.iter().filter(|(c, _)| *c == 150).count(), 1);
    }

    #[test]
    fn long_urls_are_split_not_truncated() {
        let p = Provision {
            url: format!("http://prov.example.com/{}/", "d".repeat(300)),
            tftp: vec![],
        };
        let req = parse(&request([0, 4, 0xf2, 1, 2, 3], 8, &[])).unwrap();
        let opts = vendor_options(by_id("polycom").unwrap(), &p);
        let bytes = inform_ack(&req, Ipv4Addr::new(10, 0, 0, 1), &opts).unwrap();
        let m = borrowed::Message::new(&bytes).unwrap();
        let o160 = m.opts().find(|o| u8::from(o.code()) == 160).unwrap();
        assert_eq!(o160.data(), p.url.as_bytes());
    }

    #[test]
    fn destinations() {
        let mac = [0x80, 0x5e, 0xc0, 1, 2, 3];
        let mut b = request(mac, 8, &[]);
        let r = parse(&b).unwrap();
        assert_eq!(
            destination(&r, MessageType::Ack),
            "255.255.255.255:68".parse().unwrap()
        );
        b[12..16].copy_from_slice(&[10, 99, 0, 50]);
        let r = parse(&b).unwrap();
        assert_eq!(
            destination(&r, MessageType::Ack),
            "10.99.0.50:68".parse().unwrap()
        );
        assert_eq!(
            destination(&r, MessageType::Nak),
            "255.255.255.255:68".parse().unwrap()
        );
        b[24..28].copy_from_slice(&[10, 1, 0, 1]);
        let r = parse(&b).unwrap();
        assert_eq!(
            destination(&r, MessageType::Ack),
            "10.1.0.1:67".parse().unwrap()
        );
    }
}
