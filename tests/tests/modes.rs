//! The modes of what the server creates do not depend on its umask: under umask 000 the root,
//! the internal folders, homes, created folders and stored files are private by default
//! (0700 and 0600), and configured `file_mode` / `dir_mode` are applied exactly, even under a
//! umask that would take bits away.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use e2e::{Server, Site, code, ftpd_bin, random_file, stderr};

/// Starts the site's server with `umask` in force.
fn start_under_umask(site: &Site, umask: &str) -> Server {
    let ftpd = site.ftpd(&[]);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(ftpd_bin())
        .args(ftpd.get_args())
        .current_dir(site.dir.path());
    for (name, value) in ftpd.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    site.start_with(command)
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Uploads one file into a new folder, several small ones (sent whole) into another, and
/// makes a folder; returns the local folder of the sources.
fn upload_everything(site: &Site, server: &Server) {
    let local = site.dir.path().join("local");
    std::fs::create_dir_all(&local).unwrap();
    // Past one checkpoint interval (16 MiB), so the server keeps a checkpoint list too.
    random_file(&local.join("big.bin"), 17 << 20, 1);
    std::fs::write(local.join("a.txt"), "a").unwrap();
    std::fs::write(local.join("b.txt"), "b").unwrap();
    let big = local.join("big.bin");
    let (a, b) = (local.join("a.txt"), local.join("b.txt"));
    for args in [
        &["put", big.to_str().unwrap(), "new/deeper/big.bin"][..],
        &[
            "put",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--to",
            "small/inner/",
        ],
        &["mkdir", "made/here"],
    ] {
        let output = server.run_ftp("alice", "password", args);
        assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn under_umask_000_everything_created_is_private() {
    let site = Site::new("");
    site.add_user("alice", "password", &[]);
    let server = start_under_umask(&site, "000");
    upload_everything(&site, &server);
    let root = site.root();
    let internal = root.join(".ftpd-internal");
    for folder in [
        root.clone(),
        internal.clone(),
        internal.join("partials"),
        internal.join("partials/whole-a"),
        internal.join("partials/whole-b"),
        internal.join("checkpoints"),
        root.join("alice"),
        root.join("alice/new"),
        root.join("alice/new/deeper"),
        root.join("alice/small"),
        root.join("alice/small/inner"),
        root.join("alice/made"),
        root.join("alice/made/here"),
    ] {
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
    }
    for file in [
        "alice/new/deeper/big.bin",
        "alice/small/inner/a.txt",
        "alice/small/inner/b.txt",
    ] {
        assert_eq!(mode(&root.join(file)), 0o600, "{file}");
    }
    // Whatever the server keeps for itself (checkpoint lists, served digests) is private too.
    let mut kept = 0;
    let mut folders = vec![internal];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                kept += 1;
                assert_eq!(mode(&path) & 0o077, 0, "{}", path.display());
            }
        }
    }
    assert!(
        kept > 0,
        "the upload left the server's own records to check"
    );
}

#[test]
fn configured_modes_are_applied_exactly_whatever_the_umask() {
    let site = Site::new("file_mode = \"0640\"\ndir_mode = \"0750\"\n");
    site.add_user("alice", "password", &[]);
    // An internal folder an older server left open is closed again at start.
    std::fs::create_dir_all(site.root().join(".ftpd-internal")).unwrap();
    std::fs::set_permissions(
        site.root().join(".ftpd-internal"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let server = start_under_umask(&site, "077");
    upload_everything(&site, &server);
    let root = site.root();
    assert_eq!(mode(&root.join(".ftpd-internal")), 0o700);
    for folder in [
        "alice",
        "alice/new/deeper",
        "alice/small/inner",
        "alice/made/here",
    ] {
        assert_eq!(mode(&root.join(folder)), 0o750, "{folder}");
    }
    for file in ["alice/new/deeper/big.bin", "alice/small/inner/a.txt"] {
        assert_eq!(mode(&root.join(file)), 0o640, "{file}");
    }
}

#[test]
fn a_mode_that_locks_the_server_out_is_a_startup_error() {
    let site = Site::new("file_mode = \"0444\"\n");
    let output = e2e::run(site.ftpd(&[]), None);
    // A setting the user can fix: exit 2, as for every invalid setting.
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("file_mode") && message.contains("owner"),
        "{message}"
    );
}
