//! `autoprov import FILE|URL|-` and `serve --import FILE`: the flags
//! become an import request, the input is read here (a URL fetched with
//! the same checks as a scheduled source), and the import runs wherever
//! the store is.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::cli::args::ImportArgs;
use crate::cli::output::emit;
use crate::cli::progress::Bar;
use crate::{Fail, runtime, usage};
use autoprov::app::backend;
use autoprov::app::ops::{self, ImportRequest};
use autoprov::app::sources::fetch::{FetchError, FetchOptions};
use autoprov::config::{self, Config};
use autoprov::import::mapping::Mapping;
use autoprov::import::read::ReadOptions;
use autoprov::import::{self, ImportOptions, Progress};
use autoprov::store::Store;

/// A fetched file takes at most this long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(data: &Path, config: &Config, args: ImportArgs) -> Result<u8, Fail> {
    let mut req = request(&args)?;
    let (bytes, file_name) = if config::is_ldap(&args.file) {
        super::import_ldap::search(&args, &mut req)?
    } else {
        read_input(&args.file, config.admin.max_body_bytes)?
    };
    req.options.file_name = file_name;
    let bar = Bar::wanted(!args.no_progress, bytes.len());
    let progress = bar.as_ref().map(|b| b as &dyn Progress);
    let answer = backend::open(data, config)?.import(bytes, &req, progress)?;
    if let Some(bar) = bar {
        bar.finish();
    }
    emit(answer, None)
}

/// The flags as an import request, refused (exit 2) before any byte of
/// the file is read when they contradict each other.
fn request(args: &ImportArgs) -> Result<ImportRequest, Fail> {
    let delimiter = ops::parse_delimiter(&args.delimiter).map_err(|m| usage(anyhow!(m)))?;
    // An LDAP search's mapping is its preset with the map file on top.
    let mapping = match config::is_ldap(&args.file) {
        true => None,
        false => args.map.as_deref().map(read_mapping).transpose()?,
    };
    let req = ImportRequest {
        options: ImportOptions {
            mode: args.mode.into(),
            dry_run: args.dry_run,
            partial: args.partial,
            source: args.source.clone(),
            read: ReadOptions {
                delimiter,
                encoding: args.encoding.into(),
            },
            show_secrets: args.show_secrets,
            reassign_macs: args.reassign_macs,
            file_name: String::new(),
            mapping,
            label_column: None,
            notes: Vec::new(),
            max_delete_percent: args.ldap.max_delete_percent,
        },
        yes: args.yes,
        format: args.format.into(),
    };
    ops::check_import(&req).map_err(|m| usage(anyhow!(m)))?;
    Ok(req)
}

/// A `--map` file, parsed and checked before the input is read: an unknown
/// target field or a broken template is refused (exit 2) naming its line.
fn read_mapping(path: &Path) -> Result<Mapping, Fail> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping {}", path.display()))
        .map_err(usage)?;
    Mapping::from_file_text(&text, &path.display().to_string()).map_err(|e| usage(anyhow!(e)))
}

/// The file's bytes and the name the report gives it: an `http(s)://`
/// URL fetched, `-` standard input, anything else a file.
fn read_input(file: &str, max_bytes: usize) -> Result<(Vec<u8>, String), Fail> {
    if config::is_http(file) {
        return Ok((fetch(file, max_bytes)?, file.to_string()));
    }
    if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")
            .map_err(usage)?;
        return Ok((buf, "<stdin>".to_string()));
    }
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read {file}"))
        .map_err(usage)?;
    Ok((bytes, file.to_string()))
}

/// The same fetch and checks as a scheduled source: an error page, a
/// login page or an empty answer is never imported.
fn fetch(file: &str, max_bytes: usize) -> Result<Vec<u8>, Fail> {
    let refused = |m: String| usage(anyhow!("cannot import {file}: {m}"));
    let url =
        url::Url::parse(file).map_err(|_| refused(FetchError::Url(file.into()).to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(runtime)?;
    let opts = FetchOptions {
        timeout: FETCH_TIMEOUT,
        max_bytes,
        ca: None,
        bearer_token: None,
    };
    rt.block_on(autoprov::app::sources::fetch_csv(&url, &opts))
        .map_err(refused)
}

/// `serve --import FILE`: an upsert import with its text report on
/// stderr; anything but a clean import keeps the server from starting.
pub fn before_serving(store: &dyn Store, config: &Config, file: &Path) -> Result<u8, Fail> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .map_err(usage)?;
    let opts = ImportOptions::upsert(file.display().to_string());
    let outcome = import::run(store, config, bytes, &opts, None).map_err(runtime)?;
    eprint!("{}", outcome.report.to_text());
    if outcome.exit_code != 0 {
        eprintln!("autoprov: import refused, not serving");
    }
    Ok(outcome.exit_code as u8)
}
