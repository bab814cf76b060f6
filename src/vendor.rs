//! Vendors as data: one table row per vendor.
//!
//! The provisioning and DHCP parts extend the row (file patterns, User-Agent
//! parsers, templates, value maps); everything vendor-specific is looked up here
//! rather than matched on in scattered code.

/// One vendor's identity facts.
#[derive(Debug)]
pub struct Vendor {
    /// Stable lower-case id used in `phone_model` (`yealink-t54w`) and the store.
    pub id: &'static str,
    /// Other spellings admins use for the vendor part of `phone_model`.
    pub aliases: &'static [&'static str],
    /// Human name for reports.
    pub name: &'static str,
    /// MAC OUIs (first 3 bytes) known to belong to the vendor's phones.
    pub ouis: &'static [[u8; 3]],
}

/// Every vendor autoprov knows. Sources: vendors.md (Wazo's DHCP classes).
pub static VENDORS: &[Vendor] = &[
    Vendor {
        id: "yealink",
        aliases: &[],
        name: "Yealink",
        ouis: &[
            [0x00, 0x15, 0x65],
            [0xe4, 0x34, 0xd7],
            [0x80, 0x5e, 0xc0],
            [0x80, 0x5e, 0x0c],
            [0x24, 0x9a, 0xd8],
            [0x44, 0xdb, 0xd2],
            [0x64, 0x4f, 0x56],
            [0xec, 0x1d, 0xa9],
            [0x34, 0x97, 0xd7],
            [0xb0, 0x61, 0xa9],
            [0xc4, 0xfc, 0x22],
            [0xf0, 0x16, 0x53],
        ],
    },
    Vendor {
        id: "polycom",
        aliases: &["poly"],
        name: "Poly/Polycom",
        ouis: &[[0x00, 0x04, 0xf2], [0x64, 0x16, 0x7f], [0x48, 0x25, 0x67]],
    },
    Vendor {
        id: "cisco",
        aliases: &[],
        name: "Cisco",
        ouis: &[
            [0x00, 0x26, 0x99],
            [0x50, 0x3d, 0xe5],
            [0x00, 0xe1, 0x6d],
            [0x00, 0xda, 0x55],
            [0x10, 0xbd, 0x18],
            [0xd0, 0xec, 0x35],
        ],
    },
    Vendor {
        id: "grandstream",
        aliases: &["gs"],
        name: "Grandstream",
        ouis: &[[0x00, 0x0b, 0x82], [0xc0, 0x74, 0xad], [0xec, 0x74, 0xd7]],
    },
    Vendor {
        id: "snom",
        aliases: &[],
        name: "Snom",
        ouis: &[[0x00, 0x04, 0x13], [0x00, 0x08, 0x7b]],
    },
    Vendor {
        id: "fanvil",
        aliases: &[],
        name: "Fanvil",
        ouis: &[[0x00, 0xa8, 0x59], [0x0c, 0x38, 0x3e]],
    },
];

/// Looks a vendor up by id or alias, case-insensitively.
pub fn by_name(name: &str) -> Option<&'static Vendor> {
    let name = name.to_ascii_lowercase();
    VENDORS
        .iter()
        .find(|v| v.id == name || v.aliases.contains(&name.as_str()))
}

/// Looks a vendor up by its stable id.
pub fn by_id(id: &str) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| v.id == id)
}

/// The vendor whose phones carry this OUI, if known.
pub fn by_oui(oui: [u8; 3]) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| v.ouis.contains(&oui))
}

/// Comma-separated vendor ids, for error messages.
pub fn known_ids() -> String {
    VENDORS.iter().map(|v| v.id).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(by_name("Poly").map(|v| v.id), Some("polycom"));
        assert_eq!(by_oui([0x80, 0x5e, 0xc0]).map(|v| v.id), Some("yealink"));
        assert!(by_oui([0x12, 0x34, 0x56]).is_none());
        for v in VENDORS {
            assert!(by_id(v.id).is_some());
        }
    }
}
