//! The dialect matrix, on real spreadsheet exports (tests/fixtures/spreadsheets,
//! made by LibreOffice and openpyxl; see the README there) and on hand-made
//! variants for what those tools can't produce.

use serde_json::Value;

use crate::support::cli::Env;
use crate::support::fixtures::spreadsheet as fixture;
use crate::support::report::{codes, errors, summary};

/// Imports a fixture into a fresh store and returns (report, export).
fn import_fixture(name: &str, extra: &[&str]) -> (Value, String) {
    let env = Env::new();
    let r = env.import(&fixture(name), extra);
    assert_eq!(r.code, 0, "{name}: {}\n{}", r.stdout, r.stderr);
    (r.json(), env.export(&[]))
}

#[test]
fn every_utf_export_gives_the_same_users() {
    let cases = [
        ("lo-utf8-comma.csv", "utf-8", ","),
        ("lo-utf8-semicolon.csv", "utf-8", ";"),
        ("excel-utf8-bom-semicolon-crlf.csv", "utf-8", ";"),
        ("lo-utf16-tab.csv", "utf-16le", "tab"),
    ];
    let mut exports = Vec::new();
    for (name, enc, delim) in cases {
        let (report, export) = import_fixture(name, &[]);
        assert_eq!(report["file"]["encoding"], enc, "{name}");
        assert_eq!(report["file"]["delimiter"], delim, "{name}");
        assert_eq!(report["file"]["rows"], 6, "{name}");
        assert_eq!(summary(&report, "created"), 6, "{name}");
        // The `note` column is not ours: one warning, on the header line.
        assert_eq!(report["warnings"][0]["code"], "W_UNKNOWN_COLUMN");
        assert_eq!(report["warnings"][0]["line"], 1);
        exports.push(export);
    }
    for e in &exports[1..] {
        assert_eq!(e, &exports[0], "all dialects must store the same users");
    }
    let e = &exports[0];
    for needle in [
        "Jürgen,Müller",
        "Łukasz,Żółć",
        "\"O'Brien, \"\"Pat\"\"\"",
        "太郎,山田",
        "0042",
        "805ec0123456",
    ] {
        assert!(e.contains(needle), "export lacks {needle}:\n{e}");
    }
}

#[test]
fn windows_1252_is_refused_with_line_and_hint_then_accepted_when_named() {
    for name in ["lo-cp1252-comma.csv", "excel-cp1252-comma-crlf.csv"] {
        let env = Env::new();
        let r = env.import(&fixture(name), &[]);
        assert_eq!(r.code, 2, "{name}");
        let v = r.json();
        assert_eq!(
            errors(&v),
            [(None, Some(2), None, "E_ENCODING".to_string())],
            "{name}"
        );
        let msg = v["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains("--encoding windows-1252"), "{msg}");
        assert!(env.users_json().is_empty());

        let r = env.import(&fixture(name), &["--encoding", "windows-1252"]);
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert_eq!(r.json()["file"]["encoding"], "windows-1252");
        let u = env.user("jmuller").unwrap();
        assert_eq!(u["first_name"], "Jürgen");
        // LibreOffice itself replaced what cp1252 can't hold.
        assert_eq!(env.user("lzolc").unwrap()["first_name"], "?ukasz");
    }
}

#[test]
fn workbooks_and_html_are_refused_saying_what_they_are() {
    for (name, word) in [("users.xlsx", "xlsx"), ("users.ods", "ods")] {
        let env = Env::new();
        let r = env.import(&fixture(name), &[]);
        assert_eq!(r.code, 2);
        let v = r.json();
        assert_eq!(codes(&v), ["E_NOT_CSV"]);
        let msg = v["errors"][0]["message"].as_str().unwrap().to_lowercase();
        assert!(msg.contains(word) && msg.contains("csv"), "{msg}");
    }
    let env = Env::new();
    let r = env.import_csv(
        "<!DOCTYPE html>\n<html><body>Please log in</body></html>\n",
        &[],
    );
    assert_eq!(r.code, 2);
    let v = r.json();
    assert_eq!(codes(&v), ["E_NOT_CSV"]);
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("HTML"));
}

#[test]
fn numbers_that_lost_leading_zeros_or_went_scientific_are_refused() {
    let env = Env::new();
    let r = env.import(&fixture("lo-numbers-utf8.csv"), &[]);
    assert_eq!(r.code, 1);
    let e = errors(&r.json());
    // Every MAC lost its leading zeros: refused, never repaired.
    let mac_rows: Vec<i64> = e
        .iter()
        .filter(|x| x.3 == "E_MAC_FORMAT")
        .map(|x| x.0.unwrap())
        .collect();
    assert_eq!(mac_rows, [1, 2, 3, 4, 5, 6]);

    let r = env.import(&fixture("lo-scientific.csv"), &[]);
    assert_eq!(r.code, 1);
    let v = r.json();
    let sci: Vec<_> = errors(&v)
        .into_iter()
        .filter(|x| x.3 == "E_SCIENTIFIC_NOTATION")
        .collect();
    assert_eq!(sci.len(), 6);
    assert!(sci.iter().all(|x| x.2.as_deref() == Some("mobile")));
    assert!(r.stdout.contains("format the column as Text"));
    assert!(env.users_json().is_empty());
}

#[test]
fn line_endings_give_identical_reports_and_line_numbers() {
    let base = std::fs::read_to_string(fixture("lo-utf8-comma.csv")).unwrap();
    // A bad row after the quoted two-line note: its line number must count the
    // embedded newline (8 physical lines before it).
    let lf = format!("{base}\nbad,B,B,,,9999,zz:zz,yealink,en,UTC,x\n");
    let crlf = lf.replace('\n', "\r\n");
    let cr = lf.replace('\n', "\r");
    let mixed = lf.replacen('\n', "\r\n", 3);
    let no_final = lf.trim_end().to_string();
    let mut reports = Vec::new();
    for (label, text) in [
        ("lf", &lf),
        ("crlf", &crlf),
        ("cr", &cr),
        ("mixed", &mixed),
        ("no-final", &no_final),
    ] {
        let env = Env::new();
        let r = env.import_csv(text, &["--dry-run"]);
        assert_eq!(r.code, 1, "{label}: {}", r.stdout);
        reports.push((label, r.json()));
    }
    let first = &reports[0].1;
    assert_eq!(
        errors(first),
        [(
            Some(7),
            Some(10),
            Some("mac".to_string()),
            "E_MAC_FORMAT".to_string()
        )]
    );
    assert_eq!(first["file"]["rows"], 7, "the blank line is not a row");
    for (label, r) in &reports[1..] {
        assert_eq!(r, first, "{label} differs from lf");
    }
}

#[test]
fn quoting_blank_lines_and_delimiters() {
    let env = Env::new();
    // `|` delimiter, a quoted field with the delimiter and escaped quotes,
    // blank and delimiter-only lines that are not rows.
    let r = env.import_csv(
        "username|first_name|display_name\n\n||\na|Ann|\"Ann | \"\"A\"\"\"\n\n||\nb|Bo|\n",
        &["--dry-run"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["file"]["delimiter"], "|");
    assert_eq!(v["file"]["rows"], 2);

    let r = env.import_csv("username,first_name\na,Ann\nb,\"Bo\nc,Cy\n", &[]);
    assert_eq!(r.code, 2);
    assert_eq!(
        errors(&r.json()),
        [(None, Some(3), None, "E_UNTERMINATED_QUOTE".to_string())]
    );

    // A newline inside a name is data the CSV allows but phones can't show.
    let r = env.import_csv("username,first_name\na,\"An\nn\"\nb,Bo\n", &[]);
    assert_eq!(r.code, 1);
    assert_eq!(
        errors(&r.json()),
        [(
            Some(1),
            Some(2),
            Some("first_name".to_string()),
            "E_CONTROL_CHAR".to_string()
        )]
    );

    // Too many fields is an error; so is too few.
    let r = env.import_csv("username,first_name\na,Ann,extra\nb\n", &[]);
    let e = errors(&r.json());
    assert_eq!(
        e.iter()
            .map(|x| (x.1.unwrap(), x.3.as_str()))
            .collect::<Vec<_>>(),
        [(2, "E_FIELD_COUNT"), (3, "E_FIELD_COUNT")]
    );

    // Forcing the wrong delimiter: the single-column header gets a hint.
    let r = env.import_csv("username;first_name\na;Ann\n", &["--delimiter", ","]);
    assert_eq!(r.code, 2);
    let v = r.json();
    assert_eq!(codes(&v), ["E_MISSING_COLUMN"]);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("--delimiter")
    );
}

#[test]
fn headers_from_other_pbx_products_map_to_our_columns() {
    // (product, header, row, expected user fields)
    let cases: [(&str, &str, &str); 5] = [
        (
            "pascom",
            "username,givenname,surname,displayname,phone,phonemac,phoneip,mail",
            "pj,Pat,Jung,Pat J.,2001,80:5e:c0:00:00:11,10.0.0.11,pj@example.com",
        ),
        (
            "Wazo",
            "username,firstname,lastname,email,mobile_phone_number,language,exten,sip_username,sip_secret",
            "wz,Wim,Zee,wz@example.com,+31 6 1234 5678,en_US,2002,wzsip,SecretWazo1",
        ),
        (
            "PortSIP",
            "name,enabled,password,display_name,extension_number,extension_password,preferred_transport",
            "ps,TRUE,Portal1234,Pia Sorensen,2003,SecretPort1,TLS",
        ),
        (
            "Fonality",
            "Web Username,First Name,Last Name,Extension,Device MAC Address",
            "fo,Fay,Ott,2004,0004F2000014",
        ),
        (
            "Carusto",
            "login,name,password,sipPassword,extension,group,mobile,mail,language",
            "ca,Carla,Passw0rd99,SecretCar1,2005,Default,+380500000000,ca@example.com,RU",
        ),
    ];
    let env = Env::new();
    for (product, header, row) in cases {
        let r = env.import_csv(&format!("{header}\n{row}\n"), &[]);
        assert_eq!(r.code, 0, "{product}: {}", r.stdout);
        let v = r.json();
        assert_eq!(
            v["warnings"],
            Value::Array(vec![]),
            "{product}: every column is known"
        );
    }
    let pj = env.user("pj").unwrap();
    assert_eq!(
        (
            pj["first_name"].as_str(),
            pj["last_name"].as_str(),
            pj["display_name"].as_str()
        ),
        (Some("Pat"), Some("Jung"), Some("Pat J."))
    );
    assert_eq!(pj["lines"][0]["extension"], "2001");
    assert_eq!(pj["phones"][0]["ip"], "10.0.0.11");
    let wz = env.user("wz").unwrap();
    assert_eq!(
        (wz["mobile"].as_str(), wz["language"].as_str()),
        (Some("+31612345678"), Some("en-US"))
    );
    assert_eq!(wz["lines"][0]["sip_username"], "wzsip");
    let ps = env.user("ps").unwrap();
    assert_eq!(
        (ps["display_name"].as_str(), ps["enabled"].as_bool()),
        (Some("Pia Sorensen"), Some(true))
    );
    assert_eq!(ps["lines"][0]["transport"], "tls");
    assert_eq!(ps["web_password"], "set");
    let fo = env.user("fo").unwrap();
    assert_eq!(fo["phones"][0]["vendor"], "polycom");
    let ca = env.user("ca").unwrap();
    assert_eq!(
        (
            ca["display_name"].as_str(),
            ca["site"].as_str(),
            ca["language"].as_str()
        ),
        (Some("Carla"), Some("default"), Some("ru-RU"))
    );
    let secrets = env
        .run(&["users", "show", "ca", "--secrets", "--format", "json"])
        .json();
    assert_eq!(secrets["lines"][0]["sip_password"], "SecretCar1");
}
