//! The terminal face of [`import::Progress`]: a spinner naming the step,
//! and a bar with an ETA while passwords are hashed.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use autoprov::import;
use indicatif::{ProgressBar, ProgressStyle};

/// Files smaller than this import too quickly for a bar to help.
const WORTH_A_BAR: usize = 512 * 1024;

/// Drawn on the first step reported, not when made: an import that runs
/// in the server (the CLI only waits for its answer) reports no steps, so
/// nothing is drawn for it.
pub struct Bar(OnceLock<ProgressBar>);

impl Bar {
    /// A bar for importing `bytes` bytes, when one is wanted (`allowed`:
    /// no `--no-progress`), stderr is a terminal and the file is big
    /// enough to take a while.
    pub fn wanted(allowed: bool, bytes: usize) -> Option<Bar> {
        (allowed && std::io::stderr().is_terminal() && bytes > WORTH_A_BAR)
            .then(|| Bar(OnceLock::new()))
    }

    fn bar(&self) -> &ProgressBar {
        self.0.get_or_init(|| {
            let p = ProgressBar::new_spinner();
            p.enable_steady_tick(Duration::from_millis(120));
            p
        })
    }

    /// Clears the bar, if one was drawn, once the import is done.
    pub fn finish(self) {
        if let Some(p) = self.0.get() {
            p.finish_and_clear();
        }
    }
}

impl import::Progress for Bar {
    fn stage(&self, name: &'static str) {
        self.bar().set_message(name);
    }

    fn count_to(&self, total: u64) {
        self.bar().set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        self.bar().set_length(total);
    }

    fn counted(&self) {
        self.bar().inc(1);
    }

    fn count_done(&self) {
        self.bar().set_style(ProgressStyle::default_spinner());
    }
}
