//! Everything callform shows, and the only code that writes to stdout or stderr.
//!
//! stdout is data (a plan, a listing, a summary a script may read); stderr is status
//! (diagnostics, progress, notes, errors). Colour and terminal features are decided per
//! stream: diagnostics on stderr are coloured when stderr is a terminal, whatever stdout
//! is. `--quiet` silences status lines; data, warnings and errors are always printed.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod diag;
pub mod palette;
pub mod plan;
pub mod refresh;
pub mod state;

use std::io::{IsTerminal, Write};

use crate::env::Env;
use palette::Palette;

/// What each stream is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streams {
    /// stdout is a terminal.
    pub stdout_tty: bool,
    /// stderr is a terminal.
    pub stderr_tty: bool,
}

impl Streams {
    /// The streams of this process.
    pub fn detect() -> Streams {
        Streams {
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }
}

/// The one way commands print. See the module docs for what goes where.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    streams: Streams,
    stdout_color: bool,
    stderr_color: bool,
    quiet: bool,
}

impl Printer {
    /// Colour on a stream only when it is a terminal, never with `--no-color` or a
    /// non-empty `NO_COLOR`.
    pub fn new(no_color: bool, quiet: bool, env: &dyn Env, streams: Streams) -> Printer {
        let allowed = !no_color && env.var("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer {
            streams,
            stdout_color: allowed && streams.stdout_tty,
            stderr_color: allowed && streams.stderr_tty,
            quiet,
        }
    }

    /// The palette for what goes to stdout.
    pub fn stdout_palette(&self) -> Palette {
        Palette {
            on: self.stdout_color,
        }
    }

    /// The palette for what goes to stderr.
    pub fn stderr_palette(&self) -> Palette {
        Palette {
            on: self.stderr_color,
        }
    }

    /// Whether stderr is a terminal (source excerpts, progress bars).
    pub fn stderr_is_terminal(&self) -> bool {
        self.streams.stderr_tty
    }

    /// Whether stdout is a terminal.
    pub fn stdout_is_terminal(&self) -> bool {
        self.streams.stdout_tty
    }

    /// With `--quiet`: no status lines.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Data on stdout, exactly `text`, flushed. A closed pipe comes back as an error
    /// (`callform plan | head` then exits 0, see `lib.rs`).
    pub fn data(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// One line of data on stdout, ignoring a closed pipe: an apply must not die half-way
    /// because nobody reads.
    pub fn say(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// A status line on stderr (progress, notes, what was saved); silent with `--quiet`.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// A warning or error on stderr: printed even with `--quiet`.
    pub fn problem(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// A prompt on stdout, without a newline, flushed.
    pub fn prompt(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{text}");
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::FakeEnv;

    fn streams(stdout_tty: bool, stderr_tty: bool) -> Streams {
        Streams {
            stdout_tty,
            stderr_tty,
        }
    }

    #[test]
    fn colour_is_decided_per_stream() {
        let env = FakeEnv::default();
        let p = Printer::new(false, false, &env, streams(false, true));
        assert!(!p.stdout_palette().on);
        assert!(p.stderr_palette().on);
        let p = Printer::new(false, false, &env, streams(true, false));
        assert!(p.stdout_palette().on);
        assert!(!p.stderr_palette().on);
    }

    #[test]
    fn no_color_and_the_flag_switch_both_streams_off() {
        let env = FakeEnv::default().with_var("NO_COLOR", "1");
        let p = Printer::new(false, false, &env, streams(true, true));
        assert!(!p.stdout_palette().on && !p.stderr_palette().on);
        let env = FakeEnv::default().with_var("NO_COLOR", "");
        let p = Printer::new(true, false, &env, streams(true, true));
        assert!(!p.stdout_palette().on && !p.stderr_palette().on);
        let p = Printer::new(false, false, &env, streams(true, true));
        assert!(p.stdout_palette().on && p.stderr_palette().on);
    }
}
