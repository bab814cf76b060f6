//! `[firmware]`: where firmware images live and which image each phone
//! model should run, optionally per site so a rollout can be staged
//! (docs/firmware.md).
//!
//! ```toml
//! [firmware]
//! dir = "/srv/autoprov/firmware"          # default: <data>/firmware
//! [firmware."yealink-t54w"]
//! version = "96.86.0.100"
//! file = "T54W-96.86.0.100.rom"
//! [firmware."yealink-t54w".sites.berlin]  # berlin goes first
//! version = "96.86.0.120"
//! file = "T54W-96.86.0.120.rom"
//! ```
//!
//! This layer checks what the text alone can say (names, versions, known
//! sites); that each file exists in the directory is checked where the
//! data directory is known (`provision::firmware::Catalog::load`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// One image: the version the phone reports once it runs it, and the file
/// in the firmware directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareImage {
    pub version: String,
    pub file: String,
}

/// `[firmware."VENDOR-MODEL"]`: the image for the model everywhere, and
/// per-site images that win over it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareEntry {
    pub version: String,
    pub file: String,
    #[serde(default)]
    pub sites: BTreeMap<String, FirmwareImage>,
}

impl FirmwareEntry {
    /// The model's image where no site has its own.
    pub fn image(&self) -> FirmwareImage {
        FirmwareImage {
            version: self.version.clone(),
            file: self.file.clone(),
        }
    }
}

/// The checked `[firmware]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FirmwareConfig {
    /// Where the files are; `None`: `<data>/firmware`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Lower-case `vendor-model` (`yealink-t54w`) → its images.
    #[serde(flatten)]
    pub models: BTreeMap<String, FirmwareEntry>,
}

impl FirmwareConfig {
    /// The section with its keys lower-cased and every name checked;
    /// `sites` are the site names the config defines.
    pub(super) fn check(self, sites: &[&str]) -> Result<FirmwareConfig, String> {
        let mut models = BTreeMap::new();
        for (key, entry) in self.models {
            let at = format!("firmware.{key:?}");
            check_model_key(&key).map_err(|m| format!("{at}: {m}"))?;
            check_image(&entry.image()).map_err(|m| format!("{at}.{m}"))?;
            for (site, image) in &entry.sites {
                let at = format!("{at}.sites.{site}");
                if !sites.contains(&site.as_str()) {
                    return Err(format!("{at}: no site {site:?} in [sites]"));
                }
                check_image(image).map_err(|m| format!("{at}.{m}"))?;
            }
            if models.insert(key.to_ascii_lowercase(), entry).is_some() {
                return Err(format!("{at}: given twice (keys ignore case)"));
            }
        }
        Ok(FirmwareConfig {
            dir: self.dir,
            models,
        })
    }
}

/// `vendor-model`: a vendor part and a model part, both non-empty.
fn check_model_key(key: &str) -> Result<(), String> {
    match key.split_once('-') {
        Some((v, m)) if !v.is_empty() && !m.is_empty() => Ok(()),
        _ => Err("the key must be VENDOR-MODEL, like \"yealink-t54w\"".into()),
    }
}

fn check_image(image: &FirmwareImage) -> Result<(), String> {
    let v = image.version.trim();
    if v.is_empty() {
        return Err("version must not be empty".into());
    }
    if v.chars().any(|c| c.is_control()) || v != image.version {
        return Err(format!(
            "version {:?} must not have control characters or surrounding spaces",
            image.version
        ));
    }
    check_file_name(&image.file).map_err(|m| format!("file {:?} {m}", image.file))
}

/// A bare file name that goes into a URL unescaped: letters, digits and
/// `. _ - + ~`, not starting with a dot (so no `..`, no hidden files, no
/// path separators).
pub fn check_file_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.contains(['/', '\\']) {
        return Err("must be a file name in the firmware directory, without path separators");
    }
    if name.starts_with('.') {
        return Err("must not start with a dot");
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'~'));
    if !ok {
        return Err("may only hold letters, digits and . _ - + ~");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<FirmwareConfig, String> {
        #[derive(Deserialize)]
        struct F {
            #[serde(default)]
            firmware: FirmwareConfig,
        }
        let f: F = toml::from_str(toml).map_err(|e| e.to_string())?;
        f.firmware.check(&["default", "berlin"])
    }

    #[test]
    fn entries_and_sites() {
        let c = parse(
            "[firmware]\ndir = \"/srv/fw\"\n[firmware.\"Yealink-T54W\"]\nversion = \"96.86.0.100\"\n\
             file = \"T54W-96.86.0.100.rom\"\n[firmware.\"Yealink-T54W\".sites.berlin]\n\
             version = \"96.86.0.120\"\nfile = \"T54W-96.86.0.120.rom\"\n",
        )
        .expect("valid");
        assert_eq!(c.dir.as_deref(), Some(std::path::Path::new("/srv/fw")));
        let e = &c.models["yealink-t54w"];
        assert_eq!(e.version, "96.86.0.100");
        assert_eq!(e.sites["berlin"].file, "T54W-96.86.0.120.rom");
    }

    #[test]
    fn bad_entries_name_their_key() {
        let cases = [
            (
                "[firmware.\"yealink-t54w\"]\nversion = \"\"\nfile = \"a.rom\"\n",
                "firmware.\"yealink-t54w\".version",
            ),
            (
                "[firmware.\"yealink-t54w\"]\nversion = \"1\"\nfile = \"../a.rom\"\n",
                "without path separators",
            ),
            (
                "[firmware.\"yealink-t54w\"]\nversion = \"1\"\nfile = \"a b.rom\"\n",
                "file \"a b.rom\"",
            ),
            (
                "[firmware.\"yealink-t54w\"]\nversion = \"1\"\nfile = \".rom\"\n",
                "dot",
            ),
            (
                "[firmware.yealink]\nversion = \"1\"\nfile = \"a.rom\"\n",
                "VENDOR-MODEL",
            ),
            (
                "[firmware.\"yealink-t54w\"]\nversion = \"1\"\nfile = \"a.rom\"\n[firmware.\"yealink-t54w\".sites.paris]\nversion = \"2\"\nfile = \"b.rom\"\n",
                "sites.paris: no site",
            ),
        ];
        for (toml, want) in cases {
            let e = parse(toml).expect_err(toml);
            assert!(e.contains(want), "{toml}: {e}");
        }
        assert!(parse("[firmware.\"yealink-t54w\"]\nversion = \"1\"\n").is_err());
    }
}
