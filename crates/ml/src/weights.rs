//! Loads CLIP weights from a Hugging Face `CLIPModel` `model.safetensors`
//! (`openai/clip-vit-large-patch14` naming) into a [`ClipModel`].
//!
//! The model is first created lazily from its config (no tensor is allocated), then every
//! parameter is replaced by the tensor of the same name, so the expected shapes come from the
//! config itself. Differences from PyTorch's layout handled here:
//! - `nn.Linear` stores `[out, in]`, burn's `Linear` `[in, out]`: linear weights are transposed.
//! - `logit_scale` is a 0-d tensor in the file and `[1]` in the model.
//! - f16 and bf16 tensors are widened to f32.
//!
//! Every missing or mis-shaped tensor is collected before failing, so one error names them all
//! (the first [`crate::LISTED_PROBLEMS`] of them, with expected and found shapes).
//! Tensors in the file that the model does not use are ignored.

use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::clip::{
    ClipAttention, ClipEncoder, ClipEncoderLayer, ClipMlp, ClipTextTransformer,
    ClipVisionTransformer,
};
use crate::error::LISTED_PROBLEMS;
use crate::{ClipConfig, ClipModel, Error, Result, WeightProblem};

/// Reads `path` (a safetensors file in the Hugging Face `CLIPModel` layout) into a CLIP of
/// shape `config` on `device`.
///
/// The parameters keep burn's default `require_grad` (true); freeze them with
/// [`burn::module::Module::no_grad`] where needed ([`crate::ClipHba`] does).
pub fn load_clip<B: Backend>(
    config: &ClipConfig,
    path: impl AsRef<Path>,
    device: &B::Device,
) -> Result<ClipModel<B>> {
    let path = path.as_ref();
    config.validate()?;
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|error| Error::CorruptWeights {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    let mut loader = Loader {
        tensors,
        path: path.to_path_buf(),
        device: device.clone(),
        problems: Vec::new(),
    };
    let model = loader.clip(config.init(device))?;
    loader.finish()?;
    Ok(model)
}

/// Walks the model, replacing each parameter by its tensor from the file and noting problems.
struct Loader<'data, B: Backend> {
    tensors: SafeTensors<'data>,
    path: PathBuf,
    device: B::Device,
    problems: Vec<WeightProblem>,
}

impl<B: Backend> Loader<'_, B> {
    fn finish(self) -> Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let total = self.problems.len();
        let mut problems = self.problems;
        problems.truncate(LISTED_PROBLEMS);
        Err(Error::WeightsMismatch {
            path: self.path,
            problems,
            total,
        })
    }

    fn clip(&mut self, model: ClipModel<B>) -> Result<ClipModel<B>> {
        let logit_scale = self.scalar(model.logit_scale, "logit_scale")?;
        Ok(ClipModel {
            vision_model: self.vision(model.vision_model, "vision_model")?,
            text_model: self.text(model.text_model, "text_model")?,
            visual_projection: self.linear(model.visual_projection, "visual_projection")?,
            text_projection: self.linear(model.text_projection, "text_projection")?,
            logit_scale,
        })
    }

    fn vision(
        &mut self,
        tower: ClipVisionTransformer<B>,
        prefix: &str,
    ) -> Result<ClipVisionTransformer<B>> {
        Ok(ClipVisionTransformer {
            patch_embedding: self.conv(
                tower.patch_embedding,
                &format!("{prefix}.embeddings.patch_embedding"),
            )?,
            class_embedding: self.param(
                tower.class_embedding,
                &format!("{prefix}.embeddings.class_embedding"),
                Layout::Same,
            )?,
            position_embedding: self.positions(tower.position_embedding, prefix)?,
            pre_layrnorm: self.layer_norm(tower.pre_layrnorm, &format!("{prefix}.pre_layrnorm"))?,
            encoder: self.encoder(tower.encoder, &format!("{prefix}.encoder"))?,
            post_layernorm: self
                .layer_norm(tower.post_layernorm, &format!("{prefix}.post_layernorm"))?,
        })
    }

    fn text(
        &mut self,
        tower: ClipTextTransformer<B>,
        prefix: &str,
    ) -> Result<ClipTextTransformer<B>> {
        Ok(ClipTextTransformer {
            token_embedding: self.embedding(
                tower.token_embedding,
                &format!("{prefix}.embeddings.token_embedding"),
            )?,
            position_embedding: self.positions(tower.position_embedding, prefix)?,
            encoder: self.encoder(tower.encoder, &format!("{prefix}.encoder"))?,
            final_layer_norm: self.layer_norm(
                tower.final_layer_norm,
                &format!("{prefix}.final_layer_norm"),
            )?,
        })
    }

    fn encoder(&mut self, encoder: ClipEncoder<B>, prefix: &str) -> Result<ClipEncoder<B>> {
        let layers = encoder
            .layers
            .into_iter()
            .enumerate()
            .map(|(index, layer)| self.encoder_layer(layer, &format!("{prefix}.layers.{index}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(ClipEncoder { layers })
    }

    fn encoder_layer(
        &mut self,
        layer: ClipEncoderLayer<B>,
        prefix: &str,
    ) -> Result<ClipEncoderLayer<B>> {
        Ok(ClipEncoderLayer {
            layer_norm1: self.layer_norm(layer.layer_norm1, &format!("{prefix}.layer_norm1"))?,
            self_attn: self.attention(layer.self_attn, &format!("{prefix}.self_attn"))?,
            layer_norm2: self.layer_norm(layer.layer_norm2, &format!("{prefix}.layer_norm2"))?,
            mlp: self.mlp(layer.mlp, &format!("{prefix}.mlp"))?,
        })
    }

    fn attention(&mut self, attention: ClipAttention<B>, prefix: &str) -> Result<ClipAttention<B>> {
        Ok(ClipAttention {
            q_proj: self.linear(attention.q_proj, &format!("{prefix}.q_proj"))?,
            k_proj: self.linear(attention.k_proj, &format!("{prefix}.k_proj"))?,
            v_proj: self.linear(attention.v_proj, &format!("{prefix}.v_proj"))?,
            out_proj: self.linear(attention.out_proj, &format!("{prefix}.out_proj"))?,
            num_heads: attention.num_heads,
        })
    }

    fn mlp(&mut self, mlp: ClipMlp<B>, prefix: &str) -> Result<ClipMlp<B>> {
        Ok(ClipMlp {
            fc1: self.linear(mlp.fc1, &format!("{prefix}.fc1"))?,
            fc2: self.linear(mlp.fc2, &format!("{prefix}.fc2"))?,
        })
    }

    fn linear(&mut self, mut linear: Linear<B>, prefix: &str) -> Result<Linear<B>> {
        linear.weight = self.param(
            linear.weight,
            &format!("{prefix}.weight"),
            Layout::Transposed,
        )?;
        if let Some(bias) = linear.bias.take() {
            linear.bias = Some(self.param(bias, &format!("{prefix}.bias"), Layout::Same)?);
        }
        Ok(linear)
    }

    fn layer_norm(&mut self, mut norm: LayerNorm<B>, prefix: &str) -> Result<LayerNorm<B>> {
        norm.gamma = self.param(norm.gamma, &format!("{prefix}.weight"), Layout::Same)?;
        if let Some(beta) = norm.beta.take() {
            norm.beta = Some(self.param(beta, &format!("{prefix}.bias"), Layout::Same)?);
        }
        Ok(norm)
    }

    fn conv(&mut self, mut conv: Conv2d<B>, prefix: &str) -> Result<Conv2d<B>> {
        conv.weight = self.param(conv.weight, &format!("{prefix}.weight"), Layout::Same)?;
        if let Some(bias) = conv.bias.take() {
            conv.bias = Some(self.param(bias, &format!("{prefix}.bias"), Layout::Same)?);
        }
        Ok(conv)
    }

    fn embedding(&mut self, mut embedding: Embedding<B>, prefix: &str) -> Result<Embedding<B>> {
        embedding.weight =
            self.param(embedding.weight, &format!("{prefix}.weight"), Layout::Same)?;
        Ok(embedding)
    }

    /// `logit_scale`: a 0-d tensor in PyTorch, `[1]` here.
    fn scalar(&mut self, param: Param<Tensor<B, 1>>, name: &str) -> Result<Param<Tensor<B, 1>>> {
        match self.read(name, &[])? {
            Some(values) => {
                let tensor = Tensor::from_data(TensorData::new(values, [1]), &self.device);
                let id = param.id;
                Ok(param.transform_for_load(tensor, id))
            }
            None => Ok(param),
        }
    }

    /// A tower's learned positions, `{prefix}.embeddings.position_embedding.weight`.
    fn positions(
        &mut self,
        param: Param<Tensor<B, 2>>,
        prefix: &str,
    ) -> Result<Param<Tensor<B, 2>>> {
        let name = format!("{prefix}.embeddings.position_embedding.weight");
        self.param(param, &name, Layout::Same)
    }

    /// Replaces `param` by the tensor `name`, or keeps it and notes the problem.
    fn param<const D: usize>(
        &mut self,
        param: Param<Tensor<B, D>>,
        name: &str,
        layout: Layout,
    ) -> Result<Param<Tensor<B, D>>> {
        let model_shape = param.lazy_shape().dims::<D>();
        let file_shape: Vec<usize> = match layout {
            Layout::Same => model_shape.to_vec(),
            Layout::Transposed => model_shape.iter().rev().copied().collect(),
        };
        let Some(mut values) = self.read(name, &file_shape)? else {
            return Ok(param);
        };
        if layout == Layout::Transposed {
            values = transpose(&values, file_shape[0], file_shape[1]);
        }
        let tensor = Tensor::from_data(TensorData::new(values, model_shape), &self.device);
        let id = param.id;
        Ok(param.transform_for_load(tensor, id))
    }

    /// The values of tensor `name` as f32 in the file's layout, or `None` after noting why
    /// they cannot be used. Fails only when the file itself is inconsistent.
    fn read(&mut self, name: &str, expected: &[usize]) -> Result<Option<Vec<f32>>> {
        let view = match self.tensors.tensor(name) {
            Ok(view) => view,
            Err(_) => {
                self.problems.push(WeightProblem::Missing {
                    name: name.to_string(),
                    expected: expected.to_vec(),
                });
                return Ok(None);
            }
        };
        if view.shape() != expected {
            self.problems.push(WeightProblem::Shape {
                name: name.to_string(),
                expected: expected.to_vec(),
                found: view.shape().to_vec(),
            });
            return Ok(None);
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|bytes| half::f16::from_le_bytes([bytes[0], bytes[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|bytes| half::bf16::from_le_bytes([bytes[0], bytes[1]]).to_f32())
                .collect(),
            other => {
                self.problems.push(WeightProblem::Dtype {
                    name: name.to_string(),
                    found: format!("{other:?}"),
                });
                return Ok(None);
            }
        };
        let count: usize = expected.iter().product();
        if values.len() != count {
            return Err(Error::CorruptWeights {
                path: self.path.clone(),
                message: format!(
                    "tensor `{name}` holds {} values for shape {expected:?}",
                    values.len()
                ),
            });
        }
        Ok(Some(values))
    }
}

/// How a parameter's layout relates to the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Same shape and order.
    Same,
    /// A 2-d matrix stored transposed (`nn.Linear`'s `[out, in]` against burn's `[in, out]`).
    Transposed,
}

/// Transposes a row-major `[rows, cols]` matrix into a row-major `[cols, rows]` one.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut transposed = vec![0.0; values.len()];
    for row in 0..rows {
        for col in 0..cols {
            transposed[col * rows + row] = values[row * cols + col];
        }
    }
    transposed
}

#[cfg(test)]
mod tests {
    use super::transpose;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        // [[1, 2, 3], [4, 5, 6]] -> [[1, 4], [2, 5], [3, 6]]
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(transpose(&values, 2, 3), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
