//! What ends an `ftpd` command (the server itself or a maintenance command) with an error, and
//! the exit code each gets: 2 for a mistake in what was asked (a bad setting, a refused user
//! name or password source), 1 for anything else. The session's own errors, which never end
//! the process, are in [`crate::error`].

use crate::config::ConfigError;
use crate::startup::StartupError;
use crate::tls::TlsError;
use crate::users::UsersError;

/// Why an `ftpd` command failed.
#[derive(Debug, thiserror::Error)]
pub enum FtpdError {
    /// The settings (command line, config file) are wrong or unreadable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The users file, or what a `user` command was asked.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// The keys file, or what a `key` command was asked.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    /// The shared key could not be made or written.
    #[error(transparent)]
    Key(#[from] ftp_proto::KeyError),
    /// The TLS certificate could not be loaded or made.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Key, certificate, users or root could not be readied for serving.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// A system call of the server itself failed (the runtime, the listening socket).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl FtpdError {
    /// The failure of `context`.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        FtpdError::Io {
            context: context.into(),
            source,
        }
    }

    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            FtpdError::Config(ConfigError::Invalid { .. })
            | FtpdError::Users(UsersError::Refused(_))
            | FtpdError::Keys(crate::keys::KeysError::Refused(_)) => 2,
            _ => 1,
        }
    }

    /// The error and its causes, each cause added only if the text so far does not say it
    /// already.
    pub fn describe(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let said = error.to_string();
            if !text.contains(&said) {
                text.push_str(": ");
                text.push_str(&said);
            }
            cause = error.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistake_in_what_was_asked_is_exit_2_and_the_rest_exit_1() {
        let invalid = ConfigError::Invalid {
            key: "listen",
            message: "not an address".into(),
        };
        assert_eq!(FtpdError::from(invalid).exit_code(), 2);
        let refused = UsersError::Refused("no such user".into());
        assert_eq!(FtpdError::from(refused).exit_code(), 2);
        let io = FtpdError::io(
            "cannot listen on 127.0.0.1:1",
            std::io::Error::other("in use"),
        );
        assert_eq!(io.exit_code(), 1);
        assert_eq!(io.describe(), "cannot listen on 127.0.0.1:1: in use");
    }
}
