//! Running actions: parallel workers, `--keep-going`, and failures that lose nothing built.

use cpbuild_engine::events::Event;
use cpbuild_engine::store::BundleState;

use crate::support::{Project, sorted};

/// Four independent leaves under one root, and a target that fails.
const WIDE: &str = r#"
[target.leaves]
name = "leaf_{i}"
foreach = { i = [1, 2, 3, 4] }
kind = "write"
params = { text = "leaf {i}" }

[target]
root = { kind = "write", deps = ["leaves"], params = { text = "root" } }
broken = { kind = "write", params = { text = "broken", fail = true } }
above_broken = { kind = "write", deps = ["broken"], params = { text = "never" } }
everything = { kind = "write", deps = ["root", "above_broken"], params = { text = "everything" } }
"#;

#[test]
fn parallel_workers_build_everything_in_dependency_order() {
    let project = Project::new(WIDE);
    let built = project.build_with(&["root"], 4, false);
    assert_eq!(built.outcome.built, 5);
    assert!(built.outcome.failed.is_empty());
    assert_eq!(built.ran.last().map(String::as_str), Some("root"));
    let root = project.output("root");
    for i in 1..=4 {
        assert!(root.contains(&format!("leaf_{i}: leaf {i}")), "{root}");
    }
}

#[test]
fn parallel_and_serial_builds_give_the_same_keys_and_bytes() {
    let serial = Project::new(WIDE);
    serial.build_with(&["root"], 1, false);
    let parallel = Project::new(WIDE);
    parallel.build_with(&["root"], 4, false);
    let key = serial.key("root");
    assert_eq!(key, parallel.key("root"));
    let bytes = |project: &Project| std::fs::read(project.store().bundle_path(&key)).unwrap();
    assert_eq!(bytes(&serial), bytes(&parallel));
}

#[test]
fn keep_going_builds_what_does_not_depend_on_a_failure() {
    let project = Project::new(WIDE);
    let built = project.build_with(&["everything"], 2, true);
    assert_eq!(built.outcome.failed, ["broken"]);
    assert_eq!(built.outcome.built, 5, "the leaves and the root");
    assert_eq!(built.outcome.skipped, 2, "above_broken and everything");
    assert!(!built.ran.contains(&"above_broken".to_string()));
    let skipped: Vec<String> = built
        .events
        .iter()
        .filter_map(|event| match event {
            Event::Skipped { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sorted(skipped), ["above_broken", "everything"]);
    assert!(
        project
            .build_with(&["everything"], 2, true)
            .outcome
            .into_result()
            .is_err()
    );
}

/// A failing target with the longest chain above it (so it is scheduled first), and an
/// independent one.
const FAILS_FIRST: &str = r#"
[target]
broken = { kind = "write", params = { text = "broken", fail = true } }
above = { kind = "write", deps = ["broken"], params = { text = "above" } }
top = { kind = "write", deps = ["above"], params = { text = "top" } }
other = { kind = "write", params = { text = "other" } }
all = { kind = "write", deps = ["top", "other"], params = { text = "all" } }
"#;

#[test]
fn without_keep_going_a_failure_starts_nothing_new() {
    let project = Project::new(FAILS_FIRST);
    let built = project.build_with(&["all"], 1, false);
    assert_eq!(built.ran, ["broken"], "the longest chain starts first");
    assert_eq!(built.outcome.failed, ["broken"]);
    let error = built
        .outcome
        .into_result()
        .expect_err("a failed build")
        .to_string();
    assert!(error.contains("`broken`"), "{error}");

    let kept_going = project.build_with(&["all"], 1, true);
    assert_eq!(kept_going.ran, ["broken", "other"]);
}

#[test]
fn a_failing_action_loses_nothing_already_built() {
    let project = Project::new(WIDE);
    project.build(&["root"]);
    let root = project.key("root");
    let failed = project.build_with(&["everything"], 1, true);
    assert_eq!(failed.outcome.failed, ["broken"]);
    assert_eq!(project.store().state(&root), BundleState::Valid);
    assert!(
        project.store().state(&project.key("broken")) == BundleState::Missing,
        "a failed target commits nothing"
    );
    let again = project.build(&["root"]);
    assert!(again.ran.is_empty(), "{:?}", again.ran);
}
