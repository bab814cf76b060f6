//! Vendor settings on every row of `VENDORS` that has a main file
//! (docs/settings.md), in-process: a phone-level setting imported through
//! the real import pipeline appears exactly once in the secure main file,
//! in the vendor's own syntax as a parser reads it (a `key = value` line,
//! an XML attribute, an element, a nested path), with an `&` escaped; it is
//! in no bootstrap; and a setting of a key the template itself writes
//! replaces the template's value instead of writing the key twice.

use std::sync::Arc;

use autoprov::config::Config;
use autoprov::domain::mac::Mac;
use autoprov::import::{self, ImportOptions};
use autoprov::provision::{Channel, Provisioner, Request, Settings, Templates};
use autoprov::store::{MemoryStore, Store};
use autoprov::vendors::settings::{Syntax, check_key};
use autoprov::vendors::{VENDORS, Vendor};

const HTTPS_URL: &str = "https://prov.example.test:8443/";
const VALUE: &str = "on & off";

/// A key of the vendor's syntax that no template writes.
fn sample_key(syntax: Syntax) -> Option<&'static str> {
    match syntax {
        Syntax::Lines | Syntax::Attribute => Some("autoprov.sample_key"),
        Syntax::Element => Some("autoprov_sample_key"),
        Syntax::PCode => Some("P99999"),
        Syntax::Path => Some("autoprov/sample/Key"),
        Syntax::None => None,
    }
}

/// Every value the file gives `key`: `key = v` lines, or in XML the text
/// of elements named `key` (or of the nested path) and attributes `key`.
fn values(body: &str, syntax: Syntax, key: &str) -> Vec<String> {
    if syntax == Syntax::Lines {
        return body
            .lines()
            .filter_map(|l| l.split_once(" = "))
            .filter(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.to_string())
            .collect();
    }
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}:\n{body}"));
    let path: Vec<&str> = key.split('/').collect();
    let mut out = Vec::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        let names: Vec<&str> = n
            .ancestors()
            .filter(|a| a.is_element())
            .map(|a| a.tag_name().name())
            .collect();
        if names.len() >= path.len() && names[..path.len()].iter().rev().eq(path.iter()) {
            out.push(n.text().unwrap_or("").to_string());
        }
        if let Some(v) = n.attribute(key) {
            out.push(v.to_string());
        }
    }
    out
}

struct Phone {
    vendor: &'static Vendor,
    mac: Mac,
}

fn provisioner(settings: &str, vendor: &'static Vendor) -> (Provisioner, Phone) {
    let oui = vendor.ouis.first().copied().unwrap_or([0x02, 0, 0]);
    let mac =
        Mac::parse(&format!("{:02x}{:02x}{:02x}0a0b0c", oui[0], oui[1], oui[2])).expect("mac");
    let config = Config::default();
    let store = Arc::new(MemoryStore::new());
    store.put_sites(&config.sites).expect("sites");
    let csv = format!(
        "username,first_name,extension,mac,phone_model,settings\nu1,U,1001,{},{},\"{}\"\n",
        mac.plain(),
        vendor.id,
        settings.replace('"', "\"\"")
    );
    let opts = ImportOptions::upsert("settings.csv");
    let outcome =
        import::run(store.as_ref(), &config, csv.into_bytes(), &opts, None).expect("import");
    assert_eq!(
        outcome.exit_code,
        0,
        "{}: {}",
        vendor.id,
        outcome.report.to_text()
    );
    let settings = Settings {
        repeat_minutes: 60,
        bootstrap_repeat_minutes: 5,
        ..Default::default()
    };
    let p = Provisioner::new(store, Templates::new(None).expect("templates"), settings)
        .expect("provisioner");
    (p, Phone { vendor, mac })
}

fn main_file(p: &Provisioner, phone: &Phone, secure: bool) -> String {
    let name = phone
        .vendor
        .main_file()
        .and_then(|r| r.file_name_for(phone.mac, Some("model1")))
        .expect("main file name");
    let channel = if secure {
        Channel::Secure
    } else {
        Channel::Bootstrap {
            https_url: HTTPS_URL.to_string(),
        }
    };
    let served = p
        .respond(&Request {
            path: &format!("/{name}"),
            user_agent: None,
            channel,
            https_url: Some(HTTPS_URL),
            http_url: None,
        })
        .unwrap_or_else(|e| panic!("{} {name}: {e}", phone.vendor.id));
    String::from_utf8(served.body).expect("utf-8")
}

#[test]
fn every_vendor_writes_a_setting_once_in_its_own_syntax() {
    let mut checked = 0;
    for vendor in VENDORS.iter().filter(|v| v.main_file().is_some()) {
        let syntax = vendor.provisioning.settings.syntax;
        let key = sample_key(syntax)
            .unwrap_or_else(|| panic!("{} has a main file but takes no settings", vendor.id));
        let (p, phone) = provisioner(&format!("{key}={VALUE}"), vendor);
        let body = main_file(&p, &phone, true);
        assert_eq!(
            values(&body, syntax, key),
            [VALUE],
            "{}: the setting once, as set:\n{body}",
            vendor.id
        );
        let bootstrap = main_file(&p, &phone, false);
        assert!(
            values(&bootstrap, syntax, key).is_empty(),
            "{}: a setting in the bootstrap",
            vendor.id
        );
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} vendors checked");
}

/// For each vendor, a key its template writes that a setting may set:
/// the setting's value replaces the template's, written once. Fanvil's
/// template keys are all fixed (nested sections), so it has none.
#[test]
fn a_setting_replaces_the_templates_own_key() {
    let mut replaced = Vec::new();
    for vendor in VENDORS.iter().filter(|v| v.main_file().is_some()) {
        let syntax = vendor.provisioning.settings.syntax;
        let (p, phone) = provisioner("", vendor);
        let plain = main_file(&p, &phone, true);
        let Some(key) = plain
            .lines()
            .filter_map(|l| syntax.line_key(l))
            .find(|k| check_key(vendor, k, &[]).is_ok())
        else {
            assert_eq!(
                syntax,
                Syntax::Path,
                "{}: no template key to replace",
                vendor.id
            );
            continue;
        };
        let (p, phone) = provisioner(&format!("{key}=replaced"), vendor);
        let body = main_file(&p, &phone, true);
        assert_eq!(
            values(&body, syntax, key),
            ["replaced"],
            "{} {key}: once, with the setting's value:\n{body}",
            vendor.id
        );
        replaced.push(vendor.id);
    }
    assert!(replaced.len() >= 5, "{replaced:?}");
}
