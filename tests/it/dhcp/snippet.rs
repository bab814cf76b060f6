//! `autoprov dhcp-snippet`: the printed config is accepted by the real
//! servers' own checkers (dnsmasq --test, kea-dhcp4 -t, dhcpd -t). A missing
//! checker skips with a message, except under CI=true where it fails.

use std::path::Path;
use std::process::Command;

use crate::support::cli::{autoprov, import};
use crate::support::tools::unavailable;

fn snippet(data: &Path, format: &str) -> String {
    let out = autoprov(
        data,
        &[
            "dhcp-snippet",
            "--format",
            format,
            "--provision-url",
            "http://10.99.0.1:8080/",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 snippet")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        "username,first_name,extension,mac,phone_model,phoneip\n\
         ann,Ann,2001,805ec0123456,yealink-t54w,10.99.0.50\n\
         bo,Bo,2002,0004f2aabbcc,polycom,\n",
    )
    .expect("write csv");
    import(&dir.path().join("data"), &csv);
    dir
}

/// Runs a checker; `false` (after saying why) when it is not installed.
fn check(program: &str, args: &[&str]) -> bool {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program} {args:?} refused the snippet:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let skipped: Option<()> = unavailable(&format!(
                "{program} is not installed (.ci/run installs it); install it to check the snippet"
            ));
            skipped.is_some()
        }
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

#[test]
fn dnsmasq_accepts_the_snippet() {
    let dir = setup();
    let text = snippet(&dir.path().join("data"), "dnsmasq");
    assert!(text.contains("dhcp-host=80:5e:c0:12:34:56,10.99.0.50\n"));
    assert!(
        !text.contains("00:04:f2:aa:bb:cc,"),
        "no IP, no reservation"
    );
    let file = dir.path().join("dnsmasq.conf");
    std::fs::write(&file, &text).unwrap();
    let conf = format!("--conf-file={}", file.display());
    check("dnsmasq", &["--test", &conf]);
}

#[test]
fn kea_accepts_the_snippet() {
    let dir = setup();
    let text = snippet(&dir.path().join("data"), "kea");
    let file = dir.path().join("kea-dhcp4.json");
    std::fs::write(&file, &text).unwrap();
    check("kea-dhcp4", &["-t", file.to_str().unwrap()]);
}

#[test]
fn isc_dhcpd_accepts_the_snippet() {
    let dir = setup();
    let text = snippet(&dir.path().join("data"), "isc");
    assert!(text.contains("fixed-address 10.99.0.50;"));
    let file = dir.path().join("dhcpd.conf");
    std::fs::write(&file, &text).unwrap();
    // dhcpd is optional (isc-dhcp-server is end-of-life); check it if present.
    match Command::new("dhcpd")
        .args(["-t", "-cf", file.to_str().unwrap()])
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "dhcpd -t refused the snippet:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("SKIP: dhcpd (isc-dhcp-server) not installed"),
    }
}
