//! `cpbuild verify [TARGET]...`: builds (or reuses) figure targets and compares every figure
//! CSV with its golden copy in `golden/` (see [`crate::golden`]). Every figure CSV gets a line
//! with its maximum absolute and relative error; failing cells are listed; any failure gives
//! exit code 1.

use std::fmt::Write as _;

use cpbuild_engine::error::{Result, exit_code};

use super::{GlobalOptions, build, context};
use crate::golden::{GOLDEN_DIR, SHOWN_FAILURES};

/// Runs `cpbuild verify`.
pub(super) fn verify(global: &GlobalOptions, targets: &[String]) -> Result<i32> {
    let code = build::build(global, targets, false)?;
    if code != exit_code::SUCCESS {
        return Ok(code);
    }
    let project = context::load(global)?;
    let roots = project.graph.resolve_all(targets)?;
    let store = project.store()?;
    let checks = project.check_figures(&store, &roots)?;
    let mut out = String::new();
    let mut failed = 0;
    for check in &checks {
        let comparison = &check.comparison;
        let status = if comparison.failures.is_empty() {
            "ok"
        } else {
            failed += 1;
            "FAILED"
        };
        let _ = writeln!(
            out,
            "verify {} `{}` against `{}`: {status} ({} rows, max abs error {:e}, max rel error {:e})",
            check.target,
            check.file,
            check.golden,
            comparison.rows,
            comparison.max_abs,
            comparison.max_rel
        );
        for failure in comparison.failures.iter().take(SHOWN_FAILURES) {
            let _ = writeln!(out, "  {failure}");
        }
        if comparison.failures.len() > SHOWN_FAILURES {
            let _ = writeln!(
                out,
                "  … and {} more",
                comparison.failures.len() - SHOWN_FAILURES
            );
        }
    }
    print!("{out}");
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} figure tables differ from `{GOLDEN_DIR}/`",
            checks.len()
        );
        return Ok(exit_code::BUILD_FAILED);
    }
    Ok(exit_code::SUCCESS)
}
