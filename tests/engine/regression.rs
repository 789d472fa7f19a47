//! One test per fixed bug, each with a line saying what broke.

use crate::support::{Project, assert_contains, assert_lacks};

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
    assert_contains(&run.stdout, "wrote `a.tar.zst`");
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

/// The recipe every reliability test builds on: `a` copies `in.txt`, `b` counts its lines.
const A_AND_B: &str = r#"
[target.a]
kind = "shell"
inputs = ["in.txt"]
command = "cp in.txt a.txt"
outputs = ["a.txt"]

[target.b]
kind = "shell"
deps = ["a"]
command = "wc -l < $CPBUILD_DEP_A/a.txt > b.txt"
outputs = ["b.txt"]
"#;

fn a_and_b() -> Project {
    let project = Project::new();
    project.recipe(A_AND_B).file("in.txt", "one\n");
    project
}

/// The key of `target`, from `status --json`.
fn key_of(project: &Project, target: &str) -> String {
    let status = project.run(&["--json", "status", target]).success();
    status
        .events()
        .iter()
        .find(|e| e["target"] == target)
        .and_then(|e| e["key"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no key for {target}: {}", status.stdout))
}

/// Overwrites bytes of `path` in place (same inode, same size), then puts its mtime back.
fn rot(path: &std::path::Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).unwrap();
    let mode = metadata.permissions().mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
    file.set_modified(metadata.modified().unwrap()).unwrap();
    drop(file);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `foreach = { k = { from = -1, to = i64::MAX } }` made `cpbuild list` panic: the grid-size
/// check computed `to - from` in 64 bits and overflowed.
#[test]
fn a_grid_range_at_the_integer_limits_is_refused_not_a_panic() {
    let project = Project::new();
    project.recipe(
        "[target.g]\nname = \"g_{k}\"\nforeach = { k = { from = -1, to = 9223372036854775807 } }\nkind = \"shell\"\ncommand = \"true\"\n",
    );
    let run = project.run(&["list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "recipes/main.toml:3:");
    assert_contains(&run.stderr, "more than");
    // The same through a profile variable.
    project.recipe(
        "[profile.ci]\nlow = -9223372036854775808\nhigh = 9223372036854775807\n\n[target.g]\nname = \"g_{k}\"\nforeach = { k = { from = \"${low}\", to = \"${high}\" } }\nkind = \"shell\"\ncommand = \"true\"\n",
    );
    let run = project.run(&["list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_lacks(&run.stderr, "panicked");
}

/// An input edited while its command ran was stored under the old input's key: the bundle held
/// the new output, the manifest the old hash, and restoring the old input then said "fresh".
#[test]
fn an_input_edited_while_its_command_runs_fails_the_target() {
    let project = Project::new();
    project
        .recipe(
            "[target.a]\nkind = \"shell\"\ninputs = [\"in.txt\"]\ncommand = \"echo NEW > in.txt; cp in.txt a.txt\"\noutputs = [\"a.txt\"]\n",
        )
        .file("in.txt", "OLD\n");
    let run = project.run(&["a"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("input `in.txt` of target `a` changed while its command ran"),
        "{}",
        run.stderr
    );
    project.file("in.txt", "OLD\n");
    let status = project.run(&["status", "a"]).success();
    assert_contains(&status.stdout, "dirty  a");
    assert!(
        !project.path("a.txt").exists(),
        "the partial output was removed"
    );
}

/// A directory symlink inside an input folder was left out of the key (as were dangling links
/// and loops): editing a file behind it left the target "fresh".
#[test]
fn symlinks_inside_an_input_folder_are_followed_or_refused() {
    let project = Project::new();
    project
        .recipe(
            "[target.a]\nkind = \"shell\"\ninputs = [\"data\"]\ncommand = \"cat data/own.txt data/shared/x.txt > a.txt\"\noutputs = [\"a.txt\"]\n",
        )
        .file("data/own.txt", "own\n")
        .file("elsewhere/x.txt", "one\n");
    std::os::unix::fs::symlink("../elsewhere", project.path("data/shared")).unwrap();
    project.run(&["a"]).success();
    project.file("elsewhere/x.txt", "two\n");
    let status = project.run(&["status", "a"]).success();
    assert!(
        status
            .stdout
            .contains("dirty  a: input `data/shared/x.txt` changed"),
        "{}",
        status.stdout
    );
    project.run(&["a"]).success();
    assert_eq!(project.read("a.txt"), "own\ntwo\n");

    std::os::unix::fs::symlink("nowhere", project.path("data/broken")).unwrap();
    let run = project.run(&["a"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "`data/broken`");
    assert_contains(&run.stderr, "dangling");
    std::fs::remove_file(project.path("data/broken")).unwrap();

    std::os::unix::fs::symlink("..", project.path("data/shared_loop")).unwrap();
    std::os::unix::fs::symlink("../data", project.path("elsewhere/back")).unwrap();
    let run = project.run(&["a"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "loop");
}

/// Unpacked copies were trusted: an edited `unpacked/K/files/a.txt` fed `-B b` and was restored
/// into the working tree by `cpbuild a`; a deleted one failed dependents with "No such file".
#[test]
fn dependents_and_the_working_tree_only_see_content_matching_the_manifest() {
    let project = a_and_b();
    project.run(&["b"]).success();
    let key = key_of(&project, "a");
    let copy = project.path(&format!("artifacts/unpacked/{key}/files/a.txt"));
    rot(&copy, 0, b"ONE\nTWO\nTHREE\n");
    let status = project.run(&["status", "b"]).success();
    assert_contains(&status.stdout, "fresh  a");
    let run = project.run(&["-B", "b"]).success();
    assert_contains(&run.stderr, "unpacked copy");
    assert_eq!(project.read("b.txt").trim(), "1");
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "one\n");

    rot(&copy, 0, b"ONE\n");
    std::fs::remove_file(project.path("a.txt")).unwrap();
    project.run(&["a"]).success();
    assert_eq!(project.read("a.txt"), "one\n");

    crate::support::make_writable(&project.path(&format!("artifacts/unpacked/{key}")));
    std::fs::remove_file(&copy).unwrap();
    project.run(&["-B", "b"]).success();
    assert_eq!(project.read("b.txt").trim(), "1");
}

/// Bit rot that kept size, mtime and inode was never seen (the stat record short-cut the
/// hash), and `archive` published the broken bundle with exit 0.
#[test]
fn bit_rot_is_caught_by_archive_and_fsck() {
    let project = a_and_b();
    project.run(&["b"]).success();
    let key = key_of(&project, "a");
    let bundle = project.path(&format!("artifacts/bundles/{key}.tar.zst"));
    let size = std::fs::metadata(&bundle).unwrap().len();
    let original = std::fs::read(&bundle).unwrap();
    let middle = (size / 2) as usize;
    rot(&bundle, middle as u64, &[original[middle] ^ 0x20]);
    let run = project.run(&["archive", "b", "--version", "1.0.0", "-o", "x.tar.zst"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_contains(&run.stderr, "target `a`");
    assert!(!project.path("x.tar.zst").exists());

    let fsck = project.run(&["fsck"]);
    assert_eq!(fsck.code, 3, "{}\n{}", fsck.stdout, fsck.stderr);
    assert_contains(&fsck.stdout, "target `a`");
    assert_contains(&fsck.stdout, "cpbuild --profile ci a");
    assert!(!bundle.exists());
    assert!(
        project
            .path(&format!("artifacts/corrupt/{key}.tar.zst"))
            .exists()
    );
    let status = project.run(&["status", "a"]).success();
    assert_contains(&status.stdout, "dirty  a");
    project.run(&["b"]).success();
    let clean = project.run(&["fsck"]).success();
    assert_contains(&clean.stdout, "no damage");
}

/// `verify-archive` and `import` said "is intact" for archives with bytes appended (random,
/// zeros, a zstd skippable frame, a second copy), the last 1–4 bytes cut, or a flip in the
/// zstd checksum or at byte 5: nothing after the tar end or the frame checksum was read.
#[test]
fn verify_archive_reads_to_the_true_end_of_the_archive() {
    let project = a_and_b();
    project.run(&["b"]).success();
    project
        .run(&["archive", "b", "--version", "1.0.0", "-o", "good.tar.zst"])
        .success();
    let good = std::fs::read(project.path("good.tar.zst")).unwrap();
    let mut variants: Vec<(&str, Vec<u8>)> = Vec::new();
    let appended = |extra: &[u8]| [good.as_slice(), extra].concat();
    variants.push(("random bytes appended", appended(&[0x5a, 0x13, 0xc7, 0x01])));
    variants.push(("zeros appended", appended(&[0; 64])));
    let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0];
    skippable.extend_from_slice(b"junk");
    variants.push(("a skippable frame appended", appended(&skippable)));
    variants.push(("a second copy appended", appended(&good)));
    for cut in 1..=4 {
        variants.push(("the end cut", good[..good.len() - cut].to_vec()));
    }
    let mut flipped_checksum = good.clone();
    let last = flipped_checksum.len() - 2;
    flipped_checksum[last] ^= 0x01;
    variants.push(("a flip in the frame checksum", flipped_checksum));
    let mut flipped_header = good.clone();
    flipped_header[5] ^= 0x08;
    variants.push(("a flip at byte 5", flipped_header));
    for (what, bytes) in variants {
        std::fs::write(project.path("bad.tar.zst"), &bytes).unwrap();
        let run = project.run(&["verify-archive", "bad.tar.zst"]);
        assert_eq!(run.code, 3, "{what}: {}{}", run.stdout, run.stderr);
        let import = project.run(&["--store", "other", "import", "bad.tar.zst"]);
        assert_eq!(import.code, 3, "{what}: {}{}", import.stdout, import.stderr);
    }
    project.run(&["verify-archive", "good.tar.zst"]).success();
}

/// A store write that failed (a full disk; here a file-size limit of 1 MiB, which the 1 MiB − 1
/// byte output fits and its bundle does not) left `tmp/<key>.<pid>/` and
/// the partial tarball behind, named the completed output instead of the tarball, and exited 1
/// where the README says 3.
#[test]
fn a_failed_commit_cleans_up_names_the_partial_bundle_and_exits_3() {
    use std::os::unix::process::CommandExt;
    let project = Project::new();
    project.recipe(
        "[target.big]\nkind = \"shell\"\ncommand = \"head -c 1048575 /dev/urandom > big.bin\"\noutputs = [\"big.bin\"]\n",
    );
    let mut command = project.command(&["big"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            Ok(())
        });
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let failure = stderr
        .lines()
        .find(|line| line.contains("FAILED big"))
        .unwrap_or_else(|| panic!("no failure line: {stderr}"));
    assert!(failure.contains(".tar.zst`"), "{stderr}");
    assert!(!failure.contains("big.bin"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(project.path("artifacts/tmp"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "leftovers in tmp/: {left:?}");
}

/// Temporaries of a killed cpbuild stayed in `tmp/` until `gc`, filling a full disk further.
#[test]
fn stale_temporaries_of_dead_processes_are_reclaimed_by_the_next_run() {
    let project = a_and_b();
    project.run(&["a"]).success();
    let stale_key = "0".repeat(64);
    let stale = [
        format!("{stale_key}.4194303"),
        format!("{stale_key}.4194303.tar.zst"),
        format!("unpack-{stale_key}.4194303"),
    ];
    std::fs::create_dir_all(project.path(&format!("artifacts/tmp/{}/files", stale[0]))).unwrap();
    project.file(&format!("artifacts/tmp/{}", stale[1]), "partial");
    std::fs::create_dir_all(project.path(&format!("artifacts/tmp/{}", stale[2]))).unwrap();
    project.run(&["b"]).success();
    for name in &stale {
        assert!(
            !project.path(&format!("artifacts/tmp/{name}")).exists(),
            "`{name}` was not reclaimed"
        );
    }
}

/// A failed command left its partial output where the last good one was, although the build
/// said "nothing partial was kept".
#[test]
fn a_failed_command_leaves_the_working_tree_as_it_was() {
    let project = Project::new();
    project
        .recipe(
            "[target.a]\nkind = \"shell\"\ninputs = [\"in.txt\"]\ncommand = \"cp in.txt a.txt; test ! -e fail\"\noutputs = [\"a.txt\"]\n",
        )
        .file("in.txt", "good\n");
    project.run(&["a"]).success();
    project.file("in.txt", "partial\n").file("fail", "");
    let run = project.run(&["a"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(project.read("a.txt"), "good\n");
    assert_contains(&run.stderr, "restored `a.txt`");

    // Nothing good to go back to: the partial output is removed, and that is said too.
    std::fs::remove_file(project.path("a.txt")).unwrap();
    let run = project.run(&["--store", "fresh", "a"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!project.path("a.txt").exists());
    assert_contains(&run.stderr, "removed partial `a.txt`");
}

/// After `kill -9` of cpbuild, processes its command had started kept running and wrote into
/// the project later.
#[test]
fn no_process_of_a_command_outlives_a_killed_cpbuild() {
    let project = Project::new();
    project.recipe(
        "[target.slow]\nkind = \"shell\"\ncommand = \"(sleep 1; echo late > late.txt) & touch started; sleep 30\"\n",
    );
    let mut child = project.command(&["slow"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !project.path("started").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the command never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: plain syscall on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        !project.path("late.txt").exists(),
        "a background process of the command outlived cpbuild"
    );
}

/// A recipe that is not UTF-8 exited 3 (an I/O error) without `file:line:col`.
#[test]
fn a_recipe_that_is_not_utf8_is_a_located_recipe_error() {
    let project = Project::new();
    std::fs::create_dir_all(project.path("recipes")).unwrap();
    std::fs::write(
        project.path("recipes/main.toml"),
        b"[target.a]\nkind = \"shell\"\ncommand = \"echo \xff\"\n",
    )
    .unwrap();
    let run = project.run(&["list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "recipes/main.toml:3:17");
    assert_contains(&run.stderr, "UTF-8");
}

/// Names with `é` or `π✓`, or over 200 characters, were refused with a help stating neither
/// rule (ASCII only, at most 200 characters).
#[test]
fn name_rules_say_which_rule_a_name_breaks() {
    let project = Project::new();
    project.recipe("[target.\"café\"]\nkind = \"shell\"\ncommand = \"true\"\n");
    let run = project.run(&["list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "`é`");
    assert_contains(&run.stderr, "ASCII");
    let long = "x".repeat(201);
    project.recipe(&format!(
        "[target.{long}]\nkind = \"shell\"\ncommand = \"true\"\n"
    ));
    let run = project.run(&["list"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "201 characters");
    assert_contains(&run.stderr, "at most 200");
}

/// `-j 0` printed "nothing to do" (or the plan) before its usage error.
#[test]
fn jobs_zero_is_refused_before_anything_is_reported() {
    let project = Project::new();
    project.recipe("[target.a]\nkind = \"shell\"\ncommand = \"true\"\n");
    let run = project.run(&["-j", "0", "a"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_lacks(&run.stderr, "to build");
    assert!(!project.path("artifacts").exists());
    project.run(&["a"]).success();
    let run = project.run(&["-j", "0", "a"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_lacks(&run.stderr, "nothing to do");
    assert_contains(&run.stderr, "`-j 0`");
}

/// A missing input left an empty store skeleton (`artifacts/bundles`, `tmp`, …) behind.
#[test]
fn a_missing_input_creates_no_store() {
    let project = Project::new();
    project.recipe(A_AND_B);
    let run = project.run(&["a"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains(&run.stderr, "`in.txt`");
    assert!(
        !project.path("artifacts").exists(),
        "an empty store was left behind"
    );
}

/// File names with a newline were printed raw by `-n` and `--explain`, breaking the line format.
#[test]
fn file_names_with_newlines_are_printed_escaped() {
    let project = Project::new();
    project
        .recipe("[target.a]\nkind = \"shell\"\ninputs = [\"data\"]\ncommand = \"true\"\n")
        .file("data/x\ny.txt", "one\n");
    project.run(&["a"]).success();
    project.file("data/x\ny.txt", "two\n");
    for flag in ["-n", "--explain"] {
        let run = project.run(&[flag, "a"]).success();
        assert_contains(&run.stderr, "`data/x\\ny.txt`");
        assert_lacks(&run.stderr, "x\ny.txt");
    }
}
