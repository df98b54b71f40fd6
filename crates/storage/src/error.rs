use std::path::PathBuf;

use crate::key::StorageKey;

/// A boxed error of whatever produced an upload's bytes.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("cannot create the storage directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the object store: {source}")]
    Store {
        #[source]
        source: object_store::Error,
    },
}

/// A read, a small write or a delete failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Nothing is stored under the key.
    #[error("no object is stored at `{key}`")]
    NotFound {
        key: StorageKey,
        #[source]
        source: object_store::Error,
    },
    #[error("object store failed on `{key}`: {source}")]
    Store {
        key: StorageKey,
        #[source]
        source: object_store::Error,
    },
}

impl StorageError {
    pub(crate) fn from_store(key: &StorageKey, source: object_store::Error) -> Self {
        match source {
            object_store::Error::NotFound { .. } => Self::NotFound {
                key: key.clone(),
                source,
            },
            source => Self::Store {
                key: key.clone(),
                source,
            },
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// For readers: [`StorageError::NotFound`] becomes [`std::io::ErrorKind::NotFound`].
impl From<StorageError> for std::io::Error {
    fn from(error: StorageError) -> Self {
        let kind = if error.is_not_found() {
            std::io::ErrorKind::NotFound
        } else {
            std::io::ErrorKind::Other
        };
        Self::new(kind, error)
    }
}

/// An upload was refused or failed; in every case nothing was stored under its key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PutError {
    /// The stream ended before its first byte.
    #[error("the upload is empty")]
    Empty,
    /// The stream went past the limit; reading stopped there.
    #[error("the upload is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The stream itself failed (the client went away, a decoder failed, ...).
    #[error("reading the upload failed: {source}")]
    Read {
        #[source]
        source: BoxError,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}
