//! The async side of the engine: a small tokio runtime of its own with the
//! connection pool, and [`Worker::block`], which runs one job there and
//! waits for its answer on a std channel.
//!
//! The [`Store`](super::super::Store) trait is synchronous and is called
//! from inside the server's runtimes. `Handle::block_on` and the sync
//! `postgres` crate panic there; a std channel's `recv` only blocks the
//! calling thread, which is what the sled engine's disk I/O does too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::MakeTlsConnect;

use super::super::StoreError;

/// Connections per node: a node's writes are short (one statement or one
/// import), so a few suffice and a fleet of nodes stays under PostgreSQL's
/// default `max_connections` of 100.
const POOL_SIZE: usize = 8;
/// How long a new connection may take before the call fails (a dead
/// database must not hang a DHCP batch forever).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the system's CA bundle usually is (Debian, Fedora, Alpine).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The runtime and the pool on it.
pub struct Worker {
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
}

/// A failure of the database, as the trait reports it.
pub fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

/// The same for an error whose cause is in its sources (tokio-postgres
/// says only "db error"; the server's message is the source).
pub fn dbe(e: impl std::error::Error) -> StoreError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    StoreError::Database(text)
}

impl Worker {
    /// Starts the runtime and a pool for `url` (nothing is connected yet).
    pub fn start(url: &str) -> Result<Worker, StoreError> {
        let (config, root) = parse(url)?;
        let tls = Tls(tokio_postgres_rustls::MakeRustlsConnect::new(
            client_config(root.as_deref())?,
        ));
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("autoprov-postgres")
            .enable_all()
            .build()
            .map_err(|e| db(format!("cannot start the database runtime: {e}")))?;
        let pool = {
            let _in_runtime = rt.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .create_timeout(Some(CONNECT_TIMEOUT))
                .wait_timeout(Some(CONNECT_TIMEOUT))
                .build()
                .map_err(dbe)?
        };
        Ok(Worker { rt: Some(rt), pool })
    }

    /// Runs `job` with the pool on the engine's runtime and waits for it.
    pub fn block<T, F, Fut>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let rt = self.rt.as_ref().ok_or_else(stopped)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let fut = job(self.pool.clone());
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    db("the database worker stopped")
}

impl Drop for Worker {
    /// Never waits: the store may be dropped on a runtime thread, where a
    /// blocking shutdown panics.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// rustls on TCP. tokio-postgres asks for a TLS connector for every host,
/// with an empty server name for a Unix socket, and rustls refuses an
/// empty name, so no socket could connect. PostgreSQL has no TLS on Unix
/// sockets and [`parse`] turns it off for them, so the placeholder name a
/// socket gets here is never used in a handshake (tokio-postgres also
/// refuses one without a host name).
#[derive(Clone)]
struct Tls(tokio_postgres_rustls::MakeRustlsConnect);

impl<S> MakeTlsConnect<S> for Tls
where
    tokio_postgres_rustls::MakeRustlsConnect: MakeTlsConnect<S>,
{
    type Stream = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;
    type Error = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<Self::TlsConnect, Self::Error> {
        self.0
            .make_tls_connect(if host.is_empty() { "localhost" } else { host })
    }
}

/// The connection settings of `url`, and the `sslrootcert` file it names
/// (a libpq option tokio-postgres does not know, so it is taken out here).
/// A Unix socket directory is a host starting with `/`, percent-encoded
/// (`postgres://user@%2Fvar%2Frun%2Fpostgresql/db`) or as a parameter
/// (`postgres:///db?host=/var/run/postgresql`). As libpq does, `sslmode`
/// is ignored when every host is a socket: PostgreSQL offers no TLS there.
fn parse(url: &str) -> Result<(tokio_postgres::Config, Option<String>), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut root = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", path)) => root = Some(percent_decode(path)),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config = rest
        .parse::<tokio_postgres::Config>()
        .map_err(|e| db(format!("invalid store URL {}: {e}", redact(url))))?;
    let hosts = config.get_hosts();
    if !hosts.is_empty() && hosts.iter().all(|h| matches!(h, Host::Unix(_))) {
        config.ssl_mode(SslMode::Disable);
    }
    Ok((config, root))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `url` with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let shown = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = tail
        .split('&')
        .map(|p| match p.split_once("password=") {
            Some((before, _)) => format!("{before}password=***"),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{shown}{tail}")
}

/// rustls with the ring provider the rest of autoprov uses, trusting the
/// system's CA bundle and `root` (the URL's `sslrootcert`). The server's
/// certificate is always verified when TLS is used.
fn client_config(root: Option<&str>) -> Result<rustls::ClientConfig, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    let system = SYSTEM_BUNDLES
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.exists());
    for path in system.into_iter().chain(root.map(std::path::Path::new)) {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| db(format!("cannot read CA file {}: {e}", path.display())))?;
        roots.add_parsable_certificates(certs);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(dbe)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db.example:5432/autoprov?sslmode=require"),
            "postgres://app:***@db.example:5432/autoprov?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://db/autoprov?user=app&password=s3cret"),
            "postgresql://db/autoprov?user=app&password=***"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
    }

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        let (config, root) =
            parse("postgres://app@db:5433/ap?sslmode=require&sslrootcert=%2Fetc%2Fca.pem").unwrap();
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(config.get_ports(), [5433]);
        assert_eq!(config.get_dbname(), Some("ap"));
        let err = parse("postgres://app:pw@db/ap?bogus=1").unwrap_err();
        assert!(!err.to_string().contains("pw@"), "{err}");
    }

    #[test]
    fn a_socket_directory_is_a_unix_host_without_tls() {
        let sockets = |url: &str| {
            let (config, _) = parse(url).unwrap();
            let hosts: Vec<Host> = config.get_hosts().to_vec();
            (hosts, config.get_ssl_mode(), config.get_ports().to_vec())
        };
        let dir = Host::Unix("/var/run/postgresql".into());
        assert_eq!(
            sockets("postgres://app@%2Fvar%2Frun%2Fpostgresql:5433/ap?sslmode=require"),
            (vec![dir.clone()], SslMode::Disable, vec![5433])
        );
        assert_eq!(
            sockets("postgres:///ap?host=/var/run/postgresql&user=app"),
            (vec![dir], SslMode::Disable, vec![])
        );
        // A TCP host keeps what the URL asks.
        let (hosts, mode, _) = sockets("postgres://app@db/ap?sslmode=require");
        assert_eq!(
            (hosts, mode),
            (vec![Host::Tcp("db".into())], SslMode::Require)
        );
        assert_eq!(
            redact("postgres://app:s3cret@%2Fvar%2Frun%2Fpostgresql/ap"),
            "postgres://app:***@%2Fvar%2Frun%2Fpostgresql/ap"
        );
        assert_eq!(
            redact("postgres:///ap?host=/run/pg&password=s3cret"),
            "postgres:///ap?host=/run/pg&password=***"
        );
    }
}
