//! The paper's figures, end to end: the repository's `recipes/` and `data/` in a temporary
//! project, built on the `ci` profile through the real `cpbuild` binary (the full ci graph:
//! pretraining, both baselines, every perturbed run, all four figures).
//!
//! - `golden/`: every figure CSV and SVG is an insta snapshot there, with the sha256 of every
//!   PNG (`png_sha256.snap`); any difference fails (`CI=true`: a missing snapshot fails too).
//! - the figure tables' structure and invariants;
//! - a second build runs nothing; the same figure built in a fresh store is byte-identical;
//! - `cpbuild verify` passes, catches a small injected drift, and honours recipe tolerances;
//! - `extension`: a demand-driven run extended later equals the one-go run bitwise;
//! - `epochs`: how many epochs the ci and paper graphs train, against training every run to
//!   the end (the numbers quoted in the README).

#[path = "../common/mod.rs"]
mod common;
mod epochs;
mod extension;
mod learning;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use support::{cpbuild, read, sha256};

/// The figure panels and the CSV/SVG/PNG stems each writes under `artifacts/figures/<panel>/`.
const PANELS: [(&str, &[&str]); 6] = [
    ("fig1a", &["fig1a"]),
    ("fig1b", &["fig1b"]),
    ("fig2a", &["fig2a"]),
    ("fig2b", &["fig2b"]),
    ("fig3", &["fig3"]),
    ("fig4", &["fig4", "fig4_heatmap"]),
];

/// The ci graph, built once for every test of this binary.
struct Built {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn built() -> &'static Path {
    static BUILT: OnceLock<Built> = OnceLock::new();
    &BUILT
        .get_or_init(|| {
            let dir = support::paper_project();
            let root = dir.path().to_path_buf();
            let (code, stdout, stderr) =
                cpbuild(&root, &["-j", "2", "fig1", "fig2", "fig3", "fig4"]);
            assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
            for target in ["fig1", "fig2", "fig3", "fig4"] {
                assert!(
                    stderr.contains(&format!("output {target}: artifacts/figures/{target}/")),
                    "`cpbuild` must say where {target} is:\n{stderr}"
                );
            }
            Built { _dir: dir, root }
        })
        .root
}

fn figure_file(root: &Path, panel: &str, file: &str) -> PathBuf {
    root.join("artifacts/figures").join(panel).join(file)
}

#[test]
fn figures_match_the_golden_snapshots() {
    let root = built();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../golden");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut png_hashes = String::new();
    settings.bind(|| {
        for (panel, stems) in PANELS {
            for stem in stems {
                for extension in ["csv", "svg"] {
                    let name = format!("{stem}.{extension}");
                    let text = read(&figure_file(root, panel, &name));
                    insta::assert_snapshot!(name, text);
                }
                let name = format!("{stem}.png");
                let png = std::fs::read(figure_file(root, panel, &name)).expect("png");
                assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
                png_hashes.push_str(&format!("{}  {name}\n", sha256(&png)));
            }
        }
        insta::assert_snapshot!("png_sha256", png_hashes);
    });
}

/// A figure CSV as a header and rows of cells.
fn table(root: &Path, panel: &str, stem: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let text = read(&figure_file(root, panel, &format!("{stem}.csv")));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split(',').map(str::to_string))
                .collect()
        })
        .collect();
    (header, rows)
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("`{column}` is not a number in {row:?}"))
}

/// The ci profile's value of `variable` as written in the repository's recipe.
fn ci_value(variable: &str) -> String {
    let recipe = read(&support::repo().join("recipes/paper.toml"));
    let ci = recipe
        .split("[profile.ci]")
        .nth(1)
        .and_then(|rest| rest.split("[profile.").next())
        .expect("a ci profile");
    ci.lines()
        .find_map(|line| line.strip_prefix(&format!("{variable} = ")))
        .unwrap_or_else(|| panic!("no `{variable}` in the ci profile"))
        .trim()
        .to_string()
}

/// The ci profile's value of a list variable.
fn ci_list(variable: &str) -> Vec<u32> {
    ci_value(variable)
        .trim_matches(['[', ']'])
        .split(',')
        .map(|item| item.trim().parse().expect("an integer"))
        .collect()
}

/// The ci profile's value of an integer variable.
fn ci_scalar(variable: &str) -> u32 {
    ci_value(variable).parse().expect("an integer")
}

/// `cpbuild show TARGET`: the built target's manifest, as JSON.
fn show(root: &Path, target: &str) -> serde_json::Value {
    let (code, stdout, stderr) = cpbuild(root, &["show", target]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("show prints JSON")
}

/// A value `target` published (its manifest's `info`), as an integer.
fn published(root: &Path, target: &str, value: &str) -> u64 {
    show(root, target)["manifest"]["info"][value]
        .as_u64()
        .unwrap_or_else(|| panic!("`{target}` publishes no integer `{value}`"))
}

/// A value `target` published, as text.
fn published_text(root: &Path, target: &str, value: &str) -> String {
    show(root, target)["manifest"]["info"][value]
        .as_str()
        .unwrap_or_else(|| panic!("`{target}` publishes no text `{value}`"))
        .to_string()
}

#[test]
fn figure_tables_hold_their_invariants() {
    let root = built();

    // fig1a: CLIP-HBA's curve up to its minimum-test-loss epoch (the `best_epoch` its bundle
    // publishes), epochs 1, 5, 10, 15 and the cut labelled.
    let best_epoch = published(root, "hba_baseline", "best_epoch");
    let (header, rows) = table(root, "fig1a", "fig1a");
    assert_eq!(
        header.join(","),
        "epoch,test_loss,behavioral_rsa_rho,labelled"
    );
    assert!(rows.len() >= 3, "fig1a: a curve needs epochs");
    let minimum = rows
        .iter()
        .map(|row| number(row, "test_loss"))
        .fold(f64::MAX, f64::min);
    assert_eq!(number(rows.last().expect("rows"), "test_loss"), minimum);
    assert_eq!(
        rows.len() as u64,
        best_epoch,
        "fig1a is cut at the baseline's best epoch"
    );
    for (index, row) in rows.iter().enumerate() {
        let epoch = index as u64 + 1;
        assert_eq!(row["epoch"], epoch.to_string());
        let labelled = [1, 5, 10, 15].contains(&epoch) || epoch == best_epoch;
        assert_eq!(row["labelled"], labelled.to_string(), "fig1a epoch {epoch}");
    }
    // fig1b: the ViT's whole run, as the original notebook draws it, epochs 1, 5, 11, 17, 40
    // labelled.
    let (header, rows) = table(root, "fig1b", "fig1b");
    assert_eq!(header.join(","), "epoch,val_loss,rsa_score,labelled");
    assert_eq!(rows.len(), 12, "fig1b draws every epoch of the ci ViT's 12");
    for (index, row) in rows.iter().enumerate() {
        let epoch = index + 1;
        assert_eq!(row["epoch"], epoch.to_string());
        let labelled = [1, 5, 11, 17, 40].contains(&epoch);
        assert_eq!(row["labelled"], labelled.to_string(), "fig1b epoch {epoch}");
    }

    let fig2_epochs = ci_list("fig2_epochs");
    for (panel, model) in [("fig2a", "clip_hba"), ("fig2b", "vit")] {
        let (header, rows) = table(root, panel, panel);
        assert_eq!(
            header.join(","),
            "model,perturbation,epoch,delta_loss,delta_rsa"
        );
        assert_eq!(
            rows.len(),
            4 * fig2_epochs.len(),
            "{panel}: 4 types × epochs"
        );
        for (index, row) in rows.iter().enumerate() {
            assert_eq!(row["model"], model);
            let types = [
                "image_noise",
                "uniform_images",
                "label_shuffle",
                "random_target",
            ];
            assert_eq!(row["perturbation"], types[index % 4], "{panel} bar order");
            assert_eq!(row["epoch"], fig2_epochs[index / 4].to_string());
            assert!(number(row, "delta_loss").is_finite());
        }
    }

    // fig3: one row per sweep epoch, 1..=the baseline's best epoch (the data-dependent grid),
    // and its signs match its deltas.
    let sweep: Vec<u32> = (1..=best_epoch as u32).collect();
    let (header, rows) = table(root, "fig3", "fig3");
    assert_eq!(
        header.join(","),
        "epoch,delta_loss,delta_rsa,delta_loss_sign,delta_rsa_sign"
    );
    let epochs: Vec<u32> = rows
        .iter()
        .map(|row| row["epoch"].parse().expect("epoch"))
        .collect();
    assert_eq!(epochs, sweep);
    for row in &rows {
        for (delta, sign) in [
            ("delta_loss", "delta_loss_sign"),
            ("delta_rsa", "delta_rsa_sign"),
        ] {
            let value = number(row, delta);
            let expected = if value > 0.0 {
                "positive"
            } else if value < 0.0 {
                "negative"
            } else {
                "zero"
            };
            assert_eq!(row[sign], expected, "{row:?}");
        }
    }

    // fig4: every (start, length) once; end = start + length − 1; recovered rows recover after
    // the window, NR rows leave the recovery fields empty and were decided where the run
    // stopped, which early stopping of a perturbed run puts at window end + patience at the
    // earliest.
    let starts = ci_list("fig4_starts");
    let lengths = ci_list("fig4_lengths");
    let patience = ci_scalar("hba_patience");
    let (header, rows) = table(root, "fig4", "fig4");
    assert_eq!(
        header.join(","),
        "start_epoch,length,end_epoch,decided_at_epoch,recovery_epoch,epochs_to_recovery,status"
    );
    assert_eq!(rows.len(), starts.len() * lengths.len());
    for row in &rows {
        let start: u32 = row["start_epoch"].parse().expect("start");
        let length: u32 = row["length"].parse().expect("length");
        assert!(
            starts.contains(&start) && lengths.contains(&length),
            "{row:?}"
        );
        let end: u32 = row["end_epoch"].parse().expect("end");
        assert_eq!(end, start + length - 1);
        let decided: u32 = row["decided_at_epoch"].parse().expect("decided");
        match row["status"].as_str() {
            "recovered" => {
                let recovery: u32 = row["recovery_epoch"].parse().expect("recovery");
                assert!(recovery > end, "{row:?}");
                assert_eq!(decided, recovery);
                assert_eq!(row["epochs_to_recovery"], (recovery - end).to_string());
            }
            "NR" | "epoch_limit" => {
                assert_eq!(row["recovery_epoch"], "", "NR: {row:?}");
                assert_eq!(row["epochs_to_recovery"], "", "NR: {row:?}");
                if row["status"] == "NR" {
                    assert!(decided >= end + patience, "stopped too early: {row:?}");
                }
            }
            other => panic!("`status` is `{other}`"),
        }
    }
    // Every window run, recovered or not, ran past its window: the longest windows (as long
    // as the patience or longer) included, which the baseline's rule would have stopped
    // inside their window had the loss risen there.
    let longest = *lengths.iter().max().expect("lengths");
    assert!(u64::from(longest) >= u64::from(patience));
    for &start in &starts {
        for &length in &lengths {
            let target = format!("window_e{start}_l{length}");
            let end = start + length - 1;
            let trained = published(root, &target, "epochs_trained") as u32;
            let reason = published_text(root, &target, "stop_reason");
            match reason.as_str() {
                "early_stopping" => assert!(
                    trained >= end + patience,
                    "`{target}` stopped at {trained}, before its window end {end} + patience"
                ),
                "epoch_limit" => assert_eq!(trained, ci_scalar("hba_max_epochs")),
                other => panic!("`{target}` ended by `{other}`"),
            }
        }
    }
    let (header, heatmap) = table(root, "fig4", "fig4_heatmap");
    assert_eq!(
        header.join(","),
        "start_epoch,length,run_max_rsa_start_to_stop,baseline_max_rsa_to_cut,delta_max_rsa"
    );
    assert_eq!(heatmap.len(), rows.len());
    for row in &heatmap {
        let delta =
            number(row, "run_max_rsa_start_to_stop") - number(row, "baseline_max_rsa_to_cut");
        assert!(
            (delta - number(row, "delta_max_rsa")).abs() < 1e-12,
            "{row:?}"
        );
    }

    // fig1 and fig2 gather their panels' files.
    for (figure, panels) in [("fig1", ["fig1a", "fig1b"]), ("fig2", ["fig2a", "fig2b"])] {
        for panel in panels {
            for extension in ["csv", "png", "svg"] {
                let file = format!("{panel}.{extension}");
                assert_eq!(
                    std::fs::read(figure_file(root, figure, &file)).expect("gathered"),
                    std::fs::read(figure_file(root, panel, &file)).expect("panel"),
                    "{figure}/{file}"
                );
            }
        }
    }
}

#[test]
fn a_second_build_runs_nothing() {
    let root = built();
    let (code, stdout, stderr) = cpbuild(root, &["--json", "fig1", "fig2", "fig3", "fig4"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.contains("\"start\""),
        "a second build must run nothing:\n{stdout}"
    );
}

#[test]
fn the_same_figure_in_a_fresh_store_is_byte_identical() {
    let root = built();
    // fig1 in a fresh store of its own (pretraining and both baselines again); the other
    // figures are compared across builds through their golden snapshots and PNG hashes.
    let fresh = support::paper_project();
    let (code, _, stderr) = cpbuild(fresh.path(), &["-j", "2", "fig1"]);
    assert_eq!(code, 0, "{stderr}");
    for file in [
        "fig1a.csv",
        "fig1a.png",
        "fig1a.svg",
        "fig1b.csv",
        "fig1b.png",
        "fig1b.svg",
    ] {
        assert_eq!(
            std::fs::read(figure_file(fresh.path(), "fig1", file)).expect("fresh"),
            std::fs::read(figure_file(root, "fig1", file)).expect("first"),
            "{file} differs between two fresh stores"
        );
    }
}

#[test]
fn verify_passes_catches_drift_and_honours_tolerances() {
    let root = built();
    let store = root.join("artifacts");
    let store = store.to_str().expect("utf-8 path");
    // A project of its own sharing the built store, so its golden copies and recipe can change.
    let dir = support::paper_project();
    let project = dir.path();

    let (code, stdout, stderr) = cpbuild(project, &["--store", store, "verify", "fig3", "fig4"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("verify fig3 `fig3.csv` against `golden/fig3.csv.snap`: ok"),
        "{stdout}"
    );
    assert!(stdout.contains("`fig4_heatmap.csv`"), "{stdout}");
    assert!(
        stdout.contains("max abs error 0e0, max rel error 0e0"),
        "{stdout}"
    );

    // Drift one Δ loss of fig3's golden copy by a relative 1e-9.
    let golden = project.join("golden/fig3.csv.snap");
    let text = read(&golden);
    let (head, body) = text.split_at(text.find("\n---\n").expect("a snapshot header") + 5);
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    let original_text = cells[1].clone();
    let original: f64 = original_text.parse().expect("delta_loss");
    let drifted = original * (1.0 + 1e-9);
    cells[1] = format!("{drifted:?}");
    lines[3] = cells.join(",");
    std::fs::write(&golden, format!("{head}{}\n", lines.join("\n"))).expect("drift");

    let (code, stdout, stderr) = cpbuild(project, &["--store", store, "verify", "fig3"]);
    assert_eq!(
        code, 1,
        "verify must fail on drift:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("`fig3.csv` against `golden/fig3.csv.snap`: FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "row 3 `delta_loss`: golden {drifted:?}, built {original_text}"
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 of 1 figure tables differ from `golden/`"),
        "{stderr}"
    );

    // A relative tolerance declared in the recipe lets that drift pass.
    let recipe_path = project.join("recipes/paper.toml");
    let recipe = read(&recipe_path).replace(
        "params = { figure = \"fig3\" }",
        "params = { figure = \"fig3\", tolerances = { delta_loss = { rel = 1e-6 } } }",
    );
    std::fs::write(&recipe_path, recipe).expect("recipe");
    let (code, stdout, stderr) = cpbuild(project, &["--store", store, "verify", "fig3"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(": ok"), "{stdout}");
}

/// fig3's sweep is a data-dependent grid (k = 1 .. the baseline's `best_epoch`): before the
/// baseline is built, `-n` and `status` say the grid waits on it, on the ci profile and on the
/// paper's; once it is built, the same commands show the expanded grid.
#[test]
fn fig3s_sweep_waits_on_the_baseline_then_expands() {
    let waiting = "grid `sweep` (sweep_e{k}) expands once `hba_baseline` is built, from its \
                   `best_epoch`; needed by `fig3`";
    let fresh = support::paper_project();
    for profile in ["ci", "paper"] {
        let (_, stdout, stderr) = cpbuild(fresh.path(), &["-n", "--profile", profile, "fig3"]);
        assert!(
            stderr.contains(waiting),
            "{profile}: `-n` must say the sweep waits:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(!stderr.contains("would run sweep_e"), "{profile}: {stderr}");
        // `status` says so before it plans the rest (which, on the paper profile without the
        // user's THINGS images and CLIP weights, fails on the missing inputs).
        let (code, stdout, stderr) =
            cpbuild(fresh.path(), &["--profile", profile, "status", "fig3"]);
        assert_eq!(code == 0, profile == "ci", "{stderr}");
        assert!(
            stdout.contains(&format!("waiting grid {waiting}")),
            "{stdout}"
        );
        assert!(
            stdout.contains("waiting fig3: needs grid `sweep`"),
            "{stdout}"
        );
    }
    // The ci dry run would build the baseline first (and nothing of the sweep).
    let (code, _, stderr) = cpbuild(fresh.path(), &["-n", "fig3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("would run hba_baseline"), "{stderr}");

    // Built: the grid is expanded into k = 1 ..= best_epoch, all fresh.
    let root = built();
    let best_epoch = published(root, "hba_baseline", "best_epoch");
    let (code, stdout, stderr) = cpbuild(root, &["status", "fig3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("waiting"), "{stdout}");
    for k in 1..=best_epoch {
        assert!(
            stdout.contains(&format!("fresh  sweep_e{k}\n")),
            "sweep_e{k}:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains(&format!("sweep_e{}\n", best_epoch + 1)),
        "{stdout}"
    );
    let (code, stdout, stderr) = cpbuild(root, &["-n", "fig3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("waiting") && !stderr.contains("would run"),
        "{stdout}\n{stderr}"
    );
}
