//! openssl as the outside peer: test CAs and certificates made the
//! docs/reference/test-peers.md §4 way, fingerprints and text of certificates, the chain a
//! listener serves.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::cli::run_ok;
use super::server::Server;

/// SHA-256 fingerprint of a PEM certificate as `openssl x509` reads it (the
/// test fails if openssl cannot parse it).
pub fn openssl_fingerprint(pem: &[u8]) -> String {
    openssl_x509(pem, &["-noout", "-fingerprint", "-sha256"])
        .trim()
        .to_string()
}

/// `openssl x509 -noout -text` of a PEM certificate.
pub fn openssl_text(pem: &str) -> String {
    openssl_x509(pem.as_bytes(), &["-noout", "-text"])
}

/// `openssl x509 ARGS` with `pem` on stdin; panics unless it succeeds.
pub fn openssl_x509(pem: &[u8], args: &[&str]) -> String {
    let mut child = Command::new("openssl")
        .arg("x509")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pem)
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl ran");
    assert!(
        out.status.success(),
        "openssl x509 cannot parse:\n{}\n{}",
        String::from_utf8_lossy(pem),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PEM for one-line base64 DER (Snom's inline form), 64 columns wide.
pub fn pem_of_base64(b64: &str) -> String {
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem + "-----END CERTIFICATE-----\n"
}

/// Runs openssl with these arguments in `dir`, insisting it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) {
    run_ok(
        Command::new("openssl").args(args).current_dir(dir),
        &format!("openssl {args:?}"),
    );
}

/// openssl arguments for a new P-256 key (docs/reference/test-peers.md §4).
pub const NEW_P256_KEY: [&str; 6] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
];

/// A self-signed P-256 certificate `crt` with its key `key` in `dir`
/// (`openssl req -x509`), valid `days`, with this subject and `-addext`
/// extension lines.
pub fn make_self_signed(
    dir: &Path,
    key: &str,
    crt: &str,
    days: &str,
    subject: &str,
    extensions: &[&str],
) {
    let mut args = [
        &["req", "-x509"][..],
        &NEW_P256_KEY,
        &[key, "-out", crt, "-days", days, "-subj", subject],
    ]
    .concat();
    for e in extensions {
        args.extend(["-addext", e]);
    }
    openssl(dir, &args);
}

/// A test CA (`ca.crt`, `ca.key`) in `dir`, made the docs/reference/test-peers.md §4 way
/// (with keyUsage and basicConstraints).
pub fn make_ca(dir: &Path) {
    make_self_signed(
        dir,
        "ca.key",
        "ca.crt",
        "30",
        "/CN=Test Phone CA",
        &[
            "basicConstraints=critical,CA:TRUE",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `<name>.crt`/`<name>.key` signed by the CA in `dir`, with this subject
/// and extension lines (`extendedKeyUsage=...`, `subjectAltName=...`).
pub fn make_cert(dir: &Path, name: &str, subject: &str, extensions: &[&str]) {
    let [key, csr, crt, ext] = ["key", "csr", "crt", "ext"].map(|e| format!("{name}.{e}"));
    let args = [
        &["req"][..],
        &NEW_P256_KEY,
        &[&key, "-out", &csr, "-subj", subject],
    ]
    .concat();
    openssl(dir, &args);
    let mut lines = vec![
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
    ];
    lines.extend_from_slice(extensions);
    std::fs::write(dir.join(&ext), lines.join("\n") + "\n").expect("write extensions");
    let signing = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"];
    let args = [
        &["x509", "-req", "-in", &csr][..],
        &signing,
        &["-out", &crt, "-days", "30", "-extfile", &ext],
    ]
    .concat();
    openssl(dir, &args);
}

/// PEM blocks in `text`, in order, each ending with a newline.
pub fn pem_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line == "-----BEGIN CERTIFICATE-----" {
            cur = Some(String::new());
        }
        if let Some(block) = cur.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
        if line == "-----END CERTIFICATE-----" {
            out.extend(cur.take());
        }
    }
    out
}

impl Server {
    /// Fingerprint of the local CA HTTPS is served under.
    pub fn cert_fingerprint(&self) -> String {
        openssl_fingerprint(&std::fs::read(self.cert()).expect("ca.pem"))
    }

    /// The certificates the HTTPS listener sends in its handshake, as PEM
    /// (`openssl s_client -showcerts`), leaf first.
    pub fn served_chain(&self) -> Vec<String> {
        let authority = self.https.trim_start_matches("https://");
        let out = Command::new("openssl")
            .args(["s_client", "-connect", authority, "-showcerts"])
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client ran");
        let chain = pem_blocks(&String::from_utf8_lossy(&out.stdout));
        assert!(
            !chain.is_empty(),
            "no certificate from {authority}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        chain
    }
}
