//! Where the homes are kept: the `storage` key (`"local"`, the default, or `"s3"`) and the
//! `[s3]` table (endpoint, bucket, prefix, region, credentials file), parsed and checked with
//! the rest of the configuration; and the S3 credentials, which are never in the config file:
//! read at start-up, by [`S3Config::credentials`], from `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY` or else from the `credentials_file` (TOML, mode 0600). The secret is
//! never logged: neither [`Credentials`] nor [`S3Settings`] shows it in its `Debug` output.

use std::path::{Path, PathBuf};

use ftp_proto::files::private_file::{PrivacyError, check_private};
use serde::Deserialize;

use super::ConfigError;
use crate::storage::s3::S3Settings;

/// Region signed for when `[s3]` names none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The environment variable holding the access key id.
pub const ACCESS_KEY_VARIABLE: &str = "AWS_ACCESS_KEY_ID";

/// The environment variable holding the secret access key.
pub const SECRET_KEY_VARIABLE: &str = "AWS_SECRET_ACCESS_KEY";

/// The `storage` key's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Homes beneath `root` on the local disk.
    #[default]
    Local,
    /// Homes in an S3 bucket.
    S3,
}

/// The `[s3]` table as written; every key optional here, checked by [`storage`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileS3 {
    pub(super) endpoint: Option<String>,
    pub(super) bucket: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) region: Option<String>,
    pub(super) credentials_file: Option<PathBuf>,
}

/// Where the homes are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Storage {
    /// Beneath `root` on the local disk.
    #[default]
    Local,
    /// In an S3 bucket; `root` is neither made nor opened.
    S3(S3Config),
}

/// The `[s3]` settings, checked. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint URL (`None`: AWS's, from the region).
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// Key prefix of everything the server keeps: plain segments joined by `/`, or empty.
    pub prefix: String,
    /// The region signed for.
    pub region: String,
    /// TOML file with `access_key_id` and `secret_access_key`, mode 0600; read only when the
    /// environment has no credentials.
    pub credentials_file: Option<PathBuf>,
}

/// The `storage` key and `[s3]` table combined and checked.
pub(super) fn storage(
    kind: Option<StorageKind>,
    table: Option<FileS3>,
) -> Result<Storage, ConfigError> {
    let invalid = |key, message: String| ConfigError::Invalid { key, message };
    match (kind.unwrap_or_default(), table) {
        (StorageKind::Local, None) => Ok(Storage::Local),
        (StorageKind::Local, Some(_)) => Err(invalid(
            "s3",
            "an [s3] table is only read with storage = \"s3\" (set storage = \"s3\", or remove \
             the table to keep the homes beneath root)"
                .into(),
        )),
        (StorageKind::S3, None) => Err(invalid(
            "s3.bucket",
            "storage = \"s3\" needs an [s3] table naming the bucket (bucket = \"NAME\")".into(),
        )),
        (StorageKind::S3, Some(table)) => {
            let bucket = table.bucket.ok_or_else(|| {
                invalid(
                    "s3.bucket",
                    "storage = \"s3\" needs the bucket in the [s3] table (bucket = \"NAME\")"
                        .into(),
                )
            })?;
            check_bucket(&bucket).map_err(|m| invalid("s3.bucket", m))?;
            let prefix = table.prefix.unwrap_or_default();
            check_prefix(&prefix).map_err(|m| invalid("s3.prefix", m))?;
            if let Some(endpoint) = &table.endpoint {
                check_endpoint(endpoint).map_err(|m| invalid("s3.endpoint", m))?;
            }
            let region = table.region.unwrap_or_else(|| DEFAULT_REGION.to_owned());
            if region.is_empty() || region.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(
                    "s3.region",
                    format!("{region:?} is not a region name such as \"us-east-1\""),
                ));
            }
            Ok(Storage::S3(S3Config {
                endpoint: table.endpoint,
                bucket,
                prefix,
                region,
                credentials_file: table.credentials_file,
            }))
        }
    }
}

/// A bucket name: not empty, no `/`, no space or control character (the endpoint judges the
/// rest: AWS and Ceph differ).
fn check_bucket(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("the bucket name is empty".into());
    }
    if bucket
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{bucket:?} is not a bucket name (no '/', spaces or control characters)"
        ));
    }
    Ok(())
}

/// A key prefix: empty, or plain segments joined by single `/`s, without a leading or trailing
/// `/`; no segment `.`, `..` or the internal marker's name, none with a control character or
/// longer than 255 bytes.
fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    if prefix.starts_with('/') || prefix.ends_with('/') {
        return Err(format!(
            "{prefix:?} starts or ends with '/': give it as {:?}",
            prefix.trim_matches('/')
        ));
    }
    for segment in prefix.split('/') {
        let plain = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment != crate::jail::INTERNAL_DIR
            && segment.len() <= crate::jail::MAX_COMPONENT_LEN
            && !segment.chars().any(|c| c.is_control() || c == '\\');
        if !plain {
            return Err(format!(
                "{prefix:?} has the segment {segment:?}: a prefix is plain names joined by '/' \
                 (none empty, \".\", \"..\" or {:?}, no control characters or '\\')",
                crate::jail::INTERNAL_DIR
            ));
        }
    }
    Ok(())
}

/// An endpoint: an `http://` or `https://` URL with a host.
fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{endpoint:?} is not a URL such as \"https://s3.example.com\" or \"http://127.0.0.1:7480\""
        )),
    }
}

/// An access key pair. `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key: never logged.
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The credentials file's keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    access_key_id: String,
    secret_access_key: String,
}

/// Why there are no usable S3 credentials. No variant holds the secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Neither the environment nor a credentials file has them.
    #[error(
        "no S3 credentials: set {ACCESS_KEY_VARIABLE} and {SECRET_KEY_VARIABLE} in the \
         environment, or name a credentials_file (mode 0600, with access_key_id and \
         secret_access_key) in the [s3] table"
    )]
    Missing,
    /// One of the two variables is set, the other not.
    #[error(
        "{set} is set but {unset} is not: set both, or neither to use the [s3] credentials_file"
    )]
    HalfSet {
        /// The variable that is set.
        set: &'static str,
        /// The one that is not.
        unset: &'static str,
    },
    /// The file could not be read.
    #[error("S3 credentials file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Group or others can read the file.
    #[error("S3 credentials file {} can be read by group or others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not the expected TOML.
    #[error("S3 credentials file {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the file's text, which holds the secret).
        message: String,
    },
}

impl S3Config {
    /// The credentials: the two environment values when both are set (pass
    /// `std::env::var(ACCESS_KEY_VARIABLE).ok()` and the like; an empty value counts as unset),
    /// or else the credentials file's, which must be mode 0600. Blocking (reads the file).
    pub fn credentials(
        &self,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    ) -> Result<Credentials, CredentialsError> {
        let access_key_id = access_key_id.filter(|v| !v.is_empty());
        let secret_access_key = secret_access_key.filter(|v| !v.is_empty());
        match (access_key_id, secret_access_key) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
                access_key_id,
                secret_access_key,
            }),
            (Some(_), None) => Err(CredentialsError::HalfSet {
                set: ACCESS_KEY_VARIABLE,
                unset: SECRET_KEY_VARIABLE,
            }),
            (None, Some(_)) => Err(CredentialsError::HalfSet {
                set: SECRET_KEY_VARIABLE,
                unset: ACCESS_KEY_VARIABLE,
            }),
            (None, None) => match &self.credentials_file {
                Some(path) => read_credentials(path),
                None => Err(CredentialsError::Missing),
            },
        }
    }

    /// What the S3 store is opened with.
    pub fn settings(&self, credentials: Credentials) -> S3Settings {
        S3Settings {
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
            region: self.region.clone(),
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key,
        }
    }
}

/// Reads a credentials file after checking that only its owner can read it.
fn read_credentials(path: &Path) -> Result<Credentials, CredentialsError> {
    let io = |source| CredentialsError::Io {
        path: path.to_path_buf(),
        source,
    };
    match check_private(path) {
        Ok(()) => {}
        Err(PrivacyError::Io(source)) => return Err(io(source)),
        Err(PrivacyError::Exposed(mode)) => {
            return Err(CredentialsError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    // The parser's own message quotes the offending line, which may hold the secret: only its
    // description and line number are kept.
    let file: CredentialsFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        CredentialsError::Invalid {
            path: path.to_path_buf(),
            message: match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_owned(),
            },
        }
    })?;
    for (key, value) in [
        ("access_key_id", &file.access_key_id),
        ("secret_access_key", &file.secret_access_key),
    ] {
        if value.is_empty() {
            return Err(CredentialsError::Invalid {
                path: path.to_path_buf(),
                message: format!("{key} is empty"),
            });
        }
    }
    Ok(Credentials {
        access_key_id: file.access_key_id,
        secret_access_key: file.secret_access_key,
    })
}
