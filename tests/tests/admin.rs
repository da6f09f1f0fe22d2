//! Administration through the real `ftpd`: users, keys, file modes, first start.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use e2e::{Site, code, command, ftp_bin, run, stderr, stdout};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn users_and_key_files_are_private_and_hold_hashes_only() {
    let site = Site::new("");
    site.add_user("alice", "alice-secret-1", &[]);
    site.add_user(
        "bob",
        "bob-secret-2",
        &["--read-only", "--home", "team/bob"],
    );
    let _server = site.start();

    assert_eq!(mode(&site.users_file()), 0o600);
    assert_eq!(mode(&site.key_file()), 0o600);
    let text = std::fs::read_to_string(site.users_file()).unwrap();
    assert!(!text.contains("alice-secret-1") && !text.contains("bob-secret-2"));
    let hashes: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("password = "))
        .collect();
    assert_eq!(hashes.len(), 2, "{text}");
    for hash in hashes {
        assert!(hash.starts_with("\"$argon2id$"), "{hash}");
    }

    let list = run(site.ftpd(&["user", "list"]), None);
    assert_eq!(code(&list), 0);
    let list = stdout(&list);
    assert!(
        list.contains("alice") && list.contains("read-write"),
        "{list}"
    );
    assert!(
        list.contains("bob") && list.contains("read-only") && list.contains("team/bob"),
        "{list}"
    );
}

#[test]
fn the_server_refuses_to_start_with_readable_secrets() {
    for file in ["users", "key"] {
        let site = Site::new("");
        site.add_user("alice", "password", &[]);
        let keygen = run(site.ftpd(&["keygen"]), None);
        assert_eq!(code(&keygen), 0, "{}", stderr(&keygen));
        let path = if file == "users" {
            site.users_file()
        } else {
            site.key_file()
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let output = run(site.ftpd(&[]), None);
        assert_eq!(code(&output), 1, "{file}: {}", stderr(&output));
        let message = stderr(&output);
        assert_eq!(
            message.matches("chmod 600").count(),
            1,
            "said once: {message}"
        );
        assert!(message.contains(path.to_str().unwrap()), "{message}");
    }
}

#[test]
fn passwd_and_del_take_effect_without_a_restart() {
    let site = Site::new("");
    site.add_user("alice", "old-password", &[]);
    let server = site.start();
    assert_eq!(code(&server.run_ftp("alice", "old-password", &["ls"])), 0);

    let passwd = run(
        site.ftpd(&["user", "passwd", "alice", "--password-stdin"]),
        Some("new-password\n"),
    );
    assert_eq!(code(&passwd), 0, "{}", stderr(&passwd));
    assert_eq!(code(&server.run_ftp("alice", "old-password", &["ls"])), 3);
    assert_eq!(code(&server.run_ftp("alice", "new-password", &["ls"])), 0);

    let del = run(site.ftpd(&["user", "del", "alice"]), None);
    assert_eq!(code(&del), 0, "{}", stderr(&del));
    assert_eq!(code(&server.run_ftp("alice", "new-password", &["ls"])), 3);
}

#[test]
fn user_add_refuses_bad_input_and_changes_nothing() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let before = std::fs::read(site.users_file()).unwrap();
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (&["user", "add", "bob"], None, "--password-stdin"),
        (
            &["user", "add", "alice", "--password-stdin"],
            Some("x\n"),
            "already exists",
        ),
        (
            &["user", "add", "../evil", "--password-stdin"],
            Some("x\n"),
            "user name",
        ),
        (
            &["user", "add", "bob", "--password-stdin", "--home", "../x"],
            Some("long-enough\n"),
            "..",
        ),
        (
            &["user", "add", "bob", "--password-stdin", "--home", "/etc"],
            Some("long-enough\n"),
            "relative to the root",
        ),
        (
            &["user", "add", "bob", "--password-stdin"],
            Some("x\n"),
            "at least 8 characters",
        ),
        (
            &["user", "passwd", "alice", "--password-stdin"],
            Some("1234567\n"),
            "at least 8 characters",
        ),
        (
            &["user", "add", "bob", "--password-stdin"],
            Some("\n"),
            "empty",
        ),
        (&["user", "del", "nobody"], None, "no user named"),
    ];
    for (args, stdin, expected) in cases {
        let output = run(site.ftpd(args), *stdin);
        assert_eq!(code(&output), 2, "{args:?}: a usage mistake");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(
            std::fs::read(site.users_file()).unwrap(),
            before,
            "{args:?} changed the file"
        );
    }
    let long = format!("{}\n", "x".repeat(1025));
    let output = run(
        site.ftpd(&["user", "add", "bob", "--password-stdin"]),
        Some(&long),
    );
    assert!(stderr(&output).contains("1024"), "{}", stderr(&output));
}

#[test]
fn keygen_writes_0600_and_never_overwrites_silently() {
    let site = Site::new("");
    let first = run(site.ftpd(&["keygen"]), None);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert_eq!(mode(&site.key_file()), 0o600);
    let key = std::fs::read(site.key_file()).unwrap();
    assert_eq!(key.len(), 65, "64 hex digits and a newline");

    let again = run(site.ftpd(&["keygen"]), None);
    assert_eq!(code(&again), 1);
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(std::fs::read(site.key_file()).unwrap(), key);

    let forced = run(site.ftpd(&["keygen", "--force"]), None);
    assert_eq!(code(&forced), 0);
    assert_ne!(std::fs::read(site.key_file()).unwrap(), key);
}

#[test]
fn first_start_creates_a_user_a_newcomer_can_log_in_as() {
    let site = Site::new("");
    let server = site.start();
    assert_eq!(mode(&site.users_file()), 0o600);
    assert_eq!(mode(&site.key_file()), 0o600);
    // Not on a terminal: the password goes to a private file, never to the log.
    let file = site.dir.path().join("ftpd-initial-password");
    assert_eq!(mode(&file), 0o600);
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert_eq!(password.len(), 20);
    server.wait_for_log("ftpd-initial-password");
    assert!(!server.log().contains(&password));

    let output = server.run_ftp("admin", &password, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        site.root().join("admin").is_dir(),
        "home created on first login"
    );
}

#[test]
fn the_printed_connect_line_works_as_printed_from_any_folder() {
    let site = Site::new("");
    let server = site.start();
    let password = std::fs::read_to_string(site.dir.path().join("ftpd-initial-password")).unwrap();
    let line = server.connect_line.clone().expect("a connect line");
    // The client beside the server, by its absolute path: not whatever `ftp` the PATH finds.
    assert!(
        line.starts_with(&format!("{} ", ftp_bin().display())),
        "{line}"
    );
    assert!(line.contains(" --user admin ls"), "{line}");
    let elsewhere = tempfile::tempdir().unwrap();
    let mut shell = command(std::path::Path::new("sh"));
    shell
        .args(["-c", &line])
        .current_dir(elsewhere.path())
        .env("PATH", "/usr/bin:/bin")
        .env("XDG_CONFIG_HOME", site.client_config())
        .env("FTP_PASSWORD", password.trim());
    let output = run(shell, None);
    assert_eq!(code(&output), 0, "{line}\n{}", stderr(&output));
}

#[test]
fn ipv6_loopback_works() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let config = std::fs::read_to_string(site.config_file()).unwrap();
    std::fs::write(site.config_file(), config.replace("127.0.0.1:0", "[::1]:0")).unwrap();
    let server = site.start();
    assert!(server.address.is_ipv6());
    assert_eq!(code(&server.run_ftp("alice", "password", &["ls"])), 0);
}

#[test]
fn flags_and_environment_override_the_config_file() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let other_root = site.dir.path().join("elsewhere");
    let mut command = site.ftpd(&["user", "list"]);
    command.env("FTPD_USERS", site.dir.path().join("none.toml"));
    let output = run(command, None);
    assert!(stdout(&output).contains("no users"), "{}", stdout(&output));

    let mut command = site.ftpd(&["--root", other_root.to_str().unwrap()]);
    command.env("FTPD_ROOT", "/nonexistent/should-be-overridden");
    command.env("RUST_LOG", "info");
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The certificate's fingerprint comes first, then the address.
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(child.stdout.as_mut().unwrap()));
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("ftpd certificate fingerprint SHA256:"),
        "{first}"
    );
    assert!(
        second.starts_with("ftpd listening on 127.0.0.1:"),
        "{second}"
    );
    assert!(
        other_root.is_dir(),
        "the --root flag won over FTPD_ROOT and the file"
    );
}

#[test]
fn a_root_whose_parent_is_missing_is_refused_not_created() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let root = site.dir.path().join("missing/parent/root");
    let output = run(site.ftpd(&["--root", root.to_str().unwrap()]), None);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("parent folder does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(!site.dir.path().join("missing").exists());
}

#[test]
fn two_servers_starting_at_once_agree_on_one_new_key() {
    use std::io::BufRead;
    let first = Site::new("");
    first.add_user("alice", "password", &[]);
    let second = Site::new("");
    second.add_user("alice", "password", &[]);
    // Both point at the first site's key file, which does not exist yet.
    let shared_key = first.key_file();
    let config = std::fs::read_to_string(second.config_file()).unwrap();
    let config = config.replace(
        &format!("{:?}", second.key_file()),
        &format!("{shared_key:?}"),
    );
    std::fs::write(second.config_file(), config).unwrap();
    let children: Vec<_> = [&first, &second]
        .iter()
        .map(|site| {
            site.ftpd(&[])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut addresses = Vec::new();
    let mut children = children;
    for child in &mut children {
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("ftpd listening on ") {
            line.clear();
            assert_ne!(reader.read_line(&mut line).unwrap(), 0, "ftpd exited");
        }
        addresses.push(
            line.trim()
                .trim_start_matches("ftpd listening on ")
                .to_owned(),
        );
    }
    for address in &addresses {
        let mut command = e2e::command(&e2e::ftp_bin());
        command
            .args(["--server", address, "--user", "alice", "--secret-file"])
            .arg(&shared_key)
            .arg("ls")
            .env("FTP_PASSWORD", "password");
        let output = run(command, None);
        assert_eq!(code(&output), 0, "{address}: {}", stderr(&output));
    }
    for mut child in children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn boolean_environment_variables_accept_1_yes_on_and_their_opposites() {
    let site = Site::new("");
    site.add_user("alice", "alice-password", &[]);
    let mut ftpd = site.ftpd(&[]);
    ftpd.env("FTPD_INSECURE_PLAINTEXT", "1");
    let server = site.start_with(ftpd);
    assert_eq!(
        server.fingerprint, None,
        "FTPD_INSECURE_PLAINTEXT=1 serves plain TCP"
    );
    std::fs::create_dir_all(site.root().join("alice")).unwrap();
    std::fs::write(site.root().join("alice/f.txt"), "hello").unwrap();

    let local = site.dir.path().join("got.txt");
    let mut get = server.ftp_unpinned(server.address, "alice", "alice-password");
    get.env("FTP_INSECURE_PLAINTEXT", "yes")
        .env("FTP_NO_FSYNC", "on")
        .args(["get", "f.txt"])
        .arg(&local);
    let output = run(get, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&local).unwrap(), "hello");

    // A false value turns the flag off: TLS against a plaintext server fails (exit 5 or 7).
    let mut ls = server.ftp_unpinned(server.address, "alice", "alice-password");
    ls.env("FTP_INSECURE_PLAINTEXT", "0").arg("ls");
    let output = run(ls, None);
    assert_ne!(code(&output), 0);
    assert_ne!(code(&output), 2, "0 is a valid value: {}", stderr(&output));
}

#[test]
fn user_add_says_when_it_creates_a_new_users_file_and_the_minimum_length_is_configurable() {
    let site = Site::new("min_password_length = 3");
    let list = run(site.ftpd(&["user", "list"]), None);
    let users = site.users_file().display().to_string();
    assert!(
        stderr(&list).contains(&format!("no users file {users} yet")),
        "{}",
        stderr(&list)
    );
    let add = run(
        site.ftpd(&["user", "add", "alice", "--password-stdin"]),
        Some("abc\n"),
    );
    assert_eq!(code(&add), 0, "{}", stderr(&add));
    assert!(
        stderr(&add).contains(&format!("creating a new users file {users}")),
        "{}",
        stderr(&add)
    );
    let again = run(
        site.ftpd(&["user", "add", "bob", "--password-stdin"]),
        Some("abc\n"),
    );
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("new users file"),
        "{}",
        stderr(&again)
    );
    let short = run(
        site.ftpd(&["user", "add", "carol", "--password-stdin"]),
        Some("ab\n"),
    );
    assert_eq!(code(&short), 2);
    assert!(stderr(&short).contains("at least 3"), "{}", stderr(&short));
}

#[test]
fn a_password_file_group_or_others_can_read_is_refused_like_a_key_file() {
    let site = Site::new("");
    site.add_user("alice", "alice-password", &[]);
    let server = site.start();
    let file = site.dir.path().join("password.txt");
    std::fs::write(&file, "alice-password\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ls = |file: &std::path::Path| {
        let mut command = server.ftp("alice", "unused");
        command
            .env_remove("FTP_PASSWORD")
            .arg("--password-file")
            .arg(file)
            .arg("ls");
        run(command, None)
    };
    let output = ls(&file);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let path = file.display().to_string();
    assert!(
        stderr(&output).contains(&format!(
            "{path} can be read by group or others (mode 0644); run `chmod 600 {path}`"
        )),
        "{}",
        stderr(&output)
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = ls(&file);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn maintenance_help_lists_only_the_flags_each_command_uses() {
    let site = Site::new("");
    let every = [
        "--config",
        "--root",
        "--users",
        "--secret-file",
        "--tls-cert",
        "--tls-key",
        "--listen",
        "--insecure-plaintext",
    ];
    let user = &["--config", "--root", "--users"][..];
    for (args, uses) in [
        (&["user", "--help"][..], user),
        (&["user", "list", "--help"], user),
        (&["user", "add", "--help"], user),
        (&["user", "del", "--help"], user),
        (&["user", "passwd", "--help"], user),
        (&["keygen", "--help"], &["--config", "--secret-file"]),
        (
            &["fingerprint", "--help"],
            &["--config", "--tls-cert", "--tls-key"],
        ),
    ] {
        let help = stdout(&run(site.ftpd(args), None));
        for flag in every {
            assert_eq!(
                help.contains(flag),
                uses.contains(&flag),
                "{args:?} and {flag}: {help}"
            );
        }
    }
    let help = stdout(&run(site.ftpd(&["--help"]), None));
    for flag in every {
        assert!(help.contains(flag), "{flag}: {help}");
    }
}

#[test]
fn a_subcommand_takes_the_flags_it_uses_after_its_name_and_notes_the_others() {
    let site = Site::new("");
    site.add_user("alice", "correct horse battery", &[]);
    let users = site.users_file().display().to_string();
    for args in [
        &["user", "list", "--users", &users][..],
        &["user", "--users", &users, "list"],
        &["--users", &users, "user", "list"],
    ] {
        let output = run(site.ftpd(args), None);
        assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
        assert!(stdout(&output).contains("alice"), "{args:?}");
        assert!(!stderr(&output).contains("does nothing"), "{args:?}");
    }
    // Earlier versions took every path flag after any subcommand: scripts that pass one keep
    // working, and are told it did nothing.
    let new_key = site.dir.path().join("other.key").display().to_string();
    for (args, flag) in [
        (
            &["user", "list", "--secret-file", "key"][..],
            "--secret-file",
        ),
        (&["keygen", "--out", &new_key, "--users", &users], "--users"),
        (&["fingerprint", "--root", "."], "--root"),
    ] {
        let output = run(site.ftpd(args), None);
        assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("ftpd: note: {flag} does nothing for this command")),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    // What only serving uses never followed a subcommand.
    let output = run(
        site.ftpd(&["user", "list", "--listen", "127.0.0.1:0"]),
        None,
    );
    assert_eq!(code(&output), 2, "{}", stderr(&output));
}

#[test]
fn a_short_password_typed_at_the_prompt_is_refused_at_once_and_asked_again() {
    let site = Site::new("");
    // Typed at a terminal: too short, then a good one twice.
    let typed = "short\ncorrect horse battery\ncorrect horse battery\n";
    let add = run(
        e2e::on_a_terminal(&site.ftpd(&["user", "add", "alice"])),
        Some(typed),
    );
    let screen = stdout(&add);
    assert_eq!(code(&add), 0, "{screen}{}", stderr(&add));
    assert!(
        screen.contains("it needs at least 8 characters"),
        "{screen}"
    );
    assert!(screen.contains("try again"), "{screen}");
    // Asked for the good one twice, and no second time after the short one.
    assert_eq!(screen.matches("Type it again").count(), 1, "{screen}");
    assert!(stdout(&run(site.ftpd(&["user", "list"]), None)).contains("alice"));

    // Three short ones: refused, nothing added.
    let add = run(
        e2e::on_a_terminal(&site.ftpd(&["user", "add", "bob"])),
        Some("a\nb\nc\n"),
    );
    assert_eq!(code(&add), 2, "{}", stdout(&add));
    assert!(!stdout(&run(site.ftpd(&["user", "list"]), None)).contains("bob"));
}
