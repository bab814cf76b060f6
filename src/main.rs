//! The `autoprov` binary: parses the command line, opens the store, and maps
//! outcomes to the exit codes of docs/reference/cli.md (0 ok, 1 input refused, 2 usage or
//! file problem, 3 runtime failure).

mod cli;
mod dhcp_cmd;

/// mimalloc: at 100,000-row imports glibc's per-thread arenas left ~25 %
/// more resident memory and the many small allocations ran slower.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use hyper::Method;

use autoprov::app::Serving;
use autoprov::app::client::{self, Client};
use autoprov::app::metrics::Metrics;
use autoprov::app::ops::{self, Answer, ImportRequest, PhoneFilter, UserFilter};
use autoprov::app::sources::Runner;
use autoprov::app::tokens::{TokenError, TokenFileRef, TokenSet};
use autoprov::config::Config;
use autoprov::config::{ClientAuth, MissConfig};
use autoprov::domain::mac::Mac;
use autoprov::http::admin::api::{Api, ApiSettings};
use autoprov::http::admin::server::AdminServer;
use autoprov::http::auth::{Authenticator, Credential, ServerKey};
use autoprov::http::{
    AccessPolicy, CertSource, ClientCa, GuardSettings, ServeError, ServeOptions, Server,
};
use autoprov::import::read::{EncodingChoice, ReadOptions};
use autoprov::import::{self, ImportOptions, Mode};
use autoprov::provision::{self, Provisioner, Templates};
use autoprov::store::{SledStore, Store, StoreError};
use cli::{
    AdminArgs, AdminCommand, Cli, Command, EncodingArg, Format, ImportArgs, ModeArg, RenderArgs,
    ServeArgs, TokenCommand, UsersCommand,
};

/// A failure with the exit code it maps to.
struct Fail {
    code: u8,
    error: anyhow::Error,
}

fn usage(error: anyhow::Error) -> Fail {
    Fail { code: 2, error }
}

fn runtime(error: anyhow::Error) -> Fail {
    Fail { code: 3, error }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        runtime(e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr; RUST_LOG (e.g. `autoprov=info`) turns them up.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("autoprov: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Fail> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| usage(e.into()))?;
    let data = cli.data.as_path();
    match cli.command {
        Command::Import(args) => cmd_import(data, &config, args),
        Command::Export(args) => {
            let answer = match target(data, &config)? {
                Target::Local(store) => {
                    ops::export(&store, args.include_secrets).map_err(|e| runtime(e.into()))?
                }
                Target::Remote(c) => remote(
                    &c,
                    Method::GET,
                    &client::query(
                        "/api/v1/export",
                        &[("include_secrets", flag(args.include_secrets))],
                    ),
                    Vec::new(),
                )?,
            };
            emit(answer, args.output.as_deref())
        }
        Command::Users(args) => {
            let target = target(data, &config)?;
            let answer = match (args.command, target) {
                (None, Target::Local(store)) => {
                    ops::users(&store, format(args.format), &UserFilter::default())?
                }
                (None, Target::Remote(c)) => remote_get(&c, "/api/v1/users", &[], args.format)?,
                (
                    Some(UsersCommand::Show {
                        username,
                        secrets,
                        format: f,
                    }),
                    target,
                ) => match target {
                    Target::Local(store) => ops::user(&store, &username, secrets, format(f))?,
                    Target::Remote(c) => remote_get(
                        &c,
                        &format!("/api/v1/users/{}", client::segment(&username)),
                        &[("secrets", flag(secrets))],
                        f,
                    )?,
                },
            };
            emit(answer, None)
        }
        Command::Phones(args) => {
            let answer = match target(data, &config)? {
                Target::Local(store) => {
                    ops::phones(&store, format(args.format), &PhoneFilter::default())?
                }
                Target::Remote(c) => remote_get(&c, "/api/v1/phones", &[], args.format)?,
            };
            emit(answer, None)
        }
        Command::History(args) => {
            let answer = match target(data, &config)? {
                Target::Local(store) => ops::history(&store, format(args.format))?,
                Target::Remote(c) => remote_get(&c, "/api/v1/history", &[], args.format)?,
            };
            emit(answer, None)
        }
        Command::Serve(args) => cmd_serve(data, &config, args),
        Command::Render(args) => cmd_render(data, &config, args),
        Command::DhcpSnippet(args) => dhcp_cmd::cmd_snippet(data, &config, &args),
        Command::Admin(args) => cmd_admin(data, args),
    }
}

/// Where a command finds the users: the store itself, or the running
/// server that holds its lock.
enum Target {
    Local(SledStore),
    Remote(Client),
}

/// Opens the store; when a running server holds it, its admin socket.
fn target(data: &Path, config: &Config) -> Result<Target, Fail> {
    match open_store(data, config) {
        Ok(store) => Ok(Target::Local(store)),
        Err(OpenError::Store(StoreError::Locked(dir))) => match Client::find(data) {
            Some(c) => {
                tracing::debug!("store locked; asking the running server");
                Ok(Target::Remote(c))
            }
            None => Err(StoreError::Locked(dir).into()),
        },
        Err(OpenError::Store(e)) => Err(e.into()),
        Err(OpenError::Dir(e)) => Err(runtime(e)),
    }
}

fn remote(c: &Client, method: Method, path: &str, body: Vec<u8>) -> Result<Answer, Fail> {
    c.send(method, path, body).map_err(|e| runtime(e.into()))
}

/// A look-up through the running server, in the CLI's format.
fn remote_get(
    c: &Client,
    path: &str,
    params: &[(&str, Option<&str>)],
    f: Format,
) -> Result<Answer, Fail> {
    let mut all = params.to_vec();
    all.push(("format", Some(format(f).as_str())));
    remote(c, Method::GET, &client::query(path, &all), Vec::new())
}

fn flag(on: bool) -> Option<&'static str> {
    on.then_some("true")
}

fn format(f: Format) -> ops::Format {
    match f {
        Format::Text => ops::Format::Text,
        Format::Json => ops::Format::Json,
    }
}

/// Prints an answer the way every command does: output on stdout (or into
/// `output`), the message on stderr, the exit code returned.
fn emit(answer: Answer, output: Option<&Path>) -> Result<u8, Fail> {
    if answer.exit_code == 0 || !answer.body.is_empty() {
        match output {
            Some(path) => std::fs::write(path, &answer.body)
                .with_context(|| format!("cannot create {}", path.display()))
                .map_err(usage)?,
            None => write_stdout(&answer.body)?,
        }
    }
    if let Some(m) = &answer.message {
        eprintln!("autoprov: {m}");
    }
    Ok(answer.exit_code)
}

/// Writes to stdout; a closed pipe (`autoprov users | head`) ends quietly.
fn write_stdout(bytes: &[u8]) -> Result<(), Fail> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(runtime(
            anyhow::Error::new(e).context("cannot write to standard output"),
        )),
    }
}

/// `autoprov admin token ...`: edits the token file, never sled, so it
/// works while the server runs.
fn cmd_admin(data: &Path, args: AdminArgs) -> Result<u8, Fail> {
    let file = TokenFileRef::new(data);
    let AdminCommand::Token(cmd) = args.command;
    match cmd {
        TokenCommand::Create { name } => {
            let (name, token) = file.create(name.as_deref()).map_err(token_fail)?;
            eprintln!(
                "autoprov: created admin token {name:?}; it is shown once, store it now (send it as `Authorization: Bearer <token>`)"
            );
            write_stdout(format!("{token}\n").as_bytes())?;
            Ok(0)
        }
        TokenCommand::List { format: f } => {
            let tokens = file.list().map_err(token_fail)?;
            let body = match f {
                Format::Json => serde_json::to_string_pretty(&tokens).unwrap_or_default() + "\n",
                Format::Text => {
                    let mut out = format!("{:<24} CREATED\n", "NAME");
                    for t in &tokens {
                        out.push_str(&format!("{:<24} {}\n", t.name, t.created));
                    }
                    out
                }
            };
            write_stdout(body.as_bytes())?;
            Ok(0)
        }
        TokenCommand::Revoke { name } => {
            file.revoke(&name).map_err(token_fail)?;
            eprintln!("autoprov: revoked admin token {name:?}");
            Ok(0)
        }
    }
}

fn token_fail(e: TokenError) -> Fail {
    match e {
        TokenError::NotFound(_) => Fail {
            code: 1,
            error: e.into(),
        },
        TokenError::Exists(_) | TokenError::BadName(_) => usage(e.into()),
        TokenError::Io { .. } | TokenError::Corrupt { .. } => runtime(e.into()),
    }
}

/// How long shutdown waits for requests in flight before closing them.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

fn provision_settings(data: &Path, config: &Config) -> Result<provision::Settings, Fail> {
    let p = &config.provision;
    let phone_ca =
        autoprov::pki::phone_ca(&cert_source(data, config), config.tls.phone_ca.as_deref())
            .map_err(|e| usage(e.into()))?;
    let device_key = if p.issue_device_credentials || p.require_device_auth {
        Some(server_key(data)?)
    } else {
        None
    };
    Ok(provision::Settings {
        repeat_minutes: p.repeat_minutes,
        bootstrap_repeat_minutes: p.bootstrap_repeat_minutes,
        device_key,
        phone_ca,
    })
}

/// The HTTPS certificate: `[tls] cert/key`, else the local CA's in
/// `<data>/certs/`.
fn cert_source(data: &Path, config: &Config) -> CertSource {
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => CertSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CertSource::Local {
            dir: data.join("certs"),
            names: cert_names(config),
        },
    }
}

/// Names the generated server certificate carries besides the machine's
/// own: `[tls] names` and the host of `[provision] https_url` (phones are
/// sent there, so it must verify).
fn cert_names(config: &Config) -> Vec<String> {
    let mut names = config.tls.names.clone();
    let host = config.provision.https_url.as_deref().and_then(|url| {
        let authority = url
            .strip_prefix("https://")?
            .split(['/', '?', '#'])
            .next()?;
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next()?,
            None => authority.split(':').next()?,
        };
        autoprov::config::is_cert_name(host).then(|| host.to_string())
    });
    names.extend(host);
    names
}

/// `<data>/auth.key`, made on first use.
fn server_key(data: &Path) -> Result<ServerKey, Fail> {
    ServerKey::load_or_create(&data.join("auth.key")).map_err(|e| runtime(e.into()))
}

fn cmd_serve(data: &Path, config: &Config, args: ServeArgs) -> Result<u8, Fail> {
    dhcp_cmd::check(&args.dhcp, &config.dhcp)?;
    let templates = Templates::new(args.templates.as_deref()).map_err(|e| usage(e.into()))?;
    let store = open_store(data, config)?;
    if let Some(file) = &args.import {
        let code = import_before_serving(&store, config, file)?;
        if code != 0 {
            return Ok(code);
        }
    }
    let store = Arc::new(store);
    let metrics = Arc::new(Metrics::default());
    let https = args.https.unwrap_or(config.listen.https);
    let cert = cert_source(data, config);
    // Generated before the provisioner reads it for the phones' trust settings.
    autoprov::pki::prepare(&cert, &[https.ip()]).map_err(|e| usage(e.into()))?;
    let provisioner = Arc::new(Provisioner::new(
        store.clone(),
        templates,
        provision_settings(data, config)?,
    )?);
    let opts = ServeOptions {
        http: args.http.unwrap_or(config.listen.http),
        https,
        cert,
        policy: access_policy(data, config)?,
        allow_secrets_over_http: args.allow_secrets_over_http
            || config.provision.allow_secrets_over_http,
        https_url: config.provision.https_url.clone(),
        uploads: Some(data.join("uploads")),
        drain: DRAIN_LIMIT,
        client_ca: config.tls.client_ca.as_ref().map(|bundle| ClientCa {
            bundle: bundle.clone(),
            required: config.tls.client_auth == Some(ClientAuth::Required),
        }),
        misses: guard_settings(&config.policy.misses),
        metrics: metrics.clone(),
    };
    let dhcp = dhcp_cmd::prepare(&args.dhcp, &config.dhcp, opts.http, store.clone())?;
    if let Some(d) = &dhcp {
        metrics.attach_dhcp(d.stats());
    }
    let admin_addr = args.admin.unwrap_or(config.listen.admin).0;
    let serving = Arc::new(Serving {
        store: store.clone(),
        provisioner: provisioner.clone(),
        config: Arc::new(config.clone()),
        metrics,
    });
    let sources = Arc::new(Runner::new(serving.clone(), config.admin.max_body_bytes));
    let api = Arc::new(Api {
        serving,
        sources: sources.clone(),
        tokens: TokenSet::new(data),
        settings: ApiSettings {
            max_body_bytes: config.admin.max_body_bytes,
            anonymous_loopback: config.admin.anonymous_loopback,
            expose_secrets: config.admin.expose_secrets,
        },
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(runtime)?;
    rt.block_on(async {
        let server = Server::bind(opts).await.map_err(|e| match e {
            ServeError::Bind { .. } => runtime(e.into()),
            ServeError::Tls(_) => usage(e.into()),
        })?;
        eprintln!("autoprov: listening on http://{}", server.http_addr());
        eprintln!("autoprov: listening on https://{}", server.https_addr());
        let admin = AdminServer::bind(admin_addr, data)
            .await
            .map_err(|e| runtime(e.into()))?;
        if let Some(addr) = admin.tcp_addr() {
            eprintln!("autoprov: admin API on http://{addr}");
        }
        if let Some(path) = admin.socket_path() {
            eprintln!("autoprov: admin socket at {}", path.display());
        }
        let dhcp_task = dhcp.map(dhcp_cmd::Prepared::start).transpose()?;
        let scheduled = autoprov::sources::spawn_schedules(&sources);
        // One signal stops both the provisioning and the admin listeners.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            autoprov::net::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tokio::join!(
            server.run(provisioner, stopped(stop_rx.clone())),
            admin.run(api, stopped(stop_rx), DRAIN_LIMIT),
        );
        if let Some(running) = dhcp_task {
            running.stop();
        }
        for task in scheduled {
            task.abort();
        }
        Ok::<(), Fail>(())
    })?;
    store.flush()?;
    eprintln!("autoprov: stopped");
    Ok(0)
}

/// The allow-list, plus Digest/Basic when credentials are configured (the
/// nonce key is made once in the data directory).
fn access_policy(data: &Path, config: &Config) -> Result<AccessPolicy, Fail> {
    let p = &config.policy;
    let mut policy = AccessPolicy::new(p.allow.clone());
    let device = config.provision.require_device_auth;
    let sites = &config.site_credentials;
    if p.credentials.is_empty() && sites.is_empty() && !device {
        return Ok(policy);
    }
    let key = server_key(data)?;
    let authenticator = |credentials: Vec<Credential>| {
        Authenticator::new(
            p.auth,
            p.realm.clone(),
            credentials,
            key.clone(),
            Duration::from_secs(p.nonce_seconds),
        )
    };
    if !sites.is_empty() {
        let by_site = sites.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        policy = policy.with_credentials(
            authenticator(p.credentials.clone()),
            &p.credentials,
            by_site,
        );
    } else if !p.credentials.is_empty() {
        policy = policy.with_auth(authenticator(p.credentials.clone()));
    }
    if device {
        policy = policy.with_device_auth(authenticator(Vec::new()));
    }
    Ok(policy)
}

fn guard_settings(m: &MissConfig) -> GuardSettings {
    GuardSettings {
        window: Duration::from_secs(m.window_seconds),
        throttle_after: m.throttle_after,
        delay: Duration::from_millis(m.throttle_delay_ms),
        ban_after: m.ban_after,
        ban: Duration::from_secs(m.ban_seconds),
        max_sources: m.max_sources,
    }
}

/// `serve --import FILE`: an upsert import with its text report on stderr.
fn import_before_serving(store: &SledStore, config: &Config, file: &Path) -> Result<u8, Fail> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read {}", file.display()))
        .map_err(usage)?;
    let opts = ImportOptions {
        mode: Mode::Upsert,
        dry_run: false,
        partial: false,
        source: None,
        read: ReadOptions {
            delimiter: None,
            encoding: EncodingChoice::Auto,
        },
        show_secrets: false,
        reassign_macs: false,
        file_name: file.display().to_string(),
    };
    let outcome = import::run(store, config, bytes, &opts, None).map_err(|e| runtime(e.into()))?;
    eprint!("{}", outcome.report.to_text());
    if outcome.exit_code != 0 {
        eprintln!("autoprov: import refused, not serving");
    }
    Ok(outcome.exit_code as u8)
}

fn cmd_render(data: &Path, config: &Config, args: RenderArgs) -> Result<u8, Fail> {
    let mac = Mac::parse(&args.mac).map_err(|e| usage(e.into()))?;
    let req = ops::RenderRequest {
        mac: mac.plain(),
        file: args.file.clone(),
        user_agent: args.user_agent.clone(),
    };
    let answer = match target(data, config)? {
        Target::Local(store) => {
            let templates =
                Templates::new(args.templates.as_deref()).map_err(|e| usage(e.into()))?;
            let provisioner = Provisioner::new(
                Arc::new(store),
                templates,
                provision_settings(data, config)?,
            )?;
            ops::render(&provisioner, config.provision.https_url.as_deref(), &req)
                .map_err(|e| runtime(e.into()))?
        }
        Target::Remote(c) => {
            if args.templates.is_some() {
                return Err(usage(anyhow::anyhow!(
                    "--templates cannot be used while the server runs: it renders with its own templates (drop --templates to preview those)"
                )));
            }
            remote(
                &c,
                Method::GET,
                &client::query(
                    &format!("/api/v1/render/{}", mac.plain()),
                    &[
                        ("file", req.file.as_deref()),
                        ("user_agent", req.user_agent.as_deref()),
                    ],
                ),
                Vec::new(),
            )?
        }
    };
    emit(answer, None)
}

/// Why the store did not open.
enum OpenError {
    Dir(anyhow::Error),
    Store(StoreError),
}

impl From<OpenError> for Fail {
    fn from(e: OpenError) -> Fail {
        match e {
            OpenError::Dir(e) => runtime(e),
            OpenError::Store(e) => e.into(),
        }
    }
}

/// Opens the store and makes its site table match the config. Writes only
/// when the sites differ, so read-only commands and dry runs leave it as is.
fn open_store(data: &Path, config: &Config) -> Result<SledStore, OpenError> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create data directory {}", data.display()))
        .map_err(OpenError::Dir)?;
    let store = SledStore::open(data).map_err(OpenError::Store)?;
    let mut stored = store.sites().map_err(OpenError::Store)?;
    let mut wanted = config.sites.clone();
    stored.sort_by(|a, b| a.name.cmp(&b.name));
    wanted.sort_by(|a, b| a.name.cmp(&b.name));
    if stored != wanted {
        store.put_sites(&wanted).map_err(OpenError::Store)?;
    }
    Ok(store)
}

fn read_input(file: &str, max_bytes: usize) -> Result<(Vec<u8>, String), Fail> {
    if file.starts_with("http://") || file.starts_with("https://") {
        // The same fetch and checks as a scheduled source: an error page,
        // a login page or an empty answer is never imported.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .map_err(runtime)?;
        let bytes = rt
            .block_on(autoprov::app::sources::fetch_csv(
                file,
                &autoprov::app::sources::fetch::FetchOptions {
                    timeout: Duration::from_secs(60),
                    max_bytes,
                    ca: None,
                    bearer_token: None,
                },
            ))
            .map_err(|m| usage(anyhow::anyhow!("cannot import {file}: {m}")))?;
        return Ok((bytes, file.to_string()));
    }
    if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")
            .map_err(usage)?;
        return Ok((buf, "<stdin>".to_string()));
    }
    let bytes = std::fs::read(file)
        .with_context(|| format!("cannot read {file}"))
        .map_err(usage)?;
    Ok((bytes, file.to_string()))
}

fn cmd_import(data: &Path, config: &Config, args: ImportArgs) -> Result<u8, Fail> {
    let mode = match args.mode {
        ModeArg::Create => Mode::Create,
        ModeArg::Upsert => Mode::Upsert,
        ModeArg::Sync => Mode::Sync,
        ModeArg::Replace => Mode::Replace,
    };
    let delimiter = ops::parse_delimiter(&args.delimiter).map_err(|m| usage(anyhow::anyhow!(m)))?;
    let encoding = match args.encoding {
        EncodingArg::Auto => EncodingChoice::Auto,
        EncodingArg::Utf8 => EncodingChoice::Utf8,
        EncodingArg::Windows1252 => EncodingChoice::Windows1252,
        EncodingArg::Utf16 => EncodingChoice::Utf16,
    };
    let mut req = ImportRequest {
        options: ImportOptions {
            mode,
            dry_run: args.dry_run,
            partial: args.partial,
            source: args.source.clone(),
            read: ReadOptions {
                delimiter,
                encoding,
            },
            show_secrets: args.show_secrets,
            reassign_macs: args.reassign_macs,
            file_name: String::new(),
        },
        yes: args.yes,
        format: format(args.format),
    };
    ops::check_import(&req).map_err(|m| usage(anyhow::anyhow!(m)))?;
    let (bytes, file_name) = read_input(&args.file, config.admin.max_body_bytes)?;
    req.options.file_name = file_name;
    let answer = match target(data, config)? {
        Target::Local(store) => {
            let progress =
                (!args.no_progress && std::io::stderr().is_terminal() && bytes.len() > 512 * 1024)
                    .then(Bar::new);
            let (answer, _) = ops::import(
                &store,
                config,
                bytes,
                &req,
                progress.as_ref().map(|b| b as &dyn import::Progress),
            )
            .map_err(|e| runtime(e.into()))?;
            if let Some(p) = progress {
                p.0.finish_and_clear();
            }
            answer
        }
        Target::Remote(c) => {
            let o = &req.options;
            let path = client::query(
                "/api/v1/import",
                &[
                    ("mode", Some(o.mode.as_str())),
                    ("dry_run", flag(o.dry_run)),
                    ("partial", flag(o.partial)),
                    ("source", o.source.as_deref()),
                    ("delimiter", Some(args.delimiter.as_str())),
                    ("encoding", Some(ops::encoding_name(o.read.encoding))),
                    ("show_secrets", flag(o.show_secrets)),
                    ("reassign_macs", flag(o.reassign_macs)),
                    ("yes", flag(req.yes)),
                    ("format", Some(req.format.as_str())),
                    ("file_name", Some(o.file_name.as_str())),
                ],
            );
            remote(&c, Method::POST, &path, bytes)?
        }
    };
    emit(answer, None)
}

/// The terminal face of [`import::Progress`]: a spinner naming the step,
/// and a bar with an ETA while passwords are hashed.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new() -> Bar {
        let p = indicatif::ProgressBar::new_spinner();
        p.enable_steady_tick(Duration::from_millis(120));
        Bar(p)
    }
}

impl import::Progress for Bar {
    fn stage(&self, name: &'static str) {
        self.0.set_message(name);
    }

    fn count_to(&self, total: u64) {
        self.0.set_style(
            indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        self.0.set_length(total);
    }

    fn counted(&self) {
        self.0.inc(1);
    }

    fn count_done(&self) {
        self.0
            .set_style(indicatif::ProgressStyle::default_spinner());
    }
}

#[cfg(test)]
mod cert_name_tests {
    use super::*;

    fn names(toml: &str) -> Vec<String> {
        cert_names(&Config::parse(toml).expect("config"))
    }

    #[test]
    fn https_url_host_joins_the_configured_names() {
        assert_eq!(
            names(
                "[tls]\nnames = [\"a.example\"]\n[provision]\nhttps_url = \"https://prov.example.com:8443/x\"\n"
            ),
            ["a.example", "prov.example.com"]
        );
        assert_eq!(
            names("[provision]\nhttps_url = \"https://u:p@[fd00::5]:8443/\"\n"),
            ["fd00::5"]
        );
        assert_eq!(
            names("[provision]\nhttps_url = \"https://10.1.2.3/\"\n"),
            ["10.1.2.3"]
        );
        assert!(names("").is_empty());
    }
}
