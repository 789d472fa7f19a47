//! Planning: fingerprint every target in the requested closure, look its key up in the store,
//! and decide what must run.
//!
//! Only what is needed runs: a requested target is needed; a needed target that is dirty
//! needs its dependencies' bundles; a fresh target needs nothing below it. So a fresh figure
//! whose training runs were garbage-collected is not retrained.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::action::{BuildOptions, Registry};
use crate::error::{Error, Result};
use crate::fingerprint::{DirtyReason, Fingerprint};
use crate::graph::{Graph, TargetId};
use crate::recipe::InputPattern;
use crate::store::{BundleState, Store};

/// What the plan says about one target.
#[derive(Debug, Clone)]
pub struct PlanItem {
    /// The target.
    pub id: TargetId,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// Its key.
    pub key: String,
    /// The input files, relative to the project root, sorted.
    pub inputs: Vec<PathBuf>,
    /// Fresh or not, and why.
    pub state: ItemState,
}

/// Fresh or dirty.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemState {
    /// A valid bundle exists for the key.
    Fresh,
    /// It must run, for these reasons.
    Dirty(Vec<DirtyReason>),
}

impl PlanItem {
    /// Whether the target must run.
    pub fn is_dirty(&self) -> bool {
        matches!(self.state, ItemState::Dirty(_))
    }

    /// Whether its bundle failed verification.
    pub fn is_corrupt(&self) -> bool {
        match &self.state {
            ItemState::Dirty(reasons) => reasons
                .iter()
                .any(|r| matches!(r, DirtyReason::BundleCorrupt { .. })),
            ItemState::Fresh => false,
        }
    }
}

/// The evaluated closure of some targets.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Items in dependency order (dependencies first).
    pub items: Vec<PlanItem>,
    /// Target id → index in `items`.
    pub index: HashMap<TargetId, usize>,
}

impl Plan {
    /// The item for `id`.
    pub fn item(&self, id: TargetId) -> Option<&PlanItem> {
        self.index.get(&id).map(|&i| &self.items[i])
    }

    /// Keeps only what is needed to bring `roots` up to date (see the module doc).
    pub fn needed(&self, graph: &Graph, roots: &[TargetId]) -> Plan {
        let mut needed = vec![false; graph.targets.len()];
        let mut stack: Vec<TargetId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if needed[id] {
                continue;
            }
            needed[id] = true;
            if self.item(id).is_some_and(PlanItem::is_dirty) {
                stack.extend(graph.targets[id].deps.iter().copied());
            }
        }
        let items: Vec<PlanItem> = self
            .items
            .iter()
            .filter(|item| needed[item.id])
            .cloned()
            .collect();
        let index = items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.id, i))
            .collect();
        Plan { items, index }
    }
}

/// What planning and executing a build read: the graph, the kinds, the store, the project
/// root and the build options.
#[derive(Clone, Copy)]
pub struct Build<'a> {
    /// The graph.
    pub graph: &'a Graph,
    /// The kinds.
    pub registry: &'a Registry,
    /// The store.
    pub store: &'a Store,
    /// The project root (inputs are relative to it).
    pub project_root: &'a Path,
    /// Build options (actions may hash some into their keys, and read them as they run).
    pub options: &'a BuildOptions,
}

/// Computes fingerprints and states for everything `roots` depend on.
pub struct Planner<'a> {
    /// What the build reads.
    pub build: Build<'a>,
    /// `-B`: the requested targets (not their dependencies) are dirty even when fresh. Rebuilding
    /// a figure must not retrain every run below it; dependencies rebuild only if they are dirty.
    pub force: bool,
}

impl Planner<'_> {
    /// Evaluates the closure of `roots`.
    pub fn plan(&self, roots: &[TargetId]) -> Result<Plan> {
        let order = self.build.graph.closure(roots);
        let forced: std::collections::HashSet<TargetId> = if self.force {
            roots.iter().copied().collect()
        } else {
            Default::default()
        };
        let mut items: Vec<PlanItem> = Vec::with_capacity(order.len());
        let mut index: HashMap<TargetId, usize> = HashMap::with_capacity(order.len());
        let mut hashes: HashMap<PathBuf, String> = HashMap::new();
        let mut missing: Vec<(String, Error)> = Vec::new();
        for id in order {
            // Its key would leave out the grid's targets: the caller builds what the grid
            // waits on first, then expands it (see `crate::graph`).
            if let Some(reason) = self.build.graph.waiting_reason(id) {
                return Err(Error::Usage {
                    message: reason,
                    help: Some(
                        "build it with `cpbuild` (which builds what the grid waits on first); \
                         `cpbuild -n` shows the order"
                            .into(),
                    ),
                });
            }
            let target = self.build.graph.target(id);
            let spec = &target.spec;
            let action = self
                .build
                .registry
                .get(&spec.kind)
                .expect("the graph checked every kind");
            let mut inputs = BTreeMap::new();
            let mut input_files = Vec::new();
            for pattern in &spec.inputs {
                let help = || {
                    action
                        .missing_input_help(&spec.params, &pattern.pattern)
                        .or_else(|| {
                            let description = spec.description.as_deref()?;
                            Some(format!("`{}` is {description}: provide it", spec.name))
                        })
                };
                let files = match self.resolve_input(&spec.name, pattern, help) {
                    Ok(files) => files,
                    // Every missing input of every target is reported at once.
                    Err(error @ Error::Recipe { .. }) => {
                        missing.push((pattern.pattern.clone(), error));
                        continue;
                    }
                    Err(error) => return Err(error),
                };
                for file in files {
                    let hash = match hashes.get(&file) {
                        Some(hash) => hash.clone(),
                        None => {
                            let absolute = self.build.project_root.join(&file);
                            let (hash, _) = crate::util::hash::file(&absolute)
                                .map_err(|e| Error::io(&absolute, e))?;
                            hashes.insert(file.clone(), hash.clone());
                            hash
                        }
                    };
                    inputs.insert(file.to_string_lossy().into_owned(), hash);
                    input_files.push(file);
                }
            }
            input_files.sort();
            input_files.dedup();
            let deps = target
                .deps
                .iter()
                .map(|dep| {
                    let item = &items[index[dep]];
                    (
                        self.build.graph.target(*dep).spec.name.clone(),
                        item.key.clone(),
                    )
                })
                .collect();
            let fingerprint = Fingerprint {
                cpbuild: crate::VERSION.to_string(),
                target: spec.name.clone(),
                kind: spec.kind.clone(),
                action_version: action.version().to_string(),
                context: action.key_context(self.build.options),
                params: spec.params.clone(),
                deps,
                inputs,
            };
            let key = fingerprint.key();
            let state = match self.build.store.state(&key) {
                BundleState::Valid if forced.contains(&id) => {
                    ItemState::Dirty(vec![DirtyReason::Forced])
                }
                BundleState::Valid => ItemState::Fresh,
                BundleState::Corrupt(detail) => {
                    ItemState::Dirty(vec![DirtyReason::BundleCorrupt { detail }])
                }
                BundleState::Missing => {
                    let reasons = match self
                        .build
                        .store
                        .read_record(&self.build.options.profile, &spec.name)
                    {
                        None => vec![DirtyReason::NeverBuilt],
                        Some(old) if old == fingerprint => vec![DirtyReason::BundleMissing],
                        Some(old) => {
                            let reasons = fingerprint.diff(&old);
                            if reasons.is_empty() {
                                vec![DirtyReason::BundleMissing]
                            } else {
                                reasons
                            }
                        }
                    };
                    ItemState::Dirty(reasons)
                }
            };
            index.insert(id, items.len());
            items.push(PlanItem {
                id,
                fingerprint,
                key,
                inputs: input_files,
                state,
            });
        }
        if let Some(error) = combine_missing(missing) {
            return Err(error);
        }
        Ok(Plan { items, index })
    }

    /// The files an input pattern stands for: a file, every file below a directory, or a glob.
    /// `help` is the action's word on where a missing input comes from.
    fn resolve_input(
        &self,
        target: &str,
        pattern: &InputPattern,
        help: impl Fn() -> Option<String>,
    ) -> Result<Vec<PathBuf>> {
        let text = &pattern.pattern;
        let missing = |what: String| Error::Recipe {
            location: pattern.location.clone(),
            message: format!("input `{text}` of target `{target}` {what}"),
            help: Some(match help() {
                Some(source) => format!(
                    "{source}; or fix the path (relative to the project root), or remove the input"
                ),
                None => "create the file, fix the path (relative to the project root), or remove \
                         the input"
                    .into(),
            }),
        };
        let mut files = Vec::new();
        if text.contains(['*', '?', '[']) {
            let absolute = self.build.project_root.join(text);
            let matches = glob::glob(&absolute.to_string_lossy()).map_err(|e| Error::Recipe {
                location: pattern.location.clone(),
                message: format!("input `{text}` of target `{target}` is not a valid glob: {e}"),
                help: None,
            })?;
            for entry in matches {
                let path = entry.map_err(|e| Error::io(e.path().to_path_buf(), e.into()))?;
                if let Ok(metadata) = std::fs::metadata(&path) {
                    self.add_path(target, pattern, &path, &metadata, &mut files)?;
                }
            }
            if files.is_empty() {
                return Err(missing("matches no file".into()));
            }
        } else {
            let absolute = self.build.project_root.join(text);
            // One `stat` says both whether it exists and what it is.
            let Ok(metadata) = std::fs::metadata(&absolute) else {
                return Err(missing("does not exist".into()));
            };
            self.add_path(target, pattern, &absolute, &metadata, &mut files)?;
        }
        files.sort();
        Ok(files)
    }

    /// Adds the files `path` (whose `metadata`, links followed, is given) stands for. Links in
    /// folders are followed (what a command reads through them is hashed); a dangling link, a
    /// loop or a special file is an error.
    fn add_path(
        &self,
        target: &str,
        pattern: &InputPattern,
        path: &Path,
        metadata: &std::fs::Metadata,
        files: &mut Vec<PathBuf>,
    ) -> Result<()> {
        use crate::util::walk::{WalkError, input_files};
        let relative = |p: &Path| {
            p.strip_prefix(self.build.project_root)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| p.to_path_buf())
        };
        if metadata.is_dir() {
            let children = input_files(path).map_err(|error| {
                let shown =
                    |p: &Path| crate::util::printable(&relative(p).to_string_lossy()).into_owned();
                let (message, help) = match error {
                    WalkError::Io(path, e) => return Error::io(path, e),
                    WalkError::Dangling { link, target: to } => (
                        format!(
                            "`{}` is a dangling link (to `{}`)",
                            shown(&link),
                            to.display()
                        ),
                        "make it point at an existing file or folder, or remove it",
                    ),
                    WalkError::Loop { link, target: to } => (
                        format!(
                            "`{}` is a link loop (to `{}`, a folder that contains it)",
                            shown(&link),
                            to.display()
                        ),
                        "remove the link, or point it outside the input folder",
                    ),
                    WalkError::Special(path) => (
                        format!("`{}` is neither a file nor a folder", shown(&path)),
                        "move it out of the input folder",
                    ),
                };
                Error::Recipe {
                    location: pattern.location.clone(),
                    message: format!(
                        "input `{}` of target `{target}` cannot be hashed: {message}",
                        pattern.pattern
                    ),
                    help: Some(help.into()),
                }
            })?;
            files.extend(children.iter().map(|child| relative(child)));
        } else if metadata.is_file() {
            files.push(relative(path));
        }
        Ok(())
    }
}

/// One error for every missing input, each input once (the first target that reads it, and
/// how many others do): the error itself when there is one such input, else a list of all of
/// them (each with its location and help), located at the first.
fn combine_missing(missing: Vec<(String, Error)>) -> Option<Error> {
    let mut inputs: Vec<(String, Error, usize)> = Vec::new();
    for (pattern, error) in missing {
        match inputs.iter_mut().find(|(seen, ..)| *seen == pattern) {
            Some((_, _, others)) => *others += 1,
            None => inputs.push((pattern, error, 0)),
        }
    }
    let mut errors: Vec<Error> = inputs
        .into_iter()
        .map(|(_, error, others)| match error {
            Error::Recipe {
                location,
                message,
                help,
            } if others > 0 => Error::Recipe {
                location,
                message: format!(
                    "{message} ({others} other target{} read{} it too)",
                    if others == 1 { "" } else { "s" },
                    if others == 1 { "s" } else { "" }
                ),
                help,
            },
            error => error,
        })
        .collect();
    if errors.len() <= 1 {
        return errors.pop();
    }
    let mut message = format!(
        "{} inputs are missing or wrong; fix all of them before building:",
        errors.len()
    );
    let mut location = None;
    for error in &errors {
        if let Error::Recipe {
            location: at,
            message: text,
            help,
        } = error
        {
            location.get_or_insert_with(|| at.clone());
            message.push_str(&format!("\n  - {at}: {text}"));
            if let Some(help) = help {
                message.push_str(&format!("\n    help: {help}"));
            }
        }
    }
    Some(Error::Recipe {
        location: location?,
        message,
        help: None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value as Json;

    use super::*;
    use crate::action::{Action, ActionContext, ActionError, ParamError};
    use crate::recipe::Recipes;
    use crate::recipe::source::SourceFile;

    /// A kind that reads the folder its `data` param names, and knows where that comes from.
    struct ReadsData;

    impl Action for ReadsData {
        fn kind(&self) -> &'static str {
            "reads-data"
        }

        fn version(&self) -> &'static str {
            "1"
        }

        fn description(&self) -> &'static str {
            "reads a data folder"
        }

        fn check_params(&self, _params: &Json) -> Result<(), ParamError> {
            Ok(())
        }

        fn missing_input_help(&self, params: &Json, input: &str) -> Option<String> {
            (params["data"] == input)
                .then(|| format!("fetch the set from example.org into `{input}`"))
        }

        fn run(&self, _ctx: &mut ActionContext<'_>) -> std::result::Result<(), ActionError> {
            Ok(())
        }
    }

    /// The message planning `target` fails with.
    fn plan_error(target: &str) -> String {
        plan_errors(&[target])
    }

    /// The message planning `targets` together fails with.
    fn plan_errors(targets: &[&str]) -> String {
        let root = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(root.path().join("present.csv"), "x").expect("a file");
        let recipe = r#"
[target.data_missing]
kind = "reads-data"
inputs = ["present.csv", "data/set"]
params = { data = "data/set" }

[target.other_missing]
kind = "reads-data"
inputs = ["absent.csv"]
params = { data = "data/set" }
"#;
        let recipes = Recipes::from_files(vec![SourceFile::new(
            "recipes/main.toml".into(),
            recipe.to_string(),
        )])
        .expect("recipes");
        let mut registry = Registry::new();
        registry.register(Arc::new(ReadsData));
        let graph = Graph::build(&recipes, "ci", &registry).expect("a graph");
        let store = Store::open(&root.path().join("artifacts")).expect("a store");
        let options = BuildOptions {
            profile: "ci".into(),
            settings: BTreeMap::new(),
        };
        let planner = Planner {
            build: Build {
                graph: &graph,
                registry: &registry,
                store: &store,
                project_root: root.path(),
                options: &options,
            },
            force: false,
        };
        let names: Vec<String> = targets.iter().map(|name| name.to_string()).collect();
        let roots = graph.resolve_all(&names).expect("the targets");
        planner
            .plan(&roots)
            .expect_err("an input is missing")
            .to_string()
    }

    #[test]
    fn a_missing_input_says_where_it_comes_from_when_its_action_knows() {
        assert_eq!(
            plan_error("data_missing"),
            "recipes/main.toml:4:26: input `data/set` of target `data_missing` does not \
             exist\n  help: fetch the set from example.org into `data/set`; or fix the path \
             (relative to the project root), or remove the input"
        );
        assert!(
            plan_error("other_missing").ends_with(
                "  help: create the file, fix the path (relative to the project root), or remove \
                 the input"
            ),
            "an input the action knows nothing about gets the generic help"
        );
    }

    #[test]
    fn every_missing_input_is_reported_at_once() {
        let message = plan_errors(&["data_missing", "other_missing"]);
        assert!(
            message.starts_with(
                "recipes/main.toml:4:26: 2 inputs are missing or wrong; fix all of them before building:"
            ),
            "{message}"
        );
        assert!(
            message.contains("\n  - recipes/main.toml:4:26: input `data/set` of target `data_missing` does not exist\n    help: fetch the set from example.org")
                && message.contains("\n  - recipes/main.toml:9:11: input `absent.csv` of target `other_missing` does not exist"),
            "{message}"
        );
    }
}
