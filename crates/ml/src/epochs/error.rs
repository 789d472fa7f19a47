//! The error type of training: configuration and data that do not fit, state files that cannot
//! be read or do not belong to the run, and cancellation.

use std::fmt;
use std::path::PathBuf;

/// Why training could not start, continue, or save its state.
#[derive(Debug)]
pub enum TrainError {
    /// The configuration cannot describe a run (e.g. a batch size of 0).
    Config {
        /// What is wrong.
        message: String,
    },
    /// The data arrays do not fit together or do not fit the model.
    Data {
        /// What is wrong.
        message: String,
    },
    /// The model could not be built.
    Model(crate::Error),
    /// A state file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A state directory is corrupt or belongs to another run.
    State {
        /// The state directory or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// RSA could not be computed (shapes that do not fit).
    Rsa(crate::rsa::RsaError),
    /// The observer asked to stop (Ctrl-C).
    Cancelled,
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Config { message } => write!(f, "invalid training config: {message}"),
            TrainError::Data { message } => write!(f, "invalid training data: {message}"),
            TrainError::Model(error) => write!(f, "{error}"),
            TrainError::Io { path, source } => write!(f, "`{}`: {source}", path.display()),
            TrainError::State { path, message } => {
                write!(f, "training state `{}`: {message}", path.display())
            }
            TrainError::Rsa(error) => write!(f, "rsa: {error}"),
            TrainError::Cancelled => write!(f, "training was cancelled"),
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Model(error) => Some(error),
            TrainError::Io { source, .. } => Some(source),
            TrainError::Rsa(error) => Some(error),
            _ => None,
        }
    }
}

impl From<crate::Error> for TrainError {
    fn from(error: crate::Error) -> Self {
        TrainError::Model(error)
    }
}

impl From<crate::rsa::RsaError> for TrainError {
    fn from(error: crate::rsa::RsaError) -> Self {
        TrainError::Rsa(error)
    }
}
