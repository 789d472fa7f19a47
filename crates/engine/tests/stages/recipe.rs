//! Loading recipes, and the errors a user gets for a wrong one.

use crate::support::Project;

#[test]
fn profile_variables_fill_params() {
    let project = Project::new(
        r#"
[profile.ci]
greeting = "hello"

[profile.paper]
greeting = "good day"

[target.a]
kind = "write"
params = { text = "${greeting}, world" }
"#,
    );
    let graph = project.graph();
    assert_eq!(
        graph.target(graph.by_name["a"]).spec.params["text"],
        "hello, world"
    );
}

#[test]
fn invalid_toml_names_the_file_and_line() {
    let project = Project::new("[target.a]\nkind = \"write\"\nparams = { text = \n");
    let message = project.recipes().expect_err("invalid TOML").to_string();
    assert!(message.starts_with("recipes/main.toml:3:"), "{message}");
}

#[test]
fn an_unknown_dependency_suggests_the_closest_name() {
    let project = Project::new(
        r#"
[target.baseline]
kind = "write"
params = { text = "b" }

[target.fig]
kind = "write"
params = { text = "f" }
deps = ["baselin"]
"#,
    );
    let recipes = project.recipes().expect("the recipes parse");
    let error = cpbuild_engine::graph::Graph::build(&recipes, "ci", &project.registry)
        .expect_err("an unknown dependency")
        .to_string();
    assert!(error.starts_with("recipes/main.toml:9:"), "{error}");
    assert!(error.contains("`baselin`"), "{error}");
    assert!(error.contains("did you mean `baseline`?"), "{error}");
}

#[test]
fn an_unknown_kind_suggests_the_closest_kind() {
    let project = Project::new("[target.a]\nkind = \"wrte\"\nparams = { text = \"a\" }\n");
    let recipes = project.recipes().expect("the recipes parse");
    let error = cpbuild_engine::graph::Graph::build(&recipes, "ci", &project.registry)
        .expect_err("an unknown kind")
        .to_string();
    assert!(error.contains("`wrte`"), "{error}");
    assert!(error.contains("did you mean `write`?"), "{error}");
}

#[test]
fn an_action_rejecting_a_param_points_at_it() {
    let project = Project::new("[target.a]\nkind = \"write\"\nparams = { text = 3 }\n");
    let recipes = project.recipes().expect("the recipes parse");
    let error = cpbuild_engine::graph::Graph::build(&recipes, "ci", &project.registry)
        .expect_err("a param the action rejects")
        .to_string();
    assert!(error.starts_with("recipes/main.toml:3:"), "{error}");
    assert!(error.contains("`text` must be a string"), "{error}");
}

#[test]
fn a_missing_recipe_directory_says_what_to_do() {
    let project = Project::new("");
    std::fs::remove_dir_all(project.path("recipes")).unwrap();
    let error = project.recipes().expect_err("no recipes").to_string();
    assert!(error.contains("no recipe directory `recipes`"), "{error}");
}
