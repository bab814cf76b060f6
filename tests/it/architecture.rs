//! The layering of ARCHITECTURE.md, enforced: a module may name modules of
//! lower layers (and the few same-layer neighbours listed), never a higher
//! one. Reads the sources, so it needs no build of its own beyond this test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top; ARCHITECTURE.md draws the same list.
const LAYERS: &[&[&str]] = &[
    &["domain", "net"],
    &["config"],
    &["store"],
    &["vendors"],
    &["keys", "pki", "provision"],
    &["import", "export"],
    &["app"],
    &["http", "dhcp", "sources", "tftp"],
];

/// Same-layer uses that are part of the design: rendering hands phones the
/// device credentials and the CA to trust; TFTP is another transport for
/// the phone pipeline, so it answers through `http::Pipeline`.
const SIDEWAYS: &[(&str, &str)] = &[
    ("provision", "keys"),
    ("provision", "pki"),
    ("tftp", "http"),
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate's top-level modules a source text names: `crate::x` anywhere
/// (code, doc links, tests) and the heads inside `use crate::{x, y::z}`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find("};").unwrap_or(group.len());
            let mut depth = 0usize;
            let mut at_head = true;
            let mut word = String::new();
            for c in group[..end].chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if c.is_ascii_alphanumeric() || c == '_' {
                    word.push(c);
                    continue;
                }
                if at_head && depth == 0 && !word.is_empty() {
                    names.insert(std::mem::take(&mut word));
                }
                word.clear();
                at_head = depth == 0 && matches!(c, ',' | ' ' | '\n');
                if c == ':' {
                    at_head = false;
                }
            }
            if at_head && !word.is_empty() {
                names.insert(word);
            }
        } else {
            names.insert(ident(rest));
        }
    }
    names
}

#[test]
fn lower_layers_never_name_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .unwrap_or_default();
        // main.rs, cli/ and lib.rs sit above every layer.
        let Some(mine) = rank(&top) else { continue };
        seen.insert(top.clone());
        let text = std::fs::read_to_string(file).expect("read source");
        for other in named_modules(&text) {
            let Some(theirs) = rank(&other) else { continue };
            let sideways_ok = SIDEWAYS.contains(&(top.as_str(), other.as_str()));
            if other != top && theirs >= mine && !sideways_ok {
                wrong.push(format!(
                    "{} (layer {mine}, {top}) names crate::{other} (layer {theirs})",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "upward or sideways uses:\n{}",
        wrong.join("\n")
    );
    // Every layered module exists, so a rename cannot silently drop a check.
    let all: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter().map(|s| s.to_string()))
        .collect();
    assert_eq!(seen, all, "modules in LAYERS but not under src/");
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("read lib.rs");
    for line in lib.lines() {
        if let Some(m) = line.trim().strip_prefix("pub mod ") {
            let m = m.trim_end_matches(';');
            assert!(
                rank(m).is_some(),
                "src/lib.rs declares `{m}`, which has no layer in LAYERS"
            );
        }
    }
}

#[test]
fn the_scanner_finds_grouped_and_plain_uses() {
    let text =
        "use crate::{domain::mac::Mac, store::{Store, X}, vendors};\nlet x = crate::http::y();";
    let got = named_modules(text);
    let want: BTreeSet<String> = ["domain", "store", "vendors", "http"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(got, want);
}
