use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use secrecy::ExposeSecret;
use tokio_util::io::StreamReader;

use crate::config::{S3Config, StorageConfig};
use crate::error::{BoxError, OpenError, PutError, StorageError};
use crate::key::StorageKey;

/// The size of each part of a multipart upload (the last one may be shorter). S3 wants at least
/// 5 MiB for every part but the last, and R2 wants them all equal, which a fixed size gives.
/// An upload shorter than this is stored with a single request instead.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts being sent at once by one upload. With the part being filled, an upload holds at most
/// `(PARTS_IN_FLIGHT + 1) * PART_SIZE` bytes (24 MiB) in memory, whatever its size.
pub const PARTS_IN_FLIGHT: usize = 2;

/// An object's bytes as they arrive from the store.
pub type ObjectStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// An object as a [`tokio::io::AsyncRead`].
pub type ObjectReader = StreamReader<ObjectStream, Bytes>;

/// What the store knows of an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub last_modified: SystemTime,
    pub e_tag: Option<String>,
}

/// Uploads and generated files. Clones share the store.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Option<StorageKey>,
}

impl fmt::Debug for Storage {
    // The store's `Display` (its kind and bucket or directory), never its `Debug`, which may
    // show client settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("store", &format_args!("{}", self.store))
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Storage {
    /// Opens the configured store. A local directory is created when missing; S3 is not
    /// contacted until the first request.
    pub fn open(config: &StorageConfig) -> Result<Self, OpenError> {
        match config {
            StorageConfig::Local { root } => {
                std::fs::create_dir_all(root).map_err(|source| OpenError::CreateDir {
                    path: root.clone(),
                    source,
                })?;
                let store = LocalFileSystem::new_with_prefix(root)
                    .map_err(|source| OpenError::Store { source })?
                    // Deleting the last object of a directory removes the directory, so
                    // per-tenant folders do not pile up.
                    .with_automatic_cleanup(true);
                Ok(Self::new(Arc::new(store)))
            }
            StorageConfig::S3(s3) => {
                let store = s3_builder(s3)
                    .build()
                    .map_err(|source| OpenError::Store { source })?;
                let storage = Self::new(Arc::new(store));
                Ok(match &s3.prefix {
                    Some(prefix) => storage.with_prefix(prefix.clone()),
                    None => storage,
                })
            }
            StorageConfig::Memory => Ok(Self::new(Arc::new(InMemory::new()))),
        }
    }

    /// Over any store, such as one wrapped for a test.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            prefix: None,
        }
    }

    /// Every key stored under `prefix` (after the current prefix, if any).
    pub fn with_prefix(self, prefix: StorageKey) -> Self {
        let prefix = match &self.prefix {
            Some(outer) => outer.nested(&prefix),
            None => prefix,
        };
        Self {
            prefix: Some(prefix),
            ..self
        }
    }

    /// Streams `stream` into the object `key`, replacing any object there; returns the number
    /// of bytes stored.
    ///
    /// Nothing is visible under `key` until the whole stream is stored. An upload shorter than
    /// [`PART_SIZE`] is sent in one request once its end is seen; a longer one goes as a
    /// multipart upload, at most `(PARTS_IN_FLIGHT + 1) * PART_SIZE` bytes in memory. When the
    /// stream passes `max_bytes`, ends empty or fails, the upload is aborted and nothing is
    /// stored. If the returned future is dropped halfway (the client went away), the upload is
    /// aborted in the background.
    pub async fn put_stream<S, E>(
        &self,
        key: &StorageKey,
        stream: S,
        max_bytes: u64,
    ) -> Result<u64, PutError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<BoxError>,
    {
        let location = self.location(key);
        let mut stream = pin!(stream);
        let mut total: u64 = 0;

        // The first part is gathered before anything is sent: a short upload then takes one
        // request, and an empty or too large one never reaches the store.
        let mut first_part = Vec::new();
        while total < PART_SIZE as u64 {
            match stream.next().await {
                None if total == 0 => return Err(PutError::Empty),
                None => {
                    self.store
                        .put(&location, PutPayload::from_iter(first_part))
                        .await
                        .map_err(|e| StorageError::from_store(key, e))?;
                    tracing::debug!(%key, bytes = total, "stored in one request");
                    return Ok(total);
                }
                Some(Err(e)) => return Err(PutError::Read { source: e.into() }),
                Some(Ok(chunk)) => {
                    total = within_limit(total, &chunk, max_bytes)?;
                    if !chunk.is_empty() {
                        first_part.push(chunk);
                    }
                }
            }
        }

        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(|e| StorageError::from_store(key, e))?;
        let mut upload = Multipart {
            write: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)),
            key: key.clone(),
        };
        for chunk in first_part {
            upload.put(chunk);
        }
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    upload.abort().await;
                    return Err(PutError::Read { source: e.into() });
                }
            };
            total = match within_limit(total, &chunk, max_bytes) {
                Ok(total) => total,
                Err(too_large) => {
                    upload.abort().await;
                    return Err(too_large);
                }
            };
            // Back pressure: the stream is read no faster than the parts are sent.
            if let Err(e) = upload.wait_for_capacity().await {
                upload.abort().await;
                return Err(StorageError::from_store(key, e).into());
            }
            upload.put(chunk);
        }
        upload
            .finish()
            .await
            .map_err(|e| StorageError::from_store(key, e))?;
        tracing::debug!(%key, bytes = total, "stored in a multipart upload");
        Ok(total)
    }

    /// Stores a small generated file in one request, replacing any object there.
    pub async fn put_bytes(&self, key: &StorageKey, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&self.location(key), bytes.into())
            .await
            .map_err(|e| StorageError::from_store(key, e))?;
        Ok(())
    }

    /// The object's bytes as they arrive; [`StorageError::NotFound`] when there is none.
    pub async fn get_stream(&self, key: &StorageKey) -> Result<ObjectStream, StorageError> {
        let object = self
            .store
            .get(&self.location(key))
            .await
            .map_err(|e| StorageError::from_store(key, e))?;
        let key = key.clone();
        Ok(object
            .into_stream()
            .map(move |chunk| chunk.map_err(|e| StorageError::from_store(&key, e)))
            .boxed())
    }

    /// The object as a [`tokio::io::AsyncRead`]; [`StorageError::NotFound`] when there is none.
    pub async fn get_reader(&self, key: &StorageKey) -> Result<ObjectReader, StorageError> {
        Ok(StreamReader::new(self.get_stream(key).await?))
    }

    /// The object's size and date; [`StorageError::NotFound`] when there is none.
    pub async fn head(&self, key: &StorageKey) -> Result<ObjectInfo, StorageError> {
        let meta = self
            .store
            .head(&self.location(key))
            .await
            .map_err(|e| StorageError::from_store(key, e))?;
        Ok(ObjectInfo {
            size: meta.size,
            last_modified: meta.last_modified.into(),
            e_tag: meta.e_tag,
        })
    }

    /// The object's size in bytes; [`StorageError::NotFound`] when there is none.
    pub async fn size(&self, key: &StorageKey) -> Result<u64, StorageError> {
        Ok(self.head(key).await?.size)
    }

    /// Removes the object; removing one that is not there succeeds.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        match self.store.delete(&self.location(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StorageError::from_store(key, e)),
        }
    }

    /// Where `key` lives in the underlying store.
    fn location(&self, key: &StorageKey) -> Path {
        match &self.prefix {
            Some(prefix) => Path::from_iter(prefix.segments().chain(key.segments())),
            None => Path::from_iter(key.segments()),
        }
    }
}

/// The new total once `chunk` is counted, or `TooLarge` when it passes `max_bytes`.
fn within_limit(total: u64, chunk: &Bytes, max_bytes: u64) -> Result<u64, PutError> {
    let total = total.saturating_add(chunk.len() as u64);
    if total > max_bytes {
        Err(PutError::TooLarge { limit: max_bytes })
    } else {
        Ok(total)
    }
}

fn s3_builder(config: &S3Config) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_allow_http(config.allow_http);
    for (key, value) in &config.aws {
        builder = builder.with_config(*key, value);
    }
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &config.region {
        builder = builder.with_region(region);
    }
    if let Some(credentials) = &config.credentials {
        builder = builder
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(credentials.secret_access_key.expose_secret());
        if let Some(token) = &credentials.session_token {
            builder = builder.with_token(token.expose_secret());
        }
    }
    builder
}

/// A multipart upload in progress, aborted when dropped before it finishes, so a cancelled
/// request leaves no parts behind.
struct Multipart {
    write: Option<WriteMultipart>,
    key: StorageKey,
}

impl Multipart {
    fn put(&mut self, chunk: Bytes) {
        if let Some(write) = &mut self.write {
            write.put(chunk);
        }
    }

    async fn wait_for_capacity(&mut self) -> object_store::Result<()> {
        match &mut self.write {
            Some(write) => write.wait_for_capacity(PARTS_IN_FLIGHT).await,
            None => Ok(()),
        }
    }

    async fn finish(mut self) -> object_store::Result<()> {
        match self.write.take() {
            // Aborts the upload itself when a part or the completion fails.
            Some(write) => write.finish().await.map(drop),
            None => Ok(()),
        }
    }

    async fn abort(mut self) {
        if let Some(write) = self.write.take()
            && let Err(e) = write.abort().await
        {
            tracing::warn!(key = %self.key, error = %e, "could not abort an upload; its parts stay until the store's lifecycle rule removes them");
        }
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        let Some(write) = self.write.take() else {
            return;
        };
        let key = self.key.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(async move {
                if let Err(e) = write.abort().await {
                    tracing::warn!(%key, error = %e, "could not abort a cancelled upload");
                }
            })),
            Err(_) => {
                tracing::warn!(%key, "upload dropped outside a runtime; not aborted");
            }
        }
    }
}
