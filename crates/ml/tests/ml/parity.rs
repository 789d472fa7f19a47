//! Parity with the reference implementation (Hugging Face `CLIPModel`, transformers 5.17.0,
//! float32) on the tiny-clip fixture, and the loader's error messages.
//!
//! The fixture is committed under `tests/fixtures/tiny-clip/` at the repository root (its
//! provenance is in `tests/fixtures/README.md`); a missing file fails the test by name.

use std::path::PathBuf;

use burn::tensor::{Int, Tensor, TensorData};
use cpbuild_ml::clip::l2_normalize;
use cpbuild_ml::{
    ClipConfig, ClipModel, CpuBackend, Error, OutProjWeights, WeightProblem, load_clip,
};
use serde::Deserialize;

type B = CpuBackend;

/// Tolerance on `max |ours − reference| / max |reference|`; the README says a faithful
/// implementation gets about 1e-5.
const RELATIVE_TOLERANCE: f64 = 1e-4;

fn fixture(file: &str) -> PathBuf {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/tiny-clip"
    ))
    .join(file);
    assert!(
        path.is_file(),
        "fixture `{}` not found: it is committed with the repository \
         (see tests/fixtures/README.md); restore it with `git checkout -- tests/fixtures`",
        path.display()
    );
    path
}

#[derive(Deserialize)]
struct Reference {
    input_ids: Vec<Vec<i64>>,
    image_embeds: Vec<Vec<f64>>,
    text_embeds: Vec<Vec<f64>>,
    logits_per_image: Vec<Vec<f64>>,
    vision_last_hidden_state_image0: Vec<Vec<f64>>,
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(fixture("reference.json")).expect("read reference.json");
    serde_json::from_str(&text).expect("parse reference.json")
}

fn config() -> ClipConfig {
    ClipConfig::from_hf_config_json(fixture("config.json")).expect("fixture config")
}

fn model() -> ClipModel<B> {
    load_clip::<B>(&config(), fixture("model.safetensors"), &Default::default())
        .expect("load the fixture")
}

/// `pixel[n][c][y][x] = sin(0.1·(n+1)·(x+1) + 0.2·(c+1)·(y+1))`, 3 images of 3×32×32.
fn images() -> Tensor<B, 4> {
    let mut pixels = Vec::with_capacity(3 * 3 * 32 * 32);
    for n in 0..3 {
        for c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let (n, c, y, x) = (n as f32, c as f32, y as f32, x as f32);
                    pixels.push((0.1 * (n + 1.0) * (x + 1.0) + 0.2 * (c + 1.0) * (y + 1.0)).sin());
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(pixels, [3, 3, 32, 32]), &Default::default())
}

fn input_ids(reference: &Reference) -> Tensor<B, 2, Int> {
    let rows = reference.input_ids.len();
    let columns = reference.input_ids[0].len();
    let ids: Vec<i64> = reference.input_ids.concat();
    Tensor::from_data(TensorData::new(ids, [rows, columns]), &Default::default())
}

/// Asserts `ours` matches `expected` to [`RELATIVE_TOLERANCE`] of the reference's largest
/// magnitude, and returns the relative error seen.
fn assert_close<const D: usize>(what: &str, ours: Tensor<B, D>, expected: &[Vec<f64>]) -> f64 {
    let shape = ours.dims();
    let ours = ours.into_data().to_vec::<f32>().expect("f32 tensor");
    let expected: Vec<f64> = expected.concat();
    assert_eq!(ours.len(), expected.len(), "{what}: shape {shape:?}");
    let scale = expected
        .iter()
        .fold(0.0f64, |max, value| max.max(value.abs()));
    let error = ours
        .iter()
        .zip(&expected)
        .fold(0.0f64, |max, (a, b)| max.max((f64::from(*a) - b).abs()));
    let relative = error / scale;
    eprintln!("{what}: max abs error {error:.3e}, relative {relative:.3e}");
    assert!(
        relative <= RELATIVE_TOLERANCE,
        "{what}: relative error {relative:.3e} > {RELATIVE_TOLERANCE:.0e}"
    );
    relative
}

#[test]
fn config_json_is_read() {
    let config = config();
    assert_eq!(config.vision.hidden_size, 48);
    assert_eq!(config.vision.num_layers, 3);
    assert_eq!(config.vision.num_heads, 4);
    assert_eq!(config.vision.patch_size, 8);
    assert_eq!(config.vision.image_size, 32);
    assert_eq!(config.vision.intermediate_size, 96);
    assert_eq!(config.text.hidden_size, 32);
    assert_eq!(config.text.num_layers, 2);
    assert_eq!(config.text.intermediate_size, 64);
    assert_eq!(config.text.vocab_size, 49408);
    assert_eq!(config.text.max_position_embeddings, 77);
    assert_eq!(config.projection_dim, 24);
}

#[test]
fn vision_hidden_state_matches_reference() {
    let model = model();
    let hidden = model
        .vision_model
        .last_hidden_state(images(), &OutProjWeights::default().vision); // [3, 17, 48]
    let image0 = hidden.narrow(0, 0, 1).reshape([17, 48]);
    assert_close(
        "vision_last_hidden_state_image0",
        image0,
        &reference().vision_last_hidden_state_image0,
    );
}

#[test]
fn embeddings_and_logits_match_reference() {
    let reference = reference();
    let model = model();
    let image = l2_normalize(model.encode_image(images()));
    assert_close("image_embeds", image, &reference.image_embeds);
    let text = l2_normalize(model.encode_text(input_ids(&reference)));
    assert_close("text_embeds", text, &reference.text_embeds);
    let logits = model.logits_per_image(images(), input_ids(&reference));
    assert_close("logits_per_image", logits, &reference.logits_per_image);
}

#[test]
fn missing_file_names_the_path() {
    let error = load_clip::<B>(
        &config(),
        "/nonexistent/model.safetensors",
        &Default::default(),
    )
    .expect_err("a missing file must fail");
    assert!(matches!(error, Error::Read { .. }), "{error:?}");
    assert!(
        error.to_string().contains("/nonexistent/model.safetensors"),
        "{error}"
    );
}

#[test]
fn corrupt_file_names_the_path() {
    let path = std::env::temp_dir().join(format!(
        "cpbuild-ml-corrupt-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!").expect("write");
    let error = load_clip::<B>(&config(), &path, &Default::default()).expect_err("corrupt");
    std::fs::remove_file(&path).ok();
    assert!(matches!(error, Error::CorruptWeights { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn mismatched_weights_are_listed_with_shapes() {
    // The preset tiny config has other widths than the fixture: nearly every tensor mismatches.
    let error = load_clip::<B>(
        &ClipConfig::tiny(),
        fixture("model.safetensors"),
        &Default::default(),
    )
    .expect_err("wrong shapes must fail");
    let message = error.to_string();
    eprintln!("{message}");
    let Error::WeightsMismatch {
        problems, total, ..
    } = error
    else {
        panic!("expected WeightsMismatch, got {message}");
    };
    assert_eq!(problems.len(), 10);
    assert!(total > 10);
    assert!(message.contains("model.safetensors"));
    assert!(message.contains(&format!("and {} more", total - 10)));
    // The first tensor the loader visits is the patch embedding: [64, 3, 8, 8] expected.
    assert_eq!(
        problems[0],
        WeightProblem::Shape {
            name: "vision_model.embeddings.patch_embedding.weight".to_string(),
            expected: vec![64, 3, 8, 8],
            found: vec![48, 3, 8, 8],
        }
    );
}

#[test]
fn missing_tensors_are_named() {
    // A config with an extra vision block asks for `layers.3`, which the file lacks.
    let mut config = config();
    config.vision.num_layers = 4;
    let error = load_clip::<B>(&config, fixture("model.safetensors"), &Default::default())
        .expect_err("missing tensors must fail");
    let message = error.to_string();
    assert!(
        message.contains(
            "`vision_model.encoder.layers.3.layer_norm1.weight` is missing (expected shape [48])"
        ),
        "{message}"
    );
    assert!(message.contains("16 tensor(s) missing"), "{message}");
}

/// Writes a copy of the fixture with each tensor re-encoded by `encode`, returns its path.
fn reencoded_fixture(
    tag: &str,
    encode: impl Fn(&str, &[f32]) -> (safetensors::Dtype, Vec<u8>),
) -> PathBuf {
    let bytes = std::fs::read(fixture("model.safetensors")).expect("read fixture");
    let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("parse fixture");
    let mut encoded = Vec::new();
    for (name, view) in tensors.tensors() {
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let (dtype, data) = encode(&name, &values);
        encoded.push((name, dtype, view.shape().to_vec(), data));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = encoded
        .iter()
        .map(|(name, dtype, shape, data)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .expect("consistent view");
            (name.clone(), view)
        })
        .collect();
    let file = safetensors::serialize(views, None).expect("serialize");
    let path = std::env::temp_dir().join(format!(
        "cpbuild-ml-{tag}-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, file).expect("write");
    path
}

fn values<const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor.into_data().to_vec::<f32>().expect("f32 tensor")
}

#[test]
fn half_precision_tensors_are_widened_to_f32() {
    // Vision tensors as f16, everything else as bf16.
    let path = reencoded_fixture("half", |name, values| {
        if name.starts_with("vision_model.") {
            let data = values
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect();
            (safetensors::Dtype::F16, data)
        } else {
            let data = values
                .iter()
                .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
                .collect();
            (safetensors::Dtype::BF16, data)
        }
    });
    let half_model = load_clip::<B>(&config(), &path, &Default::default());
    std::fs::remove_file(&path).ok();
    let half_model = half_model.expect("load half-precision copy");
    let full = model();

    // f16: a vision linear weight (transposed on load) and the class embedding.
    let round_f16 = |v: Vec<f32>| -> Vec<f32> {
        v.into_iter()
            .map(|x| half::f16::from_f32(x).to_f32())
            .collect()
    };
    let layer = |m: &ClipModel<B>| {
        m.vision_model.encoder.layers[1]
            .self_attn
            .out_proj
            .weight
            .val()
    };
    assert_eq!(values(layer(&half_model)), round_f16(values(layer(&full))));
    assert_eq!(
        values(half_model.vision_model.class_embedding.val()),
        round_f16(values(full.vision_model.class_embedding.val()))
    );
    // bf16: the text projection (transposed) and the 0-d logit_scale.
    let round_bf16 = |v: Vec<f32>| -> Vec<f32> {
        v.into_iter()
            .map(|x| half::bf16::from_f32(x).to_f32())
            .collect()
    };
    assert_eq!(
        values(half_model.text_projection.weight.val()),
        round_bf16(values(full.text_projection.weight.val()))
    );
    assert_eq!(
        values(half_model.logit_scale.val()),
        round_bf16(values(full.logit_scale.val()))
    );
}

#[test]
fn unsupported_dtypes_are_named() {
    let path = reencoded_fixture("int", |name, values| {
        if name == "visual_projection.weight" {
            let data = values
                .iter()
                .flat_map(|v| (*v as i32).to_le_bytes())
                .collect();
            (safetensors::Dtype::I32, data)
        } else {
            let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (safetensors::Dtype::F32, data)
        }
    });
    let error = load_clip::<B>(&config(), &path, &Default::default());
    std::fs::remove_file(&path).ok();
    let message = error.expect_err("i32 weights are refused").to_string();
    assert!(
        message.contains("`visual_projection.weight` has dtype I32, expected f32, f16 or bf16"),
        "{message}"
    );
}
