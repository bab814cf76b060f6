//! MAC addresses as admins type them and phones request them.
//!
//! `mac_address::MacAddress` is the storage type (6 bytes, `Ord`, `Hash`), but its
//! `FromStr` accepts garbage such as `+a+b+c+d+e+f` and refuses Cisco's
//! `aabb.ccdd.eeff`, so parsing goes through our own strict normaliser.

use std::fmt;
use std::str::FromStr;

use mac_address::MacAddress;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a MAC string was refused. Each variant maps to one report code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    #[error(
        "{0:?} is not a MAC address: expected 12 hex digits such as aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, aabb.ccdd.eeff or aabbccddeeff"
    )]
    Format(String),
    #[error("{0} is the broadcast address, not a phone")]
    Broadcast(String),
    #[error("{0} is a multicast address (group bit set in the first byte), not a phone")]
    Multicast(String),
    #[error("{0} is the all-zero address, not a phone")]
    Zero(String),
}

impl MacError {
    /// The stable code used in import reports.
    pub fn code(&self) -> &'static str {
        match self {
            MacError::Format(_) => "E_MAC_FORMAT",
            MacError::Broadcast(_) => "E_MAC_BROADCAST",
            MacError::Multicast(_) => "E_MAC_MULTICAST",
            MacError::Zero(_) => "E_MAC_ZERO",
        }
    }
}

/// A unicast, non-zero hardware address of a phone.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(MacAddress);

impl Mac {
    /// Parses every notation admins use; never "repairs" a wrong value.
    pub fn parse(input: &str) -> Result<Mac, MacError> {
        let s = input.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\u{a0}');
        let bytes = normalise(s).ok_or_else(|| MacError::Format(input.to_string()))?;
        Mac::from_bytes(bytes)
    }

    /// Checks the address classes that can never be a phone.
    pub fn from_bytes(bytes: [u8; 6]) -> Result<Mac, MacError> {
        let mac = Mac(MacAddress::new(bytes));
        if bytes == [0xff; 6] {
            return Err(MacError::Broadcast(mac.colon()));
        }
        if bytes == [0; 6] {
            return Err(MacError::Zero(mac.colon()));
        }
        if bytes[0] & 1 == 1 {
            return Err(MacError::Multicast(mac.colon()));
        }
        Ok(mac)
    }

    pub fn bytes(&self) -> [u8; 6] {
        self.0.bytes()
    }

    /// First three bytes: the vendor's OUI.
    pub fn oui(&self) -> [u8; 3] {
        let b = self.bytes();
        [b[0], b[1], b[2]]
    }

    /// `aabbccddeeff`: the canonical stored form and most vendors' file names.
    pub fn plain(&self) -> String {
        hex::encode(self.bytes())
    }

    /// `AABBCCDDEEFF`: Snom and Aastra file names.
    pub fn upper(&self) -> String {
        hex::encode_upper(self.bytes())
    }

    /// `aa:bb:cc:dd:ee:ff`: User-Agents and human output.
    pub fn colon(&self) -> String {
        let b = self.bytes();
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Accepts `aa:bb:cc:dd:ee:ff`, `aa-bb-...`, `aabb.ccdd.eeff` and bare hex with
/// one consistent separator layout; anything else is `None`.
fn normalise(s: &str) -> Option<[u8; 6]> {
    let hex: String = match s.len() {
        12 => s.to_string(),
        17 => {
            let sep = s.as_bytes()[2];
            if sep != b':' && sep != b'-' {
                return None;
            }
            let groups: Vec<&str> = s.split(sep as char).collect();
            if groups.len() != 6 || groups.iter().any(|g| g.len() != 2) {
                return None;
            }
            groups.concat()
        }
        14 => {
            let groups: Vec<&str> = s.split('.').collect();
            if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
                return None;
            }
            groups.concat()
        }
        _ => return None,
    };
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 6];
    hex::decode_to_slice(&hex, &mut out).ok()?;
    Some(out)
}

impl FromStr for Mac {
    type Err = MacError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mac::parse(s)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.plain())
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({})", self.plain())
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.plain())
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Mac::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_admin_notation() {
        for s in [
            "80:5e:c0:12:34:56",
            "80-5E-C0-12-34-56",
            "805e.c012.3456",
            "805EC0123456",
            " 805ec0123456\t",
            "\u{a0}805ec0123456",
        ] {
            assert_eq!(
                Mac::parse(s).map(|m| m.plain()),
                Ok("805ec0123456".into()),
                "{s}"
            );
        }
    }

    #[test]
    fn refuses_garbage_the_crate_would_accept() {
        for s in [
            "+a+b+c+d+e+f",
            "a:b:c:dd:ee:ff:00",
            "0:0:0:0:0:0000000",
            "80:5e:c0:12:34",
            "80:5e:c0:12:34:5g",
            "80:5e-c0:12:34:56",
            "80 5e c0 12 34 56",
            "805ec01234567",
            "1.5555E+10",
            "",
        ] {
            assert!(matches!(Mac::parse(s), Err(MacError::Format(_))), "{s}");
        }
    }

    #[test]
    fn refuses_non_phone_classes() {
        assert_eq!(
            Mac::parse("ff:ff:ff:ff:ff:ff").unwrap_err().code(),
            "E_MAC_BROADCAST"
        );
        assert_eq!(Mac::parse("000000000000").unwrap_err().code(), "E_MAC_ZERO");
        assert_eq!(
            Mac::parse("01:00:5e:00:00:01").unwrap_err().code(),
            "E_MAC_MULTICAST"
        );
    }

    #[test]
    fn formats() {
        let m = Mac::parse("00:04:13:aa:bb:cc").unwrap();
        assert_eq!(m.plain(), "000413aabbcc");
        assert_eq!(m.upper(), "000413AABBCC");
        assert_eq!(m.colon(), "00:04:13:aa:bb:cc");
        assert_eq!(m.oui(), [0x00, 0x04, 0x13]);
    }
}
