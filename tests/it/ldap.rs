//! LDAP as an import source, against a real OpenLDAP `slapd` this test
//! starts: a slapd.conf and an mdb database in a temp dir (`slapadd`),
//! loopback ports, TLS with a test CA (openssl), a reader account whose
//! size limit (1,000) is below the 2,500 `inetOrgPerson` entries, so only
//! paged results get them all, plus three entries shaped like Active
//! Directory users. AD's own attributes come from a three-line schema with
//! their Microsoft OIDs (sAMAccountName, ipPhone, userAccountControl, as
//! OpenLDAP's msuser.schema defines them); the MAC is RFC 2307's
//! `macAddress` (nis.schema, `ieee802Device`).
//!
//! Skips where slapd is missing or cannot start, except under CI=true.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{Env, autoprov, create_token};
use crate::support::server::{Server, api};
use crate::support::tls::openssl;
use crate::support::tools::unavailable;

pub(crate) const SUFFIX: &str = "dc=example,dc=com";
pub(crate) const READER: &str = "cn=reader,dc=example,dc=com";
pub(crate) const READER_PW: &str = "reader-pw-1";
const PEOPLE: usize = 2500;

const AD_SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' SYNTAX '1.3.6.1.4.1.1466.115.121.1.27' SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.721 NAME 'ipPhone' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.1.1 NAME 'autoprovTestAdUser' SUP top AUXILIARY MAY ( sAMAccountName $ userAccountControl $ ipPhone ) )
";

/// A running slapd on two loopback ports (`ldap://` with StartTLS,
/// `ldaps://`), its files in `dir`.
pub(crate) struct Slapd {
    dir: PathBuf,
    conf: PathBuf,
    ldap: String,
    pub(crate) ldaps: String,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Slapd {
    pub(crate) fn start(dir: &Path) -> Option<Slapd> {
        let Some(slapd) = ["/usr/sbin/slapd", "/usr/local/libexec/slapd"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
        else {
            return unavailable("slapd is not installed (apt-get install slapd ldap-utils)");
        };
        certificates(dir);
        std::fs::write(dir.join("ad.schema"), AD_SCHEMA).unwrap();
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let d = dir.display();
        let conf = dir.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {d}/ad.schema
pidfile {d}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
suffix \"{SUFFIX}\"
rootdn \"cn=admin,{SUFFIX}\"
rootpw admin-pw
directory {d}/db
maxsize 104857600
# Like Active Directory's MaxPageSize: 1,000 a search, any number paged.
limits users size.soft=1000 size.hard=1000 size.prtotal=unlimited
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("data.ldif"), ldif()).unwrap();
        let added = Command::new("slapadd")
            .args(["-q", "-f"])
            .arg(&conf)
            .arg("-l")
            .arg(dir.join("data.ldif"))
            .output();
        match added {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return unavailable(&format!(
                    "slapadd failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
            }
            Err(e) => return unavailable(&format!("cannot run slapadd: {e}")),
        }
        let mut s = Slapd {
            dir: dir.to_path_buf(),
            conf,
            ldap: format!("ldap://127.0.0.1:{}", free_port()),
            ldaps: format!("ldaps://127.0.0.1:{}", free_port()),
            child: None,
        };
        if let Err(why) = s.run(&slapd) {
            return unavailable(&why);
        }
        Some(s)
    }

    /// Starts slapd in the foreground (`-d 0`) and waits for its port.
    fn run(&mut self, slapd: &Path) -> Result<(), String> {
        let child = Command::new(slapd)
            .args(["-d", "0", "-f"])
            .arg(&self.conf)
            .arg("-h")
            .arg(format!("{}/ {}/", self.ldap, self.ldaps))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start slapd: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.search_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("slapd did not answer within 10 s".into())
    }

    fn search_ok(&self) -> bool {
        Command::new("ldapsearch")
            .args([
                "-x", "-H", &self.ldap, "-D", READER, "-w", READER_PW, "-b", SUFFIX, "-s", "base",
                "dn",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `ldapdelete` as the directory's admin.
    fn delete(&self, dn: &str) {
        let out = Command::new("ldapdelete")
            .args([
                "-x",
                "-H",
                &self.ldap,
                "-D",
                &format!("cn=admin,{SUFFIX}"),
                "-w",
                "admin-pw",
                dn,
            ])
            .output()
            .expect("ldapdelete runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A test CA, a server certificate for 127.0.0.1 it signs, and a second
/// CA that signs nothing the server has.
fn certificates(dir: &Path) {
    const KEY: [&str; 5] = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let (key, pem) = (format!("{ca}.key"), format!("{ca}.pem"));
        let mut args = vec!["req", "-x509"];
        args.extend(KEY);
        args.extend([
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            "/CN=autoprov test LDAP CA",
        ]);
        openssl(dir, &args);
    }
    let mut args = vec!["req"];
    args.extend(KEY);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

fn ldif() -> String {
    let mut s = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=staff,{SUFFIX}\nobjectClass: organizationalUnit\nou: staff\n\n\
         dn: {READER}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: {READER_PW}\n\n"
    );
    for i in 0..PEOPLE {
        s += &format!(
            "dn: uid=user{i:04},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: user{i:04}\ncn: User {i}\nsn: Number{i}\ngivenName: Test\ntelephoneNumber: +49 30 {}\nmail: user{i:04}@example.com\n\n",
            20000 + i
        );
    }
    // Active Directory-shaped: one disabled (0x2 in userAccountControl),
    // one with a phone's MAC, one whose extension is only in telephoneNumber.
    for (sam, uac, ip, tel, mac) in [
        (
            "ADoe",
            "512",
            Some("3001"),
            "+49 30 999",
            Some("80:5e:c0:aa:bb:01"),
        ),
        ("BRoe", "514", Some("3002"), "+49 30 998", None),
        ("CPoe", "66048", None, "3003", None),
    ] {
        s += &format!(
            "dn: cn={sam},ou=staff,{SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: autoprovTestAdUser\nobjectClass: ieee802Device\ncn: {sam}\nuid: {}\nsn: {sam}\ngivenName: G{sam}\nsAMAccountName: {sam}\nuserAccountControl: {uac}\ntelephoneNumber: {tel}\n",
            sam.to_lowercase()
        );
        if let Some(ip) = ip {
            s += &format!("ipPhone: {ip}\n");
        }
        if let Some(mac) = mac {
            s += &format!("macAddress: {mac}\n");
        }
        s.push('\n');
    }
    s
}

fn history(data: &Path) -> Vec<Value> {
    let out = autoprov(data, &["history", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits for a history record of `source` after the first `seen` that
/// `pred` accepts; returns the history's length then.
fn wait_for(data: &Path, seen: usize, source: &str, pred: impl Fn(&Value) -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = history(data);
        if h.iter()
            .skip(seen)
            .any(|r| r["source"] == source && pred(r))
        {
            return h.len();
        }
        assert!(
            Instant::now() < deadline,
            "no such run of {source}; history: {h:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn user_count(data: &Path) -> usize {
    let out = autoprov(data, &["users", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .map_or(0, Vec::len)
}

fn outcome_has(r: &Value, needle: &str) -> bool {
    r["outcome"].as_str().is_some_and(|o| o.contains(needle))
}

/// On demand: a dry run then the real import of all 2,500 entries (paged
/// past the 1,000 limit) over ldaps://, and the AD preset over StartTLS:
/// the disabled bit, ipPhone before telephoneNumber, the MAC attribute.
#[test]
fn import_from_ldap_on_demand() {
    let env = Env::new();
    let Some(slapd) = Slapd::start(env.dir.path()) else {
        return;
    };
    // Without paging the reader gets 1,000 entries and an error.
    let plain = Command::new("ldapsearch")
        .args([
            "-x",
            "-H",
            &slapd.ldap,
            "-D",
            READER,
            "-w",
            READER_PW,
            "-b",
            &format!("ou=people,{SUFFIX}"),
            "dn",
        ])
        .output()
        .unwrap();
    assert_eq!(
        plain.status.code(),
        Some(4),
        "sizeLimitExceeded without paging"
    );
    let pw = env.file("pw", format!("{READER_PW}\n"));
    let ca = slapd.ca();
    let common = |url: &str| -> Vec<String> {
        [
            url,
            "--bind-dn",
            READER,
            "--bind-password-file",
            pw.to_str().unwrap(),
            "--ca",
            ca.to_str().unwrap(),
            "--format",
            "json",
            "--no-progress",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let people = |extra: &[&str]| {
        let mut a = vec!["import".to_string()];
        a.extend(common(&slapd.ldaps));
        a.extend(
            [
                "--preset",
                "inetorgperson",
                "--base",
                &format!("ou=people,{SUFFIX}"),
            ]
            .map(String::from),
        );
        a.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        env.run(&refs)
    };
    let dry = people(&["--dry-run"]);
    assert_eq!(dry.code, 0, "{}\n{}", dry.stdout, dry.stderr);
    let report = dry.json();
    assert_eq!(
        report["summary"]["created"], PEOPLE,
        "{}",
        report["summary"]
    );
    assert_eq!(report["applied"], false);
    assert_eq!(env.users_json().len(), 0, "a dry run writes nothing");
    let real = people(&[]);
    assert_eq!(real.code, 0, "{}", real.stderr);
    assert_eq!(real.json()["summary"]["created"], PEOPLE);
    let u = env.user("user0042").expect("user0042 imported");
    assert_eq!(u["lines"][0]["extension"], "493020042", "{u}");
    assert_eq!(u["email"], "user0042@example.com");

    // The AD preset over StartTLS.
    let mut a = vec!["import".to_string()];
    a.extend(common(&slapd.ldap));
    a.extend(
        [
            "--starttls",
            "--preset",
            "active-directory",
            "--mac-attribute",
            "macAddress",
            "--base",
            &format!("ou=staff,{SUFFIX}"),
            "--ldap-filter",
            "(objectClass=autoprovTestAdUser)",
        ]
        .map(String::from),
    );
    a.extend(["--source", "ad"].map(String::from));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let ad = env.run(&refs);
    assert_eq!(ad.code, 0, "{}\n{}", ad.stdout, ad.stderr);
    assert_eq!(ad.json()["summary"]["created"], 3);
    let adoe = env.user("adoe").expect("adoe");
    assert_eq!(adoe["enabled"], true, "{adoe}");
    assert_eq!(adoe["lines"][0]["extension"], "3001");
    assert_eq!(adoe["phones"][0]["mac"], "805ec0aabb01", "{adoe}");
    assert_eq!(
        env.user("broe").expect("broe")["enabled"],
        false,
        "0x2 disables"
    );
    assert_eq!(
        env.user("cpoe").expect("cpoe")["lines"][0]["extension"],
        "3003"
    );

    // A row error names the entry's DN, not a line of the generated table:
    // one extension for every entry (a --map on top of the preset).
    let map = env.file(
        "one-ext.toml",
        "[map]\nextension = { default = \"5555\" }\n",
    );
    let dup = env.run(
        &[
            &refs[..],
            &[
                "--dry-run",
                "--mode",
                "upsert",
                "--map",
                map.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(dup.code, 1, "{}\n{}", dup.stdout, dup.stderr);
    let report = dup.json();
    let e = &report["errors"][0];
    assert_eq!(e["code"], "E_EXTENSION_DUPLICATE", "{report}");
    assert_eq!(e["line"], Value::Null, "{e}");
    let entry = e["entry"].as_str().unwrap_or_default();
    assert!(
        entry.starts_with("cn=") && entry.ends_with(&format!("ou=staff,{SUFFIX}")),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("in entry cn="),
        "{e}"
    );
    assert!(
        dup.stderr.contains(entry) || dup.stderr.contains("refused"),
        "{}",
        dup.stderr
    );

    // A sync that would delete 2 of the source's 3 users: shown by a dry
    // run, refused over --max-delete-percent 50 with nothing written.
    let narrow: Vec<&str> = refs
        .iter()
        .map(|a| match *a {
            "(objectClass=autoprovTestAdUser)" => "(&(objectClass=autoprovTestAdUser)(cn=ADoe))",
            other => other,
        })
        .chain(["--mode", "sync"])
        .collect();
    let shown = env.run(&[&narrow[..], &["--dry-run"]].concat());
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert_eq!(shown.json()["summary"]["deleted"], 2);
    let guarded = env.run(&[&narrow[..], &["--max-delete-percent", "50"]].concat());
    assert_eq!(guarded.code, 1, "{}", guarded.stdout);
    assert_eq!(guarded.json()["errors"][0]["code"], "E_TOO_MANY_DELETES");
    assert_eq!(guarded.json()["applied"], false);
    assert!(env.user("broe").is_some(), "nothing deleted");

    // Plain ldap:// without StartTLS is refused before connecting.
    let mut a = vec!["import".to_string()];
    a.extend(common(&slapd.ldap));
    a.extend(["--preset", "inetorgperson", "--base", SUFFIX].map(String::from));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let clear = env.run(&refs);
    assert_eq!(clear.code, 2, "{}", clear.stderr);
    assert!(clear.stderr.contains("in clear"), "{}", clear.stderr);
}

/// Scheduled sync: an entry removed from the directory is deleted by the
/// next run; a wrong password, a stopped server and a certificate the CA
/// does not sign delete nothing and are in the history.
#[test]
fn scheduled_ldap_sync_and_failures() {
    let env = Env::new();
    let Some(mut slapd) = Slapd::start(env.dir.path()) else {
        return;
    };
    let data = env.data();
    let pw = env.file("pw", READER_PW);
    let other_ca = env.dir.path().join("other-ca.pem");
    let cfg = env.file(
        "autoprov.toml",
        format!(
            "[sources.dir]\nurl = \"{}\"\nevery = \"2s\"\nmode = \"sync\"\npreset = \"inetorgperson\"\nbase = \"{SUFFIX}\"\nbind_dn = \"{READER}\"\nbind_password_file = \"{}\"\nca = \"{}\"\n\n\
             [sources.rogue]\nurl = \"{}\"\nevery = \"1d\"\nstarttls = true\npreset = \"inetorgperson\"\nbase = \"{SUFFIX}\"\nbind_dn = \"{READER}\"\nbind_password_file = \"{}\"\nca = \"{}\"\n",
            slapd.ldaps,
            pw.display(),
            slapd.ca().display(),
            slapd.ldap,
            pw.display(),
            other_ca.display(),
        ),
    );
    let cfg = cfg.to_str().unwrap().to_string();
    let server = Server::start(&data, &["--config", &cfg], &[]);
    let total = PEOPLE + 3;
    let mut seen = wait_for(&data, 0, "dir", |r| r["created"] == total);
    assert_eq!(user_count(&data), total);
    // StartTLS against a certificate the configured CA does not sign.
    wait_for(&data, 0, "rogue", |r| r["outcome"].is_string());
    let rogue = history(&data)
        .into_iter()
        .find(|r| r["source"] == "rogue")
        .unwrap();
    assert!(outcome_has(&rogue, "cannot connect"), "{rogue}");
    assert_eq!(rogue["created"], 0);

    // The preview the web page shows: rows named by their DN.
    let token = create_token(&data, "ci");
    let r = api(
        &server,
        "POST",
        "/api/v1/sources/dir/preview",
        Some(&token),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert!(
        p["table"]["rows"][0]["entry"]
            .as_str()
            .is_some_and(|e| e.ends_with(SUFFIX)),
        "{}",
        p["table"]["rows"][0]
    );
    assert_eq!(p["report"]["summary"]["unchanged"], total);

    // `import ldap://` while the server runs: the search runs in the CLI,
    // the table, its mapping and the DNs go over the admin socket.
    let map = env.file(
        "one-ext.toml",
        "[map]\nextension = { default = \"5555\" }\n",
    );
    let staff = format!("ou=staff,{SUFFIX}");
    let ca = slapd.ca();
    let remote = env.run(&[
        "import",
        &slapd.ldaps,
        "--preset",
        "inetorgperson",
        "--base",
        &staff,
        "--bind-dn",
        READER,
        "--bind-password-file",
        pw.to_str().unwrap(),
        "--ca",
        ca.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--dry-run",
        "--format",
        "json",
    ]);
    assert_eq!(remote.code, 1, "{}\n{}", remote.stdout, remote.stderr);
    let e = &remote.json()["errors"][0];
    assert_eq!(e["code"], "E_EXTENSION_DUPLICATE", "{e}");
    assert!(
        e["entry"].as_str().is_some_and(|d| d.ends_with(&staff)),
        "{e}"
    );

    slapd.delete(&format!("uid=user0007,ou=people,{SUFFIX}"));
    seen = wait_for(&data, seen, "dir", |r| r["deleted"] == 1);
    assert_eq!(user_count(&data), total - 1);

    std::fs::write(&pw, "wrong-password").unwrap();
    seen = wait_for(&data, seen, "dir", |r| outcome_has(r, "invalidCredentials"));
    assert_eq!(
        user_count(&data),
        total - 1,
        "a failed bind deletes nothing"
    );

    std::fs::write(&pw, READER_PW).unwrap();
    slapd.stop();
    wait_for(&data, seen, "dir", |r| outcome_has(r, "cannot connect"));
    assert_eq!(
        user_count(&data),
        total - 1,
        "a stopped server deletes nothing"
    );
    server.stop_ok();
}
