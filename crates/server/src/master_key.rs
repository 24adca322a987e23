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
                let created = publish_new(path, &key.to_base64())
                    .map_err(|e| format!("creating master key file {}: {e}", path.display()))?;
                if !created {
                    // Another process created it first: its key is the key.
                    return load(&MasterKeySource::File {
                        path: path.clone(),
                        create: false,
                    });
                }
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

/// Publishes a new key file atomically: written in full to a private temporary file, then
/// hard-linked into place, which fails if the file exists. So concurrent first runs agree on
/// one key and nobody ever reads a half-written file. Returns false if another process won.
fn publish_new(path: &std::path::Path, contents: &str) -> std::io::Result<bool> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let suffix: String = warden_jose::random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| String::from("master.key"));
    let temp = dir.join(format!(".{file_name}.{suffix}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(contents.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        match std::fs::hard_link(&temp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    result
}
