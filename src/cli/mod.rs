//! The command line: `cpbuild [TARGET]...` builds; subcommands inspect and maintain the store.
//!
//! This file parses the command line and sends each command to its own file, which calls the
//! library (mostly [`crate::project::Project`]) and prints; [`context`] holds what they share.

mod archive;
mod bench;
mod build;
mod clean;
mod context;
mod fsck;
mod gc;
mod graph;
mod import;
mod list;
mod report;
mod show;
mod slurm;
mod status;
mod verify;
mod verify_archive;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use cpbuild_engine::error::{Error, Result, exit_code};

/// make for reproducible ML artifacts.
#[derive(Debug, Parser)]
#[command(
    name = "cpbuild",
    version,
    disable_version_flag = true,
    about = "make for reproducible ML artifacts: content-addressed, byte-reproducible bundles",
    override_usage = "cpbuild [OPTIONS] [TARGET]...\n       cpbuild [OPTIONS] <COMMAND>",
    after_help = "Exit codes: 0 success, 1 a target failed, 2 usage or recipe error, 3 store or archive error, 130 interrupted."
)]
pub struct Cli {
    /// Print the version.
    #[arg(short = 'V', long = "version")]
    pub print_version: bool,

    #[command(flatten)]
    pub global: GlobalOptions,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalOptions {
    /// Run as if started in DIR (the project root, holding `recipes/`).
    #[arg(short = 'C', long = "directory", value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    /// The profile whose variables fill the recipes.
    #[arg(long, value_name = "NAME", default_value = cpbuild_engine::recipe::DEFAULT_PROFILE, global = true)]
    pub profile: String,

    /// The store directory (relative paths are relative to the project root).
    #[arg(long, value_name = "DIR", env = "CPBUILD_STORE", global = true)]
    pub store: Option<PathBuf>,

    /// Print one JSON event per line on stdout instead of human output.
    #[arg(long, global = true)]
    pub json: bool,

    /// Run at most N actions at once (default: the number of cores).
    #[arg(short = 'j', long, value_name = "N", global = true)]
    pub jobs: Option<usize>,

    /// Keep building what does not depend on a failed target.
    #[arg(short = 'k', long, global = true)]
    pub keep_going: bool,

    /// List what would run and why, and run nothing.
    #[arg(short = 'n', long, global = true)]
    pub dry_run: bool,

    /// Rebuild the requested targets even if fresh (dependencies only if they are dirty).
    #[arg(short = 'B', long, global = true)]
    pub always_make: bool,

    /// Say why each target runs.
    #[arg(long, global = true)]
    pub explain: bool,

    /// Refuse (instead of rebuilding) when a bundle fails verification.
    #[arg(long, global = true)]
    pub no_rebuild: bool,

    /// The training backend: `auto` picks CUDA if a device exists, else wgpu if a (non-software)
    /// adapter exists, else NdArray, and says which it picked. The backend is part of every
    /// training target's key. Default: `ndarray` for builds, `auto` for `bench`.
    #[arg(long, value_name = "auto|ndarray|wgpu|cuda", global = true)]
    pub backend: Option<String>,

    /// The training precision: `f32` (the paper's) or `bf16` (mixed precision with f32 master
    /// weights; not implemented yet, so refused with the reason).
    #[arg(long, value_name = "f32|bf16", default_value = "f32", global = true)]
    pub precision: String,

    /// Where actions run: here, or as SLURM jobs (the store must be on a filesystem every node sees).
    #[arg(long, value_enum, default_value = "local", global = true)]
    pub executor: Executor,

    /// SLURM: partition for every job (overrides `[resources.KIND]`).
    #[arg(long, value_name = "NAME", global = true)]
    pub slurm_partition: Option<String>,

    /// SLURM: generic resources for every job, e.g. `gpu:1`.
    #[arg(long, value_name = "GRES", global = true)]
    pub slurm_gres: Option<String>,

    /// SLURM: CPUs per job.
    #[arg(long, value_name = "N", global = true)]
    pub slurm_cpus: Option<String>,

    /// SLURM: memory per job, e.g. `16G`.
    #[arg(long, value_name = "SIZE", global = true)]
    pub slurm_mem: Option<String>,

    /// SLURM: time limit per job, e.g. `4:00:00`.
    #[arg(long, value_name = "TIME", global = true)]
    pub slurm_time: Option<String>,
}

/// `--executor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    /// Run actions in this process, up to `-j` at once.
    Local,
    /// Submit every target that needs work as a SLURM batch job, then follow the jobs.
    Slurm,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build targets (the same as `cpbuild TARGET...`).
    Build {
        /// Targets to build (default: the recipes' `default` list).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
        /// Build only the named targets; their dependencies must already be built (what a
        /// SLURM job runs).
        #[arg(long)]
        only: bool,
    },
    /// List the targets (or, with `--kinds`, the kinds).
    List {
        /// List the kinds instead.
        #[arg(long)]
        kinds: bool,
    },
    /// Show the dependency graph of a target (or of everything).
    Graph {
        /// The target (default: every target).
        target: Option<String>,
        /// Print Graphviz dot.
        #[arg(long)]
        dot: bool,
    },
    /// Say for each target whether it is fresh, and if not, why.
    Status {
        /// Targets (default: the defaults).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
    },
    /// Print a built target's manifest and run record.
    Show {
        /// The target.
        target: String,
    },
    /// Write a versioned, self-verifying publication archive of targets and all they depend on.
    Archive(ArchiveArgs),
    /// Re-hash every member of an archive and check its manifest.
    VerifyArchive {
        /// The archive.
        file: PathBuf,
    },
    /// Load an archive's bundles into the store (after verifying it).
    Import {
        /// The archive.
        file: PathBuf,
    },
    /// The reproducibility report of built targets: runs, seeds, splits, epochs, compute
    /// (Markdown on stdout); with `--html`, a static report to open in a browser.
    Report {
        /// Targets (default: the defaults).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
        /// Write the HTML report: one self-contained `index.html` with the figures, every run's
        /// curves, provenance, golden status and the dependency graph.
        #[arg(long)]
        html: bool,
        /// The directory of the HTML report (default: `artifacts/report/` in the project).
        #[arg(short = 'o', long = "output", value_name = "DIR", requires = "html")]
        output: Option<PathBuf>,
        /// Put wall-clock build times in the HTML report (it then differs between builds).
        #[arg(long, requires = "html")]
        timings: bool,
    },
    /// Build figure targets and compare their CSVs with `golden/` (per-column tolerances from
    /// the recipe); non-zero exit on any difference.
    Verify {
        /// Targets (default: the defaults).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
    },
    /// Remove bundles that no current target (in any profile) references.
    Gc,
    /// Re-hash every bundle and unpacked copy in the store (ignoring the records that let
    /// builds skip re-hashing); move what is damaged to `corrupt/` and say what to rebuild.
    /// Exit 3 when anything was damaged.
    Fsck,
    /// Time CLIP-HBA training on a backend (random weights, things-synth at the model's size):
    /// images/s of the full and frozen-prefix-cached paths, a paper-scale epoch, and the
    /// projected GPU time of the paper profile's CLIP-HBA graph.
    Bench {
        /// The model: `clip-vit-l-14` (the paper's) or `clip-tiny` (quick CPU runs).
        #[arg(long, value_name = "NAME", default_value = "clip-vit-l-14")]
        model: String,
        /// Timed training steps a path (after a warm-up epoch of as many).
        #[arg(long, value_name = "N", default_value_t = 20)]
        steps: usize,
        /// Images per batch.
        #[arg(long, value_name = "N", default_value_t = 64)]
        batch: usize,
        /// Also time a real paper-scale epoch (1,444 train, 362 test, 48 RSA images) instead of
        /// only projecting it from the throughput runs.
        #[arg(long)]
        full_epoch: bool,
    },
    /// Remove the whole store.
    Clean {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

// `cpbuild archive`'s arguments. (No doc comment: clap would take it for the command's about.)
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// Targets to archive (default: the defaults).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The archive's version, `X.Y.Z`.
    #[arg(long, value_name = "X.Y.Z")]
    pub version: String,
    /// Where to write it (default: `cpbuild-<project>-<version>.tar.zst` in the current directory).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only the figure outputs and the runs' metrics, no checkpoints.
    #[arg(long)]
    pub figures_only: bool,
    /// Build what is missing or out of date first, instead of refusing.
    #[arg(long)]
    pub build: bool,
    /// Include wall-clock build times (the archive then differs between stores).
    #[arg(long)]
    pub timings: bool,
}

/// Runs cpbuild with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse_from(with_default_command(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::SUCCESS
            };
            let _ = error.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            report_error(&error);
            error.exit_code()
        }
    }
}

/// Runs the parsed command line; returns the exit code.
fn run(cli: Cli) -> Result<i32> {
    let global = cli.global.clone();
    if cli.print_version {
        println!("cpbuild {}", cpbuild_engine::VERSION);
        return Ok(exit_code::SUCCESS);
    }
    check_precision(&global)?;
    match cli.command {
        None => build::build(&global, &[], false),
        Some(Command::Build { targets, only }) => build::build(&global, &targets, only),
        Some(Command::List { kinds }) => list::list(&global, kinds),
        Some(Command::Graph { target, dot }) => graph::graph(&global, target.as_deref(), dot),
        Some(Command::Status { targets }) => status::status(&global, &targets),
        Some(Command::Show { target }) => show::show(&global, &target),
        Some(Command::Archive(options)) => archive::archive(&global, &options),
        Some(Command::VerifyArchive { file }) => verify_archive::verify_archive(&file),
        Some(Command::Import { file }) => import::import(&global, &file),
        Some(Command::Report {
            targets,
            html,
            output,
            timings,
        }) => {
            if html {
                report::html_report(&global, &targets, output, timings)
            } else {
                report::report(&global, &targets)
            }
        }
        Some(Command::Verify { targets }) => verify::verify(&global, &targets),
        Some(Command::Bench {
            model,
            steps,
            batch,
            full_epoch,
        }) => bench::bench(
            &global,
            &crate::bench::BenchConfig {
                model,
                steps,
                batch,
                full_epoch,
            },
        ),
        Some(Command::Gc) => gc::gc(&global),
        Some(Command::Fsck) => fsck::fsck(&global),
        Some(Command::Clean { yes }) => clean::clean(&global, yes),
    }
}

/// `--precision`: only `f32` trains; `bf16` is refused with the reason (it is not part of any
/// key, so the default leaves every key as it was).
fn check_precision(global: &GlobalOptions) -> Result<()> {
    global
        .precision
        .parse::<cpbuild_ml::precision::Precision>()
        .and_then(|precision| precision.check())
        .map_err(|error| Error::Usage {
            message: error.to_string(),
            help: None,
        })
}

/// Options that take a value (so the word after them is not a target or command).
const VALUE_OPTIONS: &[&str] = &[
    "-C",
    "--directory",
    "--profile",
    "--store",
    "-j",
    "--jobs",
    "--executor",
    "--backend",
    "--precision",
    "--slurm-partition",
    "--slurm-gres",
    "--slurm-cpus",
    "--slurm-mem",
    "--slurm-time",
];

/// Make-style targets: `cpbuild [OPTIONS] fig4 fig3` means `cpbuild [OPTIONS] build fig4 fig3`.
/// The first word that is neither an option, an option's value nor a command starts the
/// targets, and `build` is inserted before it. (A target named like a command is built with
/// `cpbuild build NAME`.)
pub fn with_default_command(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let command = Cli::command();
    let is_command = |word: &str| {
        command
            .get_subcommands()
            .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
            || word == "help"
    };
    let mut index = 1;
    while index < args.len() {
        let Some(word) = args[index].to_str() else {
            break;
        };
        if word == "--" {
            break;
        }
        if word.starts_with('-') && word.len() > 1 {
            let takes_value = VALUE_OPTIONS.contains(&word);
            index += if takes_value { 2 } else { 1 };
            continue;
        }
        if !is_command(word) {
            args.insert(index, "build".into());
        }
        break;
    }
    args
}

fn report_error(error: &Error) {
    if let Error::BuildFailed { .. } | Error::Interrupted = error {
        eprintln!("error: {error}");
        return;
    }
    let colour = std::io::stderr().is_terminal();
    if colour {
        eprintln!("\x1b[1;31merror\x1b[0m: {error}");
    } else {
        eprintln!("error: {error}");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    use super::{Cli, VALUE_OPTIONS};

    /// `VALUE_OPTIONS` is written out by hand for [`super::with_default_command`]; it must name
    /// exactly the options before the command that clap parses with a value (every spelling), or
    /// an option's value would be taken for a target, or a target for an option's value.
    #[test]
    fn value_options_are_the_options_clap_gives_a_value() {
        let mut from_clap = BTreeSet::new();
        for arg in Cli::command().get_arguments() {
            if arg.is_positional() || !arg.get_action().takes_values() {
                continue;
            }
            let shorts = arg.get_short().into_iter();
            let short_aliases = arg.get_all_short_aliases().unwrap_or_default();
            for short in shorts.chain(short_aliases) {
                from_clap.insert(format!("-{short}"));
            }
            let longs = arg.get_long().into_iter();
            let long_aliases = arg.get_all_aliases().unwrap_or_default();
            for long in longs.chain(long_aliases) {
                from_clap.insert(format!("--{long}"));
            }
        }
        let by_hand: BTreeSet<String> = VALUE_OPTIONS.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            by_hand.len(),
            VALUE_OPTIONS.len(),
            "`VALUE_OPTIONS` names an option twice"
        );
        let missing: Vec<_> = from_clap.difference(&by_hand).collect();
        let extra: Vec<_> = by_hand.difference(&from_clap).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "`VALUE_OPTIONS` (src/cli/mod.rs) is out of step with clap's options: add {missing:?}, \
             remove {extra:?}"
        );
        assert!(from_clap.contains("--profile"), "{from_clap:?}");
    }
}
