//! A loaded project: its recipes, the graph of one profile (data-dependent grids expanded as far
//! as the store allows), the kinds, the store and the build options. The commands of the CLI
//! are thin layers over it; what they compute that is not printing lives here:
//! [`gc`] (what is live, what goes), [`archive`] (the archive manifest and the HTML report of
//! built targets) and [`verify`] (every figure CSV against its golden copy).

pub mod archive;
pub mod gc;
pub mod verify;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cpbuild_engine::action::{BuildOptions, Registry};
use cpbuild_engine::error::Result;
use cpbuild_engine::graph::Graph;
use cpbuild_engine::plan::{Build, ItemState, Planner};
use cpbuild_engine::recipe::Published;
use cpbuild_engine::recipe::Recipes;
use cpbuild_engine::store::Store;

/// A loaded project: recipes, graph, store location.
pub struct Project {
    /// The project root (holding `recipes/`), canonical.
    pub root: PathBuf,
    /// Every recipe file, parsed.
    pub recipes: Recipes,
    /// The graph of [`BuildOptions::profile`].
    pub graph: Graph,
    /// The kinds this build of cpbuild knows.
    pub registry: Registry,
    /// The store directory.
    pub store_dir: PathBuf,
    /// The profile and the settings that are part of every key (the backend).
    pub options: BuildOptions,
}

/// Builds the graph of `options.profile`, expanding every data-dependent grid whose target is
/// built for its current inputs in `store` with the values that target published (its
/// manifest's `info`), until no more grids can expand. Grids whose targets are not built stay
/// pending (the build loop builds them first).
pub fn resolved_graph(
    recipes: &Recipes,
    registry: &Registry,
    store: Option<&Store>,
    root: &Path,
    options: &BuildOptions,
) -> Result<Graph> {
    let mut published = Published::new();
    let mut graph = Graph::build_with(recipes, &options.profile, registry, &published)?;
    let Some(store) = store else {
        return Ok(graph);
    };
    loop {
        let mut ready: Vec<(String, usize)> = Vec::new();
        for grid in graph.pending.values() {
            if published.contains_key(&grid.target) || ready.iter().any(|(t, _)| *t == grid.target)
            {
                continue;
            }
            let id = graph.by_name[&grid.target];
            if graph.waiting_grids(&[id]).is_empty() {
                ready.push((grid.target.clone(), id));
            }
        }
        if ready.is_empty() {
            return Ok(graph);
        }
        let planner = Planner {
            build: Build {
                graph: &graph,
                registry,
                store,
                project_root: root,
                options,
            },
            force: false,
        };
        let mut added = false;
        for (name, id) in ready {
            // A target that cannot be planned (a missing input, say) is not built: its grids
            // keep waiting, and building it reports the problem where it belongs.
            let Ok(plan) = planner.plan(&[id]) else {
                continue;
            };
            let item = plan.item(id).expect("planned");
            if item.state == ItemState::Fresh {
                published.insert(name, store.manifest(&item.key)?.info);
                added = true;
            }
        }
        if !added {
            return Ok(graph);
        }
        graph = Graph::build_with(recipes, &options.profile, registry, &published)?;
    }
}

impl Project {
    /// The recipes of the project at `root`: every file under `root/recipes`.
    pub fn recipes(root: &Path) -> Result<Recipes> {
        Recipes::load_dir(root, &root.join("recipes"))
    }

    /// The project at `root` with `recipes` (see [`Project::recipes`]): builds the graph of
    /// `options.profile` and expands the data-dependent grids whose targets are built in the
    /// store at `store_dir`.
    pub fn new(
        root: PathBuf,
        recipes: Recipes,
        store_dir: PathBuf,
        options: BuildOptions,
    ) -> Result<Project> {
        let registry = crate::registry();
        let mut project = Project {
            graph: Graph::build(&recipes, &options.profile, &registry)?,
            root,
            recipes,
            registry,
            store_dir,
            options,
        };
        project.expand_grids()?;
        Ok(project)
    }

    /// Expands the data-dependent grids whose targets are built (see [`resolved_graph`]). A
    /// project without such grids, or without a store yet, is left as it is.
    pub fn expand_grids(&mut self) -> Result<()> {
        if self.graph.pending.is_empty() || !self.store_dir.is_dir() {
            return Ok(());
        }
        let store = self.store()?;
        self.graph = resolved_graph(
            &self.recipes,
            &self.registry,
            Some(&store),
            &self.root,
            &self.options,
        )?;
        Ok(())
    }

    /// One line per pending grid that `grids` names: what it waits on and who needs it.
    pub fn waiting_lines(&self, grids: &BTreeSet<String>) -> Vec<String> {
        grids
            .iter()
            .filter_map(|group| self.graph.pending.get(group))
            .map(|grid| {
                let needed_by: Vec<String> = self
                    .graph
                    .waits_on
                    .iter()
                    .filter(|(_, groups)| groups.contains(&grid.group))
                    .map(|(&id, _)| format!("`{}`", self.graph.target(id).spec.name))
                    .collect();
                let needed = if needed_by.is_empty() {
                    String::new()
                } else {
                    format!("; needed by {}", needed_by.join(", "))
                };
                format!(
                    "grid `{}` ({}) expands once `{}` is built, from its `{}`{needed}",
                    grid.group, grid.name_template, grid.target, grid.value
                )
            })
            .collect()
    }

    /// Opens the store (creating it when it does not exist yet).
    pub fn store(&self) -> Result<Store> {
        Store::open(&self.store_dir)
    }

    /// The store directory as the user names it (relative to the project when inside it).
    pub fn store_display(&self) -> String {
        cpbuild_engine::recipe::display_relative(&self.root, &self.store_dir)
            .display()
            .to_string()
    }

    /// A planner of this project's graph against `store`; `force` rebuilds the roots.
    pub fn planner<'a>(&'a self, store: &'a Store, force: bool) -> Planner<'a> {
        Planner {
            build: Build {
                graph: &self.graph,
                registry: &self.registry,
                store,
                project_root: &self.root,
                options: &self.options,
            },
            force,
        }
    }
}

impl Project {
    /// The project's name: `[project] name` in the recipes, else the root directory's name.
    pub fn name(&self) -> String {
        match &self.recipes.project {
            Some((name, _)) => name.clone(),
            None => self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into()),
        }
    }

    /// The names of `roots`, sorted, each once.
    pub fn requested_names(&self, roots: &[usize]) -> Vec<String> {
        let mut names: Vec<String> = roots
            .iter()
            .map(|&id| self.graph.target(id).spec.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
