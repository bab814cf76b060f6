//! Bearer tokens for the admin API.
//!
//! Tokens live in `<data>/admin-tokens.json` (mode 0600), not in sled: the
//! running server holds sled's lock, and `autoprov admin token create` must
//! work while it runs. The server re-reads the file when it changes, so a
//! new or revoked token takes effect on the next request.
//!
//! On a database store (several nodes, [`Store::shared_blob`] answers) the
//! same JSON document lives in the database instead, so every node accepts
//! the same tokens; each server re-reads it with its read model, once a
//! second, so a new or revoked token takes effect within about a second.
//!
//! Only a SHA-256 of each token is stored. A token is 32 random bytes
//! (256 bits), so there is nothing to brute-force and a slow password hash
//! (argon2) would only make every API request slow; a fast hash of a
//! high-entropy secret is the standard choice (as for GitHub's tokens).

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, StoreError};

/// File name inside the data directory.
pub const FILE: &str = "admin-tokens.json";
/// The shared document's name on a database store.
pub const BLOB: &str = "admin-tokens";
/// Every token starts with this, so secret scanners and people recognise it.
const PREFIX: &str = "apt_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid token file: {message}")]
    Corrupt { path: String, message: String },
    #[error("a token named {0:?} exists already; revoke it first or choose another --name")]
    Exists(String),
    #[error("no token named {0:?}")]
    NotFound(String),
    #[error("token names are 1 to 64 letters, digits, '.', '_' or '-'; {0:?} is not")]
    BadName(String),
    #[error("cannot read or write the admin tokens in the store: {0}")]
    Store(#[from] StoreError),
}

/// One stored token: its name and the hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub name: String,
    /// Hex SHA-256 of the whole token string.
    pub sha256: String,
    /// RFC 3339 UTC.
    pub created: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenEntry>,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token file of a data directory.
#[derive(Debug, Clone)]
pub struct TokenFileRef {
    path: PathBuf,
}

impl TokenFileRef {
    pub fn new(data: &Path) -> TokenFileRef {
        TokenFileRef {
            path: data.join(FILE),
        }
    }

    fn io(&self, source: std::io::Error) -> TokenError {
        TokenError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Stored tokens; none when the file does not exist.
    pub fn list(&self) -> Result<Vec<TokenEntry>, TokenError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        parse(&bytes, &self.path.display().to_string())
    }

    /// Makes a new token named `name` (or `token-N`), stores its hash and
    /// returns the token: the only time it is ever shown.
    pub fn create(&self, name: Option<&str>) -> Result<(String, String), TokenError> {
        let _lock = self.lock()?;
        let mut tokens = self.list()?;
        let made = add(&mut tokens, name)?;
        self.write(&tokens)?;
        Ok(made)
    }

    /// Removes the token named `name`.
    pub fn revoke(&self, name: &str) -> Result<(), TokenError> {
        let _lock = self.lock()?;
        let mut tokens = self.list()?;
        remove(&mut tokens, name)?;
        self.write(&tokens)
    }

    /// Writes through a 0600 temporary file and a rename, so the server
    /// never reads half a file and the file is never readable by others.
    fn write(&self, tokens: &[TokenEntry]) -> Result<(), TokenError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let tmp = self.path.with_extension("json.part");
        let _ = std::fs::remove_file(&tmp);
        let body = serde_json::to_vec_pretty(&TokenFile {
            tokens: tokens.to_vec(),
        })
        .map_err(|e| self.io(e.into()))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        f.write_all(&body)
            .and_then(|_| f.sync_all())
            .map_err(|e| self.io(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))
    }

    /// An exclusive lock beside the file, so two `token create` runs at once
    /// cannot lose one of the tokens. Released when the file closes.
    fn lock(&self) -> Result<std::fs::File, TokenError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.path.with_extension("lock"))
            .map_err(|e| self.io(e))?;
        use std::os::fd::AsRawFd as _;
        // SAFETY: flock on a descriptor this function owns; no memory involved.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(self.io(std::io::Error::last_os_error()));
        }
        Ok(f)
    }
}

/// Adds a new token named `name` (or the first free `token-N`) to the
/// list; returns its name and the token.
fn add(tokens: &mut Vec<TokenEntry>, name: Option<&str>) -> Result<(String, String), TokenError> {
    let name = match name {
        Some(n) => {
            check_name(n)?;
            if tokens.iter().any(|t| t.name == n) {
                return Err(TokenError::Exists(n.to_string()));
            }
            n.to_string()
        }
        None => (1..)
            .map(|i| format!("token-{i}"))
            .find(|n| !tokens.iter().any(|t| &t.name == n))
            .unwrap_or_else(|| "token".into()),
    };
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    tokens.push(TokenEntry {
        name: name.clone(),
        sha256: hex::encode(hash(&token)),
        created: crate::domain::clock::now_rfc3339(),
    });
    Ok((name, token))
}

fn remove(tokens: &mut Vec<TokenEntry>, name: &str) -> Result<(), TokenError> {
    let before = tokens.len();
    tokens.retain(|t| t.name != name);
    if tokens.len() == before {
        return Err(TokenError::NotFound(name.to_string()));
    }
    Ok(())
}

/// The token list of a store that keeps it for every node (a database
/// engine): the file's JSON, as the store's shared document [`BLOB`].
#[derive(Clone)]
pub struct SharedTokens {
    store: Arc<dyn Store + Send + Sync>,
}

impl std::fmt::Debug for SharedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTokens")
    }
}

impl SharedTokens {
    /// The store's token list, if the store keeps one (`None`: an embedded
    /// engine; the tokens are in the data directory's file).
    pub fn of(store: Arc<dyn Store + Send + Sync>) -> Result<Option<SharedTokens>, TokenError> {
        Ok(store
            .shared_blob(BLOB)?
            .is_some()
            .then_some(SharedTokens { store }))
    }

    pub fn list(&self) -> Result<Vec<TokenEntry>, TokenError> {
        let bytes = self.store.shared_blob(BLOB)?.unwrap_or_default();
        parse(&bytes, "the store's admin-tokens document")
    }

    /// As [`TokenFileRef::create`]. Two nodes creating a token in the same
    /// instant can lose one (the document is read, changed and written
    /// back); creating tokens is a rare, manual act, and `list` shows it.
    pub fn create(&self, name: Option<&str>) -> Result<(String, String), TokenError> {
        let mut tokens = self.list()?;
        let made = add(&mut tokens, name)?;
        self.write(&tokens)?;
        Ok(made)
    }

    pub fn revoke(&self, name: &str) -> Result<(), TokenError> {
        let mut tokens = self.list()?;
        remove(&mut tokens, name)?;
        self.write(&tokens)
    }

    fn write(&self, tokens: &[TokenEntry]) -> Result<(), TokenError> {
        let body = serde_json::to_vec_pretty(&TokenFile {
            tokens: tokens.to_vec(),
        })
        .map_err(|e| TokenError::Corrupt {
            path: BLOB.into(),
            message: e.to_string(),
        })?;
        self.store.put_shared_blob(BLOB, &body)?;
        Ok(())
    }
}

/// A stored token list; empty bytes are an empty list (a document never
/// written).
fn parse(bytes: &[u8], what: &str) -> Result<Vec<TokenEntry>, TokenError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let file: TokenFile = serde_json::from_slice(bytes).map_err(|e| TokenError::Corrupt {
        path: what.to_string(),
        message: e.to_string(),
    })?;
    Ok(file.tokens)
}

/// Where the token list lives for a command: the file, or the store.
#[derive(Debug, Clone)]
pub enum TokenHome {
    File(TokenFileRef),
    Shared(SharedTokens),
}

impl TokenHome {
    /// The store's shared list when it keeps one, else `<data>`'s file.
    pub fn open(
        data: &Path,
        store: Option<Arc<dyn Store + Send + Sync>>,
    ) -> Result<TokenHome, TokenError> {
        if let Some(store) = store
            && let Some(shared) = SharedTokens::of(store)?
        {
            return Ok(TokenHome::Shared(shared));
        }
        Ok(TokenHome::File(TokenFileRef::new(data)))
    }

    pub fn list(&self) -> Result<Vec<TokenEntry>, TokenError> {
        match self {
            TokenHome::File(f) => f.list(),
            TokenHome::Shared(s) => s.list(),
        }
    }

    pub fn create(&self, name: Option<&str>) -> Result<(String, String), TokenError> {
        match self {
            TokenHome::File(f) => f.create(name),
            TokenHome::Shared(s) => s.create(name),
        }
    }

    pub fn revoke(&self, name: &str) -> Result<(), TokenError> {
        match self {
            TokenHome::File(f) => f.revoke(name),
            TokenHome::Shared(s) => s.revoke(name),
        }
    }
}

fn check_name(n: &str) -> Result<(), TokenError> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(TokenError::BadName(n.to_string()))
    }
}

/// What identifies one version of the file: a rewrite is a rename, which
/// changes the inode even within the same mtime tick.
type Stamp = (u64, i64, i64, u64);

/// The server's view of the tokens: the file, re-read when it changes, or
/// the store's shared list, re-read by [`TokenSet::reload`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenSet {
    inner: Arc<SetInner>,
}

#[derive(Debug)]
struct SetInner {
    home: TokenHome,
    cached: Mutex<(Option<Stamp>, Vec<[u8; 32]>)>,
}

impl TokenSet {
    pub fn new(data: &Path) -> TokenSet {
        TokenSet::in_home(TokenHome::File(TokenFileRef::new(data)))
    }

    /// The tokens of `home`; a shared list is read now and on each
    /// [`TokenSet::reload`].
    pub fn in_home(home: TokenHome) -> TokenSet {
        let set = TokenSet {
            inner: Arc::new(SetInner {
                home,
                cached: Mutex::new((None, Vec::new())),
            }),
        };
        set.reload();
        set
    }

    /// Re-reads a shared list (the refresh loop calls this four times a second).
    /// A list the store cannot give now keeps the last one read; a corrupt
    /// one accepts no token. A file is re-read by [`TokenSet::verify`].
    pub fn reload(&self) {
        let TokenHome::Shared(shared) = &self.inner.home else {
            return;
        };
        let hashes = match shared.list() {
            Ok(list) => hashes(&list),
            Err(TokenError::Store(e)) => {
                tracing::debug!(error = %e, "admin tokens: store unreachable; keeping the last list");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin tokens unreadable; refusing every token");
                Vec::new()
            }
        };
        self.inner
            .cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1 = hashes;
    }

    /// Whether `token` is one of the stored tokens. Compares against every
    /// stored hash in constant time, without stopping at a match.
    pub fn verify(&self, token: &str) -> bool {
        let presented = hash(token);
        let mut cached = self.inner.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let TokenHome::File(file) = &self.inner.home {
            let stamp = std::fs::metadata(&file.path)
                .ok()
                .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.len()));
            if stamp != cached.0 || stamp.is_none() {
                let hashes = match file.list() {
                    Ok(list) => hashes(&list),
                    Err(e) => {
                        // Fail closed: an unreadable file accepts no token.
                        tracing::warn!(error = %e, "admin tokens unreadable; refusing every token");
                        Vec::new()
                    }
                };
                *cached = (stamp, hashes);
            }
        }
        let mut found = subtle::Choice::from(0);
        for h in &cached.1 {
            found |= h.ct_eq(&presented);
        }
        found.into()
    }
}

fn hashes(list: &[TokenEntry]) -> Vec<[u8; 32]> {
    list.iter()
        .filter_map(|t| hex::decode(&t.sha256).ok()?.try_into().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFileRef::new(dir.path());
        let set = TokenSet::new(dir.path());
        assert!(!set.verify("apt_nothing"));
        let (name, token) = file.create(None).unwrap();
        assert_eq!(name, "token-1");
        assert!(token.starts_with(PREFIX) && token.len() == PREFIX.len() + 43);
        assert!(set.verify(&token));
        assert!(!set.verify(&format!("{token}x")));
        let stored = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!stored.contains(&token), "token stored in clear");
        let mode = std::fs::metadata(dir.path().join(FILE)).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            file.create(Some("token-1")),
            Err(TokenError::Exists(_))
        ));
        assert!(matches!(
            file.create(Some("a b")),
            Err(TokenError::BadName(_))
        ));
        file.revoke("token-1").unwrap();
        assert!(!set.verify(&token));
        assert!(matches!(
            file.revoke("token-1"),
            Err(TokenError::NotFound(_))
        ));
    }

    #[test]
    fn a_shared_list_is_the_same_on_every_node() {
        use crate::store::shared_fake::SharedFake;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store + Send + Sync> = Arc::new(SharedFake::default());
        let home = TokenHome::open(dir.path(), Some(store.clone())).unwrap();
        assert!(matches!(home, TokenHome::Shared(_)));
        let node_a = TokenSet::in_home(home.clone());
        let node_b = TokenSet::in_home(TokenHome::open(dir.path(), Some(store.clone())).unwrap());
        let (_, token) = home.create(Some("lb")).unwrap();
        assert!(!node_b.verify(&token), "seen only after a reload");
        node_a.reload();
        node_b.reload();
        assert!(node_a.verify(&token) && node_b.verify(&token));
        assert!(!dir.path().join(FILE).exists(), "no token file beside");
        assert_eq!(home.list().unwrap().len(), 1);
        home.revoke("lb").unwrap();
        node_b.reload();
        assert!(!node_b.verify(&token));
        // An embedded store keeps the file.
        let mem: Arc<dyn Store + Send + Sync> = Arc::new(crate::store::MemoryStore::new());
        assert!(matches!(
            TokenHome::open(dir.path(), Some(mem)).unwrap(),
            TokenHome::File(_)
        ));
    }
}
