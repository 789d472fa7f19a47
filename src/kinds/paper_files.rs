//! The `check-paper-files` kind: one check, before any paper-profile run starts, of every file
//! the paper reads ([`crate::data::paper_files`]): the shipped THINGS and CLIP files against
//! their pinned sha256 sums, every THINGS photograph the two SPoSE files name, and the CLIP
//! weights' safetensors header. Every problem is reported at once, each with where the file
//! comes from. `recipes/paper.toml` makes the paper's frozen CLIP (`clip_weights`) depend on
//! it, so that nothing trains on a wrong file.
//!
//! # Params
//!
//! | param | type | meaning |
//! |---|---|---|
//! | `images` | string | the THINGS photographs folder (default `data/things/images`) |
//! | `weights` | string | the CLIP ViT-L/14 weights (default `data/clip/model.safetensors`) |
//!
//! Every shipped file (`data/README.md`), the folder and the weights must be declared inputs,
//! so that a change to any of them reruns the check.
//!
//! # Bundle
//!
//! `checked.json`: the shipped files with their sha256, the number of photographs found and
//! the weights file's size.

use std::path::Path;

use cpbuild_engine::action::{Action, ActionContext, ActionError, ParamError};
use serde_json::{Value as Json, json};

use super::params::{refuse_unknown, string};
use super::run::{check_inputs, write_file};
use crate::data::images::{DEFAULT_IMAGES_DIR, THINGS_IMAGES_SOURCE};
use crate::data::paper_files::{
    CLIP_WEIGHTS_SOURCE, DEFAULT_CLIP_WEIGHTS, DEFAULT_DATA_DIR, PaperFiles, SHIPPED_FILES,
};

/// The `check-paper-files` kind.
pub struct CheckPaperFiles;

const PARAMS: [&str; 2] = ["images", "weights"];

/// (images folder, weights file), relative to the project root.
fn parse(params: &Json) -> Result<(String, String), ParamError> {
    refuse_unknown(params, &PARAMS, "check-paper-files")?;
    let images = string(params, "images")?.unwrap_or(DEFAULT_IMAGES_DIR);
    let weights = string(params, "weights")?.unwrap_or(DEFAULT_CLIP_WEIGHTS);
    Ok((images.to_string(), weights.to_string()))
}

impl Action for CheckPaperFiles {
    fn kind(&self) -> &'static str {
        "check-paper-files"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn description(&self) -> &'static str {
        "checks every file the paper profile reads (pinned sha256 sums, THINGS photographs, CLIP weights) and reports every problem at once"
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        parse(params).map(|_| ())
    }

    fn missing_input_help(&self, params: &Json, input: &str) -> Option<String> {
        let (images, weights) = parse(params).ok()?;
        let input = Path::new(input);
        if input == Path::new(&images) {
            Some(THINGS_IMAGES_SOURCE.to_string())
        } else if input == Path::new(&weights) {
            Some(format!("the CLIP weights are {CLIP_WEIGHTS_SOURCE}"))
        } else {
            SHIPPED_FILES
                .iter()
                .find(|file| input == Path::new(DEFAULT_DATA_DIR).join(file.path))
                .map(|file| {
                    format!(
                        "`{}` ships with cpbuild ({}; sha256 {}): restore it with `git checkout -- {}`",
                        input.display(),
                        file.source,
                        file.sha256,
                        input.display()
                    )
                })
        }
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let (images, weights) =
            parse(ctx.params).map_err(|error| ActionError::failed(error.message))?;
        let shipped: Vec<String> = SHIPPED_FILES
            .iter()
            .map(|file| format!("{DEFAULT_DATA_DIR}/{}", file.path))
            .collect();
        let mut required: Vec<&str> = shipped.iter().map(String::as_str).collect();
        required.push(&weights);
        check_inputs(ctx, "check-paper-files", &required, &[&images])?;
        let files = PaperFiles {
            data_dir: ctx.project_root.join(DEFAULT_DATA_DIR),
            images_dir: ctx.project_root.join(&images),
            clip_weights: ctx.project_root.join(&weights),
        };
        files
            .check()
            .map_err(|error| ActionError::failed(error.to_string()))?;
        let photographs = files
            .image_names()
            .map_err(|error| ActionError::failed(error.to_string()))?
            .len();
        let weights_size = std::fs::metadata(&files.clip_weights)
            .map(|meta| meta.len())
            .map_err(|error| ActionError::failed(format!("`{weights}`: {error}")))?;
        let checked = json!({
            "shipped": SHIPPED_FILES
                .iter()
                .map(|file| json!({ "path": format!("{DEFAULT_DATA_DIR}/{}", file.path), "sha256": file.sha256 }))
                .collect::<Vec<_>>(),
            "photographs": { "folder": images, "found": photographs },
            "weights": { "file": weights, "bytes": weights_size },
        });
        let mut text = serde_json::to_string_pretty(&checked)
            .map_err(|error| ActionError::failed(error.to_string()))?;
        text.push('\n');
        write_file(&ctx.out_dir.join("checked.json"), text.as_bytes())?;
        let _ = writeln!(
            ctx.log,
            "check-paper-files: {} shipped files match their sha256; {photographs} photographs in `{images}`; `{weights}` is a safetensors file of {weights_size} bytes",
            SHIPPED_FILES.len()
        );
        Ok(())
    }
}
