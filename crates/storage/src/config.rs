//! Where objects are kept: `STORAGE_URL` and, for S3, its credentials.
//!
//! Reading the configuration only looks at the variables: nothing is created or contacted until
//! [`crate::Storage::open`].

use std::path::{Path, PathBuf};

use common::config::{ConfigError, Env, redact_url};
use object_store::aws::AmazonS3ConfigKey;
use secrecy::SecretString;

use crate::key::StorageKey;

/// The variable that says where objects are kept.
pub const STORAGE_URL: &str = "STORAGE_URL";

/// A directory next to where the service runs, so nothing needs setting up on a developer
/// machine.
pub const DEFAULT_STORAGE_URL: &str = "file://./data/storage";

/// Where objects are kept.
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// `file://<directory>`: files under a local directory, created when the store is opened.
    Local { root: PathBuf },
    /// `s3://<bucket>[/<prefix>]`: an S3 bucket or an S3-compatible store (MinIO, R2, ...).
    S3(S3Config),
    /// `memory://`: objects in this process only, gone when it exits. For tests.
    Memory,
}

/// An S3 bucket and how to reach it.
///
/// Each setting is read from `STORAGE_S3_*` first, then from the variable the AWS tools use.
/// With no credentials at all, the store falls back to the ones of its environment (ECS task
/// role, EKS web identity, EC2 instance profile) when it first needs them.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// Every key is stored under it; from the URL's path.
    pub prefix: Option<StorageKey>,
    /// `STORAGE_S3_ENDPOINT`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT`: for S3-compatible stores,
    /// such as `http://127.0.0.1:9000` for MinIO. None means AWS itself.
    pub endpoint: Option<String>,
    /// `STORAGE_S3_REGION`, `AWS_REGION`, `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    pub credentials: Option<S3Credentials>,
    /// `STORAGE_S3_ALLOW_HTTP`, `AWS_ALLOW_HTTP`: plain HTTP to the endpoint. Defaults to true
    /// exactly when the endpoint is an `http://` URL.
    pub allow_http: bool,
    /// Other settings of the AWS tools, passed on as they are (see [`AWS_PASSTHROUGH`]).
    pub aws: Vec<(AmazonS3ConfigKey, String)>,
}

/// A static access key: `STORAGE_S3_ACCESS_KEY_ID` and `STORAGE_S3_SECRET_ACCESS_KEY` (with
/// `STORAGE_S3_SESSION_TOKEN`), or else the `AWS_` variables of the same names. A pair is
/// taken from one family only, never mixed.
#[derive(Debug, Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
}

/// The AWS variables passed to the S3 client as they are: how it finds credentials in ECS and
/// EKS, path or virtual-hosted style, and how objects are encrypted. None of them holds a
/// secret, so they may be printed.
pub const AWS_PASSTHROUGH: &[&str] = &[
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_METADATA_ENDPOINT",
    "AWS_IMDSV1_FALLBACK",
    "AWS_SERVER_SIDE_ENCRYPTION",
    "AWS_SSE_KMS_KEY_ID",
    "AWS_SSE_BUCKET_KEY_ENABLED",
];

/// The client's setting for a variable of [`AWS_PASSTHROUGH`], named as `object_store` names
/// them (the variable in lower case).
fn passthrough_key(var: &str) -> Option<AmazonS3ConfigKey> {
    var.to_ascii_lowercase().parse().ok()
}

impl StorageConfig {
    /// Reads `STORAGE_URL` (default [`DEFAULT_STORAGE_URL`]) and, for `s3://`, the S3 settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.string(STORAGE_URL, DEFAULT_STORAGE_URL);
        let invalid = |reason: String| ConfigError {
            var: STORAGE_URL.to_owned(),
            value: redact_url(&url),
            reason,
        };
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                return Err(invalid("names no directory".into()));
            }
            let root = std::path::absolute(Path::new(path))
                .map_err(|e| invalid(format!("cannot be made absolute: {e}")))?;
            Ok(Self::Local { root })
        } else if url.starts_with("s3://") {
            S3Config::from_url_and_env(&url, env).map(Self::S3)
        } else if url == "memory://" {
            Ok(Self::Memory)
        } else {
            Err(invalid(
                "must start with file:// (a directory), s3:// (a bucket) or be memory://".into(),
            ))
        }
    }

    /// Files under `root`, such as a test's temporary directory.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local { root: root.into() }
    }
}

impl S3Config {
    fn from_url_and_env(raw: &str, env: &Env) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError {
            var: STORAGE_URL.to_owned(),
            value: redact_url(raw),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "must not hold credentials; set STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY",
            ));
        }
        if url.port().is_some() || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "must be s3://<bucket>[/<prefix>]; the endpoint goes in STORAGE_S3_ENDPOINT",
            ));
        }
        let bucket = match url.host_str() {
            Some(bucket) if !bucket.is_empty() => bucket.to_owned(),
            _ => return Err(invalid("names no bucket: s3://<bucket>[/<prefix>]")),
        };
        let path = url.path().trim_matches('/');
        let prefix = if path.is_empty() {
            None
        } else {
            Some(StorageKey::parse(path).map_err(|e| invalid(&format!("bad prefix: {e}")))?)
        };

        let endpoint = first_of(
            env,
            &["STORAGE_S3_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"],
        );
        if let Some((var, endpoint)) = &endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ConfigError {
                var: (*var).to_owned(),
                value: redact_url(endpoint),
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        let endpoint_is_http = endpoint
            .as_ref()
            .is_some_and(|(_, e)| e.starts_with("http://"));
        let allow_http = match first_of(env, &["STORAGE_S3_ALLOW_HTTP", "AWS_ALLOW_HTTP"]) {
            None => endpoint_is_http,
            Some((var, _)) => env.parse::<bool>(var, endpoint_is_http)?,
        };
        if endpoint_is_http
            && !allow_http
            && let Some((var, endpoint)) = &endpoint
        {
            return Err(ConfigError {
                var: (*var).to_owned(),
                value: redact_url(endpoint),
                reason: "is plain HTTP while STORAGE_S3_ALLOW_HTTP is false".into(),
            });
        }

        Ok(Self {
            bucket,
            prefix,
            endpoint: endpoint.map(|(_, e)| e),
            region: first_of(
                env,
                &["STORAGE_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"],
            )
            .map(|(_, r)| r),
            credentials: S3Credentials::from_env(env)?,
            allow_http,
            aws: AWS_PASSTHROUGH
                .iter()
                .filter_map(|var| Some((passthrough_key(var)?, env.optional(var)?)))
                .collect(),
        })
    }
}

impl S3Credentials {
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let ours = Self::from_family(env, "STORAGE_S3_")?;
        if ours.is_some() {
            return Ok(ours);
        }
        Self::from_family(env, "AWS_")
    }

    fn from_family(env: &Env, family: &str) -> Result<Option<Self>, ConfigError> {
        let id_var = format!("{family}ACCESS_KEY_ID");
        let secret_var = format!("{family}SECRET_ACCESS_KEY");
        let token_var = format!("{family}SESSION_TOKEN");
        match (env.optional(&id_var), env.optional(&secret_var)) {
            (None, None) => Ok(None),
            (Some(access_key_id), Some(secret)) => Ok(Some(Self {
                access_key_id,
                secret_access_key: secret.into(),
                session_token: env.optional(&token_var).map(SecretString::from),
            })),
            (Some(_), None) => Err(ConfigError {
                var: secret_var,
                value: String::new(),
                reason: format!("must be set together with {id_var}"),
            }),
            (None, Some(_)) => Err(ConfigError {
                var: id_var,
                value: String::new(),
                reason: format!("must be set together with {secret_var}"),
            }),
        }
    }
}

/// The first of `vars` that is set, with its name.
fn first_of(env: &Env, vars: &[&'static str]) -> Option<(&'static str, String)> {
    vars.iter()
        .find_map(|var| env.optional(var).map(|value| (*var, value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_passthrough_variable_is_known_to_the_client() {
        for var in AWS_PASSTHROUGH {
            assert!(passthrough_key(var).is_some(), "{var}");
        }
    }
}
