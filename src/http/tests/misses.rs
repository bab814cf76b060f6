//! Miss throttling and bans through the pipeline: a prober is slowed, then
//! banned (the same 404 for everything, at once), and recovers.

use std::time::Instant;

use super::*;

/// Short times, so the test waits little: 3 misses throttle, 6 ban.
fn quick_guard(o: &mut ServeOptions) {
    o.misses = GuardSettings {
        window: Duration::from_secs(60),
        throttle_after: 3,
        delay: Duration::from_millis(300),
        ban_after: 6,
        ban: Duration::from_millis(800),
        max_sources: 1000,
    };
}

async fn timed(fx: &Fixture, req: Req) -> (u16, Duration) {
    let t = Instant::now();
    (fx.send(req).await.status, t.elapsed())
}

#[tokio::test]
async fn a_miss_flood_is_throttled_then_banned_then_recovers() {
    let fx = Fixture::build("", &[], quick_guard);
    let logs = capture_logs();
    let quick = Duration::from_millis(250);
    // Files no vendor uses are not misses (phones ask for optional ones).
    for _ in 0..5 {
        let (status, took) = timed(&fx, http("/nothing-here.txt")).await;
        assert_eq!(status, 404);
        assert!(took < quick, "{took:?}");
    }
    for i in 0..3 {
        let (status, took) = timed(&fx, http(&format!("/805ec00000{i:02}.cfg"))).await;
        assert_eq!(status, 404);
        assert!(took < quick, "{took:?}");
    }
    // Throttled: still answered, late.
    for i in 3..6 {
        let (status, took) = timed(&fx, http(&format!("/805ec00000{i:02}.cfg"))).await;
        assert_eq!(status, 404);
        assert!(took >= Duration::from_millis(300), "{took:?}");
    }
    // Banned: even the real phone's file is the same 404, answered at once,
    // on either listener.
    let (status, took) = timed(&fx, http(ALICE).ua(UA)).await;
    assert_eq!(status, 404);
    assert!(took < quick, "{took:?}");
    assert_eq!(
        fx.send(https(ALICE).ua(UA)).await,
        fx.send(https(NOBODY)).await
    );
    // Another source is not affected.
    let other = fx.send(http(ALICE).ua(UA).from("127.0.0.2")).await;
    assert_eq!(other.status, 200);
    assert!(logs.text().contains("source banned after too many misses"));
    assert!(fx.metrics.render().contains("autoprov_bans_total 1\n"));
    // The ban ends.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(timed(&fx, http(ALICE).ua(UA)).await.0, 200);
}

#[tokio::test]
async fn a_throttled_source_cannot_parallelise_past_the_delay() {
    let fx = Fixture::build("", &[], |o| {
        quick_guard(o);
        o.misses.throttle_after = 2;
        o.misses.delay = Duration::from_millis(500);
        o.misses.ban_after = 100;
    });
    for i in 0..2 {
        assert_eq!(
            fx.send(http(&format!("/805ec00000{i:02}.cfg")))
                .await
                .status,
            404
        );
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let pipeline = fx.pipeline.clone();
        tasks.spawn(async move {
            let t = Instant::now();
            let status = send(&pipeline, http(ALICE).ua(UA)).await.status;
            (status, t.elapsed())
        });
    }
    let answers = tasks.join_all().await;
    let served: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
    let turned_away: Vec<_> = answers.iter().filter(|(s, _)| *s == 404).collect();
    assert_eq!(served.len(), 2, "{answers:?}");
    assert!(served.iter().all(|(_, d)| *d >= Duration::from_millis(500)));
    assert_eq!(turned_away.len(), 4, "{answers:?}");
    assert!(
        turned_away
            .iter()
            .all(|(_, d)| *d < Duration::from_millis(300))
    );
}
