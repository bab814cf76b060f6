//! The writer over a memory store: records land coalesced and in order,
//! strangers are not recorded, passwords survive, a full queue drops and
//! counts without blocking, and closing writes what is queued.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{FetchLog, FetchRecord};
use crate::domain::mac::Mac;
use crate::domain::secret::PhonePasswords;
use crate::domain::{Lease, Site, User};
use crate::store::{
    ChangeSet, Fetch, FetchEvent, FetchKind, ImportRecord, MemoryStore, PhoneState, Snapshot,
    Store, StoreError,
};

const ALICE: &str = "805ec0123456";

fn mac(s: &str) -> Mac {
    Mac::parse(s).unwrap()
}

/// The example users in a memory store.
fn store() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let config = crate::config::Config::default();
    store.put_sites(&config.sites).unwrap();
    let csv = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/users.csv")).unwrap();
    let opts = crate::import::ImportOptions::upsert("users.csv");
    let outcome = crate::import::run(store.as_ref(), &config, csv, &opts, None).unwrap();
    assert_eq!(outcome.exit_code, 0, "{}", outcome.report.to_text());
    store
}

fn rec(m: &str, file: &str, known: bool) -> FetchRecord {
    FetchRecord {
        mac: mac(m),
        fetch: Fetch {
            time: "2026-12-02T10:00:00Z".into(),
            ip: "10.0.0.7".into(),
            user_agent: "Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56".into(),
            file: file.into(),
            status: 200,
            channel: Some("https".into()),
        },
        event: Some(FetchEvent {
            time: "2026-12-02T10:00:00Z".into(),
            file: file.into(),
            channel: "https".into(),
            status: 200,
            kind: FetchKind::Other,
            reason: None,
            model: Some("t54w".into()),
            firmware: None,
        }),
        learned_model: Some("t54w".into()),
        learned_firmware: Some("96.86.0.100".into()),
        known,
    }
}

#[test]
fn records_land_in_order_and_keep_the_passwords() {
    let store = store();
    let pw = PhonePasswords::generate();
    store
        .update_phone_state(mac(ALICE), &mut |s| s.passwords = Some(pw.clone()))
        .unwrap();
    let log = FetchLog::start(store.clone(), 64);
    for file in ["a.cfg", "b.cfg", "c.cfg"] {
        assert!(log.submit(rec(ALICE, file, false)));
    }
    assert!(log.flush(Duration::from_secs(5)));
    let state = store.phone_state(mac(ALICE)).unwrap().unwrap();
    assert_eq!(state.last_fetch.unwrap().file, "c.cfg");
    assert_eq!(state.fetch_seq, 3);
    assert_eq!(state.learned_model.as_deref(), Some("t54w"));
    assert_eq!(
        state.passwords,
        Some(pw),
        "a fetch record overwrote the passwords"
    );
    let files: Vec<String> = store
        .fetch_events(mac(ALICE))
        .unwrap()
        .into_iter()
        .map(|e| e.file)
        .collect();
    assert_eq!(files, ["a.cfg", "b.cfg", "c.cfg"]);
    assert_eq!(log.stats().written.load(Ordering::Relaxed), 3);
}

#[test]
fn strangers_are_not_recorded() {
    let store = store();
    let log = FetchLog::start(store.clone(), 64);
    let stranger = "805ec0000001";
    assert!(log.submit(rec(stranger, "x.cfg", false)));
    assert!(log.flush(Duration::from_secs(5)));
    assert!(store.phone_state(mac(stranger)).unwrap().is_none());
    assert_eq!(log.stats().written.load(Ordering::Relaxed), 0);
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let slow = Arc::new(Slow::new(store()));
    let log = FetchLog::start(slow.clone(), 4);
    // The writer takes the first record and is held in the store.
    assert!(log.submit(rec(ALICE, "first.cfg", true)));
    slow.wait_until_entered();
    let start = Instant::now();
    let accepted = (0..100)
        .filter(|i| log.submit(rec(ALICE, &format!("{i}.cfg"), true)))
        .count();
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "submitting blocked for {:?}",
        start.elapsed()
    );
    assert_eq!(accepted, 4);
    assert_eq!(log.stats().dropped.load(Ordering::Relaxed), 96);
    assert_eq!(log.stats().queued.load(Ordering::Relaxed), 4);
    assert!(
        !log.flush(Duration::from_millis(50)),
        "flush cannot finish while held"
    );
    slow.release();
    assert!(log.flush(Duration::from_secs(5)));
    let state = slow.inner.phone_state(mac(ALICE)).unwrap().unwrap();
    assert_eq!(state.fetch_seq, 5);
    assert_eq!(state.last_fetch.unwrap().file, "3.cfg");
}

#[test]
fn closing_writes_what_is_queued() {
    let store = store();
    let log = FetchLog::start(store.clone(), 1024);
    for i in 0..200 {
        assert!(log.submit(rec(ALICE, &format!("{i}.cfg"), true)));
    }
    log.close();
    assert_eq!(
        store.phone_state(mac(ALICE)).unwrap().unwrap().fetch_seq,
        200
    );
    assert!(!log.submit(rec(ALICE, "late.cfg", true)), "closed");
}

/// A store whose state updates wait for [`Slow::release`] (a store far
/// slower than the requests), 10 s at most.
pub(crate) struct Slow {
    pub inner: Arc<MemoryStore>,
    gate: Mutex<(bool, bool)>,
    cv: Condvar,
}

impl Slow {
    pub fn new(inner: Arc<MemoryStore>) -> Slow {
        Slow {
            inner,
            gate: Mutex::new((false, false)),
            cv: Condvar::new(),
        }
    }

    pub fn wait_until_entered(&self) {
        let g = self.gate.lock().unwrap();
        let _g = self
            .cv
            .wait_timeout_while(g, Duration::from_secs(5), |g| !g.0)
            .unwrap();
    }

    pub fn release(&self) {
        self.gate.lock().unwrap().1 = true;
        self.cv.notify_all();
    }
}

impl Store for Slow {
    fn update_phone_state(
        &self,
        mac: Mac,
        f: &mut dyn FnMut(&mut PhoneState),
    ) -> Result<PhoneState, StoreError> {
        let mut g = self.gate.lock().unwrap();
        g.0 = true;
        self.cv.notify_all();
        // Let go after a while anyway, so a failing test fails instead of
        // hanging in the writer's join.
        let g = self
            .cv
            .wait_timeout_while(g, Duration::from_secs(10), |g| !g.1)
            .unwrap()
            .0;
        drop(g);
        self.inner.update_phone_state(mac, f)
    }
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.inner.snapshot()
    }
    fn apply(&self, g: u64, c: ChangeSet, r: &ImportRecord) -> Result<(), StoreError> {
        self.inner.apply(g, c, r)
    }
    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.inner.users()
    }
    fn for_each_user(&self, f: &mut dyn FnMut(User)) -> Result<(), StoreError> {
        self.inner.for_each_user(f)
    }
    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.inner.user(name)
    }
    fn user_by_mac(&self, mac: Mac) -> Result<Option<User>, StoreError> {
        self.inner.user_by_mac(mac)
    }
    fn sites(&self) -> Result<Vec<Site>, StoreError> {
        self.inner.sites()
    }
    fn put_sites(&self, sites: &[Site]) -> Result<(), StoreError> {
        self.inner.put_sites(sites)
    }
    fn history(&self) -> Result<Vec<ImportRecord>, StoreError> {
        self.inner.history()
    }
    fn record_run(&self, r: &ImportRecord) -> Result<(), StoreError> {
        self.inner.record_run(r)
    }
    fn phone_state(&self, mac: Mac) -> Result<Option<PhoneState>, StoreError> {
        self.inner.phone_state(mac)
    }
    fn put_phone_state(&self, mac: Mac, s: &PhoneState) -> Result<(), StoreError> {
        self.inner.put_phone_state(mac, s)
    }
    fn put_fetch_event(&self, mac: Mac, seq: u64, e: &FetchEvent) -> Result<(), StoreError> {
        self.inner.put_fetch_event(mac, seq, e)
    }
    fn fetch_events(&self, mac: Mac) -> Result<Vec<FetchEvent>, StoreError> {
        self.inner.fetch_events(mac)
    }
    fn bump_config_versions(&self, names: &[String]) -> Result<usize, StoreError> {
        self.inner.bump_config_versions(names)
    }
    fn generation(&self) -> Result<u64, StoreError> {
        self.inner.generation()
    }
    fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        self.inner.leases()
    }
    fn put_leases(&self, l: &[Lease]) -> Result<(), StoreError> {
        self.inner.put_leases(l)
    }
}
