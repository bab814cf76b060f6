//! Request → device → template → response.
//!
//! The HTTP listeners and `autoprov render` both go through
//! [`Provisioner::respond`], so the preview is byte for byte what a phone
//! gets over HTTPS. Everything vendor-specific comes from `crate::vendors`.

pub mod context;
pub mod firmware;
pub mod lockdown;
pub mod path;
pub mod settings;
pub mod templates;

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::Value;

use crate::domain::mac::Mac;
use crate::domain::{DEFAULT_SITE, Site, User};
use crate::store::{Store, StoreError};
use crate::vendors::{self, FileKind, UaInfo, Vendor};
use context::{Delivery, Env};
pub use templates::{TemplateError, Templates};

/// The one body every refusal gets, whatever the reason (unknown MAC, source
/// not allowed, User-Agent MAC mismatch, bad name): no enumeration oracle.
pub const NOT_FOUND_BODY: &[u8] = b"not found\n";

/// Provisioning settings from the config's `[provision]` section.
#[derive(Debug, Clone)]
pub struct Settings {
    pub repeat_minutes: u32,
    pub bootstrap_repeat_minutes: u32,
    /// Issue per-device provisioning credentials derived with this key in
    /// each phone's main file.
    pub device_key: Option<crate::keys::ServerKey>,
    /// The certificate phones are told to trust (`[tls]`), when known.
    pub phone_ca: Option<crate::pki::PhoneCa>,
    /// Sites whose phones get fixed web passwords instead of their own
    /// (`[sites.NAME] phone_admin_password`, docs/lockdown.md).
    pub site_phone_passwords:
        std::collections::BTreeMap<String, crate::config::FixedPhonePasswords>,
    /// Site and model vendor settings (docs/settings.md).
    pub vendor_settings: crate::config::VendorSettings,
    /// `[firmware]`, its files checked: what each phone is pointed at.
    pub firmware: firmware::Catalog,
}

impl Default for Settings {
    /// The config's defaults (`[provision]` 1440 and 5 minutes) with
    /// nothing issued, no CA, no settings and no firmware: what a test or
    /// an embedding starts from before it sets what it needs.
    fn default() -> Settings {
        Settings {
            repeat_minutes: 1440,
            bootstrap_repeat_minutes: 5,
            device_key: None,
            phone_ca: None,
            site_phone_passwords: Default::default(),
            vendor_settings: Default::default(),
            firmware: Default::default(),
        }
    }
}

/// Where phones fetch [`Settings::phone_ca`] as PEM, on either listener.
/// Plain HTTP is fine for it: a certificate is public, and a phone cannot
/// verify our HTTPS before it has it.
pub const CA_PATH: &str = "/ca.pem";

/// How the answer may be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// TLS (or an explicit opt-in on plain HTTP): the full file.
    Secure,
    /// Plain HTTP: the per-MAC main file is the staged bootstrap without
    /// passwords, pointing the phone at this HTTPS base URL.
    Bootstrap { https_url: String },
}

/// One provisioning request, independent of HTTP.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub path: &'a str,
    pub user_agent: Option<&'a str>,
    pub channel: Channel,
    /// This server's HTTPS base URL (`https://host:port/`) as the phone
    /// reached it, when known: a main file that restates where the phone
    /// fetches it over HTTPS (Cisco's Profile_Rule with credentials) needs it.
    pub https_url: Option<&'a str>,
    /// This server's plain-HTTP base URL (`http://host:port/`) as the phone
    /// reached it, when known: where a phone that does not trust our HTTPS
    /// yet fetches [`CA_PATH`].
    pub http_url: Option<&'a str>,
}

/// A file to send.
#[derive(Debug, Clone)]
pub struct Served {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub file: String,
    pub vendor: &'static str,
    /// True when the secrets were left out (plain-HTTP bootstrap).
    pub staged: bool,
    /// The phone's own main file (bootstrap or full), for the fetch history.
    pub main: bool,
    /// What the file could not say (a zone the vendor cannot express):
    /// `autoprov render` prints these, the phone listener logs them.
    pub warnings: Vec<String>,
    /// The vendor settings written into the file, each with the level it
    /// came from (`autoprov render --explain`).
    pub settings: Vec<crate::domain::settings::Effective>,
    /// The firmware the file points the phone at, as `version (file) from
    /// level`, for `autoprov render --explain`.
    pub firmware: Option<String>,
}

/// Why nothing is sent. All of these look the same to the requester.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("not a file name any vendor requests")]
    NoSuchFile,
    #[error("no phone with MAC {0}")]
    UnknownMac(Mac),
    #[error("the User-Agent names MAC {ua} but the file is for {path}")]
    UaMismatch { path: Mac, ua: Mac },
    #[error("phone {mac} is a {vendor} phone, which has no file by that name")]
    WrongVendor { mac: Mac, vendor: String },
    #[error("several vendors use this file name and the User-Agent does not say which")]
    Ambiguous,
    #[error("cannot render {file}: {message}")]
    Render { file: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Refusal {
    /// Failures on our side (HTTP 500), as opposed to "not found".
    pub fn is_server_error(&self) -> bool {
        matches!(self, Refusal::Render { .. } | Refusal::Store(_))
    }
}

/// What a request told us, for the fetch record, whether or not it was served.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The decoded file name, when the path was a valid name.
    pub file: Option<String>,
    /// The MAC from the path, else from the User-Agent.
    pub mac: Option<Mac>,
    /// Whether `mac` came from the path: a 200 for such a name means the
    /// phone was found in the store (a per-MAC file was served).
    pub mac_in_path: bool,
    pub ua: Option<UaInfo>,
}

/// Renders vendor files for the phones in the store.
pub struct Provisioner {
    store: Arc<dyn Store + Send + Sync>,
    templates: Templates,
    settings: Settings,
    sites: HashMap<String, Site>,
    /// Extension → display name, for BLF labels. Taken at start and again
    /// by [`Provisioner::refresh`] after an import through the admin API
    /// (the server holds the store's lock, so nothing else changes users).
    directory: std::sync::RwLock<Arc<HashMap<String, String>>>,
    /// Bumped by every [`Provisioner::refresh`]: a render cache keys on it
    /// (with the store's generation), so a file rendered with the old
    /// directory is not kept past the refresh.
    refreshes: std::sync::atomic::AtomicU64,
}

impl Provisioner {
    pub fn new(
        store: Arc<dyn Store + Send + Sync>,
        templates: Templates,
        settings: Settings,
    ) -> Result<Provisioner, StoreError> {
        let sites = store
            .sites()?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let directory = directory(store.as_ref())?;
        Ok(Provisioner {
            store,
            templates,
            settings,
            sites,
            directory: std::sync::RwLock::new(Arc::new(directory)),
            refreshes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Re-reads what is derived from all users, after an import changed them.
    pub fn refresh(&self) -> Result<(), StoreError> {
        let fresh = Arc::new(directory(self.store.as_ref())?);
        *self.directory.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// How many times [`Provisioner::refresh`] ran: what it derives from
    /// all users changes only then.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The store as a handle that outlives a request (the fetch-record
    /// writer holds one).
    pub fn shared_store(&self) -> Arc<dyn Store + Send + Sync> {
        self.store.clone()
    }

    fn directory(&self) -> Arc<HashMap<String, String>> {
        self.directory
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What the request names, without deciding anything (for records).
    pub fn identify(&self, req: &Request<'_>) -> Identity {
        let file = path::file_name(req.path);
        let ua = req
            .user_agent
            .and_then(vendors::parse_user_agent)
            .map(|(_, info)| info);
        let path_mac = file
            .as_deref()
            .and_then(|f| path::matches(f).into_iter().find_map(|m| m.mac));
        Identity {
            mac: path_mac.or(ua.as_ref().and_then(|u| u.mac)),
            mac_in_path: path_mac.is_some(),
            file,
            ua,
        }
    }

    /// The store, for callers that record fetches against it.
    pub fn store(&self) -> &(dyn Store + Send + Sync) {
        self.store.as_ref()
    }

    /// The provisioning password a phone's main file carries (derived from
    /// the server key), so a preview can mask it; `None` without a key.
    pub fn device_password(&self, mac: &Mac) -> Option<String> {
        let key = self.settings.device_key.as_ref()?;
        Some(key.device_credential(mac).password)
    }

    /// Answers one request: the rendered file or the reason for refusing.
    pub fn respond(&self, req: &Request<'_>) -> Result<Served, Refusal> {
        let name = path::file_name(req.path).ok_or(Refusal::NoSuchFile)?;
        // Upload-only names (Polycom logs) are never served.
        let candidates: Vec<path::Match> = path::matches(&name)
            .into_iter()
            .filter(|m| m.rule.kind != FileKind::Upload)
            .collect();
        let ua = req.user_agent.and_then(vendors::parse_user_agent);
        let ua_info = ua.as_ref().map(|(_, i)| i);
        match candidates.iter().find_map(|m| m.mac) {
            Some(mac) => self.per_mac(&name, mac, &candidates, ua_info, req),
            None => {
                let chosen = match candidates.as_slice() {
                    [] => return Err(Refusal::NoSuchFile),
                    [only] => *only,
                    several => *several
                        .iter()
                        .find(|m| ua.as_ref().is_some_and(|(v, _)| v.id == m.vendor.id))
                        .ok_or(Refusal::Ambiguous)?,
                };
                self.common(&name, chosen, ua_info, req)
            }
        }
    }

    fn per_mac(
        &self,
        name: &str,
        mac: Mac,
        candidates: &[path::Match],
        ua: Option<&UaInfo>,
        req: &Request<'_>,
    ) -> Result<Served, Refusal> {
        let channel = &req.channel;
        if let Some(ua_mac) = ua.and_then(|u| u.mac)
            && ua_mac != mac
        {
            return Err(Refusal::UaMismatch {
                path: mac,
                ua: ua_mac,
            });
        }
        let user = self
            .store
            .user_by_mac(mac)?
            .ok_or(Refusal::UnknownMac(mac))?;
        let phone = user
            .phones
            .iter()
            .find(|p| p.mac == mac)
            .ok_or(Refusal::UnknownMac(mac))?;
        let m = candidates
            .iter()
            .find(|m| m.vendor.id == phone.vendor)
            .ok_or_else(|| Refusal::WrongVendor {
                mac,
                vendor: phone.vendor.clone(),
            })?;
        let staged = m.rule.kind == FileKind::Main && matches!(channel, Channel::Bootstrap { .. });
        let delivery = match (staged, channel) {
            (true, Channel::Bootstrap { https_url }) => Delivery {
                secrets: false,
                server_url: Some(https_url),
                repeat_minutes: self.settings.bootstrap_repeat_minutes,
            },
            _ => Delivery {
                secrets: m.rule.kind == FileKind::Main,
                server_url: None,
                repeat_minutes: self.settings.repeat_minutes,
            },
        };
        let dir = self.directory();
        let env = self.env(m.vendor, &user.site, &dir);
        let mut ctx = match m.rule.kind {
            FileKind::Main => context::for_user(&env, &user, mac, ua, &delivery),
            _ => context::device_only(&env, Some(mac), ua, &delivery),
        }
        .map_err(|e| render_error(name, &e))?;
        if m.rule.kind == FileKind::Main
            && let Some(key) = &self.settings.device_key
        {
            let own = key.device_credential(&mac);
            ctx.provisioning.username = Some(own.user);
            ctx.provisioning.password = Some(own.password);
            ctx.provisioning.https_url = req.https_url.map(str::to_string);
        }
        // The CA's URL only where the phone does not trust our HTTPS yet
        // (the bootstrap); a file fetched over HTTPS came through it.
        ctx.ca = self.ca(staged.then_some(req.http_url).flatten());
        // The phone's web passwords travel only where its SIP passwords
        // do: the main file, delivered securely. Issued on the first such
        // rendering.
        if m.rule.kind == FileKind::Main && delivery.secrets {
            let fixed = self.settings.site_phone_passwords.get(&user.site);
            let pw = lockdown::issue(self.store.as_ref(), mac, fixed)?;
            ctx.lockdown = Some(context::LockdownCtx {
                admin_password: pw.admin,
                user_password: pw.user,
            });
        }
        if !staged {
            ctx.firmware = self.firmware_ctx(m.vendor, phone, ua, &user.site, req);
        }
        // Settings only where the passwords go: an opted-in owned key may
        // carry a secret, and the bootstrap only has to reach HTTPS.
        let effective = if m.rule.kind == FileKind::Main && delivery.secrets {
            let model = ctx.device.model.clone();
            settings::effective(
                &self.settings.vendor_settings,
                &user,
                m.vendor,
                model.as_deref(),
            )
        } else {
            Vec::new()
        };
        ctx.settings = settings::for_template(&effective);
        let mut served = self.render(name, m, &ctx, staged)?;
        served.settings = effective;
        served.firmware = ctx
            .firmware
            .as_ref()
            .map(|f| format!("{} ({}) from {}", f.version, f.file, f.origin));
        Ok(served)
    }

    /// The target for this phone, pointed at the listener the request
    /// came on (HTTPS for the secure channel), and whether its User-Agent
    /// already reports it. `None` without a target or a base URL.
    fn firmware_ctx(
        &self,
        vendor: &Vendor,
        phone: &crate::domain::Phone,
        ua: Option<&UaInfo>,
        site: &str,
        req: &Request<'_>,
    ) -> Option<context::FirmwareCtx> {
        let model = phone
            .model
            .as_deref()
            .or_else(|| ua.and_then(|u| u.model.as_deref()));
        let target = self.settings.firmware.target(vendor.id, model, site)?;
        let base = match req.channel {
            Channel::Secure => req.https_url,
            Channel::Bootstrap { .. } => req.http_url,
        }?;
        let url = format!("{}{}", base.trim_end_matches('/'), target.url_path);
        let https = url.starts_with("https://");
        let server_path = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .trim_end_matches(&target.file)
            .trim_end_matches('/')
            .to_string();
        let file_prefix = target
            .file
            .rfind('-')
            .map_or(String::new(), |i| target.file[..=i].to_string());
        let reported = ua.and_then(|u| u.firmware.as_deref());
        Some(context::FirmwareCtx {
            current: !firmware::is_outdated(reported, &target),
            version: target.version,
            file: target.file,
            url,
            server_path,
            https,
            file_prefix,
            origin: target.origin,
        })
    }

    /// A file the same for every phone: it may use what the User-Agent says
    /// about the requester, but never whether its MAC is in the store.
    /// `server_url` is this server's HTTPS base URL when known.
    fn common(
        &self,
        name: &str,
        m: path::Match,
        ua: Option<&UaInfo>,
        req: &Request<'_>,
    ) -> Result<Served, Refusal> {
        let delivery = Delivery {
            secrets: false,
            server_url: req.https_url,
            repeat_minutes: self.settings.repeat_minutes,
        };
        let dir = self.directory();
        let env = self.env(m.vendor, DEFAULT_SITE, &dir);
        let mut ctx = context::device_only(&env, ua.and_then(|u| u.mac), ua, &delivery)
            .map_err(|e| render_error(name, &e))?;
        // Common files may send a phone on to its plain-HTTP bootstrap
        // (Cisco's Profile_Rule_B) and say where the CA is.
        ctx.ca = self.ca(req.http_url);
        ctx.provisioning.plain_url = req.http_url.map(str::to_string);
        self.render(name, &m, &ctx, false)
    }

    /// The configured firmware images, for the file server.
    pub fn firmware(&self) -> &firmware::Catalog {
        &self.settings.firmware
    }

    /// The certificate phones are told to trust, if any.
    pub fn phone_ca(&self) -> Option<&crate::pki::PhoneCa> {
        self.settings.phone_ca.as_ref()
    }

    /// The template's view of the CA, fetchable under `http_url` when given.
    fn ca(&self, http_url: Option<&str>) -> Option<context::CaCtx> {
        self.settings.phone_ca.as_ref().map(|ca| context::CaCtx {
            url: http_url.map(|u| format!("{}{}", u, CA_PATH.trim_start_matches('/'))),
            pem: ca.pem().to_string(),
            base64: ca.base64().to_string(),
        })
    }

    /// Renders the matched rule's template with `ctx` into what is sent.
    fn render(
        &self,
        name: &str,
        m: &path::Match,
        ctx: &context::Context,
        staged: bool,
    ) -> Result<Served, Refusal> {
        // Only uploads have no template, and those never get here.
        let template = m
            .rule
            .template
            .ok_or_else(|| render_error(name, &"the file has no template"))?;
        let body = self
            .templates
            .render(template.name, Value::from(minijinja::value::Serde(ctx)))
            .map_err(|e| render_error(name, &e))?;
        let body = if ctx.settings.is_empty() {
            body
        } else {
            let keys: Vec<&str> = ctx.settings.iter().map(|s| s.key.as_str()).collect();
            vendors::settings::keep_last(m.vendor, &body, &keys)
        };
        Ok(Served {
            body: body.into_bytes(),
            content_type: m.rule.content_type,
            file: name.to_string(),
            vendor: m.vendor.id,
            staged,
            main: m.rule.kind == FileKind::Main,
            warnings: ctx.timezone.warnings.clone(),
            settings: Vec::new(),
            firmware: None,
        })
    }

    fn env<'a>(
        &'a self,
        vendor: &'static Vendor,
        site: &str,
        directory: &'a HashMap<String, String>,
    ) -> Env<'a> {
        Env {
            vendor,
            site: self.site(site),
            directory,
        }
    }

    /// The named site, else the default one (always present in a store
    /// opened through the config; a built-in default otherwise).
    fn site(&self, name: &str) -> &Site {
        static FALLBACK: std::sync::OnceLock<Site> = std::sync::OnceLock::new();
        self.sites
            .get(name)
            .or_else(|| self.sites.get(DEFAULT_SITE))
            .unwrap_or_else(|| FALLBACK.get_or_init(Site::default))
    }

    /// The phone's user and vendor, for `autoprov render`.
    pub fn phone(&self, mac: Mac) -> Result<Option<(User, &'static Vendor)>, StoreError> {
        let Some(user) = self.store.user_by_mac(mac)? else {
            return Ok(None);
        };
        let vendor = user
            .phones
            .iter()
            .find(|p| p.mac == mac)
            .and_then(|p| vendors::by_id(&p.vendor));
        Ok(vendor.map(|v| (user, v)))
    }
}

fn render_error(file: &str, e: &dyn std::fmt::Display) -> Refusal {
    Refusal::Render {
        file: file.to_string(),
        message: e.to_string(),
    }
}

/// Extension → display name over all users' lines.
fn directory(store: &(dyn Store + Send + Sync)) -> Result<HashMap<String, String>, StoreError> {
    // Streamed: only extension → name pairs are kept, never every user at
    // once (the server's peak with 100,000 phones was 297 MB that way).
    let mut map = HashMap::new();
    store.for_each_user(&mut |u| {
        let name = u.display();
        for l in u.lines {
            map.insert(l.extension, name.clone());
        }
    })?;
    Ok(map)
}
