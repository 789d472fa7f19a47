//! What each command does, on top of the library.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::{Cli, Command, GlobalOptions};
use cpbuild_engine::action::{BuildOptions, CancelFlag, Registry};
use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::events::{Event, HumanReporter, JsonReporter, Reporter};
use cpbuild_engine::execute::Executor;
use cpbuild_engine::graph::Graph;
use cpbuild_engine::plan::{Build, ItemState, Plan, Planner};
use cpbuild_engine::recipe::Published;
use cpbuild_engine::recipe::Recipes;
use cpbuild_engine::store::LockMode;
use cpbuild_engine::store::Store;

/// The project root: `-C DIR` or the current directory, canonical.
pub(super) fn project_root(global: &GlobalOptions) -> Result<PathBuf> {
    let current = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let root = match &global.directory {
        Some(dir) => {
            let dir = current.join(dir);
            if !dir.is_dir() {
                return Err(Error::usage(format!(
                    "`-C {}`: no such directory",
                    dir.display()
                )));
            }
            dir
        }
        None => current,
    };
    root.canonicalize().map_err(|e| Error::io(&root, e))
}

/// A loaded project: recipes, graph, store location.
pub(super) struct Project {
    pub(super) root: PathBuf,
    recipes: Recipes,
    pub(super) graph: Graph,
    registry: Registry,
    store_dir: PathBuf,
    options: BuildOptions,
}

/// Builds the graph of `options.profile`, expanding every data-dependent grid whose target is
/// built for its current inputs in `store` with the values that target published (its
/// manifest's `info`), until no more grids can expand. Grids whose targets are not built stay
/// pending (the build loop builds them first).
fn resolved_graph(
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
                let (_, manifest) = store.unpacked(&item.key)?;
                published.insert(name, manifest.info);
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
    pub(super) fn load(global: &GlobalOptions) -> Result<Project> {
        let root = project_root(global)?;
        let recipes = Recipes::load_dir(&root, &root.join("recipes"))?;
        let registry = crate::registry();
        let store_dir = match &global.store {
            Some(dir) => root.join(dir),
            None => root.join("artifacts"),
        };
        let choice: cpbuild_ml::backend::BackendChoice = global
            .backend
            .as_deref()
            .unwrap_or("ndarray")
            .parse()
            .map_err(|e: cpbuild_ml::backend::BackendError| Error::Usage {
                message: e.to_string(),
                help: None,
            })?;
        // `auto` is resolved here, so that keys name the backend that actually runs.
        let backend = if choice == cpbuild_ml::backend::BackendChoice::NdArray {
            "ndarray".to_string()
        } else {
            let resolved = cpbuild_ml::backend::resolve(choice).map_err(|e| Error::Usage {
                message: e.to_string(),
                help: None,
            })?;
            if !global.json {
                eprintln!("cpbuild: backend {resolved}");
            }
            resolved.kind().name().to_string()
        };
        let options = BuildOptions {
            profile: global.profile.clone(),
            settings: [("backend".to_string(), backend)].into(),
        };
        let mut project = Project {
            graph: Graph::build(&recipes, &global.profile, &registry)?,
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
    pub(super) fn expand_grids(&mut self) -> Result<()> {
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
    fn waiting_lines(&self, grids: &BTreeSet<String>) -> Vec<String> {
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

    pub(super) fn store(&self) -> Result<Store> {
        Store::open(&self.store_dir)
    }

    fn store_display(&self) -> String {
        cpbuild_engine::recipe::display_relative(&self.root, &self.store_dir)
            .display()
            .to_string()
    }

    pub(super) fn planner<'a>(&'a self, store: &'a Store, force: bool) -> Planner<'a> {
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

fn reporter(global: &GlobalOptions) -> Box<dyn Reporter> {
    if global.json {
        Box::new(JsonReporter)
    } else {
        Box::new(HumanReporter::new(
            global.explain || global.dry_run,
            std::io::stderr().is_terminal(),
        ))
    }
}

/// Runs the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let global = cli.global.clone();
    if cli.print_version {
        println!("cpbuild {}", cpbuild_engine::VERSION);
        return Ok(exit_code::SUCCESS);
    }
    check_precision(&global)?;
    match cli.command {
        None => build(&global, &[], false),
        Some(Command::Build { targets, only }) => build(&global, &targets, only),
        Some(Command::List { kinds }) => list(&global, kinds),
        Some(Command::Graph { target, dot }) => graph(&global, target.as_deref(), dot),
        Some(Command::Status { targets }) => status(&global, &targets),
        Some(Command::Show { target }) => show(&global, &target),
        Some(Command::Archive {
            targets,
            version,
            output,
            figures_only,
            build,
            timings,
        }) => archive(
            &global,
            &ArchiveOptions {
                targets,
                version,
                output,
                figures_only,
                build,
                timings,
            },
        ),
        Some(Command::VerifyArchive { file }) => verify_archive(&file),
        Some(Command::Import { file }) => import(&global, &file),
        Some(Command::Report {
            targets,
            html: false,
            ..
        }) => report(&global, &targets),
        Some(Command::Report {
            targets,
            html: true,
            output,
            timings,
        }) => html_report(&global, &targets, output, timings),
        Some(Command::Verify { targets }) => super::verify::verify(&global, &targets),
        Some(Command::Bench {
            model,
            steps,
            batch,
            full_epoch,
        }) => super::bench::bench(
            &global,
            &crate::bench::BenchConfig {
                model,
                steps,
                batch,
                full_epoch,
            },
        ),
        Some(Command::Gc) => gc(&global),
        Some(Command::Fsck) => fsck(&global),
        Some(Command::Clean { yes }) => clean(&global, yes),
    }
}

/// `--precision`: only `f32` trains; `bf16` is refused with the reason (it is not part of any
/// key, so the default leaves every key as it was).
fn check_precision(global: &GlobalOptions) -> Result<()> {
    global
        .precision
        .parse::<cpbuild_ml::precision::Precision>()
        .and_then(|precision| precision.check())
        .map_err(|error| Error::Usage {
            message: error.to_string(),
            help: None,
        })
}

fn wait_message(reporter: &dyn Reporter, store: &str) -> impl FnOnce(Option<u32>) {
    move |pid| {
        let holder = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        reporter.report(&Event::Waiting {
            message: format!("for the lock on store `{store}`, held by another cpbuild{holder}"),
        });
    }
}

/// Builds the requested targets. Where they need a data-dependent grid that is not expanded
/// yet, the targets it waits on are built first (with whatever else is ready), the grid is
/// expanded from their published values, and the build goes on; `-n` stops after saying so.
pub(super) fn build(global: &GlobalOptions, targets: &[String], only: bool) -> Result<i32> {
    let mut project = Project::load(global)?;
    loop {
        let (roots, mut grids) = project.graph.resolve_request(targets)?;
        grids.extend(project.graph.waiting_grids(&roots));
        if grids.is_empty() {
            return build_roots(global, &project, &roots, only, global.always_make);
        }
        if only {
            return Err(Error::Usage {
                message: format!(
                    "`--only` cannot build what waits on a grid that is not expanded yet: {}",
                    project.waiting_lines(&grids).join("; ")
                ),
                help: Some(
                    "build without `--only` (it builds what the grid waits on first)".into(),
                ),
            });
        }
        let mut phase = project.graph.blockers(&grids)?;
        phase.extend(
            roots
                .iter()
                .copied()
                .filter(|&root| project.graph.waiting_grids(&[root]).is_empty()),
        );
        let reporter = reporter(global);
        for line in project.waiting_lines(&grids) {
            reporter.report(&Event::Waiting { message: line });
        }
        if global.dry_run {
            return build_roots(global, &project, &phase, false, false);
        }
        let code = build_roots(global, &project, &phase, false, false)?;
        if code != exit_code::SUCCESS {
            return Ok(code);
        }
        let before = project.graph.pending.len();
        project.expand_grids()?;
        if project.graph.pending.len() == before {
            return Err(Error::usage(format!(
                "the grids still wait after their targets were built: {}",
                project.waiting_lines(&grids).join("; ")
            )));
        }
        for group in &grids {
            if let Some(members) = project.graph.groups.get(group) {
                reporter.report(&Event::Progress {
                    target: group.clone(),
                    message: format!("grid expanded into {} targets", members.len()),
                });
            }
        }
    }
}

fn build_roots(
    global: &GlobalOptions,
    project: &Project,
    roots: &[usize],
    only: bool,
    force: bool,
) -> Result<i32> {
    let roots = roots.to_vec();
    if global.jobs == Some(0) {
        return Err(Error::Usage {
            message: "`-j 0` would run nothing".into(),
            help: Some("give at least 1, e.g. `-j 1`, or leave `-j` out to use every core".into()),
        });
    }
    let reporter = reporter(global);
    if !project.store_dir.exists() {
        // Plan against the store that does not exist yet, so that an error (a missing input)
        // leaves no empty store behind.
        project
            .planner(&Store::at(&project.store_dir), force)
            .plan(&roots)?;
    }
    let store = project.store()?;
    let _store_lock =
        store.lock_for_build(wait_message(reporter.as_ref(), &project.store_display()))?;
    let full = project.planner(&store, force).plan(&roots)?;
    let plan = full.needed(&project.graph, &roots);
    let dirty: Vec<_> = plan.items.iter().filter(|i| i.is_dirty()).collect();
    if only {
        let missing: Vec<String> = dirty
            .iter()
            .filter(|item| !roots.contains(&item.id))
            .map(|item| format!("`{}`", project.graph.target(item.id).spec.name))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Usage {
                message: format!(
                    "`--only` builds just the named targets, but these dependencies are not built: {}",
                    missing.join(", ")
                ),
                help: Some("build them first, or drop `--only`".into()),
            });
        }
    }
    if global.executor == super::Executor::Slurm {
        return slurm(global, project, &store, &plan);
    }
    reporter.report(&Event::Plan {
        profile: global.profile.clone(),
        store: project.store_display(),
        targets: plan.items.len(),
        dirty: dirty.len(),
    });
    if global.dry_run {
        for item in dirty {
            if let ItemState::Dirty(reasons) = &item.state {
                reporter.report(&Event::WouldRun {
                    target: project.graph.target(item.id).spec.name.clone(),
                    key: item.key.clone(),
                    reasons: reasons.clone(),
                });
            }
        }
        return Ok(exit_code::SUCCESS);
    }
    let cancel = CancelFlag::default();
    install_interrupt_handler(&cancel);
    let jobs = global.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let executor = Executor {
        build: Build {
            graph: &project.graph,
            registry: &project.registry,
            store: &store,
            project_root: &project.root,
            options: &project.options,
        },
        reporter: reporter.as_ref(),
        jobs,
        keep_going: global.keep_going,
        no_rebuild: global.no_rebuild,
        cancel,
    };
    executor.run(&plan, &roots)?.into_result()?;
    Ok(exit_code::SUCCESS)
}

fn install_interrupt_handler(cancel: &CancelFlag) {
    let cancel = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if cancel.is_cancelled() {
            // A second Ctrl-C: leave now. Nothing partial is committed either way.
            std::process::exit(exit_code::INTERRUPTED);
        }
        eprintln!("cpbuild: interrupted; stopping running actions (Ctrl-C again to quit now)");
        cancel.cancel();
    });
}

fn list(global: &GlobalOptions, kinds: bool) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    if kinds {
        for action in crate::registry().kinds() {
            let _ = writeln!(
                out,
                "{:<16} v{:<4} {}",
                action.kind(),
                action.version(),
                action.description()
            );
        }
        return Ok(exit_code::SUCCESS);
    }
    let project = Project::load(global)?;
    let defaults: BTreeSet<usize> = project.graph.default.iter().copied().collect();
    for (id, target) in project.graph.targets.iter().enumerate() {
        let spec = &target.spec;
        let mark = if defaults.contains(&id) && project.recipes.default.is_some() {
            "*"
        } else {
            " "
        };
        let description = spec.description.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "{mark} {:<32} {:<14} {description}",
            spec.name, spec.kind
        )
        .map(|_| ());
    }
    for (group, members) in &project.graph.groups {
        let _ = writeln!(out, "  {group:<32} (grid of {} targets)", members.len());
    }
    let pending: BTreeSet<String> = project.graph.pending.keys().cloned().collect();
    for line in project.waiting_lines(&pending) {
        let _ = writeln!(out, "  waiting: {line}");
    }
    Ok(exit_code::SUCCESS)
}

fn graph(global: &GlobalOptions, target: Option<&str>, dot: bool) -> Result<i32> {
    let project = Project::load(global)?;
    let (roots, mut grids) = match target {
        Some(name) => project.graph.resolve_request(&[name.to_string()])?,
        None => (
            (0..project.graph.targets.len()).collect(),
            project.graph.pending.keys().cloned().collect(),
        ),
    };
    grids.extend(project.graph.waiting_grids(&roots));
    let order = project.graph.closure(&roots);
    let mut out = std::io::stdout().lock();
    let name = |id: usize| project.graph.target(id).spec.name.as_str();
    // A pending grid is one node (its name template), drawn after the target it waits on.
    let waiting = |id: usize| -> Vec<String> {
        project
            .graph
            .waits_on
            .get(&id)
            .map(|groups| groups.iter().cloned().collect())
            .unwrap_or_default()
    };
    if dot {
        let _ = writeln!(out, "digraph cpbuild {{\n  rankdir=LR;");
        for &id in &order {
            let spec = &project.graph.target(id).spec;
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\\n{}\"];",
                spec.name, spec.name, spec.kind
            );
            for &dep in &project.graph.target(id).deps {
                let _ = writeln!(out, "  \"{}\" -> \"{}\";", name(dep), spec.name);
            }
            for group in waiting(id) {
                let _ = writeln!(out, "  \"{group}\" -> \"{}\";", spec.name);
            }
        }
        for grid in grids.iter().filter_map(|g| project.graph.pending.get(g)) {
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\\nwaiting on {}.{}\", style=dashed];\n  \"{}\" -> \"{}\" [style=dashed];",
                grid.group, grid.name_template, grid.target, grid.value, grid.target, grid.group
            );
        }
        let _ = writeln!(out, "}}");
    } else {
        for grid in grids.iter().filter_map(|g| project.graph.pending.get(g)) {
            let _ = writeln!(
                out,
                "{} [grid waiting on `{}`'s `{}`] <- {}",
                grid.name_template, grid.target, grid.value, grid.target
            );
        }
        for &id in &order {
            let target = project.graph.target(id);
            let mut deps: Vec<String> = target.deps.iter().map(|&d| name(d).to_string()).collect();
            deps.extend(waiting(id).into_iter().map(|group| {
                let template = &project.graph.pending[&group].name_template;
                format!("{template} (waiting)")
            }));
            if deps.is_empty() {
                let _ = writeln!(out, "{} [{}]", target.spec.name, target.spec.kind);
            } else {
                let _ = writeln!(
                    out,
                    "{} [{}] <- {}",
                    target.spec.name,
                    target.spec.kind,
                    deps.join(", ")
                );
            }
        }
    }
    Ok(exit_code::SUCCESS)
}

fn status(global: &GlobalOptions, targets: &[String]) -> Result<i32> {
    let project = Project::load(global)?;
    let (roots, mut grids) = project.graph.resolve_request(targets)?;
    grids.extend(project.graph.waiting_grids(&roots));
    let store = project.store()?;
    // Targets that wait on a grid have no key yet: they are listed as waiting, and the rest
    // of their closure is planned, with the targets the grids wait on (built first).
    let mut starts = roots.clone();
    starts.extend(project.graph.blockers(&grids)?);
    let closure = project.graph.closure(&starts);
    let waiting_ids: Vec<usize> = closure
        .iter()
        .copied()
        .filter(|&id| !project.graph.waiting_grids(&[id]).is_empty())
        .collect();
    let ready: Vec<usize> = closure
        .iter()
        .copied()
        .filter(|id| !waiting_ids.contains(id))
        .collect();
    let mut out = std::io::stdout().lock();
    for line in project.waiting_lines(&grids) {
        if global.json {
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"state": "waiting", "grid": line})
            );
        } else {
            let _ = writeln!(out, "waiting grid {line}");
        }
    }
    for &id in &waiting_ids {
        let name = &project.graph.target(id).spec.name;
        let grids: Vec<String> = project
            .graph
            .waiting_grids(&[id])
            .into_iter()
            .map(|g| format!("`{g}`"))
            .collect();
        if global.json {
            let line = serde_json::json!({"target": name, "state": "waiting", "grids": grids});
            let _ = writeln!(out, "{line}");
        } else {
            let _ = writeln!(out, "waiting {name}: needs grid {}", grids.join(", "));
        }
    }
    // Planned after the waiting lines, so a plan that fails (a missing input) still says
    // which grids wait.
    let plan: Plan = project.planner(&store, false).plan(&ready)?;
    let mut dirty = 0;
    for item in &plan.items {
        let name = &project.graph.target(item.id).spec.name;
        if global.json {
            let (state, reasons) = match &item.state {
                ItemState::Fresh => ("fresh", Vec::new()),
                ItemState::Dirty(reasons) => ("dirty", reasons.clone()),
            };
            let line = serde_json::json!({"target": name, "key": item.key, "state": state, "reasons": reasons});
            let _ = writeln!(out, "{line}");
            continue;
        }
        match &item.state {
            ItemState::Fresh => {
                let _ = writeln!(out, "fresh  {name}");
            }
            ItemState::Dirty(reasons) => {
                dirty += 1;
                let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "dirty  {name}: {}", text.join("; "));
            }
        }
    }
    if !global.json {
        let waiting = if waiting_ids.is_empty() {
            String::new()
        } else {
            format!(", {} waiting", waiting_ids.len())
        };
        let _ = writeln!(
            out,
            "{} fresh, {dirty} dirty{waiting} (profile `{}`)",
            plan.items.len() - dirty,
            global.profile
        );
    }
    Ok(exit_code::SUCCESS)
}

fn show(global: &GlobalOptions, target: &str) -> Result<i32> {
    let project = Project::load(global)?;
    let ids = project.graph.resolve(target)?;
    let store = project.store()?;
    let plan = project.planner(&store, false).plan(&ids)?;
    let mut out = std::io::stdout().lock();
    for id in ids {
        let item = plan.item(id).expect("planned");
        let name = &project.graph.target(id).spec.name;
        if let ItemState::Dirty(reasons) = &item.state {
            let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            return Err(Error::Usage {
                message: format!(
                    "target `{name}` is not built for its current inputs ({})",
                    text.join("; ")
                ),
                help: Some(format!("run `cpbuild {name}` first")),
            });
        }
        let (directory, manifest) = store.unpacked(&item.key)?;
        let value = serde_json::json!({
            "bundle": store.bundle_path(&item.key),
            "unpacked": directory,
            "manifest": manifest,
            "run": store.read_run(&item.key),
        });
        let _ = write!(
            out,
            "{}",
            cpbuild_engine::util::canonical::to_pretty(&value)
        );
    }
    Ok(exit_code::SUCCESS)
}

/// Every key any current target has, in any profile.
fn live_keys(project: &Project, store: &Store) -> Result<BTreeSet<String>> {
    let mut profiles: Vec<String> = project.recipes.profiles.keys().cloned().collect();
    if profiles.is_empty() {
        profiles.push(cpbuild_engine::recipe::DEFAULT_PROFILE.to_string());
    }
    let mut keys = BTreeSet::new();
    for profile in profiles {
        let options = BuildOptions {
            profile: profile.clone(),
            settings: project.options.settings.clone(),
        };
        let graph = resolved_graph(
            &project.recipes,
            &project.registry,
            Some(store),
            &project.root,
            &options,
        )?;
        let planner = Planner {
            build: Build {
                graph: &graph,
                registry: &project.registry,
                store,
                project_root: &project.root,
                options: &options,
            },
            force: false,
        };
        // Targets waiting on a grid that is not expanded have no key: nothing of theirs is
        // in the store for their current inputs.
        let all: Vec<usize> = (0..graph.targets.len())
            .filter(|&id| graph.waiting_grids(&[id]).is_empty())
            .collect();
        let plan = planner.plan(&all).map_err(|e| {
            Error::usage(format!(
                "cannot compute the keys of profile `{profile}`, so gc cannot tell what is live: {e}"
            ))
        })?;
        keys.extend(plan.items.into_iter().map(|i| i.key));
    }
    Ok(keys)
}

fn gc(global: &GlobalOptions) -> Result<i32> {
    let project = Project::load(global)?;
    let reporter = reporter(global);
    let store = project.store()?;
    let _lock = store.lock(
        LockMode::Exclusive,
        wait_message(reporter.as_ref(), &project.store_display()),
    )?;
    let live = live_keys(&project, &store)?;
    let mut removed = 0usize;
    let mut freed = 0u64;
    for key in store.keys()? {
        if !live.contains(&key) {
            freed += store.remove(&key)?;
            removed += 1;
        }
    }
    // Unpacked copies whose bundle is gone.
    let unpacked = store.root().join("unpacked");
    for entry in std::fs::read_dir(&unpacked)
        .map_err(|e| Error::io(&unpacked, e))?
        .flatten()
    {
        let key = entry.file_name().to_string_lossy().into_owned();
        if !store.bundle_path(&key).exists() {
            cpbuild_engine::util::fs::remove_tree(&entry.path())
                .map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    store.remove_scratch()?;
    store.prune_families()?;
    println!(
        "cpbuild gc: removed {removed} bundle{} ({}), kept {}",
        if removed == 1 { "" } else { "s" },
        human_bytes(freed),
        live.len().min(store.keys()?.len())
    );
    Ok(exit_code::SUCCESS)
}

/// `cpbuild fsck`: re-hash every bundle and unpacked copy; move what is damaged to `corrupt/`
/// and say what to rebuild. Exit 0 when nothing is damaged, 3 otherwise.
fn fsck(global: &GlobalOptions) -> Result<i32> {
    let root = project_root(global)?;
    let store_dir = match &global.store {
        Some(dir) => root.join(dir),
        None => root.join("artifacts"),
    };
    let shown = cpbuild_engine::recipe::display_relative(&root, &store_dir)
        .display()
        .to_string();
    if !store_dir.exists() {
        println!("cpbuild fsck: no store at `{shown}`; nothing to check");
        return Ok(exit_code::SUCCESS);
    }
    let reporter = reporter(global);
    let store = Store::open(&store_dir)?;
    let _lock = store.lock(LockMode::Exclusive, wait_message(reporter.as_ref(), &shown))?;
    let report = store.fsck()?;
    println!(
        "cpbuild fsck: re-hashed {} bundle{} ({}) and {} unpacked cop{} in `{shown}`",
        report.bundles,
        if report.bundles == 1 { "" } else { "s" },
        human_bytes(report.bytes),
        report.unpacked,
        if report.unpacked == 1 { "y" } else { "ies" },
    );
    if report.damage.is_empty() {
        println!("  no damage found");
        return Ok(exit_code::SUCCESS);
    }
    let mut rebuild: BTreeSet<(String, String)> = BTreeSet::new();
    for damage in &report.damage {
        let target = match &damage.target {
            Some(name) => format!("target `{name}`"),
            None => "an unknown target".to_string(),
        };
        let what = if damage.bundle {
            "bundle"
        } else {
            "unpacked copy"
        };
        println!(
            "  damaged: the {what} of {target} (key {}): {}; moved to `{}`",
            &damage.key[..damage.key.len().min(12)],
            damage.detail,
            cpbuild_engine::recipe::display_relative(&root, &damage.moved_to).display()
        );
        if damage.bundle
            && let Some(name) = &damage.target
        {
            let profile = damage
                .profile
                .clone()
                .unwrap_or_else(|| global.profile.clone());
            rebuild.insert((profile, name.clone()));
        }
    }
    let unpacked_only = report.damage.iter().filter(|d| !d.bundle).count();
    if unpacked_only > 0 {
        println!(
            "  {unpacked_only} unpacked cop{} will be unpacked again from {} bundle{} when next used",
            if unpacked_only == 1 { "y" } else { "ies" },
            if unpacked_only == 1 { "its" } else { "their" },
            if unpacked_only == 1 { "" } else { "s" },
        );
    }
    let mut by_profile: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (profile, name) in rebuild {
        by_profile.entry(profile).or_default().push(name);
    }
    for (profile, names) in by_profile {
        println!("  rebuild: cpbuild --profile {profile} {}", names.join(" "));
    }
    Ok(exit_code::STORE)
}

fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn store_size(dir: &Path) -> u64 {
    cpbuild_engine::util::fs::walk(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn clean(global: &GlobalOptions, yes: bool) -> Result<i32> {
    let current = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let root = match &global.directory {
        Some(dir) => current.join(dir),
        None => current,
    };
    let store_dir = match &global.store {
        Some(dir) => root.join(dir),
        None => root.join("artifacts"),
    };
    if !store_dir.exists() {
        println!("cpbuild clean: no store at `{}`", store_dir.display());
        return Ok(exit_code::SUCCESS);
    }
    let store = Store::open(&store_dir)?;
    let bundles = store.keys()?.len();
    let size = human_bytes(store_size(&store_dir));
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::Usage {
                message: format!(
                    "refusing to remove the store `{}` ({bundles} bundles, {size}) without confirmation",
                    store_dir.display()
                ),
                help: Some("pass `--yes`".into()),
            });
        }
        eprint!(
            "remove the store `{}` ({bundles} bundles, {size})? [y/N] ",
            store_dir.display()
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("cpbuild clean: kept the store");
            return Ok(exit_code::SUCCESS);
        }
    }
    let reporter = reporter(global);
    let _lock = store.lock(
        LockMode::Exclusive,
        wait_message(reporter.as_ref(), &store_dir.display().to_string()),
    )?;
    cpbuild_engine::util::fs::remove_tree(&store_dir).map_err(|e| Error::io(&store_dir, e))?;
    println!(
        "cpbuild clean: removed `{}` ({bundles} bundles, {size})",
        store_dir.display()
    );
    Ok(exit_code::SUCCESS)
}

struct ArchiveOptions {
    targets: Vec<String>,
    version: String,
    output: Option<PathBuf>,
    figures_only: bool,
    build: bool,
    timings: bool,
}

impl Project {
    fn name(&self) -> String {
        match &self.recipes.project {
            Some((name, _)) => name.clone(),
            None => self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into()),
        }
    }

    /// The archive manifest of the roots' closure as it stands in `store` (no files or root hash
    /// yet): what `archive` writes, and what `report` and `report --html` read.
    fn archive_manifest(
        &self,
        store: &Store,
        roots: &[usize],
        version: String,
        mode: cpbuild_engine::archive::Mode,
        timings: bool,
    ) -> Result<cpbuild_engine::archive::ArchiveManifest> {
        Ok(cpbuild_engine::archive::ArchiveManifest {
            format: cpbuild_engine::archive::FORMAT,
            project: self.name(),
            version,
            cpbuild: cpbuild_engine::VERSION.to_string(),
            profile: self.options.profile.clone(),
            mode,
            requested: self.requested_names(roots),
            targets: self.archived_targets(store, roots, timings)?,
            files: Default::default(),
            root_hash: String::new(),
        })
    }

    /// Every target the roots depend on, as the archive records them; refuses dirty ones.
    fn archived_targets(
        &self,
        store: &Store,
        roots: &[usize],
        timings: bool,
    ) -> Result<std::collections::BTreeMap<String, cpbuild_engine::archive::ArchivedTarget>> {
        let plan = self.planner(store, false).plan(roots)?;
        let dirty: Vec<String> = plan
            .items
            .iter()
            .filter_map(|item| match &item.state {
                ItemState::Dirty(reasons) => {
                    let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                    Some(format!(
                        "  - `{}`: {}",
                        self.graph.target(item.id).spec.name,
                        text.join("; ")
                    ))
                }
                ItemState::Fresh => None,
            })
            .collect();
        if !dirty.is_empty() {
            return Err(Error::Usage {
                message: format!(
                    "{} target{} must be built first:\n{}",
                    dirty.len(),
                    if dirty.len() == 1 { "" } else { "s" },
                    dirty.join("\n")
                ),
                help: Some("build them (`cpbuild TARGET...`), or pass `--build`".into()),
            });
        }
        let mut targets = std::collections::BTreeMap::new();
        for item in &plan.items {
            let spec = &self.graph.target(item.id).spec;
            let manifest = store
                .bundle_manifest(&item.key)
                .map_err(|e| Error::store(format!("target `{}`: {e}", spec.name)))?;
            let bundle_sha256 = store.recorded_sha(&item.key).ok_or_else(|| {
                Error::store(format!(
                    "the bundle of `{}` has no recorded sha256",
                    spec.name
                ))
            })?;
            let seconds = if timings {
                store.read_run(&item.key).map(|r| r.finished - r.started)
            } else {
                None
            };
            targets.insert(
                spec.name.clone(),
                cpbuild_engine::archive::ArchivedTarget {
                    key: item.key.clone(),
                    fingerprint: manifest.fingerprint,
                    bundle_sha256,
                    machine: manifest.machine,
                    info: manifest.info,
                    files: manifest.files,
                    requested: roots.contains(&item.id),
                    description: spec.description.clone(),
                    seconds,
                },
            );
        }
        Ok(targets)
    }

    fn requested_names(&self, roots: &[usize]) -> Vec<String> {
        let mut names: Vec<String> = roots
            .iter()
            .map(|&id| self.graph.target(id).spec.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

fn archive(global: &GlobalOptions, options: &ArchiveOptions) -> Result<i32> {
    use cpbuild_engine::archive::{self, Mode};
    if !archive::valid_version(&options.version) {
        return Err(Error::Usage {
            message: format!("`--version {}` is not a version", options.version),
            help: Some("write `X.Y.Z`, e.g. `--version 1.0.0`".into()),
        });
    }
    if options.build {
        // First what the targets need (expanding data-dependent grids on the way)...
        let code = build(global, &options.targets, false)?;
        if code != exit_code::SUCCESS {
            return Ok(code);
        }
    }
    let project = Project::load(global)?;
    let roots = project.graph.resolve_all(&options.targets)?;
    if options.build {
        // ...then everything below them, which must be in the store too.
        let closure = project.graph.closure(&roots);
        let code = build_roots(global, &project, &closure, false, false)?;
        if code != exit_code::SUCCESS {
            return Ok(code);
        }
    }
    let store = project.store()?;
    let reporter = reporter(global);
    let _store_lock = store.lock(
        LockMode::Shared,
        wait_message(reporter.as_ref(), &project.store_display()),
    )?;
    let mode = if options.figures_only {
        Mode::FiguresOnly
    } else {
        Mode::Full
    };
    let manifest = project.archive_manifest(
        &store,
        &roots,
        options.version.clone(),
        mode,
        options.timings,
    )?;
    let name = manifest.project.clone();
    let report = project.html_report(&store, &manifest)?;
    let recipes = project
        .recipes
        .files
        .iter()
        .map(|file| {
            let relative = file.display_path.to_string_lossy().into_owned();
            (relative.clone(), project.root.join(&relative))
        })
        .collect();
    let destination = match &options.output {
        Some(path) => path.clone(),
        None => PathBuf::from(format!(
            "{}.tar.zst",
            archive::top_folder(&name, &options.version)
        )),
    };
    let (sha, manifest) = archive::write(
        archive::Request {
            manifest,
            store: &store,
            recipes,
            documents: vec![archive::Document {
                path: crate::report_html::ARCHIVE_PATH.into(),
                bytes: report.into_bytes(),
                description: "the report to open in a browser: every figure, its golden status and provenance, every run's curves, the dependency graph".into(),
            }],
            context: crate::archive_context(&project.registry),
        },
        &destination,
    )?;
    let size = std::fs::metadata(&destination)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "cpbuild archive: wrote `{}` ({}, {} targets, {} files)\n  sha256 {sha}\n  root hash {}",
        destination.display(),
        human_bytes(size),
        manifest.targets.len(),
        manifest.files.len() + 1,
        manifest.root_hash
    );
    Ok(exit_code::SUCCESS)
}

fn verify_archive(file: &Path) -> Result<i32> {
    match cpbuild_engine::archive::verify(file) {
        Ok(verified) => {
            println!(
                "cpbuild verify-archive: `{}` is intact: {} members, {} uncompressed, {} targets, root hash {}",
                file.display(),
                verified.members,
                human_bytes(verified.bytes),
                verified.manifest.targets.len(),
                verified.manifest.root_hash
            );
            Ok(exit_code::SUCCESS)
        }
        Err(problems) => Err(Error::store(format!(
            "archive `{}` failed verification ({} problem{}):\n{}",
            file.display(),
            problems.0.len(),
            if problems.0.len() == 1 { "" } else { "s" },
            problems
                .0
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

fn import(global: &GlobalOptions, file: &Path) -> Result<i32> {
    let project = Project::load(global)?;
    let store = project.store()?;
    let reporter = reporter(global);
    let _store_lock = store.lock(
        LockMode::Shared,
        wait_message(reporter.as_ref(), &project.store_display()),
    )?;
    let imported = cpbuild_engine::archive::import(file, &store)?;
    println!(
        "cpbuild import: `{}` verified; {} bundle{} added, {} already present (profile `{}`)",
        file.display(),
        imported.added,
        if imported.added == 1 { "" } else { "s" },
        imported.present,
        imported.profile
    );
    if imported.profile != global.profile {
        println!(
            "  note: the archive was built under profile `{}`: use `--profile {}`",
            imported.profile, imported.profile
        );
    }
    Ok(exit_code::SUCCESS)
}

fn report(global: &GlobalOptions, targets: &[String]) -> Result<i32> {
    use cpbuild_engine::archive::{self, Mode};
    let project = Project::load(global)?;
    let roots = project.graph.resolve_all(targets)?;
    let store = project.store()?;
    let manifest = project.archive_manifest(&store, &roots, "local".into(), Mode::Full, true)?;
    let context = crate::archive_context(&project.registry);
    print!("{}", archive::reproducibility_report(&manifest, &context));
    Ok(exit_code::SUCCESS)
}

impl Project {
    /// The HTML report of the targets `manifest` records, from their bundles in `store`.
    fn html_report(
        &self,
        store: &Store,
        manifest: &cpbuild_engine::archive::ArchiveManifest,
    ) -> Result<String> {
        let groups = self
            .graph
            .targets
            .iter()
            .filter(|target| !target.spec.grid.is_empty())
            .map(|target| (target.spec.name.clone(), target.spec.group.clone()))
            .collect();
        let files = |key: &str| {
            store
                .unpacked(key)
                .map(|(directory, _)| directory.join("files"))
        };
        crate::report_html::render(&crate::report_html::Source {
            manifest,
            files: &files,
            groups,
            golden_dir: self.root.join(super::verify::GOLDEN_DIR),
            golden_display: super::verify::GOLDEN_DIR.into(),
        })
    }
}

/// `cpbuild report --html`: writes `index.html` into `output` (default `artifacts/report/`).
fn html_report(
    global: &GlobalOptions,
    targets: &[String],
    output: Option<PathBuf>,
    timings: bool,
) -> Result<i32> {
    use cpbuild_engine::archive::Mode;
    let project = Project::load(global)?;
    let roots = project.graph.resolve_all(targets)?;
    let store = project.store()?;
    let reporter = reporter(global);
    let _store_lock = store.lock(
        LockMode::Shared,
        wait_message(reporter.as_ref(), &project.store_display()),
    )?;
    let manifest = project.archive_manifest(&store, &roots, "local".into(), Mode::Full, timings)?;
    let page = project.html_report(&store, &manifest)?;
    let directory = output.unwrap_or_else(|| project.root.join("artifacts").join("report"));
    std::fs::create_dir_all(&directory).map_err(|e| Error::io(&directory, e))?;
    let path = directory.join(crate::report_html::INDEX);
    let partial = directory.join(format!("{}.partial", crate::report_html::INDEX));
    std::fs::write(&partial, page.as_bytes())
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Error::io(&path, e)
        })?;
    let shown = cpbuild_engine::recipe::display_relative(&project.root, &path);
    let absolute = path.canonicalize().unwrap_or_else(|_| path.clone());
    println!(
        "cpbuild report: wrote `{}` ({}, {} target{})
  open file://{}",
        shown.display(),
        human_bytes(page.len() as u64),
        manifest.targets.len(),
        if manifest.targets.len() == 1 { "" } else { "s" },
        absolute.display()
    );
    Ok(exit_code::SUCCESS)
}

fn slurm(global: &GlobalOptions, project: &Project, store: &Store, plan: &Plan) -> Result<i32> {
    use cpbuild_engine::execute::{Resources, SlurmExecutor};
    let profile = project.recipes.profile(&global.profile)?;
    let overrides: Vec<(&str, &Option<String>)> = vec![
        ("partition", &global.slurm_partition),
        ("gres", &global.slurm_gres),
        ("cpus", &global.slurm_cpus),
        ("mem", &global.slurm_mem),
        ("time", &global.slurm_time),
    ];
    let resources = |id: usize| -> Result<Resources> {
        let kind = &project.graph.target(id).spec.kind;
        let mut resources = project
            .recipes
            .resources_for(kind, &profile, &global.profile)?;
        for (name, value) in &overrides {
            if let Some(value) = value {
                resources.insert(name.to_string(), value.clone());
            }
        }
        Ok(resources)
    };
    let program = std::env::current_exe().map_err(|e| Error::io("cpbuild", e))?;
    let store_dir = store
        .root()
        .canonicalize()
        .map_err(|e| Error::io(store.root(), e))?;
    let reporter = reporter(global);
    let cancel = CancelFlag::default();
    let executor = SlurmExecutor {
        graph: &project.graph,
        store,
        project_root: &project.root,
        program,
        node_args: vec![
            "--profile".into(),
            global.profile.clone(),
            "--store".into(),
            store_dir.to_string_lossy().into_owned(),
            "--executor".into(),
            "local".into(),
            "--backend".into(),
            project
                .options
                .settings
                .get("backend")
                .cloned()
                .unwrap_or_else(|| "ndarray".into()),
        ],
        resources: &resources,
        reporter: reporter.as_ref(),
        cancel: cancel.clone(),
        poll: std::time::Duration::from_millis(500),
    };
    if global.dry_run {
        let mut out = std::io::stdout().lock();
        executor.dry_run(plan, &mut out)?;
        return Ok(exit_code::SUCCESS);
    }
    install_interrupt_handler(&cancel);
    executor.run(plan)?.into_result()?;
    Ok(exit_code::SUCCESS)
}
