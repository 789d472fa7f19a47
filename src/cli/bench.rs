//! `cpbuild bench`: resolves the backend (default `auto`), runs [`crate::bench::run`] in the
//! project, and prints its tables on stdout (progress on stderr).

use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_ml::backend::resolve;

use super::{GlobalOptions, context};
use crate::bench::{self, BenchConfig};

/// Runs the benchmark; exit code 1 when it fails after starting, 2 on bad options.
pub(super) fn bench(global: &GlobalOptions, config: &BenchConfig) -> Result<i32> {
    let usage = |message: String| Error::Usage {
        message,
        help: None,
    };
    if bench::hba_config(&config.model).is_none() {
        return Err(Error::Usage {
            message: format!("unknown model `{}`", config.model),
            help: Some(
                "use `--model clip-vit-l-14`, `--model clip-small` or `--model clip-tiny`".into(),
            ),
        });
    }
    if config.steps == 0 || config.batch == 0 {
        return Err(usage(
            "`--steps` and `--batch` must be at least 1".to_string(),
        ));
    }
    let root = context::project_root(global)?;
    let choice = context::backend(global, "auto")?;
    let resolved = resolve(choice).map_err(|error| usage(error.to_string()))?;
    eprintln!("cpbuild bench: backend {resolved}");
    let progress = |message: &str| eprintln!("cpbuild bench: {message}");
    match bench::run(&root, &resolved, config, &progress) {
        Ok(report) => {
            print!("{report}");
            Ok(exit_code::SUCCESS)
        }
        Err(message) => {
            eprintln!("error: bench: {message}");
            Ok(exit_code::BUILD_FAILED)
        }
    }
}
