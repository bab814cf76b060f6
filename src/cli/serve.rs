//! `autoprov serve`: the settings the library derives from the config
//! and flags, wired to the listeners (provisioning, admin, DHCP) and the
//! scheduled sources, run until a signal stops them all.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;

use crate::cli::args::ServeArgs;
use crate::cli::dhcp::{self, Prepared};
use crate::cli::import;
use crate::{Fail, runtime, usage};
use autoprov::app::Serving;
use autoprov::app::backend::open_store;
use autoprov::app::fetch_log::{self, FetchLog};
use autoprov::app::metrics::Metrics;
use autoprov::app::settings::{self, cert_source};
use autoprov::app::sources::Runner;
use autoprov::app::tokens::{TokenHome, TokenSet};
use autoprov::config::Config;
use autoprov::dhcp::settings::DhcpSettings;
use autoprov::http::admin::api::{Api, ApiSettings};
use autoprov::http::admin::server::AdminServer;
use autoprov::http::settings::{DRAIN_LIMIT, serve_options};
use autoprov::http::{ServeError, ServeOptions, Server};
use autoprov::provision::{Provisioner, Templates};
use autoprov::tftp::TftpServer;

pub fn run(data: &Path, config: &Config, args: ServeArgs) -> Result<u8, Fail> {
    // Contradictory flags are refused before anything is opened.
    let dhcp_flags = args.dhcp.flags();
    let dhcp_settings = DhcpSettings::new(&dhcp_flags, &config.dhcp)?;
    let templates = Templates::new(args.templates.as_deref()).map_err(usage)?;
    let store = open_store(data, config)?;
    if let Some(file) = &args.import {
        let code = import::before_serving(&*store, config, file)?;
        if code != 0 {
            return Ok(code);
        }
    }
    let opened = store;
    let store = opened.shared();
    let flags = args.flags();
    // Generated before the provisioner reads it for the phones' trust settings.
    let https_ip = flags.https(config).ip();
    autoprov::pki::prepare(&cert_source(data, config), &[https_ip]).map_err(usage)?;
    let provisioner = Arc::new(Provisioner::new(
        store.clone(),
        templates,
        settings::provision(data, config)?,
    )?);
    let metrics = Arc::new(Metrics::default());
    let mut opts = serve_options(data, config, &flags, metrics.clone())?;
    // One fetch-record writer: the phone listener queues, the admin API's
    // fleet reads flush it (docs/phones.md).
    let fetch_log = Arc::new(FetchLog::start(store.clone(), fetch_log::DEFAULT_CAPACITY));
    opts.fetch_log = Some(fetch_log.clone());
    let tftp = args.tftp.or(config.listen.tftp);
    let dhcp = dhcp::prepare(&dhcp_settings, opts.http, tftp, opened.clone())?;
    if let Some(d) = &dhcp {
        metrics.attach_dhcp(d.stats());
    }
    let serving = Arc::new(Serving {
        store: store.clone(),
        provisioner: provisioner.clone(),
        config: Arc::new(config.clone()),
        metrics,
        fetch_log: Some(fetch_log.clone()),
        health: Default::default(),
    });
    let listeners = Listeners {
        opts,
        admin: args.admin.unwrap_or(config.listen.admin).0,
        dhcp,
        tftp,
        provisioner,
        api: api(data, config, serving)?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(runtime)?;
    rt.block_on(listeners.run(data))?;
    // Every queued fetch record is written before the store is closed.
    fetch_log.close();
    opened.flush()?;
    eprintln!("autoprov: stopped");
    Ok(0)
}

/// The admin API over the served store, with the configured sources and
/// the admin tokens (the store's shared list on a database engine).
fn api(data: &Path, config: &Config, serving: Arc<Serving>) -> Result<Arc<Api>, Fail> {
    let node = node_id(data);
    let sources = Arc::new(Runner::new(serving.clone(), config.admin.max_body_bytes).on_node(node));
    let home = TokenHome::open(data, Some(serving.store.clone())).map_err(runtime)?;
    Ok(Arc::new(Api {
        serving,
        sources,
        tokens: TokenSet::in_home(home),
        settings: ApiSettings::from(&config.admin),
    }))
}

/// This node's name in run leases: the host and the data directory, so it
/// is the same after a restart (the lease it held is still its own) and
/// differs between two servers on one host.
fn node_id(data: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let dir = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_path_buf());
    format!("{host}:{}", dir.display())
}

/// Everything `serve` runs, ready to bind.
struct Listeners {
    opts: ServeOptions,
    /// The admin API's TCP address; `None`: the Unix socket only.
    admin: Option<SocketAddr>,
    dhcp: Option<Prepared>,
    /// The TFTP listener's address; `None`: off.
    tftp: Option<SocketAddr>,
    provisioner: Arc<Provisioner>,
    api: Arc<Api>,
}

impl Listeners {
    /// Binds every listener, then serves until one signal stops the
    /// provisioning and the admin listeners alike.
    async fn run(self, data: &Path) -> Result<(), Fail> {
        let metrics = self.opts.metrics.clone();
        let server = Server::bind(self.opts).await.map_err(|e| match e {
            ServeError::Bind { .. } => runtime(e),
            ServeError::Tls(_) => usage(e),
        })?;
        eprintln!("autoprov: listening on http://{}", server.http_addr());
        eprintln!("autoprov: listening on https://{}", server.https_addr());
        let tftp = match self.tftp {
            Some(addr) => {
                let limits = autoprov::tftp::TftpLimits::from(&self.api.serving.config.tftp);
                let t = TftpServer::bind(addr)
                    .await
                    .map_err(runtime)?
                    .with_limits(limits);
                eprintln!("autoprov: listening on tftp://{}", t.local_addr());
                Some(t)
            }
            None => None,
        };
        let admin = AdminServer::bind(self.admin, data).await.map_err(runtime)?;
        if let Some(addr) = admin.tcp_addr() {
            eprintln!("autoprov: admin API on http://{addr}");
        }
        if let Some(path) = admin.socket_path() {
            eprintln!("autoprov: admin socket at {}", path.display());
        }
        let dhcp_task = self.dhcp.map(Prepared::start).transpose()?;
        let scheduled = autoprov::sources::spawn_schedules(&self.api.sources);
        let refresh = tokio::spawn(autoprov::app::refresh::refresh_loop(
            self.api.serving.clone(),
            Some(self.api.tokens.clone()),
        ));
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            autoprov::net::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        // One pipeline for HTTP and TFTP: bans and throttling hold across both.
        let pipeline = server.pipeline(self.provisioner);
        let tftp_run = async {
            if let Some(t) = tftp {
                t.run(pipeline.clone(), metrics, stopped(stop_rx.clone()))
                    .await;
            }
        };
        tokio::join!(
            server.run_with(pipeline.clone(), stopped(stop_rx.clone())),
            admin.run(self.api, stopped(stop_rx.clone()), DRAIN_LIMIT),
            tftp_run,
        );
        if let Some(running) = dhcp_task {
            running.stop();
        }
        for task in scheduled {
            task.abort();
        }
        refresh.abort();
        Ok(())
    }
}
