//! The render cache inside the pipeline: the key keeps the plain-HTTP
//! bootstrap and the HTTPS full file apart (and one phone's file from
//! another's), access checks still run on a warm cache, a change in the
//! store (an import, a password rotation) reaches the next response, and a
//! client holding the current bytes gets a 304. Plus the fetch-record
//! queue's counters in `/metrics`.

use super::*;
use crate::domain::mac::Mac;

fn hits(fx: &Fixture) -> u64 {
    metric(fx, "autoprov_render_cache_hits_total")
}

fn metric(fx: &Fixture, name: &str) -> u64 {
    let text = fx.metrics.render();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_bootstrap_never_gets_the_full_file_from_the_cache() {
    let fx = Fixture::new("");
    // Warm with the full file, then ask over plain HTTP, twice each.
    for _ in 0..2 {
        let full = fx.send(https(ALICE).ua(UA)).await;
        assert!(full.body.contains(SIP_PASSWORD));
        let boot = fx.send(http(ALICE).ua(UA)).await;
        assert_eq!(boot.status, 200);
        assert!(!boot.body.contains(SIP_PASSWORD), "{}", boot.body);
        assert!(!boot.body.contains("account.1.password"));
    }
    assert_eq!(hits(&fx), 2, "the second round came from the cache");
    // The same on a fresh cache warmed the other way round.
    let fx = Fixture::new("");
    for _ in 0..2 {
        let boot = fx.send(http(ALICE).ua(UA)).await;
        assert!(!boot.body.contains(SIP_PASSWORD));
        let full = fx.send(https(ALICE).ua(UA)).await;
        assert!(full.body.contains(SIP_PASSWORD));
    }
    assert_eq!(hits(&fx), 2);
}

#[tokio::test]
async fn a_bootstrap_for_another_host_is_rendered_for_that_host() {
    let fx = Fixture::new("");
    let a = fx.send(http(ALICE).ua(UA).host("prov-a:8080")).await;
    let b = fx.send(http(ALICE).ua(UA).host("prov-b:8080")).await;
    let url = |t: &str| yealink_value(t, "static.auto_provision.server.url");
    assert_eq!(url(&a.body).as_deref(), Some("https://prov-a:8443/"));
    assert_eq!(url(&b.body).as_deref(), Some("https://prov-b:8443/"));
    assert_eq!(hits(&fx), 0);
}

#[tokio::test]
async fn refused_requesters_stay_refused_with_a_warm_cache() {
    let fx = Fixture::new("[policy]\nallow = [\"127.0.0.0/8\"]\n");
    assert_eq!(fx.send(https(ALICE).ua(UA)).await.status, 200);
    assert_eq!(fx.send(https(ALICE).ua(UA)).await.status, 200);
    assert_eq!(hits(&fx), 1);
    let unknown = fx.send(https(NOBODY).ua(UA)).await;
    // Outside the allow-list; another phone's User-Agent: the one 404.
    let outside = fx.send(https(ALICE).ua(UA).from("192.0.2.9")).await;
    assert_eq!(outside, unknown);
    let other = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:ab:cd:01";
    assert_eq!(fx.send(https(ALICE).ua(other)).await, unknown);

    // With credentials: a warm cache still challenges the next client.
    let fx = Fixture::new(AUTH_CONFIG);
    let ok = fx
        .with_digest(https(ALICE).ua(UA), "prov:Prov-New-Secret-2")
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains(SIP_PASSWORD));
    let again = fx
        .with_digest(https(ALICE).ua(UA), "prov:Prov-New-Secret-2")
        .await;
    assert_eq!(again.body, ok.body);
    assert_eq!(hits(&fx), 1);
    assert_eq!(fx.send(https(ALICE).ua(UA)).await.status, 401);
    let wrong = fx.with_digest(https(ALICE).ua(UA), "prov:wrong").await;
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains(SIP_PASSWORD));
}

#[tokio::test]
async fn an_import_and_a_rotation_reach_the_next_response() {
    let fx = Fixture::new("");
    let before = fx.send(https(ALICE).ua(UA)).await;
    assert!(before.body.contains(SIP_PASSWORD));
    let config = Config::default();
    let csv = "username,extension,sip_password,mac,phone_model\n\
               alice.martin,1001,Alice-New-Sip-2099,80:5e:c0:12:34:56,yealink-t54w\n";
    import(fx.store.as_ref(), &config, csv);
    let after = fx.send(https(ALICE).ua(UA)).await;
    assert!(after.body.contains("Alice-New-Sip-2099"), "{}", after.body);
    assert!(!after.body.contains(SIP_PASSWORD));
    assert_eq!(hits(&fx), 0);

    // The phone's web passwords rotated: the next file carries the new one.
    let admin = |t: &str| yealink_value(t, "static.security.user_password");
    let old = admin(&after.body);
    let mac = Mac::parse("805ec0123456").unwrap();
    crate::provision::lockdown::rotate(fx.store.as_ref(), mac).unwrap();
    fx.store
        .bump_config_versions(&["alice.martin".to_string()])
        .unwrap();
    let rotated = fx.send(https(ALICE).ua(UA)).await;
    assert!(old.is_some());
    assert_ne!(admin(&rotated.body), old, "the rotated password is served");
}

#[tokio::test]
async fn the_current_etag_gets_a_304_and_an_old_one_the_file() {
    let fx = Fixture::new("");
    let first = fx.send(https(ALICE).ua(UA)).await;
    let etag = first.header("etag").expect("an ETag").to_string();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
    let lm = first.header("last-modified").expect("a date").to_string();
    let cond = fx
        .send(
            https(ALICE)
                .ua(UA)
                .header(hyper::header::IF_NONE_MATCH, &etag),
        )
        .await;
    assert_eq!(cond.status, 304);
    assert_eq!(cond.body, "");
    assert_eq!(cond.header("etag"), Some(etag.as_str()));
    let since = fx
        .send(
            https(ALICE)
                .ua(UA)
                .header(hyper::header::IF_MODIFIED_SINCE, &lm),
        )
        .await;
    assert_eq!(since.status, 304);
    // Another tag, or the bootstrap's tag on the full file: the file.
    let other = fx
        .send(
            https(ALICE)
                .ua(UA)
                .header(hyper::header::IF_NONE_MATCH, "\"00\""),
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body, first.body);
    let boot = fx.send(http(ALICE).ua(UA)).await;
    let boot_tag = boot.header("etag").unwrap().to_string();
    assert_ne!(boot_tag, etag);
    let crossed = fx
        .send(
            https(ALICE)
                .ua(UA)
                .header(hyper::header::IF_NONE_MATCH, &boot_tag),
        )
        .await;
    assert_eq!(crossed.status, 200);
    assert!(crossed.body.contains(SIP_PASSWORD));
    // A 304 is a fetch: recorded and counted.
    fx.settle();
    let events = fx
        .store
        .fetch_events(Mac::parse("805ec0123456").unwrap())
        .unwrap();
    let statuses: Vec<u16> = events.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [200, 304, 304, 200, 200, 200]);
    let metrics = fx.metrics.render();
    assert!(
        metrics.contains("autoprov_config_fetches_total{vendor=\"yealink\",status=\"304\"} 2\n"),
        "{metrics}"
    );
    assert_eq!(metric(&fx, "autoprov_render_cache_not_modified_total"), 2);
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let fx = Fixture::build("", &[], |o| o.render_cache_bytes = 0);
    let a = fx.send(https(ALICE).ua(UA)).await;
    let b = fx.send(https(ALICE).ua(UA)).await;
    assert_eq!(a.body, b.body);
    assert!(a.header("etag").is_some());
    assert!(a.header("last-modified").is_none());
    assert!(!fx.metrics.render().contains("render_cache"));
}

#[tokio::test]
async fn fetch_records_are_counted_in_metrics() {
    let fx = Fixture::new("");
    for _ in 0..3 {
        fx.send(https(ALICE).ua(UA)).await;
    }
    fx.settle();
    assert_eq!(metric(&fx, "autoprov_fetch_records_written_total"), 3);
    assert_eq!(metric(&fx, "autoprov_fetch_records_dropped_total"), 0);
    assert_eq!(metric(&fx, "autoprov_fetch_records_queued"), 0);
}

#[tokio::test]
async fn a_full_record_queue_drops_and_counts_while_phones_are_served() {
    use crate::app::fetch_log::{FetchLog, tests::Slow};
    let slow = Arc::new(Slow::new(Arc::new(crate::store::MemoryStore::new())));
    let log = Arc::new(FetchLog::start(slow.clone(), 2));
    let fx = Fixture::build("", &[], |o| o.fetch_log = Some(log.clone()));
    // The first record holds the writer in the store; two more wait.
    assert_eq!(fx.send(https(ALICE).ua(UA)).await.status, 200);
    slow.wait_until_entered();
    let start = std::time::Instant::now();
    for _ in 0..10 {
        let a = fx.send(https(ALICE).ua(UA)).await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains(SIP_PASSWORD));
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(metric(&fx, "autoprov_fetch_records_dropped_total"), 8);
    assert_eq!(metric(&fx, "autoprov_fetch_records_queued"), 2);
    slow.release();
    assert!(log.flush(Duration::from_secs(5)));
    assert_eq!(metric(&fx, "autoprov_fetch_records_written_total"), 3);
}
