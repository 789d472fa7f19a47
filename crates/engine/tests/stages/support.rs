//! A project in a temporary directory, small fake actions, and one function per engine stage,
//! so each test drives recipe → graph → plan → execute → store → archive directly, with no
//! binary and no machine learning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cpbuild_engine::action::{
    Action, ActionContext, ActionError, ArchiveFacts, BuildOptions, CancelFlag, ParamError,
    Registry,
};
use cpbuild_engine::archive::{ArchiveManifest, ArchivedTarget, FORMAT, Mode};
use cpbuild_engine::events::{Event, RecordingReporter};
use cpbuild_engine::execute::{Executor, Outcome};
use cpbuild_engine::graph::Graph;
use cpbuild_engine::plan::{Build, Plan, Planner};
use cpbuild_engine::recipe::Recipes;
use cpbuild_engine::store::Store;
use cpbuild_engine::{Error, VERSION};
use serde_json::{Value as Json, json};

/// The names of the targets the fake actions ran, in the order they started.
pub type RunLog = Arc<Mutex<Vec<String>>>;

/// `write`: writes `out.txt` holding its `text` param, then each dependency's `out.txt` (so a
/// dependent's output changes when a dependency's does); `fail = true` makes it fail after
/// writing. Records every run in the log.
pub struct WriteText(pub RunLog);

impl Action for WriteText {
    fn kind(&self) -> &'static str {
        "write"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn description(&self) -> &'static str {
        "writes its text and its dependencies' texts"
    }

    fn check_params(&self, params: &Json) -> Result<(), ParamError> {
        match params.get("text") {
            Some(Json::String(_)) => Ok(()),
            Some(_) => Err(ParamError::at("text", "`text` must be a string")),
            None => Err(ParamError::whole("`text` is missing")),
        }
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        self.0.lock().unwrap().push(ctx.target.to_string());
        let mut text = ctx.params["text"].as_str().unwrap_or_default().to_string();
        for (name, dep) in ctx.deps {
            // A dependency of another kind is named by its key, which changes with its output.
            let theirs = std::fs::read_to_string(dep.files.join("out.txt"))
                .unwrap_or_else(|_| dep.key.clone());
            text.push_str(&format!("\n{name}: {theirs}"));
        }
        for (name, path) in ctx.inputs.iter().enumerate() {
            let bytes = std::fs::read(ctx.project_root.join(path))
                .map_err(|e| ActionError::failed(e.to_string()))?;
            text.push_str(&format!("\ninput {name}: {} bytes", bytes.len()));
        }
        std::fs::write(ctx.out_dir.join("out.txt"), &text)
            .map_err(|e| ActionError::failed(e.to_string()))?;
        if ctx.params.get("fail") == Some(&Json::Bool(true)) {
            return Err(ActionError::failed("asked to fail"));
        }
        if let Some(values) = ctx.params.get("publish") {
            ctx.info.insert("values".into(), values.clone());
        }
        Ok(())
    }
}

/// `train`: a fake training run whose bundle holds a heavy `state/` folder, a `split.json`
/// and a metrics table, and which records the epochs it trained and its backend; it declares
/// those as its archive facts.
pub struct FakeTrain;

impl Action for FakeTrain {
    fn kind(&self) -> &'static str {
        "train"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn description(&self) -> &'static str {
        "pretends to train"
    }

    fn check_params(&self, _params: &Json) -> Result<(), ParamError> {
        Ok(())
    }

    fn archive_facts(&self) -> ArchiveFacts {
        ArchiveFacts {
            heavy_folders: &["state"],
            split_prefix: Some("split"),
            epochs_info: Some("epochs"),
            device_info: &["backend"],
        }
    }

    fn run(&self, ctx: &mut ActionContext<'_>) -> Result<(), ActionError> {
        let seed = match &ctx.params["seed"] {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        let write = |path: &str, text: String| {
            let path = ctx.out_dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("state/weights.bin", format!("weights {seed}"));
        write("split.json", format!("{{\"train\": [{seed}]}}"));
        write("metrics.csv", format!("epoch,loss\n1,0.{seed}\n"));
        ctx.info.insert("epochs".into(), json!(3));
        ctx.info.insert("backend".into(), json!("fake"));
        Ok(())
    }
}

/// A project in a temporary directory with the fake kinds.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub log: RunLog,
    pub registry: Registry,
    pub options: BuildOptions,
}

/// What one build did.
pub struct Built {
    pub outcome: Outcome,
    pub events: Vec<Event>,
    /// The targets whose actions ran, in start order.
    pub ran: Vec<String>,
}

impl Project {
    /// A project whose only recipe file is `recipes/main.toml` = `recipe`.
    pub fn new(recipe: &str) -> Project {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = RunLog::default();
        let mut registry = Registry::builtin();
        registry.register(Arc::new(WriteText(log.clone())));
        registry.register(Arc::new(FakeTrain));
        let project = Project {
            dir,
            log,
            registry,
            options: BuildOptions {
                profile: "ci".into(),
                settings: BTreeMap::new(),
            },
        };
        project.write("recipes/main.toml", recipe);
        project
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `path` under the project root.
    pub fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn store(&self) -> Store {
        Store::open(&self.root().join("artifacts")).expect("a store")
    }

    pub fn recipes(&self) -> Result<Recipes, Error> {
        Recipes::load_dir(self.root(), &self.root().join("recipes"))
    }

    pub fn graph(&self) -> Graph {
        let recipes = self.recipes().expect("recipes load");
        Graph::build(&recipes, &self.options.profile, &self.registry).expect("a graph")
    }

    /// The plan for `targets` (every target it needs, fresh or not).
    pub fn plan(&self, graph: &Graph, targets: &[&str], force: bool) -> Plan {
        let roots = roots(graph, targets);
        self.planner(graph, &self.store(), force)
            .plan(&roots)
            .expect("a plan")
    }

    fn planner<'a>(&'a self, graph: &'a Graph, store: &'a Store, force: bool) -> Planner<'a> {
        Planner {
            build: Build {
                graph,
                registry: &self.registry,
                store,
                project_root: self.root(),
                options: &self.options,
            },
            force,
        }
    }

    /// Builds `targets` as `cpbuild` would, with `jobs` workers.
    pub fn build_with(&self, targets: &[&str], jobs: usize, keep_going: bool) -> Built {
        let graph = self.graph();
        let store = self.store();
        let roots = roots(&graph, targets);
        let full = self
            .planner(&graph, &store, false)
            .plan(&roots)
            .expect("a plan");
        let plan = full.needed(&graph, &roots);
        let recorder = RecordingReporter::default();
        self.log.lock().unwrap().clear();
        let outcome = Executor {
            build: Build {
                graph: &graph,
                registry: &self.registry,
                store: &store,
                project_root: self.root(),
                options: &self.options,
            },
            reporter: &recorder,
            jobs,
            keep_going,
            no_rebuild: false,
            cancel: CancelFlag::default(),
        }
        .run(&plan, &roots)
        .expect("the executor runs");
        Built {
            outcome,
            events: recorder.events.into_inner().unwrap(),
            ran: self.log.lock().unwrap().clone(),
        }
    }

    pub fn build(&self, targets: &[&str]) -> Built {
        self.build_with(targets, 1, false)
    }

    /// The key `target` has now.
    pub fn key(&self, target: &str) -> String {
        let graph = self.graph();
        let plan = self.plan(&graph, &[target], false);
        plan.item(graph.by_name[target]).unwrap().key.clone()
    }

    /// The committed `out.txt` of `target`.
    pub fn output(&self, target: &str) -> String {
        let (directory, _) = self.store().unpacked(&self.key(target)).expect("built");
        std::fs::read_to_string(directory.join("files/out.txt")).unwrap()
    }

    /// The archive manifest of `requested` and everything below, as `cpbuild archive` builds it.
    pub fn archive_manifest(&self, requested: &[&str], mode: Mode) -> ArchiveManifest {
        let graph = self.graph();
        let store = self.store();
        let plan = self.plan(&graph, requested, false);
        let mut targets = BTreeMap::new();
        for item in &plan.items {
            let name = graph.target(item.id).spec.name.clone();
            let manifest = store.bundle_manifest(&item.key).expect("built");
            targets.insert(
                name.clone(),
                ArchivedTarget {
                    key: item.key.clone(),
                    fingerprint: manifest.fingerprint,
                    bundle_sha256: store.recorded_sha(&item.key).expect("recorded"),
                    machine: manifest.machine,
                    info: manifest.info,
                    files: manifest.files,
                    requested: requested.contains(&name.as_str()),
                    description: None,
                    seconds: None,
                },
            );
        }
        ArchiveManifest {
            format: FORMAT,
            project: "test".into(),
            version: "1.0.0".into(),
            cpbuild: VERSION.into(),
            profile: self.options.profile.clone(),
            mode,
            requested: requested.iter().map(|s| s.to_string()).collect(),
            targets,
            files: BTreeMap::new(),
            root_hash: String::new(),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }
}

/// The ids of `targets`.
pub fn roots(graph: &Graph, targets: &[&str]) -> Vec<usize> {
    let names: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
    graph.resolve_all(&names).expect("known targets")
}

/// The sorted names of the targets in `built.ran`.
pub fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// a → b → c, and d on its own; b reads `b.txt`.
pub const CHAIN: &str = r#"
[target]
a = { kind = "write", params = { text = "a" } }
b = { kind = "write", deps = ["a"], inputs = ["b.txt"], params = { text = "b" } }
c = { kind = "write", deps = ["b"], params = { text = "c" } }
d = { kind = "write", params = { text = "d" } }
"#;

/// [`CHAIN`], built.
pub fn chain() -> Project {
    let project = Project::new(CHAIN);
    project.write("b.txt", "one");
    let built = project.build(&["c", "d"]);
    assert_eq!(built.outcome.built, 4);
    project
}
