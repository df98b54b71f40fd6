//! Uploads and generated files, kept in a local directory by default or in any S3-compatible
//! store (`STORAGE_URL`), through the `object_store` crate.
//!
//! Files are streamed in and out: [`Storage::put_stream`] sends an upload part by part and
//! stores nothing unless the whole of it arrived within its size limit; [`Storage::get_stream`]
//! and [`Storage::get_reader`] hand an object back as it is read. Objects are named by
//! [`StorageKey`]s, which cannot point outside the store.

mod config;
mod error;
mod key;
mod storage;

pub use config::{
    AWS_PASSTHROUGH, DEFAULT_STORAGE_URL, S3Config, S3Credentials, STORAGE_URL, StorageConfig,
};
pub use error::{BoxError, OpenError, PutError, StorageError};
pub use key::{KeyError, MAX_KEY_BYTES, MAX_SEGMENT_BYTES, StorageKey};
/// The crate the stores come from, for [`Storage::new`] over a store of one's own.
pub use object_store;
pub use storage::{ObjectInfo, ObjectReader, ObjectStream, PART_SIZE, PARTS_IN_FLIGHT, Storage};
