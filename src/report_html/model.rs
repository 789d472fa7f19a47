//! What the report shows, gathered from the archive manifest of the requested targets and
//! their bundles' files: every requested target with its figures, tables, golden status and
//! provenance; every training run below them with its curves and provenance; the other targets.
//!
//! Only what a bundle records is read (its manifest, as [`ArchiveManifest`] holds it, and its
//! files), so the same store gives the same model. Wall-clock times are in it only when the
//! manifest carries them (`--timings`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cpbuild_engine::archive::{ArchiveManifest, ArchivedTarget};
use cpbuild_engine::archive::{FigureFacts, closure, collect_seeds, figure_facts};
use cpbuild_engine::error::{Error, Result};
use serde_json::Value as Json;

use super::golden::{self, GoldenStatus};
use crate::figures::compute::Model;
use crate::figures::curve::Curve;
use crate::figures::runs;
use crate::figures::{ImageFormat, plot};
use crate::kinds::figure::FIGURES_DIR;

/// The file a training run's bundle holds its per-epoch results in.
pub const RESULTS_FILE: &str = "results.csv";

/// Where the report reads from.
pub struct Source<'a> {
    /// The requested targets and everything they depend on (as `cpbuild archive` records them).
    pub manifest: &'a ArchiveManifest,
    /// A target's bundle files (the directory its manifest's `files` are relative to), by key.
    pub files: &'a dyn Fn(&str) -> Result<PathBuf>,
    /// The grid group (`[target.NAME]` with `foreach`) of each target made by a grid.
    pub groups: BTreeMap<String, String>,
    /// The golden copies `cpbuild verify` compares figure CSVs with.
    pub golden_dir: PathBuf,
    /// How the golden directory is named to the reader (relative to the project).
    pub golden_display: String,
}

/// The whole report.
pub struct Report {
    /// The project's name.
    pub project: String,
    /// `local`, or the archive's version.
    pub version: String,
    /// The profile.
    pub profile: String,
    /// The cpbuild version that wrote the manifest.
    pub cpbuild: String,
    /// Whether wall-clock build times are in.
    pub timings: bool,
    /// The requested targets, in the order given.
    pub requested: Vec<Requested>,
    /// Every training run below them (each once), by group then name.
    pub runs: Vec<Run>,
    /// The other targets below them (frozen weights, data checks, figure panels, …).
    pub others: Vec<Other>,
    /// The dependency graph.
    pub graph: Vec<GraphNode>,
}

/// A requested target.
pub struct Requested {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its recipe description.
    pub description: Option<String>,
    /// Its key.
    pub key: String,
    /// Its drawings: file name and SVG text.
    pub figures: Vec<(String, String)>,
    /// Its tables: file name and rows (the first is the header).
    pub tables: Vec<(String, Vec<Vec<String>>)>,
    /// Each figure CSV compared with its golden copy.
    pub golden: Vec<GoldenStatus>,
    /// Runs, seeds, splits, epochs, compute and machines over everything below it.
    pub facts: FigureFacts,
    /// The training runs below it.
    pub runs: Vec<String>,
}

/// A training run (a target whose bundle holds [`RESULTS_FILE`]).
#[derive(Debug)]
pub struct Run {
    /// Its name.
    pub name: String,
    /// Its grid group, if a grid made it.
    pub group: Option<String>,
    /// Its kind.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// Its recipe description.
    pub description: Option<String>,
    /// What was perturbed, in words (`random_target, epochs 3–6`); `None` for a baseline.
    pub perturbation: Option<String>,
    /// The unperturbed run it is compared with.
    pub baseline: Option<String>,
    /// Every seed param and its value (`seed = 0`, `perturbation.seed = 0`).
    pub seeds: Vec<String>,
    /// sha256 of its data split file(s).
    pub splits: Vec<String>,
    /// Epochs trained, as the action recorded it (or as many as its results have).
    pub epochs: Option<u64>,
    /// The epoch of minimum held-out loss.
    pub best_epoch: Option<u64>,
    /// The training backend (from what the action recorded, else from the build settings).
    pub backend: Option<String>,
    /// The device, when the action recorded one.
    pub device: Option<String>,
    /// The machine that built it.
    pub machine: String,
    /// Wall-clock seconds of its build (only with timings).
    pub seconds: Option<f64>,
    /// Its resolved params (canonical JSON, pretty).
    pub params: String,
    /// Its curves beside its baseline's (SVG), or why they cannot be drawn.
    pub curves: std::result::Result<String, String>,
    /// How many epochs its results have.
    pub points: usize,
}

/// A target that is neither requested nor a training run.
#[derive(Debug)]
pub struct Other {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// Its recipe description.
    pub description: Option<String>,
    /// The machine that built it.
    pub machine: String,
    /// Wall-clock seconds of its build (only with timings).
    pub seconds: Option<f64>,
}

/// One node of the drawn graph: a target, or a whole grid group.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    /// The target's or group's name.
    pub name: String,
    /// The kind, with the count for a group (`12 × train-hba`).
    pub label: String,
    /// Where it links to in the page.
    pub anchor: String,
    /// Whether it was requested.
    pub requested: bool,
    /// Whether it is a training run (or a group of them).
    pub run: bool,
    /// The nodes (names) it depends on.
    pub deps: Vec<String>,
    /// A group's targets (empty for a single target).
    pub members: Vec<String>,
}

/// The anchor of a requested target's section, or of another target's row.
pub fn target_anchor(name: &str) -> String {
    format!("target-{name}")
}

/// The anchor of a run's card.
pub fn run_anchor(name: &str) -> String {
    format!("run-{name}")
}

/// The anchor of a grid group's heading.
pub fn group_anchor(name: &str) -> String {
    format!("group-{name}")
}

/// Orders names with their numbers compared as numbers (`sweep_e2` before `sweep_e10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut left, mut right) = (a.as_bytes(), b.as_bytes());
    while !left.is_empty() && !right.is_empty() {
        if left[0].is_ascii_digit() && right[0].is_ascii_digit() {
            let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
            let (l, r) = (digits(left), digits(right));
            let trim = |s: &[u8]| {
                let zeros = s.iter().take_while(|&&c| c == b'0').count();
                s[zeros..].to_vec()
            };
            let (ln, rn) = (trim(&left[..l]), trim(&right[..r]));
            let order = ln.len().cmp(&rn.len()).then_with(|| ln.cmp(&rn));
            if order != Ordering::Equal {
                return order;
            }
            left = &left[l..];
            right = &right[r..];
        } else {
            if left[0] != right[0] {
                return left[0].cmp(&right[0]);
            }
            left = &left[1..];
            right = &right[1..];
        }
    }
    left.len().cmp(&right.len()).then_with(|| a.cmp(b))
}

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn info(target: &ArchivedTarget, key: &str) -> Option<String> {
    target.info.get(key).map(text)
}

fn machine(target: &ArchivedTarget) -> String {
    format!(
        "{} ({} {})",
        target.machine.cpu, target.machine.os, target.machine.arch
    )
}

/// Every param whose name contains `seed`, as `path = value`.
fn seeds(params: &Json) -> Vec<String> {
    let mut found = BTreeMap::new();
    collect_seeds("", params, &mut found);
    found
        .into_iter()
        .flat_map(|(path, values)| values.into_iter().map(move |v| format!("{path} = {v}")))
        .collect()
}

fn split_hashes(target: &ArchivedTarget) -> Vec<String> {
    target
        .files
        .iter()
        .filter(|(path, _)| {
            path.rsplit('/')
                .next()
                .is_some_and(|f| f.starts_with("split") && f.ends_with(".json"))
        })
        .map(|(_, entry)| entry.sha256.clone())
        .collect()
}

/// (kind, first perturbed epoch, last) of a run's `perturbation` param.
fn perturbation(params: &Json) -> Option<(String, u32, u32)> {
    let table = params.get("perturbation").filter(|p| p.is_object())?;
    let kind = table.get("kind").and_then(Json::as_str)?.to_string();
    let start = u32::try_from(table.get("start").and_then(Json::as_u64)?).ok()?;
    let length = table
        .get("length")
        .map_or(Some(1), Json::as_u64)
        .and_then(|n| u32::try_from(n).ok())?
        .max(1);
    Some((kind, start, start + length - 1))
}

fn is_perturbed(params: &Json) -> bool {
    params.get("perturbation").is_some_and(|p| !p.is_null())
}

/// A run's baseline: the first unperturbed run up its `resume_from` chain; otherwise the only
/// unperturbed run of its kind among `runs`.
fn baseline_of(name: &str, manifest: &ArchiveManifest, runs: &BTreeSet<&str>) -> Option<String> {
    let target = &manifest.targets[name];
    if !is_perturbed(&target.fingerprint.params) {
        return None;
    }
    let mut current = name.to_string();
    for _ in 0..manifest.targets.len() {
        let Some(next) = manifest.targets[&current]
            .fingerprint
            .params
            .get("resume_from")
            .and_then(Json::as_str)
            .filter(|next| manifest.targets.contains_key(*next))
        else {
            break;
        };
        if !is_perturbed(&manifest.targets[next].fingerprint.params) {
            return Some(next.to_string());
        }
        current = next.to_string();
    }
    let candidates: Vec<&str> = runs
        .iter()
        .copied()
        .filter(|other| {
            let other = &manifest.targets[*other];
            other.fingerprint.kind == target.fingerprint.kind
                && !is_perturbed(&other.fingerprint.params)
        })
        .collect();
    match candidates.as_slice() {
        [only] => Some(only.to_string()),
        _ => None,
    }
}

/// Reads a run's curve: CLIP-HBA columns, else the ViT's.
fn read_curve(kind: &str, results: &Path) -> std::result::Result<(Model, Curve), String> {
    if kind == "train-vit" {
        return runs::read_vit_run(results)
            .map(|run| (Model::Vit, run.curve()))
            .map_err(|error| error.to_string());
    }
    match runs::read_clip_run(results) {
        Ok(run) => Ok((Model::ClipHba, run.curve())),
        Err(clip_error) => runs::read_vit_run(results)
            .map(|run| (Model::Vit, run.curve()))
            .map_err(|_| clip_error.to_string()),
    }
}

/// A CSV's rows (RFC 4180 quoting, as [`crate::figures::Table`] writes it).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut field)),
                (c, _) => field.push(c),
            }
        }
        fields.push(field);
        rows.push(fields);
    }
    rows
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|error| Error::io(path, error))
}

/// Gathers the report.
pub fn gather(source: &Source<'_>) -> Result<Report> {
    let manifest = source.manifest;
    let mut below: BTreeSet<&str> = BTreeSet::new();
    for name in &manifest.requested {
        below.extend(closure(manifest, name));
    }
    let is_run = |name: &str| manifest.targets[name].files.contains_key(RESULTS_FILE);
    let run_names: BTreeSet<&str> = below.iter().copied().filter(|n| is_run(n)).collect();

    // Curves, read once per run (a baseline is read for each of its runs' plots).
    let mut curves: BTreeMap<&str, std::result::Result<(Model, Curve), String>> = BTreeMap::new();
    for &name in &run_names {
        let target = &manifest.targets[name];
        let files = (source.files)(&target.key)?;
        curves.insert(
            name,
            read_curve(&target.fingerprint.kind, &files.join(RESULTS_FILE)),
        );
    }

    let mut runs = Vec::new();
    for &name in &run_names {
        let target = &manifest.targets[name];
        let params = &target.fingerprint.params;
        let baseline = baseline_of(name, manifest, &run_names);
        let window = perturbation(params);
        let seed_list = seeds(params);
        let (curves_svg, points) = match &curves[name] {
            Ok((model, curve)) => {
                let base = baseline
                    .as_deref()
                    .and_then(|b| curves.get(b))
                    .and_then(|c| c.as_ref().ok())
                    .map(|(_, curve)| curve);
                let drawing = plot::RunCurves {
                    model: *model,
                    run_label: name.to_string(),
                    run: curve,
                    baseline: baseline.clone().zip(base),
                    perturbed: window.as_ref().map(|(_, first, last)| (*first, *last)),
                };
                let svg = plot::run_curves(&drawing, ImageFormat::Svg)
                    .map_err(|error| error.to_string())
                    .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()));
                (svg, curve.points.len())
            }
            Err(error) => (Err(format!("`{RESULTS_FILE}` cannot be read: {error}")), 0),
        };
        let epochs = target
            .info
            .get("epochs_trained")
            .and_then(Json::as_u64)
            .or_else(|| (points > 0).then_some(points as u64));
        runs.push(Run {
            name: name.to_string(),
            group: source.groups.get(name).cloned(),
            kind: target.fingerprint.kind.clone(),
            key: target.key.clone(),
            description: target.description.clone(),
            perturbation: window.map(|(kind, first, last)| {
                if first == last {
                    format!("{kind} at epoch {first}")
                } else {
                    format!("{kind}, epochs {first}–{last}")
                }
            }),
            baseline,
            seeds: seed_list,
            splits: split_hashes(target),
            epochs,
            best_epoch: target.info.get("best_epoch").and_then(Json::as_u64),
            backend: info(target, "backend")
                .or_else(|| target.fingerprint.context.get("backend").map(text)),
            device: info(target, "device"),
            machine: machine(target),
            seconds: target.seconds,
            params: cpbuild_engine::util::canonical::to_pretty(params),
            curves: curves_svg,
            points,
        });
    }
    runs.sort_by(|a, b| {
        natural_cmp(
            a.group.as_deref().unwrap_or(""),
            b.group.as_deref().unwrap_or(""),
        )
        .then_with(|| natural_cmp(&a.name, &b.name))
    });

    let mut requested = Vec::new();
    for name in &manifest.requested {
        requested.push(gather_requested(source, name, &run_names)?);
    }

    let others = below
        .iter()
        .copied()
        .filter(|name| !run_names.contains(name) && !manifest.requested.iter().any(|r| r == name))
        .map(|name| {
            let target = &manifest.targets[name];
            Other {
                name: name.to_string(),
                kind: target.fingerprint.kind.clone(),
                key: target.key.clone(),
                description: target.description.clone(),
                machine: machine(target),
                seconds: target.seconds,
            }
        })
        .collect();

    Ok(Report {
        project: manifest.project.clone(),
        version: manifest.version.clone(),
        profile: manifest.profile.clone(),
        cpbuild: manifest.cpbuild.clone(),
        timings: manifest.targets.values().any(|t| t.seconds.is_some()),
        requested,
        runs,
        others,
        graph: graph_nodes(source, &below, &run_names),
    })
}

fn gather_requested(
    source: &Source<'_>,
    name: &str,
    run_names: &BTreeSet<&str>,
) -> Result<Requested> {
    let manifest = source.manifest;
    let target = &manifest.targets[name];
    let files = (source.files)(&target.key)?;
    let prefix = format!("{FIGURES_DIR}/{name}/");
    let mut figures = Vec::new();
    let mut tables = Vec::new();
    let mut golden = Vec::new();
    for path in target.files.keys() {
        let Some(file) = path.strip_prefix(&prefix).filter(|f| !f.contains('/')) else {
            continue;
        };
        if file.ends_with(".svg") {
            figures.push((file.to_string(), read(&files.join(path))?));
        } else if file.ends_with(".csv") {
            let text = read(&files.join(path))?;
            golden.push(golden::status(
                source.manifest,
                &source.golden_dir,
                &source.golden_display,
                name,
                file,
                &text,
            ));
            tables.push((file.to_string(), parse_csv(&text)));
        }
    }
    let below = closure(manifest, name);
    let mut runs: Vec<String> = below
        .iter()
        .filter(|n| run_names.contains(*n))
        .map(|n| n.to_string())
        .collect();
    runs.sort_by(|a, b| natural_cmp(a, b));
    Ok(Requested {
        name: name.to_string(),
        kind: target.fingerprint.kind.clone(),
        description: target.description.clone(),
        key: target.key.clone(),
        figures,
        tables,
        golden,
        facts: figure_facts(manifest, name, &crate::registry()),
        runs,
    })
}

/// The graph's nodes: targets, with every grid group of two or more targets drawn as one node
/// (a paper-sized grid is hundreds of runs; its members are listed under the group's heading).
fn graph_nodes(
    source: &Source<'_>,
    below: &BTreeSet<&str>,
    run_names: &BTreeSet<&str>,
) -> Vec<GraphNode> {
    let manifest = source.manifest;
    let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for &name in below {
        if let Some(group) = source.groups.get(name) {
            members.entry(group.as_str()).or_default().push(name);
        }
    }
    let node_of = |name: &str| -> String {
        match source.groups.get(name) {
            Some(group) if members.get(group.as_str()).is_some_and(|m| m.len() > 1) => {
                group.clone()
            }
            _ => name.to_string(),
        }
    };
    let mut nodes: BTreeMap<String, GraphNode> = BTreeMap::new();
    for &name in below {
        let target = &manifest.targets[name];
        let node = node_of(name);
        let requested = manifest.requested.iter().any(|r| r == name);
        let run = run_names.contains(name);
        let entry = nodes.entry(node.clone()).or_insert_with(|| {
            let grouped = node != name;
            GraphNode {
                name: node.clone(),
                label: if grouped {
                    format!(
                        "{} × {}",
                        members[node.as_str()].len(),
                        target.fingerprint.kind
                    )
                } else {
                    target.fingerprint.kind.clone()
                },
                anchor: if grouped {
                    group_anchor(&node)
                } else if requested || !run {
                    target_anchor(name)
                } else {
                    run_anchor(name)
                },
                requested,
                run,
                deps: Vec::new(),
                members: if grouped {
                    members[node.as_str()]
                        .iter()
                        .map(|m| m.to_string())
                        .collect()
                } else {
                    Vec::new()
                },
            }
        });
        for dep in target.fingerprint.deps.keys() {
            let dep = node_of(dep);
            if dep != node && !entry.deps.contains(&dep) {
                entry.deps.push(dep);
            }
        }
    }
    for node in nodes.values_mut() {
        node.deps.sort();
        // A grid of requested targets that are not runs has no heading of its own: link to
        // its first member's section.
        let requested_only = !node.members.is_empty()
            && node.members.iter().all(|member| {
                !run_names.contains(member.as_str())
                    && manifest.requested.iter().any(|r| r == member)
            });
        if requested_only {
            node.anchor = target_anchor(&node.members[0]);
        }
    }
    nodes.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_with_numbers_as_numbers() {
        let mut names = vec![
            "sweep_e10",
            "sweep_e2",
            "window_e1_l10",
            "window_e1_l2",
            "a",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec![
                "a",
                "sweep_e2",
                "sweep_e10",
                "window_e1_l2",
                "window_e1_l10"
            ]
        );
        assert_eq!(natural_cmp("e01", "e1"), Ordering::Less);
    }

    #[test]
    fn csv_fields_may_be_quoted() {
        assert_eq!(
            parse_csv("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n1,\n"),
            vec![
                vec!["a".to_string(), "b".into()],
                vec!["x, y".into(), "say \"hi\"".into()],
                vec!["1".into(), "".into()],
            ]
        );
    }

    #[test]
    fn perturbations_read_their_window() {
        let params =
            serde_json::json!({"perturbation": {"kind": "random_target", "start": 3, "length": 4}});
        assert_eq!(
            perturbation(&params),
            Some(("random_target".to_string(), 3, 6))
        );
        let single = serde_json::json!({"perturbation": {"kind": "image_noise", "start": 5}});
        assert_eq!(
            perturbation(&single),
            Some(("image_noise".to_string(), 5, 5))
        );
        assert_eq!(perturbation(&serde_json::json!({"seed": 0})), None);
    }
}
