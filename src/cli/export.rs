//! `autoprov export`: the answer written where the admin said, readable by
//! its owner only (it may carry every SIP password), and for a Kamailio
//! db_text directory the `version` row auth_db checks beside the table.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;

use super::args::ExportArgs;
use super::output::emit;
use crate::{Fail, usage};
use autoprov::app::backend;
use autoprov::config::Config;
use autoprov::export::{Format, kamailio};

/// `--format`, as clap spells it (docs/reference/cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Kamailio,
    KamailioDbtext,
    Asterisk,
    Freeswitch,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Format {
        match f {
            ExportFormat::Csv => Format::Csv,
            ExportFormat::Kamailio => Format::Kamailio,
            ExportFormat::KamailioDbtext => Format::KamailioDbtext,
            ExportFormat::Asterisk => Format::Asterisk,
            ExportFormat::Freeswitch => Format::Freeswitch,
        }
    }
}

pub fn run(data: &Path, config: &Config, args: &ExportArgs) -> Result<u8, Fail> {
    let format = Format::from(args.format);
    let answer = backend::open(data, config)?.export(format, args.include_secrets)?;
    let Some(out) = args.output.as_deref() else {
        return emit(answer, None);
    };
    if answer.exit_code != 0 {
        return emit(answer, None);
    }
    if format == Format::KamailioDbtext && out.is_dir() {
        write_private(&out.join("subscriber"), &answer.body)?;
        let version = out.join("version");
        let old = std::fs::read_to_string(&version).ok();
        write_private(
            &version,
            kamailio::dbtext_version(old.as_deref()).as_bytes(),
        )?;
    } else {
        write_private(out, &answer.body)?;
    }
    if let Some(m) = &answer.message {
        eprintln!("autoprov: {m}");
    }
    Ok(answer.exit_code)
}

/// Creates or truncates `path` with mode 0600 (an existing file is
/// narrowed to 0600 too), then writes `bytes`.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Fail> {
    use std::os::unix::fs::PermissionsExt;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write()
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(usage)
}
