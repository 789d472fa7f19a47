//! Building, freshness, rebuilds and their explanations.

use crate::common::recipe::{grid, profiles};
use crate::support::{Project, assert_contains, three_levels_recipe};

fn three_levels() -> Project {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    project
}

#[test]
fn three_levels_build_then_nothing_runs() {
    let project = three_levels();
    let first = project.run(&["--json"]).success();
    assert_eq!(
        first.targets_with("start"),
        ["data", "left", "right", "summary"]
    );
    assert_eq!(project.read("summary.txt"), "HELLO\nHELLO\n6\n");

    let second = project.run(&["--json"]).success();
    assert!(second.targets_with("start").is_empty(), "{}", second.stdout);
    let human = project.run(&[]).success();
    assert_contains(&human.stderr, "nothing to do");
    // The commands ran exactly once each.
    assert_eq!(project.read("runs.log").lines().count(), 3);
}

#[test]
fn changed_input_rebuilds_exactly_its_dependents() {
    let project = three_levels();
    project.run(&["summary", "other"]).success();
    project.file("input.txt", "changed\n");
    let run = project.run(&["--json", "summary", "other"]).success();
    assert_eq!(
        run.targets_with("start"),
        ["data", "left", "right", "summary"]
    );
    let explain = project.run(&["-n", "--explain", "summary"]).success();
    assert!(explain.stderr.contains("nothing to do"));

    project.file("input.txt", "again\n");
    let explain = project.run(&["-n", "summary"]).success();
    assert!(
        explain
            .stderr
            .contains("would run data (input `input.txt` changed: sha256"),
        "{}",
        explain.stderr
    );
    assert!(
        explain
            .stderr
            .contains("would run left (dependency `data` changed: key"),
        "{}",
        explain.stderr
    );
    let status = project.run(&["status", "summary", "other"]).success();
    assert_contains(&status.stdout, "fresh  other");
    assert!(
        status
            .stdout
            .contains("dirty  data: input `input.txt` changed"),
        "{}",
        status.stdout
    );
}

#[test]
fn changed_param_rebuilds_exactly_its_dependents_and_explains() {
    let project = three_levels();
    project.run(&[]).success();
    project.recipe(&three_levels_recipe().replace("factor = 3", "factor = 4"));
    let run = project.run(&["--json", "--explain"]).success();
    assert_eq!(run.targets_with("start"), ["left", "summary"]);
    let start = run
        .events()
        .into_iter()
        .find(|e| e["event"] == "start" && e["target"] == "left")
        .unwrap();
    assert_eq!(start["reasons"][0]["reason"], "param");
    assert_eq!(start["reasons"][0]["path"], "params.factor");
    assert_eq!(start["reasons"][0]["old"], "3");
    assert_eq!(start["reasons"][0]["new"], "4");

    project.recipe(&three_levels_recipe().replace("factor = 3", "factor = 5"));
    let human = project.run(&["--explain"]).success();
    assert!(
        human
            .stderr
            .contains("building left (param `params.factor` changed: 4 → 5)"),
        "{}",
        human.stderr
    );
}

/// The `--explain` records: a line per commit appended to `records/<profile>.jsonl` (the last
/// line of a target wins), compacted by a build that has the store to itself once the file
/// holds more than twice as many lines as targets; a store written by an earlier version, with
/// one `records/<profile>/<target>.json` per target, still explains its rebuilds.
#[test]
fn explain_records_are_appended_compacted_and_read_from_older_stores() {
    let project = three_levels();
    let factor = |n: u32| three_levels_recipe().replace("factor = 3", &format!("factor = {n}"));
    let records = project.path("artifacts/records/ci.jsonl");
    let lines = || {
        std::fs::read_to_string(&records)
            .expect("records")
            .lines()
            .count()
    };
    project.run(&[]).success();
    assert_eq!(lines(), 4, "one line per committed target");
    for n in [4, 5, 6] {
        project.recipe(&factor(n));
        project.run(&[]).success();
    }
    assert_eq!(
        lines(),
        4 + 3 * 2,
        "`left` and `summary` appended three times"
    );
    // A build of nothing fresh: it has the store to itself, so it compacts first.
    project.run(&[]).success();
    assert_eq!(lines(), 4, "one line per target after compaction");
    project.recipe(&factor(7));
    let human = project.run(&["--explain"]).success();
    assert_contains(
        &human.stderr,
        "building left (param `params.factor` changed: 6 → 7)",
    );

    // The layout of earlier versions: one pretty-printed fingerprint per target.
    let text = std::fs::read_to_string(&records).expect("records");
    for line in text.lines() {
        let mut value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let target = value["target"].as_str().expect("a target").to_string();
        let fingerprint = serde_json::to_string_pretty(&value["fingerprint"].take()).unwrap();
        project.file(&format!("artifacts/records/ci/{target}.json"), &fingerprint);
    }
    std::fs::remove_file(&records).expect("remove the new records");
    project.recipe(&factor(8));
    let human = project.run(&["--explain"]).success();
    assert_contains(
        &human.stderr,
        "building left (param `params.factor` changed: 7 → 8)",
    );
}

#[test]
fn profiles_change_params_and_keys() {
    let project = three_levels();
    project.run(&["--profile", "ci"]).success();
    let paper = project.run(&["--json", "--profile", "paper"]).success();
    assert_eq!(paper.targets_with("start"), ["left", "summary"]);
    assert!(project.read("runs.log").contains("left 10"));
    let back = project.run(&["--json", "--profile", "ci"]).success();
    assert!(
        back.targets_with("start").is_empty(),
        "both profiles' bundles stay in the store"
    );
    let unknown = project.run(&["--profile", "papr"]);
    assert_eq!(unknown.code, 2);
    assert_contains(&unknown.stderr, "unknown profile `papr`");
}

#[test]
fn outputs_are_materialised_back_into_the_working_tree() {
    let project = three_levels();
    project.run(&[]).success();
    std::fs::remove_file(project.path("summary.txt")).unwrap();
    project.file("left.txt", "tampered");
    let run = project.run(&["--json"]).success();
    assert!(run.targets_with("start").is_empty());
    assert_eq!(project.read("summary.txt"), "HELLO\nHELLO\n6\n");

    // A fresh clone with the same store gets every output back without running anything.
    let clone = Project::new();
    clone
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    let store = project.path("artifacts");
    let run = clone
        .run(&["--json", "--store", store.to_str().unwrap()])
        .success();
    assert!(run.targets_with("start").is_empty());
    assert_eq!(clone.read("summary.txt"), "HELLO\nHELLO\n6\n");
}

#[test]
fn failure_shows_stderr_tail_and_log_and_keeps_going() {
    let project = Project::new();
    project.recipe(
        r#"
[target.ok]
kind = "shell"
command = "echo fine > ok.txt"
outputs = ["ok.txt"]

[target.bad]
kind = "shell"
command = "echo some output; echo 'it broke here' >&2; exit 3"

[target.after_bad]
kind = "shell"
deps = ["bad"]
command = "true"

[target.all]
kind = "shell"
deps = ["ok", "after_bad"]
command = "true"
"#,
    );
    let run = project.run(&["-k", "-j1", "all"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("FAILED bad: command exited with status 3"),
        "{}",
        run.stderr
    );
    assert_contains(&run.stderr, "| it broke here");
    assert_contains(&run.stderr, "artifacts/logs/bad.log");
    assert!(
        run.stderr
            .contains("skipped after_bad (dependency `bad` failed)"),
        "{}",
        run.stderr
    );
    assert_contains(&run.stderr, "error: 1 target failed: `bad`");
    let log = project.read("artifacts/logs/bad.log");
    assert!(
        log.contains("some output") && log.contains("it broke here"),
        "{log}"
    );
    // `ok` was kept; nothing of `bad` was committed.
    let again = project.run(&["--json", "-k", "all"]);
    assert_eq!(again.targets_with("start"), ["bad"]);
    assert!(
        std::fs::read_dir(project.path("artifacts/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn missing_declared_output_fails_the_target() {
    let project = Project::new();
    project.recipe(
        r#"
[target.liar]
kind = "shell"
command = "true"
outputs = ["never.txt"]
"#,
    );
    let run = project.run(&["liar"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("did not write its declared output `never.txt`"),
        "{}",
        run.stderr
    );
    assert!(
        project
            .path("artifacts/bundles")
            .read_dir()
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn always_make_rebuilds_and_dry_run_runs_nothing() {
    let project = three_levels();
    let dry = project.run(&["-n"]).success();
    assert_contains(&dry.stderr, "would run summary (never built)");
    assert!(!project.path("summary.txt").exists());
    project.run(&[]).success();
    // `-B` rebuilds what was asked for; fresh dependencies are reused.
    let forced = project.run(&["--json", "-B"]).success();
    assert_eq!(forced.targets_with("start"), ["summary"]);
    assert_eq!(project.read("runs.log").lines().count(), 4);
    let forced = project.run(&["--json", "-B", "left", "summary"]).success();
    assert_eq!(forced.targets_with("start"), ["left", "summary"]);
    // The rebuilt bundles verify, and nothing else is dirty.
    let again = project.run(&["--json"]).success();
    assert!(again.targets_with("start").is_empty());
}

#[test]
fn grid_groups_expand_in_deps_and_on_the_command_line() {
    let project = Project::new();
    let profiles = profiles(&[
        ("ci", &["epochs = [1, 3]"]),
        ("paper", &["epochs = { from = 1, to = 5 }"]),
    ]);
    let sweep = grid(
        "sweep",
        "sweep_e{k}_l{len}",
        r#"{ k = "${epochs}", len = [2, 5] }"#,
    );
    project.recipe(&format!(
        "\n{profiles}\n{sweep}{}",
        r#"kind = "shell"
params = { epoch = "{k}", length = "{len}" }
command = "echo {k}-{len} > sweep_{k}_{len}.txt"
outputs = ["sweep_{k}_{len}.txt"]

[target.fig]
kind = "shell"
deps = ["sweep"]
command = "cat sweep_*.txt | sort > fig.txt"
outputs = ["fig.txt"]
"#
    ));
    project.run(&["fig"]).success();
    assert_eq!(project.read("fig.txt"), "1-2\n1-5\n3-2\n3-5\n");
    let list = project.run(&["list"]).success();
    assert_contains(&list.stdout, "sweep_e3_l5");
    assert_contains(&list.stdout, "(grid of 4 targets)");
    let paper = project
        .run(&["--json", "--profile", "paper", "sweep"])
        .success();
    // The 4 grid points both profiles share have the same keys: only 6 are new.
    assert_eq!(paper.targets_with("start").len(), 6);
    let graph = project.run(&["graph", "fig", "--dot"]).success();
    assert_contains(&graph.stdout, "\"sweep_e1_l2\" -> \"fig\";");
    let show = project.run(&["show", "sweep_e3_l2"]).success();
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["manifest"]["fingerprint"]["params"]["epoch"], 3);
    assert_eq!(shown["manifest"]["fingerprint"]["params"]["length"], 2);
    assert_eq!(shown["manifest"]["worktree"][0], "sweep_3_2.txt");
    assert!(
        shown["run"]["finished"].as_f64().unwrap() >= shown["run"]["started"].as_f64().unwrap()
    );
    // The run facts are part of the bundle's record in the store's index, not a file of
    // their own.
    let key = shown["manifest"]["key"].as_str().unwrap();
    let index = project.index_lines();
    let record = index
        .iter()
        .find(|line| line["key"] == key && line["sha256"].is_string())
        .expect("a record of the key");
    assert_eq!(record["run"]["target"], "sweep_e3_l2", "{index:?}");
    assert_eq!(record["run"], shown["run"]);
    assert_eq!(project.beside_bundles(), ["index.jsonl"]);
}

#[test]
fn dependencies_see_each_other_through_the_environment() {
    let project = Project::new();
    project.recipe(
        r#"
[target.producer]
kind = "shell"
command = "echo 42 > $CPBUILD_OUT/answer.txt"

[target.consumer]
kind = "shell"
deps = ["producer"]
command = "cp $CPBUILD_DEP_PRODUCER/answer.txt consumer.txt"
outputs = ["consumer.txt"]
"#,
    );
    project.run(&["consumer"]).success();
    assert_eq!(project.read("consumer.txt"), "42\n");
}

#[test]
fn unknown_target_on_the_command_line_is_a_usage_error() {
    let project = three_levels();
    let run = project.run(&["sumary"]);
    assert_eq!(run.code, 2);
    assert_contains(&run.stderr, "unknown target `sumary`");
    assert_contains(&run.stderr, "did you mean `summary`?");
    let run = project.run(&["--frobnicate"]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_list_variable_in_inputs_gives_each_profile_its_own_inputs() {
    let project = Project::new();
    project.file("base.txt", "base\n");
    project.file("photos/a.txt", "a\n");
    let profiles = profiles(&[
        ("ci", &["extra = []"]),
        ("paper", &[r#"extra = ["photos", "more.txt"]"#]),
        ("bad", &[r#"extra = [1, { not = "a string" }]"#]),
    ]);
    project.recipe(&format!(
        "\n{profiles}{}",
        r#"
[target.count]
kind = "shell"
inputs = ["base.txt", "${extra}"]
command = "echo done > count.txt"
outputs = ["count.txt"]
"#
    ));
    project.run(&["count"]).success();
    // The paper profile reads the photos too: a missing one is named with its recipe line.
    let missing = project.run(&["--profile", "paper", "count"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("input `more.txt` of target `count` does not exist")
            && missing.stderr.contains("recipes/main.toml:"),
        "{}",
        missing.stderr
    );
    project.file("more.txt", "more\n");
    let paper = project
        .run(&["--json", "--profile", "paper", "count"])
        .success();
    assert_eq!(paper.targets_with("start"), ["count"]);
    // A photo changes: the paper target is dirty, the ci one (which does not read it) is not.
    project.file("photos/a.txt", "changed\n");
    let status = project
        .run(&["--profile", "paper", "status", "count"])
        .success();
    assert_contains(&status.stdout, "photos/a.txt");
    let ci = project.run(&["-n", "count"]).success();
    assert_contains(&ci.stderr, "nothing to do");

    let bad = project.run(&["--profile", "bad", "count"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("every item of the list `\"${extra}\"` stands for must be a string"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_target_has_a_log_when_its_command_printed_or_failed_and_only_its_last_one() {
    let project = Project::new();
    project.recipe(
        r#"
[target.quiet]
kind = "shell"
inputs = ["mode.txt"]
command = "if grep -q loud mode.txt; then echo said something; fi; cp mode.txt quiet.txt"
outputs = ["quiet.txt"]

[target.silent_failure]
kind = "shell"
command = "exit 4"
"#,
    );
    project.file("mode.txt", "loud\n");
    project.run(&["quiet"]).success();
    assert_eq!(
        project.read("artifacts/logs/quiet.log"),
        "$ if grep -q loud mode.txt; then echo said something; fi; cp mode.txt quiet.txt\nsaid something\n"
    );
    // The next build prints nothing: the earlier build's log goes, and none is made.
    project.file("mode.txt", "quiet\n");
    project.run(&["quiet"]).success();
    assert!(!project.path("artifacts/logs/quiet.log").exists());
    // A command that fails has a log with its command line, named in the error, even when it
    // printed nothing.
    let failed = project.run(&["silent_failure"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_contains(&failed.stderr, "artifacts/logs/silent_failure.log");
    assert_eq!(
        project.read("artifacts/logs/silent_failure.log"),
        "$ exit 4\n"
    );
}
