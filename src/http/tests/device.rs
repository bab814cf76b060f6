//! Per-device credentials (`require_device_auth`): handed out in the
//! plain-HTTP bootstrap, required for the phone's own files over HTTPS.

use super::*;

const DEVICE_AUTH: &str = "[provision]\nrequire_device_auth = true\n";

/// A 20-hex-digit derived password.
fn assert_derived(password: &str) {
    assert!(
        password.len() == 20 && password.bytes().all(|b| b.is_ascii_hexdigit()),
        "{password}"
    );
}

#[tokio::test]
async fn per_device_credentials_from_the_bootstrap() {
    let fx = Fixture::new(DEVICE_AUTH);
    let logs = capture_logs();
    // The plain-HTTP bootstrap hands the phone its own credentials.
    let boot = fx.send(http(ALICE).ua(UA)).await;
    assert_eq!(boot.status, 200);
    assert!(!boot.body.contains(SIP_PASSWORD));
    let user = yealink_value(&boot.body, "static.auto_provision.server.username").unwrap();
    let password = yealink_value(&boot.body, "static.auto_provision.server.password").unwrap();
    assert_eq!(user, "805ec0123456");
    assert_derived(&password);
    // Stable across requests (derived, not random per fetch).
    assert_eq!(fx.send(http(ALICE).ua(UA)).await.body, boot.body);

    // Over HTTPS the per-MAC file needs them; the challenge is the same for
    // an unknown MAC; common files don't.
    let bare = fx.send(https(ALICE).ua(UA)).await;
    let unknown = fx.send(https(NOBODY).ua(UA)).await;
    assert_eq!(bare.status, 401);
    assert_eq!(bare.short(), unknown.short());
    assert_eq!(bare.challenges().len(), 2, "{:?}", bare.challenges());
    assert_eq!(fx.send(https(COMMON).ua(UA)).await.status, 200);
    let own = format!("{user}:{password}");
    let full = fx.with_digest(https(ALICE).ua(UA), &own).await;
    assert_eq!(full.status, 200);
    assert!(full.body.contains(SIP_PASSWORD));
    // The full file keeps the same credentials.
    assert_eq!(
        yealink_value(&full.body, "static.auto_provision.server.password").as_deref(),
        Some(password.as_str())
    );
    // One phone's credentials don't open another phone's file.
    let other = fx.with_digest(https("/805ec0abcdef.cfg"), &own).await;
    assert_eq!(other.status, 401);

    // Polycom and Snom bootstraps carry their vendors' keys.
    let poly = fx.send(http("/0004f2aabbcc-phone.cfg")).await.body;
    assert!(poly.contains("device.prov.user=\"0004f2aabbcc\""), "{poly}");
    assert!(poly.contains("device.prov.password=\""), "{poly}");
    let snom = fx.send(http("/snomD785-000413AABBCC.htm")).await.body;
    assert!(
        snom.contains("<http_client_user perm=\"R\">000413aabbcc</http_client_user>"),
        "{snom}"
    );
    assert!(snom.contains("<http_client_pass perm=\"R\">"), "{snom}");

    let text = logs.text();
    assert!(
        !text.contains(&password),
        "device password in the log:\n{text}"
    );
    assert!(!text.contains(SIP_PASSWORD));
}

#[tokio::test]
async fn device_credentials_for_cisco_grandstream_and_fanvil() {
    let fx = Fixture::new(DEVICE_AUTH);
    let logs = capture_logs();
    let mut issued = Vec::new();
    // Cisco: the bootstrap's Profile_Rule carries them as --uid/--pwd.
    let boot = fx.send(http("/002699aabb01.xml")).await;
    assert_eq!(boot.status, 200);
    let rule = element_text(&boot.body, "Profile_Rule");
    let (opts, url) = rule
        .strip_prefix('[')
        .and_then(|r| r.split_once("] "))
        .unwrap_or_else(|| panic!("{rule}"));
    assert_eq!(url, "https://127.0.0.1:8443/$MA.xml");
    let words: Vec<&str> = opts.split(' ').collect();
    assert_eq!(words[..3], ["--uid", "002699aabb01", "--pwd"]);
    issued.push((
        "/002699aabb01.xml",
        words[1].to_string(),
        words[3].to_string(),
    ));
    // Grandstream: P1360/P1361.
    let gs = fx.send(http("/cfg000b82aabbcc.xml")).await.body;
    issued.push((
        "/cfg000b82aabbcc.xml",
        element_text(&gs, "P1360"),
        element_text(&gs, "P1361"),
    ));
    // Fanvil: Download_Username/Download_Password.
    let fv = fx.send(http("/0c383e07e16c.cfg")).await.body;
    issued.push((
        "/0c383e07e16c.cfg",
        element_text(&fv, "Download_Username"),
        element_text(&fv, "Download_Password"),
    ));
    for ((path, user, password), mac) in
        issued
            .iter()
            .zip(["002699aabb01", "000b82aabbcc", "0c383e07e16c"])
    {
        // User name = the MAC.
        assert_eq!(user, mac);
        assert_derived(password);
        // Over HTTPS the file needs them, and they open it.
        assert_eq!(fx.send(https(path)).await.status, 401, "{path}");
        let full = fx
            .with_digest(https(path), &format!("{user}:{password}"))
            .await;
        assert_eq!(full.status, 200, "{path}");
        // The full file hands out the same ones.
        assert!(full.body.contains(password.as_str()), "{path}");
    }
    // One phone's credentials don't open another's file.
    let (_, user, password) = &issued[0];
    let own = format!("{user}:{password}");
    let other = fx.with_digest(https("/cfg000b82aabbcc.xml"), &own).await;
    assert_eq!(other.status, 401);
    let text = logs.text();
    for (_, _, password) in &issued {
        assert!(
            !text.contains(password.as_str()),
            "device password in the log"
        );
    }
}
