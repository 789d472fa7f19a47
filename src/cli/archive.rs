//! `cpbuild archive`: a versioned, self-verifying publication archive of the requested targets
//! and all they depend on, with the recipes and the HTML report.

use std::path::PathBuf;

use cpbuild_engine::archive::{self, Mode};
use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::store::LockMode;

use super::{ArchiveArgs, GlobalOptions, build, context};

/// Writes the archive (building first with `--build`) and prints where, its size and hashes.
pub(super) fn archive(global: &GlobalOptions, options: &ArchiveArgs) -> Result<i32> {
    if !archive::valid_version(&options.version) {
        return Err(Error::Usage {
            message: format!("`--version {}` is not a version", options.version),
            help: Some("write `X.Y.Z`, e.g. `--version 1.0.0`".into()),
        });
    }
    if options.build {
        // First what the targets need (expanding data-dependent grids on the way)...
        let code = build::build(global, &options.targets, false)?;
        if code != exit_code::SUCCESS {
            return Ok(code);
        }
    }
    let project = context::load(global)?;
    let roots = project.graph.resolve_all(&options.targets)?;
    if options.build {
        // ...then everything below them, which must be in the store too.
        let closure = project.graph.closure(&roots);
        let code = build::build_roots(global, &project, &closure, false, false)?;
        if code != exit_code::SUCCESS {
            return Ok(code);
        }
    }
    let store = project.store()?;
    let _store_lock = context::lock(global, &store, LockMode::Shared, &project.store_display())?;
    let mode = if options.figures_only {
        Mode::FiguresOnly
    } else {
        Mode::Full
    };
    let manifest = project.archive_manifest(
        &store,
        &roots,
        options.version.clone(),
        mode,
        options.timings,
    )?;
    let name = manifest.project.clone();
    let report = project.html_report(&store, &manifest)?;
    let destination = match &options.output {
        Some(path) => path.clone(),
        None => PathBuf::from(format!(
            "{}.tar.zst",
            archive::top_folder(&name, &options.version)
        )),
    };
    let (sha, manifest) = archive::write(
        archive::Request {
            manifest,
            store: &store,
            recipes: project.recipe_files(),
            documents: vec![archive::Document {
                path: crate::report_html::ARCHIVE_PATH.into(),
                bytes: report.into_bytes(),
                description: "the report to open in a browser: every figure, its golden status and provenance, every run's curves, the dependency graph".into(),
            }],
            context: crate::archive_context(&project.registry),
        },
        &destination,
    )?;
    let size = std::fs::metadata(&destination)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "cpbuild archive: wrote `{}` ({}, {} targets, {} files)\n  sha256 {sha}\n  root hash {}",
        destination.display(),
        context::human_bytes(size),
        manifest.targets.len(),
        manifest.files.len() + 1,
        manifest.root_hash
    );
    Ok(exit_code::SUCCESS)
}
