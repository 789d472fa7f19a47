//! The shape of the code, checked: no two modules of a crate import each other (directly or
//! through others, at the first two levels of the module tree), and the README's architecture
//! table names exactly the source folders that exist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each crate of the workspace and its source folder, relative to the repository root.
const CRATES: [(&str, &str); 3] = [
    ("cpbuild", "src"),
    ("cpbuild-engine", "crates/engine/src"),
    ("cpbuild-ml", "crates/ml/src"),
];

type Module = Vec<String>;
type Graph = BTreeMap<Module, BTreeSet<Module>>;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// The module a file defines: `store/bundle.rs` → `[store, bundle]`, `store/mod.rs` → `[store]`;
/// `None` for the crate root.
fn module_of(relative: &Path) -> Option<Module> {
    let mut parts: Module = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [] => None,
        [only] if only == "lib" || only == "main" => None,
        _ => Some(parts),
    }
}

/// The text of a file without its unit tests (a test may use anything).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(start) => &text[..start],
        None => text,
    }
}

/// The identifiers that follow `prefix` (`crate::` or `super::`), with the one after them.
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<(&'a str, Option<&'a str>)> {
    let word = |s: &'a str| {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    };
    let mut found = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + prefix.len()..];
        let first = word(rest);
        if first.is_empty() {
            continue;
        }
        let second = rest[first.len()..].strip_prefix("::").map(word);
        found.push((first, second.filter(|second| !second.is_empty())));
    }
    found
}

/// The import graphs of one crate: between its top-level modules, and between the second-level
/// modules inside each top-level one.
fn graphs(source: &Path) -> (Graph, Graph) {
    let mut files = Vec::new();
    rust_files(source, &mut files);
    let modules: BTreeSet<Module> = files
        .iter()
        .filter_map(|file| module_of(file.strip_prefix(source).expect("inside")))
        .flat_map(|module| [module[..1].to_vec(), module[..module.len().min(2)].to_vec()])
        .collect();
    let (mut top, mut inner) = (Graph::new(), Graph::new());
    for file in &files {
        let Some(module) = module_of(file.strip_prefix(source).expect("inside")) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a source file");
        let text = without_tests(&text);
        let own_top = module[..1].to_vec();
        let own_second = module[..module.len().min(2)].to_vec();
        for (first, second) in paths_after(text, "crate::") {
            let target_top = vec![first.to_string()];
            if !modules.contains(&target_top) {
                continue;
            }
            if target_top != own_top {
                top.entry(own_top.clone()).or_default().insert(target_top);
            } else if let (Some(second), true) = (second, module.len() >= 2) {
                let target = vec![first.to_string(), second.to_string()];
                if modules.contains(&target) && target != own_second {
                    inner.entry(own_second.clone()).or_default().insert(target);
                }
            }
        }
        if module.len() >= 2 {
            let parent = &module[..module.len() - 1];
            for (first, _) in paths_after(text, "super::") {
                let mut target = parent.to_vec();
                target.push(first.to_string());
                target.truncate(2);
                if target.len() == 2 && modules.contains(&target) && target != own_second {
                    inner.entry(own_second.clone()).or_default().insert(target);
                }
            }
        }
    }
    (top, inner)
}

/// A path from `to` back to `from` in `graph`, if there is one.
fn path_back(graph: &Graph, from: &Module, to: &Module) -> Option<Vec<Module>> {
    let mut stack = vec![vec![to.clone()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("non-empty").clone();
        if &last == from {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in graph.get(&last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

/// Every cycle of `graph`, once per edge that closes one, as `a -> b -> … -> a`.
fn cycles(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    for (from, targets) in graph {
        for to in targets {
            if let Some(back) = path_back(graph, from, to) {
                let mut names = vec![from.join("::")];
                names.extend(back.iter().map(|module| module.join("::")));
                found.push(names.join(" -> "));
            }
        }
    }
    found
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut problems = Vec::new();
    for (name, source) in CRATES {
        let (top, inner) = graphs(&repo().join(source));
        assert!(!top.is_empty(), "`{name}`: no imports found in `{source}`");
        for cycle in cycles(&top).into_iter().chain(cycles(&inner)) {
            problems.push(format!("{name}: {cycle}"));
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_planted_cycle_is_found() {
    let graph: Graph = [
        (vec!["plan".to_string()], [vec!["store".to_string()]].into()),
        (vec!["store".to_string()], [vec!["plan".to_string()]].into()),
        (vec!["graph".to_string()], [vec!["plan".to_string()]].into()),
    ]
    .into();
    assert_eq!(
        cycles(&graph),
        ["plan -> store -> plan", "store -> plan -> store"]
    );
}

/// The folders named in the first cell of each row of the README's "Architecture" table.
fn folders_in_readme_table() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("the README");
    let start = readme
        .find("\n## Architecture")
        .expect("an Architecture section");
    let section = &readme[start + 1..];
    let section = &section[..section[1..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 1)];
    let mut named = BTreeSet::new();
    for row in section.lines().filter(|line| line.starts_with("| `")) {
        let cell = row[1..].split('|').next().expect("a first cell");
        for name in cell.split('`').skip(1).step_by(2) {
            named.insert(name.trim_end_matches('/').to_string());
        }
    }
    named
}

#[test]
fn the_readme_architecture_table_names_every_source_folder() {
    let named = folders_in_readme_table();
    let mut folders = BTreeSet::new();
    for parent in ["src", "crates"] {
        for entry in std::fs::read_dir(repo().join(parent)).expect("a folder") {
            let entry = entry.expect("an entry");
            if entry.file_type().expect("a type").is_dir() {
                folders.insert(format!("{parent}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    let missing: Vec<_> = folders.difference(&named).collect();
    assert!(
        missing.is_empty(),
        "README's Architecture table lacks {missing:?}"
    );
    let stale: Vec<_> = named
        .iter()
        .filter(|name| !repo().join(name).exists())
        .collect();
    assert!(
        stale.is_empty(),
        "README's Architecture table names missing {stale:?}"
    );
}
