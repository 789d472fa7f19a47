//! The one error type of cpbuild, with an exit code per kind.
//!
//! Messages are lower-case and name things in backticks. Recipe errors carry a
//! `file:line:column` location and, where possible, a `help:` line saying what to do.

use std::fmt;
use std::path::PathBuf;

/// Exit codes, documented in the README.
pub mod exit_code {
    /// Everything requested is built.
    pub const SUCCESS: i32 = 0;
    /// At least one action failed (the others are kept).
    pub const BUILD_FAILED: i32 = 1;
    /// A usage error (bad flag, unknown target) or a recipe error.
    pub const USAGE: i32 = 2;
    /// The store is unusable: corrupt bundle with `--no-rebuild`, I/O error, lock failure.
    pub const STORE: i32 = 3;
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: i32 = 130;
}

/// A location in a recipe file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, relative to the project root where possible.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Every error cpbuild reports.
#[derive(Debug)]
pub enum Error {
    /// A recipe is wrong; `help` says what to do.
    Recipe {
        location: Location,
        message: String,
        help: Option<String>,
    },
    /// The command line is wrong.
    Usage {
        message: String,
        help: Option<String>,
    },
    /// Reading or writing a file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The store cannot be used as asked.
    Store { message: String },
    /// One or more targets failed; details were already reported.
    BuildFailed { failed: Vec<String> },
    /// The user pressed Ctrl-C.
    Interrupted,
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Recipe { .. } | Error::Usage { .. } => exit_code::USAGE,
            Error::Io { .. } | Error::Store { .. } => exit_code::STORE,
            Error::BuildFailed { .. } => exit_code::BUILD_FAILED,
            Error::Interrupted => exit_code::INTERRUPTED,
        }
    }

    /// Shorthand for an I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for a usage error.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            help: None,
        }
    }

    /// Shorthand for a store error.
    pub fn store(message: impl Into<String>) -> Error {
        Error::Store {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Recipe {
                location,
                message,
                help,
            } => {
                write!(f, "{location}: {message}")?;
                if let Some(help) = help {
                    write!(f, "\n  help: {help}")?;
                }
                Ok(())
            }
            Error::Usage { message, help } => {
                write!(f, "{message}")?;
                if let Some(help) = help {
                    write!(f, "\n  help: {help}")?;
                }
                Ok(())
            }
            Error::Io { path, source } => write!(f, "`{}`: {source}", path.display()),
            Error::Store { message } => write!(f, "{message}"),
            Error::BuildFailed { failed } => {
                let names: Vec<String> = failed.iter().map(|n| format!("`{n}`")).collect();
                write!(
                    f,
                    "{} target{} failed: {}",
                    failed.len(),
                    if failed.len() == 1 { "" } else { "s" },
                    names.join(", ")
                )
            }
            Error::Interrupted => write!(f, "interrupted; nothing partial was kept"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result alias used throughout cpbuild.
pub type Result<T, E = Error> = std::result::Result<T, E>;
