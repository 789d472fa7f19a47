//! Expansion of recipe entries into concrete targets for one profile.
//!
//! Profile variables are substituted everywhere (`${name}`), `foreach` grids are expanded
//! (cartesian product, first variable in name order outermost) and grid variables are
//! substituted into the name template, params, deps, inputs, command and outputs (`{name}`).
//! In `deps` and `inputs`, an item that is exactly `${var}` with a list value stands for the
//! list's items.
//!
//! # Data-dependent grids
//!
//! A grid variable's list, or a range's `from`/`to`/`step`, may be a value that a built target
//! publishes (the `info` of its bundle's manifest):
//!
//! ```toml
//! foreach = { k = { from = 1, to = { target = "hba_baseline", value = "best_epoch" } } }
//! ```
//!
//! Such a grid expands only once that target is built for its current inputs: the caller
//! passes the values of built targets in [`Published`]; a grid whose target is not there yet is
//! returned as a [`PendingGrid`] instead of targets (Snakemake's checkpoint rules play the
//! same part). A published value that is missing, or not an integer (a range bound) or a list
//! of scalars (a whole variable), is an error naming the target and the field.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::node::{Node, NodeValue, TableEntry};
use super::template::{self, Bindings, SubstituteError};
use super::{Entry, Recipes, did_you_mean, string_list};
use crate::error::{Error, Location, Result};

/// The most targets one `foreach` may create (a guard against typos like `to = 1e9`).
pub const MAX_GRID_POINTS: usize = 1_000_000;

/// A dependency as written in a recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct DepRef {
    /// The target (or grid group) name, after substitution.
    pub name: String,
    /// Where it is written.
    pub location: Location,
}

/// An input file or glob as written in a recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct InputPattern {
    /// The pattern, after substitution, relative to the project root.
    pub pattern: String,
    /// Where it is written.
    pub location: Location,
}

/// Values that built targets publish: target name → its manifest's `info`.
pub type Published = BTreeMap<String, BTreeMap<String, Json>>;

/// A grid that waits on a value of a target that is not built yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingGrid {
    /// The `[target.KEY]` of the grid (its group name).
    pub group: String,
    /// The grid's name template (e.g. `sweep_e{k}`).
    pub name_template: String,
    /// The target whose value the grid needs.
    pub target: String,
    /// The published value it needs (a key of that target's `info`).
    pub value: String,
    /// Where the reference is written.
    pub location: Location,
}

/// What [`expand`] makes of the recipes: the targets, and the grids still waiting on a value.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// Every concrete target, in recipe order.
    pub targets: Vec<TargetSpec>,
    /// Grids that wait on a target to be built.
    pub pending: Vec<PendingGrid>,
}

/// One concrete target.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The target's name.
    pub name: String,
    /// The `[target.KEY]` it came from (equal to `name` outside grids).
    pub group: String,
    /// Which action runs it.
    pub kind: String,
    /// Where `kind` is written.
    pub kind_location: Location,
    /// Where the target is declared (its `[target.KEY]` key).
    pub location: Location,
    /// The resolved params (always a JSON object).
    pub params: Json,
    /// Where `params` (or, without it, the target) is written.
    pub params_location: Location,
    /// The dependencies, in recipe order.
    pub deps: Vec<DepRef>,
    /// Input files and globs.
    pub inputs: Vec<InputPattern>,
    /// A human description, if any.
    pub description: Option<String>,
    /// The grid point that produced this target (empty outside grids).
    pub grid: BTreeMap<String, Json>,
    /// Where each top-level param is written (for errors about one param).
    pub field_locations: BTreeMap<String, Location>,
    /// `command` / `outputs` written as target fields (only `shell` takes them), with the
    /// location of each key.
    pub shell_fields: Vec<(String, Location)>,
}

/// Expands every entry of `recipes` under profile `profile_name`; data-dependent grids take
/// their values from `published` or wait (see the module doc).
pub fn expand(recipes: &Recipes, profile_name: &str, published: &Published) -> Result<Expansion> {
    let profile = recipes.profile(profile_name)?;
    let mut expansion = Expansion::default();
    for entry in &recipes.entries {
        Expander {
            recipes,
            entry,
            profile_name,
            profile: &profile,
            published,
        }
        .expand(&mut expansion)?;
    }
    Ok(expansion)
}

struct Expander<'a> {
    recipes: &'a Recipes,
    entry: &'a Entry,
    profile_name: &'a str,
    profile: &'a BTreeMap<String, Json>,
    published: &'a Published,
}

/// A grid's points, or the value it waits on.
enum Grid {
    Points(Vec<BTreeMap<String, Json>>),
    Pending {
        target: String,
        value: String,
        location: Location,
    },
}

/// A `{ target = "…", value = "…" }` reference to a published value, if `value` is one.
fn published_reference(value: &Json) -> Option<(&str, &str)> {
    let object = value.as_object()?;
    if object.len() != 2 {
        return None;
    }
    Some((
        object.get("target")?.as_str()?,
        object.get("value")?.as_str()?,
    ))
}

impl Expander<'_> {
    fn field(&self, name: &str) -> Option<&TableEntry> {
        self.entry.fields.get(name)
    }

    fn entry_location(&self) -> Location {
        self.recipes.location(self.entry.file, &self.entry.key_span)
    }

    fn expand(&self, expansion: &mut Expansion) -> Result<()> {
        let out = &mut expansion.targets;
        let key = &self.entry.key;
        let kind_field = self.field("kind").ok_or_else(|| Error::Recipe {
            location: self.entry_location(),
            message: format!("target `{key}` has no `kind`"),
            help: Some(
                "add `kind = \"shell\"` (or another kind; `cpbuild list --kinds` shows them)"
                    .into(),
            ),
        })?;
        let kind = kind_field.node.as_str().ok_or_else(|| {
            self.recipes.error_at(
                &kind_field.node,
                format!("`kind` of target `{key}` must be a string"),
                None,
            )
        })?;
        let grid_points = match (self.field("foreach"), self.field("name")) {
            (Some(foreach), Some(name)) => {
                let variables: Vec<&String> = foreach
                    .node
                    .as_table()
                    .map(|table| table.keys().collect())
                    .unwrap_or_default();
                let grid = self.grid(&foreach.node)?;
                self.check_name_template(&name.node, &variables)?;
                match grid {
                    Grid::Points(points) => points,
                    Grid::Pending {
                        target,
                        value,
                        location,
                    } => {
                        expansion.pending.push(PendingGrid {
                            group: key.clone(),
                            name_template: name.node.as_str().unwrap_or_default().to_string(),
                            target,
                            value,
                            location,
                        });
                        return Ok(());
                    }
                }
            }
            (Some(foreach), None) => {
                return Err(Error::Recipe {
                    location: self.recipes.location(foreach.node.file, &foreach.key_span),
                    message: format!(
                        "bad grid: target `{key}` has `foreach` but no `name` template"
                    ),
                    help: Some(format!(
                        "add e.g. `name = \"{key}_{{var}}\"` using every grid variable"
                    )),
                });
            }
            (None, Some(name)) => {
                return Err(Error::Recipe {
                    location: self.recipes.location(name.node.file, &name.key_span),
                    message: format!("target `{key}` has a `name` template but no `foreach` grid"),
                    help: Some("remove `name` (the table key is the name) or add `foreach`".into()),
                });
            }
            (None, None) => vec![BTreeMap::new()],
        };

        let kind_location = self.recipes.node_location(&kind_field.node);
        let location = self.entry_location();
        let params_location = self
            .field("params")
            .map(|p| self.recipes.node_location(&p.node))
            .unwrap_or_else(|| location.clone());
        let description = match self.field("description") {
            Some(d) => Some(
                d.node
                    .as_str()
                    .ok_or_else(|| {
                        self.recipes.error_at(
                            &d.node,
                            "`description` must be a string".into(),
                            None,
                        )
                    })?
                    .to_string(),
            ),
            None => None,
        };

        for grid in grid_points {
            let bindings = Bindings {
                profile_name: self.profile_name,
                profile: self.profile,
                grid: &grid,
            };
            let name = match self.field("name") {
                Some(template) => self.substituted_string(&template.node, bindings, "`name`")?,
                None => key.clone(),
            };
            let mut params = match self.field("params") {
                Some(p) => {
                    let value = self.substitute_node(&p.node, bindings)?;
                    if !value.is_object() {
                        return Err(self.recipes.error_at(
                            &p.node,
                            format!("`params` of target `{key}` must be a table"),
                            Some("write `params = { name = value }` or a `[target.NAME.params]` table".into()),
                        ));
                    }
                    value
                }
                None => Json::Object(Default::default()),
            };
            let mut field_locations: BTreeMap<String, Location> = BTreeMap::new();
            if let Some(p) = self.field("params")
                && let Some(table) = p.node.as_table()
            {
                for (name, entry) in table {
                    field_locations.insert(name.clone(), self.recipes.node_location(&entry.node));
                }
            }
            let mut shell_fields = Vec::new();
            {
                let object = params.as_object_mut().expect("checked above");
                for field in ["command", "outputs"] {
                    if let Some(value) = self.field(field) {
                        if object.contains_key(field) {
                            return Err(self.recipes.error_at(
                                &value.node,
                                format!(
                                    "target `{key}` sets `{field}` both as a field and in `params`"
                                ),
                                Some("keep one".into()),
                            ));
                        }
                        object.insert(field.into(), self.substitute_node(&value.node, bindings)?);
                        let location = self.recipes.node_location(&value.node);
                        field_locations.insert(field.into(), location.clone());
                        shell_fields.push((
                            field.to_string(),
                            self.recipes.location(value.node.file, &value.key_span),
                        ));
                    }
                }
            }
            let deps = self.string_list_field("deps", bindings)?;
            let inputs = self.string_list_field("inputs", bindings)?;
            out.push(TargetSpec {
                name,
                group: key.clone(),
                kind: kind.to_string(),
                kind_location: kind_location.clone(),
                location: location.clone(),
                params,
                params_location: params_location.clone(),
                deps: deps
                    .into_iter()
                    .map(|(name, location)| DepRef { name, location })
                    .collect(),
                inputs: inputs
                    .into_iter()
                    .map(|(pattern, location)| InputPattern { pattern, location })
                    .collect(),
                description: description.clone(),
                grid,
                field_locations,
                shell_fields,
            });
        }
        Ok(())
    }

    /// A list of strings (`deps`, `inputs`); an item that is exactly one `${var}` whose value
    /// is a list stands for that list's items, so a profile can give a target more or fewer of
    /// them (`inputs = ["a.csv", "${image_inputs}"]` with `image_inputs = []` on one profile).
    fn string_list_field(
        &self,
        field: &str,
        bindings: Bindings<'_>,
    ) -> Result<Vec<(String, Location)>> {
        let Some(entry) = self.field(field) else {
            return Ok(Vec::new());
        };
        let what = format!("`{field}` of target `{}`", self.entry.key);
        let mut out = Vec::new();
        for (_, node) in string_list(self.recipes, &entry.node, &what)? {
            let location = self.recipes.node_location(node);
            match self.substitute_node(node, bindings)? {
                Json::Array(items) => {
                    for item in items {
                        let text = match &item {
                            Json::String(s) => Some(s.clone()),
                            Json::Number(_) | Json::Bool(_) => template::scalar_text(&item),
                            _ => None,
                        };
                        let text = text.ok_or_else(|| {
                            self.recipes.error_at(
                                node,
                                format!(
                                    "{what}: every item of the list `{}` stands for must be a string, but one is `{item}`",
                                    super::to_json(node)
                                ),
                                None,
                            )
                        })?;
                        out.push((text, location.clone()));
                    }
                }
                _ => out.push((self.substituted_string(node, bindings, &what)?, location)),
            }
        }
        Ok(out)
    }

    fn substituted_string(
        &self,
        node: &Node,
        bindings: Bindings<'_>,
        what: &str,
    ) -> Result<String> {
        match self.substitute_node(node, bindings)? {
            Json::String(s) => Ok(s),
            other => template::scalar_text(&other)
                .filter(|_| !other.is_null())
                .ok_or_else(|| {
                    self.recipes.error_at(
                        node,
                        format!("{what} must be a string, but substitution gives `{other}`"),
                        None,
                    )
                }),
        }
    }

    fn substitute_node(&self, node: &Node, bindings: Bindings<'_>) -> Result<Json> {
        Ok(match &node.value {
            NodeValue::String(text) => template::substitute(text, bindings)
                .map_err(|e| self.substitute_error(node, e, bindings))?,
            NodeValue::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.substitute_node(item, bindings))
                    .collect::<Result<_>>()?,
            ),
            NodeValue::Table(table) => Json::Object(
                table
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.substitute_node(&v.node, bindings)?)))
                    .collect::<Result<_>>()?,
            ),
            _ => super::to_json(node),
        })
    }

    fn substitute_error(
        &self,
        node: &Node,
        error: SubstituteError,
        bindings: Bindings<'_>,
    ) -> Error {
        let key = &self.entry.key;
        match error {
            SubstituteError::UnknownProfileVariable { name, defined } => {
                let suggestion = did_you_mean(&name, defined.iter().map(String::as_str));
                let listed: Vec<String> = defined.iter().map(|d| format!("`{d}`")).collect();
                let mut help = match suggestion {
                    Some(s) => format!("did you mean `${{{s}}}`? "),
                    None => String::new(),
                };
                if listed.is_empty() {
                    help.push_str(&format!(
                        "profile `{}` defines no variables; declare `{name}` in every `[profile.NAME]` table",
                        bindings.profile_name
                    ));
                } else {
                    help.push_str(&format!(
                        "profile `{}` defines {}; declare `{name}` in every `[profile.NAME]` table",
                        bindings.profile_name,
                        listed.join(", ")
                    ));
                }
                self.recipes.error_at(
                    node,
                    format!("unknown profile variable `{name}` in target `{key}`"),
                    Some(help),
                )
            }
            SubstituteError::NotText { name, type_name } => self.recipes.error_at(
                node,
                format!("variable `{name}` is {type_name} and cannot be interpolated into text in target `{key}`"),
                Some(format!("use it as the whole string (`\"${{{name}}}\"`) to keep its type")),
            ),
            SubstituteError::Syntax(message) => {
                self.recipes
                    .error_at(node, format!("bad substitution in target `{key}`: {message}"), None)
            }
        }
    }

    fn bad_grid(&self, node: &Node, message: String, help: &str) -> Error {
        self.recipes.error_at(
            node,
            format!("bad grid in target `{}`: {message}", self.entry.key),
            Some(help.to_string()),
        )
    }

    /// Resolves a `{ target, value }` reference against the published values: `Ok(None)` when
    /// the target is not built yet.
    fn published_value(
        &self,
        node: &Node,
        what: &str,
        target: &str,
        value: &str,
    ) -> Result<Option<Json>> {
        let Some(info) = self.published.get(target) else {
            return Ok(None);
        };
        match info.get(value) {
            Some(found) => Ok(Some(found.clone())),
            None => {
                let names: Vec<String> = info.keys().map(|k| format!("`{k}`")).collect();
                Err(self.bad_grid(
                    node,
                    format!(
                        "{what} takes value `{value}` of target `{target}`, but `{target}` publishes no `{value}`"
                    ),
                    &match did_you_mean(value, info.keys().map(String::as_str)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if names.is_empty() => format!("`{target}` publishes no values"),
                        None => format!("`{target}` publishes {}", names.join(", ")),
                    },
                ))
            }
        }
    }

    /// The grid points of a `foreach` table.
    fn grid(&self, foreach: &Node) -> Result<Grid> {
        const HELP: &str = "write `foreach = { k = [1, 2, 3], e = { from = 1, to = 98 } }`: each variable is a non-empty list of scalars, an inclusive integer range, or a value a built target publishes (`{ target = \"baseline\", value = \"best_epoch\" }`)";
        let Some(table) = foreach.as_table() else {
            return Err(self.bad_grid(
                foreach,
                format!("`foreach` must be a table, not {}", foreach.type_name()),
                HELP,
            ));
        };
        if table.is_empty() {
            return Err(self.bad_grid(foreach, "`foreach` has no variables".into(), HELP));
        }
        let empty = BTreeMap::new();
        let bindings = Bindings {
            profile_name: self.profile_name,
            profile: self.profile,
            grid: &empty,
        };
        let mut axes: Vec<(String, Vec<Json>)> = Vec::new();
        for (variable, entry) in table {
            let node = &entry.node;
            let mut value = self.substitute_node(node, bindings)?;
            // A whole variable, or a range's bounds, may be a published value.
            if let Some((target, name)) = published_reference(&value) {
                let what = format!("grid variable `{variable}`");
                match self.published_value(node, &what, target, name)? {
                    Some(found) => {
                        if !found.is_array() {
                            return Err(self.bad_grid(
                                node,
                                format!(
                                    "{what} takes value `{name}` of target `{target}`, which is `{found}`, not a list"
                                ),
                                "use it as a range bound (`{ from = 1, to = { target = …, value = … } }`) or publish a list",
                            ));
                        }
                        value = found;
                    }
                    None => return Ok(self.pending(node, target, name)),
                }
            } else if let Json::Object(range) = &mut value {
                for bound in ["from", "to", "step"] {
                    let Some((target, name)) = range.get(bound).and_then(published_reference)
                    else {
                        continue;
                    };
                    let (target, name) = (target.to_string(), name.to_string());
                    let what = format!("range `{variable}`: `{bound}`");
                    match self.published_value(node, &what, &target, &name)? {
                        Some(found) if found.is_i64() => {
                            range.insert(bound.to_string(), found);
                        }
                        Some(found) => {
                            return Err(self.bad_grid(
                                node,
                                format!(
                                    "{what} takes value `{name}` of target `{target}`, which is `{found}`, not an integer"
                                ),
                                HELP,
                            ));
                        }
                        None => return Ok(self.pending(node, &target, &name)),
                    }
                }
            }
            let values = match value {
                Json::Array(items) => {
                    if let Some(bad) = items.iter().find(|v| v.is_array() || v.is_object()) {
                        return Err(self.bad_grid(
                            node,
                            format!("`{variable}` holds `{bad}`, but grid values are scalars"),
                            HELP,
                        ));
                    }
                    items
                }
                Json::Object(range) => self.range(node, variable, &range, HELP)?,
                other => {
                    return Err(self.bad_grid(
                        node,
                        format!("`{variable}` is `{other}`, not a list or a range"),
                        HELP,
                    ));
                }
            };
            if values.is_empty() {
                return Err(self.bad_grid(node, format!("`{variable}` has no values"), HELP));
            }
            axes.push((variable.clone(), values));
        }
        let total = axes
            .iter()
            .try_fold(1usize, |acc, (_, values)| acc.checked_mul(values.len()))
            .filter(|n| *n <= MAX_GRID_POINTS);
        if total.is_none() {
            return Err(self.bad_grid(
                foreach,
                format!("the grid has more than {MAX_GRID_POINTS} points"),
                "check the ranges (`to` is inclusive)",
            ));
        }
        let mut points = vec![BTreeMap::new()];
        for (variable, values) in &axes {
            let mut next = Vec::with_capacity(points.len() * values.len());
            for point in &points {
                for value in values {
                    let mut extended = point.clone();
                    extended.insert(variable.clone(), value.clone());
                    next.push(extended);
                }
            }
            points = next;
        }
        Ok(Grid::Points(points))
    }

    fn pending(&self, node: &Node, target: &str, value: &str) -> Grid {
        Grid::Pending {
            target: target.to_string(),
            value: value.to_string(),
            location: self.recipes.node_location(node),
        }
    }

    fn range(
        &self,
        node: &Node,
        variable: &str,
        range: &serde_json::Map<String, Json>,
        help: &str,
    ) -> Result<Vec<Json>> {
        if let Some(unknown) = range
            .keys()
            .find(|k| !["from", "to", "step"].contains(&k.as_str()))
        {
            return Err(self.bad_grid(
                node,
                format!(
                    "range `{variable}` has unknown key `{unknown}` (expected `from`, `to`, `step`)"
                ),
                help,
            ));
        }
        let integer = |key: &str, default: Option<i64>| -> Result<i64> {
            match range.get(key) {
                Some(v) => v.as_i64().ok_or_else(|| {
                    self.bad_grid(
                        node,
                        format!("range `{variable}`: `{key}` must be an integer, not `{v}`"),
                        help,
                    )
                }),
                None => default.ok_or_else(|| {
                    self.bad_grid(node, format!("range `{variable}` has no `{key}`"), help)
                }),
            }
        };
        let from = integer("from", None)?;
        let to = integer("to", None)?;
        let step = integer("step", Some(1))?;
        if step < 1 {
            return Err(self.bad_grid(
                node,
                format!("range `{variable}` has step {step}; it must be at least 1"),
                help,
            ));
        }
        if from > to {
            return Err(self.bad_grid(
                node,
                format!("range `{variable}` is empty: `from` {from} is past `to` {to}"),
                help,
            ));
        }
        // In 128 bits: `to - from` overflows 64 bits for ranges such as `-1` to `i64::MAX`.
        if (i128::from(to) - i128::from(from)) / i128::from(step) >= MAX_GRID_POINTS as i128 {
            return Err(self.bad_grid(
                node,
                format!("range `{variable}` has more than {MAX_GRID_POINTS} values"),
                help,
            ));
        }
        Ok((from..=to).step_by(step as usize).map(Json::from).collect())
    }

    fn check_name_template(&self, name: &Node, variables: &[&String]) -> Result<()> {
        let Some(template) = name.as_str() else {
            return Err(self.recipes.error_at(
                name,
                "`name` must be a string template".into(),
                None,
            ));
        };
        for variable in variables {
            if !template.contains(&format!("{{{variable}}}")) {
                return Err(self.bad_grid(
                    name,
                    format!("the name template `{template}` does not use grid variable `{variable}`, so several targets would share a name"),
                    &format!("add `{{{variable}}}` to `name`"),
                ));
            }
        }
        Ok(())
    }
}
