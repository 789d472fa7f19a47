//! `cpbuild report`: the reproducibility report of built targets, as Markdown on stdout or, with
//! `--html`, as a page to open in a browser.

use std::path::PathBuf;

use cpbuild_engine::archive::{self, Mode};
use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::store::LockMode;

use super::{GlobalOptions, context};

/// Prints the Markdown reproducibility report of built targets.
pub(super) fn report(global: &GlobalOptions, targets: &[String]) -> Result<i32> {
    let project = context::load(global)?;
    let roots = project.graph.resolve_all(targets)?;
    let store = project.store()?;
    let manifest = project.archive_manifest(&store, &roots, "local".into(), Mode::Full, true)?;
    let context = crate::archive_context(&project.registry);
    print!("{}", archive::reproducibility_report(&manifest, &context));
    Ok(exit_code::SUCCESS)
}

/// `cpbuild report --html`: writes `index.html` into `output` (default `artifacts/report/`).
pub(super) fn html_report(
    global: &GlobalOptions,
    targets: &[String],
    output: Option<PathBuf>,
    timings: bool,
) -> Result<i32> {
    let project = context::load(global)?;
    let roots = project.graph.resolve_all(targets)?;
    let store = project.store()?;
    let _store_lock = context::lock(global, &store, LockMode::Shared, &project.store_display())?;
    let manifest = project.archive_manifest(&store, &roots, "local".into(), Mode::Full, timings)?;
    let page = project.html_report(&store, &manifest)?;
    let directory = output.unwrap_or_else(|| project.root.join("artifacts").join("report"));
    std::fs::create_dir_all(&directory).map_err(|e| Error::io(&directory, e))?;
    let path = directory.join(crate::report_html::INDEX);
    let partial = directory.join(format!("{}.partial", crate::report_html::INDEX));
    std::fs::write(&partial, page.as_bytes())
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Error::io(&path, e)
        })?;
    let shown = cpbuild_engine::recipe::display_relative(&project.root, &path);
    let absolute = path.canonicalize().unwrap_or_else(|_| path.clone());
    println!(
        "cpbuild report: wrote `{}` ({}, {} target{})
  open file://{}",
        shown.display(),
        context::human_bytes(page.len() as u64),
        manifest.targets.len(),
        if manifest.targets.len() == 1 { "" } else { "s" },
        absolute.display()
    );
    Ok(exit_code::SUCCESS)
}
