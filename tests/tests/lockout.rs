//! The login lockout under pressure: parallel wrong passwords from one address get no more
//! checks than the limit, a login to another account does not reset the count, and logins
//! queued behind a busy password checker are told to try again (and the client does).

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Site, code, run, stderr, stdout};
use ftp_proto::{ErrorKind, ServerMessage};

const PASSWORD: &str = "lockout-password";

#[tokio::test(flavor = "multi_thread")]
async fn parallel_wrong_passwords_get_no_more_checks_than_the_limit() {
    const LIMIT: usize = 5;
    const TRIES: usize = 40;
    let site = Site::new(&format!(
        "login_failure_delay = \"1ms\"\nlogin_failures_before_lockout = {LIMIT}\nlogin_lockout = \"1h\"\n"
    ));
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    // All at once, from one address, each on its own connection.
    let tries = (0..TRIES).map(|_| e2e::raw_session(&server, None, "alice", "wrong-password"));
    let answers = futures::future::join_all(tries).await;
    let (mut wrong, mut locked, mut other) = (0, 0, Vec::new());
    for answer in answers {
        match answer {
            Err(ServerMessage::Error {
                kind: ErrorKind::LoginFailed,
                ..
            }) => wrong += 1,
            Err(ServerMessage::Error {
                kind: ErrorKind::TooManyAttempts,
                message,
            }) => {
                assert!(message.contains("too many failed logins"), "{message}");
                locked += 1;
            }
            Err(message) => other.push(format!("{message:?}")),
            Ok(_) => other.push("logged in".into()),
        }
    }
    assert!(other.is_empty(), "{other:?}");
    assert!(
        wrong <= LIMIT,
        "{wrong} passwords checked in parallel against a limit of {LIMIT}"
    );
    assert_eq!(wrong + locked, TRIES);
    // The right password is refused too now, without being checked.
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
}

#[test]
fn a_login_to_another_account_does_not_reset_the_count() {
    let site = Site::new(
        "login_failure_delay = \"1ms\"\nlogin_failures_before_lockout = 4\nlogin_lockout = \"1h\"\n",
    );
    site.add_user("alice", PASSWORD, &[]);
    site.add_user("mallory", "mallorys-own-password", &[]);
    let server = site.start();
    let guess = || server.run_ftp("alice", "a-guess", &["ls"]);
    for _ in 0..3 {
        let output = guess();
        assert!(
            stderr(&output).contains("login failed"),
            "{}",
            stderr(&output)
        );
    }
    // The guesser logs in to an account of its own...
    let own = server.run_ftp("mallory", "mallorys-own-password", &["ls"]);
    assert_eq!(code(&own), 0, "{}", stderr(&own));
    // ...which does not give it more guesses at alice's.
    let fourth = guess();
    assert!(
        stderr(&fourth).contains("login failed"),
        "{}",
        stderr(&fourth)
    );
    let fifth = guess();
    assert_eq!(code(&fifth), 3);
    assert!(
        stderr(&fifth).contains("too many failed logins"),
        "{}",
        stderr(&fifth)
    );
}

#[test]
fn logins_queued_behind_a_busy_password_checker_are_retried_until_they_pass() {
    const CLIENTS: usize = 40;
    // One password check at a time and half a second to log in: most of 40 logins at once
    // cannot be checked in time.
    let site = Site::new(
        "max_parallel_logins = 1\nhandshake_timeout = \"500ms\"\nmax_startups_per_address = 64\n",
    );
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    let file = site.dir.path().join("small.txt");
    std::fs::write(&file, b"queued").unwrap();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let mut put = server.ftp("alice", PASSWORD);
            put.args(["put", "--retries", "20"])
                .arg(&file)
                .arg(format!("q{i}.txt"));
            std::thread::spawn(move || run(put, None))
        })
        .collect();
    let outputs: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let failed: Vec<String> = outputs
        .iter()
        .filter(|output| code(output) != 0)
        .map(|output| format!("exit {}: {}", code(output), stderr(output)))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // The queue was really there: logins were told to come back, not failed.
    server.wait_for_log("logins queued");
    let retried = outputs
        .iter()
        .filter(|output| stderr(output).contains("logins queued"))
        .count();
    assert!(retried > 0, "no login had to wait: the test proves nothing");
    assert!(
        !server
            .log()
            .contains("handshake and login not finished in time")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typed_password_queued_behind_a_slow_check_is_retried_without_asking_again() {
    // One password check at a time, and an account whose hash takes seconds to check: while it
    // is being checked, another login cannot be checked within the 1 s login deadline.
    let site = Site::new("max_parallel_logins = 1\nhandshake_timeout = \"1s\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let slow = "\n[users.slow]\npassword = \"$argon2id$v=19$m=19456,t=200,p=1$cGxhY2Vob2xkZXJzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\nhome = \"slow\"\nread_only = false\n";
    let mut users = std::fs::OpenOptions::new()
        .append(true)
        .open(site.users_file())
        .unwrap();
    std::io::Write::write_all(&mut users, slow.as_bytes()).unwrap();
    let server = site.start();
    let file = site.dir.path().join("typed.txt");
    std::fs::write(&file, b"typed once").unwrap();

    let holder = e2e::raw_session(&server, None, "slow", "anything");
    let mut put = server.ftp("alice", PASSWORD);
    put.env_remove("FTP_PASSWORD")
        .args(["put", "--retries", "6"])
        .arg(&file);
    let terminal = e2e::on_a_terminal(&put);
    let typed = async {
        // The slow check holds the only slot before the typed login arrives.
        let started = std::time::Instant::now();
        while !server.log().contains("checking a password user=\"slow\"") {
            assert!(started.elapsed().as_secs() < 60, "{}", server.log());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::task::spawn_blocking(move || run(terminal, Some(&format!("{PASSWORD}\n"))))
            .await
            .unwrap()
    };
    let (_, output) = tokio::join!(holder, typed);
    let screen = stdout(&output);
    assert_eq!(code(&output), 0, "{screen}{}", stderr(&output));
    assert!(
        screen.contains("logins queued"),
        "the login had to wait:\n{screen}"
    );
    assert_eq!(
        screen.matches("Password for").count(),
        1,
        "asked once:\n{screen}"
    );
    assert!(site.root().join("alice/typed.txt").exists());
}
