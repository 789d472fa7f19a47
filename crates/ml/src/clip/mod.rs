//! CLIP as burn modules, laid out like Hugging Face `CLIPModel` (and so like OpenAI CLIP): a
//! vision transformer and a causal text transformer, each followed by a linear projection into a
//! shared embedding space, and a learned `logit_scale`.
//!
//! Module and field names follow the Hugging Face checkpoint (`vision_model.pre_layrnorm`,
//! `encoder.layers.{i}.self_attn.out_proj`, …) so that the safetensors loader maps names one to one.

mod attention;
mod encoder;
mod encoder_layer;
mod mlp;
mod model;
mod text;
mod vision;

pub use attention::{ClipAttention, ClipAttentionConfig};
pub use encoder::{ClipEncoder, ClipEncoderConfig};
pub use encoder_layer::{ClipEncoderLayer, ClipEncoderLayerConfig};
pub use mlp::{ClipMlp, ClipMlpConfig, quick_gelu};
pub use model::{ClipConfig, ClipModel, OutProjWeights, l2_normalize};
pub use text::{ClipTextConfig, ClipTextTransformer};
pub use vision::{ClipVisionConfig, ClipVisionTransformer, patch_tokens};
