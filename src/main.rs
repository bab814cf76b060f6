//! The `autoprov` binary: parses the command line, opens the store, and maps
//! outcomes to the exit codes of cli.md (0 ok, 1 input refused, 2 usage or
//! file problem, 3 runtime failure).

mod cli;
mod dhcp_cmd;

/// `println!` that ends the process quietly when stdout is closed (e.g.
/// `autoprov users | head`) instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

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
use serde_json::{Value, json};

use autoprov::config::Config;
use autoprov::config::{ClientAuth, MissConfig};
use autoprov::domain::User;
use autoprov::http::auth::{Authenticator, Credential, ServerKey};
use autoprov::http::{
    AccessPolicy, CertSource, ClientCa, GuardSettings, ServeError, ServeOptions, Server,
};
use autoprov::import::read::{EncodingChoice, ReadOptions};
use autoprov::import::{self, ImportOptions, Mode};
use autoprov::mac::Mac;
use autoprov::provision::{self, Channel, Provisioner, Refusal, Templates};
use autoprov::store::{SledStore, Store, StoreError};
use cli::{
    Cli, Command, EncodingArg, Format, ImportArgs, ModeArg, RenderArgs, ServeArgs, UsersCommand,
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
    match cli.command {
        Command::Import(args) => cmd_import(&cli.data, &config, args),
        Command::Export(args) => {
            let store = open_store(&cli.data, &config)?;
            let users = store.users()?;
            match &args.output {
                Some(path) => {
                    let f = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))
                        .map_err(usage)?;
                    autoprov::export::write_csv(f, &users, args.include_secrets)
                        .map_err(|e| runtime(e.into()))?;
                }
                None => {
                    autoprov::export::write_csv(
                        std::io::stdout().lock(),
                        &users,
                        args.include_secrets,
                    )
                    .map_err(|e| runtime(e.into()))?;
                }
            }
            Ok(0)
        }
        Command::Users(args) => {
            let store = open_store(&cli.data, &config)?;
            match args.command {
                None => {
                    let users = store.users()?;
                    print_users(&users, args.format);
                    Ok(0)
                }
                Some(UsersCommand::Show {
                    username,
                    secrets,
                    format,
                }) => match store.user(&username)? {
                    None => {
                        eprintln!("autoprov: no user named {username:?}");
                        Ok(1)
                    }
                    Some(u) => {
                        print_user(&u, secrets, format);
                        Ok(0)
                    }
                },
            }
        }
        Command::Phones(args) => {
            let store = open_store(&cli.data, &config)?;
            print_phones(&store, args.format)?;
            Ok(0)
        }
        Command::History(args) => {
            let store = open_store(&cli.data, &config)?;
            let history = store.history()?;
            match args.format {
                Format::Json => out!(
                    "{}",
                    serde_json::to_string_pretty(&history).unwrap_or_default()
                ),
                Format::Text => {
                    for h in history {
                        out!(
                            "{}  {:<8} {:<24} created {} updated {} deleted {} unchanged {} skipped {}  sha256 {}",
                            h.time,
                            h.mode,
                            h.file,
                            h.created,
                            h.updated,
                            h.deleted,
                            h.unchanged,
                            h.skipped,
                            &h.sha256[..12.min(h.sha256.len())]
                        );
                    }
                }
            }
            Ok(0)
        }
        Command::Serve(args) => cmd_serve(&cli.data, &config, args),
        Command::Render(args) => cmd_render(&cli.data, &config, args),
        Command::DhcpSnippet(args) => dhcp_cmd::cmd_snippet(&cli.data, &config, &args),
    }
}

/// How long shutdown waits for requests in flight before closing them.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

fn provision_settings(data: &Path, config: &Config) -> Result<provision::Settings, Fail> {
    let p = &config.provision;
    let phone_ca =
        autoprov::http::tls::phone_ca(&cert_source(data, config), config.tls.phone_ca.as_deref())
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
    let https = args.https.unwrap_or(config.listen.https);
    let cert = cert_source(data, config);
    // Generated before the provisioner reads it for the phones' trust settings.
    autoprov::http::tls::prepare(&cert, &[https.ip()]).map_err(|e| usage(e.into()))?;
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
    };
    let dhcp = dhcp_cmd::prepare(&args.dhcp, &config.dhcp, opts.http, store.clone())?;
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
        let dhcp_task = dhcp.map(dhcp_cmd::Prepared::start).transpose()?;
        server
            .run(provisioner, autoprov::http::shutdown_signal())
            .await;
        if let Some(running) = dhcp_task {
            running.stop();
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
    let templates = Templates::new(args.templates.as_deref()).map_err(|e| usage(e.into()))?;
    let store = open_store(data, config)?;
    let provisioner = Provisioner::new(
        Arc::new(store),
        templates,
        provision_settings(data, config)?,
    )?;
    let Some((user, vendor)) = provisioner.phone(mac)? else {
        eprintln!("autoprov: no phone with MAC {} in the store", mac.colon());
        return Ok(1);
    };
    let file = match &args.file {
        Some(f) => f.trim_start_matches('/').to_string(),
        None => match vendor.main_file().and_then(|r| {
            let model = user.phones.iter().find(|p| p.mac == mac);
            r.file_name_for(mac, model.and_then(|p| p.model.as_deref()))
        }) {
            Some(f) => f,
            None => {
                eprintln!(
                    "autoprov: phone {} is a {} phone; autoprov has no {} templates yet",
                    mac.colon(),
                    vendor.name,
                    vendor.name
                );
                return Ok(1);
            }
        },
    };
    let other_mac = provision::path::file_name(&format!("/{file}"))
        .and_then(|n| provision::path::matches(&n).into_iter().find_map(|m| m.mac))
        .filter(|m| *m != mac);
    if let Some(other) = other_mac {
        return Err(usage(anyhow::anyhow!(
            "--file {file} belongs to MAC {}, not {}",
            other.colon(),
            mac.colon()
        )));
    }
    let req = provision::Request {
        path: &format!("/{file}"),
        user_agent: args.user_agent.as_deref(),
        channel: Channel::Secure,
        https_url: config.provision.https_url.as_deref(),
        http_url: None,
    };
    match provisioner.respond(&req) {
        Ok(served) => {
            let mut out = std::io::stdout().lock();
            out.write_all(&served.body)
                .and_then(|_| out.flush())
                .context("cannot write to standard output")
                .map_err(runtime)?;
            Ok(0)
        }
        Err(r @ (Refusal::UnknownMac(_) | Refusal::UaMismatch { .. })) => {
            eprintln!("autoprov: {r}");
            Ok(1)
        }
        Err(r) if r.is_server_error() => Err(runtime(r.into())),
        Err(r) => Err(usage(anyhow::anyhow!("{file}: {r}"))),
    }
}

/// Opens the store and makes its site table match the config. Writes only
/// when the sites differ, so read-only commands and dry runs leave it as is.
fn open_store(data: &Path, config: &Config) -> Result<SledStore, Fail> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create data directory {}", data.display()))
        .map_err(runtime)?;
    let store = SledStore::open(data)?;
    let mut stored = store.sites()?;
    let mut wanted = config.sites.clone();
    stored.sort_by(|a, b| a.name.cmp(&b.name));
    wanted.sort_by(|a, b| a.name.cmp(&b.name));
    if stored != wanted {
        store.put_sites(&wanted)?;
    }
    Ok(store)
}

fn parse_delimiter(s: &str) -> Result<Option<u8>, Fail> {
    match s {
        "auto" => Ok(None),
        "," | "comma" => Ok(Some(b',')),
        ";" | "semicolon" => Ok(Some(b';')),
        "tab" | "\t" | "\\t" => Ok(Some(b'\t')),
        "|" | "pipe" => Ok(Some(b'|')),
        other => Err(usage(anyhow::anyhow!(
            "--delimiter {other:?} is not supported; use auto, ',', ';', tab or '|'"
        ))),
    }
}

fn read_input(file: &str) -> Result<(Vec<u8>, String), Fail> {
    if file.starts_with("http://") || file.starts_with("https://") {
        return Err(usage(anyhow::anyhow!(
            "importing straight from a URL is not available in this version; download the file and import it"
        )));
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
    if mode == Mode::Sync && args.source.is_none() {
        return Err(usage(anyhow::anyhow!(
            "--mode sync needs --source NAME: it deletes only the users that this source created earlier"
        )));
    }
    if mode == Mode::Replace && !args.yes && !args.dry_run {
        return Err(usage(anyhow::anyhow!(
            "--mode replace deletes every user the file does not list; run it with --dry-run to preview, then add --yes"
        )));
    }
    let delimiter = parse_delimiter(&args.delimiter)?;
    let (bytes, file_name) = read_input(&args.file)?;
    let store = open_store(data, config)?;
    let opts = ImportOptions {
        mode,
        dry_run: args.dry_run,
        partial: args.partial,
        source: args.source.clone(),
        read: ReadOptions {
            delimiter,
            encoding: match args.encoding {
                EncodingArg::Auto => EncodingChoice::Auto,
                EncodingArg::Utf8 => EncodingChoice::Utf8,
                EncodingArg::Windows1252 => EncodingChoice::Windows1252,
                EncodingArg::Utf16 => EncodingChoice::Utf16,
            },
        },
        show_secrets: args.show_secrets,
        reassign_macs: args.reassign_macs,
        file_name,
    };
    let progress = (!args.no_progress
        && std::io::stderr().is_terminal()
        && bytes.len() > 512 * 1024)
        .then(|| {
            let p = indicatif::ProgressBar::new_spinner();
            p.enable_steady_tick(Duration::from_millis(120));
            p
        });
    let outcome = import::run(&store, config, bytes, &opts, progress.as_ref())
        .map_err(|e| runtime(e.into()))?;
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    let out = match args.format {
        Format::Json => outcome.report.to_json() + "\n",
        Format::Text => outcome.report.to_text(),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    if outcome.exit_code != 0
        && let Some(first) = outcome.report.errors.first()
    {
        let place = match (first.line, &first.column) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: "),
            (Some(l), None) => format!("line {l}: "),
            _ => String::new(),
        };
        eprintln!(
            "autoprov: import of {} refused, nothing written: {place}{} ({} error(s) in all)",
            opts.file_name,
            first.message,
            outcome.report.errors.len()
        );
    }
    Ok(outcome.exit_code as u8)
}

/// A user as JSON with secrets masked unless `secrets`; the web password hash
/// is never shown.
fn user_json(u: &User, secrets: bool) -> Value {
    let lines: Vec<Value> = u
        .lines
        .iter()
        .map(|l| {
            json!({
                "extension": l.extension,
                "sip_username": l.auth_user(),
                "sip_password": if secrets { json!(l.sip_password) } else { json!("***") },
                "transport": l.transport.map(|t| t.to_string()),
            })
        })
        .collect();
    json!({
        "id": u.id,
        "username": u.username,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "display_name": u.display(),
        "email": u.email,
        "mobile": u.mobile,
        "enabled": u.enabled,
        "web_password": u.web_password_hash.as_ref().map(|_| "set"),
        "voicemail_pin": match (&u.voicemail_pin, secrets) {
            (Some(p), true) => json!(p),
            (Some(_), false) => json!("***"),
            (None, _) => Value::Null,
        },
        "language": u.language,
        "timezone": u.timezone,
        "site": u.site,
        "source": u.source,
        "lines": lines,
        "phones": u.phones,
        "blf": u.blf,
        "config_version": u.config_version,
    })
}

fn print_users(users: &[User], format: Format) {
    let mut sorted: Vec<&User> = users.iter().collect();
    sorted.sort_by(|a, b| a.username.cmp(&b.username));
    match format {
        Format::Json => {
            let list: Vec<Value> = sorted.iter().map(|u| user_json(u, false)).collect();
            out!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        Format::Text => {
            out!(
                "{:<20} {:<28} {:<10} {:<8} {:<10} PHONES",
                "USERNAME",
                "DISPLAY NAME",
                "EXTENSION",
                "ENABLED",
                "SITE"
            );
            for u in sorted {
                let phones: Vec<String> = u.phones.iter().map(|p| p.mac.plain()).collect();
                out!(
                    "{:<20} {:<28} {:<10} {:<8} {:<10} {}",
                    u.username,
                    u.display(),
                    u.primary_line()
                        .map(|l| l.extension.as_str())
                        .unwrap_or("-"),
                    if u.enabled { "yes" } else { "no" },
                    u.site,
                    if phones.is_empty() {
                        "-".to_string()
                    } else {
                        phones.join(",")
                    }
                );
            }
        }
    }
}

fn print_user(u: &User, secrets: bool, format: Format) {
    let v = user_json(u, secrets);
    match format {
        Format::Json => out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Format::Text => {
            if let Value::Object(map) = v {
                for (k, val) in map {
                    let shown = match val {
                        Value::String(s) => s,
                        Value::Null => "-".to_string(),
                        other => other.to_string(),
                    };
                    out!("{k:<15} {shown}");
                }
            }
        }
    }
}

fn print_phones(store: &SledStore, format: Format) -> Result<(), Fail> {
    let users = store.users()?;
    let mut rows = Vec::new();
    for u in &users {
        for p in &u.phones {
            let state = store.phone_state(p.mac)?.unwrap_or_default();
            rows.push((u, p, state));
        }
    }
    rows.sort_by_key(|(_, p, _)| p.mac);
    match format {
        Format::Json => {
            let list: Vec<Value> = rows
                .iter()
                .map(|(u, p, s)| {
                    json!({
                        "mac": p.mac.plain(),
                        "vendor": p.vendor,
                        "model": p.model.clone().or_else(|| s.learned_model.clone()),
                        "ip": p.ip,
                        "username": u.username,
                        "extension": u.primary_line().map(|l| l.extension.clone()),
                        "firmware": s.firmware,
                        "last_fetch": s.last_fetch,
                    })
                })
                .collect();
            out!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        }
        Format::Text => {
            out!(
                "{:<14} {:<12} {:<10} {:<20} {:<10} LAST FETCH",
                "MAC",
                "VENDOR",
                "MODEL",
                "USER",
                "EXTENSION"
            );
            for (u, p, s) in rows {
                let fetch = match &s.last_fetch {
                    Some(f) => format!(
                        "{} {} {} {} ({})",
                        f.time, f.ip, f.file, f.status, f.user_agent
                    ),
                    None => "never".to_string(),
                };
                out!(
                    "{:<14} {:<12} {:<10} {:<20} {:<10} {}",
                    p.mac.plain(),
                    p.vendor,
                    p.model
                        .as_deref()
                        .or(s.learned_model.as_deref())
                        .unwrap_or("-"),
                    u.username,
                    u.primary_line()
                        .map(|l| l.extension.as_str())
                        .unwrap_or("-"),
                    fetch
                );
            }
        }
    }
    Ok(())
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
