//! `cpbuild status [TARGET]...`: fresh, dirty (and why) or waiting on a grid, per target.

use std::io::Write;

use cpbuild_engine::error::{Result, exit_code};
use cpbuild_engine::plan::{ItemState, Plan};

use super::{GlobalOptions, context};

pub(super) fn status(global: &GlobalOptions, targets: &[String]) -> Result<i32> {
    let project = context::load(global)?;
    let (roots, mut grids) = project.graph.resolve_request(targets)?;
    grids.extend(project.graph.waiting_grids(&roots));
    let store = project.store()?;
    // Targets that wait on a grid have no key yet: they are listed as waiting, and the rest
    // of their closure is planned, with the targets the grids wait on (built first).
    let mut starts = roots.clone();
    starts.extend(project.graph.blockers(&grids)?);
    let closure = project.graph.closure(&starts);
    let waiting_ids: Vec<usize> = closure
        .iter()
        .copied()
        .filter(|&id| !project.graph.waiting_grids(&[id]).is_empty())
        .collect();
    let ready: Vec<usize> = closure
        .iter()
        .copied()
        .filter(|id| !waiting_ids.contains(id))
        .collect();
    let mut out = std::io::stdout().lock();
    for line in project.waiting_lines(&grids) {
        if global.json {
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"state": "waiting", "grid": line})
            );
        } else {
            let _ = writeln!(out, "waiting grid {line}");
        }
    }
    for &id in &waiting_ids {
        let name = &project.graph.target(id).spec.name;
        let grids: Vec<String> = project
            .graph
            .waiting_grids(&[id])
            .into_iter()
            .map(|g| format!("`{g}`"))
            .collect();
        if global.json {
            let line = serde_json::json!({"target": name, "state": "waiting", "grids": grids});
            let _ = writeln!(out, "{line}");
        } else {
            let _ = writeln!(out, "waiting {name}: needs grid {}", grids.join(", "));
        }
    }
    // Planned after the waiting lines, so a plan that fails (a missing input) still says
    // which grids wait.
    let plan: Plan = project.planner(&store, false).plan(&ready)?;
    let mut dirty = 0;
    for item in &plan.items {
        let name = &project.graph.target(item.id).spec.name;
        if global.json {
            let (state, reasons) = match &item.state {
                ItemState::Fresh => ("fresh", Vec::new()),
                ItemState::Dirty(reasons) => ("dirty", reasons.clone()),
            };
            let line = serde_json::json!({"target": name, "key": item.key, "state": state, "reasons": reasons});
            let _ = writeln!(out, "{line}");
            continue;
        }
        match &item.state {
            ItemState::Fresh => {
                let _ = writeln!(out, "fresh  {name}");
            }
            ItemState::Dirty(reasons) => {
                dirty += 1;
                let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "dirty  {name}: {}", text.join("; "));
            }
        }
    }
    if !global.json {
        let waiting = if waiting_ids.is_empty() {
            String::new()
        } else {
            format!(", {} waiting", waiting_ids.len())
        };
        let _ = writeln!(
            out,
            "{} fresh, {dirty} dirty{waiting} (profile `{}`)",
            plan.items.len() - dirty,
            global.profile
        );
    }
    Ok(exit_code::SUCCESS)
}
