//! `serve --dhcp …` and `dhcp-snippet`: the checked DHCP settings
//! (`autoprov::dhcp::settings`) put to work, a responder on port 67 or a
//! printed config, with what the machine and the store add.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;

use crate::cli::args::DhcpSnippetArgs;
use crate::{Fail, runtime, usage};
use autoprov::app::backend::{Opened, open_store};
use autoprov::config::{Config, ProvisionUrl};
use autoprov::dhcp::full::Full;
use autoprov::dhcp::phones::KnownPhones;
use autoprov::dhcp::pool::Pool;
use autoprov::dhcp::server::{self, Target};
use autoprov::dhcp::settings::{self, Derived, DhcpSettings};
use autoprov::dhcp::{Responder, snippet};

/// The responder, resolved and ready to bind once the runtime runs.
pub struct Prepared {
    target: Target,
    responder: Responder,
    store: Opened,
}

/// Resolves the interface, the URL phones get and, in full mode, the
/// subnets and stored leases; `None` when DHCP is off.
pub fn prepare(
    settings: &DhcpSettings<'_>,
    http: SocketAddr,
    store: Opened,
) -> Result<Option<Prepared>, Fail> {
    let Some(spec) = settings.listen else {
        return Ok(None);
    };
    let target = server::resolve(spec).map_err(usage)?;
    let provision = warned(settings::provision(
        settings.url.as_ref(),
        http,
        Some(target.server_ip),
    )?);
    let phones = KnownPhones::load(&*store)?;
    let mut responder = Responder::new(
        provision.clone(),
        target.server_ip,
        phones,
        settings.limits(),
    );
    match settings.subnets(target.network).map_err(usage)? {
        Some(subnets) => {
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
        None => eprintln!(
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

/// The options phones get, once the warning about them (if any) is shown.
fn warned(derived: Derived) -> autoprov::dhcp::Provision {
    if let Some(w) = derived.warning {
        eprintln!("autoprov: {w}");
    }
    derived.provision
}

impl Prepared {
    /// The responder's counters, for `/metrics`.
    pub fn stats(&self) -> Arc<autoprov::dhcp::Stats> {
        self.responder.stats.clone()
    }

    /// Binds port 67 and starts the server thread.
    pub fn start(self) -> Result<server::Running, Fail> {
        let socket = server::bind(&self.target, 67).map_err(runtime)?;
        let running = match self.store {
            Opened::Sled(s) => server::spawn(socket, self.responder, s),
            Opened::Postgres(p) => server::spawn(socket, self.responder, p),
        }
        .map_err(|e| runtime(anyhow!("cannot start the DHCP thread: {e}")))?;
        eprintln!("autoprov: DHCP listening on {} port 67", self.target.iface);
        Ok(running)
    }
}

/// `autoprov dhcp-snippet`: prints the config for the site's DHCP server,
/// pointing phones at the configured plain-HTTP listener unless
/// `--provision-url` says otherwise.
pub fn snippet(data: &Path, config: &Config, args: &DhcpSnippetArgs) -> Result<u8, Fail> {
    let store = open_store(data, config)?;
    let url = args.provision_url.as_deref().map(ProvisionUrl::parse);
    let url = url.transpose().map_err(usage)?;
    let provision = warned(settings::provision(url.as_ref(), config.listen.http, None)?);
    let reservations = settings::reservations(&*store)?;
    let text = snippet::render(args.format.into(), &provision, &reservations);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(runtime(e)),
        _ => Ok(0),
    }
}
