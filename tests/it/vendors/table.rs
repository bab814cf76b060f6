//! The docs' copies of vendor facts are what `autoprov::vendors::VENDORS`
//! says: the vendor table in docs/phones.md (between `<!-- vendors:begin -->`
//! and `<!-- vendors:end -->`), and in docs/dhcp.md the option-60 classes
//! (`dhcp-classes`) and what each option carries for whom (`dhcp-options`).
//! Each test rebuilds its block from the rows and fails, printing the text
//! to paste, when the two differ. So a new vendor, or a changed file
//! pattern, DHCP class or option or credential fact, cannot leave the docs
//! behind.

use std::path::Path;

use autoprov::vendors::{ClassMatch, DhcpOption, FileRule, VENDORS, Vendor};

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
    let mut options = match v.dhcp.options {
        [] => "none".to_string(),
        opts => list(opts.iter().map(|o| o.code().to_string())),
    };
    if !v.dhcp.tftp_options.is_empty() {
        let tftp = list(v.dhcp.tftp_options.iter().map(|o| o.code().to_string()));
        options = format!("{options} (TFTP on: {tftp})");
    }
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

/// The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`, without
/// the line breaks around it.
fn block<'a>(doc: &'a str, name: &str) -> &'a str {
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let start = doc
        .find(&begin)
        .unwrap_or_else(|| panic!("no {begin} marker"))
        + begin.len();
    let len = doc[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("no {end} marker after {begin}"));
    doc[start..start + len].trim_matches('\n')
}

fn read_doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read docs/{name}: {e}"))
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// One vendor's option-60 classes, as docs/dhcp.md lists them.
fn class_line(v: &Vendor) -> String {
    let mut forms = Vec::new();
    let prefixes: Vec<String> = v
        .dhcp
        .classes
        .iter()
        .filter_map(|c| match c {
            ClassMatch::Prefix(p) => Some(format!("`{p}`")),
            ClassMatch::Enterprise(_) => None,
        })
        .collect();
    for c in v.dhcp.classes {
        if let ClassMatch::Enterprise(n) = c {
            let hex: Vec<String> = n.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect();
            forms.push(format!(
                "the binary RFC 3925 form whose first 4 bytes are enterprise number {n} (`{}`)",
                hex.join(" ")
            ));
        }
    }
    if !prefixes.is_empty() {
        forms.push(format!("text starting with {}", or_list(&prefixes)));
    }
    let forms = if forms.is_empty() {
        vec!["none (OUI only)".to_string()]
    } else {
        forms
    };
    format!("- {}: {}.", v.name, or_list(&forms))
}

/// What each option carries, and for which vendors.
fn options_table() -> String {
    let rows: [(DhcpOption, String); 6] = [
        (
            DhcpOption::ServerName,
            "the provisioning URL, as text".into(),
        ),
        (
            DhcpOption::ProvisioningUrl160,
            "the provisioning URL, as text".into(),
        ),
        (
            DhcpOption::TftpServerName,
            "with TFTP on: the TFTP server's IPv4 address, as text (no scheme)".into(),
        ),
        (
            DhcpOption::TftpAddresses,
            "with TFTP on: the TFTP server's IPv4 address (Cisco's TFTP server list)".into(),
        ),
        (
            DhcpOption::VendorSpecific,
            "the provisioning URL, as text (the whole option)".into(),
        ),
        (
            DhcpOption::BootFile,
            "the vendor's boot file name, which the phone expands".into(),
        ),
    ];
    let mut lines = vec![
        "| option | carries | for |".to_string(),
        "|---|---|---|".to_string(),
    ];
    for (option, carries) in rows {
        let users: Vec<&Vendor> = VENDORS
            .iter()
            .filter(|v| v.dhcp.options.contains(&option) || v.dhcp.tftp_options.contains(&option))
            .collect();
        let who = if users.len() == VENDORS.len() {
            "every vendor".to_string()
        } else {
            list(users.iter().map(|v| match v.dhcp.boot_file {
                Some(f) if option == DhcpOption::BootFile => format!("{} (`{f}`)", v.name),
                _ => v.name.to_string(),
            }))
        };
        lines.push(format!("| {} | {carries} | {who} |", option.code()));
    }
    lines.join("\n")
}

#[test]
fn docs_vendor_table_matches_the_vendor_rows() {
    let doc = read_doc("phones.md");
    let expected = expected_table();
    let documented = block(&doc, "vendors");
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

#[test]
fn docs_dhcp_classes_and_options_match_the_vendor_rows() {
    let doc = read_doc("dhcp.md");
    let classes = VENDORS
        .iter()
        .map(class_line)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        block(&doc, "dhcp-classes") == classes,
        "the option-60 classes in docs/dhcp.md differ from VENDORS; between the \
         dhcp-classes markers they should read:\n\n{classes}\n"
    );
    let options = options_table();
    assert!(
        block(&doc, "dhcp-options") == options,
        "the option table in docs/dhcp.md differs from VENDORS; between the \
         dhcp-options markers it should read:\n\n{options}\n"
    );
}
