//! Publication archives: `archive`, `verify-archive`, `import`, `summary`.

use std::io::Read;

use crate::support::{Project, Run, assert_contains, three_levels_recipe};

fn built_project() -> Project {
    let project = Project::new();
    project
        .recipe(&format!("project = \"demo\"\n{}", three_levels_recipe()))
        .file("input.txt", "hello\n");
    project.run(&["summary", "other"]).success();
    project
}

/// The members of an archive (name → bytes), in order.
fn members(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Writes `members` as an archive the way cpbuild does (for tampering tests).
fn repack(path: &std::path::Path, members: &[(String, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = zstd::Encoder::new(file, 3).unwrap();
    encoder.include_checksum(true).unwrap();
    let mut builder = tar::Builder::new(encoder);
    for (name, bytes) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// `cpbuild archive summary --version VERSION EXTRA… -o OUTPUT` in `project`, which must succeed.
fn archive_summary(project: &Project, version: &str, extra: &[&str], output: &str) -> Run {
    let mut args = vec!["archive", "summary", "--version", version];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", output]);
    project.run(&args).success()
}

#[test]
fn archives_are_byte_reproducible_across_two_fresh_stores() {
    let project = Project::new();
    project
        .recipe(&format!("project = \"demo\"\n{}", three_levels_recipe()))
        .file("input.txt", "hello\n");
    project.run(&["--store", "one", "summary"]).success();
    project.run(&["--store", "two", "summary", "-j1"]).success();
    let a = project
        .run(&[
            "--store",
            "one",
            "archive",
            "summary",
            "--version",
            "1.2.3",
            "-o",
            "a.tar.zst",
        ])
        .success();
    assert_contains(&a.stdout, "wrote `a.tar.zst`");
    project
        .run(&[
            "--store",
            "two",
            "archive",
            "summary",
            "--version",
            "1.2.3",
            "-o",
            "b.tar.zst",
        ])
        .success();
    assert_eq!(
        std::fs::read(project.path("a.tar.zst")).unwrap(),
        std::fs::read(project.path("b.tar.zst")).unwrap()
    );
    let names: Vec<String> = members(&project.path("a.tar.zst"))
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(names[0], "cpbuild-demo-1.2.3/MANIFEST.json");
    assert!(names.contains(&"cpbuild-demo-1.2.3/README.md".to_string()));
    assert!(names.contains(&"cpbuild-demo-1.2.3/REPORT.md".to_string()));
    assert!(names.contains(&"cpbuild-demo-1.2.3/report/index.html".to_string()));
    assert!(names.contains(&"cpbuild-demo-1.2.3/recipes/main.toml".to_string()));
    assert!(names.contains(&"cpbuild-demo-1.2.3/figures/summary/summary.txt".to_string()));
    assert_eq!(names.iter().filter(|n| n.contains("/bundles/")).count(), 4);
    project.run(&["verify-archive", "a.tar.zst"]).success();
}

#[test]
fn unbuilt_targets_are_refused_with_what_to_build() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    project.run(&["data"]).success();
    let refused = project.run(&["archive", "summary", "--version", "1.0.0"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert_contains(&refused.stderr, "3 targets must be built first");
    assert_contains(&refused.stderr, "`left`: never built");
    assert_contains(&refused.stderr, "pass `--build`");
    let bad = project.run(&["archive", "summary", "--version", "one"]);
    assert_eq!(bad.code, 2);
    assert_contains(&bad.stderr, "is not a version");
    archive_summary(&project, "1.0.0", &["--build"], "r.tar.zst");
    project.run(&["verify-archive", "r.tar.zst"]).success();
}

fn verify_fails(project: &Project, file: &str, expected: &str) {
    let run = project.run(&["verify-archive", file]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains(expected),
        "expected `{expected}` in:\n{}",
        run.stderr
    );
}

#[test]
fn damaged_archives_are_detected() {
    let project = built_project();
    archive_summary(&project, "1.0.0", &[], "good.tar.zst");
    let good = std::fs::read(project.path("good.tar.zst")).unwrap();

    // Truncated.
    std::fs::write(project.path("truncated.tar.zst"), &good[..good.len() / 2]).unwrap();
    verify_fails(&project, "truncated.tar.zst", "truncated or damaged");

    // One flipped bit in the middle (zstd's frame checksum or a member hash catches it).
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    std::fs::write(project.path("flipped.tar.zst"), &flipped).unwrap();
    verify_fails(&project, "flipped.tar.zst", "failed verification");

    // A member removed.
    let all = members(&project.path("good.tar.zst"));
    let without: Vec<_> = all
        .iter()
        .filter(|(name, _)| !name.ends_with("figures/summary/summary.txt"))
        .cloned()
        .collect();
    repack(&project.path("missing.tar.zst"), &without);
    verify_fails(
        &project,
        "missing.tar.zst",
        "member `figures/summary/summary.txt` is missing",
    );

    // A member's content changed.
    let changed: Vec<_> = all
        .iter()
        .map(|(name, bytes)| {
            if name.ends_with("recipes/main.toml") {
                (name.clone(), b"# edited\n".to_vec())
            } else {
                (name.clone(), bytes.clone())
            }
        })
        .collect();
    repack(&project.path("changed.tar.zst"), &changed);
    verify_fails(
        &project,
        "changed.tar.zst",
        "member `recipes/main.toml` is damaged",
    );

    // The manifest tampered with: a param changed.
    let mut manifest: serde_json::Value = serde_json::from_slice(&all[0].1).unwrap();
    manifest["targets"]["left"]["fingerprint"]["params"]["factor"] = serde_json::json!(99);
    let mut tampered = all.clone();
    tampered[0].1 = serde_json::to_vec_pretty(&manifest).unwrap();
    repack(&project.path("tampered.tar.zst"), &tampered);
    verify_fails(&project, "tampered.tar.zst", "`MANIFEST.json` was modified");

    // Tampered again, with the root hash recomputed: the key no longer matches the fingerprint.
    manifest["root_hash"] = serde_json::json!("");
    let canonical = canonical_json(&manifest);
    manifest["root_hash"] = serde_json::json!(sha256_hex(canonical.as_bytes()));
    tampered[0].1 = serde_json::to_vec_pretty(&manifest).unwrap();
    repack(&project.path("rehashed.tar.zst"), &tampered);
    verify_fails(
        &project,
        "rehashed.tar.zst",
        "is not the hash of its fingerprint",
    );
}

fn canonical_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String((*k).clone()),
                        canonical_json(&map[*k])
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(canonical_json)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        scalar => scalar.to_string(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let output = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn import_fills_a_fresh_store_and_rebuilds_from_imported_runs() {
    let project = built_project();
    archive_summary(&project, "2.0.0", &[], "release.tar.zst");
    let reviewer = Project::new();
    reviewer
        .recipe(&format!("project = \"demo\"\n{}", three_levels_recipe()))
        .file("input.txt", "hello\n");
    let archive = project.path("release.tar.zst");
    let imported = reviewer
        .run(&["import", archive.to_str().unwrap()])
        .success();
    assert_contains(&imported.stdout, "4 bundles added");
    let fresh = reviewer.run(&["--json", "summary"]).success();
    assert!(fresh.targets_with("start").is_empty(), "{}", fresh.stdout);
    assert_eq!(reviewer.read("summary.txt"), "HELLO\nHELLO\n6\n");
    let rebuilt = reviewer.run(&["--json", "-B", "summary"]).success();
    assert_eq!(
        rebuilt.targets_with("start"),
        ["summary"],
        "runs are reused"
    );
    // A second import adds nothing.
    let again = reviewer
        .run(&["import", archive.to_str().unwrap()])
        .success();
    assert_contains(&again.stdout, "0 bundles added, 4 already present");
}

#[test]
fn figures_only_archives_hold_no_bundles_and_are_not_importable() {
    let project = built_project();
    archive_summary(&project, "1.0.0", &["--figures-only"], "f.tar.zst");
    let names: Vec<String> = members(&project.path("f.tar.zst"))
        .into_iter()
        .map(|m| m.0)
        .collect();
    assert!(!names.iter().any(|n| n.contains("/bundles/")), "{names:?}");
    assert!(
        names.contains(&"cpbuild-demo-1.0.0/files/left/left.txt".to_string()),
        "{names:?}"
    );
    project.run(&["verify-archive", "f.tar.zst"]).success();
    let refused = project.run(&["import", "f.tar.zst"]);
    assert_eq!(refused.code, 2);
    assert_contains(&refused.stderr, "figures-only");
}

#[test]
fn report_lists_runs_and_the_checklist() {
    let project = built_project();
    let summary = project.run(&["report", "summary"]).success();
    assert_contains(&summary.stdout, "## `summary`");
    assert_contains(&summary.stdout, "runs: 3 (3 × `shell`)");
    assert_contains(&summary.stdout, "NeurIPS reproducibility checklist");
    assert_contains(&summary.stdout, "compute time on");
}
