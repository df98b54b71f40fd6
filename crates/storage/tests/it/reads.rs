use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use storage::object_store::memory::InMemory;
use storage::object_store::path::Path;
use storage::object_store::{ObjectStore, ObjectStoreExt};
use storage::{Storage, StorageError, StorageKey};
use tokio::io::AsyncReadExt;

use crate::support::LocalStore;

fn key(key: &str) -> StorageKey {
    StorageKey::parse(key).unwrap()
}

#[tokio::test]
async fn a_missing_object_is_not_found() {
    let local = LocalStore::new();
    let key = key("tenants/t1/missing.csv");

    let Err(err) = local.storage.get_stream(&key).await else {
        panic!("a missing object was streamed");
    };
    assert!(
        matches!(&err, StorageError::NotFound { key: k, .. } if *k == key),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(
        err.to_string(),
        "no object is stored at `tenants/t1/missing.csv`"
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    assert!(
        local
            .storage
            .get_reader(&key)
            .await
            .is_err_and(|e| e.is_not_found())
    );
    assert!(local.storage.head(&key).await.unwrap_err().is_not_found());
    assert!(local.storage.size(&key).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn deleting_removes_and_deleting_nothing_is_fine() {
    let local = LocalStore::new();
    let key = key("tenants/t1/exports/report.csv");
    local
        .storage
        .put_bytes(&key, Bytes::from_static(b"a,b\n1,2\n"))
        .await
        .unwrap();
    let info = local.storage.head(&key).await.unwrap();
    assert_eq!(info.size, 8);

    local.storage.delete(&key).await.unwrap();
    assert!(local.storage.head(&key).await.unwrap_err().is_not_found());
    local.storage.delete(&key).await.unwrap();
    local
        .storage
        .delete(&StorageKey::parse("never/was").unwrap())
        .await
        .unwrap();
    assert!(local.files().is_empty());
}

#[tokio::test]
async fn a_reader_reads_the_object() {
    let local = LocalStore::new();
    let key = key("generated/invoice-2024.txt");
    local
        .storage
        .put_bytes(&key, Bytes::from_static(b"total: 42"))
        .await
        .unwrap();

    let mut text = String::new();
    local
        .storage
        .get_reader(&key)
        .await
        .unwrap()
        .read_to_string(&mut text)
        .await
        .unwrap();
    assert_eq!(text, "total: 42");
}

#[tokio::test]
async fn keys_stay_inside_the_directory() {
    let local = LocalStore::new();
    for traversal in [
        "../outside.txt",
        "/etc/passwd",
        "a/../../outside",
        "a//b",
        "a\\..\\b",
    ] {
        assert!(
            StorageKey::parse(traversal).is_err(),
            "{traversal:?} was accepted"
        );
    }
    // Dots that are not `.` or `..` are ordinary names.
    let key = key("a/.../b..c");
    local
        .storage
        .put_bytes(&key, Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert_eq!(local.files(), [local.dir.path().join("a/.../b..c")]);
}

#[tokio::test]
async fn a_prefix_puts_every_key_under_it() {
    let inner = Arc::new(InMemory::new());
    let storage = Storage::new(Arc::clone(&inner) as Arc<dyn ObjectStore>)
        .with_prefix(key("wuzapi"))
        .with_prefix(key("staging"));
    let key = key("tenants/t1/a.csv");
    storage
        .put_bytes(&key, Bytes::from_static(b"x"))
        .await
        .unwrap();

    let stored = inner
        .head(&Path::from("wuzapi/staging/tenants/t1/a.csv"))
        .await
        .unwrap();
    assert_eq!(stored.size, 1);
    let back: Vec<Bytes> = storage
        .get_stream(&key)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back.concat(), b"x");
    assert!(format!("{storage:?}").contains("wuzapi/staging"));
}
