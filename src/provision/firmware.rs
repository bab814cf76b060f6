//! Which firmware a phone should run, and where it fetches it.
//!
//! The config names an image per `vendor-model`, optionally per site
//! (`[firmware."yealink-t54w".sites.NAME]`, docs/firmware.md); the files
//! sit in one directory and are served under [`URL_PREFIX`] on both
//! listeners. [`target`] and [`is_outdated`] are pure so the fleet view
//! (`autoprov phones --outdated`, `phones show`) and the renderer agree.

use std::path::{Path, PathBuf};

use crate::config::{FirmwareConfig, FirmwareImage};
use crate::vendors;

/// Where firmware files are served: `/firmware/<file>`.
pub const URL_PREFIX: &str = "/firmware/";

/// The image a phone should run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// What the phone reports once it runs the image.
    pub version: String,
    /// The file's name in the firmware directory.
    pub file: String,
    /// The path it is served under on both listeners (`/firmware/<file>`).
    pub url_path: String,
}

impl Target {
    fn from_image(image: &FirmwareImage) -> Target {
        Target {
            version: image.version.clone(),
            file: image.file.clone(),
            url_path: format!("{URL_PREFIX}{}", image.file),
        }
    }
}

/// The target for a phone of `vendor` (an id from `VENDORS`) and `model`
/// (as imported or learned: `t54w`) at `site`: the site's own image, else
/// the model's, else none. Models match ignoring case and any character
/// but letters and digits (`vvx_450` is `VVX450`).
pub fn target(
    config: &FirmwareConfig,
    vendor: &str,
    model: Option<&str>,
    site: &str,
) -> Option<Target> {
    let model = squash(model?);
    let entry = config.models.iter().find_map(|(key, e)| {
        let (v, m) = key.split_once('-')?;
        (v.eq_ignore_ascii_case(vendor) && squash(m) == model && !model.is_empty()).then_some(e)
    })?;
    Some(match entry.sites.get(site) {
        Some(image) => Target::from_image(image),
        None => Target::from_image(&entry.image()),
    })
}

/// Whether a phone that reported `reported` (its User-Agent's firmware,
/// `UaInfo::firmware`) should still move to `target`. A phone that never
/// said is outdated: nothing shows it runs the target.
pub fn is_outdated(reported: Option<&str>, target: &Target) -> bool {
    !reported.is_some_and(|r| same_version(r, &target.version))
}

/// Versions compare as text, ignoring case and surrounding space.
pub fn same_version(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Why the `[firmware]` section cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FirmwareError {
    #[error("firmware.{key:?}: no vendor {vendor:?} (known: {known})")]
    UnknownVendor {
        key: String,
        vendor: String,
        known: String,
    },
    #[error("{at}.file: {file:?} is not a file in the firmware directory {dir}")]
    Missing {
        at: String,
        file: String,
        dir: String,
    },
}

/// The `[firmware]` section with its directory resolved and every named
/// file checked to exist: what the renderer and the file server use.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    dir: PathBuf,
    config: FirmwareConfig,
}

impl Catalog {
    /// Checks `config` against `<data>/firmware` (or its `dir`).
    pub fn load(data: &Path, config: &FirmwareConfig) -> Result<Catalog, FirmwareError> {
        let dir = config.dir.clone().unwrap_or_else(|| data.join("firmware"));
        for (key, entry) in &config.models {
            let vendor = key.split_once('-').map_or(key.as_str(), |(v, _)| v);
            if vendors::by_id(vendor).is_none() {
                return Err(FirmwareError::UnknownVendor {
                    key: key.clone(),
                    vendor: vendor.to_string(),
                    known: vendors::known_ids(),
                });
            }
            let at = format!("firmware.{key:?}");
            exists(&dir, &at, &entry.file)?;
            for (site, image) in &entry.sites {
                exists(&dir, &format!("{at}.sites.{site}"), &image.file)?;
            }
        }
        Ok(Catalog {
            dir,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &FirmwareConfig {
        &self.config
    }

    /// See [`target`].
    pub fn target(&self, vendor: &str, model: Option<&str>, site: &str) -> Option<Target> {
        target(&self.config, vendor, model, site)
    }

    /// The file a request path names, when it is a configured image (only
    /// those are served, never anything else in the directory).
    pub fn file_for(&self, path: &str) -> Option<PathBuf> {
        let name = path.strip_prefix(URL_PREFIX)?;
        let configured = self
            .config
            .models
            .values()
            .any(|e| e.file == name || e.sites.values().any(|i| i.file == name));
        configured.then(|| self.dir.join(name))
    }
}

fn exists(dir: &Path, at: &str, file: &str) -> Result<(), FirmwareError> {
    if dir.join(file).is_file() {
        Ok(())
    } else {
        Err(FirmwareError::Missing {
            at: at.to_string(),
            file: file.to_string(),
            dir: dir.display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config() -> FirmwareConfig {
        Config::parse(
            "[sites.berlin]\n[firmware.\"yealink-t54w\"]\nversion = \"96.86.0.100\"\n\
             file = \"T54W-96.86.0.100.rom\"\n[firmware.\"yealink-t54w\".sites.berlin]\n\
             version = \"96.86.0.120\"\nfile = \"T54W-96.86.0.120.rom\"\n\
             [firmware.\"polycom-vvx450\"]\nversion = \"6.4.3.5156\"\nfile = \"vvx-6.4.3.sip.ld\"\n",
        )
        .expect("config")
        .firmware
    }

    #[test]
    fn site_wins_over_model() {
        let c = config();
        let t = target(&c, "yealink", Some("T54W"), "berlin").expect("target");
        assert_eq!(t.version, "96.86.0.120");
        assert_eq!(t.url_path, "/firmware/T54W-96.86.0.120.rom");
        let t = target(&c, "yealink", Some("t54w"), "default").expect("target");
        assert_eq!(t.file, "T54W-96.86.0.100.rom");
        assert_eq!(
            target(&c, "polycom", Some("vvx_450"), "x").map(|t| t.version),
            Some("6.4.3.5156".into())
        );
        assert!(target(&c, "yealink", Some("t46u"), "berlin").is_none());
        assert!(target(&c, "yealink", None, "berlin").is_none());
        assert!(target(&c, "snom", Some("t54w"), "berlin").is_none());
    }

    #[test]
    fn outdated_until_it_reports_the_target() {
        let t = target(&config(), "yealink", Some("t54w"), "default").expect("target");
        assert!(is_outdated(None, &t));
        assert!(is_outdated(Some("96.85.0.5"), &t));
        assert!(!is_outdated(Some(" 96.86.0.100"), &t));
    }

    #[test]
    fn load_checks_files_and_vendors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config();
        let e = Catalog::load(dir.path(), &c).expect_err("no files yet");
        assert!(
            e.to_string().contains("firmware.\"polycom-vvx450\".file"),
            "{e}"
        );
        let fw = dir.path().join("firmware");
        std::fs::create_dir(&fw).expect("mkdir");
        for f in [
            "T54W-96.86.0.100.rom",
            "T54W-96.86.0.120.rom",
            "vvx-6.4.3.sip.ld",
            "other.rom",
        ] {
            std::fs::write(fw.join(f), b"x").expect("write");
        }
        let cat = Catalog::load(dir.path(), &c).expect("loads");
        assert_eq!(
            cat.file_for("/firmware/T54W-96.86.0.120.rom"),
            Some(fw.join("T54W-96.86.0.120.rom"))
        );
        assert_eq!(cat.file_for("/firmware/other.rom"), None);
        assert_eq!(cat.file_for("/T54W-96.86.0.120.rom"), None);
        let mut bad = c.clone();
        let entry = bad.models.remove("polycom-vvx450").expect("entry");
        bad.models.insert("acme-x1".into(), entry);
        let e = Catalog::load(dir.path(), &bad).expect_err("unknown vendor");
        assert!(e.to_string().contains("no vendor \"acme\""), "{e}");
    }
}
