use bytes::Bytes;
use common::config::Env;
use futures_util::TryStreamExt;
use storage::{DEFAULT_STORAGE_URL, Storage, StorageConfig, StorageKey};

fn config(pairs: &[(&str, &str)]) -> StorageConfig {
    StorageConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
}

fn error(pairs: &[(&str, &str)]) -> common::config::ConfigError {
    StorageConfig::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap_err()
}

#[test]
fn the_default_is_a_local_directory_made_absolute() {
    assert_eq!(DEFAULT_STORAGE_URL, "file://./data/storage");
    let StorageConfig::Local { root } = config(&[]) else {
        panic!("the default is not local");
    };
    assert!(root.is_absolute(), "{root:?}");
    assert_eq!(
        root,
        std::env::current_dir().unwrap().join("./data/storage")
    );
    assert!(root.ends_with("data/storage"));
    // Blank means unset, as for every setting.
    assert!(matches!(
        config(&[("STORAGE_URL", "  ")]),
        StorageConfig::Local { .. }
    ));
}

#[test]
fn file_urls_take_absolute_and_relative_paths() {
    let StorageConfig::Local { root } = config(&[("STORAGE_URL", "file:///var/lib/wuzapi/files")])
    else {
        panic!("not local");
    };
    assert_eq!(root, std::path::Path::new("/var/lib/wuzapi/files"));

    let StorageConfig::Local { root } = config(&[("STORAGE_URL", "file://uploads")]) else {
        panic!("not local");
    };
    assert_eq!(root, std::env::current_dir().unwrap().join("uploads"));

    assert_eq!(error(&[("STORAGE_URL", "file://")]).var, "STORAGE_URL");
}

#[tokio::test]
async fn opening_a_local_store_creates_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data").join("storage");
    let url = format!("file://{}", root.display());
    let storage = Storage::open(&config(&[("STORAGE_URL", &url)])).unwrap();
    assert!(root.is_dir());

    let key = StorageKey::parse("t/hello.txt").unwrap();
    storage
        .put_bytes(&key, Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(root.join("t/hello.txt")).unwrap(), b"hello");
}

#[test]
fn opening_fails_when_the_directory_cannot_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = Storage::open(&StorageConfig::local(file.join("storage"))).unwrap_err();
    assert!(
        matches!(err, storage::OpenError::CreateDir { .. }),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn s3_is_configured_from_our_variables_and_builds_without_network() {
    let config = config(&[
        ("STORAGE_URL", "s3://wuzapi-files/prod/uploads"),
        ("STORAGE_S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("STORAGE_S3_REGION", "sa-east-1"),
        ("STORAGE_S3_ACCESS_KEY_ID", "minio"),
        ("STORAGE_S3_SECRET_ACCESS_KEY", "very-secret-value"),
        // Ours win over the AWS ones, which must not be mixed in.
        ("AWS_ACCESS_KEY_ID", "aws-id"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-value"),
        ("AWS_REGION", "us-west-2"),
    ]);
    let StorageConfig::S3(s3) = &config else {
        panic!("not S3: {config:?}");
    };
    assert_eq!(s3.bucket, "wuzapi-files");
    assert_eq!(
        s3.prefix.as_ref().map(StorageKey::as_str),
        Some("prod/uploads")
    );
    assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(s3.region.as_deref(), Some("sa-east-1"));
    assert!(
        s3.allow_http,
        "an http:// endpoint allows HTTP unless told otherwise"
    );
    let credentials = s3.credentials.as_ref().unwrap();
    assert_eq!(credentials.access_key_id, "minio");
    assert!(credentials.session_token.is_none());

    let printed = format!("{config:?}");
    assert!(!printed.contains("very-secret-value"), "{printed}");
    assert!(!printed.contains("aws-secret-value"), "{printed}");

    let storage = Storage::open(&config).unwrap();
    let printed = format!("{storage:?}");
    assert!(printed.contains("AmazonS3(wuzapi-files)"), "{printed}");
    assert!(printed.contains("prod/uploads"), "{printed}");
    assert!(!printed.contains("very-secret-value"), "{printed}");
}

#[test]
fn s3_takes_the_aws_variables_when_ours_are_unset() {
    let config = config(&[
        ("STORAGE_URL", "s3://bucket"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-value"),
        ("AWS_SESSION_TOKEN", "session-secret-value"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        (
            "AWS_ENDPOINT_URL",
            "https://account.r2.cloudflarestorage.com",
        ),
        ("AWS_ROLE_ARN", "arn:aws:iam::123:role/files"),
        ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "true"),
    ]);
    let StorageConfig::S3(s3) = &config else {
        panic!("not S3");
    };
    assert_eq!(s3.prefix, None);
    assert_eq!(s3.region.as_deref(), Some("eu-west-1"));
    assert!(!s3.allow_http);
    assert_eq!(
        s3.credentials.as_ref().unwrap().access_key_id,
        "AKIAEXAMPLE"
    );
    assert!(s3.credentials.as_ref().unwrap().session_token.is_some());
    assert_eq!(s3.aws.len(), 2);
    let printed = format!("{config:?}");
    assert!(!printed.contains("aws-secret-value") && !printed.contains("session-secret-value"));

    Storage::open(&config).unwrap();
}

#[test]
fn s3_without_credentials_builds_and_leaves_them_to_the_environment() {
    let config = config(&[("STORAGE_URL", "s3://bucket/")]);
    let StorageConfig::S3(s3) = &config else {
        panic!("not S3");
    };
    assert!(s3.credentials.is_none());
    assert_eq!(s3.prefix, None);
    Storage::open(&config).unwrap();
}

#[test]
fn bad_urls_name_storage_url() {
    for url in [
        "ftp://files.example.com/x",
        "/var/lib/files",
        "data/storage",
        "http://minio:9000/bucket",
        "s3:/bucket",
        "s3://",
        "s3:///prefix",
        "s3://bucket:9000/x",
        "s3://bucket/a%20b",
        "s3://bucket/x?region=us-east-1",
        "memory://something",
    ] {
        let err = error(&[("STORAGE_URL", url)]);
        assert_eq!(err.var, "STORAGE_URL", "{url}: {err}");
        assert!(
            err.to_string().starts_with("invalid value for STORAGE_URL"),
            "{err}"
        );
    }
}

#[test]
fn credentials_in_the_url_are_refused_and_not_repeated() {
    let err = error(&[("STORAGE_URL", "s3://AKIA:url-secret-value@bucket/x")]);
    assert_eq!(err.var, "STORAGE_URL");
    assert!(!err.to_string().contains("url-secret-value"), "{err}");
}

#[test]
fn bad_s3_settings_name_their_variable() {
    let s3 = ("STORAGE_URL", "s3://bucket");

    let err = error(&[s3, ("STORAGE_S3_ENDPOINT", "minio:9000")]);
    assert_eq!(err.var, "STORAGE_S3_ENDPOINT");

    let err = error(&[s3, ("STORAGE_S3_ALLOW_HTTP", "maybe")]);
    assert_eq!(err.var, "STORAGE_S3_ALLOW_HTTP");

    let err = error(&[
        s3,
        ("STORAGE_S3_ENDPOINT", "http://minio:9000"),
        ("STORAGE_S3_ALLOW_HTTP", "false"),
    ]);
    assert_eq!(err.var, "STORAGE_S3_ENDPOINT");

    let err = error(&[s3, ("STORAGE_S3_SECRET_ACCESS_KEY", "lonely-secret-value")]);
    assert_eq!(err.var, "STORAGE_S3_ACCESS_KEY_ID");
    assert!(!err.to_string().contains("lonely-secret-value"));

    let err = error(&[s3, ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")]);
    assert_eq!(err.var, "AWS_SECRET_ACCESS_KEY");
}

#[tokio::test]
async fn memory_is_for_tests() {
    let config = config(&[("STORAGE_URL", "memory://")]);
    assert!(matches!(config, StorageConfig::Memory));
    let storage = Storage::open(&config).unwrap();
    let key = StorageKey::parse("a").unwrap();
    storage
        .put_bytes(&key, Bytes::from_static(b"1"))
        .await
        .unwrap();
    let back: Vec<Bytes> = storage
        .get_stream(&key)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back.concat(), b"1");
}
