//! The vendor table in docs/phones.md, between `<!-- vendors:begin -->` and
//! `<!-- vendors:end -->`, is what `autoprov::vendors::VENDORS` says: this
//! test rebuilds it from the rows and fails, printing the table to paste,
//! when the two differ. So a new vendor, or a changed file pattern, DHCP
//! option or credential fact, cannot leave the docs behind.

use std::path::Path;

use autoprov::vendors::{FileRule, VENDORS, Vendor};

const BEGIN: &str = "<!-- vendors:begin -->";
const END: &str = "<!-- vendors:end -->";

/// Cells joined as the docs write lists.
fn list(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// One vendor: name | id | files requested | DHCP options | device credentials.
fn row(v: &Vendor) -> String {
    let files = list(
        v.provisioning
            .files
            .iter()
            .map(|r: &FileRule| format!("`{}`", r.pattern_text())),
    );
    let options = match v.dhcp.options {
        [] => "none".to_string(),
        opts => list(opts.iter().map(|o| o.code().to_string())),
    };
    let credentials = if v.provisioning.device_credentials {
        "yes"
    } else {
        "no"
    };
    format!(
        "| {} | {} | {files} | {options} | {credentials} |",
        v.name, v.id
    )
}

/// The whole table, as it stands between the markers.
fn expected_table() -> String {
    let mut lines = vec![
        "| vendor | id | files requested | DHCP options | device credentials |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    lines.extend(VENDORS.iter().map(row));
    lines.join("\n")
}

/// The text between the markers, without the line breaks around it.
fn documented_table(doc: &str) -> &str {
    let start = doc
        .find(BEGIN)
        .expect("docs/phones.md has no vendors:begin marker")
        + BEGIN.len();
    let len = doc[start..]
        .find(END)
        .expect("docs/phones.md has no vendors:end marker after vendors:begin");
    doc[start..start + len].trim_matches('\n')
}

#[test]
fn docs_vendor_table_matches_the_vendor_rows() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/phones.md");
    let doc = std::fs::read_to_string(&path).expect("read docs/phones.md");
    let expected = expected_table();
    let documented = documented_table(&doc);
    assert!(
        documented == expected,
        "the vendor table in docs/phones.md differs from autoprov::vendors::VENDORS; \
         between {BEGIN} and {END} it should read:\n\n{expected}\n"
    );
}

#[test]
fn every_vendor_has_a_row() {
    let table = expected_table();
    assert_eq!(table.lines().count(), VENDORS.len() + 2);
    for v in VENDORS {
        assert!(table.contains(&format!("| {} | {} |", v.name, v.id)));
    }
}
