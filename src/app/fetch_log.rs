//! The fetch log's writer: phone requests hand their fetch record to a
//! bounded queue and return; one dedicated thread writes the records in
//! batches, so a phone's fetch never waits on a store write (the sled CAS
//! and event insert cost the keep-alive path 18 %, docs/benchmarks.md; a
//! database engine would cost a round trip).
//!
//! - A batch coalesces the records of one MAC into one
//!   [`Store::update_phone_state`] (only the fetch fields change, so the
//!   phone's passwords, issued synchronously by the request that rendered
//!   its secure file, are never overwritten), then writes the events.
//! - A full queue drops the record and counts it: a boot storm degrades
//!   the history, never the serving.
//! - [`FetchLog::flush`] waits until everything submitted before it is
//!   written: the admin reads that show the fleet call it, so an admin sees
//!   a fetch as soon as the phone has its answer.
//! - [`FetchLog::close`] (and dropping the log) writes what is queued and
//!   stops the thread: graceful shutdown keeps every record.
//!
//! Works over any [`Store`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::app::metrics::FetchLogStats;
use crate::domain::mac::Mac;
use crate::store::{Fetch, FetchEvent, PhoneState, Store, StoreError};

/// Records held before new ones are dropped: a few MB at most, and written
/// in well under a second (each costs ~10-20 µs on sled).
pub const DEFAULT_CAPACITY: usize = 16_384;

/// Most records one batch takes from the queue, so a flush behind a long
/// queue sees progress and memory stays bounded.
const MAX_BATCH: usize = 4_096;

/// One request about a phone, as its state and history keep it.
#[derive(Debug, Clone)]
pub struct FetchRecord {
    pub mac: Mac,
    /// The phone's new `last_fetch`.
    pub fetch: Fetch,
    /// The history line; none for a bare Digest challenge.
    pub event: Option<FetchEvent>,
    /// What a served file's User-Agent taught (model, firmware).
    pub learned_model: Option<String>,
    pub learned_firmware: Option<String>,
    /// The phone is known to be in the store (a per-MAC file was just
    /// rendered for it); otherwise the writer looks it up, so strangers
    /// cannot fill the store with made-up MACs.
    pub known: bool,
}

/// The queue and its counters, under one lock.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<FetchRecord>,
    /// Records ever accepted, and ever finished (written or failed): a
    /// flush waits for `finished` to reach the `accepted` it saw.
    accepted: u64,
    finished: u64,
    /// Set by [`FetchLog::close`]: write what is left, then stop.
    closing: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the writer (records, or closing).
    work: Condvar,
    /// Wakes flushers (a batch finished).
    progress: Condvar,
    capacity: usize,
    stats: Arc<FetchLogStats>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The bounded queue and its writer thread.
#[derive(Debug)]
pub struct FetchLog {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl FetchLog {
    /// Starts the writer over `store`, holding at most `capacity` records.
    pub fn start(store: Arc<dyn Store + Send + Sync>, capacity: usize) -> FetchLog {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            capacity: capacity.max(1),
            stats: Arc::new(FetchLogStats::default()),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("autoprov-fetch-log".into())
            .spawn(move || run(&worker, store.as_ref()));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                // No writer: every record is dropped and counted.
                tracing::error!(error = %e, "cannot start the fetch-record writer");
                shared.lock().closing = true;
                None
            }
        };
        FetchLog {
            shared,
            thread: Mutex::new(thread),
        }
    }

    /// Queues one record; false (and counted) when the queue is full or
    /// closed. Never blocks on the store.
    pub fn submit(&self, record: FetchRecord) -> bool {
        let s = &self.shared;
        let mut q = s.lock();
        if q.closing || q.items.len() >= s.capacity {
            drop(q);
            s.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let was_empty = q.items.is_empty();
        q.items.push_back(record);
        q.accepted += 1;
        s.stats
            .queued
            .store(q.items.len() as u64, Ordering::Relaxed);
        drop(q);
        // The writer only sleeps on an empty queue: one wake-up per batch,
        // not per request.
        if was_empty {
            s.work.notify_one();
        }
        true
    }

    /// Waits until every record submitted before this call is written, or
    /// `within` passed; true if it was. Blocking: call it off the async
    /// workers.
    pub fn flush(&self, within: Duration) -> bool {
        let s = &self.shared;
        let deadline = Instant::now() + within;
        let mut q = s.lock();
        let target = q.accepted;
        while q.finished < target {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            q = s
                .progress
                .wait_timeout(q, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Records waiting to be written.
    pub fn depth(&self) -> usize {
        self.shared.lock().items.len()
    }

    /// The counters `/metrics` shows.
    pub fn stats(&self) -> Arc<FetchLogStats> {
        self.shared.stats.clone()
    }

    /// Writes what is queued, then stops the writer; later records are
    /// dropped. Blocking; safe to call more than once.
    pub fn close(&self) {
        self.shared.lock().closing = true;
        self.shared.work.notify_one();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread
            && t.join().is_err()
        {
            tracing::error!("the fetch-record writer panicked");
        }
    }
}

impl Drop for FetchLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer: takes what is queued, writes it, repeats; returns once
/// closing and empty.
fn run(shared: &Shared, store: &(dyn Store + Send + Sync)) {
    loop {
        let batch: Vec<FetchRecord> = {
            let mut q = shared.lock();
            while q.items.is_empty() && !q.closing {
                q = shared.work.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            if q.items.is_empty() {
                return;
            }
            let n = q.items.len().min(MAX_BATCH);
            let batch = q.items.drain(..n).collect();
            shared
                .stats
                .queued
                .store(q.items.len() as u64, Ordering::Relaxed);
            batch
        };
        let n = batch.len() as u64;
        let written = write_batch(store, batch);
        shared.stats.written.fetch_add(written, Ordering::Relaxed);
        shared.lock().finished += n;
        shared.progress.notify_all();
    }
}

/// Writes one batch, the records of each MAC together and in order;
/// returns how many were written. A failing phone is logged and skipped.
pub fn write_batch(store: &(dyn Store + Send + Sync), batch: Vec<FetchRecord>) -> u64 {
    let mut order: Vec<Mac> = Vec::new();
    let mut by_mac: HashMap<Mac, Vec<FetchRecord>> = HashMap::new();
    for r in batch {
        by_mac
            .entry(r.mac)
            .or_insert_with(|| {
                order.push(r.mac);
                Vec::new()
            })
            .push(r);
    }
    let mut written = 0;
    for mac in order {
        let Some(records) = by_mac.remove(&mac) else {
            continue;
        };
        let n = records.len() as u64;
        match write_phone(store, mac, &records) {
            Ok(true) => written += n,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(mac = %mac.colon(), error = %e, "cannot record the phone's fetches")
            }
        }
    }
    written
}

/// One phone's records: one state update, then its events under the
/// numbers that update gave them. False for a MAC no phone has.
fn write_phone(
    store: &(dyn Store + Send + Sync),
    mac: Mac,
    records: &[FetchRecord],
) -> Result<bool, StoreError> {
    if !records.iter().any(|r| r.known) && store.user_by_mac(mac)?.is_none() {
        return Ok(false);
    }
    let events = records.iter().filter(|r| r.event.is_some()).count() as u64;
    // Decided beforehand; the update may run more than once and only sets.
    let state = store.update_phone_state(mac, &mut |state: &mut PhoneState| {
        for r in records {
            state.last_fetch = Some(r.fetch.clone());
            if let Some(e) = &r.event {
                state.push_fetch(e);
            }
            if r.learned_model.is_some() {
                state.learned_model = r.learned_model.clone();
            }
            if r.learned_firmware.is_some() {
                state.firmware = r.learned_firmware.clone();
            }
        }
    })?;
    // The update numbered this batch's events last..=fetch_seq, in order.
    let first = state.fetch_seq + 1 - events;
    for (seq, e) in (first..).zip(records.iter().filter_map(|r| r.event.as_ref())) {
        store.put_fetch_event(mac, seq, e)?;
    }
    Ok(true)
}

#[cfg(test)]
pub(crate) mod tests;
