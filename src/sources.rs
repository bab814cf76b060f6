//! The scheduled face of [`crate::app::sources`]: each `[sources.NAME]`
//! with an `every` is fetched and imported once at start and then on its
//! interval. What a run does (and never deletes) is the runner's business.

use std::sync::Arc;

use crate::app::sources::Runner;

/// Starts one task per source: a run right away, then every interval.
pub fn spawn_schedules(runner: &Arc<Runner>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (name, src) in runner.configured() {
        // Checked when the config was loaded.
        let Ok(every) = src.interval() else { continue };
        let (runner, name) = (runner.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let a = runner.run_scheduled(&name, every).await;
                tracing::info!(source = %name, exit_code = a.exit_code, message = ?a.message, "scheduled import");
            }
        }));
    }
    tasks
}
