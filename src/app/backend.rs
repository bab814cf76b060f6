//! Where a CLI command's operation runs: on the store itself, or, while a
//! running server holds the store's lock, through that server's admin
//! socket. Either way the command gets the same [`Answer`], byte for byte,
//! because both ends call the same [`ops`] functions; this module is the
//! one place that knows the two routes, so a command is one call.

use std::path::Path;
use std::sync::Arc;

use hyper::Method;

use super::client::{self, Client, ClientError};
use super::explain;
use super::ops::{
    self, Answer, Format, ImportRequest, OpError, PhoneFilter, RenderRequest, RotateTarget,
};
use super::settings::{self, SettingsError};
use crate::config::Config;
use crate::import::read::delimiter_name;
use crate::import::{ImportError, Progress};
use crate::provision::{Provisioner, TemplateError, Templates};
use crate::store::{PostgresStore, SledStore, Store, StoreError};

/// The operations a CLI command asks for, wherever they run.
pub trait Backend {
    /// `autoprov users`: everyone, sorted by username.
    fn users(&self, format: Format) -> Result<Answer, BackendError>;
    /// `autoprov users show NAME [--secrets]`.
    fn user(&self, username: &str, secrets: bool, format: Format) -> Result<Answer, BackendError>;
    /// `autoprov phones`.
    fn phones(&self, format: Format) -> Result<Answer, BackendError>;
    /// `autoprov phones --outdated` (docs/firmware.md).
    fn outdated_phones(&self, format: Format) -> Result<Answer, BackendError>;
    /// `autoprov phones show MAC [--secrets]`.
    fn phone(&self, mac: &str, secrets: bool, format: Format) -> Result<Answer, BackendError>;
    /// `autoprov phones rotate-admin-password MAC|--all`.
    fn rotate_phone_passwords(&self, target: &RotateTarget) -> Result<Answer, BackendError>;
    /// `autoprov history`.
    fn history(&self, format: Format) -> Result<Answer, BackendError>;
    /// `autoprov export [--include-secrets]`.
    fn export(&self, include_secrets: bool) -> Result<Answer, BackendError>;
    /// `autoprov import`: `bytes` imported as `req` says. `progress` is told
    /// about the steps only where the work happens, here; a running server
    /// does the work out of sight, so nothing is drawn then.
    fn import(
        &self,
        bytes: Vec<u8>,
        req: &ImportRequest,
        progress: Option<&dyn Progress>,
    ) -> Result<Answer, BackendError>;
    /// `autoprov render`: the bytes the phone gets over HTTPS, with the
    /// templates in `templates` when given (a running server renders with
    /// its own, so it refuses them).
    fn render(&self, req: &RenderRequest, templates: Option<&Path>)
    -> Result<Answer, BackendError>;
}

/// Why an operation gave no [`Answer`] at all.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Remote(#[from] ClientError),
    /// `--templates DIR` is not a directory.
    #[error(transparent)]
    Templates(#[from] TemplateError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(
        "--templates cannot be used while the server runs: it renders with its own templates (drop --templates to preview those)"
    )]
    TemplatesWhileServing,
}

/// Why the store did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data directory {path}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The store a command opened: sled in the data directory, or the
/// PostgreSQL database of `[store] url` / `--store`. Derefs to the trait;
/// the variants are for what only one engine does (sled's flush, the
/// running-server fallback).
#[derive(Clone)]
pub enum Opened {
    Sled(Arc<SledStore>),
    Postgres(Arc<PostgresStore>),
}

impl Opened {
    /// The store as the layers above take it.
    pub fn shared(&self) -> Arc<dyn Store + Send + Sync> {
        match self {
            Opened::Sled(s) => s.clone(),
            Opened::Postgres(p) => p.clone(),
        }
    }

    /// Makes sled's last writes durable before exit; a database commits
    /// every write as it is made.
    pub fn flush(&self) -> Result<(), StoreError> {
        match self {
            Opened::Sled(s) => s.flush(),
            Opened::Postgres(_) => Ok(()),
        }
    }
}

impl std::ops::Deref for Opened {
    type Target = dyn Store + Send + Sync;

    fn deref(&self) -> &Self::Target {
        match self {
            Opened::Sled(s) => s.as_ref(),
            Opened::Postgres(p) => p.as_ref(),
        }
    }
}

/// Opens a store by location: a `postgres://` URL, or a data directory
/// holding a sled store (created if needed). Sites are left as they are.
pub fn open_location(location: &str) -> Result<Opened, OpenError> {
    if crate::store::postgres::is_url(location) {
        return Ok(Opened::Postgres(Arc::new(PostgresStore::open(location)?)));
    }
    let dir = Path::new(location);
    std::fs::create_dir_all(dir).map_err(|source| OpenError::Dir {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(Opened::Sled(Arc::new(SledStore::open(dir)?)))
}

/// Opens the config's store (`[store] url`, else the sled store in `data`)
/// and makes its site table match the config. Writes only when the sites
/// differ, so read-only commands and dry runs leave it as is.
pub fn open_store(data: &Path, config: &Config) -> Result<Opened, OpenError> {
    let store = match &config.store.url {
        Some(url) => Opened::Postgres(Arc::new(PostgresStore::open(url)?)),
        None => {
            std::fs::create_dir_all(data).map_err(|source| OpenError::Dir {
                path: data.display().to_string(),
                source,
            })?;
            Opened::Sled(Arc::new(SledStore::open(data)?))
        }
    };
    let mut stored = store.sites()?;
    let mut wanted = config.sites.clone();
    stored.sort_by(|a, b| a.name.cmp(&b.name));
    wanted.sort_by(|a, b| a.name.cmp(&b.name));
    if stored != wanted {
        store.put_sites(&wanted)?;
    }
    Ok(store)
}

/// The store in `data`; when a running server holds its lock, that
/// server's admin socket. A lock without a listening socket (a server
/// that was killed, another process) is reported as the lock.
pub fn open<'a>(data: &'a Path, config: &'a Config) -> Result<Box<dyn Backend + 'a>, BackendError> {
    match open_store(data, config) {
        Ok(store) => Ok(Box::new(Local {
            store: store.shared(),
            data,
            config,
        })),
        Err(OpenError::Store(StoreError::Locked(dir))) => match Client::find(data) {
            Some(client) => {
                tracing::debug!("store locked; asking the running server");
                Ok(Box::new(Remote { client }))
            }
            None => Err(StoreError::Locked(dir).into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// The store, opened by this process.
struct Local<'a> {
    store: Arc<dyn Store + Send + Sync>,
    data: &'a Path,
    config: &'a Config,
}

impl Backend for Local<'_> {
    fn users(&self, format: Format) -> Result<Answer, BackendError> {
        Ok(ops::users(
            self.store.as_ref(),
            format,
            &Default::default(),
        )?)
    }

    fn user(&self, username: &str, secrets: bool, format: Format) -> Result<Answer, BackendError> {
        Ok(ops::user(self.store.as_ref(), username, secrets, format)?)
    }

    fn phones(&self, format: Format) -> Result<Answer, BackendError> {
        let all = PhoneFilter::default();
        let firmware = &self.config.firmware;
        Ok(ops::phones(self.store.as_ref(), firmware, format, &all)?)
    }

    fn outdated_phones(&self, format: Format) -> Result<Answer, BackendError> {
        let fw = &self.config.firmware;
        Ok(super::outdated::outdated(self.store.as_ref(), fw, format)?)
    }

    fn phone(&self, mac: &str, secrets: bool, format: Format) -> Result<Answer, BackendError> {
        let sites = &self.config.site_phone_passwords;
        let firmware = &self.config.firmware;
        let store = self.store.as_ref();
        let answer = ops::phone(store, sites, firmware, mac, secrets, format)?;
        let vendor_settings = &self.config.settings;
        Ok(explain::phone_settings(
            answer,
            store,
            vendor_settings,
            mac,
            format,
        )?)
    }

    fn rotate_phone_passwords(&self, target: &RotateTarget) -> Result<Answer, BackendError> {
        let sites = &self.config.site_phone_passwords;
        Ok(ops::rotate_phone_passwords(
            self.store.as_ref(),
            sites,
            target,
        )?)
    }

    fn history(&self, format: Format) -> Result<Answer, BackendError> {
        Ok(ops::history(self.store.as_ref(), format)?)
    }

    fn export(&self, include_secrets: bool) -> Result<Answer, BackendError> {
        Ok(ops::export(self.store.as_ref(), include_secrets)?)
    }

    fn import(
        &self,
        bytes: Vec<u8>,
        req: &ImportRequest,
        progress: Option<&dyn Progress>,
    ) -> Result<Answer, BackendError> {
        let (answer, _) = ops::import(self.store.as_ref(), self.config, bytes, req, progress)?;
        Ok(answer)
    }

    fn render(
        &self,
        req: &RenderRequest,
        templates: Option<&Path>,
    ) -> Result<Answer, BackendError> {
        let templates = Templates::new(templates)?;
        let settings = settings::provision(self.data, self.config)?;
        let provisioner = Provisioner::new(self.store.clone(), templates, settings)?;
        let https_url = self.config.provision.https_url.as_deref();
        Ok(ops::render(&provisioner, https_url, req)?)
    }
}

/// The running server, over `<data>/admin.sock`: the admin API's
/// endpoints with the CLI's options as query parameters.
struct Remote {
    client: Client,
}

impl Remote {
    fn send(&self, method: Method, path: &str, body: Vec<u8>) -> Result<Answer, BackendError> {
        Ok(self.client.send(method, path, body)?)
    }

    /// A look-up, in the CLI's format.
    fn look_up(
        &self,
        path: &str,
        params: &[(&str, Option<&str>)],
        format: Format,
    ) -> Result<Answer, BackendError> {
        let mut all = params.to_vec();
        all.push(("format", Some(format.as_str())));
        self.send(Method::GET, &client::query(path, &all), Vec::new())
    }
}

/// A boolean query parameter: present when on.
fn flag(on: bool) -> Option<&'static str> {
    on.then_some("true")
}

impl Backend for Remote {
    fn users(&self, format: Format) -> Result<Answer, BackendError> {
        self.look_up("/api/v1/users", &[], format)
    }

    fn user(&self, username: &str, secrets: bool, format: Format) -> Result<Answer, BackendError> {
        let path = format!("/api/v1/users/{}", client::segment(username));
        self.look_up(&path, &[("secrets", flag(secrets))], format)
    }

    fn phones(&self, format: Format) -> Result<Answer, BackendError> {
        self.look_up("/api/v1/phones", &[], format)
    }

    fn outdated_phones(&self, format: Format) -> Result<Answer, BackendError> {
        self.look_up("/api/v1/phones", &[("outdated", flag(true))], format)
    }

    fn phone(&self, mac: &str, secrets: bool, format: Format) -> Result<Answer, BackendError> {
        let path = format!("/api/v1/phones/{}", client::segment(mac));
        self.look_up(&path, &[("secrets", flag(secrets))], format)
    }

    fn rotate_phone_passwords(&self, target: &RotateTarget) -> Result<Answer, BackendError> {
        let path = match target {
            RotateTarget::Mac(mac) => format!(
                "/api/v1/phones/{}/rotate-admin-password",
                client::segment(mac)
            ),
            RotateTarget::All => "/api/v1/phones/rotate-admin-password".to_string(),
        };
        self.send(Method::POST, &path, Vec::new())
    }

    fn history(&self, format: Format) -> Result<Answer, BackendError> {
        self.look_up("/api/v1/history", &[], format)
    }

    fn export(&self, include_secrets: bool) -> Result<Answer, BackendError> {
        let params = [("include_secrets", flag(include_secrets))];
        let path = client::query("/api/v1/export", &params);
        self.send(Method::GET, &path, Vec::new())
    }

    fn import(
        &self,
        bytes: Vec<u8>,
        req: &ImportRequest,
        _progress: Option<&dyn Progress>,
    ) -> Result<Answer, BackendError> {
        let o = &req.options;
        let notes = (!o.notes.is_empty()).then(|| {
            let list: Vec<serde_json::Value> = o
                .notes
                .iter()
                .map(|n| serde_json::json!({"code": n.code, "column": n.column, "message": n.message}))
                .collect();
            serde_json::Value::from(list).to_string()
        });
        let percent = o.max_delete_percent.map(|p| p.to_string());
        let path = client::query(
            "/api/v1/import",
            &[
                ("mode", Some(o.mode.as_str())),
                ("dry_run", flag(o.dry_run)),
                ("partial", flag(o.partial)),
                ("source", o.source.as_deref()),
                (
                    "delimiter",
                    Some(o.read.delimiter.map_or("auto", delimiter_name)),
                ),
                ("encoding", Some(ops::encoding_name(o.read.encoding))),
                ("show_secrets", flag(o.show_secrets)),
                ("reassign_macs", flag(o.reassign_macs)),
                ("yes", flag(req.yes)),
                ("format", Some(req.format.as_str())),
                ("file_name", Some(o.file_name.as_str())),
                ("map", o.mapping.as_ref().and_then(|m| m.text.as_deref())),
                ("label_column", o.label_column.as_deref()),
                ("notes", notes.as_deref()),
                ("max_delete_percent", percent.as_deref()),
            ],
        );
        self.send(Method::POST, &path, bytes)
    }

    fn render(
        &self,
        req: &RenderRequest,
        templates: Option<&Path>,
    ) -> Result<Answer, BackendError> {
        if templates.is_some() {
            return Err(BackendError::TemplatesWhileServing);
        }
        let path = client::query(
            &format!("/api/v1/render/{}", req.mac),
            &[
                ("file", req.file.as_deref()),
                ("user_agent", req.user_agent.as_deref()),
                ("explain", flag(req.explain)),
            ],
        );
        self.send(Method::GET, &path, Vec::new())
    }
}
