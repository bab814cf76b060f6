//! The TFTP socket loop: read requests arrive on the listening port; each
//! is answered from its own ephemeral port (RFC 1350 §4, the server's
//! transfer ID) in a task of its own, through the phone pipeline the HTTP
//! listener uses ([`Pipeline::serve_phone`]) as a GET of the file name
//! with `secure: false` (and `tftp: true`, for the fetch history) and no
//! User-Agent.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Body;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use super::packet::{self, ErrorCode, Mode, Packet, Request};
use super::transfer::{self, Acked, Limits, Negotiated, Window, wire_block};
use crate::app::metrics::Metrics;
use crate::http::{ConnInfo, Pipeline};

/// Transfers one source address may have running at once. A phone fetches
/// its files one after another; more in parallel from one address is a
/// NAT of phones or a flood. Requests past it are dropped: the client
/// sends its request again after its timeout, by when a slot is free.
pub const MAX_PER_SOURCE: u32 = 8;
/// Transfers running at once, over all sources: bounds memory and tasks.
pub const MAX_TRANSFERS: usize = 4096;
/// Times a packet is sent before the transfer is given up (the first
/// send and four retransmissions).
pub const TRIES: u32 = 5;
/// The retransmission timeout unless the client negotiates one (RFC 2349).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The largest window (RFC 7440) granted.
pub const MAX_WINDOW: u16 = 64;

/// The limits a listener keeps (`[tftp]`, docs/tftp.md); the defaults are
/// the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TftpLimits {
    /// Transfers one source address may have at once ([`MAX_PER_SOURCE`]).
    pub per_source: u32,
    /// Transfers at once over all sources ([`MAX_TRANSFERS`]).
    pub max_transfers: usize,
    /// Sends of a packet before the transfer is given up ([`TRIES`]).
    pub tries: u32,
    /// The retransmission timeout unless the client negotiates one
    /// ([`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
}

impl Default for TftpLimits {
    fn default() -> Self {
        TftpLimits {
            per_source: MAX_PER_SOURCE,
            max_transfers: MAX_TRANSFERS,
            tries: TRIES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl From<&crate::config::TftpConfig> for TftpLimits {
    /// `[tftp]`, checked when the config was loaded.
    fn from(c: &crate::config::TftpConfig) -> TftpLimits {
        TftpLimits {
            per_source: c.per_source,
            max_transfers: c.max_transfers,
            tries: c.tries,
            timeout: Duration::from_secs(c.timeout_seconds),
        }
    }
}

/// Bytes a datagram to the listener may have: a request with its options
/// fits in far less; longer ones are cut off and fail to parse.
const REQUEST_BUFFER: usize = 1500;

/// Percent-encoded in the synthetic request's path: what a URI path cannot
/// hold as is.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

#[derive(Debug, thiserror::Error)]
#[error("cannot listen for TFTP on {addr}: {source}")]
pub struct TftpError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// The TFTP listener, bound.
pub struct TftpServer {
    socket: UdpSocket,
    addr: SocketAddr,
    limits: TftpLimits,
}

impl TftpServer {
    pub async fn bind(addr: SocketAddr) -> Result<TftpServer, TftpError> {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| TftpError { addr, source })?;
        let addr = socket.local_addr().unwrap_or(addr);
        let limits = TftpLimits::default();
        Ok(TftpServer {
            socket,
            addr,
            limits,
        })
    }

    /// The same listener with these limits instead of the defaults.
    pub fn with_limits(self, limits: TftpLimits) -> TftpServer {
        TftpServer { limits, ..self }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers read requests until `shutdown` completes; transfers still
    /// running then end with the runtime.
    pub async fn run(
        self,
        pipeline: Arc<Pipeline>,
        metrics: Arc<Metrics>,
        shutdown: impl Future<Output = ()>,
    ) {
        let active = Arc::new(Active::default());
        let mut buf = vec![0u8; REQUEST_BUFFER];
        tokio::pin!(shutdown);
        loop {
            let (n, peer) = tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok(got) => got,
                    Err(e) => {
                        // ICMP errors of earlier sends surface here; go on.
                        tracing::debug!(error = %e, "TFTP receive failed");
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let req = match packet::parse(&buf[..n]) {
                Ok(Packet::Read(r)) => Incoming::Read(r),
                Ok(Packet::Write(r)) => Incoming::Write(r),
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(peer = %peer, error = %e, "not a TFTP request");
                    continue;
                }
            };
            let Some(slot) = Slot::take(&active, peer, &self.limits) else {
                tracing::debug!(peer = %peer, "TFTP request dropped: too many transfers");
                metrics.tftp("busy", "-");
                continue;
            };
            let ctx = Ctx {
                listen: self.addr,
                peer,
                pipeline: pipeline.clone(),
                metrics: metrics.clone(),
                limits: self.limits,
            };
            tokio::spawn(async move {
                let _slot = slot;
                ctx.answer(req).await;
            });
        }
    }
}

enum Incoming {
    Read(Request),
    Write(Request),
}

/// The transfers running, by source address and by client port.
#[derive(Default)]
struct Active {
    inner: Mutex<ActiveInner>,
}

#[derive(Default)]
struct ActiveInner {
    per_source: HashMap<IpAddr, u32>,
    peers: HashSet<SocketAddr>,
}

/// One running transfer's place in [`Active`], given back on drop.
struct Slot {
    active: Arc<Active>,
    peer: SocketAddr,
}

impl Slot {
    /// `None` when the source is at its limit, the server is full, or this
    /// very client (address and port) already has a transfer: a request
    /// sent again while its answer was on the way.
    fn take(active: &Arc<Active>, peer: SocketAddr, limits: &TftpLimits) -> Option<Slot> {
        let mut a = active.inner.lock().unwrap_or_else(|p| p.into_inner());
        let count = a.per_source.get(&peer.ip()).copied().unwrap_or(0);
        let full = count >= limits.per_source || a.peers.len() >= limits.max_transfers;
        if full || a.peers.contains(&peer) {
            return None;
        }
        a.per_source.insert(peer.ip(), count + 1);
        a.peers.insert(peer);
        Some(Slot {
            active: active.clone(),
            peer,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut a = self.active.inner.lock().unwrap_or_else(|p| p.into_inner());
        a.peers.remove(&self.peer);
        if let Some(n) = a.per_source.get_mut(&self.peer.ip()) {
            *n -= 1;
            if *n == 0 {
                a.per_source.remove(&self.peer.ip());
            }
        }
    }
}

/// What one request is answered with.
struct Ctx {
    listen: SocketAddr,
    peer: SocketAddr,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    limits: TftpLimits,
}

/// How a transfer ended other than complete.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("no acknowledgement after {0} tries")]
    TimedOut(u32),
    /// The client sent an ERROR (or its port is gone).
    #[error("aborted: {0}")]
    Aborted(String),
    /// Reading the file failed.
    #[error("cannot read the file: {0}")]
    Source(String),
}

/// An ERROR packet instead of the file: the metrics result, the code and
/// the message.
type Refusal = (&'static str, ErrorCode, &'static str);

const NOT_FOUND: Refusal = ("not_found", ErrorCode::FileNotFound, "File not found");

/// The TFTP error for a pipeline answer other than 200: every refusal is
/// the HTTP listener's one 404, so "File not found" too; credentials (which
/// TFTP cannot present) an access violation; never the HTML body as a file.
fn refusal_for(status: StatusCode) -> Option<Refusal> {
    match status {
        StatusCode::OK => None,
        StatusCode::NOT_FOUND => Some(NOT_FOUND),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::METHOD_NOT_ALLOWED => {
            Some(("refused", ErrorCode::AccessViolation, "Access violation"))
        }
        _ => Some(("failed", ErrorCode::NotDefined, "internal error")),
    }
}

impl Ctx {
    async fn answer(self, req: Incoming) {
        let socket = match self.transfer_socket().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "cannot open a TFTP transfer port");
                self.metrics.tftp("failed", "-");
                return;
            }
        };
        let req = match req {
            Incoming::Write(r) => {
                tracing::info!(peer = %self.peer, file = %r.filename, "TFTP write refused");
                let refusal = ("refused", ErrorCode::AccessViolation, "read-only server");
                return self.refuse(&socket, mode_label(r.mode), refusal).await;
            }
            Incoming::Read(r) => r,
        };
        let mode = mode_label(req.mode);
        if req.mode == Mode::Mail {
            let refusal = (
                "refused",
                ErrorCode::IllegalOperation,
                "mail mode is not served",
            );
            return self.refuse(&socket, mode, refusal).await;
        }
        let Some(parts) = synthetic_get(&req.filename) else {
            return self.refuse(&socket, mode, NOT_FOUND).await;
        };
        let resp = self
            .pipeline
            .serve_phone(self.conn(&socket), &parts, Bytes::new())
            .await;
        if let Some(refusal) = refusal_for(resp.status()) {
            return self.refuse(&socket, mode, refusal).await;
        }
        let result = self.transfer(&socket, &req, resp.into_body()).await;
        self.metrics.tftp(result, mode);
    }

    /// What the pipeline knows of this "connection": a plain transport, and
    /// the address the phone reached (for the bootstrap's HTTPS URL).
    fn conn(&self, socket: &UdpSocket) -> ConnInfo {
        let local = socket.local_addr().unwrap_or(self.listen);
        ConnInfo {
            peer: self.peer,
            local: SocketAddr::new(local.ip(), self.listen.port()),
            secure: false,
            client_cert: None,
            tftp: true,
        }
    }

    /// Negotiates and sends the file; the metrics result.
    async fn transfer<B>(&self, socket: &UdpSocket, req: &Request, body: B) -> &'static str
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let size = (req.mode == Mode::Octet)
            .then(|| body.size_hint().exact())
            .flatten();
        let limits = Limits {
            max_blksize: path_blksize(socket),
            max_window: MAX_WINDOW,
            timeout: self.limits.timeout,
        };
        let neg = transfer::negotiate(&req.options, size, limits);
        let mut source = Source::new(body, req.mode == Mode::Netascii);
        match send(socket, &mut source, &neg, self.limits.tries).await {
            Ok(bytes) => {
                tracing::info!(
                    peer = %self.peer, file = %req.filename, bytes, blksize = neg.blksize,
                    windowsize = neg.windowsize, "TFTP transfer complete"
                );
                "sent"
            }
            Err(f) => {
                tracing::info!(peer = %self.peer, file = %req.filename, reason = %f, "TFTP transfer not completed");
                match f {
                    Failure::TimedOut(_) => "timed_out",
                    Failure::Aborted(_) => "aborted",
                    Failure::Source(_) => {
                        let _ = socket
                            .send(&packet::error(ErrorCode::NotDefined, "read error"))
                            .await;
                        "failed"
                    }
                }
            }
        }
    }

    /// A socket of its own for this client: the same address as the
    /// listener, a new port, connected so only the client's packets arrive
    /// and its local address is the one the phone reached.
    async fn transfer_socket(&self) -> std::io::Result<UdpSocket> {
        let socket = UdpSocket::bind(SocketAddr::new(self.listen.ip(), 0)).await?;
        socket.connect(self.peer).await?;
        Ok(socket)
    }

    /// An ERROR packet instead of the file, counted.
    async fn refuse(&self, socket: &UdpSocket, mode: &str, (result, code, message): Refusal) {
        tracing::debug!(peer = %self.peer, code = code as u16, message, "TFTP error sent");
        if let Err(e) = socket.send(&packet::error(code, message)).await {
            tracing::debug!(peer = %self.peer, error = %e, "cannot send the TFTP error");
        }
        self.metrics.tftp(result, mode);
    }
}

fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Octet => "octet",
        Mode::Netascii => "netascii",
        Mode::Mail => "mail",
    }
}

/// A GET of the file name as a path: leading slashes dropped (clients
/// differ on them), the rest percent-encoded where a URI needs it.
fn synthetic_get(filename: &str) -> Option<hyper::http::request::Parts> {
    let name = filename.trim_start_matches('/');
    if name.is_empty() {
        return None;
    }
    let path = format!("/{}", utf8_percent_encode(name, PATH));
    let req = hyper::Request::get(path).body(()).ok()?;
    Some(req.into_parts().0)
}

/// The largest block the route to the client carries in one datagram: the
/// path MTU the kernel knows for the connected socket, less the IP, UDP
/// and TFTP headers (RFC 2348 asks for no fragmentation). 1,468 (an
/// Ethernet MTU) when the kernel does not say.
fn path_blksize(socket: &UdpSocket) -> u16 {
    let v6 = socket.local_addr().is_ok_and(|a| a.is_ipv6());
    let headers = if v6 { 40 + 8 + 4 } else { 20 + 8 + 4 };
    let mtu = path_mtu(socket, v6).unwrap_or(1500);
    let blk = mtu.saturating_sub(headers);
    u16::try_from(blk)
        .unwrap_or(u16::MAX)
        .clamp(transfer::MIN_BLKSIZE, transfer::MAX_BLKSIZE)
}

#[cfg(target_os = "linux")]
fn path_mtu(socket: &UdpSocket, v6: bool) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, libc::IPV6_MTU)
    } else {
        (libc::IPPROTO_IP, libc::IP_MTU)
    };
    let mut mtu: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `mtu` and `len` are valid for writes of the sizes given, and
    // the descriptor is open for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&mut mtu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| u32::try_from(mtu).ok()).flatten()
}

#[cfg(not(target_os = "linux"))]
fn path_mtu(_socket: &UdpSocket, _v6: bool) -> Option<u32> {
    None
}

/// The file, cut into blocks as the transfer asks, translated to netascii
/// when the client asked for that mode.
struct Source<B> {
    body: B,
    pending: BytesMut,
    ended: bool,
    netascii: bool,
}

impl<B> Source<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    fn new(body: B, netascii: bool) -> Source<B> {
        Source {
            body,
            pending: BytesMut::new(),
            ended: false,
            netascii,
        }
    }

    /// The next `size` bytes, fewer only at the end of the file.
    async fn block(&mut self, size: usize) -> Result<Bytes, Failure> {
        while self.pending.len() < size && !self.ended {
            match self.body.frame().await {
                None => self.ended = true,
                Some(Err(e)) => return Err(Failure::Source(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if self.netascii {
                            transfer::netascii_into(&mut self.pending, &data);
                        } else {
                            self.pending.extend_from_slice(&data);
                        }
                    }
                }
            }
        }
        let n = size.min(self.pending.len());
        Ok(self.pending.split_to(n).freeze())
    }
}

/// Sends the file: the OACK first when options were granted, then DATA
/// windows, each sent up to `max_tries` times (a retransmission after each
/// timeout). The bytes sent, on success.
async fn send<B>(
    socket: &UdpSocket,
    source: &mut Source<B>,
    neg: &Negotiated,
    max_tries: u32,
) -> Result<u64, Failure>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut inbox = vec![0u8; 512];
    if !neg.oack.is_empty() {
        let oack = packet::oack(&neg.oack);
        let mut tries = 0;
        loop {
            tries += 1;
            socket.send(&oack).await.map_err(aborted)?;
            match wait_ack(socket, &mut inbox, neg.timeout).await? {
                Some(0) => break,
                _ if tries >= max_tries => return Err(Failure::TimedOut(tries)),
                _ => {}
            }
        }
    }
    let mut window = Window::new(neg.windowsize);
    // The blocks from the first unacknowledged one on, as read.
    let mut blocks: VecDeque<Bytes> = VecDeque::new();
    let mut out = Vec::with_capacity(neg.blksize + 4);
    let mut total = 0u64;
    let mut tries = 0;
    loop {
        while let Some(i) = window.next_to_send() {
            let pos = (i - window.first_unacked()) as usize;
            while blocks.len() <= pos {
                let b = source.block(neg.blksize).await?;
                total += b.len() as u64;
                blocks.push_back(b);
            }
            let block = &blocks[pos];
            packet::data_into(&mut out, wire_block(i), block);
            socket.send(&out).await.map_err(aborted)?;
            window.sent(i, block.len() < neg.blksize);
        }
        tries += 1;
        let deadline = Instant::now() + neg.timeout;
        loop {
            let Some(block) = wait_ack_until(socket, &mut inbox, deadline).await? else {
                if tries >= max_tries {
                    return Err(Failure::TimedOut(tries));
                }
                window.timed_out();
                break;
            };
            let before = window.first_unacked();
            match window.ack(block) {
                Acked::Stale => continue,
                Acked::Done => return Ok(total),
                Acked::Advanced => {
                    let done = (window.first_unacked() - before) as usize;
                    blocks.drain(..done.min(blocks.len()));
                    tries = 0;
                    break;
                }
            }
        }
    }
}

fn aborted(e: std::io::Error) -> Failure {
    Failure::Aborted(e.to_string())
}

/// The block number of the next ACK within `timeout`; `None` on timeout.
async fn wait_ack(
    socket: &UdpSocket,
    inbox: &mut [u8],
    timeout: Duration,
) -> Result<Option<u16>, Failure> {
    wait_ack_until(socket, inbox, Instant::now() + timeout).await
}

/// The next ACK before `deadline`, skipping anything else; an ERROR from
/// the client (or its port closed) ends the transfer.
async fn wait_ack_until(
    socket: &UdpSocket,
    inbox: &mut [u8],
    deadline: Instant,
) -> Result<Option<u16>, Failure> {
    loop {
        let n = match timeout_at(deadline, socket.recv(inbox)).await {
            Err(_) => return Ok(None),
            Ok(Err(e)) => return Err(aborted(e)),
            Ok(Ok(n)) => n,
        };
        match packet::parse(&inbox[..n]) {
            Ok(Packet::Ack(b)) => return Ok(Some(b)),
            Ok(Packet::Error { code, message }) => {
                return Err(Failure::Aborted(format!("client error {code}: {message}")));
            }
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_paths() {
        let p = |n: &str| synthetic_get(n).map(|p| p.uri.path().to_string());
        assert_eq!(
            p("SEP001122334455.cnf.xml").as_deref(),
            Some("/SEP001122334455.cnf.xml")
        );
        assert_eq!(p("/firmware/x.bin").as_deref(), Some("/firmware/x.bin"));
        assert_eq!(p("a b?c#d").as_deref(), Some("/a%20b%3Fc%23d"));
        assert_eq!(p("spa$MA.xml").as_deref(), Some("/spa$MA.xml"));
        assert_eq!(p("/"), None);
    }

    #[test]
    fn pipeline_answers_become_tftp_errors() {
        assert_eq!(refusal_for(StatusCode::OK), None);
        let code = |s| refusal_for(s).map(|(_, c, _)| c);
        assert_eq!(code(StatusCode::NOT_FOUND), Some(ErrorCode::FileNotFound));
        assert_eq!(
            code(StatusCode::UNAUTHORIZED),
            Some(ErrorCode::AccessViolation)
        );
        assert_eq!(
            code(StatusCode::INTERNAL_SERVER_ERROR),
            Some(ErrorCode::NotDefined)
        );
    }

    #[test]
    fn slots_limit_sources_and_duplicates() {
        let active = Arc::new(Active::default());
        let limits = TftpLimits::default();
        let take = |port| Slot::take(&active, SocketAddr::from(([10, 0, 0, 9], port)), &limits);
        let first = take(1000);
        assert!(first.is_some());
        assert!(take(1000).is_none(), "a repeated request");
        let more: Vec<_> = (1..MAX_PER_SOURCE as u16).map(|i| take(1000 + i)).collect();
        assert!(more.iter().all(Option::is_some));
        assert!(take(2000).is_none(), "over the limit");
        drop(first);
        assert!(take(2000).is_some());
    }

    /// An empty `[tftp]` is the constants; keys set are taken as given.
    #[test]
    fn config_defaults_are_the_constants() {
        let c = crate::config::Config::parse("").unwrap();
        assert_eq!(TftpLimits::from(&c.tftp), TftpLimits::default());
        let c = crate::config::Config::parse(
            "[tftp]\nper_source = 2\ntries = 9\ntimeout_seconds = 3\n",
        )
        .unwrap();
        let want = TftpLimits {
            per_source: 2,
            tries: 9,
            timeout: Duration::from_secs(3),
            ..TftpLimits::default()
        };
        assert_eq!(TftpLimits::from(&c.tftp), want);
        for bad in [
            "per_source = 0",
            "tries = 0",
            "max_transfers = 0",
            "timeout_seconds = 0",
            "timeout_seconds = 256",
            "retries = 3",
        ] {
            let e = crate::config::Config::parse(&format!("[tftp]\n{bad}\n")).unwrap_err();
            assert!(
                e.contains("tftp") || e.contains("unknown field"),
                "{bad}: {e}"
            );
        }
    }

    /// `[tftp] per_source` and `max_transfers` are the limits kept.
    #[test]
    fn slots_follow_the_configured_limits() {
        let active = Arc::new(Active::default());
        let limits = TftpLimits {
            per_source: 2,
            max_transfers: 3,
            ..TftpLimits::default()
        };
        let take = |last: u8, port| {
            Slot::take(&active, SocketAddr::from(([10, 0, 0, last], port)), &limits)
        };
        let a = [take(1, 1), take(1, 2)];
        assert!(a.iter().all(Option::is_some));
        assert!(take(1, 3).is_none(), "over per_source");
        let b = take(2, 1);
        assert!(b.is_some());
        assert!(take(3, 1).is_none(), "over max_transfers");
        drop(b);
        assert!(take(3, 1).is_some());
    }
}
