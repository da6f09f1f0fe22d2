//! Named client keys through the real binaries: `ftpd key add|list|revoke|rotate`, a key
//! limited to some users, a revoked key's open session cut, rotation with a grace period.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e::{Server, Site, code, random_file, run, stderr, stdout, wait_until};

const PASSWORD: &str = "correct horse battery staple";

fn site() -> Site {
    let site = Site::new("min_transfer_rate = \"0\"\n");
    site.add_user("alice", PASSWORD, &[]);
    site.add_user("bob", PASSWORD, &[]);
    site
}

/// `ftpd key ARGS…`, which must succeed; its stdout.
fn key(site: &Site, args: &[&str]) -> String {
    let mut all = vec!["key"];
    all.extend_from_slice(args);
    let output = run(site.ftpd(&all), None);
    assert_eq!(code(&output), 0, "ftpd key {args:?}: {}", stderr(&output));
    stdout(&output)
}

/// The client key file `ftpd key add NAME` wrote in the site's folder.
fn key_file(site: &Site, name: &str) -> PathBuf {
    site.dir.path().join(format!("{name}.key"))
}

/// `ftp … ARGS` as `user` holding the key file `key`.
fn ftp_with(server: &Server, key: &Path, user: &str, args: &[&str]) -> Command {
    let mut command = e2e::command(&e2e::ftp_bin());
    command
        .arg("--server")
        .arg(server.address.to_string())
        .arg("--secret-file")
        .arg(key)
        .arg("--user")
        .arg(user)
        .arg("--fingerprint")
        .arg(server.fingerprint.as_deref().unwrap())
        .env("FTP_PASSWORD", PASSWORD)
        .env("XDG_CACHE_HOME", server.client_cache())
        .env("XDG_CONFIG_HOME", &server.client_config)
        .args(args);
    command
}

fn ls(server: &Server, key: &Path, user: &str) -> std::process::Output {
    run(ftp_with(server, key, user, &["ls"]), None)
}

#[test]
fn two_keys_one_revoked_its_clients_refused_and_its_open_session_cut() {
    let site = site();
    let server = site.start();
    key(&site, &["add", "laptop"]);
    key(&site, &["add", "ci"]);
    let (laptop, ci) = (key_file(&site, "laptop"), key_file(&site, "ci"));
    let text = std::fs::read_to_string(&laptop).unwrap();
    assert!(text.contains("name = laptop"), "{text}");
    for file in [&laptop, &ci, &site.dir.path().join("ftpd-keys.toml")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    for file in [&laptop, &ci] {
        let output = ls(&server, file, "alice");
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    server.wait_for_log("key=laptop");
    server.wait_for_log("key=ci");
    // The old shared key keeps working, as `default`.
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    server.wait_for_log("key=default");

    // A slow download with the laptop's key, in progress when the key is revoked.
    let home = site.root().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    random_file(&home.join("big.bin"), 16 << 20, 5);
    let folder = site.dir.path().join("down");
    std::fs::create_dir_all(&folder).unwrap();
    let mut command = ftp_with(
        &server,
        &laptop,
        "alice",
        &["get", "big.bin", "--limit-rate", "256K", "--retries", "0"],
    );
    command
        .current_dir(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let client = command.spawn().unwrap();
    let part = e2e::part_of(&folder.join("big.bin"));
    wait_until("part of the download on disk", || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() > 0)
    });

    let said = key(&site, &["revoke", "laptop"]);
    assert!(said.contains("revoked key laptop"), "{said}");
    // New connections with it are refused at once (exit 3), the other key's are not.
    let output = ls(&server, &laptop, "alice");
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stderr(&output).contains("laptop"), "{}", stderr(&output));
    let output = ls(&server, &ci, "alice");
    assert_eq!(code(&output), 0, "{}", stderr(&output));

    // The open session ends with a clear error.
    let output = e2e::output_of(client, "the revoked download");
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stderr(&output).contains("revoked"), "{}", stderr(&output));
    server.wait_for_log("ending the session: its key was revoked");

    let listed = key(&site, &["list"]);
    assert!(
        listed.contains("ci") && !listed.contains("laptop"),
        "{listed}"
    );
    assert!(listed.contains("default"), "{listed}");
    assert!(
        !server
            .log()
            .contains(&std::fs::read_to_string(&ci).unwrap()[80..])
    );
}

#[test]
fn a_key_limited_to_one_user_is_refused_for_another() {
    let site = site();
    let server = site.start();
    key(&site, &["add", "script", "--users", "alice"]);
    let script = key_file(&site, "script");
    let output = ls(&server, &script, "alice");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let output = ls(&server, &script, "bob");
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("may not log in"),
        "{}",
        stderr(&output)
    );
    let listed = key(&site, &["list"]);
    assert!(
        listed.contains("script") && listed.contains("alice"),
        "{listed}"
    );
}

#[test]
fn a_rotated_key_is_valid_with_the_old_one_in_its_grace_and_alone_after() {
    let site = site();
    let server = site.start();
    key(&site, &["add", "fleet"]);
    let old = key_file(&site, "fleet");
    let new = site.dir.path().join("fleet-new.key");
    let said = key(
        &site,
        &[
            "rotate",
            "fleet",
            "--grace",
            "3s",
            "--out",
            new.to_str().unwrap(),
        ],
    );
    assert!(said.contains("rotated key fleet"), "{said}");
    for file in [&new, &old] {
        let output = ls(&server, file, "alice");
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    wait_until("the old key refused after its grace", || {
        code(&ls(&server, &old, "alice")) == 3
    });
    let output = ls(&server, &new, "alice");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn key_commands_refuse_bad_requests() {
    let site = site();
    for args in [
        &["add", "default"][..],
        &["add", "a b"][..],
        &["revoke", "nobody"][..],
        &["rotate", "default"][..],
        &["add", "x", "--users", "a/b"][..],
    ] {
        let mut all = vec!["key"];
        all.extend_from_slice(args);
        let output = run(site.ftpd(&all), None);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
    }
    key(&site, &["add", "box"]);
    // Never over an existing key file.
    let output = run(site.ftpd(&["key", "add", "box2", "--out", "box.key"]), None);
    assert_ne!(code(&output), 0, "{}", stdout(&output));
}
