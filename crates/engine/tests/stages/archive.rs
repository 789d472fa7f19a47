//! Publication archives: written, verified, byte-reproducible, and every change reported; what
//! a kind declares about its bundles decides what a figures-only archive keeps and what the
//! report says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpbuild_engine::archive::{
    Context, Mode, Request, figure_facts, reproducibility_report, verify, write,
};

use crate::support::Project;

const RUNS: &str = r#"
[target.runs]
name = "run_{s}"
foreach = { s = [1, 2] }
kind = "train"
params = { seed = "{s}" }

[target]
fig = { kind = "write", deps = ["runs"], params = { text = "figure" } }
"#;

const CHECKLIST: &str = "\n## A checklist\n\n- seeds: above\n";

fn built() -> Project {
    let project = Project::new(RUNS);
    let built = project.build(&["fig"]);
    assert_eq!(built.outcome.built, 3);
    project
}

fn write_archive(project: &Project, mode: Mode, name: &str) -> PathBuf {
    let destination = project.path(name);
    let store = project.store();
    let mut recipes = BTreeMap::new();
    recipes.insert(
        "recipes/main.toml".to_string(),
        project.path("recipes/main.toml"),
    );
    write(
        Request {
            manifest: project.archive_manifest(&["fig"], mode),
            store: &store,
            recipes,
            documents: Vec::new(),
            context: Context {
                registry: &project.registry,
                checklist: CHECKLIST,
            },
        },
        &destination,
    )
    .expect("the archive is written");
    destination
}

fn members(path: &Path) -> Vec<String> {
    let verified = verify(path).expect("a valid archive");
    verified.manifest.files.keys().cloned().collect()
}

#[test]
fn a_full_archive_verifies_and_holds_every_bundle() {
    let project = built();
    let path = write_archive(&project, Mode::Full, "full.tar.zst");
    let verified = verify(&path).expect("a valid archive");
    assert_eq!(verified.manifest.targets.len(), 3);
    for name in ["fig", "run_1", "run_2"] {
        let key = &verified.manifest.targets[name].key;
        assert!(
            verified
                .manifest
                .files
                .contains_key(&format!("bundles/{key}.tar.zst")),
            "{name}"
        );
    }
    assert_eq!(
        verified.manifest.root_hash,
        verified.manifest.compute_root_hash()
    );
}

#[test]
fn the_same_builds_give_the_same_archive_bytes() {
    let first = built();
    let second = built();
    let a = std::fs::read(write_archive(&first, Mode::Full, "a.tar.zst")).unwrap();
    let b = std::fs::read(write_archive(&second, Mode::Full, "b.tar.zst")).unwrap();
    assert!(a == b, "two stores, one archive");
}

#[test]
fn a_flipped_byte_is_reported() {
    let project = built();
    let path = write_archive(&project, Mode::Full, "full.tar.zst");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    let damaged = project.path("damaged.tar.zst");
    std::fs::write(&damaged, bytes).unwrap();
    let problems = verify(&damaged).expect_err("a damaged archive");
    assert!(!problems.0.is_empty());
}

#[test]
fn figures_only_leaves_out_what_a_kind_declares_heavy() {
    let project = built();
    let files = members(&write_archive(&project, Mode::FiguresOnly, "figs.tar.zst"));
    assert!(
        files.contains(&"files/run_1/metrics.csv".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"files/run_1/split.json".to_string()),
        "{files:?}"
    );
    assert!(
        files.contains(&"files/fig/out.txt".to_string()),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|f| f.contains("/state/")),
        "the kind's heavy folder stays out: {files:?}"
    );
    assert!(
        !files.iter().any(|f| f.starts_with("bundles/")),
        "{files:?}"
    );
}

#[test]
fn the_report_reads_targets_as_their_kinds_declare() {
    let project = built();
    let manifest = project.archive_manifest(&["fig"], Mode::Full);
    let context = Context {
        registry: &project.registry,
        checklist: CHECKLIST,
    };
    let facts = figure_facts(&manifest, "fig", &project.registry);
    assert_eq!(facts.epochs_trained, 6, "two runs of 3 epochs");
    assert_eq!(facts.splits.len(), 2, "two distinct split files");
    assert_eq!(facts.runs_by_kind["train"], 2);
    assert_eq!(facts.seeds["seed"].len(), 2);
    let text = reproducibility_report(&manifest, &context);
    assert!(text.contains("- epochs trained: 6\n"), "{text}");
    assert!(text.ends_with(CHECKLIST), "{text}");

    // A registry that does not know the kind reads nothing of it.
    let bare = cpbuild_engine::action::Registry::builtin();
    let facts = figure_facts(&manifest, "fig", &bare);
    assert_eq!((facts.epochs_trained, facts.splits.len()), (0, 0));
}
