//! The client config file through the real `ftp` (named servers, precedence, refusals), and
//! the completion scripts and man pages of both binaries.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e::{Server, Site, code, command, ftp_bin, ftpd_bin, run, stderr, stdout};

const PASSWORD: &str = "correct horse battery staple";

/// A running server with user alice, who has one file.
fn server() -> (Site, Server) {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let server = site.start();
    std::fs::create_dir_all(site.root().join("alice")).unwrap();
    std::fs::write(site.root().join("alice/from-config.txt"), b"12345").unwrap();
    (site, server)
}

/// Writes `text` to `path` with `mode`, creating its folder.
fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A `[servers.box]` table for `server` as `user`, its password in `pw` beside the file.
fn table(server: &Server, user: &str) -> String {
    format!(
        "[servers.box]\naddress = \"{}\"\nuser = \"{user}\"\nsecret_file = {:?}\nfingerprint = \"{}\"\npassword_file = \"pw\"\n",
        server.address,
        server.key,
        server.fingerprint.as_deref().unwrap()
    )
}

/// Bare `ftp` (no server, key, user or password given) with `XDG_CONFIG_HOME` at `config`.
fn ftp(config: &Path) -> Command {
    let mut command = command(&ftp_bin());
    command.env("XDG_CONFIG_HOME", config);
    command
}

/// A config file holding `text` and its password file `pw` (both 0600) in a fresh folder.
fn config_folder(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ftp.toml");
    write(&file, text, 0o600);
    write(&dir.path().join("pw"), &format!("{PASSWORD}\n"), 0o600);
    (dir, file)
}

#[test]
fn a_server_name_logs_in_with_what_its_table_says() {
    let (site, server) = server();
    let xdg = site.client_config();
    write(
        &xdg.join("ftp/config.toml"),
        &table(&server, "alice"),
        0o600,
    );
    write(&xdg.join("ftp/pw"), &format!("{PASSWORD}\n"), 0o600);

    let mut by_flag = ftp(&xdg);
    by_flag.args(["--server", "box", "ls"]);
    let output = run(by_flag, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("from-config.txt"),
        "{}",
        stdout(&output)
    );

    let mut by_env = ftp(&xdg);
    by_env.env("FTP_SERVER", "box").arg("ls");
    let output = run(by_env, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(stdout(&output).contains("from-config.txt"));
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file() {
    let (site, server) = server();
    // The file names a user the server does not know.
    let (_dir, file) = config_folder(&table(&server, "mallory"));
    let spare = site.client_config();
    let attempt = |env_user: Option<&str>, flag_user: Option<&str>| {
        let mut command = ftp(&spare);
        command.env("FTP_CONFIG", &file).args(["--server", "box"]);
        if let Some(user) = env_user {
            command.env("FTP_USER", user);
        }
        if let Some(user) = flag_user {
            command.args(["--user", user]);
        }
        command.arg("ls");
        run(command, None)
    };
    let output = attempt(None, None);
    assert_eq!(code(&output), 3, "the file's user: {}", stderr(&output));
    let output = attempt(Some("alice"), None);
    assert_eq!(
        code(&output),
        0,
        "the environment's user: {}",
        stderr(&output)
    );
    let output = attempt(Some("mallory"), Some("alice"));
    assert_eq!(code(&output), 0, "the flag's user: {}", stderr(&output));
    let output = attempt(Some("alice"), Some("mallory"));
    assert_eq!(code(&output), 3, "the flag's user: {}", stderr(&output));

    // The environment's password beats the file's password_file (which holds the right one).
    let password = |env_password: &str| {
        let mut command = ftp(&spare);
        command
            .env("FTP_CONFIG", &file)
            .env("FTP_PASSWORD", env_password)
            .args(["--server", "box", "--user", "alice", "ls"]);
        run(command, None)
    };
    let output = password("not-the-password");
    assert_eq!(
        code(&output),
        3,
        "the environment's password: {}",
        stderr(&output)
    );
    let output = password(PASSWORD);
    assert_eq!(
        code(&output),
        0,
        "the environment's password: {}",
        stderr(&output)
    );
}

#[test]
fn exposed_files_are_refused_with_the_chmod_that_fixes_them() {
    let (site, server) = server();
    let (dir, file) = config_folder(&table(&server, "alice"));
    let attempt = || {
        let mut command = ftp(&site.client_config());
        command
            .arg("--config")
            .arg(&file)
            .args(["--server", "box", "ls"]);
        run(command, None)
    };
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
    let output = attempt();
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("chmod go-w {}", file.display())),
        "{}",
        stderr(&output)
    );

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let pw = dir.path().join("pw");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = attempt();
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("chmod 600 {}", pw.display())),
        "{}",
        stderr(&output)
    );

    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = attempt();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn bad_files_are_usage_errors_naming_the_file_and_line() {
    let spare = tempfile::tempdir().unwrap();
    let (_dir, file) = config_folder("[servers.box]\naddress = \"h\"\nusr = \"alice\"\n");
    let mut command = ftp(spare.path());
    command.arg("--config").arg(&file).arg("ls");
    let output = run(command, None);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("{}:3: unknown field `usr`", file.display())),
        "{}",
        stderr(&output)
    );

    let missing = spare.path().join("none.toml");
    let mut command = ftp(spare.path());
    command.env("FTP_CONFIG", &missing).arg("ls");
    let output = run(command, None);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
}

/// `BINARY ARGS…` run to completion: its exit code and stdout.
fn docs(binary: &Path, args: &[&str]) -> (i32, String) {
    let mut command = command(binary);
    command.args(args);
    let output = run(command, None);
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    (code(&output), stdout(&output))
}

/// Whether `program` can be run here.
fn exists(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn completion_scripts_name_the_subcommands() {
    for (binary, name, subcommand) in [(ftp_bin(), "ftp", "put"), (ftpd_bin(), "ftpd", "keygen")] {
        let (status, bash) = docs(&binary, &["completions", "bash"]);
        assert_eq!(status, 0);
        assert!(
            bash.contains(subcommand) && bash.contains("complete -F"),
            "{bash}"
        );
        if exists("bash") {
            let checked = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(checked.path(), &bash).unwrap();
            let status = Command::new("bash").arg("-n").arg(checked.path()).status();
            assert!(
                status.unwrap().success(),
                "bash -n rejects the {name} script"
            );
        }
        let (status, zsh) = docs(&binary, &["completions", "zsh"]);
        assert_eq!(status, 0);
        assert!(zsh.starts_with(&format!("#compdef {name}")), "{zsh}");
        assert!(zsh.contains(subcommand));
        let (status, fish) = docs(&binary, &["completions", "fish"]);
        assert_eq!(status, 0);
        assert!(fish.contains(&format!("complete -c {name}")) && fish.contains(subcommand));
    }
    let mut other = command(&ftp_bin());
    other.args(["completions", "tcsh"]);
    assert_eq!(code(&run(other, None)), 2);
}

#[test]
fn man_pages_are_roff_naming_the_options() {
    let (status, page) = docs(&ftp_bin(), &["man"]);
    assert_eq!(status, 0);
    assert!(page.contains(".TH ftp 1"), "{page}");
    assert!(
        page.contains(r"\-\-config") && page.contains(r"\-\-server"),
        "{page}"
    );
    let (status, page) = docs(&ftpd_bin(), &["man"]);
    assert_eq!(status, 0);
    assert!(
        page.contains(".TH ftpd 1") && page.contains(r"\-\-root"),
        "{page}"
    );

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("man/man1");
    for binary in [ftp_bin(), ftpd_bin()] {
        let (status, _) = docs(&binary, &["man", "--out", dir.to_str().unwrap()]);
        assert_eq!(status, 0);
    }
    for page in [
        "ftp.1",
        "ftp-put.1",
        "ftp-sync.1",
        "ftpd.1",
        "ftpd-user-add.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
    assert!(!dir.join("ftp-help.1").exists());
    if exists("man") {
        let rendered = Command::new("man")
            .arg("-l")
            .arg(dir.join("ftp-put.1"))
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{rendered:?}");
        assert!(String::from_utf8_lossy(&rendered.stdout).contains("limit"));
    }
}

#[test]
fn a_reader_that_goes_away_early_is_no_error() {
    let mut command = command(&ftp_bin());
    command
        .arg("man")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // Closed before the page is written: the write meets a broken pipe.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
}
