//! `cpbuild gc`: remove the bundles no current target references (see
//! [`Project::collect_garbage`]).

use cpbuild_engine::error::{Result, exit_code};
use cpbuild_engine::store::LockMode;

use super::{GlobalOptions, context};
#[cfg(doc)]
use crate::project::Project;

/// Collects the store's garbage under its exclusive lock and says what went.
pub(super) fn gc(global: &GlobalOptions) -> Result<i32> {
    let project = context::load(global)?;
    let store = project.store()?;
    let _lock = context::lock(
        global,
        &store,
        LockMode::Exclusive,
        &project.store_display(),
    )?;
    let collected = project.collect_garbage(&store)?;
    println!(
        "cpbuild gc: removed {} bundle{} ({}), kept {}",
        collected.removed,
        context::plural(collected.removed),
        context::human_bytes(collected.freed),
        collected.kept
    );
    Ok(exit_code::SUCCESS)
}
