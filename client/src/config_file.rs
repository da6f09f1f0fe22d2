//! The client config file, `$XDG_CONFIG_HOME/ftp/config.toml` (else `~/.config/ftp/config.toml`,
//! or `--config FILE` / `FTP_CONFIG`): `[defaults]` for every server and `[servers.NAME]` tables
//! that `--server NAME` picks (`config/ftp.toml` documents every key).
//!
//! [`effective`] fills what the command line and the environment left unset (clap has already
//! merged those two, flags first): a picked `[servers.NAME]` beats `[defaults]`, which beats the
//! built-in defaults applied later. Paths in the file are relative to its folder, `~/` is the
//! home folder. A file that group or others can write, or that names a password file they can
//! read, is refused with the `chmod` that fixes it ([`crate::config_perms`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::config_perms::{refuse_exposed_password_file, refuse_writable_config};
use crate::error::ClientError;

/// The settings one table holds; every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Server address (any `--server` form except a table name).
    pub address: Option<String>,
    /// User name.
    pub user: Option<String>,
    /// The server's shared key file.
    pub secret_file: Option<PathBuf>,
    /// Certificate fingerprint to pin.
    pub fingerprint: Option<String>,
    /// CA file to verify the certificate against.
    pub ca_file: Option<PathBuf>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// Known-servers file.
    pub known_servers: Option<PathBuf>,
    /// `--timeout`: seconds, or a duration such as "90s" or "2m".
    #[serde(default, deserialize_with = "timeout")]
    pub timeout: Option<Duration>,
    /// Plain TCP without TLS (benchmarks only).
    pub insecure_plaintext: Option<bool>,
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Settings for every server.
    #[serde(default)]
    pub defaults: Settings,
    /// Named servers.
    #[serde(default)]
    pub servers: BTreeMap<String, Settings>,
}

/// `global` with what it leaves unset taken from the config file (see the module doc).
pub fn effective(mut global: GlobalArgs) -> Result<GlobalArgs, ClientError> {
    let Some((path, file)) = load(global.config.as_deref())? else {
        return Ok(global);
    };
    let folder = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let picked = global
        .server
        .as_ref()
        .and_then(|name| file.servers.get(name).map(|table| (name.clone(), table)));
    if picked.is_none()
        && let Some(name) = &global.server
        && let Some(near) = near_miss(name, &file)
    {
        return Err(ClientError::Usage(format!(
            "{}: there is no [servers.{name}]; did you mean --server {near}? (a host of that name needs its port: {name}:PORT)",
            path.display()
        )));
    }
    let settings = match &picked {
        Some((_, table)) => over(table, &file.defaults),
        None => file.defaults.clone(),
    };
    if let Some((name, _)) = &picked {
        let address = settings.address.clone().ok_or_else(|| {
            ClientError::Usage(format!(
                "{}: [servers.{name}] has no address (and [defaults] none either)",
                path.display()
            ))
        })?;
        global.server = Some(address);
    }
    let resolve = |p: &Option<PathBuf>| p.as_deref().map(|p| resolve_path(&folder, p));
    fill(&mut global.server, settings.address.clone());
    // A user named in the address (`bob@host`) is as good as `--user`: the file's is not used.
    let address_names_user = global
        .server
        .as_deref()
        .is_some_and(|server| matches!(crate::address::parse_server(server), Ok((Some(_), _))));
    if !address_names_user {
        fill(&mut global.user, settings.user.clone());
    }
    fill(&mut global.fingerprint, settings.fingerprint.clone());
    fill(&mut global.secret_file, resolve(&settings.secret_file));
    fill(&mut global.ca_file, resolve(&settings.ca_file));
    fill(&mut global.known_servers, resolve(&settings.known_servers));
    fill(&mut global.timeout, settings.timeout);
    // FTP_PASSWORD is the environment's password: it beats a password file named in the file.
    let password_in_env = std::env::var_os(crate::credentials::PASSWORD_ENV).is_some();
    if global.password_file.is_none()
        && !password_in_env
        && let Some(password_file) = resolve(&settings.password_file)
    {
        refuse_exposed_password_file(&path, &password_file)?;
        global.password_file = Some(password_file);
    }
    // A switch can only be turned on from the file: "off" on the command line is the default.
    global.insecure_plaintext |= settings.insecure_plaintext.unwrap_or(false);
    Ok(global)
}

/// The name of a `[servers.NAME]` table that `server` (given to `--server`, matching none)
/// looks like a slip of: at most two edits away, when `server` has no port, user or dot, so
/// it cannot be meant as an address.
fn near_miss<'a>(server: &str, file: &'a ConfigFile) -> Option<&'a str> {
    if server.contains([':', '@', '.', '[']) {
        return None;
    }
    file.servers
        .keys()
        .map(|name| (strsim::damerau_levenshtein(server, name), name))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, name)| name.as_str())
}

/// Reads the file `named` (`--config`), else the default one: `None` when there is none at the
/// default place. Returns the file's absolute path with its contents.
pub fn load(named: Option<&Path>) -> Result<Option<(PathBuf, ConfigFile)>, ClientError> {
    let path = match named {
        Some(path) => path.to_path_buf(),
        None => match default_path() {
            Some(path) if path.exists() => path,
            _ => return Ok(None),
        },
    };
    let path = std::path::absolute(&path).unwrap_or(path);
    refuse_writable_config(&path)?;
    let text = std::fs::read_to_string(&path).map_err(|source| ClientError::Local {
        context: format!("cannot read the config file {}", path.display()),
        source,
    })?;
    let file = parse(&path, &text)?;
    Ok(Some((path, file)))
}

/// Where the config file is when `--config` names none.
pub fn default_path() -> Option<PathBuf> {
    crate::credentials::config_dir().map(|dir| dir.join("ftp").join("config.toml"))
}

/// Parses the file's text; an error names the file and the line (exit 2).
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ClientError> {
    toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let message = error.message().trim_end();
        ClientError::Usage(match line {
            Some(line) => format!("{}:{line}: {message}", path.display()),
            None => format!("{}: {message}", path.display()),
        })
    })
}

/// `table`'s settings, each missing one taken from `defaults`.
fn over(table: &Settings, defaults: &Settings) -> Settings {
    let pick = |a: &Option<PathBuf>, b: &Option<PathBuf>| a.clone().or_else(|| b.clone());
    Settings {
        address: table.address.clone().or_else(|| defaults.address.clone()),
        user: table.user.clone().or_else(|| defaults.user.clone()),
        secret_file: pick(&table.secret_file, &defaults.secret_file),
        fingerprint: table
            .fingerprint
            .clone()
            .or_else(|| defaults.fingerprint.clone()),
        ca_file: pick(&table.ca_file, &defaults.ca_file),
        password_file: pick(&table.password_file, &defaults.password_file),
        known_servers: pick(&table.known_servers, &defaults.known_servers),
        timeout: table.timeout.or(defaults.timeout),
        insecure_plaintext: table.insecure_plaintext.or(defaults.insecure_plaintext),
    }
}

/// Sets `slot` from the file when the command line and environment left it unset.
fn fill<T>(slot: &mut Option<T>, from_file: Option<T>) {
    if slot.is_none() {
        *slot = from_file;
    }
}

/// A path from the file: `~/...` in the home folder, a relative one in the file's folder.
pub fn resolve_path(folder: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
    {
        return PathBuf::from(home).join(rest);
    }
    folder.join(path)
}

/// A `timeout`: whole seconds, or a duration string, checked as `--timeout` is.
fn timeout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Seconds(u64),
        Text(String),
    }
    let text = match Given::deserialize(d)? {
        Given::Seconds(seconds) => seconds.to_string(),
        Given::Text(text) => text,
    };
    crate::cli::parse_timeout(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
#[path = "config_file_tests.rs"]
mod tests;
