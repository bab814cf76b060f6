//! The simulated phones: per vendor, what it sends in DHCP option 60,
//! which option it reads the provisioning URL from, which files it fetches
//! in which order (the vendor rows of docs/phones.md, "Each vendor's boot
//! sequence"), how its plain-HTTP bootstrap sends it to HTTPS with its own
//! device credentials (Digest), and a small parser of its format that
//! yields every SIP line it would register.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use super::sip::SipLine;
use crate::support::formats::yealink_settings;
use crate::support::netns::Netns;

/// One of the six vendors as the test drives it.
pub struct Model {
    pub vendor: &'static str,
    /// `phone_model` of the import.
    pub phone_model: &'static str,
    pub oui: [u8; 3],
    /// Option 60 bytes, as the vendor's firmware sends them
    /// (src/vendors/<vendor>.rs `classes`).
    pub vclass: &'static [u8],
}

pub const MODELS: [Model; 6] = [
    Model {
        vendor: "yealink",
        phone_model: "yealink-t54w",
        oui: [0x80, 0x5e, 0xc0],
        vclass: b"yealink",
    },
    Model {
        vendor: "polycom",
        phone_model: "polycom-vvx411",
        oui: [0x00, 0x04, 0xf2],
        // RFC 3925 form: enterprise 13885, then a data length and sub-option.
        vclass: b"\x00\x00\x36\x3d\x09\x01\x07Polycom",
    },
    Model {
        vendor: "cisco",
        phone_model: "cisco-8841",
        oui: [0xd0, 0xec, 0x35],
        vclass: b"Cisco CP-8841-3PCC\x00",
    },
    Model {
        vendor: "grandstream",
        phone_model: "grandstream-gxp2170",
        oui: [0x00, 0x0b, 0x82],
        vclass: b"Grandstream GXP2170 dslforum.org",
    },
    Model {
        vendor: "snom",
        phone_model: "snom-d785",
        oui: [0x00, 0x04, 0x13],
        vclass: b"snomD785",
    },
    Model {
        vendor: "fanvil",
        phone_model: "fanvil-x4",
        oui: [0x0c, 0x38, 0x3e],
        vclass: b"Fanvil X4",
    },
];

/// A phone of the site.
pub struct Phone {
    pub model: &'static Model,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Its leased address, once DHCP is done.
    pub ip: String,
    /// DHCP options of the ACK, code → bytes.
    pub options: BTreeMap<String, Vec<u8>>,
}

impl Phone {
    fn plain(&self) -> String {
        self.mac.replace(':', "")
    }

    fn user_agent(&self) -> String {
        let m = self.plain();
        match self.model.vendor {
            "yealink" => format!("Yealink SIP-T54W 96.86.0.100 {}", self.mac),
            "polycom" => "FileTransport PolycomVVX-VVX_411-UA/5.9.0.9373 Type/Application".into(),
            "cisco" => format!("Cisco-CP-8841-3PCC/12.0.1 ({m})"),
            "grandstream" => format!("Grandstream Model HW GXP2170 V1.xA SW 1.0.11.79 DevId {m}"),
            "snom" => format!(
                "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 {} SXM:0 UXM:0)",
                m.to_uppercase()
            ),
            _ => format!("Fanvil X4 2.10.2.6887 {m}"),
        }
    }

    fn option_text(&self, code: &str) -> Option<String> {
        self.options.get(code).map(|b| {
            String::from_utf8_lossy(b)
                .trim_end_matches('\0')
                .to_string()
        })
    }

    /// The provisioning URL from the option this vendor reads, in its
    /// firmware's order: Cisco `DHCP_Option_To_Use` 66, 160, 150
    /// (src/vendors/cisco.rs; 150 being TFTP server addresses); Polycom
    /// 160 before 66 (docs/reference/vendors.md §2.3); Grandstream and
    /// Fanvil 66, else 43; Yealink and Snom 66. A value with no scheme is
    /// a TFTP server (the Cisco factory `Profile_Rule` names none).
    pub fn provisioning_url(&self) -> Result<String, String> {
        let order: &[&str] = match self.model.vendor {
            "cisco" => &["66", "160", "150"],
            "polycom" => &["160", "66"],
            "grandstream" | "fanvil" => &["66", "43"],
            _ => &["66"],
        };
        let value = order
            .iter()
            .find_map(|c| match (*c, self.options.get(*c)) {
                ("150", Some(b)) if b.len() >= 4 => {
                    Some(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
                }
                (_, Some(_)) => self.option_text(c),
                _ => None,
            })
            .ok_or_else(|| format!("{}: no option {order:?} in the ACK", self.mac))?;
        let url = if value.contains("://") {
            value
        } else {
            format!("tftp://{value}")
        };
        Ok(if url.ends_with('/') {
            url
        } else {
            format!("{url}/")
        })
    }
}

/// What one phone's files said, and how many requests it took.
pub struct Provisioned {
    pub lines: Vec<SipLine>,
    pub fetches: usize,
    /// Of those, over TFTP.
    pub tftp_fetches: usize,
}

/// One HTTP(S) fetch from the phone's own address, in the phone namespace.
struct Fetcher<'a> {
    n: &'a Netns,
    phone: &'a Phone,
    ca: &'a Path,
    count: usize,
    tftp: usize,
}

impl Fetcher<'_> {
    fn get(&mut self, url: &str, creds: Option<(&str, &str)>) -> Result<Vec<u8>, String> {
        self.count += 1;
        if url.starts_with("tftp://") {
            return self.get_tftp(url);
        }
        let mut c = self.n.exec(&self.n.phone);
        c.args([
            "curl",
            "-sS",
            "--max-time",
            "15",
            "--interface",
            &self.phone.ip,
        ])
        .args(["-A", &self.phone.user_agent(), "--cacert"])
        .arg(self.ca)
        .args(["-o", "-", "-w", "\n@@%{http_code}"]);
        let userpass;
        if let Some((u, p)) = creds {
            userpass = format!("{u}:{p}");
            c.args(["--digest", "-u", &userpass]);
        }
        let out = c
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        let body = out.stdout;
        let at = body
            .windows(3)
            .rposition(|w| w == b"\n@@")
            .ok_or_else(|| format!("curl {url}: {}", String::from_utf8_lossy(&out.stderr)))?;
        let status = String::from_utf8_lossy(&body[at + 3..]).to_string();
        if status != "200" {
            return Err(format!("GET {url} ({}): HTTP {status}", self.phone.mac));
        }
        Ok(body[..at].to_vec())
    }
}

impl Fetcher<'_> {
    /// A TFTP read with curl (no User-Agent: TFTP has none, the file name
    /// carries the MAC); curl's exit status says whether it worked.
    fn get_tftp(&mut self, url: &str) -> Result<Vec<u8>, String> {
        self.tftp += 1;
        let out = self
            .n
            .exec(&self.n.phone)
            .args([
                "curl",
                "-sS",
                "--max-time",
                "15",
                "--interface",
                &self.phone.ip,
                "-o",
                "-",
            ])
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!(
                "TFTP {url} ({}): {}",
                self.phone.mac,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

/// Boots one phone: its files over plain HTTP in its firmware's order, the
/// bootstrap's HTTPS URL with its device credentials, then the account
/// file over HTTPS; returns the SIP lines that file gives.
pub fn provision(n: &Netns, phone: &Phone, ca: &Path) -> Result<Provisioned, String> {
    let mut f = Fetcher {
        n,
        phone,
        ca,
        count: 0,
        tftp: 0,
    };
    let base = phone.provisioning_url()?;
    let lines = match phone.model.vendor {
        "yealink" => yealink(&mut f, &base)?,
        "polycom" => polycom(&mut f, &base)?,
        "cisco" => cisco(&mut f, &base)?,
        "grandstream" => grandstream(&mut f, &base)?,
        "snom" => snom(&mut f, &base)?,
        _ => fanvil(&mut f, &base)?,
    };
    if lines.is_empty() {
        return Err(format!("{}: no SIP line in its file", phone.mac));
    }
    Ok(Provisioned {
        lines,
        fetches: f.count,
        tftp_fetches: f.tftp,
    })
}

fn need<'a>(m: &'a BTreeMap<String, String>, k: &str) -> Result<&'a str, String> {
    m.get(k)
        .map(String::as_str)
        .ok_or_else(|| format!("missing {k}"))
}

fn host_port(s: &str, default: u16) -> (String, u16) {
    match s.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse().unwrap_or(default)),
        _ => (s.to_string(), default),
    }
}

fn default_port(transport: &str) -> u16 {
    if transport == "tls" { 5061 } else { 5060 }
}

// ---------------------------------------------------------------- Yealink

/// `<mac>.boot` → its `include:config` files in order (common, then the
/// MAC file, a bootstrap over HTTP) → `static.auto_provision.server.url`
/// with `.username`/`.password` → `<mac>.cfg` over HTTPS (`account.N.*`).
fn yealink(f: &mut Fetcher, base: &str) -> Result<Vec<SipLine>, String> {
    let mac = f.phone.plain();
    let boot = yealink_settings(&f.get(&format!("{base}{mac}.boot"), None)?, true);
    let includes = need(&boot, "include:config")?.to_string();
    let mut last = BTreeMap::new();
    for file in includes.split('|') {
        last = yealink_settings(&f.get(&format!("{base}{file}"), None)?, false);
    }
    let https = need(&last, "static.auto_provision.server.url")?.to_string();
    let user = need(&last, "static.auto_provision.server.username")?.to_string();
    let pass = need(&last, "static.auto_provision.server.password")?.to_string();
    let https = if https.ends_with('/') {
        https
    } else {
        format!("{https}/")
    };
    let main = yealink_settings(
        &f.get(&format!("{https}{mac}.cfg"), Some((&user, &pass)))?,
        false,
    );
    let mut lines = Vec::new();
    for i in 1.. {
        let k = |s: &str| format!("account.{i}.{s}");
        if main.get(&k("enable")).map(String::as_str) != Some("1") {
            break;
        }
        let transport = match need(&main, &k("sip_server.1.transport_type"))? {
            "0" => "udp",
            "1" => "tcp",
            "2" => "tls",
            t => return Err(format!("yealink transport_type {t}")),
        };
        lines.push(SipLine {
            user: need(&main, &k("user_name"))?.into(),
            auth: need(&main, &k("auth_name"))?.into(),
            password: need(&main, &k("password"))?.into(),
            host: need(&main, &k("sip_server.1.address"))?.into(),
            port: need(&main, &k("sip_server.1.port"))?
                .parse()
                .map_err(|_| "port")?,
            transport: transport.into(),
        });
    }
    Ok(lines)
}

// ---------------------------------------------------------------- XML helpers

/// Every attribute of every element (Polycom's format).
fn xml_attributes(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
    let mut m = BTreeMap::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        for a in n.attributes() {
            m.insert(a.name().to_string(), a.value().to_string());
        }
    }
    Ok(m)
}

/// Leaf elements by name, with `[idx]`/`[index]` when they carry one
/// (Cisco, Grandstream, Snom); a Fanvil `<line index="N">` parent gives
/// `line.N.Leaf`.
fn xml_leaves(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
    let mut m = BTreeMap::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        if n.children().any(|c| c.is_element()) {
            continue;
        }
        let name = n.tag_name().name();
        let key = match (n.attribute("idx"), n.parent_element()) {
            (Some(i), _) => format!("{name}[{i}]"),
            (None, Some(p)) if p.has_tag_name("line") => {
                format!("line.{}.{name}", p.attribute("index").unwrap_or("1"))
            }
            _ => name.to_string(),
        };
        m.insert(key, n.text().unwrap_or("").to_string());
    }
    Ok(m)
}

// ---------------------------------------------------------------- Polycom

/// `<mac>.cfg` (master, no secrets) → `<mac>-phone.cfg` over HTTP (the
/// bootstrap: `device.prov.serverName`, `device.prov.user/password`) →
/// `<mac>-phone.cfg` over HTTPS (`reg.N.*`).
fn polycom(f: &mut Fetcher, base: &str) -> Result<Vec<SipLine>, String> {
    let mac = f.phone.plain();
    f.get(&format!("{base}{mac}.cfg"), None)?;
    let boot = xml_attributes(&f.get(&format!("{base}{mac}-phone.cfg"), None)?)?;
    let https = need(&boot, "device.prov.serverName")?;
    let https = if https.ends_with('/') {
        https.to_string()
    } else {
        format!("{https}/")
    };
    let creds = (
        need(&boot, "device.prov.user")?,
        need(&boot, "device.prov.password")?,
    );
    let main = xml_attributes(&f.get(&format!("{https}{mac}-phone.cfg"), Some(creds))?)?;
    let mut lines = Vec::new();
    for i in 1.. {
        let k = |s: &str| format!("reg.{i}.{s}");
        let Some(user) = main.get(&k("address")) else {
            break;
        };
        let transport = match need(&main, &k("server.1.transport"))? {
            "UDPOnly" => "udp",
            "TCPOnly" => "tcp",
            "TLS" => "tls",
            t => return Err(format!("polycom transport {t}")),
        };
        lines.push(SipLine {
            user: user.clone(),
            auth: need(&main, &k("auth.userId"))?.into(),
            password: need(&main, &k("auth.password"))?.into(),
            host: need(&main, &k("server.1.address"))?.into(),
            port: need(&main, &k("server.1.port"))?
                .parse()
                .map_err(|_| "port")?,
            transport: transport.into(),
        });
    }
    Ok(lines)
}

// ---------------------------------------------------------------- Cisco

/// `8841.xml` (common; `Profile_Rule_B` = plain `$MA.xml`) → `<mac>.xml`
/// over HTTP (bootstrap: `Profile_Rule` = `[--uid U --pwd P] https://…/$MA.xml`)
/// → that over HTTPS (`User_ID_N_`, `Auth_ID_N_`, `Password_N_`, `Proxy_N_`,
/// `SIP_Transport_N_`).
fn cisco(f: &mut Fetcher, base: &str) -> Result<Vec<SipLine>, String> {
    let mac = f.phone.plain();
    let common = xml_leaves(&f.get(&format!("{base}8841.xml"), None)?)?;
    let next = need(&common, "Profile_Rule_B")?.replace("$MA", &mac);
    let boot = xml_leaves(&f.get(&next, None)?)?;
    let rule = need(&boot, "Profile_Rule")?;
    let words: Vec<&str> = rule
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
        .filter(|w| !w.is_empty())
        .collect();
    let after = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1))
            .copied()
            .ok_or_else(|| format!("Profile_Rule without {flag}: {rule}"))
    };
    let (uid, pwd) = (after("--uid")?, after("--pwd")?);
    let url = words
        .last()
        .ok_or("empty Profile_Rule")?
        .replace("$MA", &mac);
    let main = xml_leaves(&f.get(&url, Some((uid, pwd)))?)?;
    let mut lines = Vec::new();
    for i in 1.. {
        let k = |s: &str| format!("{s}_{i}_");
        if main.get(&k("Line_Enable")).map(String::as_str) != Some("Yes") {
            break;
        }
        let user = need(&main, &k("User_ID"))?;
        let auth = match main.get(&k("Use_Auth_ID")).map(String::as_str) {
            Some("Yes") => need(&main, &k("Auth_ID"))?,
            _ => user,
        };
        let transport = need(&main, &k("SIP_Transport"))?.to_ascii_lowercase();
        let (host, port) = host_port(need(&main, &k("Proxy"))?, default_port(&transport));
        lines.push(SipLine {
            user: user.into(),
            auth: auth.into(),
            password: need(&main, &k("Password"))?.into(),
            host,
            port,
            transport,
        });
    }
    Ok(lines)
}

// ---------------------------------------------------------------- Grandstream

/// `cfg<mac>.xml` over HTTP (bootstrap: `P212` 2 = HTTPS, `P237` the
/// server, `P1360`/`P1361` its credentials), `cfggxp2170.xml`, then
/// `cfg<mac>.xml` over HTTPS. Account 1: `P271` active, `P35` user, `P36`
/// auth ID, `P34` password, `P47` server, `P130` transport; account N ≥ 2
/// the P(N+2)xx block (`P401`, `P404`, `P405`, `P406`, `P402`, `P448`).
fn grandstream(f: &mut Fetcher, base: &str) -> Result<Vec<SipLine>, String> {
    let mac = f.phone.plain();
    let boot = xml_leaves(&f.get(&format!("{base}cfg{mac}.xml"), None)?)?;
    f.get(&format!("{base}cfggxp2170.xml"), None)?;
    if need(&boot, "P212")? != "2" {
        return Err("grandstream bootstrap: P212 is not HTTPS".into());
    }
    let server = need(&boot, "P237")?;
    let creds = (need(&boot, "P1360")?, need(&boot, "P1361")?);
    let main = xml_leaves(&f.get(&format!("https://{server}/cfg{mac}.xml"), Some(creds))?)?;
    let mut lines = Vec::new();
    for account in 1..=6u32 {
        let p = |one: u32, block: u32| {
            if account == 1 {
                format!("P{one}")
            } else {
                format!("P{}", (account + 2) * 100 + block)
            }
        };
        if main.get(&p(271, 1)).map(String::as_str) != Some("1") {
            break;
        }
        let transport = match need(&main, &p(130, 48))? {
            "0" => "udp",
            "1" => "tcp",
            "2" => "tls",
            t => return Err(format!("grandstream transport {t}")),
        };
        let (host, port) = host_port(need(&main, &p(47, 2))?, default_port(transport));
        lines.push(SipLine {
            user: need(&main, &p(35, 4))?.into(),
            auth: need(&main, &p(36, 5))?.into(),
            password: need(&main, &p(34, 6))?.into(),
            host,
            port,
            transport: transport.into(),
        });
    }
    Ok(lines)
}

// ---------------------------------------------------------------- Snom

/// Option 67 `{phone_type}.htm` → `snomD785.htm` (common), then
/// `snomD785-<MAC>.htm` over HTTP (bootstrap: `setting_server` with
/// `{phone_type}`/`{mac}`, `http_client_user/pass`), then that over HTTPS
/// (`user_name[N]`, `user_pname`, `user_pass`, `user_host`, `user_outbound`
/// `;transport=`).
fn snom(f: &mut Fetcher, base: &str) -> Result<Vec<SipLine>, String> {
    let mac = f.phone.plain().to_uppercase();
    let boot_file = f
        .phone
        .option_text("67")
        .ok_or("snom: no option 67")?
        .replace("{phone_type}", "snomD785");
    f.get(&format!("{base}{boot_file}"), None)?;
    let boot = xml_leaves(&f.get(&format!("{base}snomD785-{mac}.htm"), None)?)?;
    let url = need(&boot, "setting_server")?
        .replace("{phone_type}", "snomD785")
        .replace("{mac}", &mac);
    let creds = (
        need(&boot, "http_client_user")?,
        need(&boot, "http_client_pass")?,
    );
    let main = xml_leaves(&f.get(&url, Some(creds))?)?;
    let mut lines = Vec::new();
    for i in 1.. {
        let k = |s: &str| format!("{s}[{i}]");
        if main.get(&k("user_active")).map(String::as_str) != Some("on") {
            break;
        }
        let outbound = main.get(&k("user_outbound")).cloned().unwrap_or_default();
        let transport = outbound
            .split_once(";transport=")
            .map(|(_, t)| t.to_ascii_lowercase())
            .unwrap_or_else(|| "udp".into());
        let (host, port) = host_port(need(&main, &k("user_host"))?, default_port(&transport));
        lines.push(SipLine {
            user: need(&main, &k("user_name"))?.into(),
            auth: need(&main, &k("user_pname"))?.into(),
            password: need(&main, &k("user_pass"))?.into(),
            host,
            port,
            transport,
        });
    }
    Ok(lines)
}

// ---------------------------------------------------------------- Fanvil

/// `f0X4hw1.100.cfg` (common), `<mac>.cfg` over HTTP (bootstrap:
/// `FlashServerIP` the HTTPS URL, `Download_Username/Password`), then over
/// HTTPS (`line.N.PhoneNumber`, `RegisterUser`, `RegisterPswd`,
/// `RegisterAddr`, `RegisterPort`, `Transport` 0/1/3).
fn fanvil(f: &mut Fetcher, base: &str) -> Result<Vec<SipLine>, String> {
    let mac = f.phone.plain();
    f.get(&format!("{base}f0X4hw1.100.cfg"), None)?;
    let boot = xml_leaves(&f.get(&format!("{base}{mac}.cfg"), None)?)?;
    let https = need(&boot, "FlashServerIP")?;
    let https = if https.ends_with('/') {
        https.to_string()
    } else {
        format!("{https}/")
    };
    let creds = (
        need(&boot, "Download_Username")?,
        need(&boot, "Download_Password")?,
    );
    let main = xml_leaves(&f.get(&format!("{https}{mac}.cfg"), Some(creds))?)?;
    let mut lines = Vec::new();
    for i in 1.. {
        let k = |s: &str| format!("line.{i}.{s}");
        if main.get(&k("EnableReg")).map(String::as_str) != Some("1") {
            break;
        }
        let transport = match need(&main, &k("Transport"))? {
            "0" => "udp",
            "1" => "tcp",
            "3" => "tls",
            t => return Err(format!("fanvil transport {t}")),
        };
        lines.push(SipLine {
            user: need(&main, &k("PhoneNumber"))?.into(),
            auth: need(&main, &k("RegisterUser"))?.into(),
            password: need(&main, &k("RegisterPswd"))?.into(),
            host: need(&main, &k("RegisterAddr"))?.into(),
            port: need(&main, &k("RegisterPort"))?
                .parse()
                .map_err(|_| "port")?,
            transport: transport.into(),
        });
    }
    Ok(lines)
}
