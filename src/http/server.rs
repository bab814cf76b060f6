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
use tokio_rustls::TlsAcceptor;

use super::client_cert::ClientCert;
use super::options::ServeOptions;
use super::pipeline::{BodyError, ConnInfo, Pipeline, RequestBody};
use super::tls::{self, LeafResolver, TlsError};
use crate::net;
use crate::pki;
use crate::provision::Provisioner;

/// A client must finish the TLS handshake within this time (then has
/// [`net::HEADER_TIMEOUT`] for its request head).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    acceptor: TlsAcceptor,
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
        let tls = tls::config_for(leaves.clone(), opts.client_ca.as_ref())?;
        let http = listen(opts.http)?;
        let https = listen(opts.https)?;
        let http_addr = http.local_addr().unwrap_or(opts.http);
        let https_addr = https.local_addr().unwrap_or(opts.https);
        Ok(Server {
            http,
            https,
            acceptor: TlsAcceptor::from(tls),
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
        // Phones are sent to the ports actually bound (port 0 picks one).
        let bound = ServeOptions {
            http: self.http_addr,
            https: self.https_addr,
            ..self.opts.clone()
        };
        let pipeline = Arc::new(Pipeline::new(provisioner, &bound));
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
                        let handshake = handshake(self.acceptor.clone(), tcp, conn);
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
    }
}

/// The TLS stream, with the client certificate the verifier checked (with
/// client_auth optional, none may have been sent); `None` when the
/// handshake failed or took too long.
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    conn: ConnInfo,
) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, ConnInfo)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let client_cert = tls
                .get_ref()
                .1
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
        Ok(Err(e)) => {
            tracing::debug!(peer = %conn.peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(peer = %conn.peer, "TLS handshake timed out");
            None
        }
    }
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
