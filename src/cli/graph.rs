//! `cpbuild graph [TARGET]`: the dependency graph as text (a target and what it needs per
//! line) or as Graphviz dot; a grid still waiting is one node.

use std::io::Write;

use cpbuild_engine::error::{Result, exit_code};

use super::{GlobalOptions, context};

pub(super) fn graph(global: &GlobalOptions, target: Option<&str>, dot: bool) -> Result<i32> {
    let project = context::load(global)?;
    let (roots, mut grids) = match target {
        Some(name) => project.graph.resolve_request(&[name.to_string()])?,
        None => (
            (0..project.graph.targets.len()).collect(),
            project.graph.pending.keys().cloned().collect(),
        ),
    };
    grids.extend(project.graph.waiting_grids(&roots));
    let order = project.graph.closure(&roots);
    let mut out = std::io::stdout().lock();
    let name = |id: usize| project.graph.target(id).spec.name.as_str();
    // A pending grid is one node (its name template), drawn after the target it waits on.
    let waiting = |id: usize| -> Vec<String> {
        project
            .graph
            .waits_on
            .get(&id)
            .map(|groups| groups.iter().cloned().collect())
            .unwrap_or_default()
    };
    if dot {
        let _ = writeln!(out, "digraph cpbuild {{\n  rankdir=LR;");
        for &id in &order {
            let spec = &project.graph.target(id).spec;
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\\n{}\"];",
                spec.name, spec.name, spec.kind
            );
            for &dep in &project.graph.target(id).deps {
                let _ = writeln!(out, "  \"{}\" -> \"{}\";", name(dep), spec.name);
            }
            for group in waiting(id) {
                let _ = writeln!(out, "  \"{group}\" -> \"{}\";", spec.name);
            }
        }
        for grid in grids.iter().filter_map(|g| project.graph.pending.get(g)) {
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\\nwaiting on {}.{}\", style=dashed];\n  \"{}\" -> \"{}\" [style=dashed];",
                grid.group, grid.name_template, grid.target, grid.value, grid.target, grid.group
            );
        }
        let _ = writeln!(out, "}}");
    } else {
        for grid in grids.iter().filter_map(|g| project.graph.pending.get(g)) {
            let _ = writeln!(
                out,
                "{} [grid waiting on `{}`'s `{}`] <- {}",
                grid.name_template, grid.target, grid.value, grid.target
            );
        }
        for &id in &order {
            let target = project.graph.target(id);
            let mut deps: Vec<String> = target.deps.iter().map(|&d| name(d).to_string()).collect();
            deps.extend(waiting(id).into_iter().map(|group| {
                let template = &project.graph.pending[&group].name_template;
                format!("{template} (waiting)")
            }));
            if deps.is_empty() {
                let _ = writeln!(out, "{} [{}]", target.spec.name, target.spec.kind);
            } else {
                let _ = writeln!(
                    out,
                    "{} [{}] <- {}",
                    target.spec.name,
                    target.spec.kind,
                    deps.join(", ")
                );
            }
        }
    }
    Ok(exit_code::SUCCESS)
}
