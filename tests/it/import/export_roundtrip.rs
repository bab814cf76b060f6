//! Export round trips and formula-injection safety.

use crate::support::cli::Env;
use crate::support::fixtures::users_csv;
use crate::support::report::summary;

#[test]
fn export_reimport_changes_nothing_and_rebuilds_the_same_file() {
    let env = Env::new();
    let sample = users_csv();
    assert_eq!(env.import(&sample, &[]).code, 0);
    // Awkward values: formula starters, quotes, commas, a second phone with an IP.
    let tricky = "username,first_name,last_name,display_name,mobile,extension,mac,phone_model,phoneip,blf\n\
                  eve,=HYPERLINK(\"http://x\"),@SUM(A1),\"-Eve, \"\"the\"\" +1\",+49 30 1234,0099,805ec0000099;0004f2000099,yealink-t46u;polycom,10.1.2.3;,1001:=cmd\n";
    let r = env.import_csv(tricky, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);

    let first = env.export(&[]);
    // Formula starters are neutralised in the file...
    for cell in ["'=HYPERLINK", "'@SUM(A1)", "'-Eve"] {
        assert!(first.contains(cell), "export lacks {cell}:\n{first}");
    }
    assert!(
        first.contains(",+49301234,"),
        "mobile keeps its + unguarded"
    );
    // ...and the import takes them back exactly.
    let eve = env.user("eve").unwrap();
    assert_eq!(eve["first_name"], "=HYPERLINK(\"http://x\")");

    // export → import (upsert) into the same store: nothing changes.
    let path = env.file("export.csv", &first);
    let r = env.import(&path, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    let total = summary(&v, "unchanged");
    assert_eq!(total, v["file"]["rows"].as_i64().unwrap());
    assert_eq!(
        summary(&v, "updated") + summary(&v, "created"),
        0,
        "{}",
        r.stdout
    );
    let eve_after = env.user("eve").unwrap();
    assert_eq!(eve_after["first_name"], "=HYPERLINK(\"http://x\")");
    assert_eq!(eve_after["phones"], eve["phones"]);

    // export → import into an empty store → export: the same file.
    let fresh = Env::new();
    let r = fresh.import(&path, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(fresh.export(&[]), first);

    // With secrets: the SIP passwords survive the trip too.
    let with = env.export(&["--include-secrets"]);
    let p2 = env.file("with-secrets.csv", &with);
    let other = Env::new();
    assert_eq!(other.import(&p2, &[]).code, 0);
    assert_eq!(other.export(&["--include-secrets"]), with);
    assert!(with.contains("Alice-Sip-2024-xyz"));
}

#[test]
fn export_to_file_matches_stdout() {
    let env = Env::new();
    assert_eq!(env.import_csv("username,first_name\na,Ann\n", &[]).code, 0);
    let out = env.dir.path().join("out.csv");
    let r = env.run(&["export", "--output", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), env.export(&[]));
}
