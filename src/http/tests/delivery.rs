//! What a phone gets: the bootstrap over plain HTTP, the full file over
//! HTTPS, `/ca.pem`, the identical 404 for every refusal (unknown MAC,
//! source outside `policy.allow`, User-Agent of another phone), HEAD, the
//! 405 for other methods, and the fetch record and counters.

use super::*;

#[tokio::test]
async fn plain_http_gets_the_bootstrap_and_https_the_full_file() {
    let fx = Fixture::new("");
    let logs = capture_logs();
    let full = fx.send(https(ALICE).ua(UA)).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(full.header("cache-control"), Some("no-store"));
    assert!(
        full.body
            .contains(&format!("account.1.password = {SIP_PASSWORD}"))
    );

    let boot = fx.send(http(ALICE).ua(UA)).await;
    assert_eq!(boot.status, 200);
    assert!(!boot.body.contains(SIP_PASSWORD), "{}", boot.body);
    assert!(!boot.body.contains("account.1.password"));
    let url = |text: &str, key: &str| yealink_value(text, key).unwrap();
    assert_eq!(
        url(&boot.body, "static.auto_provision.server.url"),
        "https://127.0.0.1:8443/"
    );
    // The Host the phone used becomes the HTTPS host, and the host the CA
    // is fetched from; a Host that is no host name is ignored.
    let cases = [
        (
            "localhost:8080",
            "https://localhost:8443/",
            "http://localhost:8080/ca.pem",
        ),
        (
            "[fd00::1]:8080",
            "https://[fd00::1]:8443/",
            "http://[fd00::1]:8080/ca.pem",
        ),
        (
            "evil/path",
            "https://127.0.0.1:8443/",
            "http://127.0.0.1:8080/ca.pem",
        ),
    ];
    for (host, server_url, ca_url) in cases {
        let b = fx.send(http(ALICE).ua(UA).host(host)).await.body;
        assert_eq!(
            url(&b, "static.auto_provision.server.url"),
            server_url,
            "{host}"
        );
        assert_eq!(url(&b, "static.trusted_certificates.url"), ca_url, "{host}");
    }
    // Files without secrets are the same on both listeners.
    let boot_file = "/805ec0123456.boot";
    assert_eq!(
        fx.send(http(boot_file).ua(UA)).await,
        fx.send(https(boot_file).ua(UA)).await
    );
    assert!(!logs.text().contains(SIP_PASSWORD));
}

#[tokio::test]
async fn the_bootstrap_points_at_the_configured_https_url() {
    let fx = Fixture::new("[provision]\nhttps_url = \"https://prov.example.com:9443/\"\n");
    let boot = fx.send(http(ALICE).ua(UA).host("10.0.0.1:8080")).await;
    assert_eq!(
        yealink_value(&boot.body, "static.auto_provision.server.url").as_deref(),
        Some("https://prov.example.com:9443/")
    );
    assert!(!boot.body.contains(SIP_PASSWORD));
}

#[tokio::test]
async fn secrets_over_http_only_when_asked() {
    for (config, tweak) in [
        ("[provision]\nallow_secrets_over_http = true\n", false),
        ("", true),
    ] {
        let fx = Fixture::build(config, &[], |o| {
            o.allow_secrets_over_http |= tweak;
        });
        let plain = fx.send(http(ALICE).ua(UA)).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.body, fx.send(https(ALICE).ua(UA)).await.body);
        assert!(
            plain
                .body
                .contains(&format!("account.1.password = {SIP_PASSWORD}"))
        );
    }
}

#[tokio::test]
async fn ca_pem_is_public_on_both_listeners_but_allow_listed() {
    // Even where credentials are required: a phone needs the CA first.
    let fx = Fixture::new(AUTH_CONFIG);
    let pem = fx.phone_ca_pem();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    for req in [https("/ca.pem"), http("/ca.pem")] {
        let a = fx.send(req).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.content_type(), Some("application/x-pem-file"));
        assert_eq!(a.header("cache-control"), Some("no-store"));
        assert_eq!(a.body, pem);
    }
    let head = fx.send(http("/ca.pem").method("HEAD")).await;
    assert_eq!(head.short(), (200, ""));
    assert_eq!(
        head.header("content-length"),
        Some(pem.len().to_string().as_str())
    );
    // Outside the allow-list (loopback and private ranges): the usual 404.
    let refused = fx.send(http("/ca.pem").from("8.8.8.8")).await;
    assert_eq!(refused.short(), (404, "not found\n"));
}

#[tokio::test]
async fn refusals_all_look_like_an_unknown_mac() {
    let fx = Fixture::new("");
    let unknown = fx.send(https(NOBODY)).await;
    assert_eq!(unknown.short(), (404, "not found\n"));
    assert_eq!(unknown.content_type(), Some("text/plain; charset=utf-8"));
    let other_ua = "Yealink SIP-T54W 96.86.0.100 80:5e:c0:ab:cd:ef";
    let refused = [
        https(ALICE).ua(other_ua),
        http(ALICE).ua(other_ua),
        https("/805ec0123456.boot").ua(other_ua),
        https("/../etc/passwd"),
        https("/%2e%2e%2fetc%2fpasswd"),
        https("/%2e%2e%2f805ec0123456.cfg"),
        https("/..%2f..%2fetc%2fpasswd"),
        https("/certs/ca.key"),
        https("/certs/server.key"),
        https("/ca.key"),
        https("/"),
        http("/805ec0123456.cfg.bak"),
        http("/y00000000096.cfg"),
        // A Polycom phone: no such Polycom file.
        http("/0004f2aabbcc.boot"),
        // An upload name is not fetched.
        http("/0004f2aabbcc-app.log"),
    ];
    for req in refused {
        assert_eq!(fx.send(req.clone()).await, unknown, "{req:?}");
    }
    // The right MAC with a matching UA, with none, and upper-case.
    for req in [
        https(ALICE).ua(UA),
        https(ALICE),
        https("/805EC0123456.cfg").ua(UA),
    ] {
        assert_eq!(fx.send(req.clone()).await.status, 200, "{req:?}");
    }
}

#[tokio::test]
async fn sources_outside_the_allow_list_get_the_same_404() {
    let fx = Fixture::new("[policy]\nallow = [\"10.0.0.0/8\", \"fc00::/7\"]\n");
    let logs = capture_logs();
    let unknown = fx.send(https(NOBODY).from("10.1.2.3")).await;
    assert_eq!(unknown.short(), (404, "not found\n"));
    let table = [
        // (source, allowed)
        ("127.0.0.1", false),
        ("192.168.1.10", false),
        ("11.0.0.1", false),
        ("2001:db8::1", false),
        ("::ffff:8.8.8.8", false),
        ("10.1.2.3", true),
        ("10.255.255.254", true),
        ("::ffff:10.0.0.7", true),
        ("fd00::17", true),
    ];
    for (source, allowed) in table {
        for req in [https(ALICE), http(ALICE), https(COMMON)] {
            let a = fx.send(req.ua(UA).from(source)).await;
            if allowed {
                assert_eq!(a.status, 200, "{source}");
            } else {
                assert_eq!(a, unknown, "{source}");
            }
        }
    }
    assert!(logs.text().contains("source not in policy.allow"));
    // ... and the refused fetch is in the phone's record.
    fx.settle();
    let state = fx
        .store
        .phone_state(crate::domain::mac::Mac::parse("805ec0123456").unwrap())
        .unwrap()
        .unwrap();
    let last = state.last_fetch.unwrap();
    assert_eq!((last.status, last.ip.as_str()), (200, "fd00::17"));
    fx.send(http(ALICE).ua(UA).from("192.168.1.10")).await;
    fx.settle();
    let state = fx
        .store
        .phone_state(crate::domain::mac::Mac::parse("805ec0123456").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(state.last_fetch.unwrap().status, 404);
}

#[tokio::test]
async fn head_answers_the_get_headers_without_a_body() {
    let fx = Fixture::new("");
    for (path, status) in [(ALICE, 200), (NOBODY, 404), (COMMON, 200)] {
        let get = fx.send(https(path).ua(UA)).await;
        let head = fx.send(https(path).ua(UA).method("HEAD")).await;
        assert_eq!((get.status, head.status), (status, status), "{path}");
        assert_eq!(head.body, "", "{path}");
        assert_eq!(head.content_type(), get.content_type(), "{path}");
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn other_methods_get_a_405() {
    let fx = Fixture::new("");
    let logs = capture_logs();
    let table = [
        https(ALICE).method("POST"),
        https(ALICE).method("DELETE"),
        http(ALICE).method("OPTIONS"),
        https(ALICE).put("x=1"),
        http(COMMON).put("x=1"),
        // A PUT of an upload name from outside the allow-list.
        http("/0004f2aabbcc-app.log").put("log").from("8.8.8.8"),
    ];
    for req in table {
        let a = fx.send(req.clone()).await;
        assert_eq!(
            a.short(),
            (405, "only GET and HEAD are served\n"),
            "{req:?}"
        );
        assert_eq!(a.header("allow"), Some("GET, HEAD"));
        assert_eq!(a.content_type(), Some("text/plain; charset=utf-8"));
    }
    assert!(logs.text().contains("not accepted"));
    // None of these is a miss or a record.
    assert!(fx.metrics.render().contains("autoprov_bans_total 0\n"));
}

#[tokio::test]
async fn fetches_are_recorded_and_counted() {
    let fx = Fixture::new("");
    let alice = crate::domain::mac::Mac::parse("805ec0123456").unwrap();
    assert!(fx.store.phone_state(alice).unwrap().is_none());
    assert_eq!(fx.send(https(ALICE).ua(UA)).await.status, 200);
    fx.settle();
    let state = fx.store.phone_state(alice).unwrap().unwrap();
    let last = state.last_fetch.unwrap();
    assert_eq!(
        (
            last.status,
            last.ip.as_str(),
            last.file.as_str(),
            last.user_agent.as_str()
        ),
        (200, "127.0.0.1", "805ec0123456.cfg", UA)
    );
    assert_eq!(state.learned_model.as_deref(), Some("t54w"));
    assert_eq!(state.firmware.as_deref(), Some("96.86.0.100"));
    // Strangers' MACs are not recorded; refusals are counted as unknown.
    fx.send(https(NOBODY)).await;
    let nobody = crate::domain::mac::Mac::parse("805ec0000001").unwrap();
    fx.settle();
    assert!(fx.store.phone_state(nobody).unwrap().is_none());
    fx.send(http(ALICE).ua(UA).method("HEAD")).await;
    let metrics = fx.metrics.render();
    for line in [
        "autoprov_config_fetches_total{vendor=\"yealink\",status=\"200\"} 2\n",
        "autoprov_config_fetches_total{vendor=\"unknown\",status=\"404\"} 1\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
