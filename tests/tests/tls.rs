//! TLS through the real binaries: what an eavesdropper records, a man in the middle (refused
//! before any password; and, when the client is fooled into trusting it, stopped by the key
//! proof bound to the TLS session), plaintext and TLS peers that do not match, the
//! known-servers file (trust on first use, a changed certificate refused), CA verification,
//! `ftpd fingerprint`, the busy answer and garbage inside a TLS session.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use e2e::proxies::{MitmProxy, RecordingProxy, contains};
use e2e::{Server, Site, code, run, same_content, stderr, stdout};

const PASSWORD: &str = "tls-Pass-word-0b5c7e";

/// A site with user alice.
fn site(extra: &str) -> Site {
    let site = Site::new(extra);
    site.add_user("alice", PASSWORD, &[]);
    site
}

/// `ftp ls` as alice with no transport option (TLS, trust on first use), to `address`.
fn ls_unpinned(server: &Server, extra: &[&str]) -> std::process::Output {
    let mut command = server.ftp_unpinned(server.address, "alice", PASSWORD);
    command.args(extra).arg("ls");
    run(command, None)
}

/// Runs `command ls`, which must fail with exit code `expected` and say `needle` on stderr.
fn ls_fails(mut command: std::process::Command, expected: i32, needle: &str) {
    command.arg("ls");
    let output = run(command, None);
    assert_eq!(code(&output), expected, "{}", stderr(&output));
    assert!(stderr(&output).contains(needle), "{}", stderr(&output));
}

/// The site's known-servers file.
fn known_servers(site: &Site) -> std::path::PathBuf {
    site.client_config().join("ftp").join("known_servers")
}

#[test]
fn an_eavesdropper_sees_neither_the_password_nor_the_file() {
    const MARK: &[u8] = b"DISTINCTIVE-FILE-CONTENT-7f3a9c";
    // The same recording of a plaintext run shows both: the check can fail.
    for encrypted in [false, true] {
        let site = if encrypted {
            Site::new("")
        } else {
            Site::plaintext("")
        };
        site.add_user("alice", PASSWORD, &[]);
        let server = site.start();
        let proxy = RecordingProxy::start(server.address);
        let local = site.dir.path().join("secret.txt");
        std::fs::write(&local, MARK.repeat(8192)).unwrap();
        let mut command = server.ftp_via(proxy.address, "alice", PASSWORD);
        command.arg("put").arg(&local).arg("secret.txt");
        let output = run(command, None);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert!(same_content(&local, &site.root().join("alice/secret.txt")));
        let recorded = proxy.recorded();
        assert!(
            recorded.len() > MARK.len() * 8192,
            "the whole file crossed the proxy"
        );
        assert_eq!(
            contains(&recorded, PASSWORD.as_bytes()),
            !encrypted,
            "password in the recording (encrypted: {encrypted})"
        );
        assert_eq!(
            contains(&recorded, MARK),
            !encrypted,
            "file content in the recording (encrypted: {encrypted})"
        );
        assert_eq!(contains(&recorded, b"secret.txt"), !encrypted);
    }
}

#[test]
fn a_man_in_the_middle_is_refused_before_any_password_is_sent() {
    let site = site("");
    let server = site.start();
    let fingerprint = server.fingerprint.clone().unwrap();
    let mitm = MitmProxy::start(server.address, &fingerprint);

    // Pinned to the real server's certificate: the proxy's is refused in the TLS handshake.
    let pinned = server.ftp_via(mitm.address, "alice", PASSWORD);
    ls_fails(pinned, 7, "SERVER IDENTITY NOT VERIFIED");

    // The same with the known-servers file, which recorded the real server at that address.
    std::fs::create_dir_all(known_servers(&site).parent().unwrap()).unwrap();
    std::fs::write(
        known_servers(&site),
        format!("{} {fingerprint}\n", mitm.address),
    )
    .unwrap();
    let recorded = server.ftp_unpinned(mitm.address, "alice", PASSWORD);
    ls_fails(recorded, 7, "HAS CHANGED");

    // The client never finished a handshake with the proxy, so nothing reached the server.
    assert_eq!(mitm.accepted(), 0);
    let log = server.log();
    assert!(
        !log.contains("logged in") && !log.contains("login failed"),
        "{log}"
    );
}

#[test]
fn a_fooled_client_is_still_stopped_by_the_session_bound_key_proof() {
    let site = site("");
    let server = site.start();
    let mitm = MitmProxy::start(server.address, server.fingerprint.as_deref().unwrap());
    // The client trusts the proxy's certificate (say, its first connection went through the
    // attacker). The proxy relays every byte, but the key proofs carry each TLS session's own
    // exporter value: the client's proof does not verify on the server's session.
    let mut command = server.ftp_unpinned(mitm.address, "alice", PASSWORD);
    command.args(["--fingerprint", &mitm.fingerprint, "ls"]);
    let output = run(command, None);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert_eq!(mitm.accepted(), 1, "the client did talk through the proxy");
    server.wait_for_log("client key rejected");
    let log = server.log();
    assert!(
        !log.contains("logged in") && !log.contains("login failed"),
        "{log}"
    );
    // Directly, the same key works: it was the relay that failed.
    assert_eq!(code(&server.run_ftp("alice", PASSWORD, &["ls"])), 0);
}

#[test]
fn a_plaintext_client_of_a_tls_server_gets_a_clear_error() {
    let site = site("handshake_timeout = \"60s\"\n");
    let server = site.start();
    let started = Instant::now();
    let output = ls_unpinned(&server, &["--insecure-plaintext"]);
    assert!(started.elapsed() < Duration::from_secs(10), "no hang");
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("requires TLS"),
        "{}",
        stderr(&output)
    );
    server.wait_for_log("told it the server requires TLS");
}

#[test]
fn a_tls_client_of_a_plaintext_server_gets_a_clear_error() {
    let site = Site::plaintext("handshake_timeout = \"60s\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let started = Instant::now();
    let output = ls_unpinned(&server, &[]);
    assert!(started.elapsed() < Duration::from_secs(10), "no hang");
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("does not speak TLS"),
        "{}",
        stderr(&output)
    );
    server.wait_for_log("a TLS client connected, but this server runs with insecure_plaintext");
    assert!(!known_servers(&site).exists(), "nothing recorded");
}

#[test]
fn the_known_servers_file_records_a_new_server_and_refuses_a_changed_one() {
    let site = site("");
    let server = site.start();
    let address = server.address;
    let old = server.fingerprint.clone().unwrap();

    let first = ls_unpinned(&server, &[]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stderr(&first).contains("first connection") && stderr(&first).contains(&old),
        "{}",
        stderr(&first)
    );
    let recorded = std::fs::read_to_string(known_servers(&site)).unwrap();
    assert!(
        recorded.contains(&format!("{address} {old}\n")),
        "{recorded}"
    );
    let line = recorded
        .lines()
        .position(|l| l.starts_with(&address.to_string()))
        .unwrap()
        + 1;

    let second = ls_unpinned(&server, &[]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert!(!stderr(&second).contains("first connection"));

    // The server gets a new certificate at the same address.
    drop(server);
    std::fs::remove_file(site.cert_file()).unwrap();
    std::fs::remove_file(site.dir.path().join("ftpd-cert.key")).unwrap();
    let config = std::fs::read_to_string(site.config_file()).unwrap();
    let config = config.replace("127.0.0.1:0", &address.to_string());
    std::fs::write(site.config_file(), config).unwrap();
    let server = site.start();
    assert_eq!(server.address, address);
    let new = server.fingerprint.clone().unwrap();
    assert_ne!(new, old);

    for _ in 0..2 {
        let refused = ls_unpinned(&server, &[]);
        assert_eq!(code(&refused), 7, "{}", stderr(&refused));
        let text = stderr(&refused);
        assert!(text.contains("HAS CHANGED"), "{text}");
        assert!(text.contains(&format!("line {line}")), "{text}");
        assert!(
            text.contains(&known_servers(&site).display().to_string()),
            "{text}"
        );
        assert!(text.contains(&new) && text.contains(&old), "{text}");
    }
    assert_eq!(
        std::fs::read_to_string(known_servers(&site)).unwrap(),
        recorded,
        "the file is left alone"
    );
    assert!(!server.log().contains("logged in"), "{}", server.log());

    // The user removes the entry: the new certificate is recorded and used.
    let kept: String = recorded
        .lines()
        .filter(|l| !l.starts_with(&address.to_string()))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(known_servers(&site), kept).unwrap();
    let again = ls_unpinned(&server, &[]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    let now = std::fs::read_to_string(known_servers(&site)).unwrap();
    assert!(now.contains(&format!("{address} {new}\n")), "{now}");
}

#[test]
fn a_certificate_issued_by_the_ca_given_with_ca_file_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let issue = |names: Vec<String>| {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertifiedIssuer::self_signed(params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
    };
    let (ca, leaf, key) = issue(vec!["localhost".into(), "127.0.0.1".into()]);
    let (other_ca, _, _) = issue(vec!["localhost".into()]);
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("ca.pem"), ca).unwrap();
    std::fs::write(path("other-ca.pem"), other_ca).unwrap();
    std::fs::write(path("server.pem"), leaf).unwrap();
    ftp_proto::files::private_file::write_private_file(&path("server.key"), key.as_bytes())
        .unwrap();

    let site = site(&format!(
        "tls_cert = {:?}\ntls_key = {:?}\n",
        path("server.pem"),
        path("server.key")
    ));
    let server = site.start();
    assert!(!site.cert_file().exists(), "no self-signed pair generated");
    let ca_file = path("ca.pem");
    let ok = ls_unpinned(&server, &["--ca-file", ca_file.to_str().unwrap()]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    assert!(!known_servers(&site).exists(), "a CA needs no record");

    let other = path("other-ca.pem");
    let refused = ls_unpinned(&server, &["--ca-file", other.to_str().unwrap()]);
    assert_eq!(code(&refused), 7, "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("does not verify against the CA"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn ftpd_fingerprint_prints_what_the_server_announced() {
    use std::os::unix::fs::PermissionsExt;
    let site = site("");
    // Before the first start it generates the pair; the server then uses the same one.
    let output = run(site.ftpd(&["fingerprint"]), None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let printed = stdout(&output).trim().to_owned();
    assert!(printed.starts_with("SHA256:"), "{printed}");
    let server = site.start();
    assert_eq!(server.fingerprint.as_deref(), Some(printed.as_str()));
    let mode = std::fs::metadata(site.dir.path().join("ftpd-cert.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A pin written the way openssl prints it works too.
    let hex = printed.trim_start_matches("SHA256:").to_uppercase();
    let pairs: Vec<&str> = (0..hex.len()).step_by(2).map(|i| &hex[i..i + 2]).collect();
    let output = ls_unpinned(&server, &["--fingerprint", &pairs.join(":")]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn a_busy_server_says_so_over_tls() {
    let site = site("max_connections = 1\n");
    let server = site.start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _held = runtime
        .block_on(e2e::raw_session(&server, None, "alice", PASSWORD))
        .expect("first session");
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stderr(&output).contains("busy"), "{}", stderr(&output));
}

#[tokio::test]
async fn an_oversized_frame_inside_tls_is_closed_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let site = site("handshake_timeout = \"120s\"\n");
    let server = site.start();
    let (mut stream, _) = e2e::open(&server, None).await;
    stream
        .write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection is still open");
    server.wait_for_log("exceeds the limit");
}
