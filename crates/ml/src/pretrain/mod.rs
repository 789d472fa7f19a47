//! Contrastive pretraining of a small CLIP from random weights (the `pretrain-clip` kind): the
//! `ci` profile's stand-in for OpenAI's pretrained ViT-L/14, so that its CLIP-HBA runs fine-tune
//! a CLIP that already links pictures to words, exactly as the paper's runs do.
//!
//! The flow: [`PretrainConfig`] and [`PretrainData`] (image–caption pairs, and held-out pairs
//! for zero-shot retrieval) → [`Pretrainer`] (keyed random init, AdamW, CLIP's symmetric
//! contrastive loss) → [`save_clip`] writes the weights in the Hugging Face `CLIPModel`
//! layout that [`crate::load_clip`] reads.

mod config;
mod data;
mod export;
mod trainer;

pub use config::PretrainConfig;
pub use data::PretrainData;
pub use export::{clip_to_hf_tensors, hf_config_json, save_clip};
pub use trainer::{
    MAX_LOGIT_SCALE, PRETRAIN_HEADER, PretrainEpoch, Pretrainer, pretrain_csv, retrieval_accuracy,
    retrieval_chance,
};
