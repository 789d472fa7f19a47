//! `--executor slurm`: every target that needs work becomes a SLURM batch job running
//! `cpbuild build --only` on a node; resources come from `[resources.KIND]` and the
//! `--slurm-*` options.

use cpbuild_engine::action::CancelFlag;
use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::plan::Plan;
use cpbuild_engine::store::Store;

use super::{GlobalOptions, context};
use crate::project::Project;

/// Runs the dirty targets of `plan` as SLURM jobs (or, with `-n`, prints the job scripts).
pub(super) fn slurm(
    global: &GlobalOptions,
    project: &Project,
    store: &Store,
    plan: &Plan,
) -> Result<i32> {
    use cpbuild_engine::execute::{Resources, SlurmExecutor};
    let profile = project.recipes.profile(&global.profile)?;
    let overrides: Vec<(&str, &Option<String>)> = vec![
        ("partition", &global.slurm_partition),
        ("gres", &global.slurm_gres),
        ("cpus", &global.slurm_cpus),
        ("mem", &global.slurm_mem),
        ("time", &global.slurm_time),
    ];
    let resources = |id: usize| -> Result<Resources> {
        let kind = &project.graph.target(id).spec.kind;
        let mut resources = project
            .recipes
            .resources_for(kind, &profile, &global.profile)?;
        for (name, value) in &overrides {
            if let Some(value) = value {
                resources.insert(name.to_string(), value.clone());
            }
        }
        Ok(resources)
    };
    let program = std::env::current_exe().map_err(|e| Error::io("cpbuild", e))?;
    let store_dir = store
        .root()
        .canonicalize()
        .map_err(|e| Error::io(store.root(), e))?;
    let reporter = context::reporter(global);
    let cancel = CancelFlag::default();
    let executor = SlurmExecutor {
        graph: &project.graph,
        store,
        project_root: &project.root,
        program,
        node_args: vec![
            "--profile".into(),
            global.profile.clone(),
            "--store".into(),
            store_dir.to_string_lossy().into_owned(),
            "--executor".into(),
            "local".into(),
            "--backend".into(),
            project
                .options
                .settings
                .get("backend")
                .cloned()
                .unwrap_or_else(|| "ndarray".into()),
        ],
        resources: &resources,
        reporter: reporter.as_ref(),
        cancel: cancel.clone(),
        poll: std::time::Duration::from_millis(500),
    };
    if global.dry_run {
        let mut out = std::io::stdout().lock();
        executor.dry_run(plan, &mut out)?;
        return Ok(exit_code::SUCCESS);
    }
    context::install_interrupt_handler(&cancel);
    executor.run(plan)?.into_result()?;
    Ok(exit_code::SUCCESS)
}
