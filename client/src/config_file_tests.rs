//! Unit tests of the client config file: precedence, table selection, paths, refusals and
//! errors that name the line.

use std::os::unix::fs::PermissionsExt;

use super::*;

/// A config file with `text` in a fresh folder (mode 0600), and `GlobalArgs` naming it.
fn config(text: &str) -> std::io::Result<(tempfile::TempDir, GlobalArgs)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let global = GlobalArgs {
        config: Some(path),
        ..GlobalArgs::default()
    };
    Ok((dir, global))
}

const FILE: &str = r#"
[defaults]
user = "dora"
known_servers = "known"
timeout = "2m"

[servers.home]
address = "10.0.0.5:2121"
user = "alice"
secret_file = "keys/home.key"
fingerprint = "SHA256:00"

[servers.lab]
address = "lab.example:2200"
insecure_plaintext = true
timeout = 30
"#;

fn message(result: Result<GlobalArgs, ClientError>) -> String {
    match result {
        Ok(global) => format!("accepted: {global:?}"),
        Err(error) => {
            assert_eq!(error.exit_code(), 2, "{error}");
            error.to_string()
        }
    }
}

#[test]
fn a_server_name_picks_its_table_over_the_defaults() -> Result<(), Box<dyn std::error::Error>> {
    let (dir, mut global) = config(FILE)?;
    global.server = Some("home".into());
    let got = effective(global)?;
    assert_eq!(got.server.as_deref(), Some("10.0.0.5:2121"));
    assert_eq!(got.user.as_deref(), Some("alice"));
    assert_eq!(got.secret_file, Some(dir.path().join("keys/home.key")));
    assert_eq!(got.fingerprint.as_deref(), Some("SHA256:00"));
    // From [defaults], which the table does not set.
    assert_eq!(got.known_servers, Some(dir.path().join("known")));
    assert_eq!(got.timeout, Some(Duration::from_secs(120)));
    assert!(!got.insecure_plaintext);

    let (_dir, mut global) = config(FILE)?;
    global.server = Some("lab".into());
    let got = effective(global)?;
    assert_eq!(got.server.as_deref(), Some("lab.example:2200"));
    assert_eq!(got.user.as_deref(), Some("dora"));
    assert_eq!(got.timeout, Some(Duration::from_secs(30)));
    assert!(got.insecure_plaintext);
    Ok(())
}

#[test]
fn an_address_that_is_no_table_name_gets_only_the_defaults()
-> Result<(), Box<dyn std::error::Error>> {
    let (_dir, mut global) = config(FILE)?;
    global.server = Some("other:2121".into());
    let got = effective(global)?;
    assert_eq!(got.server.as_deref(), Some("other:2121"));
    assert_eq!(got.user.as_deref(), Some("dora"));
    assert_eq!(got.fingerprint, None);
    // No --server at all: [defaults] has no address, so the built-in default applies later.
    let (_dir, global) = config(FILE)?;
    assert_eq!(effective(global)?.server, None);
    Ok(())
}

#[test]
fn what_the_command_line_or_environment_set_beats_the_file()
-> Result<(), Box<dyn std::error::Error>> {
    let (_dir, mut global) = config(FILE)?;
    global.server = Some("home".into());
    global.user = Some("bob".into());
    global.secret_file = Some(PathBuf::from("/flag.key"));
    global.timeout = Some(Duration::from_secs(5));
    let got = effective(global)?;
    assert_eq!(got.server.as_deref(), Some("10.0.0.5:2121"));
    assert_eq!(got.user.as_deref(), Some("bob"));
    assert_eq!(got.secret_file, Some(PathBuf::from("/flag.key")));
    assert_eq!(got.timeout, Some(Duration::from_secs(5)));
    Ok(())
}

#[test]
fn paths_are_relative_to_the_file_and_tilde_is_home() {
    let folder = Path::new("/etc/ftp");
    assert_eq!(
        resolve_path(folder, Path::new("k.key")),
        folder.join("k.key")
    );
    assert_eq!(
        resolve_path(folder, Path::new("/abs/k")),
        PathBuf::from("/abs/k")
    );
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let got = resolve_path(folder, Path::new("~/keys/k.key"));
        assert_eq!(got, PathBuf::from(home).join("keys/k.key"));
    }
    // Only a whole first component "~" means the home folder.
    assert_eq!(resolve_path(folder, Path::new("~x/k")), folder.join("~x/k"));
}

#[test]
fn a_table_without_an_address_is_an_error_naming_it() -> std::io::Result<()> {
    let (_dir, mut global) = config("[servers.empty]\nuser = \"a\"\n")?;
    global.server = Some("empty".into());
    let text = message(effective(global));
    assert!(text.contains("[servers.empty] has no address"), "{text}");
    Ok(())
}

#[test]
fn bad_toml_and_unknown_keys_name_the_file_and_line() -> std::io::Result<()> {
    for (text, line, says) in [
        (
            "[defaults]\nuser = \"a\"\nadress = \"x\"\n",
            3,
            "unknown field `adress`",
        ),
        ("[defaults]\nuser = \n", 2, ""),
        (
            "[servers.a]\naddress = \"h\"\n[servers.a.deep]\n",
            3,
            "unknown field `deep`",
        ),
        ("[default]\n", 1, "unknown field `default`"),
        ("[defaults]\n\ntimeout = \"soon\"\n", 3, "not a duration"),
    ] {
        let (_dir, global) = config(text)?;
        let path = global.config.clone().unwrap_or_default();
        let got = message(effective(global));
        assert!(
            got.starts_with(&format!("{}:{line}: ", path.display())),
            "{text:?}: {got}"
        );
        assert!(got.contains(says), "{text:?}: {got}");
    }
    Ok(())
}

#[test]
fn a_named_file_must_exist() {
    let global = GlobalArgs {
        config: Some(PathBuf::from("/nonexistent/ftp/config.toml")),
        ..GlobalArgs::default()
    };
    let error = message(effective(global));
    assert!(error.contains("/nonexistent/ftp/config.toml"), "{error}");
    assert!(error.contains("does not exist"), "{error}");
}

#[test]
fn exposed_files_are_refused_with_their_chmod() -> std::io::Result<()> {
    let (dir, global) = config(FILE)?;
    let path = dir.path().join("config.toml");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664))?;
    let got = message(effective(global));
    assert!(
        got.ends_with(&format!("chmod go-w {}", path.display())),
        "{got}"
    );

    let (dir, mut global) = config("[servers.s]\naddress = \"h\"\npassword_file = \"pw\"\n")?;
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret\n")?;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644))?;
    global.server = Some("s".into());
    let got = message(effective(global.clone()));
    assert!(
        got.ends_with(&format!("chmod 600 {}", pw.display())),
        "{got}"
    );
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))?;
    assert_eq!(
        effective(global).ok().and_then(|g| g.password_file),
        Some(pw)
    );
    Ok(())
}

#[test]
fn the_documented_example_parses() -> Result<(), ClientError> {
    let example = include_str!("../../config/ftp.toml");
    let file = parse(Path::new("config/ftp.toml"), example)?;
    assert!(file.servers.contains_key("home") && file.servers.contains_key("backup"));
    assert_eq!(
        file.servers["backup"].timeout,
        Some(Duration::from_secs(120))
    );
    // Every key is shown in [defaults], commented out.
    for key in [
        "address",
        "user",
        "secret_file",
        "fingerprint",
        "ca_file",
        "password_file",
        "known_servers",
        "timeout",
        "insecure_plaintext",
    ] {
        assert!(example.contains(&format!("# {key} = ")), "{key}");
    }
    Ok(())
}

#[test]
fn a_user_in_the_address_beats_the_file_user() -> Result<(), Box<dyn std::error::Error>> {
    let (_dir, mut global) = config(FILE)?;
    global.server = Some("bob@other:2121".into());
    let got = effective(global)?;
    assert_eq!(got.user, None, "the address's bob is used later");
    let (_dir, mut global) =
        config("[servers.s]\naddress = \"carol@h\"\n[defaults]\nuser = \"dora\"\n")?;
    global.server = Some("s".into());
    assert_eq!(effective(global)?.user, None);
    Ok(())
}

#[test]
fn a_slip_of_a_table_name_is_told_and_an_address_is_not() -> Result<(), Box<dyn std::error::Error>>
{
    let (_dir, mut global) = config("[servers.home]\naddress = \"127.0.0.1:2121\"\n")?;
    global.server = Some("hoem".into());
    let error = effective(global).unwrap_err().to_string();
    assert!(
        error.contains("there is no [servers.hoem]") && error.contains("--server home?"),
        "{error}"
    );
    // Far from every name, or written as an address: taken as a host.
    for server in ["fileserver", "hoem:2121", "hoem.lan", "bob@hoem"] {
        let (_dir, mut global) = config("[servers.home]\naddress = \"127.0.0.1:2121\"\n")?;
        global.server = Some(server.into());
        assert_eq!(effective(global)?.server.as_deref(), Some(server));
    }
    Ok(())
}
