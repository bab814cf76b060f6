//! How every command prints: output on stdout (or into a file), the
//! one-sentence message on stderr, the exit code returned.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::{Fail, runtime, usage};
use autoprov::app::ops::Answer;

/// Prints `answer`: its body on stdout or into `output`, unless it failed
/// with nothing to show; its message on stderr; returns its exit code.
pub fn emit(answer: Answer, output: Option<&Path>) -> Result<u8, Fail> {
    if answer.exit_code == 0 || !answer.body.is_empty() {
        match output {
            Some(path) => std::fs::write(path, &answer.body)
                .with_context(|| format!("cannot create {}", path.display()))
                .map_err(usage)?,
            None => write_stdout(&answer.body)?,
        }
    }
    if let Some(m) = &answer.message {
        eprintln!("autoprov: {m}");
    }
    Ok(answer.exit_code)
}

/// Writes to stdout; a closed pipe (`autoprov users | head`) ends quietly.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Fail> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(runtime(
            anyhow::Error::new(e).context("cannot write to standard output"),
        )),
    }
}
