//! The target graph: expanded targets with resolved dependencies, checked for unknown kinds,
//! unknown or duplicate names, bad params and cycles.
//!
//! A data-dependent grid that is not expanded yet (its target is not built; see
//! [`crate::recipe::expand`]) stays in the graph as a [`PendingGrid`]; a target that depends on
//! it is *waiting* ([`Graph::waits_on`]): it cannot be fingerprinted until the grid is
//! expanded, so the planner refuses it, and the command line first builds the targets the
//! grids wait on ([`Graph::blockers`]), then expands them with the published values.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::action::Registry;
use crate::error::{Error, Result};
use crate::recipe::expand::{PendingGrid, Published};
use crate::recipe::name::{NAME_RULES, name_problem};
use crate::recipe::{self, Recipes, TargetSpec, did_you_mean};

/// Index of a target in [`Graph::targets`].
pub type TargetId = usize;

/// One node of the graph.
#[derive(Debug, Clone)]
pub struct Target {
    /// What the recipe says.
    pub spec: TargetSpec,
    /// Resolved dependencies, sorted, without repeats.
    pub deps: Vec<TargetId>,
}

/// The whole graph for one profile.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The targets, in recipe order.
    pub targets: Vec<Target>,
    /// Target name → id.
    pub by_name: HashMap<String, TargetId>,
    /// `[target.KEY]` of a grid → its targets, for `deps = ["KEY"]` and `cpbuild KEY`.
    pub groups: BTreeMap<String, Vec<TargetId>>,
    /// The default targets (`default = [...]`), or every target.
    pub default: Vec<TargetId>,
    /// The profile this graph was expanded for.
    pub profile: String,
    /// Data-dependent grids not expanded yet, by group name.
    pub pending: BTreeMap<String, PendingGrid>,
    /// Targets that depend directly on a pending grid → those grids' group names.
    pub waits_on: BTreeMap<TargetId, BTreeSet<String>>,
}

impl Graph {
    /// Loads `recipes` for `profile` and builds the graph, checking it against `registry`;
    /// data-dependent grids stay pending.
    pub fn build(recipes: &Recipes, profile: &str, registry: &Registry) -> Result<Graph> {
        Graph::build_with(recipes, profile, registry, &Published::new())
    }

    /// [`Graph::build`], expanding data-dependent grids whose targets' values are in
    /// `published`.
    pub fn build_with(
        recipes: &Recipes,
        profile: &str,
        registry: &Registry,
        published: &Published,
    ) -> Result<Graph> {
        let expansion = recipe::expand::expand(recipes, profile, published)?;
        let specs = expansion.targets;
        let pending: BTreeMap<String, PendingGrid> = expansion
            .pending
            .into_iter()
            .map(|grid| (grid.group.clone(), grid))
            .collect();
        let mut by_name: HashMap<String, TargetId> = HashMap::with_capacity(specs.len());
        let mut groups: BTreeMap<String, Vec<TargetId>> = BTreeMap::new();
        for (id, spec) in specs.iter().enumerate() {
            if let Some(problem) = name_problem(&spec.name) {
                return Err(Error::Recipe {
                    location: spec.location.clone(),
                    message: format!(
                        "`{}` is not a valid target name: {problem}",
                        spec.name.escape_debug()
                    ),
                    help: Some(NAME_RULES.into()),
                });
            }
            if let Some(&first) = by_name.get(&spec.name) {
                let first_location = &specs[first].location;
                let grid_note = if spec.grid.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (grid point {})",
                        crate::util::canonical::to_string(
                            &serde_json::to_value(&spec.grid).unwrap_or_default()
                        )
                    )
                };
                return Err(Error::Recipe {
                    location: spec.location.clone(),
                    message: format!("duplicate target `{}`{grid_note}", spec.name),
                    help: Some(format!(
                        "`{}` is already defined at {first_location}; rename one",
                        spec.name
                    )),
                });
            }
            by_name.insert(spec.name.clone(), id);
            if !spec.grid.is_empty() {
                groups.entry(spec.group.clone()).or_default().push(id);
            }
        }
        for (group, members) in &groups {
            if let Some(&clash) = by_name.get(group)
                && !members.contains(&clash)
            {
                let spec = &specs[clash];
                return Err(Error::Recipe {
                    location: spec.location.clone(),
                    message: format!("target `{group}` has the name of a grid group"),
                    help: Some(format!(
                        "`deps = [\"{group}\"]` would be ambiguous; rename the target or the `[target.{group}]` grid"
                    )),
                });
            }
        }

        for grid in pending.values() {
            if let Some(&clash) = by_name.get(&grid.group) {
                let spec = &specs[clash];
                return Err(Error::Recipe {
                    location: spec.location.clone(),
                    message: format!("target `{}` has the name of a grid group", grid.group),
                    help: Some(format!(
                        "`deps = [\"{0}\"]` would be ambiguous; rename the target or the `[target.{0}]` grid",
                        grid.group
                    )),
                });
            }
            if !by_name.contains_key(&grid.target) {
                let names = by_name.keys().map(String::as_str);
                let waiting_member = pending.values().any(|other| {
                    other.group != grid.group && grid.target.starts_with(&other.group)
                });
                return Err(Error::Recipe {
                    location: grid.location.clone(),
                    message: format!(
                        "grid `{}` takes value `{}` of unknown target `{}`",
                        grid.group, grid.value, grid.target
                    ),
                    help: Some(match did_you_mean(&grid.target, names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if waiting_member => "a grid's values must come from a target defined outside data-dependent grids".into(),
                        None => "name a target defined by the recipes".into(),
                    }),
                });
            }
        }

        let mut waits_on: BTreeMap<TargetId, BTreeSet<String>> = BTreeMap::new();
        let mut targets = Vec::with_capacity(specs.len());
        for spec in &specs {
            let Some(action) = registry.get(&spec.kind) else {
                let suggestion = did_you_mean(&spec.kind, registry.kinds().map(|a| a.kind()));
                let known: Vec<String> = registry
                    .kinds()
                    .map(|a| format!("`{}`", a.kind()))
                    .collect();
                return Err(Error::Recipe {
                    location: spec.kind_location.clone(),
                    message: format!("target `{}` has unknown kind `{}`", spec.name, spec.kind),
                    help: Some(match suggestion {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("the kinds are {}", known.join(", ")),
                    }),
                });
            };
            if spec.kind != "shell"
                && let Some((field, location)) = spec.shell_fields.first()
            {
                return Err(Error::Recipe {
                    location: location.clone(),
                    message: format!(
                        "`{field}` is a field of `shell` targets, but target `{}` is of kind `{}`",
                        spec.name, spec.kind
                    ),
                    help: Some(format!(
                        "put it in `params` if kind `{}` takes it",
                        spec.kind
                    )),
                });
            }
            action
                .check_params(&spec.params)
                .map_err(|error| Error::Recipe {
                    location: error
                        .field
                        .as_ref()
                        .and_then(|f| spec.field_locations.get(f))
                        .unwrap_or(&spec.params_location)
                        .clone(),
                    message: format!(
                        "target `{}` (kind `{}`): {}",
                        spec.name, spec.kind, error.message
                    ),
                    help: None,
                })?;
            for input in &spec.inputs {
                crate::util::check_relative_path(&input.pattern).map_err(|message| {
                    Error::Recipe {
                        location: input.location.clone(),
                        message: format!("input {message}"),
                        help: Some("write inputs relative to the project root".into()),
                    }
                })?;
            }
            let mut deps = Vec::new();
            for dep in &spec.deps {
                if let Some(&id) = by_name.get(&dep.name) {
                    deps.push(id);
                } else if let Some(members) = groups.get(&dep.name) {
                    deps.extend(members.iter().copied());
                } else if pending.contains_key(&dep.name) {
                    waits_on
                        .entry(targets.len())
                        .or_default()
                        .insert(dep.name.clone());
                } else {
                    let names = by_name
                        .keys()
                        .chain(groups.keys())
                        .chain(pending.keys())
                        .map(String::as_str);
                    let help = match did_you_mean(&dep.name, names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "define `[target.{}]` in a recipe, or remove the dependency",
                            dep.name
                        ),
                    };
                    return Err(Error::Recipe {
                        location: dep.location.clone(),
                        message: format!(
                            "target `{}` depends on unknown target `{}`",
                            spec.name, dep.name
                        ),
                        help: Some(help),
                    });
                }
            }
            deps.sort_unstable();
            deps.dedup();
            targets.push(Target {
                spec: spec.clone(),
                deps,
            });
        }
        let mut graph = Graph {
            targets,
            by_name,
            groups,
            default: Vec::new(),
            profile: profile.to_string(),
            pending,
            waits_on,
        };
        graph.check_outputs()?;
        graph.check_cycles()?;
        graph.default = match &recipes.default {
            Some((names, location)) => {
                let mut ids = Vec::new();
                for name in names {
                    let resolved = graph.resolve(name).map_err(|_| Error::Recipe {
                        location: location.clone(),
                        message: format!("the default list names unknown target `{name}`"),
                        help: None,
                    })?;
                    ids.extend(resolved);
                }
                ids
            }
            None => (0..graph.targets.len()).collect(),
        };
        Ok(graph)
    }

    /// Two shell targets writing the same file would overwrite each other's outputs.
    fn check_outputs(&self) -> Result<()> {
        let mut owners: HashMap<&str, TargetId> = HashMap::new();
        for (id, target) in self.targets.iter().enumerate() {
            let Some(outputs) = target.spec.params.get("outputs").and_then(|o| o.as_array()) else {
                continue;
            };
            for output in outputs.iter().filter_map(|o| o.as_str()) {
                if let Some(&other) = owners.get(output)
                    && other != id
                {
                    return Err(Error::Recipe {
                        location: target.spec.params_location.clone(),
                        message: format!(
                            "targets `{}` and `{}` both declare output `{output}`",
                            self.targets[other].spec.name, target.spec.name
                        ),
                        help: Some("each file is written by one target".into()),
                    });
                }
                owners.insert(output, id);
            }
        }
        Ok(())
    }

    fn check_cycles(&self) -> Result<()> {
        // Iterative depth-first search with colours; on a back edge, print the cycle.
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const BLACK: u8 = 2;
        let mut colour = vec![WHITE; self.targets.len()];
        for start in 0..self.targets.len() {
            if colour[start] != WHITE {
                continue;
            }
            let mut stack: Vec<(TargetId, usize)> = vec![(start, 0)];
            colour[start] = GREY;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = self.targets[node].deps.get(*next) {
                    *next += 1;
                    match colour[dep] {
                        WHITE => {
                            colour[dep] = GREY;
                            stack.push((dep, 0));
                        }
                        GREY => {
                            let position = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut path: Vec<&str> = stack[position..]
                                .iter()
                                .map(|(n, _)| self.targets[*n].spec.name.as_str())
                                .collect();
                            path.push(&self.targets[dep].spec.name);
                            let spec = &self.targets[node].spec;
                            let location = spec
                                .deps
                                .iter()
                                .find(|d| {
                                    d.name == self.targets[dep].spec.name
                                        || d.name == self.targets[dep].spec.group
                                })
                                .map(|d| d.location.clone())
                                .unwrap_or_else(|| spec.location.clone());
                            let quoted: Vec<String> =
                                path.iter().map(|p| format!("`{p}`")).collect();
                            return Err(Error::Recipe {
                                location,
                                message: format!("dependency cycle: {}", quoted.join(" → ")),
                                help: Some("remove one of these dependencies".into()),
                            });
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = BLACK;
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    /// The ids a command-line name stands for: a target, or every target of a grid group.
    /// A pending grid is an error here (see [`Graph::resolve_request`]).
    pub fn resolve(&self, name: &str) -> Result<Vec<TargetId>> {
        if let Some(&id) = self.by_name.get(name) {
            return Ok(vec![id]);
        }
        if let Some(members) = self.groups.get(name) {
            return Ok(members.clone());
        }
        if let Some(grid) = self.pending.get(name) {
            return Err(Error::Usage {
                message: format!(
                    "grid `{name}` is not expanded yet: it takes value `{}` of `{}`, which is not built",
                    grid.value, grid.target
                ),
                help: Some(format!(
                    "build `{}` first (or a target that needs `{name}`)",
                    grid.target
                )),
            });
        }
        let names = self
            .by_name
            .keys()
            .chain(self.groups.keys())
            .map(String::as_str);
        Err(Error::Usage {
            message: format!("unknown target `{name}`"),
            help: Some(match did_you_mean(name, names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "`cpbuild list` shows the targets".into(),
            }),
        })
    }

    /// Resolves command-line names (none → the defaults).
    pub fn resolve_all(&self, names: &[String]) -> Result<Vec<TargetId>> {
        if names.is_empty() {
            return Ok(self.default.clone());
        }
        let mut ids = Vec::new();
        for name in names {
            ids.extend(self.resolve(name)?);
        }
        Ok(ids)
    }

    /// Resolves command-line names (none → the defaults) into targets, and the pending grids
    /// named directly.
    pub fn resolve_request(&self, names: &[String]) -> Result<(Vec<TargetId>, BTreeSet<String>)> {
        if names.is_empty() {
            return Ok((self.default.clone(), BTreeSet::new()));
        }
        let mut ids = Vec::new();
        let mut grids = BTreeSet::new();
        for name in names {
            if self.pending.contains_key(name) {
                grids.insert(name.clone());
            } else {
                ids.extend(self.resolve(name)?);
            }
        }
        Ok((ids, grids))
    }

    /// The pending grids that `roots` need (directly or through their dependencies).
    pub fn waiting_grids(&self, roots: &[TargetId]) -> BTreeSet<String> {
        if self.waits_on.is_empty() {
            return BTreeSet::new();
        }
        self.closure(roots)
            .into_iter()
            .filter_map(|id| self.waits_on.get(&id))
            .flatten()
            .cloned()
            .collect()
    }

    /// The targets that must be built before `grids` can expand: each grid's target, or, where
    /// that target itself waits on other grids, theirs (recursively).
    pub fn blockers(&self, grids: &BTreeSet<String>) -> Result<Vec<TargetId>> {
        let mut out = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut stack: Vec<String> = grids.iter().cloned().collect();
        while let Some(group) = stack.pop() {
            if !seen.insert(group.clone()) {
                continue;
            }
            let Some(grid) = self.pending.get(&group) else {
                continue;
            };
            let id = self.by_name[&grid.target];
            let below = self.waiting_grids(&[id]);
            if below.contains(&group) {
                return Err(Error::Recipe {
                    location: grid.location.clone(),
                    message: format!(
                        "grid `{group}` takes a value of `{}`, which itself needs `{group}`",
                        grid.target
                    ),
                    help: Some("a grid's values must come from a target built before it".into()),
                });
            }
            if below.is_empty() {
                if !out.contains(&id) {
                    out.push(id);
                }
            } else {
                stack.extend(below);
            }
        }
        Ok(out)
    }

    /// Why `id` cannot be planned yet, if it waits on a pending grid.
    pub fn waiting_reason(&self, id: TargetId) -> Option<String> {
        let grids = self.waits_on.get(&id)?;
        let described: Vec<String> = grids
            .iter()
            .filter_map(|group| self.pending.get(group))
            .map(|grid| {
                format!(
                    "grid `{}` (it takes value `{}` of `{}`, which is not built yet)",
                    grid.group, grid.value, grid.target
                )
            })
            .collect();
        Some(format!(
            "target `{}` depends on {}",
            self.targets[id].spec.name,
            described.join(" and ")
        ))
    }

    /// `roots` and everything they depend on, dependencies first (a topological order).
    pub fn closure(&self, roots: &[TargetId]) -> Vec<TargetId> {
        let mut order = Vec::new();
        let mut seen = vec![false; self.targets.len()];
        for &root in roots {
            if seen[root] {
                continue;
            }
            let mut stack = vec![(root, false)];
            while let Some((node, expanded)) = stack.pop() {
                if expanded {
                    order.push(node);
                    continue;
                }
                if seen[node] {
                    continue;
                }
                seen[node] = true;
                stack.push((node, true));
                for &dep in self.targets[node].deps.iter().rev() {
                    if !seen[dep] {
                        stack.push((dep, false));
                    }
                }
            }
        }
        order
    }

    /// The target called `name`.
    pub fn target(&self, id: TargetId) -> &Target {
        &self.targets[id]
    }
}
