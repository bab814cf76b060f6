//! The server key: 32 random bytes made once and kept owner-readable in the
//! data directory. Digest nonces are HMACs under it, and each phone's
//! provisioning credentials are derived from it, so nothing per phone is
//! stored and a restart changes nothing.

use std::path::Path;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::domain::mac::Mac;
use crate::domain::secret::Credential;

type HmacSha256 = Hmac<Sha256>;

/// Length of the server key in bytes.
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the server key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the server key {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the server key {path} is not {KEY_LEN} bytes; remove it to have a new one made")]
    Length { path: String },
}

/// The server's secret for nonces (and derived per-device credentials):
/// random, made once, kept owner-readable in the data directory.
#[derive(Clone)]
pub struct ServerKey([u8; KEY_LEN]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

impl ServerKey {
    /// Reads `path`, or creates it with fresh random bytes.
    pub fn load_or_create(path: &Path) -> Result<ServerKey, KeyError> {
        let shown = || path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; KEY_LEN] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::Length { path: shown() })?;
                Ok(ServerKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; KEY_LEN] = rand::random();
                write_private(path, &key).map_err(|source| KeyError::Write {
                    path: shown(),
                    source,
                })?;
                Ok(ServerKey(key))
            }
            Err(source) => Err(KeyError::Read {
                path: shown(),
                source,
            }),
        }
    }

    /// A key from fixed bytes (tests).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> ServerKey {
        ServerKey(bytes)
    }

    /// The provisioning credentials of one phone: user name = its MAC (12
    /// lower-case hex digits), password = 20 hex digits of an HMAC of the
    /// MAC. Derived, so nothing is stored and they survive a restart;
    /// replacing `auth.key` replaces every phone's password at once.
    pub fn device_credential(&self, mac: &Mac) -> Credential {
        let user = mac.plain();
        let tag = self.tag(&[b"autoprov device password", user.as_bytes()]);
        Credential {
            password: hex::encode(&tag[..10]),
            user,
        }
    }

    /// HMAC-SHA256 over `parts`, each length-prefixed so that no two
    /// different part lists hash alike.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        // new_from_slice accepts any key length; KEY_LEN bytes always fit.
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Creates `path` readable by the owner only (and its directory).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}
