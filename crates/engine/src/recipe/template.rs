//! Substitution of profile variables (`${name}`) and grid variables (`{name}`) in strings.
//!
//! A string that is exactly one placeholder takes the variable's value with its type
//! (`epochs = "${epochs}"` gives an integer); otherwise values are interpolated as text.
//! `$${` writes a literal `${`. Braces that do not name a grid variable are left alone, so
//! shell commands such as `awk '{print $1}'` need no escaping.

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// The variables in scope while expanding one target.
#[derive(Debug, Clone, Copy)]
pub struct Bindings<'a> {
    /// The active profile's name.
    pub profile_name: &'a str,
    /// The active profile's variables.
    pub profile: &'a BTreeMap<String, Json>,
    /// The current grid point (empty outside `foreach`).
    pub grid: &'a BTreeMap<String, Json>,
}

/// Why a substitution failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SubstituteError {
    /// `${name}` names no variable of the active profile.
    UnknownProfileVariable { name: String, defined: Vec<String> },
    /// An array or table cannot be interpolated into a longer string.
    NotText {
        name: String,
        type_name: &'static str,
    },
    /// `${` without a closing `}` or with a bad name.
    Syntax(String),
}

#[derive(Debug, PartialEq)]
enum Piece<'s> {
    Text(std::borrow::Cow<'s, str>),
    Profile(&'s str),
    Grid(&'s str),
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn pieces<'s>(
    text: &'s str,
    grid: &BTreeMap<String, Json>,
) -> Result<Vec<Piece<'s>>, SubstituteError> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(position) = rest.find(['$', '{']) {
        literal.push_str(&rest[..position]);
        let tail = &rest[position..];
        if let Some(after) = tail.strip_prefix("$${") {
            literal.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(SubstituteError::Syntax(format!(
                    "`${{` without a closing `}}` in `{text}`; write `$${{` for a literal `${{`"
                )));
            };
            let name = &after[..end];
            if !is_identifier(name) {
                return Err(SubstituteError::Syntax(format!(
                    "`${{{name}}}` in `{text}` is not a variable name; write `$${{` for a literal `${{`"
                )));
            }
            if !literal.is_empty() {
                out.push(Piece::Text(std::mem::take(&mut literal).into()));
            }
            out.push(Piece::Profile(name));
            rest = &after[end + 1..];
        } else if let Some(after) = tail.strip_prefix('{') {
            match after.find('}') {
                Some(end) if grid.contains_key(&after[..end]) => {
                    if !literal.is_empty() {
                        out.push(Piece::Text(std::mem::take(&mut literal).into()));
                    }
                    out.push(Piece::Grid(&after[..end]));
                    rest = &after[end + 1..];
                }
                _ => {
                    literal.push('{');
                    rest = after;
                }
            }
        } else {
            // A lone `$`.
            literal.push('$');
            rest = &tail[1..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() || out.is_empty() {
        out.push(Piece::Text(literal.into()));
    }
    Ok(out)
}

/// Whether `text` uses any placeholder at all (cheap pre-check).
pub fn has_placeholders(text: &str) -> bool {
    text.contains(['$', '{'])
}

/// Renders a scalar as text for interpolation, or `None` for arrays and tables.
pub fn scalar_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Null => Some(String::new()),
        Json::Array(_) | Json::Object(_) => None,
    }
}

fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Array(_) => "an array",
        Json::Object(_) => "a table",
        _ => "a scalar",
    }
}

/// Substitutes every placeholder in `text`.
pub fn substitute(text: &str, bindings: Bindings<'_>) -> Result<Json, SubstituteError> {
    if !has_placeholders(text) {
        return Ok(Json::String(text.to_string()));
    }
    let pieces = pieces(text, bindings.grid)?;
    let lookup = |piece: &Piece<'_>| -> Result<Option<(String, Json)>, SubstituteError> {
        match piece {
            Piece::Text(_) => Ok(None),
            Piece::Grid(name) => Ok(Some((name.to_string(), bindings.grid[*name].clone()))),
            Piece::Profile(name) => match bindings.profile.get(*name) {
                Some(value) => Ok(Some((name.to_string(), value.clone()))),
                None => Err(SubstituteError::UnknownProfileVariable {
                    name: name.to_string(),
                    defined: bindings.profile.keys().cloned().collect(),
                }),
            },
        }
    };
    if pieces.len() == 1 {
        return match &pieces[0] {
            Piece::Text(text) => Ok(Json::String(text.to_string())),
            piece => Ok(lookup(piece)?.map(|(_, value)| value).unwrap_or(Json::Null)),
        };
    }
    let mut out = String::new();
    for piece in &pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            piece => {
                if let Some((name, value)) = lookup(piece)? {
                    match scalar_text(&value) {
                        Some(text) => out.push_str(&text),
                        None => {
                            return Err(SubstituteError::NotText {
                                name,
                                type_name: type_name(&value),
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(Json::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(text: &str) -> Result<Json, SubstituteError> {
        let profile: BTreeMap<String, Json> = [
            ("epochs".to_string(), json!(10)),
            ("grid".to_string(), json!([1, 2])),
        ]
        .into();
        let grid: BTreeMap<String, Json> = [("k".to_string(), json!(3))].into();
        substitute(
            text,
            Bindings {
                profile_name: "ci",
                profile: &profile,
                grid: &grid,
            },
        )
    }

    #[test]
    fn whole_placeholders_keep_their_type() {
        assert_eq!(run("${epochs}").unwrap(), json!(10));
        assert_eq!(run("{k}").unwrap(), json!(3));
        assert_eq!(run("${grid}").unwrap(), json!([1, 2]));
    }

    #[test]
    fn interpolation_and_escapes() {
        assert_eq!(run("e{k}_n${epochs}").unwrap(), json!("e3_n10"));
        assert_eq!(
            run("awk '{print $1}' {k}").unwrap(),
            json!("awk '{print $1}' 3")
        );
        assert_eq!(run("echo $${HOME}").unwrap(), json!("echo ${HOME}"));
        assert_eq!(run("{x}").unwrap(), json!("{x}"));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            run("${nope}"),
            Err(SubstituteError::UnknownProfileVariable { .. })
        ));
        assert!(matches!(
            run("a${grid}"),
            Err(SubstituteError::NotText { .. })
        ));
        assert!(matches!(run("${epochs"), Err(SubstituteError::Syntax(_))));
    }
}
