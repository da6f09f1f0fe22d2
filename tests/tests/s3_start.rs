//! `ftpd` with `storage = "s3"` against a real radosgw (the `radosgw-fixture`, one per test
//! process): it starts and prints its connect line when the bucket is there and the credentials
//! good, and refuses to start, with a message naming the cause, when the bucket does not exist,
//! the credentials are refused, or the credentials file can be read by others.

// Test code: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use e2e::{Site, code, run, stderr};
use radosgw_fixture::Radosgw;

/// The radosgw of this test process; a missing Ceph fails the test loudly.
fn radosgw() -> &'static Radosgw {
    radosgw_fixture::shared().expect("radosgw fixture (Ceph packages are installed by .ci/run)")
}

/// A site whose homes are in `bucket` on the fixture's radosgw, with `extra` lines in `[s3]`.
fn s3_site(gw: &Radosgw, bucket: &str, extra: &str) -> Site {
    Site::new(&format!(
        "storage = \"s3\"\n[s3]\nendpoint = {:?}\nbucket = {bucket:?}\nregion = {:?}\nprefix = \"ftpd/test\"\n{extra}",
        gw.endpoint, gw.region
    ))
}

/// `ftpd` for `site` with these credentials in the environment (`None`: none there).
fn ftpd_with(site: &Site, credentials: Option<(&str, &str)>) -> Command {
    let mut command = site.ftpd(&[]);
    command
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    if let Some((id, secret)) = credentials {
        command
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret);
    }
    command
}

#[test]
fn with_a_fresh_bucket_it_starts_and_prints_its_connect_line() {
    let gw = radosgw();
    let bucket = gw.bucket("ftpd-start").expect("create bucket");
    let site = s3_site(gw, &bucket, "");
    let mut server = site.start_with(ftpd_with(&site, Some((&gw.access_key, &gw.secret_key))));
    assert!(server.is_running());
    let line = server.connect_line.clone().expect("a connect line");
    assert!(line.contains(&server.address.to_string()), "{line}");
    assert!(!site.root().exists(), "the local root is not made with S3");
    assert!(
        !server.log().contains(&gw.secret_key),
        "the secret is never logged"
    );
}

/// A credentials file holding the gateway's keys, of `mode`, in `dir`.
fn credentials_file(
    dir: &std::path::Path,
    gw: &radosgw_fixture::Radosgw,
    mode: u32,
) -> std::path::PathBuf {
    let file = dir.join("s3.toml");
    std::fs::write(
        &file,
        format!(
            "access_key_id = {:?}\nsecret_access_key = {:?}\n",
            gw.access_key, gw.secret_key
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    file
}

#[test]
fn with_a_credentials_file_of_mode_0600_it_starts() {
    let gw = radosgw();
    let bucket = gw.bucket("ftpd-file").expect("create bucket");
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path(), gw, 0o600);
    let site = s3_site(gw, &bucket, &format!("credentials_file = {file:?}\n"));
    let server = site.start_with(ftpd_with(&site, None));
    assert!(server.connect_line.is_some());
}

#[test]
fn a_bucket_that_does_not_exist_stops_it() {
    let gw = radosgw();
    let site = s3_site(gw, "ftpd-no-such-bucket", "");
    let output = run(
        ftpd_with(&site, Some((&gw.access_key, &gw.secret_key))),
        None,
    );
    let said = stderr(&output);
    assert_ne!(code(&output), 0, "{said}");
    assert!(said.contains("does not exist"), "{said}");
    assert!(said.contains("ftpd-no-such-bucket"), "{said}");
}

#[test]
fn refused_credentials_stop_it() {
    let gw = radosgw();
    let bucket = gw.bucket("ftpd-creds").expect("create bucket");
    let site = s3_site(gw, &bucket, "");
    let output = run(
        ftpd_with(&site, Some((&gw.access_key, "not-the-secret"))),
        None,
    );
    let said = stderr(&output);
    assert_ne!(code(&output), 0, "{said}");
    assert!(said.contains("refused the credentials"), "{said}");
    assert!(!said.contains("not-the-secret"), "{said}");
}

#[test]
fn a_credentials_file_others_can_read_is_refused() {
    let gw = radosgw();
    let dir = tempfile::tempdir().unwrap();
    let file = credentials_file(dir.path(), gw, 0o644);
    let site = s3_site(gw, "ftpd-unused", &format!("credentials_file = {file:?}\n"));
    let output = run(ftpd_with(&site, None), None);
    let said = stderr(&output);
    assert_ne!(code(&output), 0, "{said}");
    assert!(said.contains("chmod 600"), "{said}");
    assert!(said.contains("0644"), "{said}");
}
