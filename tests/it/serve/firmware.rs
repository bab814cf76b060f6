//! Firmware (docs/firmware.md) end to end with the real binary and real
//! curl: a 60 MB image streamed to 100 clients at once (half of them with
//! `--range`) while the server's memory is read from /proc; Range, 416,
//! ETag, 304 and HEAD; a staged rollout (a site's phones get their own
//! image) and `phones --outdated` before and after a phone reports the
//! target; each vendor's firmware key in the file its row names.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use autoprov::domain::mac::Mac;
use autoprov::vendors::{self, FileKind};

use crate::support::cli::{autoprov, phones_json};
use crate::support::fixtures::users_csv;
use crate::support::formats::names_setting;
use crate::support::heavy;
use crate::support::server::{Server, curl, curl_headers};

const MB: usize = 1024 * 1024;

/// `len` bytes of a fixed pseudo-random sequence (xorshift64), written
/// in 1 MB pieces so the test itself never holds the image.
fn write_image(path: &Path, len: usize) {
    let mut f = std::fs::File::create(path).expect("create image");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = len;
    let mut buf = Vec::with_capacity(MB);
    while left > 0 {
        buf.clear();
        while buf.len() < MB.min(left) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.extend_from_slice(&x.to_le_bytes());
        }
        buf.truncate(MB.min(left));
        f.write_all(&buf).expect("write image");
        left -= buf.len();
    }
}

fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open image");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; MB];
    loop {
        let n = f.read(&mut buf).expect("read image");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Bytes `start..=end` of the file.
fn slice(path: &Path, start: usize, end: usize) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).expect("open image");
    f.seek(SeekFrom::Start(start as u64)).expect("seek");
    let mut out = vec![0u8; end - start + 1];
    f.read_exact(&mut out).expect("read slice");
    out
}

/// A data directory with `files` (name, size) in `data/firmware`, `config`
/// written beside it and `csv` imported with it.
fn setup(
    config: &str,
    csv: Option<&str>,
    files: &[(&str, usize)],
) -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("firmware")).expect("mkdir");
    for (name, len) in files {
        write_image(&data.join("firmware").join(name), *len);
    }
    let cfg = tmp.path().join("autoprov.toml");
    std::fs::write(&cfg, config).expect("config");
    let cfg = cfg.to_str().expect("utf-8").to_string();
    let csv_path = match csv {
        Some(text) => {
            let p = tmp.path().join("users.csv");
            std::fs::write(&p, text).expect("csv");
            p
        }
        None => users_csv(),
    };
    let out = autoprov(
        &data,
        &[
            "--config",
            &cfg,
            "import",
            csv_path.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (tmp, data, cfg)
}

/// A line of `body` that sets `setting` and holds `value`.
fn sets(body: &str, setting: &str, value: &str) -> bool {
    body.lines()
        .any(|l| names_setting(l, setting) && l.contains(value))
}

/// The log without its colour codes.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The server's resident set now and at its peak (VmRSS, VmHWM), in kB.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn hundred_clients_fetch_a_60_mb_image_in_bounded_memory() {
    let _alone = heavy();
    const LEN: usize = 60 * MB;
    let name = "T54W-96.86.0.120.rom";
    let config =
        format!("[firmware.\"yealink-t54w\"]\nversion = \"96.86.0.120\"\nfile = \"{name}\"\n");
    let (_tmp, data, cfg) = setup(&config, None, &[(name, LEN)]);
    let image = data.join("firmware").join(name);
    let want = sha256_file(&image);
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let pid = server.pid();
    let (rss_before, _) = memory_kb(pid);

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(memory_kb(pid).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };

    let clients = 100;
    let start = Arc::new(Barrier::new(clients));
    let cacert = server.cert().to_str().expect("utf-8").to_string();
    let mut handles = Vec::new();
    for i in 0..clients {
        // Even clients over HTTPS, odd over plain HTTP; the second half
        // ask for a range of up to 4 MB somewhere in the image.
        let base = if i % 2 == 0 {
            &server.https
        } else {
            &server.http
        };
        let url = format!("{base}/firmware/{name}");
        let range = (i >= clients / 2).then(|| {
            let start = (i * 7_919_123) % (LEN - 4 * MB);
            (start, start + 1 + (i * 104_729) % (4 * MB))
        });
        let (start, cacert) = (start.clone(), cacert.clone());
        handles.push(std::thread::spawn(move || {
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "--fail", "--max-time", "600", "--cacert", &cacert]);
            if let Some((a, b)) = range {
                cmd.args(["--range", &format!("{a}-{b}")]);
            }
            start.wait();
            let mut child = cmd
                .arg(&url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("curl is installed");
            let mut out = child.stdout.take().expect("stdout");
            let mut h = Sha256::new();
            let mut kept = Vec::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0usize;
            loop {
                let n = out.read(&mut buf).expect("read curl");
                if n == 0 {
                    break;
                }
                total += n;
                if range.is_some() {
                    kept.extend_from_slice(&buf[..n]);
                } else {
                    h.update(&buf[..n]);
                }
            }
            let status = child.wait_with_output().expect("curl");
            assert!(
                status.status.success(),
                "curl {url}: {}",
                String::from_utf8_lossy(&status.stderr)
            );
            (range, total, hex::encode(h.finalize()), kept)
        }));
    }
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("client"))
        .collect();
    done.store(true, Ordering::Relaxed);
    let peak_sampled = sampler.join().expect("sampler");
    let (rss_after, hwm) = memory_kb(pid);

    for (range, total, sha, kept) in results {
        match range {
            None => {
                assert_eq!(total, LEN);
                assert_eq!(sha, want, "a whole download differs from the image");
            }
            Some((a, b)) => {
                assert_eq!(total, b - a + 1, "range {a}-{b}");
                assert!(
                    kept == slice(&image, a, b),
                    "range {a}-{b} differs from the image"
                );
            }
        }
    }
    println!(
        "firmware: 100 clients x 60 MB image (50 whole, 50 ranges; half HTTPS): server RSS \
         {rss_before} kB before, peak sampled {peak_sampled} kB, VmHWM {hwm} kB ({} MB), {rss_after} kB after",
        hwm / 1024
    );
    assert!(hwm > 0, "cannot read /proc/{pid}/status");
    assert!(hwm < 200 * 1024, "server peak RSS {hwm} kB is over 200 MB");
    // Every fetch is in the log with its status, nothing about secrets.
    let log = plain(&server.stop_ok());
    assert!(log.matches("status=200").count() >= 50, "{log}");
    assert!(log.matches("status=206").count() >= 50, "{log}");
}

#[test]
fn ranges_validators_conditionals_and_head() {
    let name = "T54W-96.86.0.100.rom";
    let config =
        format!("[firmware.\"yealink-t54w\"]\nversion = \"96.86.0.100\"\nfile = \"{name}\"\n");
    let (_tmp, data, cfg) = setup(&config, None, &[(name, 100_000), ("stray.rom", 10)]);
    let image = data.join("firmware").join(name);
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let cacert = server.cert().to_str().expect("utf-8").to_string();
    for base in [&server.http, &server.https] {
        let url = format!("{base}/firmware/{name}");
        let get = |extra: &[&str]| {
            let mut args = vec!["--cacert", cacert.as_str()];
            args.extend_from_slice(extra);
            curl_headers(&url, 20, &args)
        };
        let whole = get(&[]);
        assert_eq!(whole.status, 200);
        assert_eq!(whole.body, std::fs::read(&image).expect("image"));
        assert_eq!(whole.header("accept-ranges").as_deref(), Some("bytes"));
        assert_eq!(whole.header("content-length").as_deref(), Some("100000"));
        let etag = whole.header("etag").expect("an ETag");
        let modified = whole.header("last-modified").expect("a Last-Modified");

        let part = get(&["--range", "10-19"]);
        assert_eq!(part.status, 206);
        assert_eq!(
            part.header("content-range").as_deref(),
            Some("bytes 10-19/100000")
        );
        assert_eq!(part.body, slice(&image, 10, 19));
        let tail = get(&["--range", "-5"]);
        assert_eq!(
            (tail.status, tail.body.clone()),
            (206, slice(&image, 99_995, 99_999))
        );
        let open = get(&["--range", "99990-"]);
        assert_eq!((open.status, open.body.len()), (206, 10));

        let beyond = get(&["--range", "100000-"]);
        assert_eq!(beyond.status, 416);
        assert_eq!(
            beyond.header("content-range").as_deref(),
            Some("bytes */100000")
        );

        let inm = format!("If-None-Match: {etag}");
        let cached = get(&["-H", &inm]);
        assert_eq!((cached.status, cached.body.len()), (304, 0));
        let other = get(&["-H", "If-None-Match: \"other\""]);
        assert_eq!(other.status, 200);
        let ims = format!("If-Modified-Since: {modified}");
        assert_eq!(get(&["-H", &ims]).status, 304);
        let old = get(&["-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT"]);
        assert_eq!(old.status, 200);
        // If-Range with a stale tag: the whole file, not the part.
        let stale = get(&["--range", "0-9", "-H", "If-Range: \"stale\""]);
        assert_eq!((stale.status, stale.body.len()), (200, 100_000));
        let fresh_ir = format!("If-Range: {etag}");
        assert_eq!(get(&["--range", "0-9", "-H", &fresh_ir]).status, 206);

        let head = get(&["-I"]);
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length").as_deref(), Some("100000"));
        // curl -I writes the head where the body would go: no image bytes.
        assert!(head.body.len() < 1000, "{head:?}");

        // Only configured images: not another file in the directory, not
        // a path out of it, not the directory itself.
        for path in [
            "/firmware/stray.rom",
            "/firmware/../autoprov.toml",
            "/firmware/",
            "/firmware/%2e%2e%2fauth.key",
        ] {
            let f = curl(&format!("{base}{path}"), &["--cacert", &cacert]);
            assert_eq!(f.status, 404, "{path}");
        }
    }
}

/// Two T54W phones: one in Berlin, which moves first, one in the default
/// site.
const ROLLOUT_CSV: &str = "username,first_name,last_name,extension,sip_password,timezone,transport,mac,phone_model,site\n\
ber.one,Ber,One,2001,Ber-Sip-2024-abc,Europe/Berlin,tls,80:5e:c0:00:00:01,yealink-t54w,berlin\n\
par.two,Par,Two,1001,Par-Sip-2024-abc,Europe/Paris,tls,80:5e:c0:00:00:02,yealink-t54w,default\n";

const ROLLOUT_CONFIG: &str = "[sites.berlin]\n\
[firmware.\"yealink-t54w\"]\nversion = \"96.86.0.100\"\nfile = \"T54W-96.86.0.100.rom\"\n\
[firmware.\"yealink-t54w\".sites.berlin]\nversion = \"96.86.0.120\"\nfile = \"T54W-96.86.0.120.rom\"\n";

/// `phones --outdated --format json`: the MACs listed.
fn outdated(data: &Path, cfg: &str) -> Vec<String> {
    let out = autoprov(
        data,
        &["--config", cfg, "phones", "--outdated", "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v.as_array()
        .expect("array")
        .iter()
        .map(|p| p["mac"].as_str().expect("mac").to_string())
        .collect()
}

#[test]
fn staged_rollout_and_outdated_phones() {
    let (_tmp, data, cfg) = setup(
        ROLLOUT_CONFIG,
        Some(ROLLOUT_CSV),
        &[
            ("T54W-96.86.0.100.rom", 4096),
            ("T54W-96.86.0.120.rom", 8192),
        ],
    );
    // Before any fetch, offline: both phones lack proof of their target.
    assert_eq!(outdated(&data, &cfg), ["805ec0000001", "805ec0000002"]);
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let old_ua = "Yealink SIP-T54W 96.85.0.5 80:5e:c0:00:00:01";
    let cfg_berlin = server.get_https("/805ec0000001.cfg", Some(old_ua));
    assert_eq!(cfg_berlin.status, 200);
    let berlin_url = format!("{}/firmware/T54W-96.86.0.120.rom", server.https);
    assert!(
        sets(&cfg_berlin.text(), "static.firmware.url", &berlin_url),
        "{}",
        cfg_berlin.text()
    );
    let paris = server.get_https(
        "/805ec0000002.cfg",
        Some("Yealink SIP-T54W 96.85.0.5 80:5e:c0:00:00:02"),
    );
    let paris_url = format!("{}/firmware/T54W-96.86.0.100.rom", server.https);
    assert!(
        sets(&paris.text(), "static.firmware.url", &paris_url),
        "{}",
        paris.text()
    );
    // The URL the phone was handed serves the image.
    let fetched = server.get_url(&berlin_url, Some(old_ua));
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body.len(), 8192);
    // The plain-HTTP bootstrap does not carry it (the phone moves to HTTPS first).
    let boot = server.get_http("/805ec0000001.cfg", Some(old_ua));
    assert!(
        !boot.text().contains("static.firmware.url"),
        "{}",
        boot.text()
    );
    // Through the running server (admin socket): both still outdated.
    assert_eq!(outdated(&data, &cfg), ["805ec0000001", "805ec0000002"]);

    // The Berlin phone reboots into its target: the next file still names
    // it, and the phone leaves the list; the Paris phone stays.
    let new_ua = "Yealink SIP-T54W 96.86.0.120 80:5e:c0:00:00:01";
    let again = server.get_https("/805ec0000001.cfg", Some(new_ua));
    assert!(
        sets(&again.text(), "static.firmware.url", &berlin_url),
        "{}",
        again.text()
    );
    assert_eq!(outdated(&data, &cfg), ["805ec0000002"]);
    let phones = phones_json(&data);
    let berlin = phones
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["mac"] == "805ec0000001")
        .expect("berlin phone");
    assert_eq!(berlin["firmware"], "96.86.0.120");
    server.stop_ok();
    // And offline, from the store.
    assert_eq!(outdated(&data, &cfg), ["805ec0000002"]);
}

#[test]
fn a_missing_image_or_bad_name_stops_the_server_with_the_key() {
    let (_tmp, data, cfg) = setup(
        ROLLOUT_CONFIG,
        Some(ROLLOUT_CSV),
        &[("T54W-96.86.0.100.rom", 10)],
    );
    let out = Command::new(crate::support::cli::BIN)
        .args(["--data", data.to_str().expect("utf-8"), "--config", &cfg])
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
            "--admin",
            "off",
        ])
        .env_remove("AUTOPROV_CONFIG")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("firmware.\"yealink-t54w\".sites.berlin.file"),
        "{err}"
    );
    assert!(err.contains("T54W-96.86.0.120.rom"), "{err}");
    std::fs::write(
        &cfg,
        "[firmware.\"yealink-t54w\"]\nversion = \"1\"\nfile = \"../x.rom\"\n",
    )
    .expect("config");
    let out = autoprov(&data, &["--config", &cfg, "phones"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("firmware.\"yealink-t54w\".file") && err.contains("path separators"),
        "{err}"
    );
}

/// Each vendor's firmware key is in the file its row names (the per-phone
/// main file, Polycom's per-phone master) with the image's URL, and in no
/// other file the phone fetches.
#[test]
fn each_vendor_names_its_firmware_in_its_own_file() {
    let images = [
        ("yealink-t54w", "T54W-96.86.0.120.rom"),
        ("polycom-vvx450", "vvx450-6.4.3.sip.ld"),
        ("cisco-spa504g", "spa50x-30x-7-6-2.bin"),
        ("grandstream-grp2614", "1.0.9.1-grp2614fw.bin"),
        ("snom-d785", "snomD785-10.1.33.33-SIP-r.bin"),
        ("fanvil-x4u", "x4u-2.12.1.z"),
    ];
    let mut config = String::new();
    for (key, file) in images {
        config.push_str(&format!(
            "[firmware.\"{key}\"]\nversion = \"9.9.9\"\nfile = \"{file}\"\n"
        ));
    }
    let files: Vec<(&str, usize)> = images.iter().map(|(_, f)| (*f, 64)).collect();
    let (_tmp, data, cfg) = setup(&config, None, &files);
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let phones = phones_json(&data);
    for v in vendors::VENDORS {
        let Some(fw) = v.provisioning.firmware else {
            panic!("{}: no firmware keys in its row", v.id);
        };
        let (key, file) = images
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{}-", v.id)))
            .expect("an image per vendor");
        let model = key.split_once('-').expect("key").1;
        let phone = phones
            .as_array()
            .expect("array")
            .iter()
            .find(|p| p["vendor"] == v.id && p["model"] == model)
            .unwrap_or_else(|| panic!("no {key} phone in examples/users.csv"));
        let mac = Mac::parse(phone["mac"].as_str().expect("mac")).expect("MAC");
        let url = format!("{}/firmware/{file}", server.https);
        // Grandstream takes a server path and a prefix instead of a URL.
        let (needle, prefix) = match file.rsplit_once('-') {
            Some((p, _)) if v.id == "grandstream" => (
                url.trim_start_matches("https://")
                    .trim_end_matches(file)
                    .trim_end_matches('/')
                    .to_string(),
                Some(format!("{p}-")),
            ),
            _ => (url.clone(), None),
        };
        let mut found = false;
        for rule in v.provisioning.files {
            if rule.kind == FileKind::Upload || rule.template.is_none() {
                continue;
            }
            let Some(name) = rule.file_name_for(mac, Some(model)) else {
                continue;
            };
            let got = server.get_https(&format!("/{name}"), None);
            let body = String::from_utf8_lossy(&got.body).to_string();
            let carries = sets(&body, fw.setting, &needle);
            if rule.kind == fw.file {
                assert_eq!(got.status, 200, "{}: {name}", v.id);
                assert!(
                    carries,
                    "{}: {name} does not set {} to {needle}:\n{body}",
                    v.id, fw.setting
                );
                if let Some(p) = &prefix {
                    assert!(
                        sets(&body, "P232", p),
                        "{}: no P232 prefix {p}:\n{body}",
                        v.id
                    );
                }
                found = true;
            } else {
                assert!(!carries, "{}: {name} also sets {}", v.id, fw.setting);
            }
        }
        assert!(found, "{}: no file of kind {:?}", v.id, fw.file);
        // The image it names is served.
        let image = server.get_url(&url, None);
        assert_eq!((image.status, image.body.len()), (200, 64), "{url}");
    }
}

/// Where a vendor has an upgrade switch beside the URL, a phone that
/// reports its target gets the switch off and still the URL; a phone on
/// another version gets it on.
#[test]
fn upgrade_switches_follow_the_reported_version() {
    let config = "[firmware.\"cisco-spa504g\"]\nversion = \"7.6.2\"\nfile = \"spa50x-7-6-2.bin\"\n\
                  [firmware.\"snom-d785\"]\nversion = \"10.1.33.33\"\nfile = \"snomD785-10.1.33.33.bin\"\n";
    let (_tmp, data, cfg) = setup(
        config,
        None,
        &[("spa50x-7-6-2.bin", 16), ("snomD785-10.1.33.33.bin", 16)],
    );
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let cases = [
        (
            "/002699aabb01.xml",
            "Cisco/SPA504G-{} (002699AABB01)(CBT141400UK)",
            "7.6.2",
            "7.5.5",
            ("Upgrade_Rule", "spa50x-7-6-2.bin"),
            ("Upgrade_Enable", "No", "Yes"),
        ),
        (
            "/snomD785-000413AABBCC.htm",
            "Mozilla/4.0 (compatible; snomD785-SIP {} 2010.12-00004-g9ba52f5 000413AABBCC SXM:0 UXM:0)",
            "10.1.33.33",
            "10.1.20.0",
            ("firmware", "snomD785-10.1.33.33.bin"),
            ("update_policy", "settings_only", "auto_update"),
        ),
    ];
    for (path, ua, target, old, (url_key, file), (switch, off, on)) in cases {
        for (version, want) in [(target, off), (old, on)] {
            let ua = ua.replace("{}", version);
            let got = server.get_https(path, Some(&ua));
            assert_eq!(got.status, 200, "{path}");
            let body = got.text();
            assert!(
                sets(&body, url_key, file),
                "{path} as {version}: no {url_key}:\n{body}"
            );
            assert!(
                sets(&body, switch, &format!(">{want}<")),
                "{path} as {version}: {switch} is not {want}:\n{body}"
            );
        }
    }
}

/// `render --explain` names the image each phone is pointed at and the
/// level it came from: the site's own for Berlin, the model's for the rest.
#[test]
fn render_explain_names_the_firmware_and_its_level() {
    let config =
        format!("{ROLLOUT_CONFIG}[provision]\nhttps_url = \"https://prov.example.com:8443/\"\n");
    let (_tmp, data, cfg) = setup(
        &config,
        Some(ROLLOUT_CSV),
        &[
            ("T54W-96.86.0.100.rom", 4096),
            ("T54W-96.86.0.120.rom", 8192),
        ],
    );
    for (mac, want) in [
        (
            "805ec0000001",
            "  firmware: 96.86.0.120 (T54W-96.86.0.120.rom) from site berlin",
        ),
        (
            "805ec0000002",
            "  firmware: 96.86.0.100 (T54W-96.86.0.100.rom) from model yealink-t54w",
        ),
    ] {
        let out = autoprov(&data, &["--config", &cfg, "render", mac, "--explain"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{mac}: {err}");
        let file = want.split(['(', ')']).nth(1).expect("file");
        let url = format!("https://prov.example.com:8443/firmware/{file}");
        assert!(
            sets(
                &String::from_utf8_lossy(&out.stdout),
                "static.firmware.url",
                &url
            ),
            "{mac}"
        );
    }
}
