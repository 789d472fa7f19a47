//! Figures drawn through the `cpbuild` binary from generated runs directories: the original
//! project's `Data/` folder, shaped like the paper's (every path, both window file names, two to
//! four flag columns, runs that start at their perturbed epoch, the 0-based ViT log, checkpoint
//! folders), drawn with the README's recipe unchanged; and every error such a folder can hold,
//! reported together.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::common::cpbuild;
use super::common::recipe::figure;

/// The baseline's last epoch (early stopping) and its minimum-test-loss epoch.
const BASELINE_EPOCHS: u32 = 118;
const CUT: u32 = 98;

const FIG2_EPOCHS: [u32; 7] = [5, 15, 25, 35, 45, 70, 98];
const STARTS: [u32; 11] = [1, 2, 3, 6, 7, 8, 10, 40, 70, 80, 90];
const LENGTHS: [u32; 7] = [2, 5, 10, 20, 30, 40, 50];
const VIT_EFFECT_EPOCHS: [u32; 11] = [5, 10, 15, 16, 20, 25, 30, 35, 45, 70, 98];

const CLIP_HEADER: &str = "epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value";
const FLAGS: [&str; 4] = [
    "used_random_targets",
    "used_shuffled_targets",
    "used_uniform_images",
    "used_image_noise",
];
const WINDOWS: &str = "Data/clip_results/perturb_length_experiments_baselineseed1_perturbseed0";

/// The baseline's test loss: falling to its minimum at epoch 98, then rising slowly.
fn base_loss(epoch: u32) -> f64 {
    let falling = |e: u32| 30.0 + 80.0 * (-f64::from(e) / 15.0).exp();
    falling(epoch.min(CUT)) + 0.002 * f64::from(epoch.saturating_sub(CUT))
}

fn base_rho(epoch: u32) -> f64 {
    0.45 + 0.3 * (1.0 - (-f64::from(epoch) / 20.0).exp())
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A CLIP-HBA CSV over `epochs` with (test loss, ρ) from `values`; `flags` of the four `used_…`
/// columns (0 for none), and a pandas index column first when `index`.
fn clip_csv(
    epochs: std::ops::RangeInclusive<u32>,
    flags: usize,
    index: bool,
    values: impl Fn(u32) -> (f64, f64),
) -> String {
    let mut csv = String::new();
    if index {
        csv.push(',');
    }
    csv.push_str(CLIP_HEADER);
    for flag in &FLAGS[..flags] {
        write!(csv, ",{flag}").unwrap();
    }
    csv.push('\n');
    for (row, epoch) in epochs.enumerate() {
        let (loss, rho) = values(epoch);
        if index {
            write!(csv, "{row},").unwrap();
        }
        write!(csv, "{epoch},{},{loss},{rho},1e-05", loss - 5.0).unwrap();
        for _ in 0..flags {
            csv.push_str(",False");
        }
        csv.push('\n');
    }
    csv
}

/// Whether the window (start, length) never recovers: late long windows.
fn never_recovers(start: u32, length: u32) -> bool {
    start >= 80 && length >= 30
}

/// Writes the original's `Data/` folder under `root`, shaped like the paper's.
fn original_tree(root: &Path) {
    write(
        root,
        "Data/clip_results/baseline_clip_results_seed1.csv",
        &clip_csv(1..=BASELINE_EPOCHS, 0, true, |e| {
            (base_loss(e), base_rho(e))
        }),
    );
    // fig3: the sweep, resumed at k (the CSV starts there), next to checkpoint and inference
    // folders whose files are not CSVs the reader could take.
    for k in 1..=CUT + 2 {
        let folder = format!("Data/clip_results/single_sweep_experiments/training_run{k}");
        let sign = if k % 3 == 0 { -1.0 } else { 1.0 };
        let csv = clip_csv(k..=k + 2, 2 + (k as usize % 3), false, |e| {
            let bump = if e == k { sign * 0.5 } else { 0.1 };
            (base_loss(e) + bump, base_rho(e) - bump / 10.0)
        });
        write(root, &format!("{folder}/training_res_run{k}.csv"), &csv);
        write(
            root,
            &format!("{folder}/checkpoints/epoch{k}.csv"),
            "not,a\nresults\n",
        );
        write(
            root,
            &format!("{folder}/inference/predictions.csv"),
            "\u{0}\u{1}",
        );
    }
    // fig2a: the four type folders; some runs hold the whole history, some start at k.
    for (folder, delta) in [
        ("target_noise", 0.4),
        ("image_noise", 0.1),
        ("uniform_target", 0.2),
        ("label_shuffle", 0.3),
    ] {
        for k in FIG2_EPOCHS {
            let first = if k % 2 == 0 { 1 } else { k };
            let csv = clip_csv(first..=k + 1, 4, false, |e| {
                (base_loss(e) + delta, base_rho(e) - delta / 10.0)
            });
            write(
                root,
                &format!("Data/clip_results/{folder}/training_res_run{k}.csv"),
                &csv,
            );
        }
    }
    // fig4: both file names, two to four flag columns; windows that recover lose half their
    // excess each epoch after the window; the others stay 5 above and stop 20 epochs later.
    for (index, start) in STARTS.into_iter().enumerate() {
        for (position, length) in LENGTHS.into_iter().enumerate() {
            let end = start + length - 1;
            let stuck = never_recovers(start, length);
            let last = if stuck { end + 20 } else { end + 12 };
            let csv = clip_csv(start..=last, 2 + (index + position) % 3, false, |e| {
                let excess = if e <= end {
                    20.0
                } else if stuck {
                    5.0
                } else {
                    20.0 * 0.5f64.powi((e - end) as i32)
                };
                (base_loss(e) + excess, base_rho(e) - 0.01)
            });
            let name = if (index + position) % 2 == 0 {
                "metrics.csv"
            } else {
                "training_res.csv"
            };
            let folder = format!("{WINDOWS}/random_target_e{start}_l{length}");
            write(root, &format!("{folder}/{name}"), &csv);
        }
    }
    // Both names in one folder: `metrics.csv` is read, the other would not parse.
    let folder = format!("{WINDOWS}/random_target_e1_l5");
    if !root.join(format!("{folder}/metrics.csv")).is_file() {
        fs::rename(
            root.join(format!("{folder}/training_res.csv")),
            root.join(format!("{folder}/metrics.csv")),
        )
        .unwrap();
    }
    write(root, &format!("{folder}/training_res.csv"), "garbage\n");
    // A start the paper does not draw, holding nothing usable: left alone.
    write(
        root,
        &format!("{WINDOWS}/random_target_e13_l2/notes.txt"),
        "x",
    );
    // fig1b: epochs from 0, the minimum validation loss at epoch 60 (0-based), then overfitting.
    let mut vit = String::from("checkpoint,epoch,train_loss,val_loss,val_acc,rsa_score\n");
    for epoch in 0..100u32 {
        let e = f64::from(epoch);
        let loss = 2.0 + 5.0 * (-e / 12.0).exp() + 0.002 * (e - 60.0).max(0.0).powi(2);
        let rsa = 0.05 + 0.2 * (1.0 - (-e / 25.0).exp());
        writeln!(
            vit,
            "\"checkpoints/vit_epoch_{epoch}.pt\",{epoch},{},{loss},0.5,{rsa}",
            loss - 0.5
        )
        .unwrap();
    }
    write(root, "Data/vit_results/rsa_results_final.csv", &vit);
    let mut effects = String::from(
        "perturb_epoch,perturbation_type,baseline_loss,baseline_rsa,perturbed_loss,\
         perturbed_rsa,delta_loss,delta_rsa\n",
    );
    for epoch in VIT_EFFECT_EPOCHS {
        for (position, kind) in ["gaussian", "uniform_gray", "label_shuffle", "target_noise"]
            .into_iter()
            .enumerate()
        {
            let delta = f64::from(epoch) / 100.0 + position as f64;
            writeln!(
                effects,
                "{epoch},{kind},3.0,0.2,{},{},{delta},{}",
                3.0 + delta,
                0.2 - delta / 100.0,
                -delta / 100.0
            )
            .unwrap();
        }
    }
    write(root, "Data/vit_results/perturbation_effects.csv", &effects);
}

/// The README's recipe for the original's results, exactly as printed there.
fn readme_recipe() -> String {
    let readme = fs::read_to_string(super::common::repo().join("README.md")).unwrap();
    let section = readme
        .split("### Drawing the original's results")
        .nth(1)
        .expect("the README has a section \"Drawing the original's results\"");
    let block = section
        .split("```toml\n")
        .nth(1)
        .expect("the section has a toml block");
    block.split("```").next().unwrap().to_string()
}

/// A project holding the original tree and the README's recipe.
fn original_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    original_tree(dir.path());
    write(dir.path(), "recipes/original.toml", &readme_recipe());
    dir
}

fn figure_csv(root: &Path, target: &str, stem: &str) -> Vec<Vec<String>> {
    let path = root.join(format!("artifacts/figures/{target}/{stem}.csv"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

fn close(found: &str, expected: f64) -> bool {
    (found.parse::<f64>().unwrap() - expected).abs() < 1e-9
}

#[test]
fn the_readme_recipe_draws_all_six_panels_from_the_original_folder() {
    let dir = original_project();
    let root = dir.path();
    let targets = [
        "fig1_original",
        "fig2_original",
        "fig3_original",
        "fig4_original",
    ];
    let (code, stdout, stderr) = cpbuild(root, &targets);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");

    // fig1a: the baseline up to its minimum, 98 epochs.
    let fig1a = figure_csv(root, "fig1a_original", "fig1a");
    assert_eq!(fig1a.len(), 1 + CUT as usize);
    // fig1b: every ViT epoch, numbered from 1, past its minimum.
    let fig1b = figure_csv(root, "fig1b_original", "fig1b");
    assert_eq!(fig1b[0], ["epoch", "val_loss", "rsa_score", "labelled"]);
    assert_eq!(fig1b.len(), 1 + 100);
    assert_eq!(fig1b[1][0], "1");
    assert!(close(&fig1b[1][1], 7.0), "{:?}", fig1b[1]);
    assert_eq!(fig1b[100][0], "100");
    // fig2a: four types at the seven epochs; Δ as written into each type's folder.
    let fig2a = figure_csv(root, "fig2a_original", "fig2a");
    assert_eq!(fig2a.len(), 1 + 4 * 7);
    let row = |table: &[Vec<String>], kind: &str, epoch: &str| -> Vec<String> {
        table
            .iter()
            .find(|row| row[1] == kind && row[2] == epoch)
            .unwrap_or_else(|| panic!("no `{kind}` at {epoch}"))
            .clone()
    };
    assert!(close(&row(&fig2a, "uniform_images", "15")[3], 0.2));
    assert!(close(&row(&fig2a, "random_target", "98")[3], 0.4));
    // fig2b: the seven epochs of fig2 only, types by their original names.
    let fig2b = figure_csv(root, "fig2b_original", "fig2b");
    assert_eq!(fig2b.len(), 1 + 4 * 7);
    assert!(!fig2b.iter().any(|row| row[2] == "16" || row[2] == "10"));
    assert!(close(&row(&fig2b, "image_noise", "45")[3], 0.45));
    assert!(close(&row(&fig2b, "random_target", "5")[3], 3.05));
    // fig3: k = 1..98, not the two sweep runs past the minimum.
    let fig3 = figure_csv(root, "fig3_original", "fig3");
    let epochs: Vec<&str> = fig3[1..].iter().map(|row| row[0].as_str()).collect();
    let expected: Vec<String> = (1..=CUT).map(|k| k.to_string()).collect();
    assert_eq!(epochs, expected);
    assert_eq!(fig3[3][3], "negative");
    assert_eq!(fig3[1][3], "positive");
    // fig4: the 77 windows, from both file names; late long windows are NR.
    let fig4 = figure_csv(root, "fig4_original", "fig4");
    assert_eq!(fig4.len(), 1 + 77);
    let not_recovered = fig4[1..].iter().filter(|row| row[6] == "NR").count();
    let expected = STARTS
        .iter()
        .flat_map(|&s| LENGTHS.iter().map(move |&l| (s, l)))
        .filter(|&(s, l)| never_recovers(s, l))
        .count();
    assert_eq!(not_recovered, expected);
    // (1, 5) was read from `metrics.csv` beside an unreadable `training_res.csv`.
    let window = fig4[1..]
        .iter()
        .find(|row| row[0] == "1" && row[1] == "5")
        .unwrap();
    assert_eq!(window[6], "recovered", "{window:?}");
    for stem in ["fig4", "fig4_heatmap"] {
        for extension in ["png", "svg"] {
            let path = format!("artifacts/figures/fig4_original/{stem}.{extension}");
            assert!(root.join(&path).is_file(), "{path}");
        }
    }

    // The keys cover the CSVs read and nothing else: a checkpoint changes nothing, a results
    // file rebuilds its figure.
    write(
        root,
        "Data/clip_results/single_sweep_experiments/training_run7/checkpoints/epoch7.csv",
        "changed",
    );
    let (code, stdout, stderr) = cpbuild(root, &targets);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("nothing to do"), "{stdout}\n{stderr}");
    let sweep =
        root.join("Data/clip_results/single_sweep_experiments/training_run7/training_res_run7.csv");
    let text = fs::read_to_string(&sweep).unwrap();
    fs::write(&sweep, text.replacen(",1e-05", ",2e-05", 1)).unwrap();
    let (code, stdout, stderr) = cpbuild(root, &targets);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("built fig3_original"), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains("built fig4_original"),
        "{stdout}\n{stderr}"
    );

    // Verified against golden copies and archived like any other figure target.
    for file in ["fig4.csv", "fig4_heatmap.csv"] {
        let built =
            fs::read_to_string(root.join(format!("artifacts/figures/fig4_original/{file}")))
                .unwrap();
        write(
            root,
            &format!("golden/{file}.snap"),
            &format!("---\nsource: generated\n---\n{built}"),
        );
    }
    let (code, stdout, stderr) = cpbuild(root, &["verify", "fig4_original"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("`fig4.csv` against `golden/fig4.csv.snap`: ok"),
        "{stdout}"
    );
    let (code, stdout, stderr) = cpbuild(
        root,
        &[
            "archive",
            "fig4_original",
            "--version",
            "1.0.0",
            "-o",
            "fig4.tar.zst",
        ],
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let (code, stdout, stderr) = cpbuild(root, &["verify-archive", "fig4.tar.zst"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
}

/// Builds `target` and returns its failure output.
fn failure(root: &Path, target: &str) -> String {
    let (code, stdout, stderr) = cpbuild(root, &[target]);
    assert_ne!(code, 0, "`{target}` built:\n{stdout}\n{stderr}");
    format!("{stdout}\n{stderr}")
}

fn assert_names(output: &str, expected: &[&str]) {
    for text in expected {
        assert!(output.contains(text), "`{text}` not in:\n{output}");
    }
}

#[test]
fn every_problem_of_the_original_folder_is_reported_at_once() {
    let dir = original_project();
    let root = dir.path();
    let sweep = "Data/clip_results/single_sweep_experiments";
    // fig4: a window folder without its results file, a window never run, a run cut short
    // inside its window, and one with a gap after it.
    fs::remove_file(root.join(format!("{WINDOWS}/random_target_e2_l2/training_res.csv"))).unwrap();
    fs::remove_dir_all(root.join(format!("{WINDOWS}/random_target_e2_l5"))).unwrap();
    let name = |start: u32, length: u32| -> String {
        let folder = format!("{WINDOWS}/random_target_e{start}_l{length}");
        let metrics = format!("{folder}/metrics.csv");
        if root.join(&metrics).is_file() {
            metrics
        } else {
            format!("{folder}/training_res.csv")
        }
    };
    let short = name(3, 10);
    let text = fs::read_to_string(root.join(&short)).unwrap();
    let kept: Vec<&str> = text.lines().take(6).collect();
    fs::write(root.join(&short), kept.join("\n") + "\n").unwrap();
    let gap = name(6, 2);
    let text = fs::read_to_string(root.join(&gap)).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("9,"))
        .collect();
    fs::write(root.join(&gap), kept.join("\n") + "\n").unwrap();
    // fig3: a value that is not a number, and a run that starts after its perturbed epoch.
    let bad = format!("{sweep}/training_run4/training_res_run4.csv");
    let text = fs::read_to_string(root.join(&bad)).unwrap();
    fs::write(root.join(&bad), text.replacen(",1e-05", ",1e-05x", 1)).unwrap();
    let late = format!("{sweep}/training_run6/training_res_run6.csv");
    let text = fs::read_to_string(root.join(&late)).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("6,"))
        .collect();
    fs::write(root.join(&late), kept.join("\n") + "\n").unwrap();
    // fig2a: a missing column and a missing run.
    let columns = "Data/clip_results/image_noise/training_res_run15.csv";
    let text = fs::read_to_string(root.join(columns)).unwrap();
    fs::write(root.join(columns), text.replacen("test_loss", "loss", 1)).unwrap();
    fs::remove_file(root.join("Data/clip_results/label_shuffle/training_res_run35.csv")).unwrap();
    // fig2b: no `gaussian` row at epoch 25.
    let effects = "Data/vit_results/perturbation_effects.csv";
    let text = fs::read_to_string(root.join(effects)).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("25,gaussian"))
        .collect();
    fs::write(root.join(effects), kept.join("\n") + "\n").unwrap();
    // fig1b: an epoch that is not a number.
    let vit = "Data/vit_results/rsa_results_final.csv";
    let text = fs::read_to_string(root.join(vit)).unwrap();
    fs::write(root.join(vit), text.replacen(",3,", ",three,", 1)).unwrap();

    let output = failure(root, "fig4_original");
    assert_names(
        &output,
        &[
            "runs directory `Data` has 4 problems:",
            "`Data/clip_results/perturb_length_experiments_baselineseed1_perturbseed0/\
             random_target_e2_l5/metrics.csv`: missing; `random_target` for 5 epochs from \
             epoch 2 (fig4) (or `",
            "random_target_e2_l2/` holds no results file (looked for `metrics.csv`, \
             `training_res.csv`)",
            &format!("`{short}` ends at epoch 7, within its perturbation window (epochs 3–12)"),
            &format!("`{gap}` jumps from epoch 8 to epoch 10"),
        ],
    );
    let output = failure(root, "fig3_original");
    assert_names(
        &output,
        &[
            "has 2 problems",
            &format!(
                "`{bad}` line 2, column 5 (`behavioral_rsa_p_value`): expected a number, found `1e-05x`"
            ),
            &format!(
                "`{late}` holds epochs 7–8 but not epoch 6, read by single-epoch `random_target` sweep run at epoch 6 (fig3)"
            ),
        ],
    );
    let output = failure(root, "fig2a_original");
    assert_names(
        &output,
        &[
            "has 2 problems",
            "`Data/clip_results/label_shuffle/training_res_run35.csv`: missing; single-epoch \
             `label_shuffle` perturbation at epoch 35 (fig2a)",
            &format!("`{columns}` line 1: the header lacks column `test_loss`"),
        ],
    );
    let output = failure(root, "fig2b_original");
    assert_names(
        &output,
        &[&format!(
            "`{effects}` has no row for `image_noise` at epoch 25 (fig2b)"
        )],
    );
    let output = failure(root, "fig1b_original");
    assert_names(
        &output,
        &[&format!(
            "`{vit}` line 5, column 2 (`epoch`): expected an epoch (an integer ≥ 0: this file \
             numbers epochs from 0), found `three`"
        )],
    );
    // Nothing already built is lost: fig1a still builds and the others stay failed.
    let (code, stdout, stderr) = cpbuild(root, &["fig1a_original"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
}

/// A project with the original tree and `recipe` as its only recipe file.
fn project_with(recipe: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    original_tree(dir.path());
    write(dir.path(), "recipes/main.toml", recipe);
    dir
}

#[test]
fn requested_windows_and_epochs_without_runs_are_reported_not_drawn() {
    let dir = project_with(&format!(
        "\n{}",
        [
            figure(
                "fig4_some",
                &["Data/clip_results"],
                r#"figure = "fig4", runs_dir = "Data", starts = [1, 13], lengths = [2, 3]"#,
            ),
            figure(
                "fig4_chosen",
                &["Data/clip_results"],
                r#"figure = "fig4", runs_dir = "Data", starts = [2, 90], lengths = [5, 50]"#,
            ),
            figure(
                "fig2_more",
                &["Data/clip_results"],
                r#"figure = "fig2a", runs_dir = "Data", epochs = [5, 6]"#,
            ),
        ]
        .join("\n")
    ));
    let root = dir.path();
    let output = failure(root, "fig4_some");
    assert_names(
        &output,
        &[
            "runs directory `Data` has 3 problems:",
            "random_target_e1_l3/metrics.csv`: missing; `random_target` for 3 epochs from epoch 1",
            "random_target_e13_l2/` holds no results file",
            "random_target_e13_l3/metrics.csv`: missing",
        ],
    );
    let output = failure(root, "fig2_more");
    assert_names(
        &output,
        &[
            "lacks 4 files:",
            "`clip_results/image_noise/training_res_run6.csv`: single-epoch `image_noise` \
             perturbation at epoch 6 (fig2a)",
            "`clip_results/target_noise/training_res_run6.csv`",
        ],
    );
    let (code, stdout, stderr) = cpbuild(root, &["fig4_chosen"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let fig4 = figure_csv(root, "fig4_chosen", "fig4");
    let windows: Vec<(&str, &str, &str)> = fig4[1..]
        .iter()
        .map(|row| (row[0].as_str(), row[1].as_str(), row[6].as_str()))
        .collect();
    assert_eq!(
        windows,
        [
            ("2", "5", "recovered"),
            ("2", "50", "recovered"),
            ("90", "5", "recovered"),
            ("90", "50", "NR")
        ]
    );
}

#[test]
fn files_read_must_be_declared_inputs_and_the_layout_must_be_clear() {
    let dir = project_with(&format!(
        "\n{}",
        [
            figure(
                "fig2b_undeclared",
                &["Data/vit_results/rsa_results_final.csv"],
                r#"figure = "fig2b", runs_dir = "Data""#,
            ),
            figure(
                "fig1a_above",
                &["Data"],
                r#"figure = "fig1a", runs_dir = ".""#,
            ),
            figure(
                "fig1a_mixed",
                &["Data"],
                r#"figure = "fig1a", runs_dir = "Data""#,
            ),
        ]
        .join("\n")
    ));
    let root = dir.path();
    let output = failure(root, "fig2b_undeclared");
    assert_names(
        &output,
        &[
            "`fig2b_undeclared` reads 1 file of `runs_dir` `Data` that is not among its \
             declared inputs",
            "`Data/vit_results/perturbation_effects.csv`",
            "help: add it to `inputs`",
        ],
    );
    let output = failure(root, "fig1a_above");
    assert_names(
        &output,
        &["holds the original project's results one level down; set `runs_dir` to `./Data`"],
    );
    write(root, "Data/baseline.csv", "epoch\n");
    let output = failure(root, "fig1a_mixed");
    assert_names(
        &output,
        &[
            "runs directory `Data` holds both cpbuild's runs layout (`baseline.csv`) and the \
           original project's (`clip_results/`, `vit_results/`)",
        ],
    );
}

#[test]
fn cpbuilds_own_layout_draws_the_windows_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "runs/baseline.csv",
        &clip_csv(1..=BASELINE_EPOCHS, 0, false, |e| {
            (base_loss(e), base_rho(e))
        }),
    );
    for (start, length) in [(1, 2), (1, 5), (10, 2)] {
        let end = start + length - 1;
        let csv = clip_csv(start..=end + 12, 4, false, |e| {
            let excess = if e <= end {
                20.0
            } else {
                20.0 * 0.5f64.powi((e - end) as i32)
            };
            (base_loss(e) + excess, base_rho(e))
        });
        write(
            root,
            &format!("runs/random_target_e{start}_l{length}/training_res.csv"),
            &csv,
        );
    }
    write(
        root,
        "recipes/main.toml",
        &format!(
            "\n{}",
            [
                figure(
                    "fig4_runs",
                    &["runs"],
                    r#"figure = "fig4", runs_dir = "runs", starts = [1], lengths = [2, 5]"#,
                ),
                figure(
                    "fig4_paper",
                    &["runs"],
                    r#"figure = "fig4", runs_dir = "runs""#,
                ),
            ]
            .join("\n")
        ),
    );
    let (code, stdout, stderr) = cpbuild(root, &["fig4_runs"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let fig4 = figure_csv(root, "fig4_runs", "fig4");
    assert_eq!(fig4.len(), 1 + 2, "{fig4:?}");
    // The paper's 77 windows by default: the 74 without a run are listed, none drawn as NR.
    let output = failure(root, "fig4_paper");
    assert_names(
        &output,
        &[
            "runs directory `runs` lacks 74 files:",
            "`random_target_e90_l50/training_res.csv`: `random_target` for 50 epochs from epoch 90 (fig4)",
        ],
    );
    assert!(!root.join("artifacts/figures/fig4_paper").exists());
}
