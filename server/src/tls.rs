//! The server's TLS identity: its certificate and key from the configured PEM files, or a
//! self-signed pair generated on first start (rcgen, ECDSA P-256) at the default paths, and the
//! rustls configuration built from them (TLS 1.3 only, AES-128-GCM first).
//!
//! Blocking (file reads, key generation): call it at startup or on a blocking thread. A named
//! file that is missing is an error, never replaced by a generated one; a key file group or
//! others can read is refused, like every other secret of the server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ftp_proto::files::private_file::{PrivacyError, check_private, write_private_file_new};
use ftp_proto::tls::Fingerprint;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// Names the generated certificate is valid for (clients verify it by fingerprint, not name).
const GENERATED_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// How long to wait for another server that is generating the same pair right now.
const RACE_WAIT: Duration = Duration::from_secs(5);

/// A certificate problem the user can fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file does not hold what it should.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The private key can be read by group or others (worded as for the shared key).
    #[error("{0}")]
    Exposed(ftp_proto::KeyError),
    /// Generating or using the certificate failed.
    #[error("{0}")]
    Setup(String),
}

/// The server's certificate, ready to accept TLS connections.
#[derive(Clone)]
pub struct TlsIdentity {
    /// Accepts TLS connections with this certificate.
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// SHA-256 of the end-entity certificate, for clients to pin.
    pub fingerprint: Fingerprint,
    /// The certificate file, for messages.
    pub cert_file: PathBuf,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.fingerprint)
            .field("cert_file", &self.cert_file)
            .finish_non_exhaustive()
    }
}

/// Loads the configured certificate and key, generating a self-signed pair first when the
/// default files are missing. Returns the identity and whether a pair was generated.
pub fn load_or_generate(config: &Config) -> Result<(TlsIdentity, bool), TlsError> {
    let (cert, key) = (&config.tls_cert, &config.tls_key);
    let mut generated = false;
    if config.tls_generate && !cert.exists() && !key.exists() {
        generated = generate(cert, key)?;
    }
    let (chain, private_key) = read_pair(cert, key)?;
    let fingerprint = chain
        .first()
        .map(|der| Fingerprint::of(der))
        .ok_or_else(|| TlsError::Format {
            path: cert.clone(),
            message: "no certificate in the file (expected PEM \"BEGIN CERTIFICATE\")".into(),
        })?;
    let server_config = rustls::ServerConfig::builder_with_provider(ftp_proto::tls::provider())
        .with_protocol_versions(ftp_proto::tls::VERSIONS)
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| TlsError::Format {
            path: key.clone(),
            message: format!("does not fit the certificate in {}: {e}", cert.display()),
        })?;
    let identity = TlsIdentity {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server_config)),
        fingerprint,
        cert_file: cert.clone(),
    };
    Ok((identity, generated))
}

/// Writes a new self-signed pair: the key first (mode 0600, never replacing a file), then the
/// certificate. Returns false when another process created the key first (its pair is used
/// once its certificate is there).
fn generate(cert: &Path, key: &Path) -> Result<bool, TlsError> {
    let names: Vec<String> = GENERATED_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let pair =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Setup(e.to_string()))?;
    match write_private_file_new(key, pair.signing_key.serialize_pem().as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            wait_for(cert);
            return Ok(false);
        }
        Err(source) => {
            return Err(TlsError::Io {
                path: key.to_path_buf(),
                source,
            });
        }
    }
    // The certificate is public, but written the same careful way (whole or not at all).
    write_private_file_new(cert, pair.cert.pem().as_bytes()).map_err(|source| TlsError::Io {
        path: cert.to_path_buf(),
        source,
    })?;
    Ok(true)
}

/// Waits (bounded) for a file another process is about to write.
fn wait_for(path: &Path) {
    let deadline = std::time::Instant::now() + RACE_WAIT;
    while !path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads the certificate chain and the private key (which must be private).
fn read_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|source| TlsError::Io {
        path: cert.to_path_buf(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Format {
            path: cert.to_path_buf(),
            message: format!("not a PEM certificate chain: {e}"),
        })?;
    match check_private(key) {
        Ok(()) => {}
        Err(PrivacyError::Io(source)) => {
            return Err(TlsError::Io {
                path: key.to_path_buf(),
                source,
            });
        }
        Err(PrivacyError::Exposed(mode)) => {
            return Err(TlsError::Exposed(ftp_proto::KeyError::Exposed {
                path: key.to_path_buf(),
                mode,
            }));
        }
    }
    let key_pem = std::fs::read(key).map_err(|source| TlsError::Io {
        path: key.to_path_buf(),
        source,
    })?;
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Format {
        path: key.to_path_buf(),
        message: format!("not a PEM private key: {e}"),
    })?;
    Ok((chain, private_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn config_in(dir: &Path) -> Config {
        Config {
            tls_cert: dir.join("cert.pem"),
            tls_key: dir.join("cert.key"),
            ..Config::default()
        }
    }

    #[test]
    fn a_missing_default_pair_is_generated_once_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let (first, generated) = load_or_generate(&config).unwrap();
        assert!(generated);
        let mode = std::fs::metadata(&config.tls_key)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let (second, generated) = load_or_generate(&config).unwrap();
        assert!(!generated, "an existing pair is kept");
        assert_eq!(first.fingerprint, second.fingerprint);
        let der = CertificateDer::from_pem_file(&config.tls_cert).unwrap();
        assert_eq!(Fingerprint::of(&der), first.fingerprint);
    }

    #[test]
    fn named_files_are_never_generated() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            tls_generate: false,
            ..config_in(dir.path())
        };
        let error = load_or_generate(&config).unwrap_err();
        assert!(matches!(error, TlsError::Io { .. }), "{error}");
        assert!(!config.tls_key.exists() && !config.tls_cert.exists());
    }

    #[test]
    fn a_readable_key_or_a_bad_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        load_or_generate(&config).unwrap();
        std::fs::set_permissions(&config.tls_key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load_or_generate(&config).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
        std::fs::set_permissions(&config.tls_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&config.tls_cert, "not a certificate").unwrap();
        let error = load_or_generate(&config).unwrap_err().to_string();
        assert!(error.contains("cert.pem"), "{error}");
    }

    #[test]
    fn only_one_file_of_the_pair_is_an_error_not_a_new_pair() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        load_or_generate(&config).unwrap();
        std::fs::remove_file(&config.tls_key).unwrap();
        assert!(load_or_generate(&config).is_err());
        assert!(
            !config.tls_key.exists(),
            "no key generated beside an old certificate"
        );
    }
}
