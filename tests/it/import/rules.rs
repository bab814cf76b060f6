//! Import rules driven through the real binary: MACs, uniqueness, modes,
//! dry run, all-or-nothing, partial imports, update semantics and secrets.

use crate::support::cli::{Env, tree_bytes};
use crate::support::fixtures::users_csv;
use crate::support::report::{codes, errors, summary};

/// sled rewrites part of its log the first time a database is reopened after
/// a writer closed it (recovery housekeeping, not data); one read-only command
/// gets that out of the way so byte comparisons see only our writes.
fn settle(env: &Env) {
    assert_eq!(env.run(&["users"]).code, 0);
}

const HEADER: &str = "username,first_name,last_name,extension,mac,phone_model\n";

fn csv(rows: &[&str]) -> String {
    let mut s = HEADER.to_string();
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

#[test]
fn every_mac_notation_is_accepted_and_stored_canonically() {
    let env = Env::new();
    let r = env.import_csv(
        &csv(&[
            "a,A,A,1001,80:5e:c0:12:34:56,",
            "b,B,B,1002,80-5E-C0-12-34-57,",
            "c,C,C,1003,805e.c012.3458,",
            "d,D,D,1004,805EC0123459,",
            "e,E,E,1005, 805ec012345a ,",
        ]),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(summary(&v, "created"), 5);
    let macs: Vec<String> = env
        .users_json()
        .iter()
        .map(|u| u["phones"][0]["mac"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        macs,
        [
            "805ec0123456",
            "805ec0123457",
            "805ec0123458",
            "805ec0123459",
            "805ec012345a"
        ]
    );
    // Vendor came from the OUI since no model was given.
    assert_eq!(env.user("a").unwrap()["phones"][0]["vendor"], "yealink");
}

#[test]
fn bad_macs_are_refused_with_row_line_column_and_rule() {
    let env = Env::new();
    let r = env.import_csv(
        &csv(&[
            "a,A,A,1001,ff:ff:ff:ff:ff:ff,yealink",
            "b,B,B,1002,01:00:5e:00:00:01,yealink",
            "c,C,C,1003,00:00:00:00:00:00,yealink",
            "d,D,D,1004,+a+b+c+d+e+f,yealink",
            "e,E,E,1005,80:5e:c0:12:34,yealink",
            "f,F,F,1006,8.05E+11,yealink",
            "g,G,G,1007,12:34:56:78:9a:bc,",
        ]),
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["applied"], false);
    let e = errors(&v);
    let expect = [
        (1, 2, "mac", "E_MAC_BROADCAST"),
        (2, 3, "mac", "E_MAC_MULTICAST"),
        (3, 4, "mac", "E_MAC_ZERO"),
        (4, 5, "mac", "E_MAC_FORMAT"),
        (5, 6, "mac", "E_MAC_FORMAT"),
        (6, 7, "mac", "E_SCIENTIFIC_NOTATION"),
        (7, 8, "phone_model", "E_PHONE_MODEL_REQUIRED"),
    ];
    assert_eq!(e.len(), expect.len(), "{e:?}");
    for (got, (row, line, col, code)) in e.iter().zip(expect) {
        assert_eq!(
            got,
            &(
                Some(row),
                Some(line),
                Some(col.to_string()),
                code.to_string()
            )
        );
    }
    // Messages carry the value and the rule.
    let msg = v["errors"][3]["message"].as_str().unwrap();
    assert!(
        msg.contains("+a+b+c+d+e+f") && msg.contains("12 hex digits"),
        "{msg}"
    );
    let sci = v["errors"][5]["message"].as_str().unwrap();
    assert!(sci.contains("Text"), "{sci}");
    // Nothing applied.
    assert!(env.users_json().is_empty());
}

#[test]
fn duplicate_macs_in_file_flag_every_row_and_against_store() {
    let env = Env::new();
    let r = env.import_csv(
        &csv(&["a,A,A,1001,805ec0123456,", "b,B,B,1002,80:5E:C0:12:34:56,"]),
        &[],
    );
    assert_eq!(r.code, 1);
    let e = errors(&r.json());
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e.iter().all(|x| x.3 == "E_MAC_DUPLICATE"));
    assert_eq!((e[0].0, e[1].0), (Some(1), Some(2)));

    assert_eq!(
        env.import_csv(&csv(&["a,A,A,1001,805ec0123456,"]), &[])
            .code,
        0
    );
    let r = env.import_csv(&csv(&["b,B,B,1002,805ec0123456,"]), &[]);
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(codes(&v), ["E_MAC_TAKEN"]);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"a\"")
    );
    // --reassign-macs moves it, updating the user who loses it.
    let r = env.import_csv(&csv(&["b,B,B,1002,805ec0123456,"]), &["--reassign-macs"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!((summary(&v, "created"), summary(&v, "updated")), (1, 1));
    assert_eq!(v["warnings"][0]["code"], "W_MAC_REASSIGNED");
    assert_eq!(env.user("a").unwrap()["phones"], serde_json::json!([]));
    assert_eq!(env.user("b").unwrap()["phones"][0]["mac"], "805ec0123456");
    // And back again by moving the phone in the same file, which is legal.
    let r = env.import_csv(&csv(&["a,A,A,1001,805ec0123456,", "b,B,B,1002,,"]), &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(env.user("a").unwrap()["phones"][0]["mac"], "805ec0123456");
    // Moving the phone in the same file is legal.
    let r = env.import_csv(&csv(&["a,A,A,1001,,", "b,B,B,1002,805ec0123456,"]), &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(env.user("b").unwrap()["phones"][0]["mac"], "805ec0123456");
}

#[test]
fn extensions_are_unique_but_can_be_swapped_in_one_file() {
    let env = Env::new();
    assert_eq!(
        env.import_csv(&csv(&["a,A,A,1001,,", "b,B,B,1002,,"]), &[])
            .code,
        0
    );
    // Duplicate in the file: both rows named.
    let r = env.import_csv(&csv(&["c,C,C,1003,,", "d,D,D,1003,,"]), &[]);
    assert_eq!(r.code, 1);
    let e = errors(&r.json());
    assert_eq!(
        e.iter().map(|x| (x.0, x.3.as_str())).collect::<Vec<_>>(),
        [
            (Some(1), "E_EXTENSION_DUPLICATE"),
            (Some(2), "E_EXTENSION_DUPLICATE")
        ]
    );
    // Taken by a user the file doesn't touch.
    let r = env.import_csv(&csv(&["c,C,C,1001,,"]), &[]);
    assert_eq!(codes(&r.json()), ["E_EXTENSION_TAKEN"]);
    // Swap: legal because validation judges the final state.
    let r = env.import_csv(&csv(&["a,A,A,1002,,", "b,B,B,1001,,"]), &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(summary(&r.json(), "updated"), 2);
    assert_eq!(env.user("a").unwrap()["lines"][0]["extension"], "1002");
    assert_eq!(env.user("b").unwrap()["lines"][0]["extension"], "1001");
    // Leading zeros are kept.
    assert_eq!(env.import_csv(&csv(&["z,Z,Z,0042,,"]), &[]).code, 0);
    assert_eq!(env.user("z").unwrap()["lines"][0]["extension"], "0042");
}

#[test]
fn all_or_nothing_reports_every_error_sorted_and_writes_nothing() {
    let env = Env::new();
    assert_eq!(env.import_csv(&csv(&["keep,K,K,1000,,"]), &[]).code, 0);
    settle(&env);
    let before = tree_bytes(&env.data());
    let r = env.import_csv(
        "username,first_name,email,language,timezone,transport,enabled\n\
         ok1,Ok,ok@example.com,de,Europe/Berlin,tls,yes\n\
         Bad User,X,x@example.com,en,UTC,udp,1\n\
         ok2,Ok,not-an-email,Klingon,Mars/Base,sctp,maybe\n",
        &[],
    );
    assert_eq!(r.code, 1);
    let v = r.json();
    assert_eq!(v["applied"], false);
    let e = errors(&v);
    let got: Vec<(i64, &str, &str)> = e
        .iter()
        .map(|x| (x.0.unwrap(), x.2.as_deref().unwrap(), x.3.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "username", "E_USERNAME_FORMAT"),
            (3, "email", "E_EMAIL_FORMAT"),
            (3, "language", "E_LANGUAGE"),
            (3, "timezone", "E_TIMEZONE"),
            (3, "transport", "E_TRANSPORT"),
            (3, "enabled", "E_BOOL"),
        ]
    );
    assert!(
        v["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("de-DE"),
        "language error lists accepted ones"
    );
    assert!(
        v["errors"][5]["message"]
            .as_str()
            .unwrap()
            .contains("yes/no")
    );
    assert!(
        r.stderr.contains("line 3"),
        "stderr names the line: {}",
        r.stderr
    );
    assert_eq!(
        tree_bytes(&env.data()),
        before,
        "a refused import must not touch the store"
    );
    assert!(env.user("ok1").is_none());
}

#[test]
fn dry_run_reports_the_same_and_writes_nothing() {
    let env = Env::new();
    assert_eq!(env.import_csv(&csv(&["keep,K,K,1000,,"]), &[]).code, 0);
    let input = csv(&[
        "a,A,A,1001,805ec0123456,yealink-t54w",
        "keep,K,Changed,1000,,",
    ]);
    settle(&env);
    let before = tree_bytes(&env.data());
    let dry = env.import_csv(&input, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stdout);
    assert_eq!(
        tree_bytes(&env.data()),
        before,
        "dry run changed the store bytes"
    );
    let real = env.import_csv(&input, &[]);
    let (mut d, mut r) = (dry.json(), real.json());
    assert_eq!(d["dry_run"], true);
    assert_eq!(d["applied"], false);
    assert_eq!(r["applied"], true);
    for v in [&mut d, &mut r] {
        v.as_object_mut().unwrap().remove("dry_run");
        v.as_object_mut().unwrap().remove("applied");
    }
    assert_eq!(d, r, "dry run and real run must give the same report");
    assert_eq!(summary(&r, "created"), 1);
    assert_eq!(summary(&r, "updated"), 1);
}

#[test]
fn reimport_is_unchanged_and_keeps_config_version() {
    let env = Env::new();
    let path = users_csv();
    let first = env.import(&path, &[]);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let n = summary(&first.json(), "created");
    assert!(n >= 12);
    let versions: Vec<_> = env
        .users_json()
        .iter()
        .map(|u| u["config_version"].clone())
        .collect();
    let again = env.import(&path, &[]);
    let v = again.json();
    assert_eq!(summary(&v, "unchanged"), n);
    assert_eq!(
        summary(&v, "created") + summary(&v, "updated") + summary(&v, "deleted"),
        0
    );
    let after: Vec<_> = env
        .users_json()
        .iter()
        .map(|u| u["config_version"].clone())
        .collect();
    assert_eq!(versions, after);
}

#[test]
fn update_semantics_absent_keeps_empty_clears() {
    let env = Env::new();
    let r = env.import_csv(
        "username,first_name,last_name,email,mobile,language\nu,Una,Ulm,u@example.com,+49 (171) 555-01.02,de\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let u = env.user("u").unwrap();
    assert_eq!(u["mobile"], "+491715550102");
    assert_eq!(u["language"], "de-DE");
    // email absent: kept; mobile empty: cleared; last_name changed.
    let r = env.import_csv("username,last_name,mobile\nu,Ulmer,\n", &[]);
    let v = r.json();
    assert_eq!(summary(&v, "updated"), 1);
    let fields = &v["changes"][0]["fields"];
    assert_eq!(fields["last_name"], serde_json::json!(["Ulm", "Ulmer"]));
    assert_eq!(fields["mobile"], serde_json::json!(["+491715550102", null]));
    let u = env.user("u").unwrap();
    assert_eq!(u["email"], "u@example.com");
    assert_eq!(u["mobile"], serde_json::Value::Null);
    assert_eq!(u["first_name"], "Una");
}

#[test]
fn modes_create_upsert_sync_replace() {
    let env = Env::new();
    let base = "username,first_name,extension\n";
    assert_eq!(env.import_csv(&format!("{base}hand,H,1000\n"), &[]).code, 0);
    assert_eq!(
        env.import_csv(
            &format!("{base}a,A,1001\nb,B,1002\n"),
            &["--mode", "sync", "--source", "hr"]
        )
        .code,
        0
    );
    assert_eq!(
        env.import_csv(
            &format!("{base}x,X,1010\n"),
            &["--mode", "sync", "--source", "crm"]
        )
        .code,
        0
    );

    // create refuses existing usernames.
    let r = env.import_csv(
        &format!("{base}a,A,1001\nc,C,1003\n"),
        &["--mode", "create"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(codes(&r.json()), ["E_USER_EXISTS"]);

    // sync deletes only this source's missing users.
    let r = env.import_csv(
        &format!("{base}a,A,1001\n"),
        &["--mode", "sync", "--source", "hr"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!((summary(&v, "deleted"), summary(&v, "unchanged")), (1, 1));
    let names: Vec<String> = env
        .users_json()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a", "hand", "x"]);

    // sync refuses an empty file and needs --source.
    let r = env.import_csv(base, &["--mode", "sync", "--source", "hr"]);
    assert_eq!(r.code, 2);
    assert_eq!(codes(&r.json()), ["E_EMPTY_SYNC"]);
    assert_eq!(
        env.import_csv(&format!("{base}a,A,1001\n"), &["--mode", "sync"])
            .code,
        2
    );

    // sync never deletes a user whose row merely had an error.
    let r = env.import_csv(
        &format!("{base}a,A,10x1\n"),
        &["--mode", "sync", "--source", "hr", "--partial"],
    );
    assert_eq!(r.code, 1);
    assert!(env.user("a").is_some());

    // replace needs --yes, previews with --dry-run, then deletes everyone not listed.
    let file = format!("{base}a,A,1001\nnew,N,1020\n");
    let r = env.import_csv(&file, &["--mode", "replace"]);
    assert_eq!(r.code, 2);
    let r = env.import_csv(&file, &["--mode", "replace", "--dry-run"]);
    assert_eq!(summary(&r.json(), "deleted"), 2);
    assert_eq!(env.users_json().len(), 3);
    let r = env.import_csv(&file, &["--mode", "replace", "--yes"]);
    assert_eq!(r.code, 0);
    let names: Vec<String> = env
        .users_json()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a", "new"]);
}

#[test]
fn partial_applies_valid_rows_and_lists_rejected() {
    let env = Env::new();
    let r = env.import_csv(
        &csv(&[
            "a,A,A,1001,,",
            "b,B,B,1002,zz,",
            "c,C,C,1002,,",
            "d,D,D,1004,,",
        ]),
        &["--partial"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["applied"], true);
    // b has a bad MAC; with b gone, c's 1002 is free again. b is still
    // told that its 1002 is c's too (every error of a row at once).
    assert_eq!(summary(&v, "created"), 3);
    assert_eq!(summary(&v, "skipped"), 1);
    assert_eq!(codes(&v), ["E_EXTENSION_DUPLICATE", "E_MAC_FORMAT"]);
    assert!(errors(&v).iter().all(|e| e.0 == Some(2)), "{v}");
    assert!(env.user("c").is_some() && env.user("b").is_none());
    // Nothing valid at all → exit 1.
    let r = env.import_csv(&csv(&["q,Q,Q,1x,,"]), &["--partial"]);
    assert_eq!(r.code, 1);
}

#[test]
fn secrets_never_reach_reports_or_default_exports() {
    let env = Env::new();
    let input = "username,first_name,extension,sip_password,web_password,voicemail_pin\n\
                 s,Sam,1001,TopSecretSip99,WebPass1234,4321\n\
                 g,Gen,1002,,,\n";
    let r = env.import_csv(input, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    for secret in ["TopSecretSip99", "WebPass1234", "4321"] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "report leaked {secret}"
        );
    }
    let v = r.json();
    assert_eq!(
        v["generated"],
        serde_json::json!([{"username": "g", "field": "sip_password"}])
    );
    let users = env.run(&["users", "--format", "json"]);
    assert!(!users.stdout.contains("TopSecretSip99") && !users.stdout.contains("WebPass1234"));
    assert!(
        !users.stdout.contains("$argon2"),
        "hash must not be printed"
    );
    let export = env.export(&[]);
    assert!(!export.contains("TopSecretSip99") && !export.contains("4321"));
    // Explicitly asked: shown.
    let shown = env.run(&["users", "show", "s", "--secrets", "--format", "json"]);
    assert_eq!(shown.json()["lines"][0]["sip_password"], "TopSecretSip99");
    let generated = env
        .run(&["users", "show", "g", "--secrets", "--format", "json"])
        .json();
    let pw = generated["lines"][0]["sip_password"].as_str().unwrap();
    assert!(
        pw.len() >= 16 && pw.chars().all(|c| c.is_ascii_alphanumeric()),
        "{pw}"
    );
    assert!(
        env.export(&["--include-secrets"])
            .contains("TopSecretSip99")
    );
    // A policy failure names the rule, not the value.
    let r = env.import_csv("username,first_name,web_password\nw,W,short\n", &[]);
    assert_eq!(codes(&r.json()), ["E_WEB_PASSWORD_POLICY"]);
    assert!(!r.stdout.contains("\"short\"") && !r.stdout.contains(": short"));
    // Same web password again: unchanged (verified against the hash); a new one: updated, masked.
    let r = env.import_csv("username,web_password\ns,WebPass1234\n", &[]);
    assert_eq!(summary(&r.json(), "unchanged"), 1);
    let r = env.import_csv("username,web_password\ns,WebPass5678\n", &[]);
    let v = r.json();
    assert_eq!(summary(&v, "updated"), 1);
    assert!(!r.stdout.contains("WebPass5678"));
    // REGEN rotates the SIP password and reports it as generated.
    let r = env.import_csv("username,sip_password\ns,REGEN\n", &["--show-secrets"]);
    let v = r.json();
    let new_pw = v["generated"][0]["value"].as_str().unwrap().to_string();
    assert_ne!(new_pw, "TopSecretSip99");
    assert_eq!(
        env.run(&["users", "show", "s", "--secrets", "--format", "json"])
            .json()["lines"][0]["sip_password"],
        new_pw.as_str()
    );
}

#[test]
fn phones_json_and_blf_columns_portsip_style() {
    let env = Env::new();
    let input = "name,display_name,extension_number,extension_password,phones,blfs\n\
                 p1,Pat One,2001,pw-2001-abcdef,\"[{\"\"mac\"\":\"\"80:5e:c0:00:00:01\"\",\"\"vendor\"\":\"\"yealink\"\",\"\"model\"\":\"\"t46u\"\"}]\",\"[{\"\"value\"\":\"\"2002\"\",\"\"name\"\":\"\"Pat Two\"\"}]\"\n\
                 p2,Pat Two,2002,pw-2002-abcdef,\"{\"\"mac\"\":\"\"0004f2000002\"\"}\",\n";
    let r = env.import_csv(input, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let p1 = env.user("p1").unwrap();
    assert_eq!(p1["phones"][0]["model"], "t46u");
    assert_eq!(p1["blf"][0]["extension"], "2002");
    assert_eq!(p1["blf"][0]["label"], "Pat Two");
    assert_eq!(env.user("p2").unwrap()["phones"][0]["vendor"], "polycom");
    // Both mac and phones columns: one file-level error.
    let r = env.import_csv("username,mac,phones\nq,805ec0000003,[]\n", &[]);
    assert_eq!(r.code, 2);
    assert_eq!(
        errors(&r.json()),
        [(
            None,
            Some(1),
            Some("phones".into()),
            "E_PHONES_AND_MAC".into()
        )]
    );
}

#[test]
fn site_and_extension_range_from_config() {
    let env = Env::new();
    let cfg = env.file(
        "autoprov.toml",
        "[sites.berlin]\nextension_range = \"2000-2999\"\ntimezone = \"Europe/Berlin\"\n",
    );
    let cfgs = cfg.to_string_lossy().into_owned();
    let p = env.file(
        "s.csv",
        "username,first_name,extension,site\na,A,2001,Berlin\nb,B,3001,berlin\nc,C,3002,paris\n",
    );
    let ps = p.to_string_lossy().into_owned();
    let r = env.run(&[
        "--config",
        &cfgs,
        "import",
        &ps,
        "--format",
        "json",
        "--no-progress",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let e = errors(&r.json());
    assert_eq!(
        e.iter()
            .map(|x| (x.0.unwrap(), x.3.as_str()))
            .collect::<Vec<_>>(),
        [(2, "E_EXTENSION_RANGE"), (3, "E_SITE_UNKNOWN")]
    );
}

#[test]
fn second_process_gets_a_clear_lock_error() {
    let env = Env::new();
    assert_eq!(env.import_csv(&csv(&["a,A,A,1001,,"]), &[]).code, 0);
    // Hold the store open from this test process.
    let store = autoprov::store::SledStore::open(&env.data()).expect("open");
    let r = env.run(&["users"]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("in use by another autoprov process"),
        "{}",
        r.stderr
    );
    drop(store);
    assert_eq!(env.run(&["users"]).code, 0);
}

#[test]
fn stdin_import_and_usage_errors() {
    let env = Env::new();
    let r = env.run_stdin(
        &["import", "-", "--format", "json", "--no-progress"],
        csv(&["a,A,A,1001,,"]).as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(summary(&r.json(), "created"), 1);
    let r = env.run(&["import", "/nonexistent/file.csv"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/file.csv"));
    let r = env.run(&["import", "x.csv", "--mode", "bogus"]);
    assert_eq!(r.code, 2);
}

#[test]
fn several_lines_per_user_pair_secrets_by_position() {
    let env = Env::new();
    let r = env.import_csv(
        "username,first_name,extension,sip_password,sip_username\nm,Mo,2001;2002,pwA-1234;pwB-5678,;mo2auth\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let m = env
        .run(&["users", "show", "m", "--secrets", "--format", "json"])
        .json();
    let lines = m["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (
            lines[0]["extension"].as_str(),
            lines[0]["sip_password"].as_str(),
            lines[0]["sip_username"].as_str()
        ),
        (Some("2001"), Some("pwA-1234"), Some("2001"))
    );
    assert_eq!(
        (
            lines[1]["extension"].as_str(),
            lines[1]["sip_password"].as_str(),
            lines[1]["sip_username"].as_str()
        ),
        (Some("2002"), Some("pwB-5678"), Some("mo2auth"))
    );

    // Counts must match; the message never shows the values.
    let r = env.import_csv(
        "username,extension,sip_password\nm,2001;2002,only-one;x;y\n",
        &[],
    );
    assert_eq!(r.code, 1);
    assert_eq!(codes(&r.json()), ["E_LINE_COUNT"]);
    assert!(!r.stdout.contains("only-one"));
    let r = env.import_csv("username,extension\nm,2001;2001\n", &[]);
    assert_eq!(codes(&r.json()), ["E_EXTENSION_DUPLICATE"]);

    // Replacing one extension: the kept line keeps its password, the new one
    // gets a generated password reported with its extension.
    let r = env.import_csv("username,extension\nm,2002;2003\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(
        v["generated"],
        serde_json::json!([{"username": "m", "field": "sip_password", "extension": "2003"}])
    );
    assert_eq!(
        v["changes"][0]["fields"]["extension"],
        serde_json::json!(["2001;2002", "2002;2003"])
    );
    let m = env
        .run(&["users", "show", "m", "--secrets", "--format", "json"])
        .json();
    assert_eq!(m["lines"][0]["sip_password"], "pwB-5678");
    // Another user can now take 2001, not 2003.
    let r = env.import_csv("username,first_name,extension\nn,No,2003\n", &[]);
    assert_eq!(codes(&r.json()), ["E_EXTENSION_TAKEN"]);
    assert_eq!(
        env.import_csv("username,first_name,extension\nn,No,2001\n", &[])
            .code,
        0
    );
    // Export writes the lines back the same way, and re-imports unchanged.
    let export = env.export(&["--include-secrets"]);
    assert!(export.contains("2002;2003"), "{export}");
    let p = env.file("e.csv", &export);
    assert_eq!(summary(&env.import(&p, &[]).json(), "unchanged"), 2);
}
