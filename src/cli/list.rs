//! `cpbuild list`: every target (defaults marked `*`), grid and waiting grid; with `--kinds`,
//! every kind.

use std::collections::BTreeSet;
use std::io::Write;

use cpbuild_engine::error::{Result, exit_code};

use super::{GlobalOptions, context};

pub(super) fn list(global: &GlobalOptions, kinds: bool) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    if kinds {
        for action in crate::registry().kinds() {
            let _ = writeln!(
                out,
                "{:<16} v{:<4} {}",
                action.kind(),
                action.version(),
                action.description()
            );
        }
        return Ok(exit_code::SUCCESS);
    }
    let project = context::load(global)?;
    let defaults: BTreeSet<usize> = project.graph.default.iter().copied().collect();
    for (id, target) in project.graph.targets.iter().enumerate() {
        let spec = &target.spec;
        let mark = if defaults.contains(&id) && project.recipes.default.is_some() {
            "*"
        } else {
            " "
        };
        let description = spec.description.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "{mark} {:<32} {:<14} {description}",
            spec.name, spec.kind
        )
        .map(|_| ());
    }
    for (group, members) in &project.graph.groups {
        let _ = writeln!(out, "  {group:<32} (grid of {} targets)", members.len());
    }
    let pending: BTreeSet<String> = project.graph.pending.keys().cloned().collect();
    for line in project.waiting_lines(&pending) {
        let _ = writeln!(out, "  waiting: {line}");
    }
    Ok(exit_code::SUCCESS)
}
