//! Which vendor a DHCP client is: the imported phone's vendor first (the
//! admin said so), then its vendor class (option 60), then its MAC's OUI.

use crate::domain::mac::Mac;
use crate::vendors::{self, ClassMatch, VENDORS, Vendor};

/// How the vendor was found, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Stored,
    VendorClass,
    Oui,
}

/// Decides the vendor; `stored` is the vendor id of the imported phone.
pub fn classify(
    stored: Option<&str>,
    class: Option<&[u8]>,
    mac: Mac,
) -> Option<(&'static Vendor, Source)> {
    if let Some(v) = stored.and_then(vendors::by_id) {
        return Some((v, Source::Stored));
    }
    if let Some(v) = class.and_then(by_class) {
        return Some((v, Source::VendorClass));
    }
    vendors::by_oui(mac.oui()).map(|v| (v, Source::Oui))
}

/// The vendor whose option-60 tests match this class.
pub fn by_class(class: &[u8]) -> Option<&'static Vendor> {
    VENDORS
        .iter()
        .find(|v| v.dhcp.classes.iter().any(|m| matches(*m, class)))
}

/// One test: ASCII case ignored, trailing NULs ignored (Cisco MPP).
pub fn matches(m: ClassMatch, class: &[u8]) -> bool {
    let end = class.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let class = &class[..end];
    match m {
        ClassMatch::Prefix(p) => class
            .get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
        ClassMatch::Enterprise(n) => class.get(..4) == Some(&n.to_be_bytes()[..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Mac {
        Mac::parse(s).unwrap()
    }

    fn class_id(class: &[u8]) -> Option<&'static str> {
        by_class(class).map(|v| v.id)
    }

    #[test]
    fn vendor_classes_from_the_reference() {
        assert_eq!(class_id(b"yealink"), Some("yealink"));
        assert_eq!(class_id(b"Yealink SIP-T54W"), Some("yealink"));
        assert_eq!(class_id(b"Cisco SPA504G"), Some("cisco"));
        assert_eq!(class_id(b"CISCO SPA112"), Some("cisco"));
        assert_eq!(class_id(b"LINKSYS SPA-942"), Some("cisco"));
        assert_eq!(
            class_id(b"Cisco Systems, Inc. IP Phone CP-7841-3PCC\0"),
            Some("cisco")
        );
        assert_eq!(class_id(b"Grandstream GXP2170"), Some("grandstream"));
        assert_eq!(class_id(b"snomD785"), Some("snom"));
        assert_eq!(class_id(b"Fanvil X4SG"), Some("fanvil"));
        assert_eq!(class_id(b"Polycom-VVX411"), Some("polycom"));
        // Binary RFC 3925 form: enterprise 13885, then sub-options.
        let mut poly = vec![0, 0, 0x36, 0x3d, 9, 1, 7];
        poly.extend_from_slice(b"Polycom");
        assert_eq!(class_id(&poly), Some("polycom"));
        for other in [&b"MSFT 5.0"[..], b"", b"\0\0", b"yeal", b"android-dhcp-14"] {
            assert_eq!(class_id(other), None, "{other:?}");
        }
    }

    #[test]
    fn stored_phone_beats_class_beats_oui() {
        let yealink_mac = mac("80:5e:c0:12:34:56");
        let (v, s) = classify(Some("polycom"), Some(b"yealink"), yealink_mac).unwrap();
        assert_eq!((v.id, s), ("polycom", Source::Stored));
        let (v, s) = classify(None, Some(b"snomD785"), yealink_mac).unwrap();
        assert_eq!((v.id, s), ("snom", Source::VendorClass));
        let (v, s) = classify(None, Some(b"MSFT 5.0"), yealink_mac).unwrap();
        assert_eq!((v.id, s), ("yealink", Source::Oui));
        // An unknown stored id falls through to the other evidence.
        let (v, _) = classify(Some("nokia"), None, yealink_mac).unwrap();
        assert_eq!(v.id, "yealink");
        assert!(classify(None, None, mac("02:00:00:00:00:01")).is_none());
    }
}
