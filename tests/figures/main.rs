//! Integration tests of the figures: reading a runs directory, computing every figure from it,
//! the CSVs' structure and invariants, and byte-deterministic PNG and SVG; and (`original`)
//! figure targets drawn through the binary from the original project's `Data/` folder.
//!
//! The runs are small hand-made tables written as files, so the tests go through the same
//! reader as external PyTorch results.

use std::fs;
use std::path::Path;

#[path = "../common/mod.rs"]
mod common;

mod original;

use cpbuild::figures::runs::{self, RunsDirectory, RunsError, RunsRequest};
use cpbuild::figures::{
    Fig1Table, Fig2Table, Fig3Table, Fig4Table, ImageFormat, Model, Perturbation, Window,
    WindowRun, fig1, fig2, fig3, fig4,
};

/// The baseline's minimum test loss is at epoch 9 (then it overfits to epoch 12).
const BASELINE: &str = "epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value
1,9,10,0.05,0.1
2,8,8,0.1,0.01
3,7,6.5,0.2,0.001
4,6,5.5,0.3,1e-5
5,5,5,0.4,1e-8
6,4,4.6,0.45,1e-9
7,3,4.3,0.5,1e-10
8,2.5,4.1,0.52,1e-10
9,2,4,0.53,1e-10
10,1.5,4.2,0.54,1e-10
11,1,4.5,0.54,1e-10
12,0.5,4.9,0.55,1e-10
";

const FLAGS: &str =
    "used_random_targets,used_shuffled_targets,used_uniform_images,used_image_noise";

/// A perturbed run from epoch `first`, with (test loss, ρ) per epoch.
fn perturbed(first: u32, values: &[(f64, f64)]) -> String {
    let mut csv =
        format!("epoch,train_loss,test_loss,behavioral_rsa_rho,behavioral_rsa_p_value,{FLAGS}\n");
    for (index, (loss, rho)) in values.iter().enumerate() {
        let epoch = first + index as u32;
        let active = if index == 0 { "True" } else { "False" };
        csv.push_str(&format!(
            "{epoch},1,{loss},{rho},0.5,{active},False,False,False\n"
        ));
    }
    csv
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

const SWEEP: [u32; 9] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const FIG2_EPOCHS: [u32; 2] = [2, 5];
const STARTS: [u32; 3] = [1, 3, 6];
const LENGTHS: [u32; 2] = [2, 4];

/// A complete small runs directory for every figure.
fn runs_directory(root: &Path) {
    write(root, runs::CLIP_BASELINE_FILE, BASELINE);
    write(
        root,
        runs::VIT_BASELINE_FILE,
        "epoch,val_loss,rsa_score\n1,6.9,0.01\n2,5,0.05\n3,4,0.12\n4,3.5,0.2\n5,3.6,0.22\n",
    );
    write(
        root,
        runs::VIT_EFFECTS_FILE,
        "perturbation,epoch,delta_loss,delta_rsa\n\
         image_noise,2,0.1,-0.01\nuniform_images,2,0.2,-0.02\nlabel_shuffle,2,0.3,0.01\n\
         random_target,2,0.4,-0.03\nimage_noise,5,0.05,0.002\nuniform_images,5,0.1,-0.01\n\
         label_shuffle,5,-0.02,0.005\nrandom_target,5,0.2,-0.02\n",
    );
    let baseline_at = |epoch: u32| -> (f64, f64) {
        let row = BASELINE.lines().nth(epoch as usize).unwrap();
        let fields: Vec<f64> = row.split(',').map(|field| field.parse().unwrap()).collect();
        (fields[2], fields[3])
    };
    for (index, &k) in SWEEP.iter().enumerate() {
        // Alternate signs so both colours appear.
        let sign = if index % 3 == 2 { -1.0 } else { 1.0 };
        let (loss, rho) = baseline_at(k);
        let run = perturbed(k, &[(loss + sign * 0.5, rho - sign * 0.02)]);
        write(root, &runs::sweep_file(k), &run);
    }
    for k in FIG2_EPOCHS {
        for kind in [
            Perturbation::ImageNoise,
            Perturbation::UniformImages,
            Perturbation::LabelShuffle,
        ] {
            let (loss, rho) = baseline_at(k);
            let run = perturbed(k, &[(loss + 0.25, rho - 0.01)]);
            write(root, &runs::window_file(kind, k, 1), &run);
        }
        // `random_target` at k comes from the sweep (the loader's fallback).
    }
    for start in STARTS {
        for length in LENGTHS {
            let end = start + length - 1;
            // Windows from epoch 6 never get back within 1 % of the minimum 4: NR.
            let values: Vec<(f64, f64)> = (start..=end + 8)
                .map(|epoch| {
                    let reference = if epoch <= 9 {
                        baseline_at(epoch).0
                    } else {
                        4.0
                    };
                    let excess = if epoch <= end {
                        3.0
                    } else if start >= 6 {
                        0.5
                    } else {
                        3.0 / 2f64.powi((epoch - end) as i32)
                    };
                    (reference + excess, 0.3 + 0.01 * f64::from(epoch))
                })
                .collect();
            let path = runs::window_file(Perturbation::RandomTarget, start, length);
            write(root, &path, &perturbed(start, &values));
        }
    }
}

fn full_request() -> RunsRequest {
    fig1::request(Model::ClipHba)
        .and(fig1::request(Model::Vit))
        .and(fig2::request(Model::ClipHba, &FIG2_EPOCHS))
        .and(fig2::request(Model::Vit, &FIG2_EPOCHS))
        .and(fig3::request(&SWEEP))
        .and(fig4::request(&STARTS, &LENGTHS))
}

/// Every figure's table, computed from the directory.
struct Figures {
    fig1a: Fig1Table,
    fig1b: Fig1Table,
    fig2a: Fig2Table,
    fig2b: Fig2Table,
    fig3: Fig3Table,
    fig4: Fig4Table,
}

fn figures(root: &Path) -> Figures {
    let loaded = RunsDirectory::new(root).load(&full_request()).unwrap();
    let baseline = loaded.clip_baseline.as_ref().unwrap().curve();
    let single: Vec<_> = loaded
        .single_epoch
        .iter()
        .map(|(&(kind, epoch), run)| (kind, epoch, run.curve()))
        .collect();
    let sweep: Vec<_> = loaded
        .sweep
        .iter()
        .map(|(&epoch, run)| (epoch, run.curve()))
        .collect();
    let grid: Vec<_> = loaded
        .grid
        .iter()
        .map(|(&(start, length), run)| (Window::new(start, length).unwrap(), run.curve()))
        .collect();
    Figures {
        fig1a: fig1::compute(Model::ClipHba, &baseline).unwrap(),
        fig1b: fig1::compute(Model::Vit, &loaded.vit_baseline.as_ref().unwrap().curve()).unwrap(),
        fig2a: fig2::compute(
            Model::ClipHba,
            &baseline,
            single
                .iter()
                .map(|(kind, epoch, curve)| (*kind, *epoch, curve)),
        )
        .unwrap(),
        fig2b: Fig2Table::from_rows(Model::Vit, loaded.vit_effects.clone().unwrap()),
        fig3: fig3::compute(
            &baseline,
            sweep.iter().map(|(epoch, curve)| (*epoch, curve)),
        )
        .unwrap(),
        fig4: fig4::compute(
            &baseline,
            grid.iter().map(|(window, curve)| WindowRun {
                window: *window,
                curve,
                epoch_limit: false,
            }),
        )
        .unwrap(),
    }
}

/// Each figure's CSV, PNG and SVG, in a fixed order.
fn render_all(figures: &Figures) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (
            "fig1a.csv".to_string(),
            figures.fig1a.to_table().to_csv().into_bytes(),
        ),
        (
            "fig1b.csv".to_string(),
            figures.fig1b.to_table().to_csv().into_bytes(),
        ),
        (
            "fig2a.csv".to_string(),
            figures.fig2a.to_table().to_csv().into_bytes(),
        ),
        (
            "fig2b.csv".to_string(),
            figures.fig2b.to_table().to_csv().into_bytes(),
        ),
        (
            "fig3.csv".to_string(),
            figures.fig3.to_table().to_csv().into_bytes(),
        ),
        (
            "fig4.csv".to_string(),
            figures.fig4.to_table().to_csv().into_bytes(),
        ),
        (
            "fig4_heatmap.csv".to_string(),
            figures.fig4.heatmap_table().to_csv().into_bytes(),
        ),
    ];
    for format in ImageFormat::ALL {
        let extension = format.extension();
        let images = [
            ("fig1a", fig1::draw(&figures.fig1a, format)),
            ("fig1b", fig1::draw(&figures.fig1b, format)),
            ("fig2a", fig2::draw(&figures.fig2a, format)),
            ("fig2b", fig2::draw(&figures.fig2b, format)),
            ("fig3", fig3::draw(&figures.fig3, format)),
            ("fig4", fig4::draw(&figures.fig4, format)),
            ("fig4_heatmap", fig4::draw_heatmap(&figures.fig4, format)),
        ];
        for (name, bytes) in images {
            out.push((format!("{name}.{extension}"), bytes.unwrap()));
        }
    }
    out
}

#[test]
fn same_tables_give_identical_bytes() {
    let first_dir = tempfile::tempdir().unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    runs_directory(first_dir.path());
    runs_directory(second_dir.path());
    // Two directories, two loads: nothing may depend on the path or on a first render.
    let first = render_all(&figures(first_dir.path()));
    let second = render_all(&figures(second_dir.path()));
    assert_eq!(first.len(), second.len());
    for ((name, a), (_, b)) in first.iter().zip(&second) {
        assert!(
            a == b,
            "`{name}` differs between two renders of the same table"
        );
        if name.ends_with(".png") {
            assert!(a.starts_with(b"\x89PNG\r\n\x1a\n"), "`{name}` is not a png");
        }
        if name.ends_with(".svg") {
            let text = std::str::from_utf8(a).unwrap();
            assert!(text.starts_with("<svg"), "`{name}` is not an svg");
            // Text uses the registered family, never a font found on this machine.
            assert!(text.contains("sans-serif"), "`{name}` has no text");
        }
    }
}

#[test]
fn fig1_stops_at_the_minimum_loss_epoch() {
    let dir = tempfile::tempdir().unwrap();
    runs_directory(dir.path());
    let figures = figures(dir.path());
    assert_eq!(figures.fig1a.cut_epoch, 9);
    assert_eq!(figures.fig1a.points.len(), 9);
    let labelled: Vec<u32> = figures
        .fig1a
        .points
        .iter()
        .filter(|point| point.labelled)
        .map(|point| point.epoch)
        .collect();
    // Epochs 1, 5, 10, 15 as they exist, and the cut.
    assert_eq!(labelled, [1, 5, 9]);
    // The ViT curve goes on past its minimum (epoch 4): the notebook draws every epoch.
    assert_eq!(figures.fig1b.cut_epoch, 5);
    assert_eq!(figures.fig1b.points.len(), 5);
    assert!(
        figures
            .fig1b
            .to_table()
            .to_csv()
            .starts_with("epoch,val_loss,rsa_score,labelled\n1,6.9,0.01,true\n")
    );
}

#[test]
fn fig2_has_every_type_at_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    runs_directory(dir.path());
    let figures = figures(dir.path());
    let csv = figures.fig2a.to_table().to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "model,perturbation,epoch,delta_loss,delta_rsa");
    assert_eq!(lines.len(), 1 + 4 * FIG2_EPOCHS.len());
    // (model, type, epoch, Δ loss, Δ ρ), numbers compared to 1e-12: the inputs went through
    // decimal text, so the last bits of a difference are not the point here.
    let row = |index: usize| -> (String, f64, f64) {
        let fields: Vec<&str> = lines[index].split(',').collect();
        let key = fields[..3].join(",");
        (key, fields[3].parse().unwrap(), fields[4].parse().unwrap())
    };
    let close = |(key, loss, rho): (String, f64, f64), expected: (&str, f64, f64)| {
        assert_eq!(key, expected.0);
        assert!((loss - expected.1).abs() < 1e-12, "{key}: {loss}");
        assert!((rho - expected.2).abs() < 1e-12, "{key}: {rho}");
    };
    close(row(1), ("clip_hba,image_noise,2", 0.25, -0.01));
    // random_target at 2 came from `training_res_run2.csv`: +0.5 loss, −0.02 ρ.
    close(row(4), ("clip_hba,random_target,2", 0.5, -0.02));
    close(row(5), ("clip_hba,image_noise,5", 0.25, -0.01));
    assert_eq!(figures.fig2b.rows.len(), 8);
}

#[test]
fn fig3_has_one_row_per_sweep_epoch() {
    let dir = tempfile::tempdir().unwrap();
    runs_directory(dir.path());
    let csv = figures(dir.path()).fig3.to_table().to_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("epoch,delta_loss,delta_rsa,delta_loss_sign,delta_rsa_sign")
    );
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let epochs: Vec<u32> = rows.iter().map(|row| row[0].parse().unwrap()).collect();
    assert_eq!(epochs, SWEEP);
    for row in &rows {
        let delta: f64 = row[1].parse().unwrap();
        let expected = if delta > 0.0 { "positive" } else { "negative" };
        assert_eq!(row[3], expected, "{row:?}");
    }
    assert!(rows.iter().any(|row| row[3] == "negative"));
}

#[test]
fn fig4_recovers_after_the_window_or_is_nr() {
    let dir = tempfile::tempdir().unwrap();
    runs_directory(dir.path());
    let figures = figures(dir.path());
    let csv = figures.fig4.to_table().to_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "start_epoch,length,end_epoch,decided_at_epoch,recovery_epoch,epochs_to_recovery,status"
        )
    );
    let mut not_recovered = 0;
    let mut rows = 0;
    for line in lines {
        rows += 1;
        let fields: Vec<&str> = line.split(',').collect();
        let start: u32 = fields[0].parse().unwrap();
        let length: u32 = fields[1].parse().unwrap();
        let end: u32 = fields[2].parse().unwrap();
        assert_eq!(end, start + length - 1);
        match fields[6] {
            "recovered" => {
                let recovery: u32 = fields[4].parse().unwrap();
                assert!(recovery > end, "{line}");
                assert_eq!(fields[3].parse::<u32>().unwrap(), recovery);
                assert_eq!(fields[5].parse::<u32>().unwrap(), recovery - end);
            }
            "NR" => {
                assert_eq!((fields[4], fields[5]), ("", ""), "{line}");
                not_recovered += 1;
            }
            other => panic!("`status` is `{other}`"),
        }
    }
    assert_eq!(rows, STARTS.len() * LENGTHS.len());
    assert_eq!(
        not_recovered,
        LENGTHS.len(),
        "the windows from epoch 6 never recover"
    );
    // Window (1, 2): end 2; excess 1.5 at 3 (6.5 + 1.5 > 1.01 × 6.5) … 3/2^k ≤ 1 % of the
    // baseline first at epoch 3 + 6 = 9 (3/128 ≈ 0.023 ≤ 0.04).
    assert!(csv.contains("\n1,2,2,9,9,7,recovered\n"), "{csv}");
    let heatmap = figures.fig4.heatmap_table().to_csv();
    assert!(heatmap.starts_with(
        "start_epoch,length,run_max_rsa_start_to_stop,baseline_max_rsa_to_cut,delta_max_rsa\n"
    ));
    assert_eq!(heatmap.lines().count(), 1 + rows);
}

#[test]
fn missing_files_are_reported_together_with_their_purpose() {
    let dir = tempfile::tempdir().unwrap();
    runs_directory(dir.path());
    fs::remove_file(dir.path().join(runs::CLIP_BASELINE_FILE)).unwrap();
    fs::remove_file(dir.path().join(runs::sweep_file(2))).unwrap();
    // A window folder that is gone entirely is a missing run (one without its file is another
    // problem: `original.rs` covers it).
    fs::remove_dir_all(
        dir.path()
            .join(runs::window_file(Perturbation::RandomTarget, 3, 4))
            .parent()
            .unwrap(),
    )
    .unwrap();
    let error = RunsDirectory::new(dir.path())
        .load(&full_request())
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(&error, RunsError::MissingFiles { missing, .. } if missing.len() == 4));
    for expected in [
        "lacks 4 files:",
        "`baseline.csv`: the CLIP-HBA baseline",
        "`random_target_e2_l1/training_res.csv`: single-epoch `random_target` perturbation at \
         epoch 2 (fig2a) (or `training_res_run2.csv`)",
        "`training_res_run2.csv`: single-epoch `random_target` sweep run at epoch 2 (fig3)",
        "`random_target_e3_l4/training_res.csv`: `random_target` for 4 epochs from epoch 3 \
         (fig4)",
    ] {
        assert!(
            message.contains(expected),
            "`{expected}` not in:\n{message}"
        );
    }
}

#[test]
fn a_bad_value_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    runs_directory(dir.path());
    let bad = BASELINE.replace("4,6,5.5,0.3,1e-5", "4,6,5.5,n/a,1e-5");
    write(dir.path(), runs::CLIP_BASELINE_FILE, &bad);
    let error = RunsDirectory::new(dir.path())
        .load(&fig1::request(Model::ClipHba))
        .unwrap_err()
        .to_string();
    let path = dir.path().join("baseline.csv");
    assert_eq!(
        error,
        format!(
            "`{}` line 5, column 4 (`behavioral_rsa_rho`): expected a finite number, found `n/a`",
            path.display()
        )
    );
    let error = runs::read_clip_run(&dir.path().join("absent.csv"))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("cannot read `"), "{error}");
    assert!(error.contains("absent.csv"), "{error}");
}

#[test]
fn the_directory_names_the_files_a_request_reads() {
    let dir = tempfile::tempdir().unwrap();
    runs_directory(dir.path());
    let directory = RunsDirectory::new(dir.path());
    let files = directory.expected_files(&fig3::request(&[7])).unwrap();
    let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(paths, ["baseline.csv", "training_res_run7.csv"]);
    let loaded = directory
        .load(&fig4::request(&[1], &[2]).and(fig1::request(Model::Vit)))
        .unwrap();
    assert_eq!(
        loaded.files,
        [
            "baseline.csv",
            "vit_baseline.csv",
            "random_target_e1_l2/training_res.csv"
        ]
    );
}

#[test]
fn an_empty_table_is_refused_not_drawn() {
    let empty = Fig3Table {
        setup: None,
        rows: Vec::new(),
    };
    let error = fig3::draw(&empty, ImageFormat::Png).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot draw `fig3`: its table has no rows"
    );
}
