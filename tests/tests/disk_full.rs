//! A full server disk through the real server, on a small tmpfs mounted as the root (skipped,
//! saying why, when this process may not mount): an upload the free space less `disk_reserve`
//! cannot hold is refused before any data is sent, chunked or whole; one that fills the disk
//! while it is received keeps its partial and resumes once space returns; downloads, listings
//! and uploads that fit go on.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::{Site, code, random_file, same_content, stderr, stdout};

const PASSWORD: &str = "disk-password";
const MIB: usize = 1 << 20;

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(stdout(output).trim()).expect("one JSON object")
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `path`; `None` when this process may not mount.
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(path.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Mounts a tmpfs of `size` as the site's root, or says why the test is skipped (`None`).
fn small_disk(site: &Site, size: &str) -> Option<Tmpfs> {
    let disk = Tmpfs::mount(&site.root(), size);
    if disk.is_none() {
        let root = std::process::Command::new("id").arg("-u").output().unwrap();
        assert_ne!(
            String::from_utf8_lossy(&root.stdout).trim(),
            "0",
            "root must be able to mount a tmpfs"
        );
        eprintln!("SKIPPED: mounting a tmpfs needs root; run the suite as root (CI does)");
    }
    disk
}

#[test]
fn a_full_disk_keeps_the_partial_and_the_upload_resumes_once_space_returns() {
    let site = Site::new("disk_reserve = \"0\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let Some(disk) = small_disk(&site, "12m") else {
        return;
    };
    let server = site.start();
    let local = site.dir.path().join("big.bin");
    random_file(&local, 10 * MIB, 60);
    // The upload fits when it starts; the disk fills while it is received.
    let mut put = server.ftp("alice", PASSWORD);
    put.args(["put", local.to_str().unwrap(), "--limit-rate", "2M"]);
    put.stdout(Stdio::piped()).stderr(Stdio::piped());
    let put = put.spawn().unwrap();
    server.wait_for_log("receiving upload");
    let filler = site.root().join("filler");
    std::fs::write(&filler, vec![1u8; 4 * MIB]).unwrap();
    let output = e2e::output_of(put, "a put onto a disk that fills");
    assert_eq!(
        code(&output),
        1,
        "documented exit code for a full server disk: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("disk is full"),
        "{}",
        stderr(&output)
    );
    let kept = e2e::partial_bytes(&site.root());
    assert!(kept > MIB as u64, "the partial is kept ({kept} bytes)");
    assert!(!site.root().join("alice/big.bin").exists());

    std::fs::remove_file(&filler).unwrap();
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["--json", "put", local.to_str().unwrap()],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(json(&output)["resumed_from"].as_u64().unwrap() > 0);
    assert!(same_content(&local, &site.root().join("alice/big.bin")));
    drop(server);
    drop(disk);
}

#[test]
fn an_upload_the_disk_cannot_hold_is_refused_before_any_data_and_smaller_ones_still_land() {
    let site = Site::new("");
    site.add_user("alice", PASSWORD, &[]);
    let Some(disk) = small_disk(&site, "8m") else {
        return;
    };
    let server = site.start();
    let big = site.dir.path().join("big.bin");
    random_file(&big, 10 * MIB, 61);
    let output = server.run_ftp("alice", PASSWORD, &["put", big.to_str().unwrap()]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("the server's disk has ")
            && message.contains("kept in reserve")
            && message.contains("big.bin needs 10.0 MiB more"),
        "{message}"
    );
    assert_eq!(e2e::partial_bytes(&site.root()), 0, "nothing was stored");
    assert!(!site.root().join("alice/big.bin").exists());
    assert!(
        !server.log().contains("receiving upload"),
        "{}",
        server.log()
    );

    // Small files (sent whole) and a chunked upload that fit still land; listings still work.
    let small = site.dir.path().join("small.txt");
    std::fs::write(&small, b"7 bytes").unwrap();
    let output = server.run_ftp("alice", PASSWORD, &["put", small.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let medium = site.dir.path().join("medium.bin");
    random_file(&medium, 3 * MIB, 62);
    let output = server.run_ftp("alice", PASSWORD, &["put", medium.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(same_content(&medium, &site.root().join("alice/medium.bin")));
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(stdout(&output).contains("small.txt"), "{}", stdout(&output));

    drop(server);
    drop(disk);
}

#[test]
fn small_files_are_refused_inside_the_reserve_while_downloads_and_listings_go_on() {
    let site = Site::new("disk_reserve = \"8M\"\n");
    site.add_user("alice", PASSWORD, &[]);
    let Some(disk) = small_disk(&site, "8m") else {
        return;
    };
    let server = site.start();
    std::fs::create_dir_all(site.root().join("alice")).unwrap();
    std::fs::write(site.root().join("alice/kept.txt"), b"kept").unwrap();
    let small = site.dir.path().join("small.txt");
    std::fs::write(&small, b"7 bytes").unwrap();
    let other = site.dir.path().join("other.txt");
    std::fs::write(&other, b"five!").unwrap();
    // A single file goes in chunks, several small ones whole: both ways are guarded.
    let output = server.run_ftp("alice", PASSWORD, &["put", small.to_str().unwrap()]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(8.0 MiB kept in reserve); /small.txt needs 7 bytes more"),
        "{}",
        stderr(&output)
    );
    let (small, other) = (small.to_str().unwrap(), other.to_str().unwrap());
    let output = server.run_ftp("alice", PASSWORD, &["put", small, other, "--to", "/"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("/small.txt needs 7 bytes more")
            && stderr(&output).contains("/other.txt needs 5 bytes more"),
        "{}",
        stderr(&output)
    );
    assert!(!site.root().join("alice/small.txt").exists());
    assert!(!site.root().join("alice/other.txt").exists());
    assert_eq!(e2e::partial_bytes(&site.root()), 0);
    let output = server.run_ftp("alice", PASSWORD, &["ls"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(stdout(&output).contains("kept.txt"), "{}", stdout(&output));
    let local = site.dir.path().join("got.txt");
    let output = server.run_ftp(
        "alice",
        PASSWORD,
        &["get", "kept.txt", local.to_str().unwrap()],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(std::fs::read(&local).unwrap(), b"kept");
    drop(server);
    drop(disk);
}
