//! The `random-clip` kind: a randomly initialised CLIP, saved as `train-hba`'s `weights_from`
//! loads it. The `paper-shapes` profile trains on it instead of the user's OpenAI weights, so
//! that paper-scale cost (CLIP ViT-L/14 at 224 px) can be measured without them.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `model` | `"clip-tiny"` \| `"clip-small"` \| `"clip-vit-l-14"` | the CLIP's shape |
//! | `seed` | integer | the weights' seed (default 0) |
//!
//! The weights are [`cpbuild_ml::train::random_clip`]'s: drawn on the host from keyed ChaCha
//! streams, the same on every machine and backend (so the kind's key has no backend).
//!
//! # Bundle
//!
//! `clip.safetensors` (Hugging Face `CLIPModel` layout, f32; 1.7 GB for ViT-L/14) and
//! `clip_config.json` (its Hugging Face `config.json`).

use cpbuild_engine::action::{Action, ActionContext, ActionError, ParamError};
use cpbuild_ml::pretrain::{hf_config_json, save_clip};
use cpbuild_ml::train::random_clip;
use cpbuild_ml::{ClipConfig, CpuBackend};
use serde_json::{Value as Json, json};

use crate::kinds::params::{integer, refuse_unknown, string};
use crate::kinds::run::write_file;

/// The `random-clip` kind.
pub struct RandomClip;

const PARAMS: [&str; 2] = ["model", "seed"];

/// The CLIP models by name, for help messages.
pub const CLIP_MODELS: &str = "`clip-tiny`, `clip-small` or `clip-vit-l-14`";

/// The CLIP shape of a model name, as `train-hba` names them.
pub fn clip_config(model: &str) -> Option<ClipConfig> {
    match model {
        "clip-tiny" => Some(ClipConfig::tiny()),
        "clip-small" => Some(ClipConfig::small()),
        "clip-vit-l-14" => Some(ClipConfig::vit_l_14()),
        _ => None,
    }
}

fn parse(params: &Json) -> Result<(String, ClipConfig, u64), ParamError> {
    refuse_unknown(params, &PARAMS, "random-clip")?;
    let model = string(params, "model")?
        .ok_or_else(|| ParamError::at("model", format!("`model` is missing; use {CLIP_MODELS}")))?;
    let config = clip_config(model).ok_or_else(|| {
        ParamError::at(
            "model",
            format!("unknown model `{model}`; use {CLIP_MODELS}"),
        )
    })?;
    let seed = integer(params, "seed")?.unwrap_or(0);
    Ok((model.to_string(), config, seed))
}

impl Action for RandomClip {
    fn kind(&self) -> &'static str {
        "random-clip"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn description(&self) -> &'static str {
        "a randomly initialised CLIP (keyed ChaCha, device-independent) as `clip.safetensors`"
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        parse(params).map(|_| ())
    }

    fn cost(&self, params: &Json) -> u64 {
        match parse(params) {
            Ok((model, ..)) if model == "clip-vit-l-14" => 1000,
            _ => 1,
        }
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let (model, config, seed) =
            parse(ctx.params).map_err(|error| ActionError::failed(error.message))?;
        ctx.progress
            .message(&format!("drawing random `{model}` weights (seed {seed})"));
        let clip = random_clip::<CpuBackend>(&config, seed, &Default::default())
            .map_err(|error| ActionError::failed(error.to_string()))?;
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        save_clip(&clip, &ctx.out_dir.join("clip.safetensors"))
            .map_err(|error| ActionError::failed(error.to_string()))?;
        let mut config_text = serde_json::to_string_pretty(&hf_config_json(&config))
            .map_err(|error| ActionError::failed(error.to_string()))?;
        config_text.push('\n');
        write_file(
            &ctx.out_dir.join("clip_config.json"),
            config_text.as_bytes(),
        )?;
        ctx.info
            .insert("weights".into(), json!({ "random": seed, "model": model }));
        Ok(())
    }
}
