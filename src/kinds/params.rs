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
