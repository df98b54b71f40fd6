use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use storage::{PART_SIZE, PARTS_IN_FLIGHT, PutError, StorageKey};
use tokio::io::AsyncReadExt;

use crate::support::{LocalStore, MIB, body, chunked, counted_zeros, pattern};

fn key(key: &str) -> StorageKey {
    StorageKey::parse(key).unwrap()
}

#[tokio::test]
async fn a_large_upload_goes_in_parts_and_comes_back_the_same() {
    let local = LocalStore::new();
    let data = pattern(20 * MIB + 12_345);
    let chunks = chunked(&data);
    assert!(chunks.len() > 500, "many small chunks");
    let key = key("tenants/t1/imports/contacts.csv");

    let written = local
        .storage
        .put_stream(&key, body(chunks), 64 * MIB as u64)
        .await
        .unwrap();

    assert_eq!(written, data.len() as u64);
    assert_eq!(local.counts.multipart_uploads(), 1);
    assert_eq!(local.counts.single_puts(), 0);
    assert_eq!(
        local.counts.parts(),
        [PART_SIZE, PART_SIZE, data.len() - 2 * PART_SIZE]
    );
    assert_eq!(local.storage.size(&key).await.unwrap(), data.len() as u64);

    let streamed: Vec<Bytes> = local
        .storage
        .get_stream(&key)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(streamed.len() > 1, "read back in chunks, not whole");
    assert!(streamed.concat() == data, "the bytes differ");

    let mut read = Vec::new();
    local
        .storage
        .get_reader(&key)
        .await
        .unwrap()
        .read_to_end(&mut read)
        .await
        .unwrap();
    assert!(read == data, "the bytes read differ");

    assert_eq!(
        local.files(),
        [local.dir.path().join("tenants/t1/imports/contacts.csv")],
        "only the object"
    );
}

#[tokio::test]
async fn a_small_upload_is_one_request() {
    let local = LocalStore::new();
    let data = pattern(300 * 1024);
    let key = key("exports/report.csv");

    let written = local
        .storage
        .put_stream(&key, body(chunked(&data)), 1024 * 1024)
        .await
        .unwrap();

    assert_eq!(written, data.len() as u64);
    assert_eq!(local.counts.single_puts(), 1);
    assert_eq!(local.counts.multipart_uploads(), 0);
    let stored: Vec<Bytes> = local
        .storage
        .get_stream(&key)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(stored.concat() == data);
}

#[tokio::test]
async fn an_upload_of_exactly_the_limit_is_stored() {
    let local = LocalStore::new();
    let limit = PART_SIZE + 1;
    let data = pattern(limit);
    let written = local
        .storage
        .put_stream(&key("a.bin"), body(chunked(&data)), limit as u64)
        .await
        .unwrap();
    assert_eq!(written, limit as u64);
}

#[tokio::test]
async fn a_too_large_upload_leaves_nothing_and_stops_reading() {
    let local = LocalStore::new();
    let key = key("tenants/t1/imports/huge.csv");
    let limit = 12 * MIB as u64;
    let read = Arc::new(AtomicU64::new(0));

    let err = local
        .storage
        .put_stream(&key, counted_zeros(40 * MIB, Arc::clone(&read)), limit)
        .await
        .unwrap_err();

    assert!(
        matches!(err, PutError::TooLarge { limit: l } if l == limit),
        "{err:?}"
    );
    assert!(
        read.load(Ordering::SeqCst) <= limit + 64 * 1024,
        "read on past the limit"
    );
    assert_eq!(
        local.counts.multipart_uploads(),
        1,
        "the limit was passed during the multipart upload"
    );
    assert_eq!(local.counts.aborts(), 1);
    assert!(local.storage.head(&key).await.unwrap_err().is_not_found());
    assert_eq!(
        local.files(),
        Vec::<std::path::PathBuf>::new(),
        "no object, no upload left behind"
    );
}

#[tokio::test]
async fn a_small_too_large_upload_never_reaches_the_store() {
    let local = LocalStore::new();
    let key = key("avatar.png");
    let err = local
        .storage
        .put_stream(&key, body(chunked(&pattern(5000))), 1000)
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::TooLarge { limit: 1000 }));
    assert_eq!(err.to_string(), "the upload is larger than 1000 bytes");
    assert_eq!(
        local.counts.single_puts() + local.counts.multipart_uploads(),
        0
    );
    assert!(local.files().is_empty());
}

#[tokio::test]
async fn an_empty_upload_stores_nothing() {
    let local = LocalStore::new();
    let key = key("empty.csv");

    let err = local
        .storage
        .put_stream(&key, body(vec![]), 1000)
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::Empty), "{err:?}");

    let only_empty_chunks = body(vec![Bytes::new(), Bytes::new()]);
    let err = local
        .storage
        .put_stream(&key, only_empty_chunks, 1000)
        .await
        .unwrap_err();
    assert!(matches!(err, PutError::Empty), "{err:?}");

    assert_eq!(
        local.counts.single_puts() + local.counts.multipart_uploads(),
        0
    );
    assert!(local.storage.head(&key).await.unwrap_err().is_not_found());
    assert!(local.files().is_empty());
}

#[tokio::test]
async fn a_failing_stream_stores_nothing_and_keeps_its_error() {
    for good_bytes in [100 * 1024, 12 * MIB] {
        let local = LocalStore::new();
        let key = key("tenants/t1/imports/cut.csv");
        let failing = body(chunked(&pattern(good_bytes))).chain(stream::iter([Err(
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away"),
        )]));

        let err = local
            .storage
            .put_stream(&key, failing, 64 * MIB as u64)
            .await
            .unwrap_err();

        let PutError::Read { source } = &err else {
            panic!("expected a read error, got {err:?}");
        };
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the stream's own error");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
        assert!(
            std::error::Error::source(&err).is_some(),
            "the source is kept"
        );
        assert!(local.storage.head(&key).await.unwrap_err().is_not_found());
        assert!(
            local.files().is_empty(),
            "after {good_bytes} bytes: {:?}",
            local.files()
        );
    }
}

#[tokio::test]
async fn a_cancelled_upload_is_aborted() {
    let local = LocalStore::new();
    let key = key("tenants/t1/imports/cancelled.csv");
    // Ten MiB, then a client that never sends the rest.
    let stalled = body(chunked(&pattern(10 * MIB))).chain(stream::pending());

    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        local.storage.put_stream(&key, stalled, u64::MAX),
    )
    .await;
    assert!(cancelled.is_err(), "the upload cannot finish");

    for _ in 0..100 {
        if local.counts.aborts() == 1 && local.files().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(local.counts.aborts(), 1);
    assert!(local.files().is_empty(), "{:?}", local.files());
}

#[tokio::test]
async fn an_upload_is_read_no_faster_than_the_store_takes_it() {
    // Slow parts: without back pressure the whole stream would be read at once.
    let local = LocalStore::with_part_delay(Duration::from_millis(30));
    let read = Arc::new(AtomicU64::new(0));
    let total = 80 * MIB;
    let in_memory_max = Arc::new(AtomicU64::new(0));
    let counts = Arc::clone(&local.counts);
    let watched = counted_zeros(total, Arc::clone(&read)).inspect({
        let read = Arc::clone(&read);
        let in_memory_max = Arc::clone(&in_memory_max);
        move |_| {
            let ahead = read.load(Ordering::SeqCst) - counts.bytes_in_store.load(Ordering::SeqCst);
            in_memory_max.fetch_max(ahead, Ordering::SeqCst);
        }
    });

    let written = local
        .storage
        .put_stream(&key("big.bin"), watched, u64::MAX)
        .await
        .unwrap();

    assert_eq!(written, total as u64);
    let bound = ((PARTS_IN_FLIGHT + 1) * PART_SIZE + 64 * 1024) as u64;
    let max = in_memory_max.load(Ordering::SeqCst);
    assert!(
        max <= bound,
        "{max} bytes were read ahead of the store (bound {bound})"
    );
}

#[tokio::test]
async fn a_new_upload_replaces_the_old_one() {
    let local = LocalStore::new();
    let key = key("branding/logo.png");
    local
        .storage
        .put_bytes(&key, Bytes::from_static(b"old logo"))
        .await
        .unwrap();
    local
        .storage
        .put_stream(&key, body(vec![Bytes::from_static(b"new")]), 100)
        .await
        .unwrap();

    let stored: Vec<Bytes> = local
        .storage
        .get_stream(&key)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.concat(), b"new");
}
