//! `autoprov admin token ...`: edits the token file, never sled, so it
//! works while the server runs; with a database store (`--store URL`), the
//! token list every node shares, with no server needed.

use std::path::Path;

use crate::cli::args::{AdminArgs, AdminCommand, Format, TokenCommand};
use crate::cli::output::write_stdout;
use crate::{Fail, refused, runtime, usage};
use autoprov::app::backend::open_location;
use autoprov::app::tokens::{TokenEntry, TokenError, TokenHome};
use autoprov::config::Config;

pub fn run(data: &Path, config: &Config, args: AdminArgs) -> Result<u8, Fail> {
    let file = home(data, config)?;
    let AdminCommand::Token(cmd) = args.command;
    match cmd {
        TokenCommand::Create { name } => {
            let (name, token) = file.create(name.as_deref()).map_err(token_fail)?;
            eprintln!(
                "autoprov: created admin token {name:?}; it is shown once, store it now (send it as `Authorization: Bearer <token>`)"
            );
            write_stdout(format!("{token}\n").as_bytes())?;
        }
        TokenCommand::List { format } => {
            let tokens = file.list().map_err(token_fail)?;
            write_stdout(list(&tokens, format).as_bytes())?;
        }
        TokenCommand::Revoke { name } => {
            file.revoke(&name).map_err(token_fail)?;
            eprintln!("autoprov: revoked admin token {name:?}");
        }
    }
    Ok(0)
}

/// Where the tokens are: the database's shared list when the store is a
/// database, else `<data>/admin-tokens.json` (sled stays closed: a running
/// server holds it).
fn home(data: &Path, config: &Config) -> Result<TokenHome, Fail> {
    let store = match &config.store.url {
        Some(url) => Some(open_location(url).map_err(runtime)?.shared()),
        None => None,
    };
    TokenHome::open(data, store).map_err(token_fail)
}

/// The tokens by name and creation time (never the tokens themselves).
fn list(tokens: &[TokenEntry], format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(tokens).unwrap_or_default() + "\n",
        Format::Text => {
            let mut out = format!("{:<24} CREATED\n", "NAME");
            for t in tokens {
                out.push_str(&format!("{:<24} {}\n", t.name, t.created));
            }
            out
        }
    }
}

/// A missing token is refused input (1); a bad or taken name is usage (2);
/// an unreadable file is a runtime failure (3).
fn token_fail(e: TokenError) -> Fail {
    match e {
        TokenError::NotFound(_) => refused(e),
        TokenError::Exists(_) | TokenError::BadName(_) => usage(e),
        TokenError::Io { .. } | TokenError::Corrupt { .. } | TokenError::Store(_) => runtime(e),
    }
}
