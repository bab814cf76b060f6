//! `autoprov store copy --from DIR_OR_URL --to DIR_OR_URL`: moves everything
//! a store holds between engines (a sled data directory, a PostgreSQL URL),
//! so `autoprov export` of both sides is byte-identical afterwards.
//!
//! Copied: sites, users with their phones (one import on the target, so
//! ids, config versions and the MAC index come along), the import history
//! in order, DHCP leases, each known phone's run-time state and fetch
//! history, and the admin tokens (`<dir>/admin-tokens.json` ↔ the shared
//! document [`ADMIN_TOKENS`]). Not copied: the state of MACs no user owns
//! and no lease names (the trait lists phone state by MAC only).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::{Context, anyhow};

use crate::cli::args::{StoreArgs, StoreCommand, StoreCopyArgs};
use crate::{Fail, runtime, usage};
use autoprov::app::backend::{Opened, open_location};
use autoprov::app::tokens::FILE as TOKENS_FILE;
use autoprov::domain::mac::Mac;
use autoprov::store::{ADMIN_TOKENS, Change, ChangeSet, ImportRecord, postgres};

pub fn run(args: StoreArgs) -> Result<u8, Fail> {
    match args.command {
        StoreCommand::Copy(c) => copy(&c),
    }
}

/// What went across, for the summary line.
#[derive(Debug, Default)]
struct Copied {
    users: usize,
    history: usize,
    leases: usize,
    phone_states: usize,
    tokens: bool,
}

fn copy(args: &StoreCopyArgs) -> Result<u8, Fail> {
    if args.from == args.to {
        return Err(usage(anyhow!("--from and --to name the same store")));
    }
    let from = open_location(&args.from).map_err(runtime)?;
    let to = open_location(&args.to).map_err(runtime)?;
    if !args.force {
        refuse_non_empty(&to, &args.to)?;
    }
    let copied = copy_all(&from, &to).map_err(runtime)?;
    copy_tokens(&from, &args.from, &to, &args.to)
        .map_err(runtime)
        .map(|t| Copied {
            tokens: t,
            ..copied
        })
        .and_then(|c| {
            to.flush().map_err(runtime)?;
            println!(
                "copied {} users, {} history lines, {} leases, {} phone states{} from {} to {}",
                c.users,
                c.history,
                c.leases,
                c.phone_states,
                if c.tokens { ", the admin tokens" } else { "" },
                shown(&args.from),
                shown(&args.to)
            );
            Ok(0)
        })
}

fn shown(location: &str) -> String {
    postgres::redact(location)
}

/// A target with users, history or leases is only overwritten on `--force`.
fn refuse_non_empty(to: &Opened, location: &str) -> Result<(), Fail> {
    let users = to.users().map_err(runtime)?.len();
    let history = to.history().map_err(runtime)?.len();
    let leases = to.leases().map_err(runtime)?.len();
    if users + history + leases == 0 {
        return Ok(());
    }
    Err(usage(anyhow!(
        "the target store {} is not empty ({users} users, {history} history lines, {leases} leases); add --force to copy over it",
        shown(location)
    )))
}

fn copy_all(from: &Opened, to: &Opened) -> anyhow::Result<Copied> {
    to.put_sites(&from.sites()?)?;
    let history = from.history()?;
    let users = copy_users(from, to, history.first())?;
    for record in history.iter().skip(1) {
        to.record_run(record)?;
    }
    let leases = from.leases()?;
    to.put_leases(&leases)?;
    let macs: BTreeSet<[u8; 6]> = from
        .users()?
        .iter()
        .flat_map(|u| u.phones.iter().map(|p| p.mac.bytes()))
        .chain(leases.iter().map(|l| l.mac.bytes()))
        .collect();
    let mut phone_states = 0;
    for bytes in macs {
        let mac = Mac::from_bytes(bytes).context("stored MAC")?;
        if copy_phone(from, to, mac)? {
            phone_states += 1;
        }
    }
    Ok(Copied {
        users,
        history: history.len(),
        leases: leases.len(),
        phone_states,
        tokens: false,
    })
}

/// Writes the source's users over the target's in one import whose
/// history line is the source's first (so the history reads the same).
fn copy_users(from: &Opened, to: &Opened, first: Option<&ImportRecord>) -> anyhow::Result<usize> {
    let source = from.snapshot()?;
    let target = to.snapshot()?;
    if source.users.is_empty() && first.is_none() && target.users.is_empty() {
        return Ok(0);
    }
    let mut old: std::collections::BTreeMap<String, autoprov::domain::User> = target
        .users
        .into_iter()
        .map(|u| (u.username.clone(), u))
        .collect();
    let count = source.users.len();
    let mut changes: Vec<Change> = source
        .users
        .into_iter()
        .map(|u| Change {
            old: old.remove(&u.username).map(Box::new),
            new: Some(Box::new(u)),
        })
        .collect();
    changes.extend(old.into_values().map(|u| Change {
        old: Some(Box::new(u)),
        new: None,
    }));
    let record = first.cloned().unwrap_or_else(|| copy_record(count));
    let set = ChangeSet {
        changes,
        next_id: source.next_id,
    };
    to.apply(target.generation, set, &record)?;
    Ok(count)
}

/// The history line of a copy from a store that had none.
fn copy_record(users: usize) -> ImportRecord {
    ImportRecord {
        time: now_rfc3339(),
        file: "store copy".into(),
        sha256: String::new(),
        mode: "copy".into(),
        source: None,
        created: users,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        skipped: 0,
        outcome: None,
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One phone's state and its fetch history, numbered as in the source.
fn copy_phone(from: &Opened, to: &Opened, mac: Mac) -> anyhow::Result<bool> {
    let Some(state) = from.phone_state(mac)? else {
        return Ok(false);
    };
    to.put_phone_state(mac, &state)?;
    let events = from.fetch_events(mac)?;
    let first = (state.fetch_seq + 1)
        .saturating_sub(events.len() as u64)
        .max(1);
    for (seq, event) in (first..).zip(&events) {
        to.put_fetch_event(mac, seq, event)?;
    }
    Ok(true)
}

/// The admin tokens: a file in a data directory, a shared document in a
/// database. True if there were any.
fn copy_tokens(from: &Opened, from_at: &str, to: &Opened, to_at: &str) -> anyhow::Result<bool> {
    let bytes = match from {
        Opened::Postgres(_) => from.shared_blob(ADMIN_TOKENS)?.unwrap_or_default(),
        Opened::Sled(_) => match std::fs::read(Path::new(from_at).join(TOKENS_FILE)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).context("cannot read the admin tokens"),
        },
    };
    if bytes.is_empty() {
        return Ok(false);
    }
    match to {
        Opened::Postgres(_) => {
            to.put_shared_blob(ADMIN_TOKENS, &bytes)?;
        }
        Opened::Sled(_) => write_private(&Path::new(to_at).join(TOKENS_FILE), &bytes)?,
    }
    Ok(true)
}

/// Writes a secret file (mode 0600) through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.part");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes).and_then(|_| f.sync_all())?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
