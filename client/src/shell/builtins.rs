//! The session's own commands: `cd`, `pwd`, `lcd`, `lpwd`, `lls`, `mput`, `mget`, `help`,
//! `exit` / `quit`. Their syntax is clap's too, so `help cd` and `cd --help` work as for the
//! others; `mput` and `mget` become a `put` or `get` of many files with `--to`.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use ftp_proto::EntryKind;

use crate::cli::{Cli, Command, GetArgs, PutArgs, TreeArgs};
use crate::error::ClientError;
use crate::session::Session;

/// Names a line may start with to reach a builtin.
pub const BUILTINS: [&str; 10] = [
    "cd", "pwd", "lcd", "lpwd", "lls", "mput", "mget", "help", "exit", "quit",
];

/// A builtin's words (the first is its name).
#[derive(Debug, Parser)]
#[command(multicall = true, disable_help_subcommand = true)]
pub struct BuiltinLine {
    /// The builtin.
    #[command(subcommand)]
    pub builtin: Builtin,
}

/// The builtins.
#[derive(Debug, Subcommand)]
pub enum Builtin {
    /// Change the remote current folder ("/" is your home; none: back to it).
    Cd {
        /// Remote folder.
        path: Option<String>,
    },
    /// Print the remote current folder.
    Pwd,
    /// Change the local current folder (none: $HOME).
    Lcd {
        /// Local folder.
        path: Option<PathBuf>,
    },
    /// Print the local current folder.
    Lpwd,
    /// List a local folder: type, size, name.
    Lls {
        /// Local folder [default: the current one].
        path: Option<PathBuf>,
    },
    /// Upload the local files matching the patterns into the remote current folder.
    Mput(ManyArgs),
    /// Download the remote files matching the patterns into the local current folder.
    Mget(ManyArgs),
    /// List the commands, or show one's help.
    Help {
        /// A command.
        command: Option<String>,
    },
    /// End the session (Ctrl-D too).
    #[command(alias = "quit")]
    Exit,
}

/// What `mput` and `mget` take.
#[derive(Debug, clap::Args)]
pub struct ManyArgs {
    /// Files, or patterns (`*`, `?`, `[..]` in the last part; names starting with '.' only if
    /// the pattern does).
    #[arg(required = true, value_name = "PATTERNS")]
    pub patterns: Vec<String>,
    /// Replace files that already exist with different content.
    #[arg(long)]
    pub force: bool,
    /// Times to reconnect and resume after a lost connection (exponential backoff).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,
    /// Most bytes per second to move, e.g. 500K, 10M, 1G.
    #[arg(long, value_name = "RATE", value_parser = crate::rate::parse_rate)]
    pub limit_rate: Option<u64>,
}

/// What a builtin leaves to do.
#[derive(Debug)]
pub enum After {
    /// Nothing more: the prompt comes back.
    Done,
    /// Run this command (`mput`, `mget`).
    Run(Command),
    /// End the session.
    Exit,
}

/// Runs `builtin`; remote work (cd checks the folder) on `runtime`.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    session: &mut Session,
    builtin: Builtin,
) -> Result<After, ClientError> {
    match builtin {
        Builtin::Cd { path } => {
            let folder = session.resolve(path.as_deref().unwrap_or("/"));
            let is_dir = runtime.block_on(async {
                let client = session.client().await?;
                client.stat(&folder).await.map(|(e, _)| e.kind)
            })?;
            if is_dir != EntryKind::Dir {
                return Err(ClientError::Usage(format!(
                    "cd: {} is not a folder",
                    crate::output::printable(&folder)
                )));
            }
            session.set_cwd(folder.trim_end_matches('/').to_owned());
            if session.cwd().is_empty() {
                session.set_cwd("/".into());
            }
            if session.global.json {
                let shown = crate::output::remote_shown(session.cwd());
                folder_line(true, "cd", &shown)?;
            }
        }
        Builtin::Pwd => {
            let shown = crate::output::remote_shown(session.cwd());
            folder_line(session.global.json, "pwd", &shown)?;
        }
        Builtin::Lcd { path } => {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            let Some(path) = path.or(home) else {
                return Err(ClientError::Usage(
                    "lcd: no folder given and no $HOME".into(),
                ));
            };
            std::env::set_current_dir(&path).map_err(|source| ClientError::Local {
                context: format!("lcd: {}", path.display()),
                source,
            })?;
            if session.global.json {
                let here = std::env::current_dir().unwrap_or(path);
                folder_line(true, "lcd", &here.display().to_string())?;
            }
        }
        Builtin::Lpwd => {
            let here = std::env::current_dir().map_err(|source| ClientError::Local {
                context: "lpwd".into(),
                source,
            })?;
            let here = here.display().to_string();
            folder_line(session.global.json, "lpwd", &here)?;
        }
        Builtin::Lls { path } => {
            let text = super::local::listing(&path.unwrap_or_else(|| ".".into()))?;
            crate::output::print(&text)?;
        }
        Builtin::Mput(many) => {
            let paths = super::local::matches(&many.patterns)?;
            return Ok(After::Run(Command::Put(PutArgs {
                paths,
                to: Some(session.cwd().to_owned()),
                recursive: false,
                tree: TreeArgs::default(),
                force: many.force,
                retries: many.retries,
                limit_rate: many.limit_rate,
            })));
        }
        Builtin::Mget(many) => {
            return Ok(After::Run(Command::Get(GetArgs {
                paths: many.patterns.iter().map(|p| session.resolve(p)).collect(),
                to: Some(PathBuf::from(".")),
                recursive: false,
                checksum: false,
                force: many.force,
                retries: many.retries,
                limit_rate: many.limit_rate,
                no_fsync: false,
            })));
        }
        Builtin::Help { command } => crate::output::print(&help(command.as_deref())?)?,
        Builtin::Exit => return Ok(After::Exit),
    }
    Ok(After::Done)
}

/// `help`: every command with its one line; `help NAME`: that command's whole help.
pub fn help(name: Option<&str>) -> Result<String, ClientError> {
    let mut ftp = Cli::command();
    let mut builtins = BuiltinLine::command();
    let Some(name) = name else {
        let mut text = String::from("Commands (help COMMAND for one's options):\n");
        let ours = ftp
            .get_subcommands()
            .filter(|command| !matches!(command.get_name(), "shell" | "help"));
        for command in ours.chain(builtins.get_subcommands()) {
            let name = command.get_name();
            let about = command.get_about().map(ToString::to_string);
            let first = about.unwrap_or_default();
            let first = first.lines().next().unwrap_or_default();
            text.push_str(&format!("  {name:<9} {first}\n"));
        }
        text.push_str("Remote paths start from the remote folder (cd), local ones from the local one (lcd).\n");
        return Ok(text);
    };
    let name = if name == "quit" { "exit" } else { name };
    let found = match ftp.find_subcommand_mut(name) {
        Some(command) if name != "shell" && name != "help" => Some(command.render_long_help()),
        _ => builtins
            .find_subcommand_mut(name)
            .map(clap::Command::render_long_help),
    };
    found
        .map(|help| help.to_string())
        .ok_or_else(|| ClientError::Usage(format!("help: no command {name:?}")))
}

/// Prints the folder a builtin names: the path alone, or with `--json` one object
/// `{"op": OP, "path": PATH}` as every other result is printed.
fn folder_line(json: bool, op: &str, path: &str) -> Result<(), ClientError> {
    if json {
        let line = serde_json::json!({ "op": op, "path": path });
        crate::output::print(&format!("{line}\n"))
    } else {
        crate::output::print(&format!("{}\n", crate::output::printable(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shells_long_help_names_every_builtin() {
        for builtin in BUILTINS {
            assert!(
                crate::cli::SHELL_HELP.contains(&format!("  {builtin}"))
                    || crate::cli::SHELL_HELP.contains(&format!(", {builtin}")),
                "{builtin}"
            );
        }
    }

    #[test]
    fn help_names_every_command_and_shows_one() {
        let all = help(None).unwrap();
        for name in ["ls", "put", "get", "cd", "mget", "lls", "exit"] {
            assert!(all.contains(&format!("  {name} ")), "{name}: {all}");
        }
        assert!(help(Some("put")).unwrap().contains("--limit-rate"));
        assert!(help(Some("mput")).unwrap().contains("PATTERNS"));
        assert!(help(Some("nosuch")).is_err());
        assert_eq!(all.matches("  help ").count(), 1, "{all}");
        assert!(help(Some("help")).unwrap().contains("List the commands"));
    }
}
