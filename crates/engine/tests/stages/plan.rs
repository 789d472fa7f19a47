//! Fingerprints and freshness: a change rebuilds exactly what depends on it.

use cpbuild_engine::DirtyReason;
use cpbuild_engine::plan::ItemState;

use crate::support::{CHAIN, Project, chain, sorted};

/// The dirty targets of a plan for `c` and `d`, sorted.
fn dirty(project: &Project) -> Vec<String> {
    let graph = project.graph();
    let plan = project.plan(&graph, &["c", "d"], false);
    let names = plan
        .items
        .iter()
        .filter(|item| item.is_dirty())
        .map(|item| graph.target(item.id).spec.name.clone())
        .collect();
    sorted(names)
}

#[test]
fn up_to_date_targets_do_not_rebuild() {
    let project = chain();
    assert!(dirty(&project).is_empty());
    let again = project.build(&["c", "d"]);
    assert!(again.ran.is_empty(), "{:?}", again.ran);
    assert_eq!((again.outcome.built, again.outcome.fresh), (0, 2));
}

#[test]
fn a_changed_input_rebuilds_exactly_its_dependents() {
    let project = chain();
    let (a, d) = (project.key("a"), project.key("d"));
    project.write("b.txt", "two");
    assert_eq!(dirty(&project), ["b", "c"]);
    let graph = project.graph();
    let plan = project.plan(&graph, &["c"], false);
    let b = plan.item(graph.by_name["b"]).unwrap();
    assert!(
        matches!(&b.state, ItemState::Dirty(reasons) if reasons.iter().any(|r| matches!(r, DirtyReason::Input { .. }))),
        "{:?}",
        b.state
    );
    let rebuilt = project.build(&["c", "d"]);
    assert_eq!(rebuilt.ran, ["b", "c"]);
    assert_eq!((project.key("a"), project.key("d")), (a, d));
}

#[test]
fn a_changed_param_rebuilds_exactly_its_dependents() {
    let project = chain();
    project.write(
        "recipes/main.toml",
        &CHAIN.replace("text = \"a\"", "text = \"A\""),
    );
    assert_eq!(dirty(&project), ["a", "b", "c"]);
    let rebuilt = project.build(&["c", "d"]);
    assert_eq!(rebuilt.ran, ["a", "b", "c"]);
    assert!(
        project.output("c").contains("a: A"),
        "{}",
        project.output("c")
    );
}

#[test]
fn keys_are_stable_and_follow_dependency_keys() {
    let project = chain();
    let first = [project.key("a"), project.key("b"), project.key("c")];
    assert_eq!(
        [project.key("a"), project.key("b"), project.key("c")],
        first,
        "the same project gives the same keys"
    );
    project.write(
        "recipes/main.toml",
        &CHAIN.replace("text = \"a\"", "text = \"A\""),
    );
    let graph = project.graph();
    let plan = project.plan(&graph, &["c"], false);
    let b = plan.item(graph.by_name["b"]).unwrap();
    assert_eq!(b.fingerprint.deps["a"], project.key("a"));
    assert_ne!(b.key, first[1], "a dependency's key is part of the key");
    assert_eq!(b.key, b.fingerprint.key());
}

#[test]
fn forcing_rebuilds_the_requested_target_only() {
    let project = chain();
    let graph = project.graph();
    let plan = project.plan(&graph, &["c"], true);
    let states: Vec<(String, bool)> = plan
        .items
        .iter()
        .map(|item| (graph.target(item.id).spec.name.clone(), item.is_dirty()))
        .collect();
    assert!(states.contains(&("c".into(), true)), "{states:?}");
    assert!(states.contains(&("a".into(), false)), "{states:?}");
    assert!(states.contains(&("b".into(), false)), "{states:?}");
}
