//! Login through the real binaries: the key handshake, passwords, and where passwords come from.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Site, code, run, stderr, stdout};

const ALICE_PASSWORD: &str = "correct horse battery staple";

fn site_with_alice() -> Site {
    let site = Site::new("");
    site.add_user("alice", ALICE_PASSWORD, &[]);
    site
}

#[test]
fn right_key_user_and_password_list_the_home() {
    let site = site_with_alice();
    let server = site.start();
    std::fs::create_dir_all(site.root().join("alice/docs")).unwrap();
    std::fs::write(site.root().join("alice/report.txt"), b"12345").unwrap();

    let output = server.run_ftp("alice", ALICE_PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let listing = stdout(&output);
    assert!(listing.contains("docs/"), "{listing}");
    assert!(
        listing.contains(" 5  ") && listing.contains("report.txt"),
        "{listing}"
    );

    let output = server.run_ftp("alice", ALICE_PASSWORD, &["--json", "ls", "/"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["op"], "ls");
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["name"], "docs");
    assert_eq!(entries[0]["type"], "dir");
    assert_eq!(entries[1]["name"], "report.txt");
    assert_eq!(entries[1]["size"], 5);
    assert!(entries[1]["mtime"].as_i64().unwrap() > 1_600_000_000);
}

#[test]
fn wrong_password_and_unknown_user_look_the_same() {
    let site = site_with_alice();
    let server = site.start();

    let wrong = server.run_ftp("alice", "not the password", &["ls"]);
    assert_eq!(code(&wrong), 3, "{}", stderr(&wrong));
    let unknown = server.run_ftp("zelda", "not the password", &["ls"]);
    assert_eq!(code(&unknown), 3, "{}", stderr(&unknown));

    assert!(stdout(&wrong).is_empty() && stdout(&unknown).is_empty());
    assert_eq!(
        stderr(&wrong).replace("alice", "NAME"),
        stderr(&unknown).replace("zelda", "NAME")
    );
    assert!(
        stderr(&wrong).contains("login failed"),
        "{}",
        stderr(&wrong)
    );
}

#[test]
fn a_wrong_client_key_is_refused_before_any_password_is_checked() {
    let site = site_with_alice();
    let server = site.start();
    let other_key = site.dir.path().join("other.key");
    let keygen = run(
        site.ftpd(&["keygen", "--out", other_key.to_str().unwrap()]),
        None,
    );
    assert_eq!(code(&keygen), 0, "{}", stderr(&keygen));

    let mut command = e2e::command(&e2e::ftp_bin());
    command
        .arg("--server")
        .arg(server.address.to_string())
        .arg("--secret-file")
        .arg(&other_key)
        .args(["--user", "alice", "ls"])
        .env("FTP_PASSWORD", ALICE_PASSWORD);
    let output = run(command, None);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(other_key.to_str().unwrap()),
        "names the key file: {message}"
    );
    assert!(
        message.contains("--secret-file"),
        "says how to fix it: {message}"
    );

    server.wait_for_log("client key rejected");
    let log = server.log();
    assert!(!log.contains("checking a password"), "{log}");
    assert!(!log.contains("logged in"), "{log}");
}

#[test]
fn no_password_and_no_terminal_fails_at_once() {
    let site = site_with_alice();
    let _server = site.start();
    // A listener that accepts nothing: a client that tried to connect would hang here.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut command = e2e::command(&e2e::ftp_bin());
    command
        .arg("--server")
        .arg(silent.local_addr().unwrap().to_string())
        .arg("--secret-file")
        .arg(site.key_file())
        .args(["--user", "alice", "ls"]);
    let output = run(command, None);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("FTP_PASSWORD"), "{message}");
    assert!(message.contains("--password-file"), "{message}");
}

#[test]
fn password_file_and_environment_both_work() {
    let site = site_with_alice();
    let server = site.start();
    let file = site.dir.path().join("password.txt");
    std::fs::write(&file, format!("{ALICE_PASSWORD}\n")).unwrap();
    // A password file is a secret: group and others must not read it.
    let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&file, private).unwrap();

    let mut command = server.ftp("alice", "");
    command
        .env_remove("FTP_PASSWORD")
        .arg("--password-file")
        .arg(&file)
        .arg("ls");
    let output = run(command, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));

    let mut command = server.ftp("alice", "");
    command
        .env_remove("FTP_PASSWORD")
        .env("FTP_PASSWORD_FILE", &file)
        .arg("ls");
    assert_eq!(code(&run(command, None)), 0);

    let mut command = e2e::command(&e2e::ftp_bin());
    command
        .env("FTP_SERVER", server.address.to_string())
        .env("FTP_SECRET_FILE", &server.key)
        .env("FTP_USER", "alice")
        .env("FTP_PASSWORD", ALICE_PASSWORD)
        .arg("ls");
    assert_eq!(code(&run(command, None)), 0);
}

#[test]
fn no_secret_reaches_the_server_log() {
    let site = site_with_alice();
    let server = site.start();
    assert_eq!(code(&server.run_ftp("alice", ALICE_PASSWORD, &["ls"])), 0);
    assert_eq!(
        code(&server.run_ftp("alice", "WrongPassword77", &["ls"])),
        3
    );
    assert_eq!(code(&server.run_ftp("nobody", "OtherSecret99", &["ls"])), 3);
    server.wait_for_log("a user name that is no account's, not logged");
    let log = server.log();
    let key = std::fs::read_to_string(&server.key).unwrap();
    for secret in [
        ALICE_PASSWORD,
        "WrongPassword77",
        "OtherSecret99",
        key.trim(),
    ] {
        assert!(
            !log.contains(secret),
            "secret {secret:?} in the log:\n{log}"
        );
    }
    assert!(log.contains("logged in"), "{log}");
}

#[test]
fn a_password_typed_as_the_user_name_is_not_logged() {
    let site = site_with_alice();
    let server = site.start();
    let output = server.run_ftp("hunter2-secret-password", ALICE_PASSWORD, &["ls"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    server.wait_for_log("a user name that is no account's, not logged");
    let log = server.log();
    assert!(!log.contains("hunter2"), "{log}");
    // A known account's name is still logged, so an administrator sees who is targeted.
    assert_eq!(
        code(&server.run_ftp("alice", "WrongPassword77", &["ls"])),
        3
    );
    server.wait_for_log("user=\"alice\"");
    // A client leaving after a refusal is no error worth a TLS lecture in the log.
    server.wait_for_log("peer closed the connection");
    assert!(!server.log().contains("close_notify"), "{}", server.log());
}

#[test]
fn an_empty_password_is_refused_before_connecting() {
    let site = site_with_alice();
    let server = site.start();
    let output = server.run_ftp("alice", "", &["ls"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));
    assert!(!server.log().contains("checking a password"));
}

#[test]
fn no_password_is_asked_for_a_server_that_cannot_be_reached() {
    let site = site_with_alice();
    let server = site.start();
    let address = server.address;
    drop(server);
    let mut ls = e2e::command(&e2e::ftp_bin());
    ls.args(["--server", &address.to_string(), "--secret-file"])
        .arg(site.key_file())
        .args(["--insecure-plaintext", "--user", "alice", "ls"]);
    let output = run(e2e::on_a_terminal(&ls), None);
    assert_eq!(code(&output), 5, "{}{}", stdout(&output), stderr(&output));
    let screen = stdout(&output);
    assert!(!screen.contains("Password for"), "{screen}");
    assert!(screen.contains("cannot connect"), "{screen}");
}

#[test]
fn a_password_typed_after_the_servers_login_deadline_still_logs_in() {
    // The password is typed only once the server has given up on the first connection (its
    // log says so), so that part is no race. The deadline then bounds the second connection's
    // login, sent at once with the typed password: 3 s leaves a loaded machine ample time for
    // one argon2 check, where 1 s did not.
    let site = Site::new("handshake_timeout = \"3s\"\n");
    site.add_user("alice", ALICE_PASSWORD, &[]);
    let server = site.start();
    let mut ls = server.ftp("alice", ALICE_PASSWORD);
    ls.env_remove("FTP_PASSWORD").arg("ls");
    let mut terminal = e2e::on_a_terminal(&ls);
    terminal
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = terminal.spawn().unwrap();
    // The user is still at the prompt when the server gives up on the connection.
    server.wait_for_log("handshake timed out");
    let mut typing = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut typing, format!("{ALICE_PASSWORD}\n").as_bytes()).unwrap();
    drop(typing);
    let output = e2e::output_of(child, "ftp ls after a slow prompt");
    let screen = stdout(&output);
    assert_eq!(code(&output), 0, "{screen}{}", stderr(&output));
    assert_eq!(
        screen.matches("Password for").count(),
        1,
        "asked once:\n{screen}"
    );
}

#[test]
fn one_wrong_password_typed_is_checked_once_even_when_its_answer_comes_late() {
    // The server's answer to a wrong password (delayed 4 s) outlasts its login deadline (2 s):
    // the client must not take that for a connection lost at the prompt and send it again.
    let site = Site::new("handshake_timeout = \"2s\"\nlogin_failure_delay = \"4s\"\n");
    site.add_user("alice", ALICE_PASSWORD, &[]);
    let server = site.start();
    let mut ls = server.ftp("alice", ALICE_PASSWORD);
    ls.env_remove("FTP_PASSWORD").arg("ls");
    let output = run(e2e::on_a_terminal(&ls), Some("WrongPassword77\n"));
    assert_ne!(code(&output), 0, "{}", stdout(&output));
    assert_eq!(stdout(&output).matches("Password for").count(), 1);
    assert_eq!(
        server.log().matches("checking a password").count(),
        1,
        "{}",
        server.log()
    );
}

#[test]
fn the_user_in_an_ftp_url_server_logs_in_without_user() {
    let site = site_with_alice();
    let server = site.start();
    for form in [
        format!("ftp://alice@{}/", server.address),
        format!("alice@{}", server.address),
    ] {
        let mut command = e2e::command(&e2e::ftp_bin());
        command
            .arg("--server")
            .arg(&form)
            .arg("--secret-file")
            .arg(&server.key)
            .arg("--fingerprint")
            .arg(server.fingerprint.as_deref().unwrap())
            .env("USER", "nobody-here")
            .env("FTP_PASSWORD", ALICE_PASSWORD)
            .env("XDG_CACHE_HOME", server.client_cache())
            .env("XDG_CONFIG_HOME", &server.client_config)
            .arg("ls");
        let output = run(command, None);
        assert_eq!(code(&output), 0, "{form}: {}", stderr(&output));
    }
}
