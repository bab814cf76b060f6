//! `autoprov dhcp-snippet`: the same per-vendor answers as config for a
//! site's own DHCP server (ISC dhcpd, Kea, dnsmasq), plus reservations for
//! imported phones with a fixed address.
//!
//! A site server cannot express "the imported phone's vendor wins": a phone
//! whose option 60 names one vendor and whose OUI another may match two
//! classes there. autoprov's own responder decides by store, then class,
//! then OUI.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::reply::{Provision, vendor_options};
use crate::domain::mac::Mac;
use crate::vendors::{ClassMatch, VENDORS, Vendor};

/// The DHCP server the snippet is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Isc,
    Kea,
    Dnsmasq,
}

/// A fixed address for one imported phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub mac: Mac,
    pub ip: Ipv4Addr,
}

/// The whole snippet.
pub fn render(format: Format, p: &Provision, reservations: &[Reservation]) -> String {
    match format {
        Format::Isc => isc(p, reservations),
        Format::Kea => kea(p, reservations),
        Format::Dnsmasq => dnsmasq(p, reservations),
    }
}

fn class_name(v: &Vendor) -> String {
    format!("autoprov-{}", v.id)
}

/// Vendors with anything to send; the others would be empty classes.
fn served() -> impl Iterator<Item = &'static Vendor> {
    VENDORS.iter().filter(|v| !v.dhcp.options.is_empty())
}

fn hex_colon(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Quoted for ISC and dnsmasq: backslash and quote escaped.
fn quoted(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn addresses(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string())
        .collect()
}

fn isc(p: &Provision, reservations: &[Reservation]) -> String {
    let mut s = String::from(
        "# autoprov: provisioning options per phone vendor (autoprov dhcp-snippet --format isc)\n\
         option autoprov-tftp-150 code 150 = array of ip-address;\n\
         option autoprov-url-160 code 160 = text;\n",
    );
    for v in served() {
        let mut tests: Vec<String> = v
            .dhcp
            .classes
            .iter()
            .map(|m| match m {
                ClassMatch::Prefix(t) => format!(
                    "substring(option vendor-class-identifier, 0, {}) = {}",
                    t.len(),
                    quoted(t.as_bytes())
                ),
                ClassMatch::Enterprise(n) => format!(
                    "substring(option vendor-class-identifier, 0, 4) = {}",
                    hex_colon(&n.to_be_bytes())
                ),
            })
            .collect();
        tests.extend(
            v.ouis
                .iter()
                .map(|o| format!("substring(hardware, 1, 3) = {}", hex_colon(o))),
        );
        let opts = vendor_options(v, p);
        let _ = writeln!(s, "\nclass \"{}\" {{", class_name(v));
        let _ = writeln!(s, "  match if {};", tests.join("\n        or "));
        for (code, value) in &opts {
            let line = match code {
                66 => format!("option tftp-server-name {};", quoted(value)),
                67 => format!("option bootfile-name {};", quoted(value)),
                150 => format!("option autoprov-tftp-150 {};", addresses(value).join(", ")),
                160 => format!("option autoprov-url-160 {};", quoted(value)),
                43 => format!("option vendor-encapsulated-options {};", hex_colon(value)),
                _ => continue,
            };
            let _ = writeln!(s, "  {line}");
        }
        // Phones do not document option 55: append the codes so dhcpd sends them.
        let prl: Vec<String> = opts.iter().map(|(c, _)| format!("{c:02x}")).collect();
        let _ = writeln!(
            s,
            "  if exists dhcp-parameter-request-list {{\n    option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, {});\n  }}",
            prl.join(", ")
        );
        s.push_str("}\n");
    }
    for r in reservations {
        let _ = writeln!(
            s,
            "\nhost autoprov-{} {{\n  hardware ethernet {};\n  fixed-address {};\n}}",
            r.mac.plain(),
            r.mac.colon(),
            r.ip
        );
    }
    s
}

fn kea(p: &Provision, reservations: &[Reservation]) -> String {
    let classes: Vec<Value> = served()
        .map(|v| {
            let mut tests: Vec<String> = v
                .dhcp
                .classes
                .iter()
                .map(|m| match m {
                    ClassMatch::Prefix(t) => format!(
                        "substring(option[60].hex,0,{}) == '{}'",
                        t.len(),
                        t.replace('\'', "")
                    ),
                    ClassMatch::Enterprise(n) => {
                        format!("substring(option[60].hex,0,4) == 0x{n:08X}")
                    }
                })
                .collect();
            tests.extend(
                v.ouis
                    .iter()
                    .map(|o| format!("substring(pkt4.mac,0,3) == 0x{}", hex::encode_upper(o))),
            );
            let data: Vec<Value> = vendor_options(v, p)
                .iter()
                .filter_map(|(code, value)| kea_option(*code, value))
                .collect();
            json!({ "name": class_name(v), "test": tests.join(" or "), "option-data": data })
        })
        .collect();
    let hosts: Vec<Value> = reservations
        .iter()
        .map(|r| json!({ "hw-address": r.mac.colon(), "ip-address": r.ip.to_string() }))
        .collect();
    let doc = json!({
        "Dhcp4": {
            "option-def": [
                { "name": "autoprov-tftp-150", "code": 150, "type": "ipv4-address", "array": true, "space": "dhcp4" },
                { "name": "autoprov-url-160", "code": 160, "type": "string", "space": "dhcp4" }
            ],
            "client-classes": classes,
            "reservations-global": true,
            "reservations-in-subnet": true,
            "reservations": hosts
        }
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// One Kea `option-data` entry, always sent (phones document no PRL).
fn kea_option(code: u8, value: &[u8]) -> Option<Value> {
    // Kea splits text data on commas unless they are escaped.
    let text = || String::from_utf8_lossy(value).replace(',', "\\,");
    let entry = match code {
        66 => json!({ "name": "tftp-server-name", "data": text() }),
        67 => json!({ "name": "boot-file-name", "data": text() }),
        150 => {
            json!({ "name": "autoprov-tftp-150", "code": 150, "data": addresses(value).join(", ") })
        }
        160 => json!({ "name": "autoprov-url-160", "code": 160, "data": text() }),
        43 => json!({
            "name": "vendor-encapsulated-options", "code": 43,
            "csv-format": false, "data": hex::encode_upper(value)
        }),
        _ => return None,
    };
    let mut entry = entry;
    if let Some(o) = entry.as_object_mut() {
        o.insert("always-send".into(), Value::Bool(true));
    }
    Some(entry)
}

fn dnsmasq(p: &Provision, reservations: &[Reservation]) -> String {
    let mut s = String::from(
        "# autoprov: provisioning options per phone vendor (autoprov dhcp-snippet --format dnsmasq)\n\
         # dhcp-vendorclass matches a substring of option 60; dhcp-option-force sends\n\
         # the options even when the phone's option 55 does not ask for them.\n",
    );
    for v in served() {
        let tag = class_name(v);
        let _ = writeln!(s, "\n# {}", v.name);
        for m in v.dhcp.classes {
            match m {
                ClassMatch::Prefix(t) => {
                    let _ = writeln!(s, "dhcp-vendorclass=set:{tag},{t}");
                }
                // The binary RFC 3925 class also contains the vendor's
                // name, which the substring match above catches.
                ClassMatch::Enterprise(n) => {
                    let _ = writeln!(s, "# (binary option 60, enterprise {n}: matched by name)");
                }
            }
        }
        for o in v.ouis {
            let _ = writeln!(s, "dhcp-mac=set:{tag},{}:*:*:*", hex_colon(o));
        }
        for (code, value) in vendor_options(v, p) {
            let data = match code {
                150 => addresses(&value).join(","),
                _ => quoted(&value),
            };
            let _ = writeln!(s, "dhcp-option-force=tag:{tag},{code},{data}");
        }
    }
    if !reservations.is_empty() {
        s.push_str("\n# imported phones with a fixed address\n");
    }
    for r in reservations {
        let _ = writeln!(s, "dhcp-host={},{}", r.mac.colon(), r.ip);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Provision {
        Provision {
            url: "http://10.99.0.1:8080/".into(),
            tftp: vec![Ipv4Addr::new(10, 99, 0, 1)],
        }
    }

    fn res() -> Vec<Reservation> {
        vec![Reservation {
            mac: Mac::parse("80:5e:c0:12:34:56").unwrap(),
            ip: Ipv4Addr::new(10, 99, 0, 50),
        }]
    }

    #[test]
    fn dnsmasq_lines() {
        let s = render(Format::Dnsmasq, &site(), &res());
        assert!(s.contains("dhcp-vendorclass=set:autoprov-yealink,yealink\n"));
        assert!(s.contains("dhcp-mac=set:autoprov-yealink,80:5e:c0:*:*:*\n"));
        assert!(s.contains("dhcp-option-force=tag:autoprov-cisco,150,10.99.0.1\n"));
        assert!(
            s.contains("dhcp-option-force=tag:autoprov-polycom,160,\"http://10.99.0.1:8080/\"\n")
        );
        assert!(s.contains("dhcp-option-force=tag:autoprov-snom,67,\"{phone_type}.htm\"\n"));
        assert!(s.contains("dhcp-host=80:5e:c0:12:34:56,10.99.0.50\n"));
    }

    #[test]
    fn kea_is_json_with_classes() {
        let s = render(Format::Kea, &site(), &res());
        let v: Value = serde_json::from_str(&s).unwrap();
        let classes = v["Dhcp4"]["client-classes"].as_array().unwrap();
        let poly = classes
            .iter()
            .find(|c| c["name"] == "autoprov-polycom")
            .unwrap();
        let test = poly["test"].as_str().unwrap();
        assert!(
            test.contains("substring(option[60].hex,0,4) == 0x0000363D"),
            "{test}"
        );
        assert!(
            test.contains("substring(pkt4.mac,0,3) == 0x0004F2"),
            "{test}"
        );
        assert_eq!(v["Dhcp4"]["reservations"][0]["ip-address"], "10.99.0.50");
    }

    #[test]
    fn isc_classes() {
        let s = render(Format::Isc, &site(), &res());
        assert!(s.contains("class \"autoprov-cisco\""));
        assert!(s.contains("option autoprov-tftp-150 10.99.0.1;"));
        assert!(s.contains("substring(option vendor-class-identifier, 0, 4) = 00:00:36:3d"));
        assert!(s.contains("fixed-address 10.99.0.50;"));
    }
}
