//! Tests of loading, merging and checking the settings, and of the shipped example file.

use super::*;

#[test]
fn flags_override_the_file_which_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ftpd.toml");
    std::fs::write(
        &file,
        "root = \"/srv/files\"\nlisten = \"127.0.0.1:9000\"\nhandshake_timeout = \"2s\"\n",
    )
    .unwrap();
    let args = SettingsArgs {
        config: Some(file),
        listen: Some("[::1]:0".into()),
        ..Default::default()
    };
    let config = Config::load(&args).unwrap();
    assert_eq!(config.root, PathBuf::from("/srv/files"));
    assert_eq!(config.listen, "[::1]:0".parse().unwrap());
    assert_eq!(config.handshake_timeout, Duration::from_secs(2));
    assert_eq!(config.users, PathBuf::from("ftpd-users.toml"));
}

#[test]
fn unknown_keys_and_bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ftpd.toml");
    let load = |text: &str| {
        std::fs::write(&file, text).unwrap();
        Config::load(&SettingsArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string()
    };
    assert!(load("rooot = \"x\"\n").contains("rooot"));
    assert!(load("max_connections = 0\n").contains("max_connections"));
    assert!(load("listen = \"localhost\"\n").contains("listen"));
    assert!(load("idle_timeout = \"soon\"\n").contains("idle_timeout"));
    assert!(load("max_file_size = \"lots\"\n").contains("max_file_size"));
    assert!(load("disk_reserve = \"-1G\"\n").contains("disk_reserve"));
    assert!(load("tls_cert = \"cert.pem\"\n").contains("tls_key"));
    assert!(load("file_mode = \"0400\"\n").contains("file_mode"));
    assert!(load("dir_mode = \"04755\"\n").contains("dir_mode"));
    assert!(load("dir_mode = 700\n").contains("dir_mode"));
}

#[test]
fn modes_are_read_from_the_file_in_octal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ftpd.toml");
    std::fs::write(&file, "file_mode = \"0640\"\ndir_mode = \"0o750\"\n").unwrap();
    let args = SettingsArgs {
        config: Some(file),
        ..Default::default()
    };
    let config = Config::load(&args).unwrap();
    assert_eq!((config.modes.file, config.modes.dir), (0o640, 0o750));
}

#[test]
fn the_disk_reserve_is_a_size() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ftpd.toml");
    std::fs::write(&file, "disk_reserve = \"256M\"\n").unwrap();
    let args = SettingsArgs {
        config: Some(file),
        ..Default::default()
    };
    assert_eq!(Config::load(&args).unwrap().disk_reserve, Some(256 << 20));
}

#[test]
fn named_tls_files_are_never_generated_and_plaintext_is_off_by_default() {
    let defaults = Config::load(&SettingsArgs {
        config: Some(PathBuf::from("/dev/null")),
        ..Default::default()
    })
    .unwrap();
    assert!(defaults.tls_generate && !defaults.insecure_plaintext);
    let named = Config::load(&SettingsArgs {
        config: Some(PathBuf::from("/dev/null")),
        tls_cert: Some("c.pem".into()),
        tls_key: Some("k.pem".into()),
        insecure_plaintext: true,
        ..Default::default()
    })
    .unwrap();
    assert!(!named.tls_generate && named.insecure_plaintext);
    assert_eq!(named.tls_cert, PathBuf::from("c.pem"));
}

/// The shipped example, with every `# key = value` line uncommented.
fn example_with_every_key_set() -> String {
    let text = include_str!("../../../config/ftpd.toml");
    text.lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter(|line| {
            *line == "[s3]"
                || line.split_once(" = ").is_some_and(|(key, _)| {
                    key.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                })
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn the_example_config_documents_every_key_with_its_default() {
    let example = example_with_every_key_set();
    let file: FileConfig = toml::from_str(&example).unwrap();
    let defaults = Config::default();
    assert_eq!(file.listen.as_deref(), Some("127.0.0.1:2121"));
    assert_eq!(file.root, Some(defaults.root));
    assert_eq!(file.users, Some(defaults.users));
    assert_eq!(file.secret_file, Some(defaults.secret_file));
    assert_eq!(file.tls_cert, Some(defaults.tls_cert));
    assert_eq!(file.tls_key, Some(defaults.tls_key));
    assert_eq!(file.insecure_plaintext, Some(defaults.insecure_plaintext));
    assert_eq!(file.handshake_timeout, Some(defaults.handshake_timeout));
    assert_eq!(file.startup_timeout, Some(defaults.startup_timeout));
    assert_eq!(file.max_startups, Some(defaults.max_startups));
    assert_eq!(
        file.max_startups_per_address,
        Some(defaults.max_startups_per_address)
    );
    assert_eq!(file.idle_timeout, Some(defaults.idle_timeout));
    assert_eq!(file.max_connections, Some(defaults.max_connections));
    assert_eq!(file.max_login_attempts, Some(defaults.max_login_attempts));
    assert!(file.max_parallel_logins.is_some());
    // Its default is computed from the file system (1% of it, at most 1G).
    assert_eq!(file.disk_reserve.as_deref(), Some("1G"));
    assert_eq!(defaults.disk_reserve, None);
    assert_eq!(file.fsync, Some(defaults.fsync));
    assert_eq!(file.partial_ttl, Some(defaults.partial_ttl));
    let max = ftp_proto::units::parse_bytes(&file.max_file_size.unwrap()).unwrap();
    assert_eq!(max, defaults.max_file_size);
    let floor = ftp_proto::units::parse_bytes(&file.min_transfer_rate.unwrap()).unwrap();
    assert_eq!(floor, defaults.min_transfer_rate);
    assert_eq!(
        file.transfer_rate_window,
        Some(defaults.transfer_rate_window)
    );
    assert_eq!(file.login_failure_delay, Some(defaults.login_failure_delay));
    assert_eq!(
        file.login_failures_before_lockout,
        Some(defaults.login_failures_before_lockout)
    );
    assert_eq!(file.login_lockout, Some(defaults.login_lockout));
    assert_eq!(
        file.max_partials_per_user,
        Some(defaults.max_partials_per_user)
    );
    assert_eq!(file.shutdown_grace, Some(defaults.shutdown_grace));
    let file_mode = crate::modes::parse(&file.file_mode.unwrap(), 0o600).unwrap();
    let dir_mode = crate::modes::parse(&file.dir_mode.unwrap(), 0o700).unwrap();
    assert_eq!(
        (file_mode, dir_mode),
        (defaults.modes.file, defaults.modes.dir)
    );
    assert_eq!(file.storage, Some(s3::StorageKind::Local));
    assert_eq!(defaults.storage, Storage::Local);
    let table = file.s3.unwrap();
    assert_eq!(table.prefix.as_deref(), Some(""));
    assert_eq!(table.region.as_deref(), Some(s3::DEFAULT_REGION));
    assert!(table.endpoint.is_some() && table.bucket.is_some());
    assert!(table.credentials_file.is_some());
    // The example's [s3] table is valid with storage = "s3".
    let s3_example = example.replace("storage = \"local\"", "storage = \"s3\"");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ftpd.toml");
    std::fs::write(&path, s3_example).unwrap();
    let loaded = Config::load(&SettingsArgs {
        config: Some(path),
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(loaded.storage, Storage::S3(_)));
    // With everything commented out, as shipped, the file changes nothing.
    let shipped: FileConfig = toml::from_str(include_str!("../../../config/ftpd.toml")).unwrap();
    assert!(shipped.listen.is_none() && shipped.root.is_none());
}

#[test]
fn a_missing_named_config_file_is_an_error() {
    let args = SettingsArgs {
        config: Some(PathBuf::from("/nonexistent/ftpd.toml")),
        ..Default::default()
    };
    assert!(matches!(Config::load(&args), Err(ConfigError::Read { .. })));
}

/// Loads `text` as the config file.
fn load_text(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ftpd.toml");
    std::fs::write(&file, text).unwrap();
    Config::load(&SettingsArgs {
        config: Some(file),
        ..Default::default()
    })
}

/// The S3 settings `text` loads to.
fn s3_of(text: &str) -> S3Config {
    match load_text(text).unwrap().storage {
        Storage::S3(s3) => s3,
        Storage::Local => panic!("local storage from {text:?}"),
    }
}

#[test]
fn storage_is_local_unless_s3_is_asked_for() {
    assert_eq!(load_text("").unwrap().storage, Storage::Local);
    assert_eq!(
        load_text("storage = \"local\"\n").unwrap().storage,
        Storage::Local
    );
}

#[test]
fn s3_defaults_are_an_empty_prefix_and_us_east_1() {
    let s3 = s3_of("storage = \"s3\"\n[s3]\nbucket = \"homes\"\n");
    assert_eq!(
        s3,
        S3Config {
            endpoint: None,
            bucket: "homes".into(),
            prefix: String::new(),
            region: "us-east-1".into(),
            credentials_file: None,
        }
    );
    let s3 = s3_of(
        "storage = \"s3\"\n[s3]\nendpoint = \"http://127.0.0.1:7480\"\nbucket = \"b\"\n\
         prefix = \"team/ftpd\"\nregion = \"default\"\ncredentials_file = \"s3.toml\"\n",
    );
    assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:7480"));
    assert_eq!(
        (s3.prefix.as_str(), s3.region.as_str()),
        ("team/ftpd", "default")
    );
    assert_eq!(s3.credentials_file, Some(PathBuf::from("s3.toml")));
}

#[test]
fn s3_mistakes_are_named() {
    let error = |text: &str| load_text(text).unwrap_err().to_string();
    let s3 = |table: &str| error(&format!("storage = \"s3\"\n[s3]\n{table}"));
    // An [s3] table without storage = "s3", and storage = "s3" without a bucket.
    assert!(error("[s3]\nbucket = \"b\"\n").contains("storage = \"s3\""));
    assert!(error("storage = \"local\"\n[s3]\nbucket = \"b\"\n").contains("[s3]"));
    assert!(error("storage = \"s3\"\n").contains("s3.bucket"));
    assert!(s3("region = \"eu-west-1\"\n").contains("s3.bucket"));
    assert!(error("storage = \"ftp\"\n").contains("storage"));
    assert!(s3("bucket = \"b\"\nbukket = \"c\"\n").contains("bukket"));
    // Secrets are never in the config file.
    assert!(s3("bucket = \"b\"\nsecret_access_key = \"x\"\n").contains("secret_access_key"));
    assert!(s3("bucket = \"\"\n").contains("s3.bucket"));
    assert!(s3("bucket = \"a/b\"\n").contains("s3.bucket"));
    for prefix in [
        "/ftpd",
        "ftpd/",
        "a//b",
        "a/../b",
        ".",
        "a/.ftpd-internal",
        "a\\b",
    ] {
        let said = s3(&format!("bucket = \"b\"\nprefix = {prefix:?}\n"));
        assert!(said.contains("s3.prefix"), "{prefix:?}: {said}");
    }
    assert!(s3("bucket = \"b\"\nendpoint = \"s3.example.com\"\n").contains("s3.endpoint"));
    assert!(s3("bucket = \"b\"\nendpoint = \"http://\"\n").contains("s3.endpoint"));
    assert!(s3("bucket = \"b\"\nregion = \"\"\n").contains("s3.region"));
}

/// S3 settings naming `credentials_file`.
fn with_file(file: Option<PathBuf>) -> S3Config {
    S3Config {
        endpoint: None,
        bucket: "b".into(),
        prefix: String::new(),
        region: "us-east-1".into(),
        credentials_file: file,
    }
}

/// Writes a credentials file with `mode`.
fn credentials_file(dir: &Path, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("s3.toml");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn the_environment_comes_before_the_credentials_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = credentials_file(
        dir.path(),
        "access_key_id = \"file-id\"\nsecret_access_key = \"file-secret\"\n",
        0o600,
    );
    let s3 = with_file(Some(path));
    let env = s3
        .credentials(Some("env-id".into()), Some("env-secret".into()))
        .unwrap();
    assert_eq!(
        (env.access_key_id.as_str(), env.secret_access_key.as_str()),
        ("env-id", "env-secret")
    );
    let file = s3.credentials(None, None).unwrap();
    assert_eq!(
        (file.access_key_id.as_str(), file.secret_access_key.as_str()),
        ("file-id", "file-secret")
    );
    // Empty variables count as unset.
    let file = s3
        .credentials(Some(String::new()), Some(String::new()))
        .unwrap();
    assert_eq!(file.access_key_id, "file-id");
    // Half the pair in the environment is a mistake, not a quiet fall back to the file.
    let half = s3.credentials(Some("env-id".into()), None).unwrap_err();
    assert!(half.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{half}");
    // The settings carry them; Debug shows neither secret.
    let settings = s3.settings(env.clone());
    assert_eq!(settings.secret_access_key, "env-secret");
    assert!(!format!("{env:?}{settings:?}").contains("env-secret"));
}

#[test]
fn without_credentials_both_ways_are_named() {
    let said = with_file(None)
        .credentials(None, None)
        .unwrap_err()
        .to_string();
    assert!(said.contains("AWS_ACCESS_KEY_ID") && said.contains("AWS_SECRET_ACCESS_KEY"));
    assert!(said.contains("credentials_file"), "{said}");
}

#[test]
fn a_credentials_file_must_be_0600_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let good = "access_key_id = \"id\"\nsecret_access_key = \"hush\"\n";
    let path = credentials_file(dir.path(), good, 0o644);
    let said = with_file(Some(path.clone()))
        .credentials(None, None)
        .unwrap_err()
        .to_string();
    assert!(
        said.contains("0644") && said.contains("chmod 600"),
        "{said}"
    );
    let path = credentials_file(dir.path(), good, 0o640);
    assert!(matches!(
        with_file(Some(path)).credentials(None, None),
        Err(s3::CredentialsError::Exposed { mode: 0o640, .. })
    ));
    // The parser's complaint is given without the file's text, which holds the secret.
    let path = credentials_file(
        dir.path(),
        "access_key_id = \"id\"\nsecret_acess_key = \"hush\"\n",
        0o600,
    );
    let said = with_file(Some(path))
        .credentials(None, None)
        .unwrap_err()
        .to_string();
    assert!(
        said.contains("secret_acess_key") && !said.contains("hush"),
        "{said}"
    );
    let path = credentials_file(
        dir.path(),
        "access_key_id = \"id\"\nsecret_access_key = \"\"\n",
        0o600,
    );
    let said = with_file(Some(path))
        .credentials(None, None)
        .unwrap_err()
        .to_string();
    assert!(said.contains("secret_access_key is empty"), "{said}");
    let missing = with_file(Some(dir.path().join("absent.toml"))).credentials(None, None);
    assert!(matches!(missing, Err(s3::CredentialsError::Io { .. })));
}
