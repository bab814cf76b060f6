//! The cache alone: keys, epochs, the byte budget, the validators.

use super::*;
use crate::provision::{Channel, Request};

fn req(path: &str, channel: Channel) -> Request<'_> {
    Request {
        path,
        user_agent: Some("Yealink SIP-T54W 96.86.0.100 80:5e:c0:12:34:56"),
        channel,
        https_url: Some("https://h:8443/"),
        http_url: Some("http://h:8080/"),
    }
}

fn served(body: &str) -> Served {
    Served {
        body: body.as_bytes().to_vec(),
        content_type: "text/plain; charset=utf-8",
        file: "805ec0123456.cfg".into(),
        vendor: "yealink",
        staged: false,
        main: true,
        warnings: Vec::new(),
        settings: Vec::new(),
        firmware: None,
    }
}

fn boot() -> Channel {
    Channel::Bootstrap {
        https_url: "https://h:8443/".into(),
    }
}

#[test]
fn the_channel_and_the_user_agent_are_in_the_key() {
    let secure = Key::of(&req("/805ec0123456.cfg", Channel::Secure));
    let bootstrap = Key::of(&req("/805ec0123456.cfg", boot()));
    assert_ne!(secure, bootstrap);
    let mut other = req("/805ec0123456.cfg", Channel::Secure);
    other.user_agent = Some("Yealink SIP-T54W 96.86.0.110 80:5e:c0:12:34:56");
    assert_ne!(Key::of(&other), secure, "firmware changes the file");
    let cache = RenderCache::new(1 << 20).unwrap();
    let epoch = cache.epoch(1, 0);
    cache.put(secure.clone(), epoch, served("full"), true);
    assert!(cache.get(&bootstrap, epoch).is_none());
    assert_eq!(&cache.get(&secure, epoch).unwrap().body[..], b"full");
}

#[test]
fn a_moved_epoch_is_a_miss() {
    let cache = RenderCache::new(1 << 20).unwrap();
    let key = Key::of(&req("/805ec0123456.cfg", Channel::Secure));
    let epoch = cache.epoch(1, 0);
    cache.put(key.clone(), epoch, served("v1"), true);
    assert!(cache.get(&key, epoch).is_some());
    assert!(cache.get(&key, cache.epoch(2, 0)).is_none(), "generation");
    assert!(cache.get(&key, cache.epoch(1, 1)).is_none(), "refresh");
    cache.invalidate();
    assert!(cache.get(&key, cache.epoch(1, 0)).is_none(), "reset");
    // Rendered while something moved: answered, not kept.
    let now = cache.epoch(1, 0);
    cache.put(key.clone(), now, served("v2"), false);
    assert!(cache.get(&key, now).is_none());
}

#[test]
fn the_budget_holds_and_the_least_recent_go_first() {
    let budget = 64 * 1024;
    let cache = RenderCache::new(budget).unwrap();
    let epoch = cache.epoch(1, 0);
    let body = "x".repeat(1000);
    let keys: Vec<Key> = (0..400)
        .map(|i| Key::of(&req(&format!("/805ec0{i:06x}.cfg"), Channel::Secure)))
        .collect();
    for k in &keys {
        cache.put(k.clone(), epoch, served(&body), true);
        // The first key stays in use.
        assert!(cache.get(&keys[0], epoch).is_some());
    }
    let stats = cache.stats();
    let bytes = stats.bytes.load(Ordering::Relaxed) as usize;
    assert!(bytes <= budget, "{bytes} > {budget}");
    let kept = keys
        .iter()
        .filter(|k| cache.get(k, epoch).is_some())
        .count();
    assert!((20..400).contains(&kept), "{kept}");
    assert!(cache.get(&keys[399], epoch).is_some(), "the newest stays");
    assert!(cache.get(&keys[1], epoch).is_none(), "an old one went");
}

#[test]
fn validators() {
    let cache = RenderCache::new(1 << 20).unwrap();
    let key = Key::of(&req("/805ec0123456.cfg", Channel::Secure));
    let e = cache.put(key.clone(), cache.epoch(1, 0), served("v1"), true);
    let tag = e.etag.to_str().unwrap().to_string();
    let (lm, lm_text) = e.last_modified.clone().unwrap();
    let h = |pairs: &[(hyper::header::HeaderName, &str)]| {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.insert(n.clone(), HeaderValue::from_str(v).unwrap());
        }
        m
    };
    assert!(e.not_modified(&h(&[(IF_NONE_MATCH, &tag)])));
    assert!(e.not_modified(&h(&[(IF_NONE_MATCH, &format!("\"a\", W/{tag}"))])));
    assert!(e.not_modified(&h(&[(IF_NONE_MATCH, "*")])));
    assert!(!e.not_modified(&h(&[(IF_NONE_MATCH, "\"a\"")])));
    let date = lm_text.to_str().unwrap();
    assert!(e.not_modified(&h(&[(IF_MODIFIED_SINCE, date)])));
    // If-None-Match wins over the date (RFC 9110 §13.2.2).
    assert!(!e.not_modified(&h(&[(IF_NONE_MATCH, "\"a\""), (IF_MODIFIED_SINCE, date)])));
    let earlier = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(lm - 10));
    assert!(!e.not_modified(&h(&[(IF_MODIFIED_SINCE, &earlier)])));
    assert!(!e.not_modified(&HeaderMap::new()));

    // Re-rendered after an epoch change: the same bytes keep their date;
    // other bytes in the same second get none (a date could not tell).
    let same = cache.put(key.clone(), cache.epoch(2, 0), served("v1"), true);
    assert_eq!(same.last_modified.as_ref().map(|l| l.0), Some(lm));
    let changed = cache.put(key, cache.epoch(3, 0), served("v2"), true);
    if now_secs() == lm {
        assert!(changed.last_modified.is_none());
    }
    assert_ne!(changed.etag, same.etag);
    assert!(!changed.not_modified(&h(&[(IF_NONE_MATCH, &tag)])));
}
