//! The store: reproducible bundles, corruption, interrupted builds, gc and clean.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use crate::support::{Project, assert_contains, three_levels_recipe};

#[test]
fn the_same_recipe_gives_byte_identical_bundles_in_two_fresh_stores() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    project.run(&["--store", "store-one"]).success();
    // Different working files in between must not matter: only declared inputs do.
    project.file("unrelated.txt", "noise");
    project.run(&["--store", "store-two", "-j1"]).success();
    let one = project.bundles("store-one");
    let two = project.bundles("store-two");
    assert_eq!(one.len(), 4);
    assert_eq!(one, two, "bundles differ between two fresh stores");
}

fn flip_a_byte(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let length = file.metadata().unwrap().len();
    file.seek(SeekFrom::Start(length / 2)).unwrap();
    let mut byte = [0u8];
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(length / 2)).unwrap();
    file.write_all(&[byte[0] ^ 0x10]).unwrap();
}

#[test]
fn a_flipped_byte_is_detected_and_rebuilt_or_refused() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    let run = project.run(&["--json"]).success();
    let key = finished_key(&run, "left");
    let bundle = project.path(&format!("artifacts/bundles/{key}.tar.zst"));
    flip_a_byte(&bundle);

    // `summary` is fresh and needs nothing below it, so a plain build does not read `left`.
    let refused = project.run(&["--no-rebuild", "left"]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert_contains(&refused.stderr, "corrupt bundle for `left`");
    assert_contains(&refused.stderr, &format!("{key}.tar.zst"));

    let status = project.run(&["status"]).success();
    assert!(
        status
            .stdout
            .contains("dirty  left: bundle corrupt (sha256"),
        "{}",
        status.stdout
    );

    let rebuilt = project.run(&["--json", "left"]).success();
    assert_eq!(rebuilt.targets_with("corrupt"), ["left"]);
    assert_eq!(rebuilt.targets_with("start"), ["left"]);
    // The rebuilt bundle is the same bytes as before the damage, and verifies.
    assert!(
        project
            .path(&format!("artifacts/corrupt/{key}.tar.zst"))
            .exists()
    );
    let again = project.run(&["--json"]).success();
    assert!(again.targets_with("start").is_empty());
}

#[test]
fn a_truncated_bundle_is_detected() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    project.run(&[]).success();
    for (name, _) in project.bundles("artifacts") {
        let path = project.path(&format!("artifacts/bundles/{name}"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(10).unwrap();
    }
    let run = project.run(&["--json"]).success();
    assert_eq!(run.targets_with("corrupt").len(), 4, "{}", run.stdout);
    assert_eq!(
        run.targets_with("start"),
        ["data", "left", "right", "summary"]
    );
}

#[test]
fn kill_9_during_an_action_leaves_a_consistent_store() {
    let project = Project::new();
    project.recipe(
        r#"
[target.quick]
kind = "shell"
command = "echo quick > quick.txt"
outputs = ["quick.txt"]

[target.slow]
kind = "shell"
deps = ["quick"]
command = "if [ ! -f started.flag ]; then touch started.flag; sleep 30; fi; echo slow > slow.txt"
outputs = ["slow.txt"]
"#,
    );
    let mut child = project.command(&["slow", "-j1"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !project.path("started.flag").exists() {
        assert!(Instant::now() < deadline, "the slow action never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();

    // Only `quick` is committed; `slow` left no bundle that looks complete.
    let status = project.run(&["status", "slow"]).success();
    assert_contains(&status.stdout, "fresh  quick");
    assert_contains(&status.stdout, "dirty  slow: never built");
    assert_eq!(project.bundles("artifacts").len(), 1);

    let run = project.run(&["--json", "slow"]).success();
    assert_eq!(run.targets_with("start"), ["slow"]);
    assert_eq!(project.read("slow.txt"), "slow\n");
    // The killed build's staging directory was cleaned up.
    let leftovers: Vec<_> = std::fs::read_dir(project.path("artifacts/tmp"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn gc_removes_only_unreferenced_bundles() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    project.run(&["summary", "other"]).success();
    project.run(&["--profile", "paper"]).success();
    assert_eq!(project.bundles("artifacts").len(), 7);
    project.file("input.txt", "new\n");
    project.run(&[]).success();
    // A key's lock file as earlier versions made them (one per key).
    project.file("artifacts/locks/0123abcd.lock", "4242");
    // 4 old ci bundles of the summary chain and 2 paper ones are now stale (`data` changed).
    let gc = project.run(&["gc"]).success();
    assert_contains(&gc.stdout, "removed 6 bundles");
    assert!(!project.path("artifacts/locks/0123abcd.lock").exists());
    let run = project.run(&["--json", "summary", "other"]).success();
    assert!(run.targets_with("start").is_empty(), "{}", run.stdout);
}

#[test]
fn clean_asks_for_confirmation() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    project.run(&[]).success();
    let refused = project.run(&["clean"]);
    assert_eq!(refused.code, 2);
    assert_contains(&refused.stderr, "pass `--yes`");
    assert!(project.path("artifacts/bundles").exists());
    project.run(&["clean", "--yes"]).success();
    assert!(!project.path("artifacts").exists());
}

#[test]
fn ctrl_c_stops_cleanly_and_keeps_nothing_partial() {
    let project = Project::new();
    project.recipe(
        r#"
[target.slow]
kind = "shell"
command = "touch started.flag; sleep 30; echo slow > slow.txt"
outputs = ["slow.txt"]
"#,
    );
    let child = project.command(&["slow"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !project.path("started.flag").exists() {
        assert!(Instant::now() < deadline, "the slow action never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(project.bundles("artifacts").is_empty());
    // Had the command not been stopped, it would have written `slow.txt` before exiting.
    assert!(!project.path("slow.txt").exists());
    let leftovers: Vec<_> = std::fs::read_dir(project.path("artifacts/tmp"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn finished_key(run: &crate::support::Run, target: &str) -> String {
    run.events()
        .into_iter()
        .find(|e| e["event"] == "finished" && e["target"] == target)
        .unwrap_or_else(|| panic!("`{target}` was not built"))["key"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A command's working-tree outputs are stored straight from the working tree: no unpacked
/// copy is made until a dependent needs one, no staging folder is left behind, and every
/// record has its `# verified` stamp (written once its bundle is on disk) when the build ends.
#[test]
fn unpacked_copies_are_made_when_a_dependent_needs_them_and_records_are_stamped_by_the_end() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    let run = project.run(&["--json", "other"]).success();
    let other = finished_key(&run, "other");
    assert!(
        !project
            .path(&format!("artifacts/unpacked/{other}"))
            .exists()
    );
    let index = project.index_lines();
    assert!(
        index
            .iter()
            .any(|line| line["key"] == other.as_str() && line["verified"].is_string()),
        "{index:?}"
    );
    let tmp = || {
        std::fs::read_dir(project.path("artifacts/tmp"))
            .unwrap()
            .count()
    };
    assert_eq!(tmp(), 0, "staging left behind");

    let run = project.run(&["--json"]).success();
    let data = finished_key(&run, "data");
    assert_eq!(
        project.read(&format!("artifacts/unpacked/{data}/files/data.txt")),
        "HELLO\n"
    );
    let summary = finished_key(&run, "summary");
    assert!(
        !project
            .path(&format!("artifacts/unpacked/{summary}"))
            .exists()
    );
    assert_eq!(project.read("summary.txt"), "HELLO\nHELLO\n6\n");
    assert_eq!(tmp(), 0, "staging left behind");
}

/// Every bundle's record is a line of `bundles/index.jsonl`: a commit adds no other file
/// beside its bundle. A store written by an earlier version (a `<key>.sha256` record per
/// bundle) is still read, and a rebuild there records the new bundle in the index. A lost
/// record (a torn line, the index removed) leaves its bundle untrusted: reported corrupt and
/// rebuilt, never used.
#[test]
fn bundle_records_are_lines_of_one_index_and_a_lost_record_is_never_trusted() {
    let project = Project::new();
    project
        .recipe(&three_levels_recipe())
        .file("input.txt", "hello\n");
    project.run(&[]).success();
    assert_eq!(project.beside_bundles(), ["index.jsonl"]);
    let lines = project.index_lines();
    // Each of the 4 bundles: its commit, then its stamp once on disk.
    assert_eq!(lines.len(), 8, "{lines:?}");
    let commits: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["sha256"].is_string()).collect();
    assert_eq!(commits.len(), 4);
    let target_of = |key: &str| -> String {
        commits.iter().find(|l| l["key"] == key).unwrap()["run"]["target"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // A torn commit line loses that record only: its bundle is rebuilt (the same bytes), the
    // others are trusted.
    let torn = commits[0]["key"].as_str().unwrap().to_string();
    let mut text = serde_json::to_string(commits[0]).unwrap()[..40].to_string();
    for line in &lines[1..] {
        text.push_str(&serde_json::to_string(line).unwrap());
        text.push('\n');
    }
    std::fs::write(project.path("artifacts/bundles/index.jsonl"), text).unwrap();
    let all = ["--json", "data", "left", "right", "summary"];
    let run = project.run(&all).success();
    assert_eq!(
        run.targets_with("corrupt"),
        [target_of(&torn)],
        "{}",
        run.stdout
    );
    assert_eq!(run.targets_with("start"), [target_of(&torn)]);
    assert_contains(&run.stdout, "the store's index records no sha256 for it");

    // No index at all: nothing is trusted.
    std::fs::remove_file(project.path("artifacts/bundles/index.jsonl")).unwrap();
    let run = project.run(&all).success();
    assert_eq!(run.targets_with("corrupt").len(), 4, "{}", run.stdout);
    assert_eq!(run.targets_with("start").len(), 4);

    // An earlier version's layout: one record file per bundle, no index.
    let lines = project.index_lines();
    for line in lines.iter().filter(|l| l["sha256"].is_string()) {
        let key = line["key"].as_str().unwrap();
        project.file(
            &format!("artifacts/bundles/{key}.sha256"),
            &format!(
                "{}  {key}.tar.zst\n# run {}\n",
                line["sha256"].as_str().unwrap(),
                serde_json::to_string(&line["run"]).unwrap()
            ),
        );
    }
    std::fs::remove_file(project.path("artifacts/bundles/index.jsonl")).unwrap();
    let run = project.run(&all).success();
    assert!(run.targets_with("start").is_empty(), "{}", run.stdout);
    assert!(run.targets_with("corrupt").is_empty(), "{}", run.stdout);
    let show = project.run(&["show", "left"]).success();
    let shown: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(shown["run"]["target"], "left");
    let left = shown["manifest"]["key"].as_str().unwrap().to_string();
    project.run(&["-B", "left"]).success();
    assert!(
        !project
            .path(&format!("artifacts/bundles/{left}.sha256"))
            .exists()
    );
    assert!(
        project
            .index_lines()
            .iter()
            .any(|l| l["key"] == left.as_str())
    );
    let status = project.run(&["status"]).success();
    assert_contains(&status.stdout, "4 fresh, 0 dirty");
}

/// The bundles' index is compacted (one line per bundle present) once it holds more than twice
/// that plus 100 lines: by a build that has the store to itself (here after forced
/// rebuilds) and by `gc` (here after it removed two generations of bundles). Either way, what
/// was fresh stays fresh.
#[test]
fn the_bundles_index_is_compacted_by_a_build_that_has_the_store_to_itself_and_by_gc() {
    let project = Project::new();
    project
        .recipe(
            r#"
[target.copy]
name = "copy_{i}"
foreach = { i = { from = 1, to = 60 } }
kind = "shell"
inputs = ["input.txt"]
command = "cp input.txt out_{i}.txt"
outputs = ["out_{i}.txt"]
"#,
        )
        .file("input.txt", "one\n");
    project.run(&["copy"]).success();
    assert_eq!(project.index_lines().len(), 120);
    project.run(&["-B", "copy"]).success();
    assert_eq!(project.index_lines().len(), 240);
    // 240 > 2 × 60 + 100: this build compacts the index to 60 lines before adding its own 120.
    project.run(&["-B", "copy"]).success();
    assert_eq!(project.index_lines().len(), 180);
    project.run(&["-B", "copy"]).success();
    assert_eq!(project.index_lines().len(), 300);
    let run = project.run(&["--json", "copy"]).success();
    assert!(run.targets_with("start").is_empty(), "{}", run.stdout);
    assert!(run.targets_with("corrupt").is_empty(), "{}", run.stdout);
    let lines = project.index_lines();
    assert_eq!(lines.len(), 60);
    assert!(
        lines.iter().all(|l| l["sha256"].is_string()
            && l["run"]["target"].is_string()
            && l["verified"].is_string()),
        "{lines:?}"
    );

    for contents in ["two\n", "three\n"] {
        project.file("input.txt", contents);
        project.run(&["copy"]).success();
    }
    assert_eq!(project.index_lines().len(), 60 + 240);
    let gc = project.run(&["gc"]).success();
    assert_contains(&gc.stdout, "removed 120 bundles");
    let lines = project.index_lines();
    assert_eq!(lines.len(), 60);
    let run = project.run(&["--json", "copy"]).success();
    assert!(run.targets_with("start").is_empty(), "{}", run.stdout);
    assert!(run.targets_with("corrupt").is_empty(), "{}", run.stdout);
    assert_eq!(project.read("out_7.txt"), "three\n");
}
