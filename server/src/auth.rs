//! Login: verifies a user name and password against the users file, off the async runtime.
//!
//! The users file is re-read at each attempt, so `ftpd user add|del|passwd` take effect without
//! a restart. Verifications run on blocking threads, at most `max_parallel_logins` at once. An
//! unknown user is checked against a dummy hash made with the same parameters, so both failures
//! cost the same work and get the same answer. Passwords over 1 KiB are refused before hashing.

use std::path::PathBuf;
use std::sync::Arc;

use ftp_proto::Password;
use tokio::sync::Semaphore;

use crate::users::{self, Account, Users, UsersError};

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: deliberately one case.
    #[error("unknown user or wrong password")]
    Rejected,
    /// The password is longer than the protocol allows; nothing was hashed.
    #[error("password longer than {} bytes", ftp_proto::MAX_PASSWORD_LEN)]
    TooLong,
    /// The server cannot check passwords right now.
    #[error("{0}")]
    Unavailable(String),
}

/// Checks logins; cheap to share between sessions.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// The users file, re-read at each login.
    users_file: Arc<PathBuf>,
    /// Bounds the argon2 verifications running at once.
    permits: Arc<Semaphore>,
    /// Hash checked for unknown users so they cost the same as known ones.
    dummy_hash: Arc<String>,
}

impl Authenticator {
    /// Prepares an authenticator (computes the dummy hash on a blocking thread).
    pub async fn new(users_file: PathBuf, max_parallel: usize) -> Result<Self, UsersError> {
        let dummy_hash = tokio::task::spawn_blocking(|| {
            let random =
                ftp_proto::handshake::new_nonce().map_err(|e| UsersError::Hash(e.to_string()))?;
            users::hash_password(&Password::new(hex::encode(random)))
        })
        .await
        .map_err(|e| UsersError::Hash(e.to_string()))??;
        Ok(Authenticator {
            users_file: Arc::new(users_file),
            permits: Arc::new(Semaphore::new(max_parallel)),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// Verifies `user` and `password`; on success returns the account.
    pub async fn login(&self, user: &str, password: Password) -> Result<Account, LoginError> {
        if password.len() > ftp_proto::MAX_PASSWORD_LEN {
            return Err(LoginError::TooLong);
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| LoginError::Unavailable("server is shutting down".into()))?;
        let this = self.clone();
        let user = user.to_owned();
        tokio::task::spawn_blocking(move || this.login_blocking(&user, &password))
            .await
            .map_err(|e| LoginError::Unavailable(format!("login task failed: {e}")))?
    }

    /// The blocking part of [`Self::login`]: read the users file, run argon2.
    fn login_blocking(&self, user: &str, password: &Password) -> Result<Account, LoginError> {
        tracing::debug!(user = ?user, "checking a password");
        let users = Users::load(&self.users_file)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot read the users file");
                LoginError::Unavailable("the server cannot read its users file".into())
            })?
            .unwrap_or_default();
        let entry = users.users.get(user);
        let hash = entry.map_or(self.dummy_hash.as_str(), |e| e.password.as_str());
        let verified = users::verify_password(password, hash);
        match entry {
            Some(entry) if verified => entry.account(user).map_err(|e| {
                tracing::error!(user, error = %e, "bad entry in the users file");
                LoginError::Unavailable("this account is misconfigured on the server".into())
            }),
            _ => Err(LoginError::Rejected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn right_wrong_and_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let mut users = Users::default();
        users
            .add("alice", &Password::new("right".into()), None, false)
            .unwrap();
        users.store(&path).unwrap();
        let auth = Authenticator::new(path, 2).await.unwrap();
        let ok = auth.login("alice", Password::new("right".into())).await;
        assert_eq!(ok.unwrap().name, "alice");
        let wrong = auth.login("alice", Password::new("wrong".into())).await;
        assert!(matches!(wrong, Err(LoginError::Rejected)));
        let unknown = auth.login("mallory", Password::new("right".into())).await;
        assert!(matches!(unknown, Err(LoginError::Rejected)));
        let long = auth.login("alice", Password::new("x".repeat(1025))).await;
        assert!(matches!(long, Err(LoginError::TooLong)));
    }
}
