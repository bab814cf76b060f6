//! The transport: binds the HTTP and HTTPS listeners, accepts, completes
//! TLS handshakes (picking up a verified client certificate), hands each
//! request to the [`Pipeline`], and drains on shutdown. The socket
//! plumbing shared with the admin listener is in [`crate::net`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::rustls::server::Acceptor;
use tokio_rustls::rustls::{HandshakeKind, ServerConfig};

use super::client_cert::ClientCert;
use super::options::ServeOptions;
use super::pipeline::{BodyError, ConnInfo, Pipeline, RequestBody};
use super::tls::{self, LeafResolver, TlsError};
use crate::net;
use crate::pki;
use crate::provision::Provisioner;

/// A client must send its ClientHello within this time (then has
/// [`HANDSHAKE_REST`] to finish, then [`net::HEADER_TIMEOUT`] for its
/// request head).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Once admitted past the limiter, the rest of the handshake must finish
/// within this: an admitted client that stalls holds a place others wait
/// for, so it gets a short leash (a LAN round trip is milliseconds).
const HANDSHAKE_REST: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Both listeners, bound and ready.
pub struct Server {
    http: TcpListener,
    https: TcpListener,
    tls: Arc<ServerConfig>,
    /// First come, first served: admits handshakes past their ClientHello.
    handshakes: Arc<Semaphore>,
    /// The server certificates the acceptor serves, renewed in place.
    leaves: Arc<LeafResolver>,
    opts: ServeOptions,
    http_addr: SocketAddr,
    https_addr: SocketAddr,
}

impl Server {
    /// Loads (or creates) the certificates and binds both ports.
    pub async fn bind(opts: ServeOptions) -> Result<Server, ServeError> {
        let pairs = pki::cert_files(&opts.cert, &[opts.https.ip()])?;
        let leaves = Arc::new(LeafResolver::new(&pairs)?);
        let tls = tls::config_for(leaves.clone(), opts.client_ca.as_ref(), opts.resumption)?;
        let http = listen(opts.http)?;
        let https = listen(opts.https)?;
        let http_addr = http.local_addr().unwrap_or(opts.http);
        let https_addr = https.local_addr().unwrap_or(opts.https);
        Ok(Server {
            http,
            https,
            tls,
            handshakes: Arc::new(Semaphore::new(opts.handshakes.max(1))),
            leaves,
            opts,
            http_addr,
            https_addr,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// Serves until `shutdown` completes, then stops accepting and waits up
    /// to the drain limit for open requests.
    pub async fn run(self, provisioner: Arc<Provisioner>, shutdown: impl Future<Output = ()>) {
        let pipeline = self.pipeline(provisioner);
        self.run_with(pipeline, shutdown).await;
    }

    /// The pipeline for the ports bound (port 0 picks one; phones are sent
    /// to the one picked), for [`Server::run_with`] and another transport
    /// (TFTP) to share, so bans and throttling hold across both.
    pub fn pipeline(&self, provisioner: Arc<Provisioner>) -> Arc<Pipeline> {
        let bound = ServeOptions {
            http: self.http_addr,
            https: self.https_addr,
            ..self.opts.clone()
        };
        Arc::new(Pipeline::new(provisioner, &bound))
    }

    /// [`Server::run`] with a pipeline made by [`Server::pipeline`].
    pub async fn run_with(self, pipeline: Arc<Pipeline>, shutdown: impl Future<Output = ()>) {
        let builder = Arc::new(net::builder());
        let graceful = GracefulShutdown::new();
        // The names of the address bound, as at start (not the port-0 one).
        let renewal = tokio::spawn(tls::renew_while_serving(
            self.opts.cert.clone(),
            vec![self.opts.https.ip()],
            self.leaves.clone(),
        ));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = self.http.accept() => match r {
                    Ok((tcp, peer)) => {
                        let conn = conn_info(&tcp, peer, false);
                        serve_conn(tcp, conn, &pipeline, &builder, graceful.watcher());
                    }
                    Err(e) => net::accept_failed(e).await,
                },
                r = self.https.accept() => match r {
                    Ok((tcp, peer)) => {
                        let conn = conn_info(&tcp, peer, true);
                        let (pipeline, builder) = (pipeline.clone(), builder.clone());
                        let handshake = handshake(
                            Admission {
                                tls: self.tls.clone(),
                                limiter: self.handshakes.clone(),
                                metrics: self.opts.metrics.clone(),
                            },
                            tcp,
                            conn,
                        );
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            if let Some((tls, conn)) = handshake.await {
                                serve_conn(tls, conn, &pipeline, &builder, watcher);
                            }
                        });
                    }
                    Err(e) => net::accept_failed(e).await,
                },
                _ = &mut shutdown => break,
            }
        }
        renewal.abort();
        drop(self.http);
        drop(self.https);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(self.opts.drain) => {
                tracing::warn!("drain limit reached; closing the remaining connections");
            }
        }
        // The fetch records of the requests answered are written.
        let _ = tokio::task::spawn_blocking(move || pipeline.close_records()).await;
    }
}

fn listen(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    net::listen(addr).map_err(|source| ServeError::Bind { addr, source })
}

fn conn_info(tcp: &TcpStream, peer: SocketAddr, secure: bool) -> ConnInfo {
    let _ = tcp.set_nodelay(true);
    ConnInfo {
        peer,
        local: tcp.local_addr().unwrap_or(peer),
        secure,
        client_cert: None,
        tftp: false,
    }
}

/// What a handshake needs from the listener.
struct Admission {
    tls: Arc<ServerConfig>,
    limiter: Arc<Semaphore>,
    metrics: Arc<crate::app::metrics::Metrics>,
}

/// The TLS stream, with the client certificate the verifier checked (with
/// client_auth optional, none may have been sent; on a resumed session,
/// the one it was established with); `None` when the handshake failed or
/// took too long.
///
/// The ClientHello is read before the limiter: a client that connects and
/// says nothing costs no CPU and holds no place. The expensive part (key
/// exchange, signature, client certificate check) runs with a permit of a
/// fair (FIFO) semaphore, so under a burst the phones that came first
/// finish first instead of every handshake slowing down together.
async fn handshake(
    admission: Admission,
    tcp: TcpStream,
    conn: ConnInfo,
) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, ConnInfo)> {
    let hello = LazyConfigAcceptor::new(Acceptor::default(), tcp);
    let start = match tokio::time::timeout(HANDSHAKE_TIMEOUT, hello).await {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => return failed(&conn, &e),
        Err(_) => return timed_out(&conn),
    };
    // Closed only if the listener is gone; then there is nothing to serve.
    let _permit = admission.limiter.acquire_owned().await.ok()?;
    let rest = start.into_stream(admission.tls);
    let tls = match tokio::time::timeout(HANDSHAKE_REST, rest).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return failed(&conn, &e),
        Err(_) => return timed_out(&conn),
    };
    let session = tls.get_ref().1;
    admission
        .metrics
        .tls_handshake(session.handshake_kind() == Some(HandshakeKind::Resumed));
    let client_cert = session
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|der| ClientCert::from_der(der));
    Some((
        tls,
        ConnInfo {
            client_cert,
            ..conn
        },
    ))
}

fn failed<T>(conn: &ConnInfo, e: &std::io::Error) -> Option<T> {
    tracing::debug!(peer = %conn.peer, error = %e, "TLS handshake failed");
    None
}

fn timed_out<T>(conn: &ConnInfo) -> Option<T> {
    tracing::debug!(peer = %conn.peer, "TLS handshake timed out");
    None
}

fn serve_conn<IO>(
    io: IO,
    conn: ConnInfo,
    pipeline: &Arc<Pipeline>,
    builder: &Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let pipeline = pipeline.clone();
    net::spawn_connection(io, conn.peer, builder, watcher, move |req| {
        let pipeline = pipeline.clone();
        async move {
            let (parts, body) = req.into_parts();
            pipeline.serve_phone(conn, &parts, body).await
        }
    });
}

/// The body on the wire: read up to the limit, within the time, and not
/// at all unless the pipeline asks.
impl RequestBody for Incoming {
    async fn read(self, limit: usize, within: Duration) -> Result<Bytes, BodyError> {
        let limited = http_body_util::Limited::new(self, limit);
        match tokio::time::timeout(within, limited.collect()).await {
            Ok(Ok(body)) => Ok(body.to_bytes()),
            Ok(Err(_)) | Err(_) => Err(BodyError),
        }
    }
}
