//! `autoprov users edit|add|add-phone|remove-phone|rotate-sip-password`:
//! the flags as a single-user request ([`autoprov::app::users`]), which
//! runs wherever the store is.

use std::collections::BTreeMap;

use crate::cli::args::{UsersArgs, UsersCommand};
use autoprov::app::ops::Answer;
use autoprov::app::users::{FROM_CLI, UserOp, UserRequest};

/// Whether the command may run where no store exists yet (`users add`).
pub fn creates(args: &UsersArgs) -> bool {
    matches!(args.command, Some(UsersCommand::Add { .. }))
}

/// The request a change command makes, or the usage refusal (exit 2) of a
/// `--set` that is not `FIELD=VALUE`. `show` and `delete` are not changes
/// of this kind and are refused here.
pub fn request(cmd: UsersCommand) -> Result<UserRequest, Answer> {
    let (username, op, run, yes) = match cmd {
        UsersCommand::Edit { username, set, run } => {
            (username, UserOp::Edit(pairs(&set)?), run, false)
        }
        UsersCommand::Add { username, set, run } => {
            (username, UserOp::Create(pairs(&set)?), run, false)
        }
        UsersCommand::AddPhone {
            username,
            mac,
            model,
            run,
        } => (username, UserOp::AddPhone { mac, model }, run, false),
        UsersCommand::RemovePhone {
            username,
            mac,
            yes,
            run,
        } => (username, UserOp::RemovePhone { mac }, run, yes),
        UsersCommand::RotateSipPassword { username, run } => {
            (username, UserOp::RotateSipPassword, run, false)
        }
        UsersCommand::Show { .. } | UsersCommand::Delete { .. } => {
            return Err(Answer::fail(2, 400, "not a change of one user"));
        }
    };
    Ok(UserRequest {
        username,
        op,
        dry_run: run.dry_run,
        yes,
        origin: FROM_CLI.to_string(),
        format: run.format.into(),
    })
}

/// `--set FIELD=VALUE` flags as a map (a later one for the same field wins).
fn pairs(set: &[String]) -> Result<BTreeMap<String, String>, Answer> {
    set.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(Answer::fail(
                2,
                400,
                format!("--set {kv:?} must be FIELD=VALUE, such as extension=2251"),
            )),
        })
        .collect()
}
