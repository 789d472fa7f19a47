//! `cpbuild clean`: remove the whole store, after asking (or with `--yes`).

use std::io::IsTerminal;
use std::path::Path;

use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::store::LockMode;
use cpbuild_engine::store::Store;

use super::{GlobalOptions, context};

/// Removes the store after asking (or with `--yes`).
pub(super) fn clean(global: &GlobalOptions, yes: bool) -> Result<i32> {
    let current = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let root = match &global.directory {
        Some(dir) => current.join(dir),
        None => current,
    };
    let store_dir = context::store_dir(global, &root);
    if !store_dir.exists() {
        println!("cpbuild clean: no store at `{}`", store_dir.display());
        return Ok(exit_code::SUCCESS);
    }
    let store = Store::open(&store_dir)?;
    let bundles = store.keys()?.len();
    let size = context::human_bytes(store_size(&store_dir));
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage {
                message: format!(
                    "refusing to remove the store `{}` ({bundles} bundles, {size}) without confirmation",
                    store_dir.display()
                ),
                help: Some("pass `--yes`".into()),
            });
        }
        eprint!(
            "remove the store `{}` ({bundles} bundles, {size})? [y/N] ",
            store_dir.display()
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("cpbuild clean: kept the store");
            return Ok(exit_code::SUCCESS);
        }
    }
    let _lock = context::lock(
        global,
        &store,
        LockMode::Exclusive,
        &store_dir.display().to_string(),
    )?;
    cpbuild_engine::util::fs::remove_tree(&store_dir).map_err(|e| Error::io(&store_dir, e))?;
    println!(
        "cpbuild clean: removed `{}` ({bundles} bundles, {size})",
        store_dir.display()
    );
    Ok(exit_code::SUCCESS)
}

/// The bytes of every file under `dir`.
fn store_size(dir: &Path) -> u64 {
    cpbuild_engine::util::fs::walk(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
