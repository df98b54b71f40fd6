//! A store that counts what `Storage` asks of it, and streams of known bytes.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use storage::Storage;
use storage::object_store::path::Path;
use storage::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};
use tempfile::TempDir;

/// What the wrapped store was asked to do.
#[derive(Debug, Default)]
pub struct Counts {
    pub single_puts: AtomicUsize,
    pub multipart_uploads: AtomicUsize,
    pub aborts: AtomicUsize,
    /// The size of every part, in the order they were handed over.
    pub parts: Mutex<Vec<usize>>,
    /// Bytes of the parts that reached the store.
    pub bytes_in_store: AtomicU64,
}

impl Counts {
    pub fn single_puts(&self) -> usize {
        self.single_puts.load(Ordering::SeqCst)
    }
    pub fn multipart_uploads(&self) -> usize {
        self.multipart_uploads.load(Ordering::SeqCst)
    }
    pub fn aborts(&self) -> usize {
        self.aborts.load(Ordering::SeqCst)
    }
    pub fn parts(&self) -> Vec<usize> {
        self.parts.lock().unwrap().clone()
    }
}

/// Passes everything to `inner`, counting; each part can be made slow.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counts: Arc<Counts>,
    part_delay: Duration,
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.counts.single_puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.counts.multipart_uploads.fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountingUpload {
            inner,
            counts: Arc::clone(&self.counts),
            part_delay: self.part_delay,
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    counts: Arc<Counts>,
    part_delay: Duration,
}

#[async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let len = data.content_length();
        self.counts.parts.lock().unwrap().push(len);
        let part = self.inner.put_part(data);
        let counts = Arc::clone(&self.counts);
        let delay = self.part_delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            part.await?;
            counts
                .bytes_in_store
                .fetch_add(len as u64, Ordering::SeqCst);
            Ok(())
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.inner.complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        self.counts.aborts.fetch_add(1, Ordering::SeqCst);
        self.inner.abort().await
    }
}

/// A storage over a fresh temporary directory, through a counting store.
pub struct LocalStore {
    pub dir: TempDir,
    pub storage: Storage,
    pub counts: Arc<Counts>,
}

impl LocalStore {
    pub fn new() -> Self {
        Self::with_part_delay(Duration::ZERO)
    }

    pub fn with_part_delay(part_delay: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inner = storage::object_store::local::LocalFileSystem::new_with_prefix(dir.path())
            .unwrap()
            .with_automatic_cleanup(true);
        let counts = Arc::new(Counts::default());
        let store = CountingStore {
            inner: Arc::new(inner),
            counts: Arc::clone(&counts),
            part_delay,
        };
        Self {
            dir,
            storage: Storage::new(Arc::new(store)),
            counts,
        }
    }

    /// Every file under the directory, uploads in progress included.
    pub fn files(&self) -> Vec<PathBuf> {
        files_under(self.dir.path())
    }
}

pub fn files_under(dir: &FsPath) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

pub const MIB: usize = 1024 * 1024;

/// `len` bytes that differ from offset to offset, so a misplaced part shows.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}

/// `data` in chunks of uneven sizes, up to 64 KiB, as a request body arrives.
pub fn chunked(data: &[u8]) -> Vec<Bytes> {
    let sizes = [1, 8 * 1024, 65_536, 3, 40_000, 16 * 1024];
    let mut chunks = Vec::new();
    let mut offset = 0;
    for size in sizes.iter().cycle() {
        if offset >= data.len() {
            break;
        }
        let end = (offset + size).min(data.len());
        chunks.push(Bytes::copy_from_slice(&data[offset..end]));
        offset = end;
    }
    chunks
}

/// The chunks as a body stream that never fails.
pub fn body(chunks: Vec<Bytes>) -> impl Stream<Item = std::io::Result<Bytes>> {
    stream::iter(chunks.into_iter().map(Ok))
}

/// `len` zero bytes in 64 KiB chunks, made as they are read, counting what was read.
pub fn counted_zeros(
    len: usize,
    read: Arc<AtomicU64>,
) -> impl Stream<Item = std::io::Result<Bytes>> {
    const CHUNK: usize = 64 * 1024;
    let zeros = Bytes::from(vec![0u8; CHUNK]);
    stream::iter((0..len).step_by(CHUNK)).map(move |offset| {
        let chunk = zeros.slice(..CHUNK.min(len - offset));
        read.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok(chunk)
    })
}
