//! Fault injection: `kill -9` of cpbuild at pseudo-random points of a build, many times over
//! (a fixed seed, so every run tries the same points), checking the store after each kill.

use std::time::{Duration, Instant};

use crate::support::Project;

/// 4 chains of 5 targets, each step copying and extending its dependency's file, plus a join.
fn chains() -> String {
    let mut recipe = String::from("default = [\"join\"]\n");
    for chain in 0..4 {
        for step in 0..5 {
            let name = format!("c{chain}_{step}");
            if step == 0 {
                recipe.push_str(&format!(
                    "\n[target.{name}]\nkind = \"shell\"\ninputs = [\"seed.txt\"]\ncommand = \"sleep 0.05; cat seed.txt > out_{name}.txt; echo {name} >> out_{name}.txt\"\noutputs = [\"out_{name}.txt\"]\n"
                ));
            } else {
                let dep = format!("c{chain}_{}", step - 1);
                let variable = format!("CPBUILD_DEP_{}", dep.to_uppercase());
                recipe.push_str(&format!(
                    "\n[target.{name}]\nkind = \"shell\"\ndeps = [\"{dep}\"]\ncommand = \"sleep 0.05; cat ${variable}/out_{dep}.txt > out_{name}.txt; echo {name} >> out_{name}.txt\"\noutputs = [\"out_{name}.txt\"]\n"
                ));
            }
        }
    }
    recipe.push_str("\n[target.join]\nkind = \"shell\"\ndeps = [\"c0_4\", \"c1_4\", \"c2_4\", \"c3_4\"]\ncommand = \"cat $CPBUILD_DEP_C0_4/* $CPBUILD_DEP_C1_4/* $CPBUILD_DEP_C2_4/* $CPBUILD_DEP_C3_4/* > join.txt\"\noutputs = [\"join.txt\"]\n");
    recipe
}

#[test]
fn kill_9_at_random_points_never_damages_the_store() {
    const KILLS: usize = 40;
    let budget = Duration::from_secs(120);
    let reference = Project::new();
    reference.recipe(&chains()).file("seed.txt", "seed\n");
    reference.run(&["-j", "2"]).success();

    let project = Project::new();
    project.recipe(&chains()).file("seed.txt", "seed\n");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let started = Instant::now();
    let mut kills = 0;
    let mut mid_build = 0;
    while kills < KILLS && started.elapsed() < budget {
        // A new seed each time, so every kill lands in a build with work to do; and a fresh
        // store now and then, so kills land early in a cold build too.
        project.file("seed.txt", &format!("seed {kills}\n"));
        if kills % 10 == 9 {
            let _ = project.run(&["clean", "--yes"]);
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(state % 700);
        let mut child = project.command(&["-j", "2"]).spawn().unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        // SAFETY: plain syscall on our own child.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        let _ = child.wait();
        kills += 1;
        if !finished {
            mid_build += 1;
        }
        // Every bundle in the store is complete and matches its recorded sha256; every
        // unpacked copy matches its bundle.
        let fsck = project.run(&["fsck"]);
        assert_eq!(
            fsck.code, 0,
            "after kill {kills} ({delay:?} in): {}{}",
            fsck.stdout, fsck.stderr
        );
    }
    // The build then completes, with exactly the bundles of an uninterrupted one, and leaves
    // no temporary behind.
    project.file("seed.txt", "seed\n");
    project.run(&["-j", "2"]).success();
    project.run(&["gc"]).success();
    assert_eq!(project.bundles("artifacts"), reference.bundles("artifacts"));
    assert_eq!(project.read("join.txt"), reference.read("join.txt"));
    let left: Vec<_> = std::fs::read_dir(project.path("artifacts/tmp"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
    assert!(
        mid_build > KILLS / 2,
        "only {mid_build} kills landed mid-build"
    );
    eprintln!(
        "kill -9 fault injection: {kills} kills ({mid_build} mid-build), store intact after each"
    );
}
