//! The `autoprov` binary: parses the command line, dispatches each command,
//! and maps outcomes to the exit codes of docs/reference/cli.md (0 ok,
//! 1 input refused, 2 usage or file problem, 3 runtime failure).

mod cli;

/// mimalloc: at 100,000-row imports glibc's per-thread arenas left ~25 %
/// more resident memory and the many small allocations ran slower.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use autoprov::app::backend::{self, Backend, BackendError, OpenError};
use autoprov::app::ops::RotateTarget;
use autoprov::app::ops::{Answer, RenderRequest};
use autoprov::app::settings::SettingsError;
use autoprov::config::Config;
use autoprov::dhcp::settings::DhcpSettingsError;
use autoprov::domain::mac::Mac;
use autoprov::keys::KeyError;
use autoprov::store::StoreError;
use cli::args::{Cli, Command, PhonesArgs, PhonesCommand, RenderArgs, UsersArgs, UsersCommand};
use cli::output::emit;

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

/// One command; `Ok` carries the exit code of a command that ran.
fn run(cli: Cli) -> Result<u8, Fail> {
    let mut config = Config::load(cli.config.as_deref()).map_err(usage)?;
    if let Some(url) = cli.store {
        autoprov::config::StoreConfig::check_url(&url)
            .map_err(|e| usage(anyhow::anyhow!("--store: {e}")))?;
        config.store.url = Some(url);
    }
    check_settings(cli.config.as_deref(), &config)?;
    autoprov::app::sources::check_mappings(&config)
        .map_err(|e| usage(anyhow::anyhow!("invalid config: {e}")))?;
    let (data, config) = (cli.data.as_path(), &config);
    match cli.command {
        Command::Import(args) => cli::import::run(data, config, args),
        Command::Export(args) => {
            require_store(data, config)?;
            cli::export::run(data, config, &args)
        }
        // Creating a user may create the store, as an import does.
        Command::Users(args) if cli::users::creates(&args) => {
            emit(users(backend::open(data, config)?.as_ref(), args)?, None)
        }
        Command::Users(args) => answer(data, config, None, |b| users(b, args)),
        Command::Phones(args) => answer(data, config, None, |b| phones(b, args)),
        Command::History(args) => answer(data, config, None, |b| b.history(args.format.into())),
        Command::Serve(args) => cli::serve::run(data, config, args),
        Command::Render(args) => render(data, config, args),
        Command::DhcpSnippet(args) => cli::dhcp::snippet(data, config, &args),
        Command::Admin(args) => cli::admin::run(data, config, args),
        Command::Store(args) => cli::store::run(args),
    }
}

/// Runs `op` on the store, or on the running server that holds it, and
/// prints the answer. The store is closed before anything is printed, so
/// a reader that stops early (`| head`) never cuts a write short.
fn answer(
    data: &Path,
    config: &Config,
    output: Option<&Path>,
    op: impl FnOnce(&dyn Backend) -> Result<Answer, BackendError>,
) -> Result<u8, Fail> {
    require_store(data, config)?;
    let answer = op(backend::open(data, config)?.as_ref())?;
    emit(answer, output)
}

/// A read command in a directory without a store: said so (exit 2), and
/// no empty store is created there. A running server's socket counts, and
/// so does a database URL (`--store`, `[store] url`): its server says.
fn require_store(data: &Path, config: &Config) -> Result<(), Fail> {
    if config.store.url.is_some()
        || data.join("db").exists()
        || data.join(autoprov::app::client::SOCKET).exists()
    {
        return Ok(());
    }
    Err(usage(anyhow::anyhow!(
        "no autoprov store in {} (run `autoprov import` first, or pass --data)",
        data.display()
    )))
}

/// `autoprov users`, `users show NAME` and the single-user changes
/// (`cli::users`).
fn users(backend: &dyn Backend, args: UsersArgs) -> Result<Answer, BackendError> {
    match args.command {
        None => match &args.filter {
            Some(q) => backend.find_users(q, args.format.into()),
            None => backend.users(args.format.into()),
        },
        Some(UsersCommand::Show {
            username,
            secrets,
            format,
        }) => backend.user(&username, secrets, format.into()),
        Some(UsersCommand::Delete {
            username,
            yes,
            format,
        }) => backend.delete_user(&username, yes, format.into()),
        Some(change) => match cli::users::request(change) {
            Ok(req) => backend.user_op(&req),
            Err(refusal) => Ok(refusal),
        },
    }
}

/// `autoprov phones`, `phones show MAC` and `phones rotate-admin-password`.
fn phones(backend: &dyn Backend, args: PhonesArgs) -> Result<Answer, BackendError> {
    match args.command {
        None if args.outdated => backend.outdated_phones(args.format.into()),
        None => backend.phones(args.format.into()),
        Some(PhonesCommand::Show {
            mac,
            secrets,
            format,
        }) => backend.phone(&mac, secrets, format.into()),
        Some(PhonesCommand::RotateAdminPassword { mac, all }) => {
            let target = match mac {
                Some(m) if !all => RotateTarget::Mac(m),
                _ => RotateTarget::All,
            };
            backend.rotate_phone_passwords(&target)
        }
    }
}

/// `autoprov render MAC`: a MAC that does not parse is refused before the
/// store is opened.
fn render(data: &Path, config: &Config, args: RenderArgs) -> Result<u8, Fail> {
    let mac = Mac::parse(&args.mac).map_err(usage)?;
    let req = RenderRequest {
        mac: mac.plain(),
        file: args.file,
        user_agent: args.user_agent,
        explain: args.explain,
    };
    let templates = args.templates.as_deref();
    answer(data, config, None, |b| b.render(&req, templates))
}

/// The config's site and model settings against each vendor's rules
/// (`vendors::settings`, which the config layer cannot reach).
fn check_settings(path: Option<&Path>, config: &Config) -> Result<(), Fail> {
    autoprov::vendors::settings::check_config(&config.settings).map_err(|m| {
        let shown = path.map(|p| p.display().to_string()).unwrap_or_default();
        usage(anyhow::anyhow!("config {shown}: {m}"))
    })
}

/// A failure with the exit code it maps to.
struct Fail {
    code: u8,
    error: anyhow::Error,
}

/// Exit 1: the input was understood and refused.
fn refused(error: impl Into<anyhow::Error>) -> Fail {
    Fail {
        code: 1,
        error: error.into(),
    }
}

/// Exit 2: a usage or file problem, the user's to fix.
fn usage(error: impl Into<anyhow::Error>) -> Fail {
    Fail {
        code: 2,
        error: error.into(),
    }
}

/// Exit 3: a runtime failure.
fn runtime(error: impl Into<anyhow::Error>) -> Fail {
    Fail {
        code: 3,
        error: error.into(),
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        runtime(e)
    }
}

impl From<OpenError> for Fail {
    fn from(e: OpenError) -> Fail {
        runtime(e)
    }
}

impl From<KeyError> for Fail {
    fn from(e: KeyError) -> Fail {
        runtime(e)
    }
}

/// A certificate the config names is the user's to fix; the server key
/// is the machine's.
impl From<SettingsError> for Fail {
    fn from(e: SettingsError) -> Fail {
        match e {
            SettingsError::Tls(_) => usage(e),
            SettingsError::Key(_) => runtime(e),
            SettingsError::Firmware(_) => usage(e),
        }
    }
}

impl From<DhcpSettingsError> for Fail {
    fn from(e: DhcpSettingsError) -> Fail {
        usage(e)
    }
}

/// Templates are the user's to fix; everything else a backend can fail
/// at (the store, the socket, an operation) is a runtime failure.
impl From<BackendError> for Fail {
    fn from(e: BackendError) -> Fail {
        match e {
            BackendError::Settings(s) => s.into(),
            BackendError::Templates(_) | BackendError::TemplatesWhileServing => usage(e),
            _ => runtime(e),
        }
    }
}
