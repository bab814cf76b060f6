//! Binding a verified client certificate to the phone it belongs to.
//!
//! Vendors' factory device certificates name the phone's MAC in the subject
//! CN (`CN=805ec0123456`) or a subject alternative name. A certificate that
//! names MACs may fetch only those MACs' files: another phone's (or an
//! unknown MAC's) gets the same 404 as any refusal. A certificate naming no
//! MAC (an admin's own client certificate) is not bound.
//!
//! The certificate was verified by rustls before this runs, so it is
//! well-formed DER; the reader below still checks every length and gives
//! up quietly (no MAC found) on anything unexpected.

use crate::domain::mac::Mac;
use crate::vendors;

/// MACs kept per certificate; device certificates name one.
const MAX_MACS: usize = 4;

/// What a verified client certificate says about which phone it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientCert {
    macs: [Option<Mac>; MAX_MACS],
}

impl ClientCert {
    /// The MACs named in the subject CN and the subject alternative names
    /// (DNS, URI and e-mail forms) of a DER certificate.
    pub fn from_der(der: &[u8]) -> ClientCert {
        let mut found: Vec<Mac> = Vec::new();
        for m in names(der).iter().flat_map(|n| macs_in(n)) {
            if !found.contains(&m) {
                found.push(m);
            }
        }
        let mut cert = ClientCert::default();
        for (slot, mac) in cert.macs.iter_mut().zip(found) {
            *slot = Some(mac);
        }
        cert
    }

    /// Whether the certificate names any MAC (and so is bound to it).
    pub fn is_bound(&self) -> bool {
        self.macs[0].is_some()
    }

    /// Whether the certificate may fetch `mac`'s files.
    pub fn allows(&self, mac: Mac) -> bool {
        !self.is_bound() || self.macs.contains(&Some(mac))
    }
}

/// MACs in one name: the whole value in any notation `crate::domain::mac` accepts,
/// each whitespace/punctuation-separated token (also after a vendor's
/// certificate name prefix, such as Cisco's `SEP` in `SEP805EC0123456`: the
/// prefixes are the vendor rows' `cert_name_prefixes`), and each run of
/// exactly 12 hex digits (`805ec0123456.phones.example`).
fn macs_in(name: &str) -> Vec<Mac> {
    let mut out = Vec::new();
    let mut push = |m: Mac| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    if let Ok(m) = Mac::parse(name) {
        push(m);
    }
    for token in name.split(|c: char| c.is_whitespace() || ",;/=@+".contains(c)) {
        if let Ok(m) = Mac::parse(without_cert_prefix(token)) {
            push(m);
        }
    }
    let bytes = name.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if len == 12
            && let Some(run) = name.get(start..start + 12)
            && let Ok(m) = Mac::parse(run)
        {
            push(m);
        }
        start += len.max(1);
    }
    out
}

/// The token after the first vendor certificate-name prefix it starts with
/// (ASCII case ignored), else the token itself. Vendors are data: the
/// prefixes come from `VENDORS`, so a new vendor's needs no code here.
fn without_cert_prefix(token: &str) -> &str {
    vendors::cert_name_prefixes()
        .find_map(|prefix| {
            token
                .get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .and_then(|_| token.get(prefix.len()..))
        })
        .unwrap_or(token)
}

/// Subject CNs and string-valued subject alternative names.
fn names(der: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let _ = collect_names(der, &mut out);
    out
}

/// `Certificate ::= SEQUENCE { tbsCertificate, ... }`, `TBSCertificate ::=
/// SEQUENCE { [0] version OPTIONAL, serial, signature, issuer, validity,
/// subject, spki, [1]?, [2]?, [3] extensions OPTIONAL }`.
fn collect_names(der: &[u8], out: &mut Vec<String>) -> Option<()> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let (tag, value, after) = tlv(rest)?;
        fields.push((tag, value));
        rest = after;
    }
    // Skip the optional [0] version to line the fields up.
    let fields = match fields.first() {
        Some((0xa0, _)) => &fields[1..],
        _ => &fields[..],
    };
    // serial, signature, issuer, validity, subject
    let (_, subject) = *fields.get(4)?;
    common_names(subject, out);
    for (tag, value) in fields.iter().skip(6) {
        if *tag == 0xa3 {
            let (_, exts, _) = tlv(value)?;
            subject_alt_names(exts, out);
        }
    }
    Some(())
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// `Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }`.
fn common_names(name: &[u8], out: &mut Vec<String>) {
    for (_, set) in items(name) {
        for (_, atv) in items(set) {
            let mut parts = items(atv).into_iter();
            if let (Some((0x06, oid)), Some((_, value))) = (parts.next(), parts.next())
                && oid == OID_CN
                && let Ok(s) = std::str::from_utf8(value)
            {
                out.push(s.to_string());
            }
        }
    }
}

/// `Extensions ::= SEQUENCE OF SEQUENCE { OID, critical BOOLEAN OPTIONAL,
/// OCTET STRING }`; the SAN's octets hold `SEQUENCE OF GeneralName`.
fn subject_alt_names(exts: &[u8], out: &mut Vec<String>) {
    for (_, ext) in items(exts) {
        let parts = items(ext);
        let Some((0x06, oid)) = parts.first() else {
            continue;
        };
        if *oid != OID_SAN {
            continue;
        }
        let Some((0x04, octets)) = parts.last() else {
            continue;
        };
        let Some((_, names, _)) = tlv(octets) else {
            continue;
        };
        for (tag, value) in items(names) {
            // rfc822Name [1], dNSName [2], URI [6]: IA5String, primitive.
            if matches!(tag, 0x81 | 0x82 | 0x86)
                && let Ok(s) = std::str::from_utf8(value)
            {
                out.push(s.to_string());
            }
        }
    }
}

/// The TLVs inside a constructed value; stops at the first malformed one.
fn items(mut der: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, value, rest)) = tlv(der) {
        out.push((tag, value));
        der = rest;
    }
    out
}

/// One DER tag-length-value: (tag, value, what follows). Single-byte tags
/// and definite lengths only (all X.509 uses).
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: &str, sans: &[&str]) -> Vec<u8> {
        let mut params =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Yealink");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn mac(s: &str) -> Mac {
        Mac::parse(s).unwrap()
    }

    #[test]
    fn mac_in_the_common_name() {
        let c = ClientCert::from_der(&cert("805ec0123456", &[]));
        assert!(c.is_bound());
        assert!(c.allows(mac("805ec0123456")));
        assert!(!c.allows(mac("805ec0123457")));
        // Other notations and vendor prefixes.
        for cn in [
            "80:5E:C0:12:34:56",
            "SEP805EC0123456",
            "CP-8841-3PCC-SEP 805ec0123456",
        ] {
            let c = ClientCert::from_der(&cert(cn, &[]));
            assert!(c.allows(mac("805ec0123456")) && c.is_bound(), "{cn}");
        }
    }

    #[test]
    fn mac_in_a_subject_alternative_name() {
        let c = ClientCert::from_der(&cert("Polycom device", &["0004f2aabbcc.phones.example"]));
        assert!(c.allows(mac("0004f2aabbcc")));
        assert!(!c.allows(mac("805ec0123456")));
    }

    #[test]
    fn no_mac_is_not_bound_and_garbage_is_harmless() {
        let c = ClientCert::from_der(&cert("admin workstation", &["localhost"]));
        assert!(!c.is_bound());
        assert!(c.allows(mac("805ec0123456")));
        let good = cert("805ec0123456", &[]);
        for cut in [0, 1, 2, 10, good.len() / 2, good.len() - 1] {
            let _ = ClientCert::from_der(&good[..cut]);
        }
        assert!(!ClientCert::from_der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_bound());
    }
}
