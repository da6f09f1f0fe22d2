//! `completions bash|zsh|fish` and `man [--out DIR]` for both binaries, generated from their
//! own clap definitions (clap_complete, clap_mangen). Behind the `cli-docs` feature: only the
//! binaries enable it, so the wire crate stays free of clap for anyone else.
//!
//! The two subcommands are added to the binary's clap command at run time by [`parse`], which
//! answers them itself and hands every other command line back parsed as usual: the binaries'
//! own `Command` enums never name them. Output goes to stdout whole; a reader that goes away
//! early (`ftp man | head`) ends the program quietly with status 0, as coreutils tools do.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgMatches, Command, Parser};
use clap_complete::Shell;

/// Name of the completions subcommand.
const COMPLETIONS: &str = "completions";
/// Name of the man subcommand.
const MAN: &str = "man";
/// The shells completions are written for.
const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

/// Parses the process's command line into `P`, first answering `completions` and `man`
/// (then `Err` holds the exit code to end with). Usage errors, `--help` and `--version` end
/// the process as clap does.
pub fn parse<P: Parser>() -> Result<P, ExitCode> {
    let mut command = with_docs(P::command());
    let mut matches = command
        .try_get_matches_from_mut(std::env::args_os())
        .unwrap_or_else(|error| error.exit());
    if let Some(code) = answer(&command, &matches) {
        return Err(code);
    }
    P::from_arg_matches_mut(&mut matches).map_err(|error| error.format(&mut command).exit())
}

/// `command` with the `completions` and `man` subcommands added.
pub fn with_docs(command: Command) -> Command {
    let name = command.get_name().to_owned();
    command
        .subcommand(
            Command::new(COMPLETIONS)
                .about("Print the shell completion script for bash, zsh or fish")
                .after_help(format!(
                    "Install:\n  bash: {name} completions bash > ~/.local/share/bash-completion/completions/{name}\n  \
                     zsh:  {name} completions zsh > ~/.zfunc/_{name}  (with fpath+=(~/.zfunc) before compinit)\n  \
                     fish: {name} completions fish > ~/.config/fish/completions/{name}.fish"
                ))
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_name("SHELL")
                        .value_parser(SHELLS),
                ),
        )
        .subcommand(
            Command::new(MAN)
                .about(format!(
                    "Print the man page {name}(1), or write it and one page per subcommand into a folder"
                ))
                .after_help(format!(
                    "Install:\n  {name} man --out ~/.local/share/man/man1  (then `man {name}`, `man {name}-<command>`)"
                ))
                .arg(
                    Arg::new("out")
                        .long("out")
                        .value_name("DIR")
                        .value_parser(clap::value_parser!(PathBuf))
                        .help(format!(
                            "Write {name}.1 and {name}-COMMAND.1 for each subcommand into DIR (created if missing)"
                        )),
                ),
        )
}

/// Answers `completions` or `man` when `matches` asks for one: the exit code to end with.
fn answer(command: &Command, matches: &ArgMatches) -> Option<ExitCode> {
    let name = command.get_name().to_owned();
    let result = match matches.subcommand() {
        Some((COMPLETIONS, sub)) => {
            let shell = sub.get_one::<String>("shell").map_or("", String::as_str);
            match completion_script(command.clone(), shell) {
                Some(script) => to_stdout(&script),
                None => Err(format!("no completions for the shell {shell:?}")),
            }
        }
        Some((MAN, sub)) => match sub.get_one::<PathBuf>("out") {
            Some(dir) => write_pages(command.clone(), dir).map_err(|error| {
                format!("cannot write the man pages to {}: {error}", dir.display())
            }),
            None => man_page(command.clone())
                .map_err(|error| format!("cannot render the man page: {error}"))
                .and_then(|page| to_stdout(&page)),
        },
        _ => return None,
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: error: {message}");
            ExitCode::FAILURE
        }
    })
}

/// The completion script for `shell` ("bash", "zsh" or "fish"), `None` for another.
pub fn completion_script(mut command: Command, shell: &str) -> Option<Vec<u8>> {
    let shell = match shell {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        _ => return None,
    };
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    Some(script)
}

/// The man page of `command` itself (roff), its subcommands listed.
pub fn man_page(command: Command) -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    Ok(page)
}

/// Writes `NAME.1` and `NAME-SUB.1` (`NAME-SUB-SUBSUB.1`, ...) for every subcommand into
/// `dir`, creating it if missing.
pub fn write_pages(mut command: Command, dir: &Path) -> std::io::Result<()> {
    /// One page for `command`, then one for each subcommand but clap's own `help`.
    fn pages(command: &Command, dir: &Path) -> std::io::Result<()> {
        clap_mangen::Man::new(command.clone()).generate_to(dir)?;
        let subcommands = command.get_subcommands();
        for sub in subcommands.filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            pages(sub, dir)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    // Built, each subcommand's page is named after its whole path (`ftp-put`).
    command.build();
    pages(&command, dir)
}

/// Writes `bytes` to stdout; a closed pipe is the reader's choice, not an error.
fn to_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(format!("cannot write to standard output: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Command {
        with_docs(
            Command::new("tool")
                .version("1.0")
                .about("A sample tool")
                .arg(Arg::new("server").long("server").help("Where to connect"))
                .subcommand(Command::new("put").about("Send a file"))
                .subcommand(
                    Command::new("user").subcommand(Command::new("add").about("Add a user")),
                ),
        )
    }

    #[test]
    fn completions_name_the_subcommands_for_each_shell() {
        for shell in SHELLS {
            let script = completion_script(sample(), shell).unwrap_or_default();
            let text = String::from_utf8_lossy(&script);
            assert!(text.contains("put"), "{shell}: {text}");
            assert!(text.contains("completions"), "{shell}");
        }
        assert!(completion_script(sample(), "tcsh").is_none());
    }

    #[test]
    fn the_man_page_is_roff_naming_options_and_subcommands() -> std::io::Result<()> {
        let page = String::from_utf8_lossy(&man_page(sample())?).into_owned();
        assert!(
            page.starts_with(".ie") || page.contains(".TH tool 1"),
            "{page}"
        );
        assert!(page.contains(".TH tool 1"));
        assert!(page.contains("server"));
        assert!(page.contains("put"));
        Ok(())
    }

    #[test]
    fn pages_are_written_one_per_subcommand() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("man1");
        write_pages(sample(), &out)?;
        for page in [
            "tool.1",
            "tool-put.1",
            "tool-user.1",
            "tool-user-add.1",
            "tool-man.1",
        ] {
            assert!(out.join(page).is_file(), "{page}");
        }
        assert!(!out.join("tool-help.1").exists());
        assert!(!out.join("tool-user-help.1").exists());
        Ok(())
    }

    #[test]
    fn other_command_lines_are_not_answered() {
        let command = sample();
        let matches = command.clone().try_get_matches_from(["tool", "put"]);
        assert!(matches.is_ok_and(|m| answer(&command, &m).is_none()));
    }
}
