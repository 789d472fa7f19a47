//! The one error type of this crate: every failure a user can cause (a missing or corrupt file,
//! weights that do not fit the model, a configuration out of range) ends up here, with the path
//! or the names involved, so that the message alone says what to fix.

use std::fmt;
use std::path::PathBuf;

/// How many missing or mismatched tensors a [`Error::WeightsMismatch`] message lists.
pub const LISTED_PROBLEMS: usize = 10;

/// An error from building, configuring or loading a model.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read at all.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A Hugging Face `config.json` is not valid JSON or lacks a field.
    HfConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A safetensors file could not be parsed.
    CorruptWeights {
        /// The file.
        path: PathBuf,
        /// What the safetensors parser said.
        message: String,
    },
    /// Tensors the model needs are missing, have another shape, or have a dtype that cannot be
    /// converted to float32.
    WeightsMismatch {
        /// The file.
        path: PathBuf,
        /// The first [`LISTED_PROBLEMS`] problems, in model order.
        problems: Vec<WeightProblem>,
        /// How many problems there are in all.
        total: usize,
    },
    /// A configuration that cannot describe a model (e.g. a DoRA layer index past the last layer).
    InvalidConfig {
        /// What is wrong.
        message: String,
    },
}

/// One tensor that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightProblem {
    /// The file has no tensor of this name.
    Missing {
        /// The tensor name, e.g. `vision_model.pre_layrnorm.weight`.
        name: String,
        /// The shape the model expects, in the file's (PyTorch) layout.
        expected: Vec<usize>,
    },
    /// The tensor exists with another shape.
    Shape {
        /// The tensor name.
        name: String,
        /// The shape the model expects, in the file's (PyTorch) layout.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// The tensor's dtype is not f32, f16 or bf16.
    Dtype {
        /// The tensor name.
        name: String,
        /// The dtype in the file.
        found: String,
    },
}

impl fmt::Display for WeightProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightProblem::Missing { name, expected } => {
                write!(f, "`{name}` is missing (expected shape {expected:?})")
            }
            WeightProblem::Shape {
                name,
                expected,
                found,
            } => write!(f, "`{name}` has shape {found:?}, expected {expected:?}"),
            WeightProblem::Dtype { name, found } => {
                write!(f, "`{name}` has dtype {found}, expected f32, f16 or bf16")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            Error::HfConfig { path, message } => {
                write!(f, "invalid CLIP config `{}`: {message}", path.display())
            }
            Error::CorruptWeights { path, message } => write!(
                f,
                "`{}` is not a readable safetensors file: {message}",
                path.display()
            ),
            Error::WeightsMismatch {
                path,
                problems,
                total,
            } => {
                write!(
                    f,
                    "`{}` does not fit the model: {total} tensor(s) missing or mismatched",
                    path.display()
                )?;
                for problem in problems {
                    write!(f, "\n  {problem}")?;
                }
                if *total > problems.len() {
                    write!(f, "\n  … and {} more", total - problems.len())?;
                }
                Ok(())
            }
            Error::InvalidConfig { message } => write!(f, "invalid model config: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
