//! The import rules the admin page relies on, through the real binary: a
//! misspelled key column refused unless ignored, every error of a row at
//! once (a rejected row's extension still collides), the lost-letter
//! warning of legacy encodings, and reports in one numbering without a
//! doubled prefix or an empty dialect.

use crate::support::cli::Env;
use crate::support::report::{errors, summary};

#[test]
fn a_misspelled_key_column_is_refused_unless_ignored() {
    let env = Env::new();
    let csv = "username,first_name,Extention\nanna,Anna,2250\n";
    let r = env.import_csv(csv, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["errors"][0]["code"], "E_UNKNOWN_COLUMN");
    assert_eq!(v["errors"][0]["column"], "Extention");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean extension")
    );
    assert_eq!(summary(&v, "created"), 0);
    assert!(!v["applied"].as_bool().unwrap());
    // Through the text report too, with the CLI's exit code.
    let p = env.file("misspelled.csv", csv);
    let text = env.run(&["import", p.to_str().unwrap(), "--no-progress"]);
    assert_eq!(text.code, 1, "{}", text.stderr);
    assert!(text.stdout.contains("E_UNKNOWN_COLUMN"), "{}", text.stdout);

    // The admin says to ignore it: imported without the column, with a note.
    let r = env.import_csv(csv, &["--ignore-column", "Extention"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(summary(&v, "created"), 1);
    assert_eq!(v["warnings"][0]["code"], "W_IGNORED_COLUMN");
    let anna = env.user("anna").expect("anna imported");
    assert_eq!(anna["lines"].as_array().unwrap().len(), 0, "{anna}");

    // An unknown column far from every known one stays a warning.
    let r = env.import_csv("username,first_name,note\nbob,Bob,hello\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["warnings"][0]["code"], "W_UNKNOWN_COLUMN");
}

#[test]
fn a_row_with_one_error_is_still_checked_against_the_others() {
    let env = Env::new();
    // Rows 1 and 3 share extension 2250, and row 3 also has a bad MAC.
    let csv = "username,first_name,extension,mac\n\
               anna,Anna,2250,805ec0000001\n\
               bob,Bob,2251,\n\
               cara,Cara,2250,zz\n";
    let r = env.import_csv(csv, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    let found = errors(&v);
    let at = |row: i64, col: &str, code: &str| {
        found
            .iter()
            .any(|e| e.0 == Some(row) && e.2.as_deref() == Some(col) && e.3 == code)
    };
    assert!(at(3, "mac", "E_MAC_FORMAT"), "{found:?}");
    assert!(at(3, "extension", "E_EXTENSION_DUPLICATE"), "{found:?}");
    assert!(at(1, "extension", "E_EXTENSION_DUPLICATE"), "{found:?}");
    assert_eq!(found.len(), 3, "{found:?}");
    // Reported where the other row stands, on line 2 and line 4.
    let text = v["errors"].to_string();
    assert!(text.contains("\\\"anna\\\" on line 2"), "{text}");
    assert!(text.contains("\\\"cara\\\" on line 4"), "{text}");

    // With --partial the valid row 1 goes in; row 3 is refused for both.
    let r = env.import_csv(csv, &["--partial"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(summary(&v, "created"), 2);
    let found = errors(&v);
    assert!(found.iter().all(|e| e.0 == Some(3)), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn question_marks_for_lost_letters_are_warned_about() {
    let env = Env::new();
    // What LibreOffice writes in Windows-1252 for Łucja Kowalska-Żak.
    let bytes = b"username;first_name;last_name;extension\r\nlucja;?ucja;Kowalska-?ak;2301\r\nrene;Ren\xe9;Who?;2302\r\n";
    let p = env.file("lo-1252.csv", bytes);
    let r = env.import(&p, &["--encoding", "windows-1252"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let warnings: Vec<(i64, String, String)> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["line"].as_i64().unwrap_or(0),
                w["column"].as_str().unwrap_or("").to_string(),
                w["code"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        warnings,
        [
            (2, "first_name".into(), "W_LOST_LETTER".into()),
            (2, "last_name".into(), "W_LOST_LETTER".into()),
        ],
        "{v}"
    );
    assert!(
        v["warnings"][1]["message"]
            .as_str()
            .unwrap()
            .contains("Kowalska-?ak")
    );
}

#[test]
fn reports_say_each_place_once_and_no_empty_dialect() {
    let env = Env::new();
    // Windows-1252 without --encoding: a file-level error on line 2.
    let p = env.file("legacy.csv", b"username,first_name\nrene,Ren\xe9\n");
    let r = env.run(&["import", p.to_str().unwrap(), "--no-progress"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stdout.contains("line 2: line 2"), "{}", r.stdout);
    assert!(!r.stderr.contains("line 2: line 2"), "{}", r.stderr);
    assert!(r.stdout.contains("line 2: byte 0xE9"), "{}", r.stdout);
    // Nothing was detected: no "0 rows (, delimiter )".
    assert!(!r.stdout.contains("(, delimiter"), "{}", r.stdout);
    assert!(!r.stdout.contains("0 rows"), "{}", r.stdout);

    // One row is "1 row"; a dry run promises a password, points nowhere.
    let p = env.file(
        "one.csv",
        "username,first_name,extension\nmmueller,Max,2401\n",
    );
    let r = env.run(&["import", p.to_str().unwrap(), "--dry-run", "--no-progress"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(": 1 row ("), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("a SIP password will be generated for mmueller"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("users show"), "{}", r.stdout);
    // Errors name the line only, not "line 3 (row 2)".
    let p = env.file(
        "bad.csv",
        "username,first_name,extension,mac\nok,Ok,2402,\nbad,Bad,2403,zz\n",
    );
    let r = env.run(&["import", p.to_str().unwrap(), "--no-progress"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("E_MAC_FORMAT: line 3, column mac"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("(row"), "{}", r.stdout);
}
