//! Reading a target's params: typed fields with messages that name the field and what it must
//! be, shared by the ML kinds.

use cpbuild_engine::action::ParamError;
use serde_json::Value as Json;

pub(crate) fn integer(params: &Json, field: &str) -> Result<Option<u64>, ParamError> {
    match params.get(field) {
        None => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            ParamError::at(
                field,
                format!("`{field}` must be a non-negative integer, not `{value}`"),
            )
        }),
    }
}

pub(crate) fn small(field: &str, value: u64) -> Result<u32, ParamError> {
    u32::try_from(value).map_err(|_| ParamError::at(field, format!("`{field}` is too large")))
}

pub(crate) fn string<'a>(params: &'a Json, field: &str) -> Result<Option<&'a str>, ParamError> {
    match params.get(field) {
        None => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(other) => Err(ParamError::at(
            field,
            format!("`{field}` must be a string, not `{other}`"),
        )),
    }
}

pub(crate) fn float(params: &Json, field: &str, default: f64) -> Result<f64, ParamError> {
    match params.get(field) {
        None => Ok(default),
        Some(value) => value
            .as_f64()
            .filter(|number| number.is_finite())
            .ok_or_else(|| {
                ParamError::at(field, format!("`{field}` must be a number, not `{value}`"))
            }),
    }
}

/// Refuses keys of `table` outside `known`, naming `kind` in the message.
pub(crate) fn refuse_unknown(table: &Json, known: &[&str], kind: &str) -> Result<(), ParamError> {
    let Some(object) = table.as_object() else {
        return Err(ParamError::whole("`params` must be a table"));
    };
    if let Some(unknown) = object.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(ParamError::at(
            unknown,
            format!(
                "unknown param `{unknown}`; `{kind}` takes {}",
                known
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// An optional small integer param (`stop_after_epoch`).
pub(crate) fn optional_small(params: &Json, field: &str) -> Result<Option<u32>, ParamError> {
    match integer(params, field)? {
        Some(value) => Ok(Some(small(field, value)?)),
        None => Ok(None),
    }
}

/// A training config's own check, as a param error on the first of `fields` the message names.
pub(crate) fn config_error(message: String, fields: &[&str]) -> ParamError {
    match fields.iter().find(|field| message.contains(*field)) {
        Some(field) => ParamError::at(field, message),
        None => ParamError::whole(message),
    }
}

/// A boolean param, `default` when absent.
pub(crate) fn boolean(params: &Json, field: &str, default: bool) -> Result<bool, ParamError> {
    match params.get(field) {
        None => Ok(default),
        Some(Json::Bool(on)) => Ok(*on),
        Some(other) => Err(ParamError::at(
            field,
            format!("`{field}` must be true or false, not `{other}`"),
        )),
    }
}

/// The `resume_from` param of a kind with perturbation windows: required by a perturbation that
/// starts after epoch 1 (it continues a baseline), refused without a perturbation.
pub(crate) fn resume_from(
    params: &Json,
    perturbation: Option<&cpbuild_ml::perturbation::Perturbation>,
) -> Result<Option<String>, ParamError> {
    let resume_from = string(params, "resume_from")?.map(str::to_string);
    match (perturbation, &resume_from) {
        (Some(p), None) if p.start > 1 => Err(ParamError::at(
            "perturbation",
            format!(
                "a perturbed run starting at epoch {} continues a baseline: set `resume_from = \"<baseline target>\"`",
                p.start
            ),
        )),
        (None, Some(_)) => Err(ParamError::at(
            "resume_from",
            "`resume_from` needs a `perturbation` (it resumes from the baseline's state after epoch `start − 1`)",
        )),
        _ => Ok(resume_from),
    }
}

/// The `data` table of a training kind: which world it names, and its fields.
pub(crate) struct DataTable<'a> {
    data: &'a Json,
    /// The world the table names (one of the kind's).
    pub(crate) world: &'a str,
}

impl<'a> DataTable<'a> {
    /// The `data` table of `params`, naming one of `worlds` (world, its fields); `example` is a
    /// `data = …` line for the error when it is missing. Unknown fields are refused.
    pub(crate) fn parse(
        params: &'a Json,
        example: &str,
        worlds: &[(&'a str, &[&str])],
    ) -> Result<DataTable<'a>, ParamError> {
        let Some(data) = params.get("data") else {
            return Err(ParamError::at(
                "data",
                format!("`data` is missing; e.g. `{example}`"),
            ));
        };
        let named = data.get("world").and_then(Json::as_str);
        let Some((world, known)) = worlds.iter().find(|(world, _)| Some(*world) == named) else {
            let names: Vec<String> = worlds
                .iter()
                .map(|(world, _)| format!("`{world}`"))
                .collect();
            return Err(ParamError::at(
                "data",
                format!("`data.world` must be {}", names.join(" or ")),
            ));
        };
        if let Some(unknown) = data
            .as_object()
            .and_then(|object| object.keys().find(|key| !known.contains(&key.as_str())))
        {
            return Err(ParamError::at(
                "data",
                format!("unknown field `data.{unknown}`; this world takes {known:?}"),
            ));
        }
        Ok(DataTable { data, world })
    }

    /// The non-negative integer `data.{name}`, if given.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, ParamError> {
        match self.data.get(name) {
            None => Ok(None),
            Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                ParamError::at(
                    "data",
                    format!("`data.{name}` must be a non-negative integer, not `{value}`"),
                )
            }),
        }
    }

    /// The string `data.{name}`, if given.
    pub(crate) fn text(&self, name: &str) -> Result<Option<&'a str>, ParamError> {
        match self.data.get(name) {
            None => Ok(None),
            Some(Json::String(text)) => Ok(Some(text)),
            Some(other) => Err(ParamError::at(
                "data",
                format!("`data.{name}` must be a string, not `{other}`"),
            )),
        }
    }

    /// `data.resolution`, which must be `size` (what `model` takes; the default).
    pub(crate) fn resolution(&self, size: usize, model: &str) -> Result<usize, ParamError> {
        let resolution = self.number("resolution")?.unwrap_or(size as u64);
        if resolution != size as u64 {
            return Err(ParamError::at(
                "data",
                format!("`data.resolution` is {resolution} but {model} takes {size}×{size} images"),
            ));
        }
        Ok(size)
    }
}

/// How a kind reads `image_noise`'s distribution from a `perturbation` table.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NoiseParam {
    /// CLIP-HBA: `noise = "target"` (default: N(mean, std) of the training targets) or
    /// `noise = "normal"` (N(0, 1)).
    Distribution,
    /// A classifier: `noise_std` = ε of N(0, ε²), default as given.
    Std { default: f64 },
}

/// Parses a `perturbation` table: `{ kind, start, length = 1, seed = 0 }` and the noise field
/// `noise` names. `target_mean`/`target_std` are left 0: the kind fills them from its data.
pub(crate) fn perturbation(
    table: &Json,
    noise: NoiseParam,
) -> Result<cpbuild_ml::perturbation::Perturbation, ParamError> {
    use cpbuild_ml::perturbation::{ImageNoise, Perturbation, PerturbationKind};
    let invalid = |message: String| ParamError::at("perturbation", message);
    let noise_field = match noise {
        NoiseParam::Distribution => "noise",
        NoiseParam::Std { .. } => "noise_std",
    };
    let known = ["kind", "start", "length", "seed", noise_field];
    if let Some(unknown) = table
        .as_object()
        .ok_or_else(|| invalid("`perturbation` must be a table".into()))?
        .keys()
        .find(|key| !known.contains(&key.as_str()))
    {
        return Err(invalid(format!(
            "unknown field `perturbation.{unknown}`; it takes {known:?}"
        )));
    }
    let kind = table
        .get("kind")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid("`perturbation.kind` is missing".into()))?;
    let kind = PerturbationKind::parse(kind).map_err(invalid)?;
    let number = |name: &str, default: Option<u64>| {
        match table.get(name) {
            None => default,
            Some(value) => value.as_u64(),
        }
        .ok_or_else(|| {
            invalid(format!(
                "`perturbation.{name}` must be a non-negative integer"
            ))
        })
    };
    let (noise, noise_std) = match noise {
        NoiseParam::Distribution => {
            let distribution = match table.get("noise") {
                None => ImageNoise::Target,
                Some(Json::String(name)) => ImageNoise::parse(name).map_err(invalid)?,
                Some(other) => {
                    return Err(invalid(format!(
                        "`perturbation.noise` must be `target` or `normal`, not `{other}`"
                    )));
                }
            };
            (distribution, 1.0)
        }
        NoiseParam::Std { default } => {
            let std = match table.get("noise_std") {
                None => default,
                Some(value) => value.as_f64().filter(|std| *std >= 0.0).ok_or_else(|| {
                    invalid("`perturbation.noise_std` must be a non-negative number".into())
                })?,
            };
            (ImageNoise::Normal, std)
        }
    };
    Ok(Perturbation {
        kind,
        start: small("perturbation", number("start", None)?)?,
        length: small("perturbation", number("length", Some(1))?)?,
        seed: number("seed", Some(0))?,
        target_mean: 0.0,
        target_std: 0.0,
        noise,
        noise_std,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpbuild_ml::perturbation::ImageNoise;
    use serde_json::json;

    #[test]
    fn image_noise_draws_the_targets_distribution_unless_asked_for_normal() {
        let table = |extra: Json| {
            let mut table = json!({ "kind": "image_noise", "start": 3 });
            if let (Some(object), Json::Object(extra)) = (table.as_object_mut(), extra) {
                object.extend(extra);
            }
            table
        };
        let default = perturbation(&table(json!({})), NoiseParam::Distribution).unwrap();
        assert_eq!(default.noise, ImageNoise::Target);
        assert_eq!((default.start, default.length, default.seed), (3, 1, 0));
        let normal = perturbation(
            &table(json!({ "noise": "normal" })),
            NoiseParam::Distribution,
        )
        .unwrap();
        assert_eq!(normal.noise, ImageNoise::Normal);
        assert_eq!(normal.noise_std, 1.0);
        let target = perturbation(
            &table(json!({ "noise": "target" })),
            NoiseParam::Distribution,
        )
        .unwrap();
        assert_eq!(target.noise, ImageNoise::Target);

        let error = perturbation(
            &table(json!({ "noise": "gauss" })),
            NoiseParam::Distribution,
        )
        .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("perturbation"));
        assert!(
            error.message.contains("unknown image noise `gauss`"),
            "{}",
            error.message
        );
        // CLIP-HBA has no `noise_std`; a classifier has no `noise`.
        let error = perturbation(
            &table(json!({ "noise_std": 0.1 })),
            NoiseParam::Distribution,
        )
        .unwrap_err();
        assert!(
            error
                .message
                .contains("unknown field `perturbation.noise_std`"),
            "{}",
            error.message
        );
        let vit = perturbation(&table(json!({})), NoiseParam::Std { default: 0.1 }).unwrap();
        assert_eq!((vit.noise, vit.noise_std), (ImageNoise::Normal, 0.1));
    }
}
