//! The whole CLIP model: both towers, their projections into the shared space, and the learned
//! temperature `logit_scale`. Also the preset configurations and the Hugging Face
//! `config.json` reader.

use std::collections::BTreeMap;
use std::path::Path;

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use serde::Deserialize;

use super::text::{ClipTextConfig, ClipTextTransformer};
use super::vision::{ClipVisionConfig, ClipVisionTransformer};
use crate::{Error, Result};

/// Configuration of a [`ClipModel`].
#[derive(Config, Debug)]
pub struct ClipConfig {
    /// The vision tower.
    pub vision: ClipVisionConfig,
    /// The text tower.
    pub text: ClipTextConfig,
    /// Width of the shared image–text embedding space.
    pub projection_dim: usize,
    /// Initial value of the stored (log) `logit_scale`: `ln(1 / 0.07)` as in CLIP.
    #[config(default = 2.6592)]
    pub logit_scale_init: f64,
}

impl ClipConfig {
    /// OpenAI CLIP ViT-L/14 at 224 px (`openai/clip-vit-large-patch14`), the paper's backbone.
    pub fn vit_l_14() -> Self {
        ClipConfig::new(
            ClipVisionConfig::new(1024, 4096, 24, 16, 14, 224),
            ClipTextConfig::new(768, 3072, 12, 12),
            768,
        )
    }

    /// A small CLIP for CPU tests and CI training runs: the real text context (77) and
    /// vocabulary (49,408), so it consumes the same token ids, but 64-wide towers of two blocks
    /// and 32 px images in 8 px patches.
    pub fn tiny() -> Self {
        ClipConfig::new(
            ClipVisionConfig::new(64, 256, 2, 4, 8, 32),
            ClipTextConfig::new(64, 256, 2, 4),
            64,
        )
    }

    /// The `ci` profile's CLIP: [`Self::tiny`]'s shape (two blocks per tower, 32 px images in
    /// 8 px patches, the real context and vocabulary) at twice its width, 128.
    pub fn small() -> Self {
        ClipConfig::new(
            ClipVisionConfig::new(128, 512, 2, 4, 8, 32),
            ClipTextConfig::new(128, 512, 2, 4),
            128,
        )
    }

    /// Reads a Hugging Face `CLIPModel` `config.json`. Fields the file leaves out take
    /// Hugging Face's defaults (as `transformers` does); an activation other than
    /// `quick_gelu` is refused, since the model implements only that one.
    pub fn from_hf_config_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| Error::HfConfig {
            path: path.to_path_buf(),
            message,
        };
        let hf: HfClipConfig =
            serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
        for (tower, activation) in [
            ("text_config", &hf.text_config.hidden_act),
            ("vision_config", &hf.vision_config.hidden_act),
        ] {
            if activation != "quick_gelu" {
                return Err(invalid(format!(
                    "`{tower}.hidden_act` is `{activation}`, only `quick_gelu` is supported"
                )));
            }
        }
        let vision = hf.vision_config;
        let text = hf.text_config;
        let config = ClipConfig::new(
            ClipVisionConfig::new(
                vision.hidden_size,
                vision.intermediate_size,
                vision.num_hidden_layers,
                vision.num_attention_heads,
                vision.patch_size,
                vision.image_size,
            )
            .with_num_channels(vision.num_channels)
            .with_layer_norm_eps(vision.layer_norm_eps),
            ClipTextConfig::new(
                text.hidden_size,
                text.intermediate_size,
                text.num_hidden_layers,
                text.num_attention_heads,
            )
            .with_max_position_embeddings(text.max_position_embeddings)
            .with_vocab_size(text.vocab_size)
            .with_layer_norm_eps(text.layer_norm_eps),
            hf.projection_dim,
        )
        .with_logit_scale_init(hf.logit_scale_init_value);
        config.validate().map_err(|error| match error {
            Error::InvalidConfig { message } => invalid(message),
            other => other,
        })?;
        Ok(config)
    }

    /// Checks that the shapes describe a model that can run: heads divide widths, patches
    /// tile the image, nothing is zero.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidConfig { message });
        let vision = &self.vision;
        let text = &self.text;
        let sizes = [
            ("vision hidden_size", vision.hidden_size),
            ("vision intermediate_size", vision.intermediate_size),
            ("vision num_heads", vision.num_heads),
            ("vision patch_size", vision.patch_size),
            ("vision image_size", vision.image_size),
            ("text hidden_size", text.hidden_size),
            ("text intermediate_size", text.intermediate_size),
            ("text num_heads", text.num_heads),
            ("text max_position_embeddings", text.max_position_embeddings),
            ("text vocab_size", text.vocab_size),
            ("projection_dim", self.projection_dim),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, size)| *size == 0) {
            return invalid(format!("`{name}` is 0"));
        }
        for (tower, width, heads) in [
            ("vision", vision.hidden_size, vision.num_heads),
            ("text", text.hidden_size, text.num_heads),
        ] {
            if !width.is_multiple_of(heads) {
                return invalid(format!(
                    "{tower} hidden_size {width} is not a multiple of num_heads {heads}"
                ));
            }
        }
        if !vision.image_size.is_multiple_of(vision.patch_size) {
            return invalid(format!(
                "image_size {} is not a multiple of patch_size {}",
                vision.image_size, vision.patch_size
            ));
        }
        Ok(())
    }

    /// Creates the model with random (lazy) initialisation; no memory is used for a tensor
    /// until it is first read, so `init` followed by [`crate::load_clip`]-style loading is cheap.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ClipModel<B> {
        let projection = |width| {
            LinearConfig::new(width, self.projection_dim)
                .with_bias(false)
                .init(device)
        };
        ClipModel {
            vision_model: self.vision.init(device),
            text_model: self.text.init(device),
            visual_projection: projection(self.vision.hidden_size),
            text_projection: projection(self.text.hidden_size),
            logit_scale: Initializer::Constant {
                value: self.logit_scale_init,
            }
            .init([1], device),
        }
    }
}

/// Replacement `out_proj` weights, by block index, for each tower (burn layout `[in, out]`).
/// Blocks not named keep their stored weight. [`crate::DoraAdapters`] produces these.
#[derive(Debug, Clone)]
pub struct OutProjWeights<B: Backend> {
    /// Vision blocks.
    pub vision: BTreeMap<usize, Tensor<B, 2>>,
    /// Text blocks.
    pub text: BTreeMap<usize, Tensor<B, 2>>,
}

impl<B: Backend> Default for OutProjWeights<B> {
    fn default() -> Self {
        OutProjWeights {
            vision: BTreeMap::new(),
            text: BTreeMap::new(),
        }
    }
}

/// CLIP (Hugging Face `CLIPModel`).
#[derive(Module, Debug)]
pub struct ClipModel<B: Backend> {
    /// The vision tower.
    pub vision_model: ClipVisionTransformer<B>,
    /// The text tower.
    pub text_model: ClipTextTransformer<B>,
    /// `[vision hidden, projection_dim]`, no bias.
    pub visual_projection: Linear<B>,
    /// `[text hidden, projection_dim]`, no bias.
    pub text_projection: Linear<B>,
    /// The log of the temperature, `[1]`; logits use `exp(logit_scale)`.
    pub logit_scale: Param<Tensor<B, 1>>,
}

impl<B: Backend> ClipModel<B> {
    /// Projected image features, not normalised.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, 3, image_size, image_size]`, normalised pixels
    /// - output: `[batch, projection_dim]`
    pub fn encode_image(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.encode_image_with(images, &OutProjWeights::default())
    }

    /// [`Self::encode_image`] with some blocks' `out_proj` weights replaced.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, 3, image_size, image_size]`
    /// - output: `[batch, projection_dim]`
    pub fn encode_image_with(
        &self,
        images: Tensor<B, 4>,
        out_proj_weights: &OutProjWeights<B>,
    ) -> Tensor<B, 2> {
        let pooled = self.vision_model.forward(images, &out_proj_weights.vision); // [batch, vision hidden]
        self.visual_projection.forward(pooled)
    }

    /// Projected text features, not normalised, taken at each sequence's end-of-text token.
    ///
    /// # Shapes
    ///
    /// - ids: `[texts, context]` token ids, zero-padded
    /// - output: `[texts, projection_dim]`
    pub fn encode_text(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        self.encode_text_with(ids, &OutProjWeights::default())
    }

    /// [`Self::encode_text`] with some blocks' `out_proj` weights replaced.
    ///
    /// # Shapes
    ///
    /// - ids: `[texts, context]`
    /// - output: `[texts, projection_dim]`
    pub fn encode_text_with(
        &self,
        ids: Tensor<B, 2, Int>,
        out_proj_weights: &OutProjWeights<B>,
    ) -> Tensor<B, 2> {
        let pooled = self.text_model.forward(ids, &out_proj_weights.text); // [texts, text hidden]
        self.text_projection.forward(pooled)
    }

    /// [`Self::encode_image_with`] from the hidden state entering vision block `layer` (see
    /// [`ClipVisionTransformer::hidden_before`]); bitwise the same result.
    ///
    /// # Shapes
    ///
    /// - hidden: `[batch, num_positions, vision hidden]`
    /// - output: `[batch, projection_dim]`
    pub fn encode_image_from(
        &self,
        hidden: Tensor<B, 3>,
        layer: usize,
        out_proj_weights: &OutProjWeights<B>,
    ) -> Tensor<B, 2> {
        let pooled = self
            .vision_model
            .forward_from(hidden, layer, &out_proj_weights.vision); // [batch, vision hidden]
        self.visual_projection.forward(pooled)
    }

    /// [`Self::encode_text_with`] from the hidden state entering text block `layer` (see
    /// [`ClipTextTransformer::hidden_before`]) for the same `ids`; bitwise the same result.
    ///
    /// # Shapes
    ///
    /// - hidden: `[texts, context, text hidden]`
    /// - ids: `[texts, context]`
    /// - output: `[texts, projection_dim]`
    pub fn encode_text_from(
        &self,
        hidden: Tensor<B, 3>,
        ids: Tensor<B, 2, Int>,
        layer: usize,
        out_proj_weights: &OutProjWeights<B>,
    ) -> Tensor<B, 2> {
        let pooled = self
            .text_model
            .forward_from(hidden, ids, layer, &out_proj_weights.text); // [texts, text hidden]
        self.text_projection.forward(pooled)
    }

    /// `exp(logit_scale)` × cosine similarity of every image with every text, as CLIP's
    /// `logits_per_image`.
    ///
    /// # Shapes
    ///
    /// - images: `[batch, 3, image_size, image_size]`
    /// - ids: `[texts, context]`
    /// - output: `[batch, texts]`
    pub fn logits_per_image(&self, images: Tensor<B, 4>, ids: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        let image = l2_normalize(self.encode_image(images)); // [batch, projection_dim]
        let text = l2_normalize(self.encode_text(ids)); // [texts, projection_dim]
        let scale = self.logit_scale.val().exp().reshape([1, 1]);
        image.matmul(text.transpose()) * scale
    }
}

/// Divides each row by its Euclidean norm (as `x / x.norm(dim=-1, keepdim=True)` in CLIP).
///
/// # Shapes
///
/// - input: `[rows, dim]`
/// - output: `[rows, dim]`
pub fn l2_normalize<B: Backend>(input: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = (input.clone() * input.clone()).sum_dim(1).sqrt(); // [rows, 1]
    input / norm
}

/// The part of a Hugging Face `config.json` that shapes the model, with `transformers`'
/// defaults for what a file may leave out.
#[derive(Deserialize)]
struct HfClipConfig {
    #[serde(default = "defaults::projection_dim")]
    projection_dim: usize,
    #[serde(default = "defaults::logit_scale_init_value")]
    logit_scale_init_value: f64,
    text_config: HfTextConfig,
    vision_config: HfVisionConfig,
}

#[derive(Deserialize)]
struct HfTextConfig {
    #[serde(default = "defaults::text_hidden_size")]
    hidden_size: usize,
    #[serde(default = "defaults::text_intermediate_size")]
    intermediate_size: usize,
    #[serde(default = "defaults::num_hidden_layers")]
    num_hidden_layers: usize,
    #[serde(default = "defaults::text_num_attention_heads")]
    num_attention_heads: usize,
    #[serde(default = "defaults::max_position_embeddings")]
    max_position_embeddings: usize,
    #[serde(default = "defaults::vocab_size")]
    vocab_size: usize,
    #[serde(default = "defaults::layer_norm_eps")]
    layer_norm_eps: f64,
    #[serde(default = "defaults::hidden_act")]
    hidden_act: String,
}

#[derive(Deserialize)]
struct HfVisionConfig {
    #[serde(default = "defaults::vision_hidden_size")]
    hidden_size: usize,
    #[serde(default = "defaults::vision_intermediate_size")]
    intermediate_size: usize,
    #[serde(default = "defaults::num_hidden_layers")]
    num_hidden_layers: usize,
    #[serde(default = "defaults::vision_num_attention_heads")]
    num_attention_heads: usize,
    #[serde(default = "defaults::patch_size")]
    patch_size: usize,
    #[serde(default = "defaults::image_size")]
    image_size: usize,
    #[serde(default = "defaults::num_channels")]
    num_channels: usize,
    #[serde(default = "defaults::layer_norm_eps")]
    layer_norm_eps: f64,
    #[serde(default = "defaults::hidden_act")]
    hidden_act: String,
}

/// `transformers`' `CLIPConfig`, `CLIPTextConfig` and `CLIPVisionConfig` defaults.
mod defaults {
    pub fn projection_dim() -> usize {
        512
    }
    pub fn logit_scale_init_value() -> f64 {
        2.6592
    }
    pub fn text_hidden_size() -> usize {
        512
    }
    pub fn text_intermediate_size() -> usize {
        2048
    }
    pub fn num_hidden_layers() -> usize {
        12
    }
    pub fn text_num_attention_heads() -> usize {
        8
    }
    pub fn max_position_embeddings() -> usize {
        77
    }
    pub fn vocab_size() -> usize {
        49408
    }
    pub fn layer_norm_eps() -> f64 {
        1e-5
    }
    pub fn hidden_act() -> String {
        "quick_gelu".to_string()
    }
    pub fn vision_hidden_size() -> usize {
        768
    }
    pub fn vision_intermediate_size() -> usize {
        3072
    }
    pub fn vision_num_attention_heads() -> usize {
        12
    }
    pub fn patch_size() -> usize {
        32
    }
    pub fn image_size() -> usize {
        224
    }
    pub fn num_channels() -> usize {
        3
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Int, Tensor, TensorData};

    use super::ClipConfig;
    use crate::{CpuBackend as B, Error};

    #[test]
    fn vit_l_14_has_the_paper_shapes() {
        let config = ClipConfig::vit_l_14();
        assert_eq!(config.vision.num_positions(), 257);
        assert_eq!(
            (
                config.vision.num_layers,
                config.vision.hidden_size,
                config.vision.num_heads
            ),
            (24, 1024, 16)
        );
        assert_eq!(
            (
                config.text.num_layers,
                config.text.hidden_size,
                config.text.num_heads
            ),
            (12, 768, 12)
        );
        assert_eq!(config.text.max_position_embeddings, 77);
        assert_eq!(config.text.vocab_size, 49408);
        assert_eq!(config.projection_dim, 768);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn tiny_model_produces_projected_features() {
        let device = Default::default();
        let model = ClipConfig::tiny().init::<B>(&device);
        let images = Tensor::<B, 4>::ones([2, 3, 32, 32], &device);
        assert_eq!(model.encode_image(images.clone()).dims(), [2, 64]);
        let ids = Tensor::<B, 2, Int>::from_data(
            TensorData::new(vec![49406i64, 320, 49407, 0, 49406, 49407, 0, 0], [2, 4]),
            &device,
        );
        assert_eq!(model.encode_text(ids.clone()).dims(), [2, 64]);
        assert_eq!(model.logits_per_image(images, ids).dims(), [2, 2]);
    }

    #[test]
    fn text_features_do_not_see_tokens_after_end_of_text() {
        // The text tower is causal and pools at end-of-text, so what follows it cannot matter.
        let device = Default::default();
        let model = ClipConfig::tiny().init::<B>(&device);
        let ids = |tail: i64| {
            Tensor::<B, 2, Int>::from_data(
                TensorData::new(vec![49406i64, 320, 1000, 49407, tail, tail], [1, 6]),
                &device,
            )
        };
        let padded = model
            .encode_text(ids(0))
            .into_data()
            .to_vec::<f32>()
            .expect("f32");
        let other = model
            .encode_text(ids(555))
            .into_data()
            .to_vec::<f32>()
            .expect("f32");
        assert_eq!(padded, other);
        // …whereas a token before it does.
        let changed = Tensor::<B, 2, Int>::from_data(
            TensorData::new(vec![49406i64, 321, 1000, 49407, 0, 0], [1, 6]),
            &device,
        );
        let changed = model
            .encode_text(changed)
            .into_data()
            .to_vec::<f32>()
            .expect("f32");
        assert_ne!(padded, changed);
    }

    #[test]
    fn impossible_shapes_are_refused() {
        let mut config = ClipConfig::tiny();
        config.vision.num_heads = 5;
        assert!(matches!(
            config.validate(),
            Err(Error::InvalidConfig { .. })
        ));
        let mut config = ClipConfig::tiny();
        config.vision.image_size = 30;
        assert!(config.validate().is_err());
    }

    #[test]
    fn hf_config_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("cpbuild-ml-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let gelu = dir.join("gelu.json");
        std::fs::write(
            &gelu,
            r#"{"text_config": {"hidden_act": "gelu"}, "vision_config": {}}"#,
        )
        .expect("write");
        let error = ClipConfig::from_hf_config_json(&gelu).expect_err("gelu is refused");
        assert!(error.to_string().contains("gelu.json"), "{error}");
        assert!(error.to_string().contains("quick_gelu"), "{error}");

        // Fields left out take transformers' defaults.
        let defaults = dir.join("defaults.json");
        std::fs::write(&defaults, r#"{"text_config": {}, "vision_config": {}}"#).expect("write");
        let config = ClipConfig::from_hf_config_json(&defaults).expect("defaults are valid");
        assert_eq!(
            (config.vision.patch_size, config.text.hidden_size),
            (32, 512)
        );

        let broken = dir.join("broken.json");
        std::fs::write(&broken, "{").expect("write");
        assert!(matches!(
            ClipConfig::from_hf_config_json(&broken),
            Err(Error::HfConfig { .. })
        ));
        assert!(matches!(
            ClipConfig::from_hf_config_json(dir.join("absent.json")),
            Err(Error::Read { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
