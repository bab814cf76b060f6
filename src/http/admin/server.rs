//! The admin listeners: TCP (bearer tokens) and the Unix socket in the data
//! directory (mode 0600 and a peer-uid check), both answering [`Api`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, UnixListener};

use super::api::{Api, Caller};

pub use crate::app::client::SOCKET;

#[derive(Debug, thiserror::Error)]
pub enum AdminServeError {
    #[error("cannot listen on {addr} (admin API): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the admin socket {path}: {source}")]
    Socket {
        path: String,
        source: std::io::Error,
    },
}

/// Both admin listeners, bound.
pub struct AdminServer {
    tcp: Option<TcpListener>,
    unix: Option<(UnixListener, PathBuf)>,
}

impl AdminServer {
    /// Binds `tcp` (when enabled; failure is an error, like any port) and
    /// `<data>/admin.sock`. The caller holds the store's lock, so a socket
    /// file left behind is stale: replaced. A socket that cannot be made
    /// (e.g. a data path longer than the 108 bytes a socket address holds)
    /// is only warned about: provisioning must not depend on it.
    pub async fn bind(
        tcp: Option<SocketAddr>,
        data: &Path,
    ) -> Result<AdminServer, AdminServeError> {
        let tcp = match tcp {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| AdminServeError::Bind { addr, source })?,
            ),
            None => None,
        };
        let unix = match bind_socket(&data.join(SOCKET)) {
            Ok(u) => Some(u),
            Err(e) => {
                eprintln!("autoprov: warning: {e}; CLI commands cannot reach this server");
                None
            }
        };
        Ok(AdminServer { tcp, unix })
    }

    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn socket_path(&self) -> Option<&Path> {
        self.unix.as_ref().map(|(_, p)| p.as_path())
    }

    /// Serves until `shutdown`, then drains for up to `drain` and removes
    /// the socket file.
    pub async fn run(self, api: Arc<Api>, shutdown: impl Future<Output = ()>, drain: Duration) {
        let builder = Arc::new(crate::net::builder());
        let graceful = GracefulShutdown::new();
        let own_uid = unsafe_geteuid();
        tokio::pin!(shutdown);
        let (unix, path) = match self.unix {
            Some((l, p)) => (Some(l), Some(p)),
            None => (None, None),
        };
        loop {
            tokio::select! {
                r = accept_tcp(self.tcp.as_ref()) => match r {
                    Ok((tcp, peer)) => {
                        let api = api.clone();
                        crate::net::spawn_connection(tcp, peer, &builder, graceful.watcher(), move |req| {
                            api.clone().handle(Caller::Tcp(peer), req)
                        });
                    }
                    Err(e) => crate::net::accept_failed(e).await,
                },
                r = accept_unix(unix.as_ref()) => match r {
                    Ok(stream) => {
                        let uid = stream.peer_cred().map(|c| c.uid()).ok();
                        if uid != Some(own_uid) {
                            tracing::warn!(?uid, "admin socket: refused a peer of another user");
                            continue;
                        }
                        let api = api.clone();
                        crate::net::spawn_connection(stream, "admin.sock", &builder, graceful.watcher(), move |req| {
                            api.clone().handle(Caller::Socket, req)
                        });
                    }
                    Err(e) => crate::net::accept_failed(e).await,
                },
                _ = &mut shutdown => break,
            }
        }
        drop(self.tcp);
        drop(unix);
        if let Some(p) = &path {
            let _ = std::fs::remove_file(p);
        }
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(drain) => {
                tracing::warn!("admin API: drain limit reached; closing the remaining connections");
            }
        }
    }
}

fn bind_socket(path: &Path) -> Result<(UnixListener, PathBuf), AdminServeError> {
    let err = |source| AdminServeError::Socket {
        path: path.display().to_string(),
        source,
    };
    let _ = std::fs::remove_file(path);
    let unix = UnixListener::bind(path).map_err(err)?;
    // The peer-uid check at accept covers the moment between bind and chmod.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok((unix, path.to_path_buf()))
}

async fn accept_tcp(
    l: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match l {
        Some(l) => {
            let (s, peer) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok((s, peer))
        }
        None => std::future::pending().await,
    }
}

async fn accept_unix(l: Option<&UnixListener>) -> std::io::Result<tokio::net::UnixStream> {
    match l {
        Some(l) => Ok(l.accept().await?.0),
        None => std::future::pending().await,
    }
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
