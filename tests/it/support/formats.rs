//! What a served config file must look like: the checks every vendor's
//! files share (docs/reference/vendors.md §9.1), the Yealink `key = value` parser (used
//! well beyond the Yealink test), comparison with golden files and with
//! what `autoprov render` prints. Each other vendor's parser lives in its
//! own test module (tests/it/serve/<vendor>.rs).

use std::collections::BTreeMap;
use std::path::Path;

use super::cli::autoprov;
use super::fixtures::golden_bytes;
use super::tls::openssl_fingerprint;

/// The body as text, after the checks of docs/reference/vendors.md §9.1 every vendor's
/// files share: no BOM, UTF-8, no template residue.
pub fn config_text(body: &[u8]) -> &str {
    assert!(!body.starts_with(&[0xef, 0xbb, 0xbf]), "BOM");
    let text = std::str::from_utf8(body).expect("UTF-8");
    for residue in ["{{", "{%", "{#", "None", "undefined"] {
        assert!(
            !text.contains(residue),
            "template residue {residue:?} in:\n{text}"
        );
    }
    text
}

/// Checks a Yealink file against docs/reference/vendors.md §9.1/§9.2 and returns its
/// settings. `boot` allows the extra boot-file line forms; include lines are
/// returned under `include:config` joined by `|`.
pub fn yealink_settings(body: &[u8], boot: bool) -> BTreeMap<String, String> {
    let text = config_text(body);
    assert!(!text.contains('\r'), "CR in output");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#!version:1.0.0.1"), "first line");
    let mut map = BTreeMap::new();
    let mut includes = Vec::new();
    for line in lines {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if boot {
            if let Some(rest) = line.strip_prefix("include:config ") {
                assert!(
                    rest.starts_with('"') && rest.ends_with('"') && rest.len() > 2,
                    "{line}"
                );
                includes.push(rest.trim_matches('"').to_string());
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                continue;
            }
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key = value: {line:?}"));
        let key = key.trim_end();
        assert!(
            !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
                && !key.starts_with('.')
                && !key.ends_with('.')
                && !key.contains(".."),
            "bad key {key:?}"
        );
        let value = value.trim_start().to_string();
        if boot && key == "overwrite_mode" {
            assert!(value == "0" || value == "1");
        }
        if key != "static.security.user_password" {
            assert!(
                map.insert(key.to_string(), value).is_none(),
                "duplicate key {key}"
            );
        }
    }
    if !includes.is_empty() {
        map.insert("include:config".into(), includes.join("|"));
    }
    check_yealink_values(&map);
    map
}

/// Per-key value rules of docs/reference/vendors.md §9.2.
fn check_yealink_values(map: &BTreeMap<String, String>) {
    for (k, v) in map {
        if k.ends_with(".transport_type") {
            assert!(["0", "1", "2", "3"].contains(&v.as_str()), "{k} = {v}");
        }
        if k.starts_with("linekey.") && k.ends_with(".type") {
            assert!(v.parse::<u32>().is_ok(), "{k} = {v}");
        }
    }
    if map.keys().any(|k| k.starts_with("account.1.")) {
        for required in [
            "account.1.enable",
            "account.1.user_name",
            "account.1.sip_server.1.address",
        ] {
            assert!(map.contains_key(required), "missing {required}");
        }
    }
}

/// A golden Yealink file (`tests/golden/<rel>`), parsed the same way.
pub fn golden_yealink(rel: &str) -> BTreeMap<String, String> {
    yealink_settings(&golden_bytes(rel), false)
}

/// Checks each expected `key = value` of a parsed config, naming the key
/// that differs.
pub fn assert_settings(settings: &BTreeMap<String, String>, expect: &[(&str, &str)]) {
    for (k, v) in expect {
        assert_eq!(settings.get(*k).map(String::as_str), Some(*v), "{k}");
    }
}

/// Runs each `autoprov render ...` and checks it prints exactly `body` (the
/// bytes the HTTPS listener sent), so the admin's preview is the truth.
pub fn assert_render_equals(data: &Path, cases: &[Vec<&str>], body: &[u8]) {
    for args in cases {
        let out = autoprov(data, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, body, "{args:?}");
    }
}

/// Placeholder for the server's own certificate in golden files: it is
/// generated per test run.
pub const CA_PLACEHOLDER: &str = "@CA@";

/// Checks that `map[key]` is the server's certificate (by fingerprint,
/// after `to_pem`), then replaces it by [`CA_PLACEHOLDER`] so the map can be
/// compared with a golden file.
pub fn mask_ca(
    map: &mut BTreeMap<String, String>,
    key: &str,
    server_fingerprint: &str,
    to_pem: fn(&str) -> String,
) {
    let keys: Vec<String> = map.keys().cloned().collect();
    let value = map
        .get_mut(key)
        .unwrap_or_else(|| panic!("no {key} among {keys:?}"));
    assert_eq!(
        openssl_fingerprint(to_pem(value).as_bytes()),
        server_fingerprint,
        "{key}"
    );
    *value = CA_PLACEHOLDER.to_string();
}

/// Placeholders for a phone's web passwords in golden files: they are
/// generated per phone (docs/lockdown.md).
pub const ADMIN_PASSWORD_PLACEHOLDER: &str = "@ADMIN_PASSWORD@";
pub const USER_PASSWORD_PLACEHOLDER: &str = "@USER_PASSWORD@";

/// The web passwords stored for a phone, as `autoprov phones show MAC
/// --secrets` prints them (through the running server when there is one).
pub fn stored_phone_passwords(data: &Path, mac: &str) -> (String, String) {
    let out = autoprov(
        data,
        &["phones", "show", mac, "--secrets", "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("phone JSON");
    let get = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("no {k} in {v}"))
            .to_string()
    };
    (get("admin_password"), get("user_password"))
}

/// Checks that the settings carry the phone's stored web passwords (each
/// in at least one value), then replaces them by the placeholders so the
/// map can be compared with a golden file.
pub fn mask_phone_passwords(map: &mut BTreeMap<String, String>, data: &Path, mac: &str) {
    let (admin, user) = stored_phone_passwords(data, mac);
    for (pw, placeholder) in [
        (&admin, ADMIN_PASSWORD_PLACEHOLDER),
        (&user, USER_PASSWORD_PLACEHOLDER),
    ] {
        let mut found = false;
        for v in map.values_mut() {
            if v.contains(pw.as_str()) {
                *v = v.replace(pw.as_str(), placeholder);
                found = true;
            }
        }
        assert!(
            found,
            "no setting carries the stored {placeholder}: {map:?}"
        );
    }
}

/// Whether `text` names `setting` as a whole name: `P2` in `<P2>`, not in
/// `<P212>`.
pub fn names_setting(text: &str, setting: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let starts_word = setting.starts_with(word);
    let ends_word = setting.ends_with(word);
    text.match_indices(setting).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + setting.len()..].chars().next();
        let glued_before = starts_word && before.is_some_and(word);
        let glued_after = ends_word && after.is_some_and(word);
        !(glued_before || glued_after)
    })
}
