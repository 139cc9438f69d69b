//! The lock file: availability zones resolved once and pinned beside the spec.
//!
//! `orchestrate.toml` → `orchestrate.lock`. Users commit it, so the same spec always means the
//! same subnets, even when the region gains or loses an AZ.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Contents of the lock file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Region the zones belong to.
    pub region: String,
    /// Pinned availability zone names, in subnet order.
    pub availability_zones: Vec<String>,
}

/// Failure to read or write the lock file.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// I/O failure.
    #[error("failed to access lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// It is not a valid lock file.
    #[error("lock file {path} is malformed: {message}")]
    Malformed {
        /// The lock file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

/// The lock file path for a spec path.
pub fn path_for(spec: &Path) -> PathBuf {
    spec.with_extension("lock")
}

/// Reads the lock file; `Ok(None)` when absent.
pub fn read(path: &Path) -> Result<Option<Lock>, LockError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| LockError::Malformed {
                path: path.to_path_buf(),
                message: e.message().to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LockError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the lock file atomically (temp file + rename).
pub fn write(path: &Path, lock: &Lock) -> Result<(), LockError> {
    let body = toml::to_string(lock).map_err(|e| LockError::Malformed {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let text = format!(
        "# Written by orchestrate: availability zones pinned for this deployment. Commit this file.\n{body}"
    );
    let tmp = path.with_extension("lock.tmp");
    std::fs::write(&tmp, text).map_err(|source| LockError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| LockError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = dir.path().join("orchestrate.toml");
        let path = path_for(&spec);
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some("orchestrate.lock")
        );
        assert_eq!(read(&path).expect("read"), None);
        let lock = Lock {
            region: "eu-west-1".into(),
            availability_zones: vec!["eu-west-1a".into(), "eu-west-1b".into()],
        };
        write(&path, &lock).expect("write");
        assert_eq!(read(&path).expect("read"), Some(lock));
        std::fs::write(&path, "nonsense = [").expect("write");
        assert!(matches!(read(&path), Err(LockError::Malformed { .. })));
    }
}
