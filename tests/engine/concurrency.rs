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

#[test]
fn a_second_process_waits_for_the_key_another_is_building_and_says_so() {
    use std::io::BufRead;
    let project = Project::new();
    // The first build's command holds the key until the test has seen the second one wait
    // (at most a minute, so that a failing test cannot hang).
    project.recipe(
        "[target.slow]\nkind = \"shell\"\ncommand = \"touch started; i=0; while [ ! -e go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; echo once >> runs.log; cp runs.log slow.txt\"\noutputs = [\"slow.txt\"]\n",
    );
    let first = project.command(&["slow"]).spawn().unwrap();
    let started = std::time::Instant::now();
    while !project.path("started").exists() {
        assert!(
            started.elapsed().as_secs() < 30,
            "the first build never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut second = project.command(&["slow"]).spawn().unwrap();
    let mut stderr = Vec::new();
    for line in std::io::BufReader::new(second.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("for target `slow`: another cpbuild is building it") {
            std::fs::write(project.path("go"), "").unwrap();
        }
        stderr.push(line);
    }
    let stderr = stderr.join("\n");
    assert!(second.wait().unwrap().success(), "{stderr}");
    let first = first.wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        project.path("go").exists(),
        "the second build never said it waits: {stderr}"
    );
    assert!(
        stderr.contains("slow (built by another cpbuild)"),
        "{stderr}"
    );
    assert_eq!(project.read("runs.log"), "once\n");
    // Every key's lock is a byte of one file: building creates no lock file per target.
    let locks: Vec<String> = std::fs::read_dir(project.path("artifacts/locks"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(locks, ["keys.lock"]);
}
