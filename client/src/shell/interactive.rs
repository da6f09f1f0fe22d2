//! The interactive session: log in once, then read lines at the prompt
//! `user@ADDR:/folder> ` and run them (see [`super::run`]) until `exit`, `quit` or Ctrl-D.
//!
//! Ctrl-C at the prompt clears the line (rustyline reads it as a key: the terminal sends no
//! signal then); during a command it stops that command, which is told, and the prompt comes
//! back. A failed command prints its error and the session goes on. A paste of several lines
//! (which a terminal with bracketed paste hands over as one) runs line by line.
//!
//! Order matters: rustyline puts its own SIGINT handler in place when the editor is made and
//! keeps it while the editor lives, so the editor comes first and the transfers' handler (see
//! [`crate::interrupt`]) is armed after it, before the login: with the editor made, a Ctrl-C
//! no longer ends the process by itself. The first one stops the login (exit 130), at the
//! password prompt too (the read is cut and told as a stop).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::cli::GlobalArgs;
use crate::session::Session;

use super::complete::{Shared, ShellHelper};
use super::history;
use super::run::{Changes, Flow};

/// Runs the session; returns the exit code (0 once it ends by `exit`, `quit` or Ctrl-D).
pub fn run(runtime: &tokio::runtime::Runtime, global: GlobalArgs) -> u8 {
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ShellHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(error) => {
            eprintln!("ftp: error: cannot read lines from the terminal: {error}");
            return 1;
        }
    };
    // rustyline took SIGINT for itself when the editor was made: the transfers' handler,
    // installed now, comes after it and hands the signal on to it. Ctrl-C while connecting,
    // or at the password prompt, ends the session (130).
    let mut session = match Session::lasting(global) {
        Ok(session) => session,
        Err(error) => return super::report(&error),
    };
    let interrupt = match session.connector() {
        Ok(connector) => connector.interrupt().clone(),
        Err(error) => return super::report(&error),
    };
    {
        let _inside = runtime.enter();
        interrupt.arm();
    }
    match runtime.block_on(interrupt.guard(session.client())) {
        Ok(Ok(_)) => {}
        Ok(Err(error)) | Err(error) => return super::report(&error),
    }
    let who = match session.connector() {
        Ok(connector) => format!("{}@{}", connector.user(), connector.server()),
        Err(error) => return super::report(&error),
    };
    let shared = Rc::new(Shared {
        session: RefCell::new(session),
        cache: RefCell::new(HashMap::new()),
    });
    editor.set_helper(Some(ShellHelper {
        shared: Rc::clone(&shared),
        runtime: runtime.handle().clone(),
    }));
    let history_file = history::path().filter(|file| match history::prepare(file) {
        Ok(()) => true,
        Err(error) => {
            eprintln!("ftp: warning: no history kept: {}: {error}", file.display());
            false
        }
    });
    if let Some(file) = &history_file {
        let _ = editor.load_history(file);
    }
    'prompt: loop {
        let prompt = format!("{who}:{}> ", shared.session.borrow().cwd());
        let text = match editor.readline(&prompt) {
            Ok(text) => text,
            // Ctrl-C at the prompt: the line is dropped, a new prompt comes.
            Err(ReadlineError::Interrupted | ReadlineError::Signal(_)) => continue,
            Err(ReadlineError::Eof) => break,
            Err(error) => {
                eprintln!("ftp: error: cannot read a line: {error}");
                break;
            }
        };
        // A paste of several lines comes as one text (bracketed paste): each line is a
        // command of its own, run in order, as a shell runs them.
        for line in text.lines() {
            if history::keeps(line) {
                let _ = editor.add_history_entry(line);
                if let Some(file) = &history_file {
                    let _ = editor.append_history(file);
                    let _ = history::keep_private(file);
                }
            }
            let done = super::run::execute(runtime, &mut shared.session.borrow_mut(), line);
            match done {
                Ok((Flow::Exit, _)) => break 'prompt,
                Ok((Flow::Go, Changes::None)) => {}
                Ok((Flow::Go, Changes::Remote)) => shared.cache.borrow_mut().clear(),
                Err(error) => {
                    super::report(&error);
                    shared.cache.borrow_mut().clear();
                }
            }
        }
    }
    runtime.block_on(shared.session.borrow_mut().close());
    0
}
