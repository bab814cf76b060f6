//! `serve --dhcp …` and `dhcp-snippet`: flags to a running responder or a
//! printed config. Kept out of main.rs so the serve wiring stays a few lines.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::anyhow;

use crate::cli::{DhcpArgs, DhcpMode, DhcpSnippetArgs, SnippetFormat};
use crate::{Fail, runtime, usage};
use autoprov::dhcp::server::{self, Target};
use autoprov::dhcp::snippet::{self, Reservation};
use autoprov::dhcp::{Provision, Responder, limit};
use autoprov::store::{SledStore, Store};

/// The responder, resolved and ready to bind once the runtime runs.
pub struct Prepared {
    target: Target,
    responder: Responder,
}

/// Refuses what this version cannot do, before anything else happens.
pub fn check(args: &DhcpArgs) -> Result<(), Fail> {
    if args.dhcp_mode == DhcpMode::Full || args.dhcp_pool.is_some() {
        return Err(usage(anyhow!(
            "--dhcp-mode full (address pool, leases, reservations) is not available yet; use --dhcp-mode options-only beside the site's DHCP server, or `autoprov dhcp-snippet` for it"
        )));
    }
    if let Some(url) = &args.provision_url {
        check_url(url)?;
    }
    Ok(())
}

/// Resolves `--dhcp` and the URL phones get; `None` when DHCP is off.
pub fn prepare(
    args: &DhcpArgs,
    http: SocketAddr,
    store: Arc<SledStore>,
) -> Result<Option<Prepared>, Fail> {
    let Some(spec) = &args.dhcp else {
        return Ok(None);
    };
    let target = server::resolve(spec).map_err(|e| usage(e.into()))?;
    let provision = provision(args.provision_url.as_deref(), http, Some(target.server_ip))?;
    eprintln!(
        "autoprov: DHCP options-only on {} ({}), phones get {}",
        target.iface, target.server_ip, provision.url
    );
    let responder = Responder::new(
        provision,
        target.server_ip,
        server::stored_vendor(store),
        limit::Limits::default(),
    );
    Ok(Some(Prepared { target, responder }))
}

impl Prepared {
    /// The responder's counters, for `/metrics`.
    pub fn stats(&self) -> Arc<autoprov::dhcp::Stats> {
        self.responder.stats.clone()
    }

    /// Binds port 67 and spawns the responder; call inside the runtime.
    pub fn start(self) -> Result<tokio::task::JoinHandle<()>, Fail> {
        let socket = server::bind(&self.target, 67).map_err(|e| runtime(e.into()))?;
        eprintln!("autoprov: DHCP listening on {} port 67", self.target.iface);
        Ok(tokio::spawn(server::run(socket, self.responder)))
    }
}

/// `autoprov dhcp-snippet`: prints the config for the site's DHCP server.
pub fn cmd_snippet(
    data: &std::path::Path,
    config: &autoprov::config::Config,
    args: &DhcpSnippetArgs,
) -> Result<u8, Fail> {
    use std::io::Write as _;
    let store = crate::open_store(data, config)?;
    let text = snippet(args, config.listen.http, &store)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(runtime(e.into())),
        _ => Ok(0),
    }
}

/// The snippet text for the store's phones.
fn snippet(args: &DhcpSnippetArgs, http: SocketAddr, store: &SledStore) -> Result<String, Fail> {
    if let Some(url) = &args.provision_url {
        check_url(url)?;
    }
    let provision = provision(args.provision_url.as_deref(), http, None)?;
    let mut reservations: Vec<Reservation> = store
        .users()?
        .into_iter()
        .flat_map(|u| u.phones)
        .filter_map(|p| p.ip.map(|ip| Reservation { mac: p.mac, ip }))
        .collect();
    reservations.sort_by_key(|r| r.mac);
    let format = match args.format {
        SnippetFormat::Isc => snippet::Format::Isc,
        SnippetFormat::Kea => snippet::Format::Kea,
        SnippetFormat::Dnsmasq => snippet::Format::Dnsmasq,
    };
    Ok(snippet::render(format, &provision, &reservations))
}

/// The URL and 150 addresses. Default URL: the plain-HTTP listener, because
/// the HTTP file is the staged bootstrap that moves phones to HTTPS; a
/// wildcard listener is named by the DHCP interface's address.
fn provision(
    url: Option<&str>,
    http: SocketAddr,
    server_ip: Option<Ipv4Addr>,
) -> Result<Provision, Fail> {
    let url = match url {
        Some(u) => u.to_string(),
        None => {
            let host = match http.ip() {
                IpAddr::V4(ip) if ip.is_unspecified() => server_ip.ok_or_else(|| {
                    usage(anyhow!(
                        "the HTTP listener {http} has no single address to put in option 66; pass --provision-url URL"
                    ))
                })?,
                IpAddr::V4(ip) => ip,
                IpAddr::V6(_) => {
                    return Err(usage(anyhow!(
                        "the HTTP listener {http} is IPv6, which DHCPv4 phones may not reach; pass --provision-url URL"
                    )));
                }
            };
            if host.is_loopback() {
                eprintln!(
                    "autoprov: warning: option 66 points at {http}, a loopback address phones cannot reach; listen with --http 0.0.0.0:{} or pass --provision-url",
                    http.port()
                );
            }
            format!("http://{host}:{}/", http.port())
        }
    };
    let tftp = url_ipv4(&url).or(server_ip).into_iter().collect();
    Ok(Provision { url, tftp })
}

/// The URL's host, when it is an IPv4 literal.
fn url_ipv4(url: &str) -> Option<Ipv4Addr> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit('@').next()?;
    host.split(':').next()?.parse().ok()
}

/// Phones get the URL byte for byte, and the snippet quotes it: keep it to
/// an http(s) URL without spaces, quotes or control characters.
fn check_url(url: &str) -> Result<(), Fail> {
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    let chars_ok = url
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'\''));
    if !scheme_ok || !chars_ok || url.len() > 1024 {
        return Err(usage(anyhow!(
            "--provision-url {url:?} must be an http:// or https:// URL without spaces or quotes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(
            url_ipv4("http://10.0.0.1:8080/"),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            url_ipv4("https://u:p@10.0.0.2/x"),
            Some(Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(url_ipv4("http://prov.example.com/"), None);
        assert_eq!(url_ipv4("nonsense"), None);
    }

    #[test]
    fn derived_urls() {
        let p = provision(
            None,
            "0.0.0.0:8080".parse().unwrap(),
            Some(Ipv4Addr::new(10, 99, 0, 1)),
        )
        .ok()
        .unwrap();
        assert_eq!(p.url, "http://10.99.0.1:8080/");
        assert_eq!(p.tftp, vec![Ipv4Addr::new(10, 99, 0, 1)]);
        assert!(provision(None, "0.0.0.0:8080".parse().unwrap(), None).is_err());
        let p = provision(
            Some("http://prov.example.com/"),
            "0.0.0.0:80".parse().unwrap(),
            None,
        )
        .ok()
        .unwrap();
        assert!(p.tftp.is_empty());
        assert!(check_url("ftp://x/").is_err());
        assert!(check_url("http://x/a b").is_err());
        assert!(check_url("http://x/\"").is_err());
        assert!(check_url("https://prov.example.com:8443/p/").is_ok());
    }
}
