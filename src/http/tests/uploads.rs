//! Polycom log uploads: only PUTs of a vendor's upload name by a known
//! phone of that vendor are stored; they are challenged like fetches.

use super::*;

const BOB_LOG: &str = "/0004f2aabbcc-app.log";

impl Fixture {
    fn stored(&self, mac: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.data.join("uploads").join(mac).join(file)).ok()
    }
}

#[tokio::test]
async fn uploads_are_challenged_like_fetches() {
    let fx = Fixture::new(AUTH_CONFIG);
    let logs = capture_logs();
    let put = || https(BOB_LOG).put("boot log line");
    let bare = fx.send(put()).await;
    assert_eq!(bare.status, 401);
    assert_eq!(bare.challenges().len(), 3);
    assert_eq!(fx.with_digest(put(), "prov:wrong").await.status, 401);
    assert!(logs.text().contains("refused upload: bad credentials"));
    assert_eq!(fx.stored("0004f2aabbcc", "0004f2aabbcc-app.log"), None);
    let up = format!("prov:{NEW}");
    let ok = fx.with_digest(put(), &up).await;
    assert_eq!(ok.short(), (204, ""));
    assert_eq!(
        fx.stored("0004f2aabbcc", "0004f2aabbcc-app.log").as_deref(),
        Some("boot log line")
    );
    // Authenticated, but not an upload name: still a 405.
    let cfg_put = fx
        .with_digest(https("/0004f2aabbcc-phone.cfg").put("x"), &up)
        .await;
    assert_eq!(cfg_put.status, 405);
    assert_eq!(cfg_put.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn only_known_phones_of_the_vendor_may_upload() {
    let fx = Fixture::new("");
    let logs = capture_logs();
    let too_large = vec![b'x'; 1024 * 1024 + 1];
    let table: [(&str, Req, u16); 7] = [
        ("a known Polycom phone", http(BOB_LOG).put("log 1"), 204),
        (
            "over HTTPS too",
            https("/0004f2aabbcc-boot.log").put("boot"),
            204,
        ),
        ("over 1 MiB", http(BOB_LOG).put(too_large), 413),
        (
            "an unknown MAC",
            http("/0004f2000001-app.log").put("x"),
            405,
        ),
        (
            "a Yealink phone",
            http("/805ec0123456-app.log").put("x"),
            405,
        ),
        (
            "a User-Agent naming another MAC",
            http(BOB_LOG).put("x").ua(UA),
            405,
        ),
        (
            "a file name",
            http("/0004f2aabbcc-app.log.bak").put("x"),
            405,
        ),
    ];
    for (what, req, status) in table {
        assert_eq!(fx.send(req).await.status, status, "{what}");
    }
    // The 413 left the first upload alone.
    assert_eq!(
        fx.stored("0004f2aabbcc", "0004f2aabbcc-app.log").as_deref(),
        Some("log 1")
    );
    assert_eq!(
        fx.stored("0004f2aabbcc", "0004f2aabbcc-boot.log")
            .as_deref(),
        Some("boot")
    );
    assert_eq!(fx.send(http(BOB_LOG).put("")).await.status, 204);
    assert!(logs.text().contains("upload too large or too slow"));
    // The upload is the phone's last fetch.
    let bob = crate::domain::mac::Mac::parse("0004f2aabbcc").unwrap();
    fx.settle();
    let last = fx
        .store
        .phone_state(bob)
        .unwrap()
        .unwrap()
        .last_fetch
        .unwrap();
    assert_eq!(
        (last.status, last.file.as_str()),
        (204, "0004f2aabbcc-app.log")
    );
}

#[tokio::test]
async fn without_an_upload_directory_every_put_is_a_405() {
    let fx = Fixture::build("", &[], |o| o.uploads = None);
    let a = fx.send(http(BOB_LOG).put("log")).await;
    assert_eq!(a.short(), (405, "only GET and HEAD are served\n"));
    assert!(!fx.data.join("uploads").exists());
}
