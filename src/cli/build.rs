//! `cpbuild [TARGET]...` and `cpbuild build`: plan the requested targets against the store and
//! run what is dirty, here (up to `-j` at once) or as SLURM jobs; data-dependent grids expand
//! between phases.

use cpbuild_engine::action::CancelFlag;
use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::events::Event;
use cpbuild_engine::execute::Executor;
use cpbuild_engine::plan::{Build, ItemState};
use cpbuild_engine::store::Store;

use super::{GlobalOptions, context};
use crate::project::Project;

/// Builds the requested targets. Where they need a data-dependent grid that is not expanded
/// yet, the targets it waits on are built first (with whatever else is ready), the grid is
/// expanded from their published values, and the build goes on; `-n` stops after saying so.
pub(super) fn build(global: &GlobalOptions, targets: &[String], only: bool) -> Result<i32> {
    let mut project = context::load(global)?;
    loop {
        let (roots, mut grids) = project.graph.resolve_request(targets)?;
        grids.extend(project.graph.waiting_grids(&roots));
        if grids.is_empty() {
            return build_roots(global, &project, &roots, only, global.always_make);
        }
        if only {
            return Err(Error::Usage {
                message: format!(
                    "`--only` cannot build what waits on a grid that is not expanded yet: {}",
                    project.waiting_lines(&grids).join("; ")
                ),
                help: Some(
                    "build without `--only` (it builds what the grid waits on first)".into(),
                ),
            });
        }
        let mut phase = project.graph.blockers(&grids)?;
        phase.extend(
            roots
                .iter()
                .copied()
                .filter(|&root| project.graph.waiting_grids(&[root]).is_empty()),
        );
        let reporter = context::reporter(global);
        for line in project.waiting_lines(&grids) {
            reporter.report(&Event::Waiting { message: line });
        }
        if global.dry_run {
            return build_roots(global, &project, &phase, false, false);
        }
        let code = build_roots(global, &project, &phase, false, false)?;
        if code != exit_code::SUCCESS {
            return Ok(code);
        }
        let before = project.graph.pending.len();
        project.expand_grids()?;
        if project.graph.pending.len() == before {
            return Err(Error::usage(format!(
                "the grids still wait after their targets were built: {}",
                project.waiting_lines(&grids).join("; ")
            )));
        }
        for group in &grids {
            if let Some(members) = project.graph.groups.get(group) {
                reporter.report(&Event::Progress {
                    target: group.clone(),
                    message: format!("grid expanded into {} targets", members.len()),
                });
            }
        }
    }
}

pub(super) fn build_roots(
    global: &GlobalOptions,
    project: &Project,
    roots: &[usize],
    only: bool,
    force: bool,
) -> Result<i32> {
    let roots = roots.to_vec();
    if global.jobs == Some(0) {
        return Err(Error::Usage {
            message: "`-j 0` would run nothing".into(),
            help: Some("give at least 1, e.g. `-j 1`, or leave `-j` out to use every core".into()),
        });
    }
    let reporter = context::reporter(global);
    if !project.store_dir.exists() {
        // Plan against the store that does not exist yet, so that an error (a missing input)
        // leaves no empty store behind.
        project
            .planner(&Store::at(&project.store_dir), force)
            .plan(&roots)?;
    }
    let store = project.store()?;
    let _store_lock = store.lock_for_build(context::wait_message(
        reporter.as_ref(),
        &project.store_display(),
    ))?;
    let full = project.planner(&store, force).plan(&roots)?;
    let plan = full.needed(&project.graph, &roots);
    let dirty: Vec<_> = plan.items.iter().filter(|i| i.is_dirty()).collect();
    if only {
        let missing: Vec<String> = dirty
            .iter()
            .filter(|item| !roots.contains(&item.id))
            .map(|item| format!("`{}`", project.graph.target(item.id).spec.name))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Usage {
                message: format!(
                    "`--only` builds just the named targets, but these dependencies are not built: {}",
                    missing.join(", ")
                ),
                help: Some("build them first, or drop `--only`".into()),
            });
        }
    }
    if global.executor == super::Executor::Slurm {
        return super::slurm::slurm(global, project, &store, &plan);
    }
    reporter.report(&Event::Plan {
        profile: global.profile.clone(),
        store: project.store_display(),
        targets: plan.items.len(),
        dirty: dirty.len(),
    });
    if global.dry_run {
        for item in dirty {
            if let ItemState::Dirty(reasons) = &item.state {
                reporter.report(&Event::WouldRun {
                    target: project.graph.target(item.id).spec.name.clone(),
                    key: item.key.clone(),
                    reasons: reasons.clone(),
                });
            }
        }
        return Ok(exit_code::SUCCESS);
    }
    let cancel = CancelFlag::default();
    context::install_interrupt_handler(&cancel);
    let jobs = global.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let executor = Executor {
        build: Build {
            graph: &project.graph,
            registry: &project.registry,
            store: &store,
            project_root: &project.root,
            options: &project.options,
        },
        reporter: reporter.as_ref(),
        jobs,
        keep_going: global.keep_going,
        no_rebuild: global.no_rebuild,
        cancel,
    };
    executor.run(&plan, &roots)?.into_result()?;
    Ok(exit_code::SUCCESS)
}
