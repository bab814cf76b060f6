//! `serve --dhcp …` and `dhcp-snippet`: flags to a running responder or a
//! printed config. Kept out of main.rs so the serve wiring stays a few lines.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::anyhow;

use crate::cli::{DhcpArgs, DhcpMode, DhcpSnippetArgs, SnippetFormat};
use crate::{Fail, runtime, usage};
use autoprov::config::{DhcpConfig, DhcpModeConfig};
use autoprov::dhcp::full::Full;
use autoprov::dhcp::phones::KnownPhones;
use autoprov::dhcp::pool::Pool;
use autoprov::dhcp::server::{self, Target};
use autoprov::dhcp::snippet::{self, Reservation};
use autoprov::dhcp::subnet::{self, Subnet};
use autoprov::dhcp::{Provision, Responder, limit};
use autoprov::store::{SledStore, Store};

/// The responder, resolved and ready to bind once the runtime runs.
pub struct Prepared {
    target: Target,
    responder: Responder,
    store: Arc<SledStore>,
}

/// The DHCP settings after flags override the config's `[dhcp]`.
struct Settings<'a> {
    listen: Option<&'a str>,
    mode: DhcpMode,
    pool: Option<&'a str>,
    url: Option<&'a str>,
}

fn settings<'a>(args: &'a DhcpArgs, config: &'a DhcpConfig) -> Settings<'a> {
    let mode = args.dhcp_mode.unwrap_or(match config.mode {
        DhcpModeConfig::OptionsOnly => DhcpMode::OptionsOnly,
        DhcpModeConfig::Full => DhcpMode::Full,
    });
    Settings {
        listen: args.dhcp.as_deref().or(config.listen.as_deref()),
        mode,
        pool: args.dhcp_pool.as_deref().or(config.pool.as_deref()),
        url: args
            .provision_url
            .as_deref()
            .or(config.provision_url.as_deref()),
    }
}

/// Refuses contradictory DHCP settings before anything else happens.
pub fn check(args: &DhcpArgs, config: &DhcpConfig) -> Result<(), Fail> {
    let s = settings(args, config);
    let flags = args.dhcp_mode.is_some() || args.dhcp_pool.is_some();
    if s.listen.is_none() && flags {
        return Err(usage(anyhow!(
            "--dhcp-mode and --dhcp-pool need --dhcp IFACE|ADDR (or [dhcp] listen in the config)"
        )));
    }
    match (s.mode, s.pool) {
        (DhcpMode::Full, None) if s.listen.is_some() => {
            return Err(usage(anyhow!(
                "--dhcp-mode full needs an address pool: --dhcp-pool START-END (or [dhcp] pool)"
            )));
        }
        (DhcpMode::OptionsOnly, Some(_)) if args.dhcp_pool.is_some() => {
            return Err(usage(anyhow!(
                "--dhcp-pool hands out addresses, which only --dhcp-mode full does"
            )));
        }
        (_, Some(p)) => {
            subnet::parse_range(p).map_err(|e| usage(e.into()))?;
        }
        _ => {}
    }
    if let Some(url) = s.url {
        check_url(url)?;
    }
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !positive(config.flood_burst) || !positive(config.flood_per_second) {
        return Err(usage(anyhow!(
            "[dhcp] flood_burst and flood_per_second must be positive numbers"
        )));
    }
    Ok(())
}

/// Resolves the interface, the URL phones get and, in full mode, the
/// subnets and stored leases; `None` when DHCP is off.
pub fn prepare(
    args: &DhcpArgs,
    config: &DhcpConfig,
    http: SocketAddr,
    store: Arc<SledStore>,
) -> Result<Option<Prepared>, Fail> {
    let s = settings(args, config);
    let Some(spec) = s.listen else {
        return Ok(None);
    };
    let target = server::resolve(spec).map_err(|e| usage(e.into()))?;
    let provision = provision(s.url, http, Some(target.server_ip))?;
    let phones = KnownPhones::load(store.as_ref())?;
    let mut responder = Responder::new(
        provision.clone(),
        target.server_ip,
        phones,
        limit::Limits {
            burst: config.flood_burst,
            per_second: config.flood_per_second,
            ..limit::Limits::default()
        },
    );
    match (s.mode, s.pool) {
        (DhcpMode::Full, Some(pool)) => {
            let subnets = subnets(&target, pool, config)?;
            let leases = store.leases()?;
            eprintln!(
                "autoprov: DHCP full mode on {} ({}), pool {}-{}, {} stored leases, {} relayed networks; phones get {}",
                target.iface,
                target.server_ip,
                subnets[0].start,
                subnets[0].end,
                leases.len(),
                subnets.len() - 1,
                provision.url
            );
            responder = responder.with_full(Full::new(subnets, Pool::load(leases)));
        }
        _ => eprintln!(
            "autoprov: DHCP options-only on {} ({}), phones get {}",
            target.iface, target.server_ip, provision.url
        ),
    }
    Ok(Some(Prepared {
        target,
        responder,
        store,
    }))
}

/// The interface's own subnet first, then each relayed network.
fn subnets(target: &Target, pool: &str, config: &DhcpConfig) -> Result<Vec<Subnet>, Fail> {
    let bad = |e: subnet::SubnetError| usage(e.into());
    let mut own = Subnet::new(
        target.network,
        subnet::parse_range(pool).map_err(bad)?,
        config.lease_seconds,
    )
    .map_err(bad)?;
    own.router = config.router;
    own.dns = config.dns.clone();
    own.ntp = config.ntp.clone();
    let mut out = vec![own];
    for r in &config.relay {
        let lease = r.lease_seconds.unwrap_or(config.lease_seconds);
        let mut s = Subnet::new(r.network, subnet::parse_range(&r.pool).map_err(bad)?, lease)
            .map_err(bad)?;
        s.router = r.router;
        s.dns = r.dns.clone();
        s.ntp = r.ntp.clone();
        out.push(s);
    }
    Ok(out)
}

impl Prepared {
    /// The responder's counters, for `/metrics`.
    pub fn stats(&self) -> Arc<autoprov::dhcp::Stats> {
        self.responder.stats.clone()
    }

    /// Binds port 67 and starts the server thread.
    pub fn start(self) -> Result<server::Running, Fail> {
        let socket = server::bind(&self.target, 67).map_err(|e| runtime(e.into()))?;
        let running = server::spawn(socket, self.responder, self.store)
            .map_err(|e| runtime(anyhow!("cannot start the DHCP thread: {e}")))?;
        eprintln!("autoprov: DHCP listening on {} port 67", self.target.iface);
        Ok(running)
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
