//! The command-line contract (docs/reference/cli.md), as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use autoprov::app::ops;
use autoprov::config::DhcpModeConfig;
use autoprov::dhcp::settings::DhcpFlags;
use autoprov::dhcp::snippet;
use autoprov::http::settings::ServeFlags;
use autoprov::import::Mode;
use autoprov::import::read::EncodingChoice;

#[derive(Debug, Parser)]
#[command(
    name = "autoprov",
    version,
    about = "Turns a spreadsheet of users into working desk phones."
)]
pub struct Cli {
    /// Data directory: the sled store and everything autoprov writes.
    #[arg(
        long,
        global = true,
        env = "AUTOPROV_DATA",
        default_value = "./autoprov-data"
    )]
    pub data: PathBuf,
    /// TOML config file (sites, import policy). Everything has a working default.
    #[arg(long, global = true, env = "AUTOPROV_CONFIG")]
    pub config: Option<PathBuf>,
    /// A PostgreSQL store several nodes share (postgres://user:pass@host/db),
    /// instead of the sled store in the data directory; overrides [store] url.
    #[arg(
        long,
        global = true,
        env = "AUTOPROV_STORE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub store: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import users and their phones from a CSV file ('-' reads stdin).
    Import(ImportArgs),
    /// Export all users as CSV (canonical columns; secrets only if asked).
    Export(ExportArgs),
    /// List users, or show one.
    Users(UsersArgs),
    /// List phones with their owner and last fetch, show one, or renew
    /// their web passwords.
    Phones(PhonesArgs),
    /// Show the import history.
    History(FormatArgs),
    /// Serve provisioning files to phones over HTTP and HTTPS.
    Serve(ServeArgs),
    /// Print exactly the bytes a phone gets over HTTPS for one of its files.
    Render(RenderArgs),
    /// Print the per-vendor DHCP options (and reservations) for a site's DHCP server.
    DhcpSnippet(DhcpSnippetArgs),
    /// Manage access to the admin API.
    Admin(AdminArgs),
    /// Move the store between engines (a sled data directory, a PostgreSQL URL).
    Store(StoreArgs),
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy users, phones, leases, history, phone state and admin tokens
    /// from one store to another; both exports are identical afterwards.
    Copy(StoreCopyArgs),
}

#[derive(Debug, Args)]
pub struct StoreCopyArgs {
    /// The store to read: a data directory (sled) or postgres://... URL.
    #[arg(long, value_name = "DIR_OR_URL")]
    pub from: String,
    /// The store to write: a data directory (sled) or postgres://... URL.
    #[arg(long, value_name = "DIR_OR_URL")]
    pub to: String,
    /// Copy even when the target already holds users, history or leases
    /// (its users are replaced; its history is kept and appended to).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Bearer tokens for the admin API (stored hashed in <data>/admin-tokens.json;
    /// works while the server runs).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (the only time it is shown).
    Create {
        /// A name to list and revoke it by (default token-N).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the tokens by name and creation time (never the tokens).
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Revoke a token by name; the running server refuses it from the next request.
    Revoke { name: String },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Plain-HTTP listener (default from the config's [listen], else 127.0.0.1:8080).
    /// Over HTTP the per-phone file is a bootstrap without SIP passwords.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// HTTPS listener (default from the config's [listen], else 127.0.0.1:8443).
    #[arg(long, value_name = "ADDR")]
    pub https: Option<std::net::SocketAddr>,
    /// Admin API listener (JSON, bearer tokens), or 'off' (default from the
    /// config's [listen] admin, else 127.0.0.1:8081). The CLI reaches a
    /// running server through <data>/admin.sock either way.
    #[arg(long, value_name = "ADDR|off")]
    pub admin: Option<autoprov::config::AdminAddr>,
    /// Import this CSV (upsert) before serving; the report goes to stderr.
    #[arg(long, value_name = "FILE")]
    pub import: Option<PathBuf>,
    /// Directory whose files override the built-in templates (e.g. yealink/mac.cfg).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Serve full configs, SIP passwords included, over plain HTTP too (legacy fleets).
    #[arg(long)]
    pub allow_secrets_over_http: bool,
    #[command(flatten)]
    pub dhcp: DhcpArgs,
}

/// The DHCP flags of `serve`.
#[derive(Debug, Args)]
pub struct DhcpArgs {
    /// Answer phones' DHCP on this interface, or the interface holding this IPv4 address (port 67).
    #[arg(long, value_name = "IFACE|ADDR")]
    pub dhcp: Option<String>,
    /// options-only (default) answers DHCPINFORM and never hands out addresses;
    /// full also leases addresses from --dhcp-pool (a provisioning VLAN).
    #[arg(long, value_enum, value_name = "MODE")]
    pub dhcp_mode: Option<DhcpMode>,
    /// Address pool START-END on the interface's network (full mode).
    #[arg(long, value_name = "START-END")]
    pub dhcp_pool: Option<String>,
    /// URL that options 66/160/43 carry (default: the plain-HTTP listener, on the DHCP interface's address if it listens on all).
    #[arg(long, value_name = "URL")]
    pub provision_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DhcpMode {
    OptionsOnly,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnippetFormat {
    Isc,
    Kea,
    Dnsmasq,
}

#[derive(Debug, Args)]
pub struct DhcpSnippetArgs {
    /// The DHCP server the snippet is for.
    #[arg(long, value_enum)]
    pub format: SnippetFormat,
    /// URL that options 66/160/43 carry (default: the configured plain-HTTP listener).
    #[arg(long, value_name = "URL")]
    pub provision_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The phone's MAC, in any common notation.
    pub mac: String,
    /// File name as the phone requests it (default: the vendor's main per-phone file).
    #[arg(long, value_name = "NAME")]
    pub file: Option<String>,
    /// User-Agent to render for (boot and common files use its model and firmware).
    #[arg(long, value_name = "UA")]
    pub user_agent: Option<String>,
    /// Directory whose files override the built-in templates, as for `serve`.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Also print, on stderr, each vendor setting in the file and the level
    /// it came from (site, model or phone); stdout stays the file.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Create,
    Upsert,
    Sync,
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodingArg {
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    #[value(name = "windows-1252", alias = "cp1252", alias = "latin1")]
    Windows1252,
    #[value(name = "utf-16", alias = "utf16")]
    Utf16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file to import, an http(s):// URL to fetch it from, or '-' for standard input.
    pub file: String,
    /// create: only new users; upsert: create or update by username; sync: upsert, then delete
    /// this --source's users missing from the file; replace: the file becomes the whole user set.
    #[arg(long, value_enum, default_value = "upsert")]
    pub mode: ModeArg,
    /// Validate and report exactly as a real run would, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the valid rows and report the rejected ones (default: all or nothing).
    #[arg(long)]
    pub partial: bool,
    /// Name of the feeding system; sync mode deletes only users this source created.
    #[arg(long)]
    pub source: Option<String>,
    /// Field delimiter: auto, ',', ';', tab or '|'.
    #[arg(long, default_value = "auto")]
    pub delimiter: String,
    /// Character encoding of the file.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoding: EncodingArg,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Print generated SIP passwords in the report (once).
    #[arg(long)]
    pub show_secrets: bool,
    /// A MAC already assigned to a user the file doesn't list moves to the
    /// row that claims it (that user loses the phone) instead of being refused.
    #[arg(long)]
    pub reassign_macs: bool,
    /// Confirm a replace import (it deletes every user the file does not list).
    #[arg(long)]
    pub yes: bool,
    /// A mapping file (TOML: a [map] table of field = source column or
    /// template, and an optional row filter) for a file not in autoprov's columns.
    #[arg(long, value_name = "MAPFILE")]
    pub map: Option<PathBuf>,
    #[command(flatten)]
    pub ldap: LdapArgs,
}

/// `import ldap://...` / `ldaps://...`: the keys of an LDAP source
/// (docs/ldap.md) as flags.
#[derive(Debug, Args, Default)]
pub struct LdapArgs {
    /// LDAP: the DN (or user@domain) to bind as; anonymous without it.
    #[arg(long, value_name = "DN")]
    pub bind_dn: Option<String>,
    /// LDAP: file holding the bind password.
    #[arg(long, value_name = "FILE")]
    pub bind_password_file: Option<PathBuf>,
    /// LDAP: environment variable holding the bind password.
    #[arg(long, value_name = "VAR")]
    pub bind_password_env: Option<String>,
    /// LDAP: the DN the search starts from.
    #[arg(long, value_name = "DN")]
    pub base: Option<String>,
    /// LDAP: search filter (default: the preset's).
    #[arg(long, value_name = "FILTER")]
    pub ldap_filter: Option<String>,
    /// LDAP: search scope: sub, one or base.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// LDAP: built-in attribute mapping: active-directory or inetorgperson.
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    /// LDAP: attribute holding the phone's MAC.
    #[arg(long, value_name = "ATTR")]
    pub mac_attribute: Option<String>,
    /// LDAP: upgrade an ldap:// connection with StartTLS.
    #[arg(long)]
    pub starttls: bool,
    /// LDAP: search an ldap:// server without StartTLS, in clear.
    #[arg(long)]
    pub allow_plaintext: bool,
    /// LDAP: PEM CA file the server's certificate must chain to (besides the system bundle).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Refuse a sync or replace that would delete more than this share (percent) of the users it manages.
    #[arg(long, value_name = "PERCENT")]
    pub max_delete_percent: Option<u8>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Include SIP passwords and voicemail PINs (web passwords are stored hashed and never exported).
    #[arg(long)]
    pub include_secrets: bool,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub command: Option<UsersCommand>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Show one user in full.
    Show {
        username: String,
        /// Also print the SIP password and voicemail PIN.
        #[arg(long)]
        secrets: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Debug, Args)]
pub struct PhonesArgs {
    #[command(subcommand)]
    pub command: Option<PhonesCommand>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Only phones with a target firmware (`[firmware]`) they do not
    /// report running (docs/firmware.md).
    #[arg(long)]
    pub outdated: bool,
}

#[derive(Debug, Subcommand)]
pub enum PhonesCommand {
    /// Show one phone: its owner, last fetch and web passwords (masked).
    Show {
        /// The phone's MAC, in any common notation.
        mac: String,
        /// Also print the phone's web admin and user passwords.
        #[arg(long)]
        secrets: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Give phones new random web admin and user passwords; each phone gets
    /// them at its next check over HTTPS.
    #[command(name = "rotate-admin-password")]
    RotateAdminPassword {
        /// The phone's MAC.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        mac: Option<String>,
        /// Every phone in the store.
        #[arg(long)]
        all: bool,
    },
}

// The clap value enums as the library takes them: the flags' spelling is
// the binary's business, the meaning the library's.

impl From<Format> for ops::Format {
    fn from(f: Format) -> ops::Format {
        match f {
            Format::Text => ops::Format::Text,
            Format::Json => ops::Format::Json,
        }
    }
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Create => Mode::Create,
            ModeArg::Upsert => Mode::Upsert,
            ModeArg::Sync => Mode::Sync,
            ModeArg::Replace => Mode::Replace,
        }
    }
}

impl From<EncodingArg> for EncodingChoice {
    fn from(e: EncodingArg) -> EncodingChoice {
        match e {
            EncodingArg::Auto => EncodingChoice::Auto,
            EncodingArg::Utf8 => EncodingChoice::Utf8,
            EncodingArg::Windows1252 => EncodingChoice::Windows1252,
            EncodingArg::Utf16 => EncodingChoice::Utf16,
        }
    }
}

impl From<DhcpMode> for DhcpModeConfig {
    fn from(m: DhcpMode) -> DhcpModeConfig {
        match m {
            DhcpMode::OptionsOnly => DhcpModeConfig::OptionsOnly,
            DhcpMode::Full => DhcpModeConfig::Full,
        }
    }
}

impl From<SnippetFormat> for snippet::Format {
    fn from(f: SnippetFormat) -> snippet::Format {
        match f {
            SnippetFormat::Isc => snippet::Format::Isc,
            SnippetFormat::Kea => snippet::Format::Kea,
            SnippetFormat::Dnsmasq => snippet::Format::Dnsmasq,
        }
    }
}

impl DhcpArgs {
    /// The flags as the DHCP settings take them.
    pub fn flags(&self) -> DhcpFlags<'_> {
        DhcpFlags {
            listen: self.dhcp.as_deref(),
            mode: self.dhcp_mode.map(DhcpModeConfig::from),
            pool: self.dhcp_pool.as_deref(),
            provision_url: self.provision_url.as_deref(),
        }
    }
}

impl ServeArgs {
    /// The flags that override `[listen]` and `[provision]`.
    pub fn flags(&self) -> ServeFlags {
        ServeFlags {
            http: self.http,
            https: self.https,
            allow_secrets_over_http: self.allow_secrets_over_http,
        }
    }
}
