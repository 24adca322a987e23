//! Loading (or, on the embedded default, creating) the master key that encrypts signing keys
//! and `client_secret_jwt` secrets at rest.

use std::io::Write;

use warden_jose::MasterKey;

use crate::config::MasterKeySource;

/// Loads the master key from its source, creating the default key file (mode 0600) when it
/// does not exist yet.
pub fn load(source: &MasterKeySource) -> Result<MasterKey, String> {
    match source {
        MasterKeySource::Env => {
            let raw = std::env::var("WARDEN_MASTER_KEY")
                .map_err(|_| String::from("WARDEN_MASTER_KEY is not set"))?;
            MasterKey::from_base64(&raw)
                .map_err(|_| String::from("WARDEN_MASTER_KEY must be 32 bytes, base64-encoded"))
        }
        MasterKeySource::Ephemeral => Ok(MasterKey::generate()),
        MasterKeySource::File { path, create } => match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::from_base64(&text).map_err(|_| {
                format!(
                    "master key file {} must hold 32 bytes, base64-encoded",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && *create => {
                let key = MasterKey::generate();
                write_new(path, &key.to_base64())
                    .map_err(|e| format!("creating master key file {}: {e}", path.display()))?;
                tracing::warn!(
                    path = %path.display(),
                    "created a new master key file; back it up, and in production set WARDEN_MASTER_KEY instead"
                );
                Ok(key)
            }
            Err(e) => Err(format!("reading master key file {}: {e}", path.display())),
        },
    }
}

fn write_new(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    };
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}
