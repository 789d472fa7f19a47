//! Draws every figure from plausible hand-made runs, to look at the plots without training.
//!
//! Usage: `cargo run --example figures_preview -- OUT_DIR`. Writes a runs directory in the
//! external layout (`OUT_DIR/runs/`, see `cpbuild::figures::runs`), loads it back the way a
//! figure target with external runs does, and writes each figure's CSV, PNG and SVG into
//! `OUT_DIR` (`fig1a`, `fig1b`, `fig2a`, `fig2b`, `fig3`, `fig4`, `fig4_heatmap`).
//!
//! The curves are smooth formulas with deterministic wiggles, shaped like the paper's: an
//! S-shaped alignment curve, a minimum test loss at epoch 98, perturbation effects that fade
//! with the epoch, and late long windows that never recover.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cpbuild::figures::runs::{self, RunsDirectory};
use cpbuild::figures::{
    ComputeError, Fig2Table, ImageFormat, Model, Perturbation, Table, Window, WindowRun, fig1,
    fig2, fig3, fig4, paper,
};
use cpbuild::ml::perturbation::PerturbationKind;
use cpbuild::ml::results::{EpochResult, number, to_csv};

/// The baseline's minimum-test-loss epoch, as in the paper.
const CUT: u32 = 98;
/// The baseline's last epoch (early stopping with patience 20).
const BASELINE_EPOCHS: u32 = 118;

fn main() -> ExitCode {
    let Some(out_dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: figures_preview OUT_DIR");
        return ExitCode::from(2);
    };
    match run(&out_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(out_dir: &Path) -> Result<(), String> {
    let runs_dir = out_dir.join("runs");
    write_runs(&runs_dir)?;

    let epochs: Vec<u32> = paper::FIG3_EPOCHS.collect();
    let request = fig1::request(Model::ClipHba)
        .and(fig1::request(Model::Vit))
        .and(fig2::request(Model::ClipHba, &paper::FIG2_EPOCHS))
        .and(fig2::request(Model::Vit, &paper::FIG2_EPOCHS))
        .and(fig3::request(&epochs))
        .and(fig4::request(&paper::FIG4_STARTS, &paper::FIG4_LENGTHS));
    let loaded = RunsDirectory::new(&runs_dir)
        .load(&request)
        .map_err(|error| error.to_string())?;
    let baseline = loaded.clip_baseline.as_ref().ok_or("no baseline")?.curve();
    let vit = loaded
        .vit_baseline
        .as_ref()
        .ok_or("no vit baseline")?
        .curve();

    let text = |error: ComputeError| error.to_string();
    let fig1a = fig1::compute(Model::ClipHba, &baseline).map_err(text)?;
    let fig1b = fig1::compute(Model::Vit, &vit).map_err(text)?;
    let single: Vec<_> = loaded
        .single_epoch
        .iter()
        .map(|(&(kind, epoch), run)| (kind, epoch, run.curve()))
        .collect();
    let fig2a = fig2::compute(
        Model::ClipHba,
        &baseline,
        single
            .iter()
            .map(|(kind, epoch, curve)| (*kind, *epoch, curve)),
    )
    .map_err(text)?;
    let fig2b = Fig2Table::from_rows(
        Model::Vit,
        loaded.vit_effects.clone().ok_or("no vit effects")?,
    );
    let sweep: Vec<_> = loaded
        .sweep
        .iter()
        .map(|(&epoch, run)| (epoch, run.curve()))
        .collect();
    let fig3 = fig3::compute(
        &baseline,
        sweep.iter().map(|(epoch, curve)| (*epoch, curve)),
    )
    .map_err(text)?;
    let grid: Vec<_> = loaded
        .grid
        .iter()
        .map(|(&(start, length), run)| (Window { start, length }, run.curve()))
        .collect();
    let fig4 = fig4::compute(
        &baseline,
        grid.iter().map(|(window, curve)| WindowRun {
            window: *window,
            curve,
            epoch_limit: false,
        }),
    )
    .map_err(text)?;

    let plot_text = |error: cpbuild::figures::PlotError| error.to_string();
    let outputs: Vec<(&str, Table, [Vec<u8>; 2])> = vec![
        (
            "fig1a",
            fig1a.to_table(),
            both(|format| fig1::draw(&fig1a, format)).map_err(plot_text)?,
        ),
        (
            "fig1b",
            fig1b.to_table(),
            both(|format| fig1::draw(&fig1b, format)).map_err(plot_text)?,
        ),
        (
            "fig2a",
            fig2a.to_table(),
            both(|format| fig2::draw(&fig2a, format)).map_err(plot_text)?,
        ),
        (
            "fig2b",
            fig2b.to_table(),
            both(|format| fig2::draw(&fig2b, format)).map_err(plot_text)?,
        ),
        (
            "fig3",
            fig3.to_table(),
            both(|format| fig3::draw(&fig3, format)).map_err(plot_text)?,
        ),
        (
            "fig4",
            fig4.to_table(),
            both(|format| fig4::draw(&fig4, format)).map_err(plot_text)?,
        ),
        (
            "fig4_heatmap",
            fig4.heatmap_table(),
            both(|format| fig4::draw_heatmap(&fig4, format)).map_err(plot_text)?,
        ),
    ];
    for (name, table, [png, svg]) in outputs {
        write(
            &out_dir.join(format!("{name}.csv")),
            table.to_csv().as_bytes(),
        )?;
        write(&out_dir.join(format!("{name}.png")), &png)?;
        write(&out_dir.join(format!("{name}.svg")), &svg)?;
        println!("{}", out_dir.join(format!("{name}.png")).display());
    }
    Ok(())
}

/// The PNG and the SVG of a figure.
fn both(
    render: impl Fn(ImageFormat) -> Result<Vec<u8>, cpbuild::figures::PlotError>,
) -> Result<[Vec<u8>; 2], cpbuild::figures::PlotError> {
    Ok([render(ImageFormat::Png)?, render(ImageFormat::Svg)?])
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|error| format!("cannot create `{}`: {error}", parent.display()))?;
    }
    fs::write(path, bytes).map_err(|error| format!("cannot write `{}`: {error}", path.display()))
}

/// A deterministic wiggle in [-1, 1], different per `seed`.
fn wiggle(epoch: u32, seed: f64) -> f64 {
    (f64::from(epoch) * (1.3 + seed) + seed * 7.0).sin()
}

/// The baseline's test loss: falls to a minimum at epoch 98, then slowly overfits.
fn baseline_loss(epoch: u32) -> f64 {
    let falling = |e: u32| 18.0 + 42.0 * (-(f64::from(e) - 1.0) / 14.0).exp();
    if epoch <= CUT {
        falling(epoch)
    } else {
        falling(CUT) + 0.05 * f64::from(epoch - CUT)
    }
}

/// The baseline's behavioural ρ: an S-curve.
fn baseline_rho(epoch: u32) -> f64 {
    0.05 + 0.55 / (1.0 + (-(f64::from(epoch) - 22.0) / 6.0).exp()) + 0.004 * wiggle(epoch, 0.1)
}

fn row(epoch: u32, test_loss: f64, rho: f64, kind: Option<PerturbationKind>) -> EpochResult {
    EpochResult {
        epoch,
        train_loss: test_loss * 0.8,
        test_loss,
        behavioral_rsa_rho: rho,
        behavioral_rsa_p_value: 1e-10,
        perturbation: kind,
    }
}

/// A single-epoch run at `k`: epochs k..=k+3, the effect at k fading afterwards.
fn single_epoch_run(kind: PerturbationKind, k: u32, loss_effect: f64, rho_effect: f64) -> String {
    let rows: Vec<EpochResult> = (k..=k + 3)
        .map(|epoch| {
            let fade = 0.3f64.powi((epoch - k) as i32);
            row(
                epoch,
                baseline_loss(epoch) + loss_effect * fade,
                baseline_rho(epoch) + rho_effect * fade,
                (epoch == k).then_some(kind),
            )
        })
        .collect();
    to_csv(&rows, true)
}

/// Δ at epoch k of a single-epoch perturbation of `kind` at k: large early, fading later.
fn single_epoch_effect(kind: Perturbation, k: u32) -> (f64, f64) {
    let early = (-f64::from(k) / 25.0).exp();
    let (loss_scale, rho_scale, seed) = match kind {
        Perturbation::ImageNoise => (1.5, -0.03, 0.2),
        Perturbation::UniformImages => (2.5, -0.05, 0.4),
        Perturbation::LabelShuffle => (4.0, -0.08, 0.6),
        Perturbation::RandomTarget => (6.0, -0.12, 0.8),
    };
    (
        loss_scale * (early + 0.15) + 0.6 * wiggle(k, seed),
        rho_scale * early + 0.012 * wiggle(k, seed + 0.3),
    )
}

/// A `random_target` window run: a bump while perturbed, then an exponential recovery that
/// is slower for longer windows; late long windows keep an offset and never recover.
fn window_run(start: u32, length: u32) -> String {
    let end = start + length - 1;
    let tau = 2.5 + f64::from(length) / 4.0;
    let stuck = start >= 70 && length >= 30;
    let critical = if start <= 10 { 0.03 } else { -0.01 };
    let rows: Vec<EpochResult> = (start..=end + 60)
        .map(|epoch| {
            // The run can keep improving past the baseline's cut: it does not overfit on the
            // baseline's schedule.
            let reference = baseline_loss(epoch.min(CUT));
            let (excess, rho) = if epoch <= end {
                (12.0, baseline_rho(epoch) - 0.25)
            } else {
                let since = f64::from(epoch - end);
                let excess = 12.0 * (-since / tau).exp() + if stuck { 1.0 } else { 0.0 };
                let rho = baseline_rho(epoch.min(CUT)) - 0.25 * (-since / tau).exp() + critical;
                (excess, rho)
            };
            let kind = (epoch <= end).then_some(PerturbationKind::RandomTarget);
            row(epoch, reference + excess, rho, kind)
        })
        .collect();
    to_csv(&rows, true)
}

fn write_runs(dir: &Path) -> Result<(), String> {
    let baseline: Vec<EpochResult> = (1..=BASELINE_EPOCHS)
        .map(|epoch| row(epoch, baseline_loss(epoch), baseline_rho(epoch), None))
        .collect();
    write(
        &dir.join(runs::CLIP_BASELINE_FILE),
        to_csv(&baseline, false).as_bytes(),
    )?;

    let mut vit = String::from("epoch,val_loss,rsa_score\n");
    for epoch in 1..=100u32 {
        let e = f64::from(epoch);
        let loss = 1.2 + 5.7 * (-(e - 1.0) / 12.0).exp() + 0.002 * (e - 90.0).max(0.0).powi(2);
        let rsa = 0.02 + 0.25 / (1.0 + (-(e - 30.0) / 8.0).exp()) + 0.003 * wiggle(epoch, 0.5);
        vit.push_str(&format!("{epoch},{},{}\n", number(loss), number(rsa)));
    }
    write(&dir.join(runs::VIT_BASELINE_FILE), vit.as_bytes())?;

    let mut effects = String::from("perturbation,epoch,delta_loss,delta_rsa\n");
    for k in paper::FIG2_EPOCHS {
        for kind in Perturbation::ALL {
            let (loss, rho) = single_epoch_effect(kind, k);
            effects.push_str(&format!(
                "{},{k},{},{}\n",
                kind.name(),
                number(loss * 0.05),
                number(rho * 0.5)
            ));
        }
    }
    write(&dir.join(runs::VIT_EFFECTS_FILE), effects.as_bytes())?;

    let kinds = [
        (Perturbation::ImageNoise, PerturbationKind::ImageNoise),
        (Perturbation::UniformImages, PerturbationKind::UniformImages),
        (Perturbation::LabelShuffle, PerturbationKind::LabelShuffle),
    ];
    for k in paper::FIG2_EPOCHS {
        for (kind, training_kind) in kinds {
            let (loss, rho) = single_epoch_effect(kind, k);
            let csv = single_epoch_run(training_kind, k, loss, rho);
            write(&dir.join(runs::window_file(kind, k, 1)), csv.as_bytes())?;
        }
    }
    // `random_target` for fig2a comes from the sweep files (the loader's fallback).
    for k in paper::FIG3_EPOCHS {
        let (loss, rho) = single_epoch_effect(Perturbation::RandomTarget, k);
        let csv = single_epoch_run(PerturbationKind::RandomTarget, k, loss, rho);
        write(&dir.join(runs::sweep_file(k)), csv.as_bytes())?;
    }
    for start in paper::FIG4_STARTS {
        for length in paper::FIG4_LENGTHS {
            let path = dir.join(runs::window_file(Perturbation::RandomTarget, start, length));
            write(&path, window_run(start, length).as_bytes())?;
        }
    }
    Ok(())
}
