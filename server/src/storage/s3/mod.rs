//! Homes in an S3 bucket, shared by every ftpd that names the same bucket and prefix: files
//! are objects, folders prefixes kept by a marker ([`keys`]), a large upload a multipart upload
//! straight to its final key whose state (parts, hash state, lease) lives in the bucket beside
//! it ([`state`], [`upload`]), so an upload interrupted on one server resumes on any other;
//! small files are create-only PUTs ([`batch`]). What a call to the bucket means is
//! [`objects`]'s; what a home does, [`home`]'s.
//!
//! The bucket is checked when the store is opened: an unreachable endpoint, credentials it
//! refuses or a missing bucket stop the server with that reason.

pub mod batch;
pub mod hashing;
pub mod held;
pub mod home;
pub mod keys;
pub mod objects;
pub mod seam;
pub mod state;
pub mod unfinished;
pub mod upload;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use crate::storage::{Failure, Home, StorageError, Store};
pub use home::S3Home;
use objects::Bucket;

/// The smallest part of a large upload.
const PART_SIZE: u64 = 8 << 20;

/// Where the store's objects are and how to reach them.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The endpoint URL (`None`: AWS's, from the region).
    pub endpoint: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// Key prefix of everything the server keeps (may be empty).
    pub prefix: String,
    /// The region.
    pub region: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key: never logged.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What this server shares with its homes: the bucket, and the uploads it is writing now.
#[derive(Debug)]
pub struct Shared {
    /// The bucket.
    pub bucket: Bucket,
    /// The prefix of every key.
    pub prefix: String,
    /// This server's name in leases: random, new at every start.
    pub instance: String,
    /// Lease owners (`<instance>/<n>`) of the uploads this server is writing now: a lease of
    /// this server not among them belongs to a connection that is gone.
    pub live: Mutex<HashSet<String>>,
    /// How long a lease of another server keeps its destination busy after its last write.
    pub lease: Duration,
    /// The smallest part of a multipart upload (S3 wants at least 5 MiB but for the last).
    pub part_size: u64,
}

impl Shared {
    /// Whether `owner` is an upload this server is writing now.
    pub fn is_live(&self, owner: &str) -> bool {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(owner)
    }
}

/// Every user's home in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    /// The bucket and this server's uploads.
    shared: Arc<Shared>,
}

/// An error with every error beneath it, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    text
}

/// What a failed check of the bucket says, from the error's kind or, for a request the store
/// answered with an error status, from that status and S3's error code.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    /// No such bucket.
    NoBucket,
    /// The credentials were refused.
    Credentials,
    /// Anything else: the endpoint could not be reached or did not answer as S3.
    Unreachable,
}

/// Sorts a failed check of the bucket.
fn refused(error: &object_store::Error, text: &str) -> Refused {
    match error {
        object_store::Error::NotFound { .. } => Refused::NoBucket,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Refused::Credentials,
        _ if text.contains("NoSuchBucket") || text.contains("status 404") => Refused::NoBucket,
        _ if [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
        ]
        .iter()
        .any(|code| text.contains(code))
            || text.contains("status 403")
            || text.contains("status 401") =>
        {
            Refused::Credentials
        }
        _ => Refused::Unreachable,
    }
}

/// Why the bucket cannot be used, in words for the operator.
fn refusal(settings: &S3Settings, error: object_store::Error) -> String {
    let at = settings.endpoint.as_deref().unwrap_or("AWS");
    let bucket = &settings.bucket;
    let text = chain(&error);
    match refused(&error, &text) {
        Refused::NoBucket => format!("the S3 bucket {bucket:?} does not exist at {at}"),
        Refused::Credentials => format!(
            "the S3 endpoint {at} refused the credentials for bucket {bucket:?} (check \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the credentials file): {text}"
        ),
        Refused::Unreachable => {
            format!("cannot reach the S3 endpoint {at} for bucket {bucket:?}: {text}")
        }
    }
}

impl S3Store {
    /// Opens the bucket and checks it answers with these credentials; the error says why not.
    pub async fn connect(settings: &S3Settings) -> Result<S3Store, String> {
        Self::open(settings, PART_SIZE).await
    }

    /// [`S3Store::connect`], with parts of at least `part_size` bytes.
    async fn open(settings: &S3Settings, part_size: u64) -> Result<S3Store, String> {
        // reqwest brings no crypto of its own: ring, the server's one provider, serves it too
        // (already installed is fine).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    // A download streams for as long as the client takes to read it.
                    .with_timeout_disabled(),
            );
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let bucket = builder
            .build()
            .map_err(|e| format!("the [s3] settings are not usable: {e}"))?;
        let probe = object_store::path::Path::from(settings.prefix.as_str());
        bucket
            .list_with_delimiter(Some(&probe))
            .await
            .map_err(|e| refusal(settings, e))?;
        let mut instance = [0u8; 8];
        getrandom::fill(&mut instance).map_err(|e| format!("no randomness: {e}"))?;
        Ok(S3Store {
            shared: Arc::new(Shared {
                bucket: Arc::new(bucket),
                prefix: settings.prefix.trim_matches('/').to_owned(),
                instance: hex::encode(instance),
                live: Mutex::new(HashSet::new()),
                lease: Duration::from_secs(120),
                part_size,
            }),
        })
    }

    /// The home at `home`, without a call to the bucket.
    pub fn home_at(&self, home: &Path) -> S3Home {
        let home: Vec<String> = home
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        S3Home::new(Arc::clone(&self.shared), &home.join("/"))
    }
}

#[async_trait::async_trait]
impl Store for S3Store {
    /// Nothing is made: a home is a prefix, there as soon as something is in it.
    async fn open_home(&self, _user: &str, home: &Path) -> Result<Arc<dyn Home>, StorageError> {
        if home
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(StorageError::new(
                Failure::InvalidName,
                format!("home {} is not a plain relative path", home.display()),
            ));
        }
        Ok(Arc::new(self.home_at(home)))
    }

    async fn expire(&self, ttl: Duration) -> Result<usize, StorageError> {
        unfinished::expire(&self.shared, ttl).await
    }
}

#[cfg(test)]
mod refusal_tests {
    use super::*;

    #[test]
    fn a_failed_check_is_told_by_its_status_and_code() {
        let generic = |text: &str| object_store::Error::Generic {
            store: "S3",
            source: text.to_owned().into(),
        };
        let sort = |text: &str| {
            let error = generic(text);
            refused(&error, &chain(&error))
        };
        assert_eq!(
            sort("Client error with status 404 Not Found: <Code>NoSuchBucket</Code>"),
            Refused::NoBucket
        );
        assert_eq!(
            sort("Client error with status 403 Forbidden: <Code>SignatureDoesNotMatch</Code>"),
            Refused::Credentials
        );
        assert_eq!(
            sort("<Code>InvalidAccessKeyId</Code>"),
            Refused::Credentials
        );
        assert_eq!(
            sort("error sending request: connection refused"),
            Refused::Unreachable
        );
    }
}
