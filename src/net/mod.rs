//! Listener plumbing shared by every TCP face (the phone listener, the
//! admin API): binding with a deep backlog, the hyper connection builder,
//! one task per connection under an idle watchdog and graceful shutdown,
//! the stop signal, and the host's interface addresses. It knows nothing
//! of phones or autoprov's data.

pub mod iface;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Every answer the listeners send: a whole body in memory.
pub type Resp = hyper::Response<Full<Bytes>>;

/// A client must send its request headers within this time.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer per HTTP/1 connection, which bounds the request head; h2
/// header lists get the same bound.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Pending connections the kernel queues for `accept`. A boot storm opens
/// about a thousand connections at once; with tokio's default (128, as
/// std) the kernel dropped the SYNs beyond it and those phones retried
/// 1 s or 3 s later (`TcpExtListenOverflows`). Linux caps it at
/// `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with [`LISTEN_BACKLOG`] and `SO_REUSEADDR`.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let bind = || {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As TcpListener::bind: a restart may rebind while old connections
        // linger in TIME_WAIT.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    bind()
}

/// Accept errors (e.g. out of file descriptors) are transient: back off
/// briefly instead of spinning.
pub async fn accept_failed(e: std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The hyper connection builder every listener uses: HTTP/1 and h2 with
/// bounded heads and timeouts.
pub fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_concurrent_streams(32)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
    b
}

/// Serves one connection with `handle` for each request, under the idle
/// watchdog and the graceful-shutdown `watcher`. Shared with the admin
/// listener, so both get the same bounds.
///
/// A response body (a streamed file) keeps the connection busy until it
/// is sent or dropped, so the idle watchdog never cuts a long download.
pub fn spawn_connection<IO, H, F, B>(
    io: IO,
    peer: impl std::fmt::Display + Send + 'static,
    builder: &Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    handle: H,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(hyper::Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = hyper::Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let activity = Arc::new(Activity::new());
    let seen = activity.clone();
    let handle = Arc::new(handle);
    let service = service_fn(move |req| {
        let (handle, seen) = (handle.clone(), seen.clone());
        async move {
            seen.begin();
            let busy = Busy(seen);
            let resp = handle(req).await;
            Ok::<_, Infallible>(resp.map(|body| Tracked { body, _busy: busy }))
        }
    });
    let served = builder
        .serve_connection(TokioIo::new(io), service)
        .into_owned();
    let fut = watcher.watch(served);
    tokio::spawn(async move {
        tokio::select! {
            r = fut => if let Err(e) = r {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            },
            _ = activity.idle_for(IDLE_TIMEOUT) => {
                tracing::debug!(peer = %peer, "idle connection closed");
            }
        }
    });
}

/// Marks a request in flight until dropped (with its response body).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that holds its request's [`Busy`] mark.
struct Tracked<B> {
    body: B,
    _busy: Busy,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection must send a request within this time of opening (or of its
/// last answer). hyper's header timeout only starts with the first byte of
/// a request head, and the HTTP/1-or-2 detection before it waits forever, so
/// without this a client that connects and says nothing holds a socket and
/// a task for good.
const IDLE_TIMEOUT: Duration = HEADER_TIMEOUT;

/// Requests in flight on one connection and when the last one began or
/// ended, for the idle watchdog.
struct Activity {
    in_flight: std::sync::atomic::AtomicUsize,
    last: std::sync::Mutex<tokio::time::Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            last: std::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = tokio::time::Instant::now();
    }

    fn begin(&self) {
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.touch();
    }

    fn end(&self) {
        self.in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.touch();
    }

    /// Completes once no request has been in flight for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
            let busy = self.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0;
            if !busy && last.elapsed() >= limit {
                return;
            }
            tokio::time::sleep_until(last + limit).await;
            if busy {
                // A slow upload or throttled answer: look again later.
                tokio::time::sleep(limit).await;
            }
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
