//! Every recipe error names `file:line:column` and says what to do (snapshot per error).

use crate::common::recipe::profiles;
use crate::support::Project;

fn error_of(recipe: &str) -> String {
    let project = Project::new();
    project.recipe(recipe);
    let run = project.run(&["-n"]);
    assert_eq!(run.code, 2, "expected a recipe error, got:\n{}", run.stderr);
    run.stderr
}

#[test]
fn unknown_dep_suggests_the_closest_name() {
    insta::assert_snapshot!(error_of(
        r#"
[target.baseline]
kind = "shell"
command = "true"

[target.fig4]
kind = "shell"
deps = ["baselin"]
command = "true"
"#
    ));
}

#[test]
fn duplicate_target() {
    let project = Project::new();
    project
        .file(
            "recipes/a.toml",
            "[target.train]\nkind = \"shell\"\ncommand = \"true\"\n",
        )
        .file(
            "recipes/b.toml",
            "\n\n[target.train]\nkind = \"shell\"\ncommand = \"false\"\n",
        );
    let run = project.run(&["-n"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn duplicate_target_from_a_grid() {
    insta::assert_snapshot!(error_of(
        r#"
[target.sweep_e1]
kind = "shell"
command = "true"

[target.sweep]
name = "sweep_e{k}"
foreach = { k = [1, 2] }
kind = "shell"
command = "true"
"#
    ));
}

#[test]
fn cycle_prints_its_path() {
    insta::assert_snapshot!(error_of(
        r#"
[target.a]
kind = "shell"
deps = ["b"]
command = "true"

[target.b]
kind = "shell"
deps = ["c"]
command = "true"

[target.c]
kind = "shell"
deps = ["a"]
command = "true"
"#
    ));
}

#[test]
fn bad_grid_empty_range() {
    insta::assert_snapshot!(error_of(
        r#"
[target.sweep]
name = "sweep_e{k}"
foreach = { k = { from = 10, to = 1 } }
kind = "shell"
command = "true"
"#
    ));
}

#[test]
fn bad_grid_name_misses_a_variable() {
    insta::assert_snapshot!(error_of(
        r#"
[target.grid]
name = "run_s{start}"
foreach = { start = [1, 2], length = [2, 5] }
kind = "shell"
command = "true"
"#
    ));
}

#[test]
fn bad_grid_nested_value() {
    insta::assert_snapshot!(error_of(
        r#"
[target.grid]
name = "run_{k}"
foreach = { k = [[1, 2]] }
kind = "shell"
command = "true"
"#
    ));
}

#[test]
fn unknown_kind_suggests_the_closest_kind() {
    insta::assert_snapshot!(error_of(
        r#"
[target.hello]
kind = "shel"
command = "true"
"#
    ));
}

#[test]
fn unknown_profile_variable() {
    let profiles = profiles(&[("ci", &["epochs = 4"]), ("paper", &["epochs = 98"])]);
    insta::assert_snapshot!(error_of(&format!(
        r#"
{profiles}
[target.train]
kind = "shell"
command = "train --epochs ${{epoch}}"
"#
    )));
}

#[test]
fn profiles_must_define_the_same_variables() {
    let profiles = profiles(&[
        ("ci", &["epochs = 4", "seeds = 2"]),
        ("paper", &["epochs = 98"]),
    ]);
    insta::assert_snapshot!(error_of(&format!("\n{profiles}")));
}

#[test]
fn invalid_toml() {
    insta::assert_snapshot!(error_of(
        "[target.a]\nkind = \"shell\"\ncommand = \"unterminated\n"
    ));
}

#[test]
fn unknown_field_suggests_the_closest_field() {
    insta::assert_snapshot!(error_of(
        "[target.a]\nkind = \"shell\"\ncommand = \"true\"\ndependencies = [\"b\"]\n"
    ));
}

#[test]
fn missing_input_file() {
    insta::assert_snapshot!(error_of(
        "[target.a]\nkind = \"shell\"\ncommand = \"true\"\ninputs = [\"data/missing.csv\"]\n"
    ));
}

#[test]
fn absolute_output_path() {
    insta::assert_snapshot!(error_of(
        "[target.a]\nkind = \"shell\"\ncommand = \"true\"\noutputs = [\"/tmp/x\"]\n"
    ));
}

#[test]
fn no_recipes_directory() {
    let project = Project::new();
    let run = project.run(&["-n"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!(run.stderr);
}
