//! Login: verifies a user name and password against the users file, off the async runtime.
//!
//! The users file is re-read at each attempt, so `ftpd user add|del|passwd` take effect without
//! a restart. Verifications run on blocking threads, at most `max_parallel_logins` at once, each
//! in one of as many reusable argon2 work areas (so memory does not grow with the number of
//! logins). An unknown user is checked against a dummy hash with the default parameters, so both
//! failures cost the same work and get the same answer. Passwords over 1 KiB are refused before
//! hashing. An expired account (`expires`) is refused like a wrong password, after the same
//! work; only the log says it expired.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use argon2::Block;

use ftp_proto::Password;
use tokio::sync::Semaphore;

use crate::users::{self, Account, Users};

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: deliberately one case for the client; `known` (whether
    /// the name is an account's, so it may be logged) is for the server's log only.
    #[error("unknown user or wrong password")]
    Rejected {
        /// The user name is an account's.
        known: bool,
    },
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
    /// argon2 work areas, one per verification that may run at once, reused.
    work_areas: Arc<Mutex<Vec<Vec<Block>>>>,
}

/// Checked for unknown users, so they cost the same work as known ones: an argon2id hash with
/// the default parameters of a random password that was thrown away.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$cWcTLcChQf1PXtHGXgoDAQ$LFh7cMXd7pKExgcZUOBtOo2xDhQK2wBcbR3LIBndvJ8";

/// A work area larger than this many blocks (a hash with unusual parameters) is not kept.
const MAX_KEPT_BLOCKS: usize = 4 * 19 * 1024;

impl Authenticator {
    /// Prepares an authenticator; work areas are made on first use.
    pub fn new(users_file: PathBuf, max_parallel: usize) -> Self {
        Authenticator {
            users_file: Arc::new(users_file),
            permits: Arc::new(Semaphore::new(max_parallel)),
            work_areas: Arc::default(),
        }
    }

    /// Verifies `user` and `password`; on success returns the account.
    pub async fn login(&self, user: &str, password: Password) -> Result<Account, LoginError> {
        if password.len() > ftp_proto::MAX_PASSWORD_LEN {
            return Err(LoginError::TooLong);
        }
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| LoginError::Unavailable("server is shutting down".into()))?;
        let this = self.clone();
        let user = user.to_owned();
        // The permit goes with the check: a session that stops waiting for the answer (its
        // login deadline passed) does not free the slot while argon2 still runs.
        tokio::task::spawn_blocking(move || {
            let checked = this.login_blocking(&user, &password);
            drop(permit);
            checked
        })
        .await
        .map_err(|e| LoginError::Unavailable(format!("login task failed: {e}")))?
    }

    /// The blocking part of [`Self::login`]: read the users file, run argon2.
    fn login_blocking(&self, user: &str, password: &Password) -> Result<Account, LoginError> {
        let users = Users::load(&self.users_file)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot read the users file");
                LoginError::Unavailable("the server cannot read its users file".into())
            })?
            .unwrap_or_default();
        let entry = users.users.get(user);
        // A name that is no account's may be a password typed in the wrong field: not logged.
        match entry {
            Some(_) => tracing::debug!(user = ?user, "checking a password"),
            None => tracing::debug!("checking a password (of a user name that is no account's)"),
        }
        let hash = entry.map_or(DUMMY_HASH, |e| e.password.as_str());
        let mut work = self
            .work_areas
            .lock()
            .ok()
            .and_then(|mut areas| areas.pop())
            .unwrap_or_default();
        let verified = users::verify_password_in(password, hash, &mut work);
        if work.len() <= MAX_KEPT_BLOCKS
            && let Ok(mut areas) = self.work_areas.lock()
        {
            areas.push(work);
        }
        match entry {
            Some(entry) if verified && entry.is_expired(crate::limits::today()) => {
                // Told to the client like a wrong password; the log says why.
                tracing::warn!(
                    user,
                    expires = entry.expires.as_deref().unwrap_or(""),
                    "login refused: the account has expired"
                );
                Err(LoginError::Rejected { known: true })
            }
            Some(entry) if verified => entry.account(user).map_err(|e| {
                tracing::error!(user, error = %e, "bad entry in the users file");
                LoginError::Unavailable("this account is misconfigured on the server".into())
            }),
            _ => Err(LoginError::Rejected {
                known: entry.is_some(),
            }),
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
        let auth = Authenticator::new(path, 2);
        let ok = auth.login("alice", Password::new("right".into())).await;
        assert_eq!(ok.unwrap().name, "alice");
        let wrong = auth.login("alice", Password::new("wrong".into())).await;
        assert!(matches!(wrong, Err(LoginError::Rejected { known: true })));
        let unknown = auth.login("mallory", Password::new("right".into())).await;
        assert!(matches!(
            unknown,
            Err(LoginError::Rejected { known: false })
        ));
        let long = auth.login("alice", Password::new("x".repeat(1025))).await;
        assert!(matches!(long, Err(LoginError::TooLong)));
        assert!(
            auth.work_areas.lock().unwrap().len() <= 2,
            "at most one area per permit"
        );
    }

    #[test]
    fn the_dummy_hash_is_a_valid_default_argon2id_hash_matching_nothing() {
        let parsed = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        let params = argon2::Params::try_from(&parsed).unwrap();
        assert_eq!(params.m_cost(), argon2::Params::DEFAULT_M_COST);
        assert_eq!(params.t_cost(), argon2::Params::DEFAULT_T_COST);
        assert_eq!(params.p_cost(), argon2::Params::DEFAULT_P_COST);
        assert!(!users::verify_password(
            &Password::new(String::new()),
            DUMMY_HASH
        ));
    }
}
