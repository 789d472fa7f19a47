//! Several cpbuild processes on one store.

use crate::support::Project;

#[test]
fn two_processes_on_one_store_both_succeed_and_build_each_target_once() {
    let project = Project::new();
    let mut recipe = String::new();
    for i in 0..6 {
        recipe.push_str(&format!(
            "[target.t{i}]\nkind = \"shell\"\ncommand = \"echo t{i} >> built.log; sleep 0.3\"\n\n"
        ));
    }
    recipe.push_str("[target.all]\nkind = \"shell\"\ndeps = [\"t0\", \"t1\", \"t2\", \"t3\", \"t4\", \"t5\"]\ncommand = \"echo all >> built.log\"\n");
    project.recipe(&recipe);
    // Start two at once on a fresh store.
    let a = project.command(&["all", "-j2"]).spawn().unwrap();
    let b = project.command(&["all", "-j2"]).spawn().unwrap();
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let log = project.read("built.log");
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["all", "t0", "t1", "t2", "t3", "t4", "t5"],
        "each target is built once"
    );
}

#[test]
fn a_build_waits_for_gc_holding_the_store_and_says_so() {
    use std::fs::File;
    let project = Project::new();
    project.recipe("[target.a]\nkind = \"shell\"\ncommand = \"true\"\n");
    project.run(&["a"]).success();
    // Hold the store lock exclusively, as `gc` does, for a moment.
    let lock = File::options()
        .read(true)
        .write(true)
        .open(project.path("artifacts/store.lock"))
        .unwrap();
    lock.lock().unwrap();
    let child = project.command(&["a"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    lock.unlock().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting for the lock on store `artifacts`"),
        "{stderr}"
    );
}
