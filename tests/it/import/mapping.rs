//! `autoprov import --map`: a German HR export (Windows-1252, `;`, the name
//! in one "Nachname, Vorname" cell) imports through a mapping file with no
//! edit to the file; the filter skips rows and says so; a broken mapping is
//! refused before the file is read; templates cannot reach files, the
//! environment, or run forever.

use crate::support::cli::{Env, tree_bytes};
use crate::support::fixtures::repo;
use crate::support::report::{codes, summary};

fn hr_csv() -> std::path::PathBuf {
    repo("tests/fixtures/mapping/hr-export.csv")
}

fn hr_map() -> String {
    repo("tests/fixtures/mapping/hr-export.map.toml")
        .display()
        .to_string()
}

const CP1252: [&str; 3] = ["--encoding", "windows-1252", "--map"];

/// sled rewrites part of its log the first time a database is reopened;
/// one read-only command gets that out of the way before byte comparisons.
fn settle(env: &Env) {
    assert_eq!(env.run(&["users"]).code, 0);
}

#[test]
fn hr_export_imports_through_a_mapping_unedited() {
    let bytes = std::fs::read(hr_csv()).unwrap();
    // The fixture really is Windows-1252: ü is the single byte 0xFC, not UTF-8.
    assert!(bytes.contains(&0xFC) && std::str::from_utf8(&bytes).is_err());
    let env = Env::new();
    let map = hr_map();
    let args = [CP1252[0], CP1252[1], CP1252[2], map.as_str()];

    // A dry run first: the same report, nothing written.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let r = env.import(&hr_csv(), &dry);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["applied"], false);
    assert!(env.users_json().is_empty());

    let r = env.import(&hr_csv(), &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["applied"], true);
    assert_eq!(v["file"]["encoding"], "windows-1252");
    assert_eq!(v["file"]["delimiter"], ";");
    assert_eq!(v["file"]["rows"], 5);
    assert_eq!(summary(&v, "created"), 4);
    assert_eq!(summary(&v, "skipped"), 1);
    assert_eq!(summary(&v, "errors"), 0);
    // The row without an extension is skipped, by line, with the reason.
    let skipped = v["skipped_rows"].as_array().expect("skipped_rows");
    assert_eq!(skipped.len(), 1, "{v}");
    assert_eq!(
        (skipped[0]["row"].as_u64(), skipped[0]["line"].as_u64()),
        (Some(3), Some(4))
    );
    let reason = skipped[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("filter") && reason.contains("Durchwahl"),
        "{reason}"
    );
    assert!(env.user("4713").is_none());

    let u = env.user("4711").expect("4711 imported");
    assert_eq!(u["last_name"], "Müller");
    assert_eq!(u["first_name"], "Jürgen");
    assert_eq!(u["lines"][0]["extension"], "201");
    assert_eq!(u["phones"][0]["mac"], "805ec0112201");
    let u = env.user("4714").expect("4714 imported");
    assert_eq!(
        (u["last_name"].as_str(), u["first_name"].as_str()),
        (Some("Strauß"), Some("Käthe"))
    );
    assert_eq!(u["phones"][0]["mac"], "805ec0112204");
    let u = env.user("4715").expect("4715 imported");
    assert_eq!(
        (u["last_name"].as_str(), u["first_name"].as_str()),
        (Some("Dupré"), Some("Françoise"))
    );
    assert!(u["phones"].as_array().unwrap().is_empty());

    // The text report says it too.
    let r = env.run(&[
        "import",
        hr_csv().to_str().unwrap(),
        "--no-progress",
        "--dry-run",
        args[0],
        args[1],
        args[2],
        args[3],
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("skipped line 4: filter"), "{}", r.stdout);
    assert!(r.stdout.contains("unchanged 4, skipped 1"), "{}", r.stdout);
}

/// A mapped column's bad value is an ordinary row error, reported by line
/// and canonical column, naming the source column it came from.
#[test]
fn errors_in_mapped_rows_name_the_source_column() {
    let env = Env::new();
    let csv = env.file(
        "hr.csv",
        "Personalnummer;Nachname, Vorname;Durchwahl;Telefon-MAC\n1;A, B;201;zz:11\n",
    );
    let r = env.import(&csv, &["--map", &hr_map()]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(codes(&v), ["E_MAC_FORMAT"]);
    let e = &v["errors"][0];
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_str()),
        (Some(2), Some("mac"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("from column \"Telefon-MAC\""),
        "{e}"
    );
}

/// Unknown targets, template syntax errors and columns the file lacks are
/// refused (exit 2) before a row is read: the message names the mapping's
/// line, and the store is untouched.
#[test]
fn broken_mappings_are_refused_before_anything_is_read() {
    let env = Env::new();
    let r = env.import(&hr_csv(), &[CP1252[0], CP1252[1], CP1252[2], &hr_map()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    settle(&env);
    let before = tree_bytes(&env.data());
    let missing = env.dir.path().join("no-such-file.csv");
    for (text, needle) in [
        (
            "[map]\nusername = \"Personalnummer\"\nlastname = \"Nachname\"\n",
            "map.toml:3: lastname: unknown target field",
        ),
        (
            "[map]\nusername = \"Personalnummer\"\n\nlast_name = { template = '{{ row[\"Nachname, Vorname\"] | split(\", \" }}' }\n",
            "map.toml:4: last_name: template error: syntax error",
        ),
        (
            "filter = 'row[\"Durchwahl\"] !='\n[map]\nusername = \"Personalnummer\"\n",
            "map.toml:1: filter: template error",
        ),
        ("[map]\n", "the mapping is empty"),
        ("[map]\nsite = { default = \"berlin\" }\n", "username"),
    ] {
        let map = env.file("map.toml", text);
        // The input does not even exist: the mapping is refused first.
        let r = env.import(&missing, &["--map", map.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{text}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    // A column the file lacks: refused at the header, before any row.
    let map = env.file(
        "map.toml",
        "[map]\nusername = \"Benutzer\"\nextension = \"Durchwahl\"\n",
    );
    let r = env.import(
        &hr_csv(),
        &[CP1252[0], CP1252[1], CP1252[2], map.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v = r.json();
    assert_eq!(codes(&v), ["E_MAPPING"]);
    assert_eq!(v["errors"][0]["row"], serde_json::Value::Null);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no column \"Benutzer\""),
        "{v}"
    );
    assert_eq!(
        tree_bytes(&env.data()),
        before,
        "a refused mapping wrote nothing"
    );
}

/// The sandbox: no include/import of files, no environment, no unknown
/// names; a runaway loop is stopped by fuel as a row error naming the field.
#[test]
fn templates_cannot_read_files_or_the_environment_or_run_forever() {
    let env = Env::new();
    let csv = env.file("u.csv", "login;ext\nanna;201\n");
    for (template, needle) in [
        (r#"{% include "/etc/passwd" %}"#, "not allowed"),
        (r#"{% import "/etc/passwd" as p %}{{ p }}"#, "not allowed"),
        (r#"{% extends "/etc/hostname" %}"#, "not allowed"),
        (r#"{{ env.HOME }}"#, "unknown variable env"),
        (r#"{{ env("HOME") }}"#, "unknown variable env"),
        (r#"{{ getenv("HOME") }}"#, "unknown variable getenv"),
        (r#"{{ open("/etc/passwd") }}"#, "unknown variable open"),
    ] {
        let map = env.file(
            "m.toml",
            format!("[map]\nusername = \"login\"\ndisplay_name = {{ template = '{template}' }}\n"),
        );
        let r = env.import(&csv, &["--map", map.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{template}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("m.toml:3: display_name") && r.stderr.contains(needle),
            "{template}: {}",
            r.stderr
        );
    }
    // A runaway loop spends its fuel and stops.
    let map = env.file(
        "m.toml",
        "[map]\nusername = \"login\"\ndisplay_name = { template = '{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}' }\n",
    );
    let started = std::time::Instant::now();
    let r = env.import(&csv, &["--map", map.to_str().unwrap()]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(codes(&v), ["E_MAPPING"]);
    let e = &v["errors"][0];
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_str()),
        (Some(2), Some("display_name"))
    );
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("out of fuel"), "{msg}");
    assert!(env.users_json().is_empty());
}
