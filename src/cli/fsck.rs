//! `cpbuild fsck`: re-hash the store, say what was damaged (moved to `corrupt/`) and what to
//! rebuild.

use std::collections::BTreeSet;

use cpbuild_engine::error::{Result, exit_code};
use cpbuild_engine::store::LockMode;
use cpbuild_engine::store::Store;

use super::{GlobalOptions, context};

/// `cpbuild fsck`: re-hash every bundle and unpacked copy; move what is damaged to `corrupt/`
/// and say what to rebuild. Exit 0 when nothing is damaged, 3 otherwise.
pub(super) fn fsck(global: &GlobalOptions) -> Result<i32> {
    let root = context::project_root(global)?;
    let store_dir = context::store_dir(global, &root);
    let shown = cpbuild_engine::recipe::display_relative(&root, &store_dir)
        .display()
        .to_string();
    if !store_dir.exists() {
        println!("cpbuild fsck: no store at `{shown}`; nothing to check");
        return Ok(exit_code::SUCCESS);
    }
    let store = Store::open(&store_dir)?;
    let _lock = context::lock(global, &store, LockMode::Exclusive, &shown)?;
    let report = store.fsck()?;
    println!(
        "cpbuild fsck: re-hashed {} bundle{} ({}) and {} unpacked cop{} in `{shown}`",
        report.bundles,
        if report.bundles == 1 { "" } else { "s" },
        context::human_bytes(report.bytes),
        report.unpacked,
        if report.unpacked == 1 { "y" } else { "ies" },
    );
    if report.damage.is_empty() {
        println!("  no damage found");
        return Ok(exit_code::SUCCESS);
    }
    let mut rebuild: BTreeSet<(String, String)> = BTreeSet::new();
    for damage in &report.damage {
        let target = match &damage.target {
            Some(name) => format!("target `{name}`"),
            None => "an unknown target".to_string(),
        };
        let what = if damage.bundle {
            "bundle"
        } else {
            "unpacked copy"
        };
        println!(
            "  damaged: the {what} of {target} (key {}): {}; moved to `{}`",
            &damage.key[..damage.key.len().min(12)],
            damage.detail,
            cpbuild_engine::recipe::display_relative(&root, &damage.moved_to).display()
        );
        if damage.bundle
            && let Some(name) = &damage.target
        {
            let profile = damage
                .profile
                .clone()
                .unwrap_or_else(|| global.profile.clone());
            rebuild.insert((profile, name.clone()));
        }
    }
    let unpacked_only = report.damage.iter().filter(|d| !d.bundle).count();
    if unpacked_only > 0 {
        println!(
            "  {unpacked_only} unpacked cop{} will be unpacked again from {} bundle{} when next used",
            if unpacked_only == 1 { "y" } else { "ies" },
            if unpacked_only == 1 { "its" } else { "their" },
            if unpacked_only == 1 { "" } else { "s" },
        );
    }
    let mut by_profile: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (profile, name) in rebuild {
        by_profile.entry(profile).or_default().push(name);
    }
    for (profile, names) in by_profile {
        println!("  rebuild: cpbuild --profile {profile} {}", names.join(" "));
    }
    Ok(exit_code::STORE)
}
