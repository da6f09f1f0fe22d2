//! The commands the server prints when it starts: the `connect with: …` line, a client
//! command that works when pasted as printed from any folder, and how to change the first
//! user's password.
//!
//! The client is named by the absolute path of the `ftp` beside this `ftpd` when there is one
//! (cargo builds both into one folder; an install puts both in one bin folder), so neither the
//! PATH nor a system FTP client of the same name decides what runs. Every path is quoted for a
//! POSIX shell. A wildcard listen address becomes the loopback address of its family, which
//! reaches the server from the same machine. This module only builds text: it never reads a
//! secret and never prints.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// What the line is made of.
#[derive(Debug, Clone)]
pub struct ConnectLine<'a> {
    /// The client to run: an absolute path, or `ftp` when none is beside the server.
    pub client: String,
    /// Where the server listens.
    pub address: SocketAddr,
    /// The shared key file.
    pub secret_file: &'a Path,
    /// `--fingerprint SHA256:…` or `--insecure-plaintext`.
    pub transport: String,
    /// The user to log in as (`NAME` when the server cannot tell which).
    pub user: &'a str,
}

impl ConnectLine<'_> {
    /// The command, ready to paste into a shell.
    pub fn render(&self) -> String {
        format!(
            "{} --server {} --secret-file {} {} --user {} ls",
            self.client,
            reachable(self.address),
            quoted(&absolute(self.secret_file)),
            self.transport,
            quoted_text(self.user),
        )
    }
}

/// `ftpd --users USERS user passwd NAME`, with this very `ftpd` by its absolute path and the
/// users file made absolute, so it changes the right user's password from any folder.
pub fn passwd_command(users: &Path, name: &str) -> String {
    let server = std::env::current_exe().map_or_else(|_| "ftpd".to_owned(), |exe| quoted(&exe));
    format!(
        "{server} --users {} user passwd {}",
        quoted(&absolute(users)),
        quoted_text(name)
    )
}

/// The client beside the running server, quoted, or `ftp` when there is none.
pub fn client_beside_server() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|folder| folder.join("ftp")))
        .filter(|path| is_executable_file(path))
        .map_or_else(|| "ftp".to_owned(), |path| quoted(&path))
}

/// True for a regular file (links followed) that someone may execute.
fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `address` with a wildcard IP replaced by the loopback address of its family.
fn reachable(address: SocketAddr) -> SocketAddr {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, address.port())
}

/// `path` made absolute against the current folder, for a command a person can paste anywhere.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `path` quoted for a POSIX shell.
fn quoted(path: &Path) -> String {
    quoted_text(&path.to_string_lossy())
}

/// `text` quoted for a POSIX shell when it needs it (a NUL cannot be: it is left as it is).
fn quoted_text(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| text.to_owned(), |quoted| quoted.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(address: &str, secret: &str, user: &str) -> String {
        ConnectLine {
            client: "ftp".to_owned(),
            address: address.parse().unwrap(),
            secret_file: Path::new(secret),
            transport: "--insecure-plaintext".to_owned(),
            user,
        }
        .render()
    }

    #[test]
    fn a_plain_line_needs_no_quotes() {
        assert_eq!(
            line("127.0.0.1:2121", "/srv/ftpd.key", "admin"),
            "ftp --server 127.0.0.1:2121 --secret-file /srv/ftpd.key --insecure-plaintext --user admin ls"
        );
    }

    #[test]
    fn wildcard_addresses_become_loopback() {
        assert!(line("0.0.0.0:21", "/k", "a").contains("--server 127.0.0.1:21 "));
        assert!(line("[::]:21", "/k", "a").contains("--server [::1]:21 "));
        assert!(line("[::1]:21", "/k", "a").contains("--server [::1]:21 "));
    }

    #[test]
    fn paths_and_names_with_shell_characters_are_quoted() {
        let printed = line("127.0.0.1:1", "/tmp/my keys/it's.key", "a b");
        let words = shlex::split(&printed).unwrap();
        assert_eq!(words[4], "/tmp/my keys/it's.key");
        assert_eq!(words[7], "a b");
    }

    #[test]
    fn the_passwd_command_names_this_server_and_an_absolute_users_file() {
        let printed = passwd_command(Path::new("ftpd-users.toml"), "admin");
        let words = shlex::split(&printed).unwrap();
        assert_eq!(Path::new(&words[0]), std::env::current_exe().unwrap());
        assert_eq!(words[1], "--users");
        assert!(Path::new(&words[2]).is_absolute(), "{printed}");
        assert_eq!(&words[3..], ["user", "passwd", "admin"]);
    }

    #[test]
    fn a_relative_key_path_is_made_absolute() {
        let printed = line("127.0.0.1:1", "ftpd.key", "a");
        let words = shlex::split(&printed).unwrap();
        assert!(Path::new(&words[4]).is_absolute(), "{printed}");
    }
}
