//! The `--server` argument: `HOST[:PORT]`, `USER@HOST[:PORT]`, `[IPv6]:PORT` or
//! `ftp://[USER@]HOST[:PORT][/]`, split into the user it names and `HOST:PORT` with the default
//! port added. Any other scheme, a path or a password in it is a usage error.

use crate::error::ClientError;

/// The forms `--server` takes, for messages.
const SERVER_FORMS: &str =
    "expected HOST[:PORT], USER@HOST[:PORT], [IPv6]:PORT or ftp://[USER@]HOST[:PORT]";

/// The `--server` address as `HOST:PORT` (see [`parse_server`]), without its user part.
pub fn server_address(server: &str) -> Result<String, ClientError> {
    parse_server(server).map(|(_, address)| address)
}

/// Splits `--server` into the user it names (`alice@host`, `ftp://alice@host:port/`) and the
/// address as `HOST:PORT`, with the default port when it names none (`host`, `1.2.3.4`,
/// `[::1]`, or a bare IPv6 address, which gets brackets). A usage error for another scheme
/// than `ftp://`, a path, a password, a port that is not 1-65535 or an address with no host,
/// rather than a failed lookup later.
pub fn parse_server(server: &str) -> Result<(Option<String>, String), ClientError> {
    let bad = |why: &str| ClientError::Usage(format!("--server {server}: {why} ({SERVER_FORMS})"));
    let rest = match server.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ftp") => {
            rest.strip_suffix('/').unwrap_or(rest)
        }
        Some((scheme, _)) => return Err(bad(&format!("{scheme}:// is not a scheme ftp speaks"))),
        None => server,
    };
    if rest.contains('/') {
        return Err(bad("a path does not go in --server"));
    }
    let (user, host_port) = match rest.rsplit_once('@') {
        Some((user, _)) if user.contains(':') => {
            return Err(bad(
                "a password does not go in --server (use FTP_PASSWORD or --password-file)",
            ));
        }
        Some(("", _)) => return Err(bad("no user before @")),
        Some((user, host_port)) => (Some(user.to_owned()), host_port),
        None => (None, rest),
    };
    Ok((user, host_and_port(host_port, &bad)?))
}

/// `HOST[:PORT]` or `[IPv6][:PORT]` as `HOST:PORT`.
fn host_and_port(server: &str, bad: &dyn Fn(&str) -> ClientError) -> Result<String, ClientError> {
    let bad = |why: String| bad(&why);
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("no closing ]".into()))?;
        let port = match after {
            "" => None,
            after => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| bad(format!("unexpected {after:?} after ]")))?,
            ),
        };
        (inside, port)
    } else if server.matches(':').count() > 1 {
        // A bare IPv6 address: a port could not be told apart from it.
        (server, None)
    } else {
        match server.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (server, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host".into()));
    }
    let port = match port {
        None => ftp_proto::DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&port| port != 0)
            .ok_or_else(|| bad(format!("{port:?} is not a port (1-65535)")))?,
    };
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_is_added_only_when_missing_and_bad_ports_are_usage_errors() {
        let address = |server: &str| server_address(server).unwrap();
        assert_eq!(address("example.org"), "example.org:2121");
        assert_eq!(address("127.0.0.1:9"), "127.0.0.1:9");
        assert_eq!(address("[::1]"), "[::1]:2121");
        assert_eq!(address("[::1]:80"), "[::1]:80");
        assert_eq!(address("::1"), "[::1]:2121");
        assert_eq!(address("fe80::1:2"), "[fe80::1:2]:2121");
        for bad in [
            "127.0.0.1:99999",
            "127.0.0.1:",
            "host:ftp",
            "host:0",
            ":21",
            "[::1",
            "[::1]x",
            "[]:21",
            "",
        ] {
            assert!(
                matches!(server_address(bad), Err(ClientError::Usage(_))),
                "{bad:?} is refused"
            );
        }
    }

    #[test]
    fn ftp_urls_and_user_at_host_are_understood_and_other_schemes_refused() {
        let parse = |server: &str| parse_server(server).unwrap();
        let alice = Some("alice".to_owned());
        assert_eq!(
            parse("ftp://example.org"),
            (None, "example.org:2121".into())
        );
        assert_eq!(
            parse("ftp://example.org:9/"),
            (None, "example.org:9".into())
        );
        assert_eq!(parse("FTP://[::1]:9"), (None, "[::1]:9".into()));
        assert_eq!(
            parse("ftp://alice@example.org:9/"),
            (alice.clone(), "example.org:9".into())
        );
        assert_eq!(
            parse("alice@example.org"),
            (alice.clone(), "example.org:2121".into())
        );
        assert_eq!(parse("alice@[::1]:9"), (alice, "[::1]:9".into()));
        assert_eq!(parse("example.org:9"), (None, "example.org:9".into()));
        assert_eq!(
            server_address("ftp://alice@example.org").unwrap(),
            "example.org:2121"
        );
        for bad in [
            "sftp://example.org",
            "http://example.org:80",
            "ftp://",
            "ftp://example.org/dir",
            "@example.org",
            "alice:secret@example.org",
            "ftp://alice@",
        ] {
            match parse_server(bad) {
                Err(ClientError::Usage(message)) => {
                    assert!(message.contains("ftp://[USER@]HOST[:PORT]"), "{message}")
                }
                other => panic!("{bad:?} is refused, not {other:?}"),
            }
        }
    }
}
