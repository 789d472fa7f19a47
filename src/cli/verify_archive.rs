//! `cpbuild verify-archive FILE`: re-hash every member of a publication archive.

use std::path::Path;

use cpbuild_engine::error::{Error, Result, exit_code};

use super::context;

pub(super) fn verify_archive(file: &Path) -> Result<i32> {
    match cpbuild_engine::archive::verify(file) {
        Ok(verified) => {
            println!(
                "cpbuild verify-archive: `{}` is intact: {} members, {} uncompressed, {} targets, root hash {}",
                file.display(),
                verified.members,
                context::human_bytes(verified.bytes),
                verified.manifest.targets.len(),
                verified.manifest.root_hash
            );
            Ok(exit_code::SUCCESS)
        }
        Err(problems) => Err(Error::store(format!(
            "archive `{}` failed verification ({} problem{}):\n{}",
            file.display(),
            problems.0.len(),
            if problems.0.len() == 1 { "" } else { "s" },
            problems
                .0
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}
