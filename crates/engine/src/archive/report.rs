//! The texts an archive carries for people: the reviewers' README and the reproducibility
//! report. Both are pure functions of the manifest, so they are as reproducible as the rest.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::{ArchiveManifest, ArchivedTarget, Context, Mode, top_folder};
use crate::action::Registry;

/// Every target `name` depends on, itself included.
pub fn closure<'a>(manifest: &'a ArchiveManifest, name: &str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![name.to_string()];
    while let Some(current) = stack.pop() {
        let Some((key, target)) = manifest.targets.get_key_value(&current) else {
            continue;
        };
        if seen.insert(key.as_str()) {
            stack.extend(target.fingerprint.deps.keys().cloned());
        }
    }
    seen
}

/// Every param under `value` whose name contains `seed` (a scalar), by its dotted path, with
/// the values it takes (arrays are searched too).
pub fn collect_seeds(prefix: &str, value: &Json, out: &mut BTreeMap<String, BTreeSet<String>>) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                if key.contains("seed") && !child.is_object() && !child.is_array() {
                    out.entry(path.clone())
                        .or_default()
                        .insert(child.to_string());
                }
                collect_seeds(&path, child, out);
            }
        }
        Json::Array(items) => {
            for item in items {
                collect_seeds(prefix, item, out);
            }
        }
        _ => {}
    }
}

/// Where `target` computed: the `info` entries `entries` names that it recorded, joined with
/// ` / `; `None` when it lacks the first (the most general).
fn device_label(target: &ArchivedTarget, entries: &[&str]) -> Option<String> {
    let text = |entry: &&str| {
        target.info.get(*entry).map(|v| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    text(entries.first()?)?;
    let labels: Vec<String> = entries.iter().filter_map(text).collect();
    Some(labels.join(" / "))
}

/// Facts about one requested target's runs.
#[derive(Debug)]
pub struct FigureFacts {
    /// Runs (targets below the figure), by kind.
    pub runs_by_kind: BTreeMap<String, usize>,
    /// Every seed param and its distinct values.
    pub seeds: BTreeMap<String, BTreeSet<String>>,
    /// sha256 of each distinct data split file (as the runs' kinds declare them).
    pub splits: BTreeSet<String>,
    /// Total epochs trained (from the `info` entry the runs' kinds declare).
    pub epochs_trained: u64,
    /// Seconds by backend/device (when timings were recorded).
    pub seconds_by_device: BTreeMap<String, f64>,
    /// Machines (CPU models) that built the runs.
    pub machines: BTreeSet<String>,
}

/// Gathers the facts for `figure`, reading each target as its kind declares (`registry`).
pub fn figure_facts(manifest: &ArchiveManifest, figure: &str, registry: &Registry) -> FigureFacts {
    let mut facts = FigureFacts {
        runs_by_kind: BTreeMap::new(),
        seeds: BTreeMap::new(),
        splits: BTreeSet::new(),
        epochs_trained: 0,
        seconds_by_device: BTreeMap::new(),
        machines: BTreeSet::new(),
    };
    for name in closure(manifest, figure) {
        let target = &manifest.targets[name];
        if name != figure {
            *facts
                .runs_by_kind
                .entry(target.fingerprint.kind.clone())
                .or_default() += 1;
        }
        collect_seeds("", &target.fingerprint.params, &mut facts.seeds);
        let kind = registry.archive_facts(&target.fingerprint.kind);
        if let Some(prefix) = kind.split_prefix {
            for (path, entry) in &target.files {
                if path
                    .rsplit('/')
                    .next()
                    .is_some_and(|f| f.starts_with(prefix) && f.ends_with(".json"))
                {
                    facts.splits.insert(entry.sha256.clone());
                }
            }
        }
        if let Some(Json::Number(n)) = kind.epochs_info.and_then(|entry| target.info.get(entry)) {
            facts.epochs_trained += n.as_u64().unwrap_or(0);
        }
        let device = device_label(target, kind.device_info)
            .unwrap_or_else(|| "cpu (no backend recorded)".to_string());
        if let Some(seconds) = target.seconds {
            *facts.seconds_by_device.entry(device).or_default() += seconds;
        }
        facts.machines.insert(format!(
            "{} ({} {})",
            target.machine.cpu, target.machine.os, target.machine.arch
        ));
    }
    facts
}

/// The reproducibility report (Markdown), ending with the application's checklist.
pub fn reproducibility_report(manifest: &ArchiveManifest, context: &Context<'_>) -> String {
    let mut out = format!(
        "# Reproducibility report: {} {}\n\nBuilt with cpbuild {} under profile `{}`. Every number below is read from `MANIFEST.json`.\n",
        manifest.project, manifest.version, manifest.cpbuild, manifest.profile
    );
    for figure in &manifest.requested {
        let facts = figure_facts(manifest, figure, context.registry);
        out.push_str(&format!("\n## `{figure}`\n\n"));
        if let Some(description) = manifest
            .targets
            .get(figure)
            .and_then(|t| t.description.as_ref())
        {
            out.push_str(&format!("{description}\n\n"));
        }
        let runs: Vec<String> = facts
            .runs_by_kind
            .iter()
            .map(|(kind, n)| format!("{n} × `{kind}`"))
            .collect();
        out.push_str(&format!(
            "- runs: {} ({})\n",
            facts.runs_by_kind.values().sum::<usize>(),
            if runs.is_empty() {
                "none".into()
            } else {
                runs.join(", ")
            }
        ));
        if facts.seeds.is_empty() {
            out.push_str("- seeds: none declared\n");
        } else {
            for (param, values) in &facts.seeds {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                out.push_str(&format!("- seeds `{param}`: {}\n", values.join(", ")));
            }
        }
        if facts.splits.is_empty() {
            out.push_str("- data splits: none recorded\n");
        } else {
            let splits: Vec<String> = facts
                .splits
                .iter()
                .map(|s| format!("`{}`", &s[..16.min(s.len())]))
                .collect();
            out.push_str(&format!(
                "- data splits (sha256 of the split indices): {}\n",
                splits.join(", ")
            ));
        }
        out.push_str(&format!("- epochs trained: {}\n", facts.epochs_trained));
        if facts.seconds_by_device.is_empty() {
            out.push_str("- compute time: not archived (wall-clock times would make archives differ; write with `--timings`, or run `cpbuild report` where the runs were built)\n");
        } else {
            for (device, seconds) in &facts.seconds_by_device {
                out.push_str(&format!("- compute time on {device}: {seconds:.1} s\n"));
            }
        }
        let machines: Vec<&str> = facts.machines.iter().map(String::as_str).collect();
        out.push_str(&format!("- machines: {}\n", machines.join("; ")));
    }
    out.push_str(context.checklist);
    out
}

/// The README for reviewers (Markdown).
pub fn reviewer_readme(manifest: &ArchiveManifest) -> String {
    let file = format!(
        "{}.tar.zst",
        top_folder(&manifest.project, &manifest.version)
    );
    let mut out = format!(
        "# {} {} — artifacts for review\n\nThis archive was written by cpbuild {} from the `{}` profile. It holds {}.\n\n## Figures\n\n",
        manifest.project,
        manifest.version,
        manifest.cpbuild,
        manifest.profile,
        match manifest.mode {
            Mode::Full => "every bundle the figures depend on (runs, checkpoints, metrics)",
            Mode::FiguresOnly => "the figure outputs and the runs' metrics (no checkpoints)",
        }
    );
    for figure in &manifest.requested {
        let description = manifest
            .targets
            .get(figure)
            .and_then(|t| t.description.clone())
            .unwrap_or_default();
        out.push_str(&format!(
            "- `{figure}`: {description} (files under `figures/{figure}/`)\n"
        ));
    }
    out.push_str(&format!(
        "\n## Verify\n\n```sh\ncpbuild verify-archive {file}\n```\n\nIt re-hashes every member in one pass and checks `MANIFEST.json` (root hash, every dependency present, every key recomputable from its fingerprint).\n"
    ));
    if manifest.mode == Mode::Full {
        out.push_str(&format!(
            "\n## Rebuild\n\nIn a checkout of the project at these recipes:\n\n```sh\ncpbuild import {file}          # verified bundles into the local store\ncpbuild --profile {p} {figs}      # nothing to do: every target is fresh\ncpbuild --profile {p} -B {figs}   # recompute the figures from the imported runs\ncpbuild --profile {p} -B <run>    # retrain any run you doubt\n```\n",
            p = manifest.profile,
            figs = manifest.requested.join(" ")
        ));
    }
    out.push_str("\nSee `REPORT.md` for runs, seeds, splits and compute per figure.\n");
    out
}
