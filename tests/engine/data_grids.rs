//! Data-dependent grids: a grid whose range comes from a value a built target publishes
//! expands only once that target is built, and `-n`, `status`, `list` and `graph` say what it
//! waits on until then.

use crate::common::recipe::grid;
use crate::support::{Project, assert_contains, assert_lacks};

/// `count` publishes `n` from `n.txt`; `cell_{k}` for k = 1..n (not depending on `count`'s
/// bundle, so a cell's key is its command alone); `total` gathers the cells.
fn cells_recipe() -> String {
    let cells = grid(
        "cells",
        "cell_{k}",
        r#"{ k = { from = 1, to = { target = "count", value = "n" } } }"#,
    );
    format!(
        "{}{cells}{}",
        r#"
[target.count]
kind = "shell"
inputs = ["n.txt"]
command = "echo \"{\\\"n\\\": $(cat n.txt), \\\"label\\\": \\\"x\\\"}\" > \"$CPBUILD_PUBLISH\""

"#,
        r#"kind = "shell"
command = "echo {k} > \"$CPBUILD_OUT/cell.txt\"; echo {k} >> runs.log"

[target.total]
kind = "shell"
deps = ["cells"]
command = "cat \"$CPBUILD_DEP_CELL_1/cell.txt\" > total.txt; env | grep -c '^CPBUILD_DEP_CELL_' >> total.txt"
outputs = ["total.txt"]
"#
    )
}

/// A log's lines in order (cells run in parallel, so in any order).
fn lines(log: &str) -> String {
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort_by_key(|line| line.parse::<u64>().unwrap_or(u64::MAX));
    lines.iter().map(|line| format!("{line}\n")).collect()
}

fn project(n: u32) -> Project {
    let project = Project::new();
    project
        .recipe(&cells_recipe())
        .file("n.txt", &format!("{n}\n"));
    project
}

#[test]
fn a_grid_waits_on_its_target_then_expands_from_its_published_value() {
    let project = project(3);
    // Before anything is built: the grid waits, and each command says on what.
    let dry = project.run(&["-n", "total"]).success();
    assert_contains(
        &dry.stderr,
        "grid `cells` (cell_{k}) expands once `count` is built, from its `n`; needed by `total`",
    );
    assert_contains(&dry.stderr, "would run count");
    assert_lacks(&dry.stderr, "would run cell_");
    let list = project.run(&["list"]).success();
    assert_contains(&list.stdout, "waiting: grid `cells`");
    let graph = project.run(&["graph", "total"]).success();
    assert!(
        graph
            .stdout
            .contains("cell_{k} [grid waiting on `count`'s `n`] <- count"),
        "{}",
        graph.stdout
    );
    assert_contains(&graph.stdout, "total [shell] <- cell_{k} (waiting)");
    let status = project.run(&["status", "total"]).success();
    assert_contains(&status.stdout, "waiting total: needs grid `cells`");
    assert_contains(&status.stdout, "dirty  count");

    // One build: `count` first, then the grid it publishes the size of, then `total`.
    let build = project.run(&["total"]).success();
    assert_contains(&build.stderr, "grid expanded into 3 targets");
    assert_eq!(project.read("total.txt"), "1\n3\n");
    assert_eq!(lines(&project.read("runs.log")), "1\n2\n3\n");

    // Now every command sees the expanded grid, and nothing is left to do.
    let dry = project.run(&["-n", "total"]).success();
    assert_contains(&dry.stderr, "nothing to do");
    let list = project.run(&["list"]).success();
    assert_contains(&list.stdout, "cell_3");
    assert_lacks(&list.stdout, "waiting");
    let graph = project.run(&["graph", "total"]).success();
    assert!(
        graph
            .stdout
            .contains("total [shell] <- cell_1, cell_2, cell_3"),
        "{}",
        graph.stdout
    );

    // A changed value re-expands: cells 1..3 stay fresh, 4 and 5 are new, `total` reruns.
    project.file("n.txt", "5\n");
    let dry = project.run(&["-n", "total"]).success();
    assert_contains(&dry.stderr, "waiting");
    project.run(&["total"]).success();
    assert_eq!(project.read("total.txt"), "1\n5\n");
    assert_eq!(lines(&project.read("runs.log")), "1\n2\n3\n4\n5\n");
    // Back to 3: nothing trains again, the three cells are still in the store.
    project.file("n.txt", "3\n");
    project.run(&["total"]).success();
    assert_eq!(lines(&project.read("runs.log")), "1\n2\n3\n4\n5\n");
    assert_eq!(project.read("total.txt"), "1\n3\n");
    // gc keeps the expanded grid's bundles (they are live).
    project.run(&["gc"]).success();
    let dry = project.run(&["-n", "total"]).success();
    assert_contains(&dry.stderr, "nothing to do");
}

#[test]
fn a_published_value_that_is_missing_or_not_an_integer_is_a_clear_error() {
    let project = project(2);
    let recipe = cells_recipe().replace("value = \"n\"", "value = \"m\"");
    project.recipe(&recipe);
    let run = project.run(&["total"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(
        &run.stderr,
        "range `k`: `to` takes value `m` of target `count`, but `count` publishes no `m`",
    );
    // `m` is no likely typo of either name (no "did you mean"): the help lists them.
    assert_contains(&run.stderr, "help: `count` publishes `label`, `n`");
    assert_contains(&run.stderr, "main.toml:");

    let recipe = cells_recipe().replace("value = \"n\"", "value = \"label\"");
    project.recipe(&recipe);
    let run = project.run(&["total"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("takes value `label` of target `count`, which is `\"x\"`, not an integer"),
        "{}",
        run.stderr
    );

    let recipe = cells_recipe().replace("target = \"count\"", "target = \"cuont\"");
    project.recipe(&recipe);
    let run = project.run(&["list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("grid `cells` takes value `n` of unknown target `cuont`"),
        "{}",
        run.stderr
    );
    assert_contains(&run.stderr, "did you mean `count`?");
}

#[test]
fn a_whole_variable_may_be_a_published_list() {
    let project = Project::new();
    project.recipe(
        r#"
[target.pick]
kind = "shell"
command = "echo '{\"epochs\": [2, 7]}' > \"$CPBUILD_PUBLISH\""

[target.runs]
name = "run_{e}"
foreach = { e = { target = "pick", value = "epochs" } }
kind = "shell"
deps = ["pick"]
command = "echo {e} >> picked.log"
"#,
    );
    project.run(&["runs"]).success();
    assert_eq!(lines(&project.read("picked.log")), "2\n7\n");
    let list = project.run(&["list"]).success();
    assert!(
        list.stdout.contains("run_2") && list.stdout.contains("run_7"),
        "{}",
        list.stdout
    );
}
