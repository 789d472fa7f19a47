//! `--executor slurm` against a real single-node SLURM (`.ci/start-local-slurm.sh`).
//!
//! The tests need `SLURM_CONF` pointing at a running cluster. Without one they say so and
//! pass, unless `CPBUILD_REQUIRE_SLURM=1` (set by `.ci/run`), where a missing cluster fails.

use crate::common::{TRAIN_HBA_DATA as DATA, copy_repo_files};
use crate::support::{Project, assert_contains};

fn cluster() -> bool {
    let available = std::env::var_os("SLURM_CONF").is_some()
        && std::process::Command::new("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var("CPBUILD_REQUIRE_SLURM").as_deref() != Ok("1"),
            "CPBUILD_REQUIRE_SLURM=1 but no SLURM cluster answers (start one with `.ci/start-local-slurm.sh`)"
        );
        eprintln!("skipped: no SLURM cluster (set SLURM_CONF; see .ci/start-local-slurm.sh)");
    }
    available
}

const GRAPH: &str = r#"
[resources.default]
time = "10"

[target.first]
kind = "shell"
command = "echo first > first.txt"
outputs = ["first.txt"]

[target.second]
kind = "shell"
deps = ["first"]
command = "cat first.txt > second.txt; echo second >> second.txt"
outputs = ["second.txt"]

[target.grid]
name = "cell_{k}"
foreach = { k = [1, 2, 3] }
kind = "shell"
deps = ["second"]
command = "cat second.txt > cell_{k}.txt; echo {k} >> cell_{k}.txt"
outputs = ["cell_{k}.txt"]

[target.broken]
kind = "shell"
deps = ["first"]
command = "echo 'broken on purpose' >&2; exit 7"

[target.after_broken]
kind = "shell"
deps = ["broken"]
command = "true"

[target.all]
kind = "shell"
deps = ["grid", "after_broken"]
command = "cat cell_*.txt > all.txt"
outputs = ["all.txt"]
"#;

#[test]
fn dry_run_prints_the_scripts_with_arrays_and_dependencies() {
    let project = Project::new();
    project.recipe(GRAPH);
    // A dry run needs no cluster.
    let run = project
        .run(&[
            "--executor",
            "slurm",
            "-n",
            "--slurm-partition",
            "debug",
            "all",
        ])
        .success();
    assert_eq!(run.stdout.matches("#!/bin/sh").count(), 6, "{}", run.stdout);
    assert_contains(&run.stdout, "#SBATCH --array=0-2");
    assert_contains(&run.stdout, "#SBATCH --dependency=afterok:$JOB1");
    assert_contains(&run.stdout, "#SBATCH --kill-on-invalid-dep=yes");
    assert_contains(&run.stdout, "#SBATCH --partition=debug");
    assert_contains(&run.stdout, "#SBATCH --time=10");
    assert_contains(&run.stdout, "build --only \"$target\"");
    assert!(
        !project
            .path("artifacts/bundles")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
}

#[test]
fn a_graph_with_a_grid_a_chain_and_a_failure_runs_on_slurm() {
    if !cluster() {
        return;
    }
    let project = Project::new();
    project.recipe(GRAPH);
    let run = project.run(&["--executor", "slurm", "--json", "all", "cell_1"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let finished = run.targets_with("finished");
    assert_eq!(
        finished,
        ["cell_1", "cell_2", "cell_3", "first", "second"],
        "{}",
        run.stdout
    );
    assert_eq!(run.targets_with("failed"), ["broken"]);
    let failed = run
        .events()
        .into_iter()
        .find(|e| e["event"] == "failed")
        .unwrap();
    let log = failed["log"].as_str().unwrap();
    assert!(log.contains("logs/slurm/broken-"), "{log}");
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("broken on purpose"),
        "the job log holds the action's error"
    );
    assert!(
        run.targets_with("skipped")
            .contains(&"after_broken".to_string())
    );
    assert_eq!(project.read("cell_3.txt"), "first\nsecond\n3\n");

    // Re-running submits only what is missing: `broken`, `after_broken` and `all`.
    let again = project.run(&["--executor", "slurm", "all"]);
    assert_eq!(again.code, 1);
    assert_eq!(
        again.stderr.matches("submitted job").count(),
        3,
        "{}",
        again.stderr
    );

    // Fixed, the rest completes, and a local build then has nothing to do.
    project.recipe(&GRAPH.replace("exit 7", "exit 0"));
    project.run(&["--executor", "slurm", "all"]).success();
    assert_eq!(
        project.read("all.txt"),
        "first\nsecond\n1\nfirst\nsecond\n2\nfirst\nsecond\n3\n"
    );
    let local = project.run(&["--json", "all"]).success();
    assert!(local.targets_with("start").is_empty());
}

#[test]
fn a_small_training_target_runs_on_slurm() {
    if !cluster() {
        return;
    }
    let project = Project::new();
    copy_repo_files(project.root(), &DATA);
    project.recipe(&format!(
        r#"
[target.baseline]
kind = "train-hba"
inputs = {DATA:?}
params = {{ model = "clip-tiny", data = {{ world = "things-synth", train_pool_size = 24 }}, weights = "random", seed = 1, max_epochs = 2, train_size = 16, test_size = 8, batch_size = 16 }}
"#
    ));
    let run = project
        .run(&["--executor", "slurm", "--json", "baseline"])
        .success();
    assert_eq!(run.targets_with("finished"), ["baseline"]);
    let show = project.run(&["show", "baseline"]).success();
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert!(
        shown["manifest"]["files"]["results.csv"].is_object(),
        "{}",
        show.stdout
    );
}

#[test]
fn a_data_dependent_grid_is_submitted_after_its_target_finished() {
    let project = Project::new();
    project.recipe(
        r#"
[resources.default]
time = "10"

[target.count]
kind = "shell"
command = "echo '{\"n\": 3}' > \"$CPBUILD_PUBLISH\""

[target.cells]
name = "cell_{k}"
foreach = { k = { from = 1, to = { target = "count", value = "n" } } }
kind = "shell"
deps = ["count"]
command = "echo {k} > cell_{k}.txt"
outputs = ["cell_{k}.txt"]

[target.all]
kind = "shell"
deps = ["cells"]
command = "cat cell_*.txt > all.txt"
outputs = ["all.txt"]
"#,
    );
    // Before `count` is built, a dry run prints only its script and says what waits.
    let dry = project.run(&["--executor", "slurm", "-n", "all"]).success();
    assert_eq!(dry.stdout.matches("#!/bin/sh").count(), 1, "{}", dry.stdout);
    assert!(
        dry.stderr
            .contains("grid `cells` (cell_{k}) expands once `count` is built"),
        "{}",
        dry.stderr
    );
    if !cluster() {
        return;
    }
    let run = project
        .run(&["--executor", "slurm", "--json", "all"])
        .success();
    // `count`'s job first, then the expanded grid and `all` in a second submission.
    let finished = run.targets_with("finished");
    assert_eq!(
        finished,
        ["all", "cell_1", "cell_2", "cell_3", "count"],
        "{}",
        run.stdout
    );
    assert_eq!(project.read("all.txt"), "1\n2\n3\n");
    let local = project.run(&["--json", "all"]).success();
    assert!(local.targets_with("start").is_empty());
}
