//! `cpbuild import FILE`: verify a publication archive and add its bundles to the store.

use std::path::Path;

use cpbuild_engine::error::{Result, exit_code};
use cpbuild_engine::store::LockMode;

use super::{GlobalOptions, context};

pub(super) fn import(global: &GlobalOptions, file: &Path) -> Result<i32> {
    let project = context::load(global)?;
    let store = project.store()?;
    let _store_lock = context::lock(global, &store, LockMode::Shared, &project.store_display())?;
    let imported = cpbuild_engine::archive::import(file, &store)?;
    println!(
        "cpbuild import: `{}` verified; {} bundle{} added, {} already present (profile `{}`)",
        file.display(),
        imported.added,
        if imported.added == 1 { "" } else { "s" },
        imported.present,
        imported.profile
    );
    if imported.profile != global.profile {
        println!(
            "  note: the archive was built under profile `{}`: use `--profile {}`",
            imported.profile, imported.profile
        );
    }
    Ok(exit_code::SUCCESS)
}
