//! Paper-scale cost (`cpbuild bench`, the `paper-shapes` profile) through the real `cpbuild`
//! binary, in temporary copies of the repository's `recipes/` and `data/`:
//!
//! - `cpbuild bench` prints its tables (structure only: timings are never asserted);
//! - `--precision bf16` is refused with the reason, `f32` is the default;
//! - the `paper-shapes` profile resolves and leaves every `ci` key as it was;
//! - the `random-clip` kind's weights are exactly `train-hba`'s `weights = "random"`.

use std::path::Path;

#[path = "../common/mod.rs"]
mod common;

use common::{copy_tree, cpbuild, repo};

use serde_json::Value as Json;

/// A temporary project with the repository's `data/` and, with `recipes`, its `recipes/`.
fn project(recipes: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    copy_tree(&repo().join("data"), &dir.path().join("data"));
    if recipes {
        copy_tree(&repo().join("recipes"), &dir.path().join("recipes"));
    }
    dir
}

/// `cpbuild bench --backend ndarray --model clip-tiny` with `options` in `dir`: its stdout,
/// after asserting that it succeeded.
fn bench_clip_tiny(dir: &Path, options: &[&str]) -> String {
    let mut args = vec!["bench", "--backend", "ndarray", "--model", "clip-tiny"];
    args.extend_from_slice(options);
    let (code, stdout, stderr) = cpbuild(dir, &args);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

/// The cells of the table row starting with `| first |`, or a panic showing the output.
fn row<'a>(stdout: &'a str, first: &str) -> Vec<&'a str> {
    let start = format!("| {first} |");
    let line = stdout
        .lines()
        .find(|line| line.starts_with(&start))
        .unwrap_or_else(|| panic!("no row `{start}` in:\n{stdout}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

/// A positive, finite number, or a panic naming it.
fn positive(cell: &str, what: &str) -> f64 {
    let value: f64 = cell
        .trim_end_matches('×')
        .parse()
        .unwrap_or_else(|_| panic!("{what}: `{cell}` is not a number"));
    assert!(value.is_finite() && value > 0.0, "{what}: {value}");
    value
}

#[test]
fn bench_prints_throughput_epoch_and_projection_tables() {
    let dir = project(true);
    let stdout = bench_clip_tiny(dir.path(), &["--steps", "2"]);
    assert!(
        stdout.starts_with("cpbuild bench: clip-tiny (random weights), things-synth 32×32, batch 64\nbackend: `ndarray` (cpu)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\n| path | precision | images/s | s/step | vs full f32 |\n"));

    // Throughput: both paths in f32, measured side by side; bf16 listed as not implemented.
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("| f32 |")).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for path in ["full (uncached)", "frozen prefix cached"] {
        let cells: Vec<&str> = stdout
            .lines()
            .filter(|line| line.starts_with(&format!("| {path} |")))
            .collect();
        assert_eq!(cells.len(), 2, "{path} in f32 and bf16:\n{stdout}");
        let f32_row: Vec<&str> = cells[0]
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        assert_eq!(f32_row[1], "f32");
        let rate = positive(f32_row[2], "images/s");
        let step = positive(f32_row[3], "s/step");
        // s/step is 64 images at that rate (both rounded).
        assert!((rate * step / 64.0 - 1.0).abs() < 0.05, "{rate} × {step}");
        positive(f32_row[4], "ratio");
        assert_eq!(cells[1], format!("| {path} | bf16 | not implemented | | |"));
    }
    assert_eq!(row(&stdout, "full (uncached)")[4], "1.00×");
    assert!(stdout.contains("\nbf16: not implemented: burn 0.21 has no automatic mixed precision"));

    // The paper-scale epoch: its parts add up.
    assert!(
        stdout.contains("projected from the cached rates above"),
        "{stdout}"
    );
    assert_eq!(row(&stdout, "train")[1], "1444");
    assert_eq!(row(&stdout, "test loss + RSA")[1], "362 + 48");
    let train = positive(row(&stdout, "train")[2], "train seconds");
    let evaluation = positive(row(&stdout, "test loss + RSA")[2], "evaluation seconds");
    let epoch = positive(row(&stdout, "epoch")[2], "epoch seconds");
    assert!(
        (train + evaluation - epoch).abs() <= 0.01 * epoch + 0.002,
        "{stdout}"
    );
    positive(
        row(&stdout, "frozen prefixes, once a run")[2],
        "prefix seconds",
    );

    // The paper profile's CLIP-HBA graph, counted as `tests/paper/epochs.rs` asserts.
    assert_eq!(
        row(&stdout, "204"),
        ["204", "3511", "14", "16235"],
        "{stdout}"
    );
    let projection = stdout
        .lines()
        .find(|line| line.starts_with("projected time on this backend: 3511 × "))
        .unwrap_or_else(|| panic!("no projection:\n{stdout}"));
    assert!(projection.contains(" + 204 × "), "{projection}");
    assert!(projection.ends_with(')'), "{projection}");
}

#[test]
fn bench_without_recipes_still_measures_and_says_why_it_does_not_project() {
    let dir = project(false);
    let stdout = bench_clip_tiny(dir.path(), &["--steps", "1", "--batch", "8"]);
    assert!(
        stdout.contains("\npaper-profile graph: not projected: "),
        "{stdout}"
    );
}

#[test]
fn bench_refuses_bad_options() {
    let dir = project(false);
    for (args, message) in [
        (
            vec!["bench", "--model", "clip-huge"],
            "error: unknown model `clip-huge`",
        ),
        (vec!["bench", "--steps", "0"], "must be at least 1"),
        (
            vec!["--backend", "gpu", "bench"],
            "error: unknown backend `gpu`",
        ),
    ] {
        let (code, stdout, stderr) = cpbuild(dir.path(), &args);
        assert_eq!(code, 2, "{args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn bf16_is_refused_with_the_reason_and_f32_is_the_default() {
    let dir = project(true);
    for args in [
        vec!["--precision", "bf16", "list"],
        vec!["--precision", "bf16", "fig4"],
        vec!["--precision", "bf16", "bench", "--model", "clip-tiny"],
        vec!["bench", "--precision", "bf16", "--model", "clip-tiny"],
    ] {
        let (code, stdout, stderr) = cpbuild(dir.path(), &args);
        assert_eq!(code, 2, "{args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(
            stderr.starts_with(
                "error: `--precision bf16` is refused: bf16 mixed precision is not implemented: \
                 burn 0.21 has no automatic mixed precision"
            ),
            "{args:?}: {stderr}"
        );
    }
    let (code, _, stderr) = cpbuild(dir.path(), &["--precision", "fp16", "list"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown precision `fp16`: expected `f32` or `bf16`"),
        "{stderr}"
    );
    // `f32`, given or not, is the same build: the same keys.
    let keys = |args: &[&str]| {
        let (code, stdout, stderr) = cpbuild(dir.path(), args);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    assert_eq!(
        keys(&["--json", "status", "fig4"]),
        keys(&["--json", "--precision", "f32", "status", "fig4"])
    );
}

/// `--json status` of every ci target: target → key.
fn ci_keys(root: &Path) -> Vec<(String, String)> {
    let (code, stdout, stderr) = cpbuild(
        root,
        &[
            "--json", "status", "fig1", "fig2", "fig3", "fig4", "pretrain",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    // fig3 and its sweep wait on the baseline's `best_epoch` (a data-dependent grid): they
    // have no key before it is built, and are listed as waiting.
    stdout
        .lines()
        .map(|line| serde_json::from_str::<Json>(line).expect("a JSON line"))
        .filter(|event| event["state"] != "waiting")
        .map(|event| {
            (
                event["target"].as_str().expect("target").to_string(),
                event["key"].as_str().expect("key").to_string(),
            )
        })
        .collect()
}

#[test]
fn paper_shapes_resolves_and_leaves_the_ci_keys_alone() {
    let dir = project(true);
    let (code, stdout, stderr) = cpbuild(dir.path(), &["--profile", "paper-shapes", "-n", "fig4"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for target in [
        "clip_random",
        "hba_baseline",
        "window_e1_l2",
        "window_e90_l50",
        "fig4",
    ] {
        assert!(
            stderr.contains(&format!("would run {target} (never built)")),
            "{target}:\n{stderr}"
        );
    }
    let (code, stdout, stderr) = cpbuild(
        dir.path(),
        &["--profile", "paper-shapes", "graph", "hba_baseline"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("clip_random [random-clip]\n"), "{stdout}");

    // The same recipes without the profile and its weights target give every ci target the
    // same key.
    let with = ci_keys(dir.path());
    // Every ci target of the four figures but fig3 and its sweep (waiting), and `pretrain`.
    assert_eq!(with.len(), 46, "{with:?}");
    let path = dir.path().join("recipes/paper.toml");
    let recipe = std::fs::read_to_string(&path).expect("recipe");
    let section = |start: &str| {
        let from = recipe.find(start).expect("a section");
        let to = from + recipe[from..].find("\n\n[").expect("a next section") + 2;
        from..to
    };
    let mut without = recipe.clone();
    without.replace_range(section("[target.clip_random]"), "");
    let profile = without.find("[profile.paper-shapes]").expect("the profile");
    let next = profile + without[profile..].find("\n# ---").expect("a rule") + 1;
    without.replace_range(profile..next, "");
    assert!(!without.contains("[profile.paper-shapes]") && !without.contains("\"random-clip\""));
    std::fs::write(&path, without).expect("recipe");
    assert_eq!(ci_keys(dir.path()), with);
}

#[test]
fn random_clip_weights_train_exactly_as_weights_random() {
    let dir = project(false);
    let inputs = r#"["data/things/spose_embedding66d_rescaled_1806train.csv", "data/things/spose_embedding66d_rescaled_48val_reordered.csv", "data/things/RDM48_triplet.mat", "data/things/spose_dimensions66.txt", "data/clip/bpe_simple_vocab_16e6.txt.gz"]"#;
    let run = r#"model = "clip-tiny", data = { world = "things-synth", train_pool_size = 24 }, seed = 1, max_epochs = 2, train_size = 16, test_size = 8, batch_size = 8"#;
    let recipe = format!(
        r#"
[target.weights]
kind = "random-clip"
params = {{ model = "clip-tiny", seed = 5 }}

[target.from_kind]
kind = "train-hba"
deps = ["weights"]
inputs = {inputs}
params = {{ {run}, weights_from = "weights" }}

[target.in_process]
kind = "train-hba"
inputs = {inputs}
params = {{ {run}, weights = "random", weights_seed = 5 }}

[target.compare]
kind = "shell"
deps = ["from_kind", "in_process", "weights"]
command = "cmp $CPBUILD_DEP_FROM_KIND/results.csv $CPBUILD_DEP_IN_PROCESS/results.csv && cp $CPBUILD_DEP_WEIGHTS/clip_config.json . && cp $CPBUILD_DEP_FROM_KIND/results.csv ."
outputs = ["clip_config.json", "results.csv"]
"#
    );
    std::fs::create_dir_all(dir.path().join("recipes")).expect("recipes");
    std::fs::write(dir.path().join("recipes/main.toml"), recipe).expect("recipe");
    let (code, stdout, stderr) = cpbuild(dir.path(), &["-j", "2", "compare"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let config: Json = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("clip_config.json")).expect("config"),
    )
    .expect("JSON");
    assert_eq!(config["vision_config"]["image_size"], 32);
    let results = std::fs::read_to_string(dir.path().join("results.csv")).expect("results");
    assert_eq!(
        results.lines().count(),
        3,
        "a header and 2 epochs:\n{results}"
    );
}
