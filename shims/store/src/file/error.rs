//! What opening and using a [`FileStore`](super::FileStore) can fail with.

use std::any::Any;
use std::io;
use std::path::{Path, PathBuf};

/// Why a store file could not be opened. Each message is one sentence that
/// names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process, or another store in this one, has the file open.
    #[error("store file {} is locked by another process or store", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The file holds something else, or is damaged; it is left as it is.
    #[error("store file {} is not a relay store or is corrupt: {reason}", path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file cannot be read or written (permissions, a missing
    /// directory, a full disk).
    #[error("cannot open store file {}: {reason}", path.display())]
    Unavailable {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
}

impl OpenError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            Self::Locked { path } | Self::NotAStore { path, .. } | Self::Unavailable { path, .. } => path,
        }
    }

    pub(super) fn from_database(path: &Path, error: redb::DatabaseError) -> Self {
        use redb::{DatabaseError, StorageError};
        let path = path.to_owned();
        match error {
            DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => Self::Locked { path },
            // redb reports a foreign header and a file too short for one as
            // I/O errors of these kinds.
            DatabaseError::Storage(StorageError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
                Self::NotAStore { path, reason: io_text(&e) }
            }
            DatabaseError::Storage(StorageError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Self::NotAStore { path, reason: "it is too short to hold a database header".to_owned() }
            }
            DatabaseError::Storage(StorageError::Io(e)) => Self::Unavailable { path, reason: io_text(&e) },
            other => Self::NotAStore { path, reason: other.to_string() },
        }
    }

    pub(super) fn panicked(path: &Path, payload: &(dyn Any + Send)) -> Self {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Self::NotAStore { path: path.to_owned(), reason: format!("reading it failed ({text})") }
    }
}

/// An I/O error as the tail of a sentence: "permission denied" rather than
/// "Permission denied (os error 13)".
fn io_text(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error ") {
        Some(end) => &text[..end],
        None => &text,
    };
    let mut chars = text.chars();
    match (chars.next(), chars.clone().next()) {
        // Lowercase a capitalised word, not an acronym such as "I/O".
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

/// A store operation that failed; the file stays as the last successful
/// operation left it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} store file {}: {detail}", path.display())]
pub struct FileStoreError {
    action: &'static str,
    path: PathBuf,
    detail: String,
}

impl FileStoreError {
    pub(super) fn new(action: &'static str, path: &Path, error: impl Into<redb::Error>) -> Self {
        Self { action, path: path.to_owned(), detail: error.into().to_string() }
    }

    /// The file concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_the_end_of_a_sentence() {
        assert_eq!(io_text(&io::Error::from_raw_os_error(13)), "permission denied");
        assert_eq!(io_text(&io::Error::other("I/O trouble")), "I/O trouble");
    }
}
