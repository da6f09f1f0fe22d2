//! Tab completion: command names first, then each argument from where it lives: remote names
//! from the server's listing of that folder (cached per folder until a command changes the
//! remote side), local names from the file system. Which argument is which is per command:
//! `put` local then remote, `get` remote then local, `lcd`/`lls`/`mput` local, `cd`, `ls`,
//! `rm`, `stat`, `mkdir`, `mv`, `mget` remote, `sync` remote for a word starting with ':'.
//! Names come back escaped as the line's words are read (a space as `\ `).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use clap::CommandFactory;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use crate::cli::Cli;
use crate::session::Session;

/// What the prompt and completion share.
#[derive(Debug)]
pub struct Shared {
    /// The session (borrowed by a command, or by a completion between commands).
    pub session: RefCell<Session>,
    /// Remote folder (resolved) -> its names, and whether each is a folder.
    pub cache: RefCell<HashMap<String, Vec<(String, bool)>>>,
}

/// Where an argument lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A command name.
    Command,
    /// On the server.
    Remote,
    /// Here.
    Local,
    /// Neither (a number, a rate).
    Nothing,
}

/// rustyline's helper: completion only.
pub struct ShellHelper {
    /// The session and the cache.
    pub shared: Rc<Shared>,
    /// To list remote folders.
    pub runtime: tokio::runtime::Handle,
}

impl rustyline::Helper for ShellHelper {}
impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let (start, words, current) = split(before);
        let side = side_of(&words, &current);
        let (prefix, word) = match current.strip_prefix(':') {
            Some(rest) if side == Side::Remote => (":", rest.to_owned()),
            _ => ("", current.clone()),
        };
        let candidates = match side {
            Side::Command => command_names()
                .into_iter()
                .filter(|name| name.starts_with(&word))
                .map(|name| Pair {
                    display: name.clone(),
                    replacement: format!("{name} "),
                })
                .collect(),
            Side::Remote => self.names(&word, prefix, true),
            Side::Local => self.names(&word, prefix, false),
            Side::Nothing => Vec::new(),
        };
        Ok((start, candidates))
    }
}

impl ShellHelper {
    /// Candidates for `word` (its folder part, then a name's start) on one side.
    fn names(&self, word: &str, prefix: &str, remote: bool) -> Vec<Pair> {
        let (folder, start) = match word.rfind('/') {
            Some(at) => (&word[..=at], &word[at + 1..]),
            None => ("", word),
        };
        let entries = if remote {
            self.remote_names(folder)
        } else {
            local_names(folder)
        };
        let mut pairs: Vec<Pair> = entries
            .into_iter()
            .filter(|(name, _)| name.starts_with(start))
            .filter(|(name, _)| !name.starts_with('.') || start.starts_with('.'))
            .map(|(name, dir)| {
                let tail = if dir { "/" } else { " " };
                Pair {
                    display: format!("{name}{}", if dir { "/" } else { "" }),
                    replacement: format!("{prefix}{}{tail}", escape(&format!("{folder}{name}"))),
                }
            })
            .collect();
        pairs.sort_by(|a, b| a.display.cmp(&b.display));
        pairs
    }

    /// The names in a remote folder, listed once and cached.
    fn remote_names(&self, folder: &str) -> Vec<(String, bool)> {
        let Ok(mut session) = self.shared.session.try_borrow_mut() else {
            return Vec::new();
        };
        let resolved = session.resolve(if folder.is_empty() { "." } else { folder });
        if let Some(names) = self.shared.cache.borrow().get(&resolved) {
            return names.clone();
        }
        if let Ok(connector) = session.connector() {
            connector.interrupt().reset();
        }
        let listed = self.runtime.block_on(async {
            let client = session.client().await?;
            client.list(&resolved).await
        });
        let Ok(entries) = listed else {
            return Vec::new();
        };
        let names: Vec<(String, bool)> = entries
            .into_iter()
            .map(|entry| (entry.name, entry.kind == ftp_proto::EntryKind::Dir))
            .collect();
        self.shared
            .cache
            .borrow_mut()
            .insert(resolved, names.clone());
        names
    }
}

/// The names in a local folder (`""` is the current one).
fn local_names(folder: &str) -> Vec<(String, bool)> {
    let dir = if folder.is_empty() { "." } else { folder };
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.filter_map(Result::ok)
        .map(|entry| {
            let dir = entry.path().is_dir();
            (entry.file_name().to_string_lossy().into_owned(), dir)
        })
        .collect()
}

/// Every command a line may start with.
fn command_names() -> Vec<String> {
    let mut names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| name != "shell")
        .chain(super::builtins::BUILTINS.iter().map(|b| (*b).to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Which side the word being typed is on, from the words before it.
fn side_of(words: &[String], current: &str) -> Side {
    let Some(command) = words.first() else {
        return Side::Command;
    };
    let previous = words.last().map(String::as_str).unwrap_or_default();
    if current.starts_with('-') {
        return Side::Nothing;
    }
    let has_to = words.iter().any(|w| w == "--to");
    match previous {
        "--to" if command == "put" => return Side::Remote,
        "--to" => return Side::Local,
        "--limit-rate" | "--retries" | "--max-delete" | "--timeout" => return Side::Nothing,
        _ => {}
    }
    let index = words[1..].iter().filter(|w| !w.starts_with('-')).count();
    match command.as_str() {
        "help" => Side::Command,
        "put" if index >= 1 && !has_to => Side::Remote,
        "put" | "lcd" | "lls" | "mput" => Side::Local,
        "get" if index >= 1 && !has_to => Side::Local,
        "get" | "cd" | "ls" | "rm" | "stat" | "mkdir" | "mv" | "mget" => Side::Remote,
        "sync" if current.starts_with(':') => Side::Remote,
        "sync" => Side::Local,
        _ => Side::Nothing,
    }
}

/// Splits the line before the cursor as the shell reads it: where the last word starts, the
/// whole words before it, and the last word so far (unquoted).
fn split(line: &str) -> (usize, Vec<String>, String) {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut start = 0;
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        if !in_word && !c.is_whitespace() {
            in_word = true;
            start = at;
        }
        if escaped {
            word.push(c);
            escaped = false;
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
            } else {
                word.push(c);
            }
        } else if c == '\\' {
            escaped = true;
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
        } else {
            word.push(c);
        }
    }
    if !in_word {
        start = line.len();
    }
    (start, words, word)
}

/// `name` written so the line reads it back as one word.
fn escape(name: &str) -> String {
    let mut text = String::new();
    for c in name.chars() {
        if c.is_whitespace() || "'\"\\$`!*?[]()&;|<>#~{}".contains(c) {
            text.push('\\');
        }
        text.push(c);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_being_typed_is_unquoted_and_placed() {
        let (start, words, word) = split("get 'my fi");
        assert_eq!(
            (start, words, word.as_str()),
            (4, vec!["get".into()], "my fi")
        );
        let (start, words, word) = split("put a\\ b ");
        assert_eq!((start, words.len(), word.as_str()), (9, 2, ""));
        assert_eq!(escape("my file.txt"), "my\\ file.txt");
    }

    #[test]
    fn each_argument_is_remote_or_local_by_command() {
        let words = |line: &str| split(line).1;
        assert_eq!(side_of(&[], "g"), Side::Command);
        assert_eq!(side_of(&words("put "), ""), Side::Local);
        assert_eq!(side_of(&words("put a "), ""), Side::Remote);
        assert_eq!(side_of(&words("get "), ""), Side::Remote);
        assert_eq!(side_of(&words("get a "), ""), Side::Local);
        assert_eq!(side_of(&words("put a --to "), ""), Side::Remote);
        assert_eq!(side_of(&words("lcd "), ""), Side::Local);
        assert_eq!(side_of(&words("mv a "), ""), Side::Remote);
        assert_eq!(side_of(&words("sync "), ":x"), Side::Remote);
        assert_eq!(side_of(&words("get --limit-rate "), ""), Side::Nothing);
    }
}
