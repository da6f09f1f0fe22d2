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
            line.split_once(" = ")
                .is_some_and(|(key, _)| key.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
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
