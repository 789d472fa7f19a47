//! Dependencies, `foreach` grids, data-dependent grids and cycles.

use cpbuild_engine::graph::Graph;
use cpbuild_engine::recipe::Published;

use crate::support::{Project, sorted};

#[test]
fn a_grid_expands_to_one_target_per_combination() {
    let project = Project::new(
        r#"
[profile.ci]
n = 2

[target.runs]
name = "run_{k}_{w}"
foreach = { k = { from = 1, to = "${n}" }, w = ["p", "q"] }
kind = "write"
params = { text = "{k}-{w}" }

[target]
all = { kind = "write", deps = ["runs"], params = { text = "all" } }
"#,
    );
    let graph = project.graph();
    let names: Vec<String> = graph.targets.iter().map(|t| t.spec.name.clone()).collect();
    assert_eq!(
        sorted(names),
        ["all", "run_1_p", "run_1_q", "run_2_p", "run_2_q"]
    );
    let run = graph.target(graph.by_name["run_2_q"]);
    assert_eq!(run.spec.params["text"], "2-q");
    // Depending on a grid's name depends on every target of it.
    let all = graph.target(graph.by_name["all"]);
    assert_eq!(all.deps.len(), 4);
}

#[test]
fn a_data_dependent_grid_waits_for_its_value_then_expands() {
    let project = Project::new(
        r#"
[target.pick]
kind = "write"
params = { text = "pick", publish = [2, 7] }

[target.runs]
name = "run_{e}"
foreach = { e = { target = "pick", value = "values" } }
kind = "write"
deps = ["pick"]
params = { text = "epoch {e}" }
"#,
    );
    let graph = project.graph();
    assert!(graph.pending.contains_key("runs"), "{:?}", graph.pending);
    assert!(!graph.by_name.contains_key("run_2"));

    let built = project.build(&["pick"]);
    assert_eq!(built.ran, ["pick"]);
    let (_, manifest) = project.store().unpacked(&project.key("pick")).unwrap();
    let mut published = Published::new();
    published.insert("pick".into(), manifest.info);
    let recipes = project.recipes().unwrap();
    let graph = Graph::build_with(&recipes, "ci", &project.registry, &published).unwrap();
    assert!(graph.pending.is_empty());
    let run = graph.target(graph.by_name["run_7"]);
    assert_eq!(run.spec.params["text"], "epoch 7");
    assert!(graph.by_name.contains_key("run_2"));
    assert!(!graph.by_name.contains_key("run_3"));
}

#[test]
fn a_cycle_is_an_error_naming_its_path() {
    let project = Project::new(
        r#"
[target]
a = { kind = "write", deps = ["b"], params = { text = "a" } }
b = { kind = "write", deps = ["a"], params = { text = "b" } }
"#,
    );
    let recipes = project.recipes().unwrap();
    let error = Graph::build(&recipes, "ci", &project.registry)
        .expect_err("a cycle")
        .to_string();
    assert!(error.contains("cycle"), "{error}");
    assert!(error.contains("`a`") && error.contains("`b`"), "{error}");
}
