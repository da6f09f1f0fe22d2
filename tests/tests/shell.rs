//! The interactive session (`ftp` at a terminal, `ftp shell`) driven through a real pty: the
//! prompt, the hidden password, completion of a remote name, `cd` then `get`, Ctrl-C during a
//! `put` and the same `put` resuming, reconnects after a server restart and an idle timeout,
//! the history file, the local builtins with names holding spaces, and what is typed ahead while
//! a password is checked (neither shown nor used).

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e::{Server, Site, random_file, same_content, wait_until};
use rexpect::session::PtySession;

const PASSWORD: &str = "shell-password-1";
const MIB: usize = 1 << 20;

fn site(extra: &str) -> Site {
    let site = Site::new(extra);
    site.add_user("alice", PASSWORD, &[]);
    std::fs::create_dir_all(home(&site)).unwrap();
    site
}

fn home(site: &Site) -> PathBuf {
    site.root().join("alice")
}

/// A folder of the test's own for the client to run in.
fn local(site: &Site) -> PathBuf {
    let folder = site.dir.path().join("local");
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// `ftp ARGS…` on a pty in `local(site)`; with `typed`, the password is not in the
/// environment and must be typed at the prompt.
fn spawn(site: &Site, server: &Server, args: &[&str], typed: bool) -> PtySession {
    let mut command: Command = server.ftp("alice", PASSWORD);
    if typed {
        command.env_remove("FTP_PASSWORD");
    }
    command
        .args(args)
        .current_dir(local(site))
        // The pty's, not the helper's /dev/null.
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .env("TERM", "vt100")
        .env("XDG_STATE_HOME", site.dir.path().join("state"));
    rexpect::session::spawn_command(command, Some(60_000)).unwrap()
}

/// The prompt in `folder`.
fn prompt(server: &Server, folder: &str) -> String {
    format!("alice@{}:{folder}> ", server.address)
}

/// Ends the session with `exit` and checks it ended well.
fn exit(mut shell: PtySession) {
    shell.send_line("exit").unwrap();
    shell.exp_eof().unwrap();
    let status = shell.process().wait().unwrap();
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Exited(_, 0)),
        "{status:?}"
    );
}

/// How many logins the server logged.
fn logins(server: &Server) -> usize {
    server.log().matches("logged in").count()
}

#[test]
fn a_session_logs_in_once_completes_remote_names_and_keeps_a_private_history() {
    let site = site("");
    let server = site.start();
    std::fs::create_dir_all(home(&site).join("photos")).unwrap();
    random_file(&home(&site).join("photos/remote file.bin"), 3000, 1);

    // No command, at a terminal: the session; the password asked for, hidden.
    let mut shell = spawn(&site, &server, &[], true);
    shell.exp_string("Password for alice@").unwrap();
    shell.send_line(PASSWORD).unwrap();
    let shown = shell.exp_string(&prompt(&server, "/")).unwrap();
    assert!(
        !shown.contains(PASSWORD),
        "the password was echoed: {shown}"
    );

    // Ctrl-C at the prompt drops the line and the session goes on.
    shell.send("junk words").unwrap();
    shell.flush().unwrap();
    shell.exp_string("junk words").unwrap();
    shell.send_control('c').unwrap();
    shell.exp_string(&prompt(&server, "/")).unwrap();
    shell.send_line("cd photos").unwrap();
    shell.exp_string(&prompt(&server, "/photos")).unwrap();
    // Completion of the remote name (a space in it), then the download into the local folder.
    shell.send("get rem").unwrap();
    shell.flush().unwrap();
    shell.send("\t").unwrap();
    shell.flush().unwrap();
    shell.exp_string("remote\\ file.bin").unwrap();
    shell.send_line("").unwrap();
    shell.exp_string("verified").unwrap();
    shell.exp_string(&prompt(&server, "/photos")).unwrap();
    assert!(same_content(
        &home(&site).join("photos/remote file.bin"),
        &local(&site).join("remote file.bin")
    ));
    // A failed line is told and the session goes on; a global option is refused on a line.
    shell.send_line("stat nosuch").unwrap();
    shell.exp_string("ftp: error: ").unwrap();
    shell.exp_string(&prompt(&server, "/photos")).unwrap();
    shell.send_line("ls --password-file /nonexistent").unwrap();
    shell
        .exp_string("is an option of the whole session")
        .unwrap();
    shell.exp_string(&prompt(&server, "/photos")).unwrap();
    shell.send_line("pwd").unwrap();
    shell.exp_string("/photos\r\n").unwrap();
    // Two lines pasted at once (bracketed paste, as a terminal sends a paste) run one by one.
    shell
        .send("\x1b[200~mkdir pasted-one\nmkdir pasted-two\x1b[201~\r")
        .unwrap();
    shell.flush().unwrap();
    shell.exp_string(&prompt(&server, "/photos")).unwrap();
    shell.send_line("stat pasted-two").unwrap();
    shell.exp_string("pasted-two").unwrap();
    shell.exp_string(&prompt(&server, "/photos")).unwrap();
    for pasted in ["pasted-one", "pasted-two"] {
        assert!(home(&site).join("photos").join(pasted).is_dir(), "{pasted}");
    }
    exit(shell);
    assert_eq!(logins(&server), 1, "{}", server.log());

    let history = site.dir.path().join("state/ftp/history");
    let text = std::fs::read_to_string(&history).unwrap();
    assert!(text.contains("cd photos"), "{text}");
    assert!(!text.to_lowercase().contains("password"), "{text}");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&history), 0o600);
    assert_eq!(mode(history.parent().unwrap()), 0o700);
}

#[test]
fn ctrl_c_stops_a_put_and_returns_to_the_prompt_and_the_same_put_resumes() {
    let site = site("");
    let server = site.start();
    let big = local(&site).join("big.bin");
    random_file(&big, 8 * MIB, 2);

    let mut shell = spawn(&site, &server, &["shell"], false);
    shell.exp_string(&prompt(&server, "/")).unwrap();
    shell
        .send_line("put --limit-rate 2M --retries 0 big.bin")
        .unwrap();
    wait_until("part of the upload on the server", || {
        e2e::partial_bytes(&site.root()) >= MIB as u64
    });
    shell.send_control('c').unwrap();
    shell.exp_string("run the same command to resume").unwrap();
    shell.exp_string(&prompt(&server, "/")).unwrap();
    assert!(!home(&site).join("big.bin").exists());
    shell.send_line("put big.bin").unwrap();
    shell.exp_string("resumed from").unwrap();
    shell.exp_string(&prompt(&server, "/")).unwrap();
    exit(shell);
    assert!(same_content(&big, &home(&site).join("big.bin")));
}

#[test]
fn the_next_command_after_a_server_restart_reconnects_without_asking() {
    let site = site("");
    let mut server = site.start();
    std::fs::write(home(&site).join("first.txt"), "1").unwrap();
    let mut shell = spawn(&site, &server, &["shell"], true);
    shell.exp_string("Password for alice@").unwrap();
    shell.send_line(PASSWORD).unwrap();
    shell.exp_string(&prompt(&server, "/")).unwrap();
    shell.send_line("ls").unwrap();
    shell.exp_string("first.txt").unwrap();
    shell.exp_string(&prompt(&server, "/")).unwrap();

    // The same server again, on the same address.
    let address = server.address;
    server.kill();
    let config = std::fs::read_to_string(site.config_file()).unwrap();
    std::fs::write(
        site.config_file(),
        config.replace("127.0.0.1:0", &address.to_string()),
    )
    .unwrap();
    std::fs::write(home(&site).join("second.txt"), "2").unwrap();
    let server = site.start();
    assert_eq!(server.address, address);

    shell.send_line("ls").unwrap();
    let shown = shell.exp_string("second.txt").unwrap();
    assert!(!shown.contains("Password for"), "asked again: {shown}");
    shell.exp_string(&prompt(&server, "/")).unwrap();
    exit(shell);
    assert_eq!(logins(&server), 1, "{}", server.log());
}

#[test]
fn the_next_command_after_the_servers_idle_timeout_reconnects() {
    let site = site("idle_timeout = \"1s\"");
    let server = site.start();
    std::fs::write(home(&site).join("kept.txt"), "1").unwrap();
    let mut shell = spawn(&site, &server, &["shell"], false);
    shell.exp_string(&prompt(&server, "/")).unwrap();
    server.wait_for_log("idle timeout");
    shell.send_line("ls").unwrap();
    let shown = shell.exp_string("kept.txt").unwrap();
    assert!(!shown.contains("error"), "{shown}");
    shell.exp_string(&prompt(&server, "/")).unwrap();
    exit(shell);
    assert!(logins(&server) >= 2, "{}", server.log());
}

#[test]
fn lcd_lls_mput_and_mget_take_names_with_spaces() {
    let site = site("");
    let server = site.start();
    let mine = local(&site).join("my files");
    std::fs::create_dir_all(&mine).unwrap();
    random_file(&mine.join("a one.txt"), 100, 1);
    random_file(&mine.join("b two.txt"), 200, 2);
    random_file(&mine.join("skip.log"), 10, 3);
    std::fs::create_dir_all(home(&site).join("in box")).unwrap();
    random_file(&home(&site).join("in box/c three.txt"), 300, 4);

    let mut shell = spawn(&site, &server, &["shell"], false);
    shell.exp_string(&prompt(&server, "/")).unwrap();
    let top = prompt(&server, "/");
    let run = |shell: &mut PtySession, line: &str, shown: &str, next: &str| {
        shell.send_line(line).unwrap();
        if !shown.is_empty() {
            shell.exp_string(shown).unwrap();
        }
        shell.exp_string(next).unwrap();
    };
    run(&mut shell, "lcd 'my files'", "", &top);
    run(&mut shell, "lpwd", "my files\r\n", &top);
    run(&mut shell, "lls", "b two.txt", &top);
    run(&mut shell, "mkdir \"up load\"", "", &top);
    let up = prompt(&server, "/up load");
    run(&mut shell, "cd up\\ load", "", &up);
    run(&mut shell, "mput *.txt", "2 files", &up);
    let inbox = prompt(&server, "/in box");
    run(&mut shell, "cd '../in box'", "", &inbox);
    run(&mut shell, "mget 'c *'", "1 file", &inbox);
    exit(shell);

    let up = home(&site).join("up load");
    assert!(same_content(&mine.join("a one.txt"), &up.join("a one.txt")));
    assert!(same_content(&mine.join("b two.txt"), &up.join("b two.txt")));
    assert!(!up.join("skip.log").exists());
    assert!(same_content(
        &home(&site).join("in box/c three.txt"),
        &mine.join("c three.txt")
    ));
}

#[test]
fn a_password_refused_on_reconnecting_is_told_and_asked_again() {
    let site = site("idle_timeout = \"1s\"");
    let server = site.start();
    std::fs::write(home(&site).join("kept.txt"), "1").unwrap();
    let mut shell = spawn(&site, &server, &["shell"], true);
    shell.exp_string("Password for alice@").unwrap();
    shell.send_line(PASSWORD).unwrap();
    shell.exp_string(&prompt(&server, "/")).unwrap();
    // The password changes on the server while the session's connection is closed for idling.
    let changed = "shell-password-2";
    let output = e2e::run(
        site.ftpd(&["user", "passwd", "alice", "--password-stdin"]),
        Some(&format!("{changed}\n")),
    );
    assert_eq!(e2e::code(&output), 0, "{}", e2e::stderr(&output));
    server.wait_for_log("idle timeout");
    shell.send_line("ls").unwrap();
    shell.exp_string("logging in again failed").unwrap();
    shell.exp_string("Password for alice@").unwrap();
    shell.send_line(changed).unwrap();
    shell.exp_string("kept.txt").unwrap();
    shell.exp_string(&prompt(&server, "/")).unwrap();
    exit(shell);
}

#[test]
fn a_password_typed_ahead_while_one_is_checked_is_neither_shown_nor_used() {
    // A wrong password's answer comes 3 s late; meanwhile the user types it again, ahead of the
    // retry prompt. What is typed then must not show on the screen, nor be taken as the next
    // password (or be left for the shell once the client exits).
    let site = site("login_failure_delay = \"3s\"\n");
    let server = site.start();
    // A terminal that echoes, as a user's does (the pty starts without echo).
    let ftp: Command = server.ftp("alice", PASSWORD);
    let mut command = Command::new("sh");
    command
        .args(["-c", "stty echo && exec \"$0\" \"$@\""])
        .arg(ftp.get_program())
        .args(ftp.get_args())
        .arg("ls")
        .current_dir(local(&site))
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .env("TERM", "vt100");
    for (name, value) in ftp.get_envs() {
        match value {
            Some(value) if name != "FTP_PASSWORD" => command.env(name, value),
            _ => command.env_remove(name),
        };
    }
    command.env_remove("FTP_PASSWORD");
    let mut shell = rexpect::session::spawn_command(command, Some(60_000)).unwrap();
    let mut screen = shell.exp_string("Password for alice@").unwrap();
    shell.send_line("WrongPassword77").unwrap();
    server.wait_for_log("checking a password");
    shell.send_line("TypedAhead99").unwrap();
    screen += &shell.exp_string("try again").unwrap();
    screen += &shell.exp_string("Password for alice@").unwrap();
    shell.send_line(PASSWORD).unwrap();
    screen += &shell.exp_eof().unwrap();
    assert!(!screen.contains("TypedAhead99"), "echoed: {screen}");
    assert_eq!(
        server.log().matches("checking a password").count(),
        2,
        "the wrong password and the right one, not what was typed ahead: {}",
        server.log()
    );
    let status = shell.process().wait().unwrap();
    assert!(
        matches!(status, rexpect::process::wait::WaitStatus::Exited(_, 0)),
        "{status:?}: {screen}"
    );
}
