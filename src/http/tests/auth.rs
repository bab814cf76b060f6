//! Digest (MD5 and SHA-256, stale and forged nonces, replays) and Basic,
//! credential rotation and site credentials: what
//! `tests/serve_auth.rs` checked with curl.

use std::time::{Duration, SystemTime};

use super::*;

/// Who may not show up in any log line.
const SECRETS: [&str; 6] = [
    SIP_PASSWORD,
    OLD,
    NEW,
    "cHJvdjpQcm92",
    "response=",
    "Digest username",
];

fn assert_no_secrets(logs: &Logs) {
    let text = logs.text();
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}

/// The three challenges of `auth = "any"`, strongest first.
fn assert_any_challenges(a: &Answer) {
    let ch = a.challenges();
    assert_eq!(ch.len(), 3, "{ch:?}");
    assert!(ch[0].contains("algorithm=SHA-256") && ch[0].contains("qop=\"auth\""));
    assert!(ch[1].contains("algorithm=MD5"));
    assert!(ch[2].starts_with("Basic realm=\"autoprov\""));
    assert!(ch.iter().all(|c| !c.contains("stale")), "{ch:?}");
    assert_eq!(a.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(a.body, "authentication required\n");
}

#[tokio::test]
async fn the_challenge_is_the_same_for_every_name() {
    let fx = Fixture::new(AUTH_CONFIG);
    let logs = capture_logs();
    let known = fx.send(https(ALICE).ua(UA)).await;
    assert_eq!(known.status, 401);
    assert_any_challenges(&known);
    // An unknown MAC, a common file and the plain-HTTP listener: the same
    // 401 (only the nonce may differ with the second).
    for req in [
        https(NOBODY).ua(UA),
        https(COMMON).ua(UA),
        http(ALICE).ua(UA),
    ] {
        let other = fx.send(req.clone()).await;
        assert_eq!(other.short(), known.short(), "{req:?}");
        assert_any_challenges(&other);
    }
    assert!(logs.text().contains("authentication challenge"));
    assert!(!logs.text().contains("refused: bad credentials"));
}

#[tokio::test]
async fn every_rotated_credential_opens_the_file_on_both_listeners() {
    let fx = Fixture::new(AUTH_CONFIG);
    let logs = capture_logs();
    let nonce = challenge_param(fx.send(https(ALICE)).await.challenges()[0], "nonce");
    let mut uses = 0u32;
    for pw in [OLD, NEW] {
        let up = format!("prov:{pw}");
        for secure in [true, false] {
            let req = if secure { https(ALICE) } else { http(ALICE) }.ua(UA);
            let mut answers = vec![
                ("curl --digest", fx.with_digest(req.clone(), &up).await),
                ("basic", fx.send(req.clone().basic(&up)).await),
            ];
            for alg in ["MD5", "SHA-256"] {
                // Each hand-made use needs a nonce count of its own.
                uses += 1;
                let h = digest(&DigestInput {
                    alg,
                    nonce: &nonce,
                    user: "prov",
                    password: pw,
                    method: "GET",
                    uri: ALICE,
                    nc: &format!("{uses:08x}"),
                    cnonce: "0a4f113b",
                });
                answers.push((alg, fx.send(req.clone().authorization(&h)).await));
            }
            for (how, a) in answers {
                assert_eq!(a.status, 200, "{pw} {how} secure={secure}: {a:?}");
                assert_eq!(a.content_type(), Some("text/plain; charset=utf-8"));
                // The full file over HTTPS, the bootstrap over HTTP.
                assert_eq!(a.body.contains(SIP_PASSWORD), secure, "{pw} {how}");
            }
        }
    }
    // Another user with a valid password, and credentials on an unknown
    // MAC (the usual 404).
    let fleet2 = fx.with_digest(https(ALICE), &format!("fleet2:{NEW}")).await;
    assert_eq!(fleet2.status, 200);
    let miss = fx.with_digest(https(NOBODY), &format!("prov:{NEW}")).await;
    assert_eq!(miss.short(), (404, "not found\n"));
    assert_no_secrets(&logs);
}

#[tokio::test]
async fn wrong_credentials_are_challenged_again() {
    let fx = Fixture::new(AUTH_CONFIG);
    let logs = capture_logs();
    let nonce = challenge_param(fx.send(https(ALICE)).await.challenges()[0], "nonce");
    let forged = format!("{}{}", &nonce[..16], "ab".repeat(16));
    let mut cases: Vec<(String, Req)> = Vec::new();
    for bad in ["prov:wrong-password", "nobody:Prov-New-Secret-2"] {
        cases.push((format!("basic {bad}"), https(ALICE).basic(bad)));
        let h = digest_get("SHA-256", &nonce, bad, ALICE);
        cases.push((format!("digest {bad}"), https(ALICE).authorization(&h)));
    }
    let up = format!("prov:{NEW}");
    for alg in ["MD5", "SHA-256"] {
        // Right credentials, computed for another file than the one asked.
        let h = digest_get(alg, &nonce, &up, ALICE);
        cases.push((
            format!("{alg} for another uri"),
            https("/805ec0123457.cfg").authorization(&h),
        ));
    }
    // A forged nonce (right shape, wrong HMAC).
    let h = digest_get("MD5", &forged, &up, ALICE);
    cases.push(("forged nonce".into(), https(ALICE).authorization(&h)));
    for junk in [
        "Digest",
        "Digest username=\"prov, realm=",
        "Digest nonce=\"\u{00e9}\"",
        "Basic %%%",
        "Basic cHJvdg==",
        "Bearer x",
    ] {
        cases.push((format!("junk {junk}"), https(ALICE).authorization(junk)));
    }
    for (what, req) in cases {
        let a = fx.send(req.ua(UA)).await;
        assert_eq!(a.status, 401, "{what}");
        assert_any_challenges(&a);
        assert!(!a.body.contains(SIP_PASSWORD), "{what}");
    }
    let text = logs.text();
    assert!(text.contains("refused: bad credentials"), "{text}");
    assert!(text.contains("forged or unknown nonce"), "{text}");
    assert_no_secrets(&logs);
}

#[tokio::test]
async fn an_expired_nonce_is_stale_and_a_fresh_one_works() {
    let fx = Fixture::new(AUTH_CONFIG);
    let logs = capture_logs();
    // nonce_seconds = 2: a nonce made 3.1 s ago has expired.
    let auth = fx.policy.auth().unwrap();
    let old = auth.nonce(SystemTime::now() - Duration::from_millis(3100));
    let up = format!("prov:{NEW}");
    let h = digest_get("MD5", &old, &up, ALICE);
    let r = fx.send(https(ALICE).authorization(&h)).await;
    assert_eq!(r.status, 401);
    let fresh = r.challenges();
    assert_eq!(fresh.len(), 3, "{fresh:?}");
    assert!(fresh[0].contains("stale=true"), "{fresh:?}");
    assert!(fresh[1].contains("stale=true"), "{fresh:?}");
    assert!(!fresh[2].contains("stale"), "{fresh:?}");
    let nonce = challenge_param(fresh[0], "nonce");
    assert_ne!(nonce, old);
    let h = digest_get("SHA-256", &nonce, &up, ALICE);
    let ok = fx.send(https(ALICE).authorization(&h)).await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains(SIP_PASSWORD));
    // Stale is a challenge, not a miss.
    assert!(!logs.text().contains("refused: bad credentials"));
    assert_no_secrets(&logs);
}

#[tokio::test]
async fn a_replayed_digest_header_is_refused_and_a_fresh_count_accepted() {
    let fx = Fixture::new(&format!(
        "[[policy.credentials]]\nuser = \"prov\"\npassword = \"{NEW}\"\n"
    ));
    let logs = capture_logs();
    let challenge = fx.send(https(ALICE).ua(UA)).await;
    assert_eq!(challenge.status, 401);
    let nonce = challenge_param(challenge.challenges()[0], "nonce");
    let up = format!("prov:{NEW}");
    let header = |nc: &str| {
        digest(&DigestInput {
            alg: "SHA-256",
            nonce: &nonce,
            user: "prov",
            password: NEW,
            method: "GET",
            uri: ALICE,
            nc,
            cnonce: "0a4f113b",
        })
    };
    let first = header("00000001");
    let ok = fx.send(https(ALICE).ua(UA).authorization(&first)).await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains(SIP_PASSWORD));
    // The captured header, sent again within the nonce lifetime: refused
    // with a plain challenge (not stale), on either listener.
    for req in [https(ALICE), http(ALICE)] {
        let r = fx.send(req.ua(UA).authorization(&first)).await;
        assert_eq!(r.status, 401);
        assert!(!r.body.contains(SIP_PASSWORD));
        assert!(!r.challenges()[0].contains("stale"));
    }
    // The client's next count on the same nonce is accepted, once.
    let second = header("00000002");
    let req = https(ALICE).ua(UA).authorization(&second);
    assert_eq!(fx.send(req.clone()).await.status, 200);
    assert_eq!(fx.send(req).await.status, 401);
    // curl --digest (a fresh nonce and count each time) keeps working.
    for _ in 0..2 {
        assert_eq!(fx.with_digest(https(ALICE).ua(UA), &up).await.status, 200);
    }
    let text = logs.text();
    assert!(text.contains("digest nonce count replayed"), "{text}");
    assert!(!text.contains(SIP_PASSWORD) && !text.contains(NEW));
}

#[tokio::test]
async fn digest_only_refuses_basic() {
    let fx = Fixture::new(&format!(
        "[[policy.credentials]]\nuser = \"prov\"\npassword = \"{NEW}\"\n"
    ));
    let r = fx.send(https(ALICE)).await;
    assert_eq!(r.status, 401);
    let ch = r.challenges();
    assert_eq!(ch.len(), 2, "{ch:?}");
    assert!(ch.iter().all(|c| c.starts_with("Digest ")), "{ch:?}");
    let up = format!("prov:{NEW}");
    assert_eq!(fx.send(https(ALICE).basic(&up)).await.status, 401);
    assert_eq!(fx.with_digest(https(ALICE), &up).await.status, 200);
    // Common files need credentials too (the challenge never depends on
    // the name).
    assert_eq!(fx.send(https(COMMON).ua(UA)).await.status, 401);
}

#[tokio::test]
async fn site_credentials_open_only_their_sites_phones() {
    let config = format!(
        "[[policy.credentials]]\nuser = \"prov\"\npassword = \"{NEW}\"\n\
         [sites.berlin]\nsip_server = \"pbx-ber.example.com\"\n\
         [[sites.berlin.credentials]]\nuser = \"ber\"\npassword = \"Berlin-Secret-1\"\n"
    );
    let berlin_csv = "username,first_name,extension,sip_password,mac,phone_model,site\n\
         bert,Bert,2001,Bert-Sip-2001-xyz,805ec0b0b0b0,yealink-t54w,berlin\n";
    let fx = Fixture::build(&config, &[berlin_csv], |_| {});
    let logs = capture_logs();
    let global = format!("prov:{NEW}");
    let berlin = "ber:Berlin-Secret-1";
    const BERT: &str = "/805ec0b0b0b0.cfg";

    // Each site's phones open with their own credentials.
    let bert = fx.with_digest(https(BERT), berlin).await;
    assert_eq!(bert.status, 200);
    assert!(bert.body.contains("Bert-Sip-2001-xyz") && bert.body.contains("pbx-ber.example.com"));
    assert_eq!(fx.with_digest(https(ALICE), &global).await.status, 200);
    // The other site's credentials: the same 404 as a MAC nobody has.
    let unknown = fx.with_digest(https(NOBODY), &global).await;
    assert_eq!(unknown.short(), (404, "not found\n"));
    for (path, up) in [(BERT, global.as_str()), (ALICE, berlin), (NOBODY, berlin)] {
        let r = fx.with_digest(https(path), up).await;
        assert_eq!(r, unknown, "{path} {up}");
    }
    // No or wrong credentials: the usual 401, whoever's phone it is.
    assert_eq!(fx.send(https(BERT)).await.status, 401);
    for path in [BERT, ALICE] {
        assert_eq!(fx.with_digest(https(path), "ber:wrong").await.status, 401);
    }
    // Common files take any valid credential.
    for up in [global.as_str(), berlin] {
        assert_eq!(fx.with_digest(https(COMMON), up).await.status, 200);
    }
    let text = logs.text();
    assert!(text.contains("credentials of another site"), "{text}");
    assert!(!text.contains("Berlin-Secret-1") && !text.contains("Bert-Sip-2001-xyz"));
}

#[tokio::test]
async fn bad_credentials_count_as_misses() {
    let fx = Fixture::new(
        "[policy]\nauth = \"basic\"\n[[policy.credentials]]\nuser = \"prov\"\npassword = \"Prov-New-Secret-2\"\n\
         [policy.misses]\nthrottle_after = 100\nban_after = 4\nban_seconds = 60\n",
    );
    // Plain challenges (no credentials) are the normal first step: no miss.
    for _ in 0..6 {
        assert_eq!(fx.send(http(ALICE)).await.status, 401);
    }
    for _ in 0..4 {
        assert_eq!(fx.send(http(ALICE).basic("prov:guess")).await.status, 401);
    }
    // Banned now: the right password gets the 404 every refusal gets.
    let up = format!("prov:{NEW}");
    let banned = fx.send(http(ALICE).basic(&up)).await;
    assert_eq!(banned.short(), (404, "not found\n"));
    assert!(
        fx.metrics.render().contains("autoprov_bans_total 1\n"),
        "{}",
        fx.metrics.render()
    );
}
