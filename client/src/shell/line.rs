//! One line of the shell or of a batch: split into words as a POSIX shell does (quotes,
//! backslashes), then parsed by the very clap definitions of the command line (so options never
//! drift) or by the builtins' own. Global options are the session's: a line may not give them.
//! Remote paths come back resolved against the remote current folder.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser};

use super::builtins::{BUILTINS, Builtin, BuiltinLine};
use crate::cli::{Cli, Command, GlobalArgs};
use crate::error::ClientError;
use crate::session::resolve;

/// What a line asks for.
#[derive(Debug)]
pub enum Line {
    /// Nothing (blank, or a comment).
    Empty,
    /// Text to show (clap's `--help` of a command).
    Shown(String),
    /// A builtin (cd, lls, mput...).
    Builtin(Builtin),
    /// An `ftp` command, its remote paths resolved.
    Command(Command),
}

/// Parses `text` with the remote current folder `cwd`.
pub fn parse(text: &str, cwd: &str) -> Result<Line, ClientError> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(Line::Empty);
    }
    let words = shlex::split(text).ok_or_else(|| {
        ClientError::Usage("unbalanced quotes or a trailing backslash in the line".into())
    })?;
    let Some(first) = words.first() else {
        return Ok(Line::Empty);
    };
    if BUILTINS.contains(&first.as_str()) {
        return match BuiltinLine::try_parse_from(&words) {
            Ok(line) => Ok(Line::Builtin(line.builtin)),
            Err(error) => clap_answer(error),
        };
    }
    let known = Cli::command()
        .get_subcommands()
        .any(|sub| sub.get_name() == first || sub.get_all_aliases().any(|alias| alias == first));
    if !known {
        return Err(ClientError::Usage(format!(
            "unknown command {}: `help` lists the commands",
            crate::output::printable(first)
        )));
    }
    let matches = match Cli::command()
        .no_binary_name(true)
        .try_get_matches_from(&words)
    {
        Ok(matches) => matches,
        Err(error) => return clap_answer(error),
    };
    refuse_global_options(&matches)?;
    let Some((_, sub)) = matches.subcommand() else {
        return Err(ClientError::Usage(format!("unknown command {first:?}")));
    };
    let ls_default = sub.try_get_raw("path").is_ok()
        && sub.value_source("path") == Some(ValueSource::DefaultValue);
    let cli =
        Cli::from_arg_matches(&matches).map_err(|error| ClientError::Usage(error.to_string()))?;
    match cli.command {
        Some(Command::Shell) => Err(ClientError::Usage(
            "shell: already in the interactive session".into(),
        )),
        Some(Command::Ls { recursive, .. }) if ls_default => Ok(Line::Command(Command::Ls {
            path: cwd.to_owned(),
            recursive,
        })),
        Some(command) => Ok(Line::Command(resolved(command, cwd))),
        None => Ok(Line::Empty),
    }
}

/// A clap answer to a line: help or version text to show, else a usage error.
fn clap_answer(error: clap::Error) -> Result<Line, ClientError> {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            Ok(Line::Shown(error.render().to_string()))
        }
        // The first line says what is wrong; the rest (a tip, the usage of `ftp` itself, "try
        // '--help'") is about the command line, not the session.
        _ => {
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            Err(ClientError::Usage(format!(
                "{} (`help COMMAND` shows its options)",
                first.trim_start_matches("error: ").trim_end()
            )))
        }
    }
}

/// Global options belong to the session (given when `ftp` started), never to one line.
fn refuse_global_options(matches: &clap::ArgMatches) -> Result<(), ClientError> {
    let globals = GlobalArgs::augment_args(clap::Command::new("globals"));
    let ids = globals
        .get_arguments()
        .map(|arg| arg.get_id().as_str().to_owned())
        .chain(std::iter::once("batch".to_owned()));
    let sub = matches.subcommand().map(|(_, sub)| sub);
    for id in ids {
        let given = |m: &clap::ArgMatches| {
            m.try_get_raw(&id).is_ok() && m.value_source(&id) == Some(ValueSource::CommandLine)
        };
        if given(matches) || sub.is_some_and(given) {
            let name = Cli::command()
                .get_arguments()
                .find(|arg| arg.get_id() == id.as_str())
                .and_then(|arg| arg.get_long().map(|long| format!("--{long}")))
                .unwrap_or(id);
            return Err(ClientError::Usage(format!(
                "{name} is an option of the whole session: give it when starting ftp, not on a line"
            )));
        }
    }
    Ok(())
}

/// `command` with its remote paths resolved against `cwd`; a put with no REMOTE goes to `cwd`.
fn resolved(command: Command, cwd: &str) -> Command {
    let at = |path: &str| resolve(cwd, path);
    match command {
        Command::Ls { path, recursive } => Command::Ls {
            path: at(&path),
            recursive,
        },
        Command::Stat { path } => Command::Stat { path: at(&path) },
        Command::Mkdir { path } => Command::Mkdir { path: at(&path) },
        Command::Rm {
            path,
            recursive,
            partial,
        } => Command::Rm {
            path: at(&path),
            recursive,
            partial,
        },
        Command::Mv { src, dst, force } => Command::Mv {
            src: at(&src),
            dst: at(&dst),
            force,
        },
        Command::Put(mut args) => {
            if let Some(to) = &args.to {
                args.to = Some(at(to));
            } else if args.paths.len() == 2 {
                let remote = at(&args.paths[1].to_string_lossy());
                args.paths[1] = PathBuf::from(remote);
            } else if args.paths.len() == 1 && cwd != "/" {
                if args.recursive {
                    args.paths.push(PathBuf::from(format!("{cwd}/")));
                } else {
                    args.to = Some(cwd.to_owned());
                }
            }
            Command::Put(args)
        }
        Command::Get(mut args) => {
            let remote = if args.to.is_some() || args.paths.len() == 1 {
                args.paths.len()
            } else {
                1
            };
            for path in args.paths.iter_mut().take(remote) {
                *path = at(path);
            }
            Command::Get(args)
        }
        Command::Sync(mut args) => {
            for side in [&mut args.src, &mut args.dst] {
                if let Some(remote) = side.strip_prefix(':') {
                    *side = format!(":{}", at(remote));
                }
            }
            Command::Sync(args)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(text: &str, cwd: &str) -> Command {
        match parse(text, cwd) {
            Ok(Line::Command(command)) => command,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn remote_paths_are_taken_from_the_current_folder() {
        assert!(matches!(command("ls", "/a"), Command::Ls { path, .. } if path == "/a"));
        assert!(matches!(command("ls /", "/a"), Command::Ls { path, .. } if path == "/"));
        assert!(
            matches!(command("stat 'my file'", "/a"), Command::Stat { path } if path == "/a/my file")
        );
        let Command::Get(get) = command("get x.txt local.txt", "/a") else {
            panic!()
        };
        assert_eq!(get.paths, ["/a/x.txt", "local.txt"]);
        let Command::Put(put) = command("put \"b c.txt\"", "/a") else {
            panic!()
        };
        assert_eq!(put.to.as_deref(), Some("/a"));
        assert_eq!(put.paths, [PathBuf::from("b c.txt")]);
        let Command::Sync(sync) = command("sync :.. here", "/a/b") else {
            panic!()
        };
        assert_eq!((sync.src.as_str(), sync.dst.as_str()), (":/a", "here"));
    }

    #[test]
    fn global_options_and_bad_lines_are_usage_errors() {
        for bad in [
            "ls --json",
            "--server x ls",
            "put --password-file p a",
            "nosuch",
            "ls 'open",
            "shell",
        ] {
            assert!(
                matches!(parse(bad, "/"), Err(ClientError::Usage(_))),
                "{bad}"
            );
        }
        assert!(matches!(parse("  # note", "/"), Ok(Line::Empty)));
        assert!(matches!(parse("put --help", "/"), Ok(Line::Shown(_))));
        assert!(matches!(parse("cd x", "/"), Ok(Line::Builtin(_))));
    }
}
