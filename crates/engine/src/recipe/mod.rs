//! Recipes: the TOML files in `recipes/`, loaded together.
//!
//! ```toml
//! default = ["fig4"]               # targets built by a bare `cpbuild`
//!
//! [profile.ci]                     # `--profile ci` (the default)
//! epochs = 4
//! [profile.paper]
//! epochs = 98
//!
//! [target.baseline]
//! kind = "shell"                   # which action runs it
//! command = "train --epochs ${epochs} > baseline.txt"
//! inputs = ["data/*.csv"]          # files or globs whose contents go into the key
//! outputs = ["baseline.txt"]       # files the command writes (kind `shell`)
//! params = { seed = 0 }            # any TOML value, substituted and hashed
//!
//! [target.sweep]
//! name = "sweep_e{k}"              # one target per grid point
//! foreach = { k = { from = 1, to = "${epochs}" } }
//! kind = "shell"
//! deps = ["baseline"]              # `deps = ["sweep"]` elsewhere means every `sweep_e{k}`
//! command = "perturb {k} > sweep_{k}.txt"
//! outputs = ["sweep_{k}.txt"]
//! ```
//!
//! Loading keeps a span for every value ([`node`]); [`expand`] turns the entries into concrete
//! [`TargetSpec`]s for one profile, and every error names `file:line:column`.

pub mod expand;
pub(crate) mod name;
pub mod node;
pub mod source;
pub(crate) mod template;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::error::{Error, Location, Result};
pub use expand::{DepRef, InputPattern, PendingGrid, Published, TargetSpec};
use node::{Node, NodeValue, TableEntry};
use source::SourceFile;

/// The profile used when `--profile` is not given.
pub const DEFAULT_PROFILE: &str = "ci";

/// Keys a `[target.NAME]` table may have.
pub const TARGET_KEYS: &[&str] = &[
    "kind",
    "name",
    "foreach",
    "deps",
    "params",
    "inputs",
    "command",
    "outputs",
    "description",
];

/// One `[target.NAME]` table, before expansion.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The table's key (`NAME`); for a grid, the group name that `deps` may use.
    pub key: String,
    /// Span of the key.
    pub key_span: Range<usize>,
    /// Which file.
    pub file: node::FileId,
    /// The table's fields, by key.
    pub fields: BTreeMap<String, TableEntry>,
}

/// One `[profile.NAME]` table: variable → value.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Where it is declared.
    pub location: Location,
    /// The variables.
    pub variables: BTreeMap<String, Json>,
}

/// All recipe files of a project.
#[derive(Debug, Clone)]
pub struct Recipes {
    /// The files, in load order (sorted by path).
    pub files: Vec<SourceFile>,
    /// Every target entry, in file order then key order.
    pub entries: Vec<Entry>,
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// The default target list, with the location of its declaration.
    pub default: Option<(Vec<String>, Location)>,
    /// The project's name (`project = "..."`), used to name archives.
    pub project: Option<(String, Location)>,
    /// Cluster resources per kind (`[resources.KIND]`, `[resources.default]`): name → value
    /// node (strings may use `${var}`).
    pub resources: BTreeMap<String, BTreeMap<String, Node>>,
}

/// The keys a `[resources.KIND]` table may have.
pub const RESOURCE_KEYS: &[&str] = &["partition", "gres", "cpus", "mem", "time"];

impl Recipes {
    /// Loads every `*.toml` file in `dir` (sorted by name).
    pub fn load_dir(root: &Path, dir: &Path) -> Result<Recipes> {
        let listing = std::fs::read_dir(dir).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::Usage {
                    message: format!(
                        "no recipe directory `{}`",
                        display_relative(root, dir).display()
                    ),
                    help: Some(
                        "run cpbuild in a project that has a `recipes/` folder, or pass `-C DIR`"
                            .into(),
                    ),
                }
            } else {
                Error::io(dir, source)
            }
        })?;
        let mut paths = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        if paths.is_empty() {
            return Err(Error::Usage {
                message: format!(
                    "no recipe files (`*.toml`) in `{}`",
                    display_relative(root, dir).display()
                ),
                help: Some("add a recipe such as `recipes/main.toml`; see the README".into()),
            });
        }
        let mut files = Vec::new();
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let display = display_relative(root, &path);
            let text = String::from_utf8(bytes).map_err(|e| not_utf8(&display, &e))?;
            files.push(SourceFile::new(display, text));
        }
        Recipes::from_files(files)
    }

    /// Parses already-read files.
    pub fn from_files(files: Vec<SourceFile>) -> Result<Recipes> {
        let mut recipes = Recipes {
            files: Vec::new(),
            entries: Vec::new(),
            profiles: BTreeMap::new(),
            default: None,
            project: None,
            resources: BTreeMap::new(),
        };
        for (file_id, file) in files.iter().enumerate() {
            let document = toml::de::DeTable::parse(&file.text).map_err(|e| {
                let span = e.span().unwrap_or(0..0);
                Error::Recipe {
                    location: file.location(&span),
                    message: format!("invalid TOML: {}", e.message().trim_end()),
                    help: None,
                }
            })?;
            let root = node::from_document(&document, file_id).map_err(|e| Error::Recipe {
                location: file.location(&e.span),
                message: e.message,
                help: None,
            })?;
            recipes.files.push(file.clone());
            recipes.add_document(file_id, root)?;
        }
        recipes.check_profiles()?;
        Ok(recipes)
    }

    /// The location of `span` in file `file`.
    pub fn location(&self, file: node::FileId, span: &Range<usize>) -> Location {
        self.files[file].location(span)
    }

    /// The location of a node.
    pub fn node_location(&self, node: &Node) -> Location {
        self.location(node.file, &node.span)
    }

    /// A recipe error at `node`.
    pub fn error_at(&self, node: &Node, message: String, help: Option<String>) -> Error {
        Error::Recipe {
            location: self.node_location(node),
            message,
            help,
        }
    }

    fn add_document(&mut self, file: node::FileId, root: Node) -> Result<()> {
        let NodeValue::Table(top) = root.value else {
            unreachable!("a TOML document is a table")
        };
        for (key, entry) in top {
            match key.as_str() {
                "default" => self.add_default(file, &entry)?,
                "project" => self.add_project(file, &entry)?,
                "resources" => self.add_resources(&entry)?,
                "profile" => self.add_profiles(&entry)?,
                "target" => self.add_targets(file, &entry)?,
                other => {
                    return Err(Error::Recipe {
                        location: self.location(file, &entry.key_span),
                        message: format!("unknown top-level key `{other}`"),
                        help: Some(
                            "a recipe file holds `project = \"...\"`, `default = [...]`, `[profile.NAME]`, `[resources.KIND]` and `[target.NAME]` tables"
                                .into(),
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn add_default(&mut self, file: node::FileId, entry: &TableEntry) -> Result<()> {
        let location = self.location(file, &entry.key_span);
        if let Some((_, first)) = &self.default {
            return Err(Error::Recipe {
                location,
                message: "the default target list is declared twice".into(),
                help: Some(format!("it is already declared at {first}; keep one")),
            });
        }
        let names = string_list(self, &entry.node, "`default`")?;
        self.default = Some((names.into_iter().map(|(s, _)| s).collect(), location));
        Ok(())
    }

    fn add_resources(&mut self, entry: &TableEntry) -> Result<()> {
        let help =
            "write e.g. `[resources.train-hba]` with `partition`, `gres`, `cpus`, `mem`, `time`";
        let Some(table) = entry.node.as_table() else {
            return Err(self.error_at(
                &entry.node,
                "`resources` must be a table of kinds".into(),
                Some(help.into()),
            ));
        };
        for (kind, spec) in table {
            let Some(fields) = spec.node.as_table() else {
                return Err(self.error_at(
                    &spec.node,
                    format!("`resources.{kind}` must be a table"),
                    Some(help.into()),
                ));
            };
            let mut values = BTreeMap::new();
            for (name, value) in fields {
                if !RESOURCE_KEYS.contains(&name.as_str()) {
                    return Err(Error::Recipe {
                        location: self.location(value.node.file, &value.key_span),
                        message: format!("`resources.{kind}` has unknown key `{name}`"),
                        help: Some(format!("the keys are {}", RESOURCE_KEYS.join(", "))),
                    });
                }
                if !matches!(
                    value.node.value,
                    NodeValue::String(_) | NodeValue::Integer(_)
                ) {
                    return Err(self.error_at(
                        &value.node,
                        format!("`resources.{kind}.{name}` must be a string or an integer"),
                        None,
                    ));
                }
                values.insert(name.clone(), value.node.clone());
            }
            if self.resources.insert(kind.clone(), values).is_some() {
                return Err(self.error_at(
                    &spec.node,
                    format!("`resources.{kind}` is declared twice"),
                    None,
                ));
            }
        }
        Ok(())
    }

    /// The resources for `kind` under `profile`: `[resources.default]` overlaid with
    /// `[resources.KIND]`, with `${var}` substituted.
    pub fn resources_for(
        &self,
        kind: &str,
        profile: &BTreeMap<String, Json>,
        profile_name: &str,
    ) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let empty = BTreeMap::new();
        for table in ["default", kind] {
            let Some(values) = self.resources.get(table) else {
                continue;
            };
            for (name, node) in values {
                let text = match &node.value {
                    NodeValue::String(text) => {
                        let bindings = template::Bindings {
                            profile_name,
                            profile,
                            grid: &empty,
                        };
                        let value = template::substitute(text, bindings).map_err(|e| {
                            self.error_at(node, format!("`resources.{table}.{name}`: {e:?}"), None)
                        })?;
                        template::scalar_text(&value).unwrap_or_default()
                    }
                    NodeValue::Integer(n) => n.to_string(),
                    _ => continue,
                };
                out.insert(name.clone(), text);
            }
        }
        Ok(out)
    }

    fn add_project(&mut self, file: node::FileId, entry: &TableEntry) -> Result<()> {
        let location = self.location(file, &entry.key_span);
        if let Some((_, first)) = &self.project {
            return Err(Error::Recipe {
                location,
                message: "the project name is declared twice".into(),
                help: Some(format!("it is already declared at {first}; keep one")),
            });
        }
        let name = entry
            .node
            .as_str()
            .filter(|n| name::valid_name(n))
            .ok_or_else(|| {
                self.error_at(
                    &entry.node,
                    format!("`project` must be a valid name ({})", name::NAME_RULES),
                    Some("write e.g. `project = \"critical-periods\"`".into()),
                )
            })?;
        self.project = Some((name.to_string(), location));
        Ok(())
    }

    fn add_profiles(&mut self, entry: &TableEntry) -> Result<()> {
        let Some(table) = entry.node.as_table() else {
            return Err(self.error_at(
                &entry.node,
                format!("`profile` must be a table, not {}", entry.node.type_name()),
                Some("write `[profile.ci]` followed by `name = value` lines".into()),
            ));
        };
        for (name, profile) in table {
            let location = self.location(profile.node.file, &profile.key_span);
            if let Some(existing) = self.profiles.get(name) {
                return Err(Error::Recipe {
                    location,
                    message: format!("profile `{name}` is declared twice"),
                    help: Some(format!("it is already declared at {}", existing.location)),
                });
            }
            let Some(variables) = profile.node.as_table() else {
                return Err(self.error_at(
                    &profile.node,
                    format!("profile `{name}` must be a table of variables"),
                    None,
                ));
            };
            let variables = variables
                .iter()
                .map(|(k, v)| (k.clone(), to_json(&v.node)))
                .collect();
            self.profiles.insert(
                name.clone(),
                Profile {
                    location,
                    variables,
                },
            );
        }
        Ok(())
    }

    fn add_targets(&mut self, file: node::FileId, entry: &TableEntry) -> Result<()> {
        let Some(table) = entry.node.as_table() else {
            return Err(self.error_at(
                &entry.node,
                format!("`target` must be a table, not {}", entry.node.type_name()),
                Some("write `[target.NAME]` tables".into()),
            ));
        };
        for (key, target) in table {
            let Some(fields) = target.node.as_table() else {
                return Err(self.error_at(
                    &target.node,
                    format!(
                        "target `{key}` must be a table, not {}",
                        target.node.type_name()
                    ),
                    Some(format!(
                        "write `[target.{key}]` followed by `kind = \"...\"`"
                    )),
                ));
            };
            for (field, value) in fields {
                if !TARGET_KEYS.contains(&field.as_str()) {
                    let suggestion = did_you_mean(field, TARGET_KEYS.iter().copied());
                    return Err(Error::Recipe {
                        location: self.location(value.node.file, &value.key_span),
                        message: format!("target `{key}` has unknown field `{field}`"),
                        help: Some(match suggestion {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => {
                                format!("the fields of a target are {}", TARGET_KEYS.join(", "))
                            }
                        }),
                    });
                }
            }
            self.entries.push(Entry {
                key: key.clone(),
                key_span: target.key_span.clone(),
                file,
                fields: fields.clone(),
            });
        }
        Ok(())
    }

    /// Every profile must define the same variables, so that switching profiles never meets
    /// an undefined one.
    fn check_profiles(&self) -> Result<()> {
        let mut profiles = self.profiles.iter();
        let Some((first_name, first)) = profiles.next() else {
            return Ok(());
        };
        for (name, profile) in profiles {
            for (a_name, a, b_name, b) in [
                (first_name, first, name, profile),
                (name, profile, first_name, first),
            ] {
                if let Some(missing) = a.variables.keys().find(|k| !b.variables.contains_key(*k)) {
                    return Err(Error::Recipe {
                        location: b.location.clone(),
                        message: format!(
                            "profile `{b_name}` does not define `{missing}`, which profile `{a_name}` defines"
                        ),
                        help: Some(format!(
                            "every profile defines the same variables; add `{missing} = ...` to `[profile.{b_name}]`"
                        )),
                    });
                }
            }
        }
        Ok(())
    }

    /// The variables of `profile`, or a usage error listing the known profiles.
    pub fn profile(&self, profile: &str) -> Result<BTreeMap<String, Json>> {
        if let Some(found) = self.profiles.get(profile) {
            return Ok(found.variables.clone());
        }
        if self.profiles.is_empty() && profile == DEFAULT_PROFILE {
            return Ok(BTreeMap::new());
        }
        let known: Vec<String> = self.profiles.keys().map(|k| format!("`{k}`")).collect();
        Err(Error::Usage {
            message: format!("unknown profile `{profile}`"),
            help: Some(if known.is_empty() {
                "the recipes declare no `[profile.NAME]` tables".to_string()
            } else {
                format!("the recipes declare {}", known.join(", "))
            }),
        })
    }
}

/// Reads a list of strings, with each string's node.
pub(crate) fn string_list<'n>(
    recipes: &Recipes,
    node: &'n Node,
    what: &str,
) -> Result<Vec<(String, &'n Node)>> {
    let NodeValue::Array(items) = &node.value else {
        return Err(recipes.error_at(
            node,
            format!(
                "{what} must be an array of strings, not {}",
                node.type_name()
            ),
            Some("write `[\"a\", \"b\"]`".into()),
        ));
    };
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(s) => Ok((s.to_string(), item)),
            None => Err(recipes.error_at(
                item,
                format!("{what} must hold strings, not {}", item.type_name()),
                None,
            )),
        })
        .collect()
}

/// Converts a node to JSON without substitution.
pub fn to_json(node: &Node) -> Json {
    match &node.value {
        NodeValue::String(s) | NodeValue::Datetime(s) => Json::String(s.clone()),
        NodeValue::Integer(i) => Json::from(*i),
        NodeValue::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        NodeValue::Boolean(b) => Json::Bool(*b),
        NodeValue::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        NodeValue::Table(table) => Json::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), to_json(&v.node)))
                .collect(),
        ),
    }
}

/// The closest candidate to `wanted`, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(wanted, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

/// `path` relative to `root` when it is inside it.
pub fn display_relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The error for a recipe file that is not UTF-8, located at its first bad byte.
fn not_utf8(display: &Path, error: &std::string::FromUtf8Error) -> Error {
    let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
    let valid = std::str::from_utf8(valid).unwrap_or_default();
    let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
    Error::Recipe {
        location: crate::error::Location {
            file: display.to_path_buf(),
            line: valid.matches('\n').count() + 1,
            column: valid[line_start..].chars().count() + 1,
        },
        message: format!(
            "recipe `{}` is not UTF-8 text (byte 0x{:02x} here)",
            display.display(),
            error.as_bytes()[valid.len()]
        ),
        help: Some("save the file as UTF-8".into()),
    }
}
