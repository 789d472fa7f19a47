//! Why a results CSV or a runs directory could not be read: one variant per problem, each
//! naming the file (as the user wrote its directory) and what is wrong with it.

use std::fmt;
use std::path::PathBuf;

use crate::figures::perturbation::Perturbation;

/// A file the runs directory must hold, and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFile {
    /// Path relative to the runs directory, `/`-separated.
    pub path: String,
    /// What it is, and which figure reads it.
    pub purpose: String,
}

/// Why a results CSV or a runs directory could not be read.
#[derive(Debug)]
pub enum RunsError {
    /// The file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    NotUtf8 { path: PathBuf },
    /// The file has no header line.
    Empty { path: PathBuf },
    /// The header lacks columns this kind of file needs.
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        header: String,
    },
    /// The header names a column twice.
    DuplicateColumn { path: PathBuf, column: String },
    /// The file has a header and no rows.
    NoRows { path: PathBuf },
    /// A line has a different number of fields than the header.
    FieldCount {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: usize,
    },
    /// A field does not hold what its column needs.
    Value {
        path: PathBuf,
        line: usize,
        /// 1-based position of the field in the line.
        column: usize,
        name: String,
        value: String,
        expected: &'static str,
    },
    /// Epochs do not strictly increase.
    EpochOrder {
        path: PathBuf,
        line: usize,
        epoch: u32,
        previous: u32,
    },
    /// The effects table names a (type, epoch) twice.
    DuplicateEffect {
        path: PathBuf,
        line: usize,
        perturbation: Perturbation,
        epoch: u32,
    },
    /// The runs directory is not a directory.
    NotADirectory { path: PathBuf },
    /// The runs directory holds files of both layouts, so which one to read is unclear.
    AmbiguousLayout {
        path: PathBuf,
        own: Vec<String>,
        original: Vec<String>,
    },
    /// The runs directory is the original project's folder, not its `Data/` inside it.
    OriginalBelow { path: PathBuf, data: PathBuf },
    /// Files the request needs are not in the runs directory (and nothing else is wrong).
    MissingFiles {
        root: PathBuf,
        missing: Vec<ExpectedFile>,
    },
    /// A run's folder exists but holds none of the results files it may hold.
    NoResultsFile {
        folder: PathBuf,
        names: Vec<String>,
        purpose: String,
    },
    /// A run lacks epochs a figure reads.
    MissingEpochs {
        path: PathBuf,
        /// The run's first and last epoch.
        span: (u32, u32),
        epochs: Vec<u32>,
        purpose: String,
    },
    /// A window run does not go past its window.
    WindowNotFinished {
        path: PathBuf,
        last: u32,
        start: u32,
        end: u32,
    },
    /// A run skips epochs a figure reads one after another.
    EpochGap {
        path: PathBuf,
        after: u32,
        next: u32,
        /// Which figure reads which epochs.
        reader: String,
    },
    /// The effects table lacks (type, epoch) rows a figure draws.
    MissingEffects {
        path: PathBuf,
        missing: Vec<(Perturbation, u32)>,
    },
    /// Several problems at once: every missing file and every file that cannot be used.
    Problems {
        root: PathBuf,
        missing: Vec<ExpectedFile>,
        errors: Vec<RunsError>,
    },
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn epoch_list(epochs: &[u32]) -> String {
    let shown: Vec<String> = epochs.iter().map(u32::to_string).collect();
    shown.join(", ")
}

impl fmt::Display for RunsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunsError::Read { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            RunsError::NotUtf8 { path } => write!(f, "`{}` is not utf-8 text", path.display()),
            RunsError::Empty { path } => {
                write!(f, "`{}` is empty; expected a csv header", path.display())
            }
            RunsError::MissingColumns {
                path,
                missing,
                header,
            } => {
                let missing: Vec<String> = missing.iter().map(|name| format!("`{name}`")).collect();
                write!(
                    f,
                    "`{}` line 1: the header lacks column{} {}; found `{header}`",
                    path.display(),
                    plural(missing.len()),
                    missing.join(", ")
                )
            }
            RunsError::DuplicateColumn { path, column } => write!(
                f,
                "`{}` line 1: the header names column `{column}` twice",
                path.display()
            ),
            RunsError::NoRows { path } => {
                write!(f, "`{}` has a header but no rows", path.display())
            }
            RunsError::FieldCount {
                path,
                line,
                expected,
                found,
            } => write!(
                f,
                "`{}` line {line}: expected {expected} fields like the header, found {found}",
                path.display()
            ),
            RunsError::Value {
                path,
                line,
                column,
                name,
                value,
                expected,
            } => write!(
                f,
                "`{}` line {line}, column {column} (`{name}`): expected {expected}, found `{value}`",
                path.display()
            ),
            RunsError::EpochOrder {
                path,
                line,
                epoch,
                previous,
            } => write!(
                f,
                "`{}` line {line}: epoch {epoch} does not follow epoch {previous}; \
                 epochs must strictly increase",
                path.display()
            ),
            RunsError::DuplicateEffect {
                path,
                line,
                perturbation,
                epoch,
            } => write!(
                f,
                "`{}` line {line}: `{perturbation}` at epoch {epoch} appears twice",
                path.display()
            ),
            RunsError::NotADirectory { path } => {
                write!(f, "runs directory `{}` is not a directory", path.display())
            }
            RunsError::AmbiguousLayout {
                path,
                own,
                original,
            } => write!(
                f,
                "runs directory `{}` holds both cpbuild's runs layout ({}) and the original \
                 project's (`{}`); keep one of them in the directory",
                path.display(),
                own.iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                original.join("`, `")
            ),
            RunsError::OriginalBelow { path, data } => write!(
                f,
                "runs directory `{}` holds the original project's results one level down; \
                 set `runs_dir` to `{}`",
                path.display(),
                data.display()
            ),
            RunsError::MissingFiles { root, missing } => {
                write!(
                    f,
                    "runs directory `{}` lacks {} file{}:",
                    root.display(),
                    missing.len(),
                    plural(missing.len())
                )?;
                for file in missing {
                    write!(f, "\n  `{}`: {}", file.path, file.purpose)?;
                }
                Ok(())
            }
            RunsError::NoResultsFile {
                folder,
                names,
                purpose,
            } => write!(
                f,
                "`{}/` holds no results file (looked for `{}`); it should be {purpose}",
                folder.display(),
                names.join("`, `")
            ),
            RunsError::MissingEpochs {
                path,
                span,
                epochs,
                purpose,
            } => write!(
                f,
                "`{}` holds epochs {}–{} but not epoch{} {}, read by {purpose}",
                path.display(),
                span.0,
                span.1,
                plural(epochs.len()),
                epoch_list(epochs)
            ),
            RunsError::WindowNotFinished {
                path,
                last,
                start,
                end,
            } => write!(
                f,
                "`{}` ends at epoch {last}, within its perturbation window (epochs {start}–{end}); \
                 fig4 reads the epochs after the window to find the recovery",
                path.display()
            ),
            RunsError::EpochGap {
                path,
                after,
                next,
                reader,
            } => write!(
                f,
                "`{}` jumps from epoch {after} to epoch {next}; {reader}",
                path.display()
            ),
            RunsError::MissingEffects { path, missing } => {
                let missing: Vec<String> = missing
                    .iter()
                    .map(|(kind, epoch)| format!("`{kind}` at epoch {epoch}"))
                    .collect();
                write!(
                    f,
                    "`{}` has no row for {} (fig2b)",
                    path.display(),
                    missing.join(", ")
                )
            }
            RunsError::Problems {
                root,
                missing,
                errors,
            } => {
                let count = missing.len() + errors.len();
                write!(
                    f,
                    "runs directory `{}` has {count} problem{}:",
                    root.display(),
                    plural(count)
                )?;
                for file in missing {
                    write!(
                        f,
                        "\n  `{}`: missing; {}",
                        root.join(&file.path).display(),
                        file.purpose
                    )?;
                }
                for error in errors {
                    write!(f, "\n  {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RunsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunsError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
