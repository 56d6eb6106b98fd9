//! Where the server listens, and what guards it: a private Unix socket, or
//! loopback TCP with a bearer token.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use axum::Router;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    /// A Unix socket, created 0600 in a directory only this user can enter.
    Unix(PathBuf),
    /// A loopback TCP address; the router must want a token.
    Tcp(SocketAddr),
}

/// The socket a server listens on, and a hook looks for, by default:
/// `portcullis/serve.sock` in `$XDG_RUNTIME_DIR`, else in the
/// [user's cache directory](user_cache_dir).
pub fn default_socket_path() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute());
    let base = runtime.or_else(user_cache_dir)?;
    Some(base.join("portcullis").join("serve.sock"))
}

/// The user's cache directory: `$XDG_CACHE_HOME`, else `~/Library/Caches`
/// on macOS and `~/.cache` elsewhere.
pub fn user_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            Some(if cfg!(target_os = "macos") {
                home.join("Library/Caches")
            } else {
                home.join(".cache")
            })
        })
}

/// Creates `dir` and its missing parents, 0700 whatever the umask.
///
/// # Errors
/// When a directory cannot be created.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

impl Listener {
    /// Starts listening.
    ///
    /// # Errors
    /// When the socket's directory is not private, another server already
    /// listens there, a TCP address is not loopback, or binding fails.
    pub async fn bind(&self) -> anyhow::Result<Bound> {
        match self {
            Listener::Tcp(address) => {
                if !address.ip().is_loopback() {
                    bail!(
                        "{address} is not a loopback address: the decision server serves this machine only"
                    );
                }
                let socket = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address}"))?;
                let address = socket.local_addr()?;
                Ok(Bound::Tcp(socket, address))
            }
            #[cfg(unix)]
            Listener::Unix(path) => Ok(Bound::Unix(bind_private_socket(path).await?, path.clone())),
            #[cfg(not(unix))]
            Listener::Unix(path) => bail!(
                "Unix sockets are not available here; listen on loopback TCP instead of {}",
                path.display()
            ),
        }
    }
}

/// A listener that listens.
#[derive(Debug)]
pub enum Bound {
    /// On loopback TCP, at this address (the port chosen, for port 0).
    Tcp(tokio::net::TcpListener, SocketAddr),
    /// On this Unix socket, removed when the server stops.
    #[cfg(unix)]
    Unix(tokio::net::UnixListener, PathBuf),
}

impl Bound {
    /// Where it listens, as a person reads it.
    pub fn address(&self) -> String {
        match self {
            Bound::Tcp(_, address) => address.to_string(),
            #[cfg(unix)]
            Bound::Unix(_, path) => path.display().to_string(),
        }
    }

    /// Serves `router` until `shutdown` completes.
    ///
    /// # Errors
    /// When serving fails.
    pub async fn serve(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        match self {
            Bound::Tcp(socket, _) => axum::serve(socket, router)
                .with_graceful_shutdown(shutdown)
                .await
                .context("the server failed"),
            #[cfg(unix)]
            Bound::Unix(socket, path) => {
                let served = axum::serve(socket, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .context("the server failed");
                let _ = std::fs::remove_file(&path);
                served
            }
        }
    }
}

/// Binds a Unix socket at `path`, in a directory only this user can enter,
/// replacing a socket left behind by a server that is gone.
#[cfg(unix)]
async fn bind_private_socket(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let metadata =
        std::fs::symlink_metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if !metadata.is_dir() || metadata.uid() != me || metadata.mode() & 0o077 != 0 {
        bail!(
            "{} must be a directory of this user's that no one else can enter (mode 700): whoever can reach the socket can ask for decisions and read the sessions' verdicts",
            dir.display()
        );
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        bail!("a server already listens on {}", path.display());
    }
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(socket = %path.display(), "replacing a stale socket"),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot replace {}", path.display()));
        }
    }
    let socket = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))?;
    Ok(socket)
}

/// The bearer token of a TCP server, kept in a file only its owner can read.
#[derive(Debug)]
pub struct TokenFile {
    /// Where the token is kept.
    pub path: PathBuf,
    /// The token.
    pub token: String,
}

impl TokenFile {
    /// Reads the token at `path`, or makes one (32 random bytes, hex) and
    /// writes it there, 0600, at first start.
    ///
    /// # Errors
    /// When the file cannot be read or written, or others can read it.
    pub fn load_or_create(path: &Path) -> anyhow::Result<TokenFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private_file(path)?;
                let token = text.trim().to_owned();
                if token.len() < 32 {
                    bail!(
                        "the token in {} is too short (fewer than 32 characters); delete the file to have a new one made",
                        path.display()
                    );
                }
                Ok(TokenFile {
                    path: path.to_owned(),
                    token,
                })
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).context("cannot make a token")?;
                let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
                write_private_file(path, &token)?;
                Ok(TokenFile {
                    path: path.to_owned(),
                    token,
                })
            }
            Err(error) => {
                Err(error).with_context(|| format!("cannot read the token file {}", path.display()))
            }
        }
    }
}

fn write_private_file(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the token file {}", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("cannot write {}", path.display()))
}

fn check_private_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::symlink_metadata(path)?;
        if !metadata.is_file() || metadata.mode() & 0o077 != 0 {
            bail!(
                "the token file {} must be a file only its owner can read (mode 600)",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_token_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.token");
        let made = TokenFile::load_or_create(&path).unwrap();
        assert_eq!(made.token.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(TokenFile::load_or_create(&path).unwrap().token, made.token);
    }

    #[test]
    fn a_token_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.token");
        TokenFile::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = TokenFile::load_or_create(&path).unwrap_err();
        assert!(error.to_string().contains("mode 600"), "{error}");
    }
}
