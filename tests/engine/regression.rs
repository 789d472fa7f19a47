//! One test per fixed bug, each with a line saying what broke.

use crate::support::Project;

/// `cpbuild --store S archive T --version 1.0.0` printed cpbuild's version: with a global
/// option first, clap took `archive` for a target and `--version` for the root's flag.
#[test]
fn global_options_before_a_command_keep_it_a_command() {
    let project = Project::new();
    project.recipe("[target.a]\nkind = \"shell\"\ncommand = \"true\"\n");
    project.run(&["--store", "s", "a"]).success();
    let run = project
        .run(&[
            "--store",
            "s",
            "archive",
            "a",
            "--version",
            "1.0.0",
            "-o",
            "a.tar.zst",
        ])
        .success();
    assert!(run.stdout.contains("wrote `a.tar.zst`"), "{}", run.stdout);
    let version = project.run(&["--version"]).success();
    assert!(version.stdout.starts_with("cpbuild "), "{}", version.stdout);
}

/// `-B` removed a target's bundle before rebuilding it, so a rebuild that failed lost what
/// was already built.
#[test]
fn a_failed_forced_rebuild_keeps_the_old_bundle() {
    let project = Project::new();
    // The command reads `switch`, which is deliberately not an input: the key stays the same.
    project.recipe(
        "[target.a]\nkind = \"shell\"\ncommand = \"test ! -e switch; echo built > a.txt\"\noutputs = [\"a.txt\"]\n",
    );
    project.run(&["a"]).success();
    project.file("switch", "");
    let forced = project.run(&["-B", "a"]);
    assert_eq!(forced.code, 1, "{}", forced.stderr);
    let after = project.run(&["--json", "a"]).success();
    assert!(
        after.targets_with("start").is_empty(),
        "the old bundle is still there"
    );
    assert_eq!(project.read("a.txt"), "built\n");
}
