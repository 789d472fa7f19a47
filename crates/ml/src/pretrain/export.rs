//! Writes a [`ClipModel`] as a Hugging Face `CLIPModel` safetensors file, the layout
//! [`crate::load_clip`] reads (and so `train-hba`'s `weights_from`), and its `config.json`.
//!
//! The inverse of [`crate::weights`]: burn's module paths become Hugging Face names
//! (`vision_model.patch_embedding` → `vision_model.embeddings.patch_embedding`, layer-norm
//! `gamma`/`beta` → `weight`/`bias`, …), linear weights are transposed back to PyTorch's
//! `[out, in]`, and `logit_scale` is a 0-d tensor. Tensors are f32, sorted by name, without
//! metadata, so the file's bytes depend only on the weights.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::backend::Backend;
use serde_json::json;

use crate::ClipConfig;
use crate::ClipModel;
use crate::epochs::files::to_safetensors;
use crate::epochs::{HostTensor, TrainError};
use crate::named::named_params;

/// Every tensor of `model` under its Hugging Face name, in the file's layout.
pub fn clip_to_hf_tensors<B: Backend>(model: &ClipModel<B>) -> BTreeMap<String, HostTensor> {
    let mut out = BTreeMap::new();
    for (path, param) in named_params(model) {
        let mut name = match path.as_str() {
            "vision_model.patch_embedding.weight" => {
                "vision_model.embeddings.patch_embedding.weight".to_string()
            }
            "vision_model.class_embedding" => "vision_model.embeddings.class_embedding".to_string(),
            "vision_model.position_embedding" => {
                "vision_model.embeddings.position_embedding.weight".to_string()
            }
            "text_model.token_embedding.weight" => {
                "text_model.embeddings.token_embedding.weight".to_string()
            }
            "text_model.position_embedding" => {
                "text_model.embeddings.position_embedding.weight".to_string()
            }
            other => other.to_string(),
        };
        if let Some(stem) = name.strip_suffix(".gamma") {
            name = format!("{stem}.weight");
        } else if let Some(stem) = name.strip_suffix(".beta") {
            name = format!("{stem}.bias");
        }
        let mut tensor = param;
        if name == "logit_scale" {
            tensor.shape = Vec::new();
        } else if tensor.shape.len() == 2
            && name.ends_with(".weight")
            && !name.contains("embeddings.")
        {
            // burn `[in, out]` → PyTorch `[out, in]`.
            let (rows, cols) = (tensor.shape[0], tensor.shape[1]);
            let mut transposed = vec![0.0; tensor.values.len()];
            for row in 0..rows {
                for col in 0..cols {
                    transposed[col * rows + row] = tensor.values[row * cols + col];
                }
            }
            tensor = HostTensor {
                shape: vec![cols, rows],
                values: transposed,
            };
        }
        out.insert(name, tensor);
    }
    out
}

/// Writes `model` to `path` in the Hugging Face `CLIPModel` layout.
pub fn save_clip<B: Backend>(model: &ClipModel<B>, path: &Path) -> Result<(), TrainError> {
    let bytes = to_safetensors(&clip_to_hf_tensors(model), path)?;
    std::fs::write(path, bytes).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The Hugging Face `config.json` of `config`, readable by [`ClipConfig::from_hf_config_json`].
pub fn hf_config_json(config: &ClipConfig) -> serde_json::Value {
    let vision = &config.vision;
    let text = &config.text;
    json!({
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": config.projection_dim,
        "logit_scale_init_value": config.logit_scale_init,
        "text_config": {
            "hidden_size": text.hidden_size,
            "intermediate_size": text.intermediate_size,
            "num_hidden_layers": text.num_layers,
            "num_attention_heads": text.num_heads,
            "max_position_embeddings": text.max_position_embeddings,
            "vocab_size": text.vocab_size,
            "layer_norm_eps": text.layer_norm_eps,
            "hidden_act": "quick_gelu",
        },
        "vision_config": {
            "hidden_size": vision.hidden_size,
            "intermediate_size": vision.intermediate_size,
            "num_hidden_layers": vision.num_layers,
            "num_attention_heads": vision.num_heads,
            "patch_size": vision.patch_size,
            "image_size": vision.image_size,
            "num_channels": vision.num_channels,
            "layer_norm_eps": vision.layer_norm_eps,
            "hidden_act": "quick_gelu",
        },
    })
}
