//! The page: one self-contained `index.html` (styles, the table-sorting script and every SVG
//! inline; no network, no other file), written from a [`Report`] as a pure function of it.
//!
//! Sections, in order: the summary and contents; one section per requested target (its figures,
//! golden status, provenance, tables and the runs it used); the runs (grouped by grid, each with
//! its curves beside its baseline's and its provenance); the other targets; the dependency graph;
//! the reproducibility checklist.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::golden::{GoldenStatus, Outcome};
use super::model::{Report, Requested, Run, group_anchor, run_anchor, target_anchor};

/// Runs listed under a target beyond this many are folded away (a paper-sized sweep is 98).
const RUN_LINKS_OPEN: usize = 24;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `text` and sets what it quotes in backticks (`` `fig4` ``) as code, the way cpbuild's
/// messages and recipe descriptions name things.
pub fn rich(text: &str) -> String {
    let mut out = String::new();
    for (index, part) in escape(text).split('`').enumerate() {
        if index % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    if text.matches('`').count() % 2 == 1 {
        // An unpaired backtick: show the text as it is.
        return escape(text);
    }
    out
}

/// A number for reading: six significant digits (the exact value stays in the cell's
/// `data-sort` and `title`); anything else as it is.
pub fn readable(cell: &str) -> String {
    let Ok(value) = cell.parse::<f64>() else {
        return cell.to_string();
    };
    if !cell.contains(['.', 'e', 'E']) || !value.is_finite() || value == 0.0 {
        return cell.to_string();
    }
    let magnitude = value.abs().log10().floor();
    if !(-4.0..6.0).contains(&magnitude) {
        return format!("{value:.4e}");
    }
    let decimals = (5.0 - magnitude).max(0.0) as usize;
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" { "0".into() } else { text }
}

fn short(hash: &str) -> &str {
    &hash[..16.min(hash.len())]
}

fn code_hash(hash: &str) -> String {
    format!(
        r#"<code title="{}">{}</code>"#,
        escape(hash),
        escape(short(hash))
    )
}

fn seconds(value: Option<f64>, timings: bool) -> String {
    match value {
        Some(seconds) => format!("{seconds:.1} s"),
        None if timings => "not recorded".into(),
        None => "not in this report (<code>--timings</code>)".into(),
    }
}

const STYLE: &str = r#"
:root { --ink: #1e1e1e; --muted: #5b6270; --line: #dde1e6; --panel: #f6f7f9; --accent: #1f529b; --ok: #1a7f37; --bad: #c62828; --warn: #8a6d00; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
header.top { background: #17324f; color: #fff; padding: 18px 28px 14px; }
header.top h1 { margin: 0 0 4px; font-size: 24px; }
header.top p { margin: 2px 0; color: #d4deea; }
header.top code { color: #fff; }
nav.contents { padding: 10px 28px; background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2; }
nav.contents a { margin-right: 14px; color: var(--accent); text-decoration: none; font-weight: 600; }
nav.contents a.sub { font-weight: 400; margin-right: 10px; }
main { padding: 8px 28px 40px; max-width: 1500px; }
h2 { font-size: 21px; border-bottom: 2px solid var(--line); padding-bottom: 4px; margin-top: 34px; }
h3 { font-size: 18px; margin: 26px 0 6px; }
h4 { font-size: 15px; margin: 0 0 4px; }
a { color: var(--accent); }
code { font: 13px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; }
.target { border: 1px solid var(--line); border-radius: 8px; padding: 4px 18px 14px; margin: 18px 0; }
.target > h3 { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.muted, .kind { color: var(--muted); font-weight: 400; font-size: 14px; }
.badge { display: inline-block; border-radius: 10px; padding: 1px 9px; font-size: 13px; font-weight: 600; color: #fff; }
.badge.ok { background: var(--ok); } .badge.failed { background: var(--bad); } .badge.none { background: #8b93a1; }
.drawings { display: flex; flex-wrap: wrap; gap: 14px; margin: 10px 0 14px; }
.drawing { margin: 0; flex: 1 1 560px; max-width: 1100px; min-width: 0; }
.drawing svg { width: 100%; height: auto; display: block; border: 1px solid var(--line); }
.drawing figcaption { font-size: 13px; color: var(--muted); }
.columns { display: flex; flex-wrap: wrap; gap: 10px 28px; }
.columns > * { flex: 1 1 420px; min-width: 0; }
table { border-collapse: collapse; font-size: 13.5px; margin: 6px 0 10px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " ▲"; }
table.sortable th[aria-sort="descending"]::after { content: " ▼"; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { max-height: 420px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; padding: 0 8px; }
.scroll thead th { position: sticky; top: 0; background: #fff; }
tr.failed td:first-child, td.failed { color: var(--bad); font-weight: 600; }
td.ok { color: var(--ok); font-weight: 600; }
ul.failures { margin: 0; padding-left: 18px; color: var(--bad); font-size: 13px; }
.chips a { display: inline-block; margin: 2px 6px 2px 0; padding: 0 7px; border: 1px solid var(--line); border-radius: 9px; font-size: 13px; text-decoration: none; background: var(--panel); }
.runs { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 14px; }
.run { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.run .curves { margin: 6px 0; }
.run .curves svg { width: 100%; height: auto; display: block; }
.run table { width: 100%; font-size: 13px; }
.run td:first-child { color: var(--muted); width: 8.5em; }
.problem { color: var(--bad); font-weight: 600; }
pre { background: var(--panel); padding: 8px; border-radius: 6px; overflow: auto; font-size: 12.5px; }
.graph-box { overflow: auto; border: 1px solid var(--line); border-radius: 8px; }
svg.graph .edge { fill: none; stroke: #9aa3ad; stroke-width: 1.4; }
svg.graph rect { fill: #fff; stroke: #8b93a1; stroke-width: 1.2; }
svg.graph .run rect { fill: #eef4fc; stroke: #1f529b; }
svg.graph .requested rect { fill: #fff4e5; stroke: #c15f00; stroke-width: 2; }
svg.graph text { font: 13px "DejaVu Sans", sans-serif; fill: var(--ink); }
svg.graph text.kind { font-size: 11.5px; fill: var(--muted); }
svg.graph a:hover rect { stroke-width: 2.5; }
footer { color: var(--muted); font-size: 13px; padding: 0 28px 30px; }
"#;

const SCRIPT: &str = r#"
"use strict";
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (header, column) {
    header.tabIndex = 0;
    header.title = "sort";
    header.addEventListener("click", function () {
      var ascending = header.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var value = function (row) {
        var cell = row.cells[column];
        return cell ? (cell.getAttribute("data-sort") || cell.textContent) : "";
      };
      rows.sort(function (a, b) {
        var x = value(a), y = value(b), nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"#;

/// Writes the page.
pub fn page(report: &Report, graph_svg: &str) -> String {
    let mut out = String::with_capacity(1 << 20);
    let title = format!("{} {} — cpbuild report", report.project, report.version);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"cpbuild {cpbuild}\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        cpbuild = escape(&report.cpbuild),
        title = escape(&title),
    );
    header(&mut out, report);
    out.push_str("<main>\n");
    out.push_str("<section id=\"targets\">\n<h2>Figures and requested targets</h2>\n");
    for requested in &report.requested {
        target_section(&mut out, report, requested);
    }
    out.push_str("</section>\n");
    runs_section(&mut out, report);
    others_section(&mut out, report);
    let _ = writeln!(
        out,
        "<section id=\"graph\">\n<h2>Dependency graph</h2>\n<p class=\"muted\">Every target the requested ones depend on, dependencies to the left; a grid of several targets is one box. Orange: requested; blue: training runs. Each box links to its section.</p>\n<div class=\"graph-box\">{graph_svg}</div>\n</section>"
    );
    checklist_section(&mut out, report);
    out.push_str("</main>\n");
    let _ = writeln!(
        out,
        "<footer>Written by cpbuild {} from the bundles of profile <code>{}</code>: the same store gives the same bytes{}.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>",
        escape(&report.cpbuild),
        escape(&report.profile),
        if report.timings {
            " (this one holds wall-clock build times, which differ between builds)"
        } else {
            ""
        }
    );
    out
}

/// The golden status of a target over all its CSVs: the class and word of its badge.
fn overall(golden: &[GoldenStatus]) -> (&'static str, String) {
    let failed = golden
        .iter()
        .filter(|g| matches!(g.outcome, Outcome::Failed(..)))
        .count();
    let passed = golden
        .iter()
        .filter(|g| matches!(g.outcome, Outcome::Passed(_)))
        .count();
    if failed > 0 {
        ("failed", format!("golden: {failed} FAILED"))
    } else if passed > 0 && passed == golden.len() {
        ("ok", "golden: ok".into())
    } else if passed > 0 {
        (
            "ok",
            format!("golden: {passed} ok, {} without", golden.len() - passed),
        )
    } else {
        ("none", "no golden copies".into())
    }
}

fn header(out: &mut String, report: &Report) {
    let figures: usize = report.requested.iter().map(|r| r.figures.len()).sum();
    let golden: Vec<&GoldenStatus> = report.requested.iter().flat_map(|r| &r.golden).collect();
    let count = |word: &str| golden.iter().filter(|g| g.word() == word).count();
    let _ = writeln!(
        out,
        "<header class=\"top\">\n<h1>{project} {version}</h1>\n<p>Reproducibility report · profile <code>{profile}</code> · cpbuild {cpbuild}</p>\n<p>{targets} requested target{s} · {figures} figure{fs} · {runs} training run{rs} · golden tables: {ok} ok, {failed} failed, {none} without a golden copy</p>\n</header>",
        project = escape(&report.project),
        version = escape(&report.version),
        profile = escape(&report.profile),
        cpbuild = escape(&report.cpbuild),
        targets = report.requested.len(),
        s = if report.requested.len() == 1 { "" } else { "s" },
        fs = if figures == 1 { "" } else { "s" },
        runs = report.runs.len(),
        rs = if report.runs.len() == 1 { "" } else { "s" },
        ok = count("ok"),
        failed = count("FAILED"),
        none = count("no golden copy"),
    );
    out.push_str("<nav class=\"contents\">");
    for requested in &report.requested {
        let _ = write!(
            out,
            "<a class=\"sub\" href=\"#{}\">{}</a>",
            escape(&target_anchor(&requested.name)),
            escape(&requested.name)
        );
    }
    out.push_str("<a href=\"#runs\">Runs</a>");
    if !report.others.is_empty() {
        out.push_str("<a href=\"#others\">Other targets</a>");
    }
    out.push_str("<a href=\"#graph\">Graph</a><a href=\"#checklist\">Checklist</a></nav>\n");
}

fn target_section(out: &mut String, report: &Report, requested: &Requested) {
    let (class, word) = overall(&requested.golden);
    let _ = writeln!(
        out,
        "<article class=\"target\" id=\"{id}\">\n<h3>{name} <span class=\"kind\">{kind}</span> <span class=\"badge {class}\">{word}</span></h3>",
        id = escape(&target_anchor(&requested.name)),
        name = escape(&requested.name),
        kind = escape(&requested.kind),
        word = escape(&word),
    );
    if let Some(description) = &requested.description {
        let _ = writeln!(out, "<p>{}</p>", rich(description));
    }
    if requested.figures.is_empty() {
        out.push_str("<p class=\"muted\">This target draws no figure.</p>\n");
    }
    out.push_str("<div class=\"drawings\">\n");
    for (file, svg) in &requested.figures {
        let _ = writeln!(
            out,
            "<figure class=\"drawing\" data-file=\"{file}\">{svg}<figcaption>{file}</figcaption></figure>",
            file = escape(file),
        );
    }
    out.push_str("</div>\n");
    out.push_str("<div class=\"columns\">\n<div>\n<h4>Golden status</h4>\n");
    if requested.golden.is_empty() {
        out.push_str("<p class=\"muted\">No figure tables to compare.</p>\n");
    } else {
        golden_table(out, &requested.golden);
    }
    out.push_str("</div>\n<div>\n<h4>Provenance</h4>\n");
    provenance_table(out, report, requested);
    out.push_str("</div>\n</div>\n");
    for (file, rows) in &requested.tables {
        csv_table(out, file, rows);
    }
    if !requested.runs.is_empty() {
        let links: String = requested
            .runs
            .iter()
            .map(|run| {
                format!(
                    "<a href=\"#{}\">{}</a>",
                    escape(&run_anchor(run)),
                    escape(run)
                )
            })
            .collect();
        if requested.runs.len() > RUN_LINKS_OPEN {
            let _ = writeln!(
                out,
                "<details><summary>the {} runs it was built from</summary><p class=\"chips\">{links}</p></details>",
                requested.runs.len()
            );
        } else {
            let _ = writeln!(out, "<h4>Built from</h4><p class=\"chips\">{links}</p>");
        }
    }
    out.push_str("</article>\n");
}

fn golden_table(out: &mut String, golden: &[GoldenStatus]) {
    out.push_str("<table><thead><tr><th>table</th><th>status</th><th>rows</th><th>max abs error</th><th>max rel error</th></tr></thead><tbody>\n");
    for status in golden {
        let class = match status.outcome {
            Outcome::Passed(_) => "ok",
            Outcome::Failed(..) => "failed",
            Outcome::NoGolden(_) => "",
        };
        let (rows, abs, rel) = match &status.outcome {
            Outcome::Passed(c) | Outcome::Failed(c, _) => (
                c.rows.to_string(),
                format!("{:e}", c.max_abs),
                format!("{:e}", c.max_rel),
            ),
            Outcome::NoGolden(_) => (String::new(), String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "<tr><td><code title=\"{golden}\">{file}</code></td><td class=\"{class}\">{word}</td><td class=\"number\">{rows}</td><td class=\"number\">{abs}</td><td class=\"number\">{rel}</td></tr>",
            golden = escape(&status.golden),
            file = escape(&status.file),
            word = status.word(),
        );
        match &status.outcome {
            Outcome::Failed(comparison, count) => {
                let items: String = comparison
                    .failures
                    .iter()
                    .map(|f| format!("<li>{}</li>", rich(f)))
                    .collect();
                let more = if *count > comparison.failures.len() {
                    format!("<li>… and {} more</li>", count - comparison.failures.len())
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "<tr><td colspan=\"5\"><ul class=\"failures\">{items}{more}</ul></td></tr>"
                );
            }
            Outcome::NoGolden(reason) => {
                let _ = writeln!(
                    out,
                    "<tr><td colspan=\"5\" class=\"muted\">{}</td></tr>",
                    rich(reason)
                );
            }
            Outcome::Passed(_) => {}
        }
    }
    out.push_str("</tbody></table>\n");
}

fn provenance_table(out: &mut String, report: &Report, requested: &Requested) {
    let facts = &requested.facts;
    let runs: Vec<&Run> = report
        .runs
        .iter()
        .filter(|run| requested.runs.contains(&run.name))
        .collect();
    let row = |out: &mut String, name: &str, value: String| {
        let _ = writeln!(out, "<tr><td>{name}</td><td>{value}</td></tr>");
    };
    out.push_str("<table class=\"facts\"><tbody>\n");
    let kinds: Vec<String> = facts
        .runs_by_kind
        .iter()
        .map(|(kind, n)| format!("{n} × <code>{}</code>", escape(kind)))
        .collect();
    row(
        out,
        "targets below",
        format!(
            "{} ({}); {} training run{} with curves",
            facts.runs_by_kind.values().sum::<usize>(),
            if kinds.is_empty() {
                "none".into()
            } else {
                kinds.join(", ")
            },
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        ),
    );
    let seeds = if facts.seeds.is_empty() {
        "none declared".to_string()
    } else {
        facts
            .seeds
            .iter()
            .map(|(param, values)| {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                format!(
                    "<code>{}</code>: {}",
                    escape(param),
                    escape(&values.join(", "))
                )
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    row(out, "seeds", seeds);
    let splits = if facts.splits.is_empty() {
        "none recorded".to_string()
    } else {
        facts
            .splits
            .iter()
            .map(|s| code_hash(s))
            .collect::<Vec<_>>()
            .join(" ")
    };
    row(out, "data splits (sha256)", splits);
    let epochs = if facts.epochs_trained > 0 {
        facts.epochs_trained.to_string()
    } else {
        let in_results: usize = runs.iter().map(|run| run.points).sum();
        format!("not recorded by the runs ({in_results} epochs in their results)")
    };
    row(out, "epochs trained", epochs);
    let backends: BTreeSet<String> = runs
        .iter()
        .map(|run| match (&run.backend, &run.device) {
            (Some(backend), Some(device)) => format!("{backend} / {device}"),
            (Some(backend), None) => backend.clone(),
            (None, _) => "not recorded".into(),
        })
        .collect();
    if !backends.is_empty() {
        row(
            out,
            "backend / device",
            escape(&backends.into_iter().collect::<Vec<_>>().join("; ")),
        );
    }
    let machines: Vec<&str> = facts.machines.iter().map(String::as_str).collect();
    row(out, "machines", escape(&machines.join("; ")));
    let compute = if facts.seconds_by_device.is_empty() {
        seconds(None, report.timings)
    } else {
        facts
            .seconds_by_device
            .iter()
            .map(|(device, s)| format!("{} on {}", seconds(Some(*s), true), escape(device)))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    row(out, "compute time", compute);
    row(out, "key", code_hash(&requested.key));
    out.push_str("</tbody></table>\n");
}

fn csv_table(out: &mut String, file: &str, rows: &[Vec<String>]) {
    let Some((header, body)) = rows.split_first() else {
        return;
    };
    let _ = write!(
        out,
        "<details class=\"table\"><summary>table <code>{}</code> ({} rows; click a column to sort)</summary><div class=\"scroll\"><table class=\"sortable\"><thead><tr>",
        escape(file),
        body.len()
    );
    for name in header {
        let _ = write!(out, "<th>{}</th>", escape(name));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in body {
        out.push_str("<tr>");
        for cell in row {
            let shown = readable(cell);
            if cell.parse::<f64>().is_ok() {
                let _ = write!(
                    out,
                    "<td class=\"number\" data-sort=\"{raw}\" title=\"{raw}\">{}</td>",
                    escape(&shown),
                    raw = escape(cell)
                );
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div></details>\n");
}

fn runs_section(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "<section id=\"runs\">\n<h2>Runs</h2>\n<p class=\"muted\">Every training run the requested targets used: per epoch, the held-out loss and the alignment with humans (blue), beside its baseline's (grey), with the perturbed epochs shaded.</p>"
    );
    if report.runs.is_empty() {
        out.push_str("<p class=\"muted\">No training runs below the requested targets.</p>\n");
    }
    let mut by_group: BTreeMap<Option<&str>, Vec<&Run>> = BTreeMap::new();
    let mut order: Vec<Option<&str>> = Vec::new();
    for run in &report.runs {
        let group = run.group.as_deref();
        if !by_group.contains_key(&group) {
            order.push(group);
        }
        by_group.entry(group).or_default().push(run);
    }
    for group in order {
        let runs = &by_group[&group];
        match group {
            Some(name) => {
                let _ = writeln!(
                    out,
                    "<h3 id=\"{}\">{} <span class=\"kind\">grid of {} run{}</span></h3>",
                    escape(&group_anchor(name)),
                    escape(name),
                    runs.len(),
                    if runs.len() == 1 { "" } else { "s" }
                );
            }
            None => out.push_str("<h3>Single runs</h3>\n"),
        }
        out.push_str("<div class=\"runs\">\n");
        for run in runs {
            run_card(out, report, run);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn run_card(out: &mut String, report: &Report, run: &Run) {
    let _ = writeln!(
        out,
        "<article class=\"run\" id=\"{id}\" data-run=\"{name}\">\n<h4>{name} <span class=\"kind\">{kind}</span></h4>",
        id = escape(&run_anchor(&run.name)),
        name = escape(&run.name),
        kind = escape(&run.kind),
    );
    match &run.perturbation {
        Some(what) => {
            let _ = writeln!(out, "<p>perturbed: {}</p>", escape(what));
        }
        None => out.push_str("<p>unperturbed (a baseline)</p>\n"),
    }
    match &run.curves {
        Ok(svg) => {
            let _ = writeln!(
                out,
                "<figure class=\"curves\" data-run=\"{}\">{svg}</figure>",
                escape(&run.name)
            );
        }
        Err(problem) => {
            let _ = writeln!(out, "<p class=\"problem\">no curves: {}</p>", rich(problem));
        }
    }
    out.push_str("<table><tbody>\n");
    let row = |out: &mut String, name: &str, value: String| {
        let _ = writeln!(out, "<tr><td>{name}</td><td>{value}</td></tr>");
    };
    if let Some(description) = &run.description {
        row(out, "what", rich(description));
    }
    if run.perturbation.is_some() {
        row(
            out,
            "baseline",
            match &run.baseline {
                Some(baseline) => format!(
                    "<a href=\"#{}\">{}</a>",
                    escape(&run_anchor(baseline)),
                    escape(baseline)
                ),
                None => "<span class=\"problem\">none found (no unperturbed <code>resume_from</code> run)</span>".into(),
            },
        );
    }
    row(
        out,
        "seeds",
        if run.seeds.is_empty() {
            "none declared".into()
        } else {
            format!("<code>{}</code>", escape(&run.seeds.join(", ")))
        },
    );
    row(
        out,
        "data split",
        if run.splits.is_empty() {
            "none recorded".into()
        } else {
            run.splits
                .iter()
                .map(|s| code_hash(s))
                .collect::<Vec<_>>()
                .join(" ")
        },
    );
    let mut epochs = match run.epochs {
        Some(epochs) => epochs.to_string(),
        None => "not recorded".into(),
    };
    let _ = write!(epochs, " ({} in its results", run.points);
    if let Some(best) = run.best_epoch {
        let _ = write!(epochs, "; lowest loss at {best}");
    }
    epochs.push(')');
    row(out, "epochs", epochs);
    row(
        out,
        "backend / device",
        escape(&format!(
            "{} / {}",
            run.backend.as_deref().unwrap_or("not recorded"),
            run.device.as_deref().unwrap_or("not recorded")
        )),
    );
    row(out, "machine", escape(&run.machine));
    row(out, "compute time", seconds(run.seconds, report.timings));
    row(out, "key", code_hash(&run.key));
    out.push_str("</tbody></table>\n");
    let _ = writeln!(
        out,
        "<details><summary>params</summary><pre>{}</pre></details>\n</article>",
        escape(&run.params)
    );
}

fn others_section(out: &mut String, report: &Report) {
    if report.others.is_empty() {
        return;
    }
    out.push_str("<section id=\"others\">\n<h2>Other targets</h2>\n<p class=\"muted\">What the runs and figures stand on besides training runs.</p>\n<table class=\"sortable\"><thead><tr><th>target</th><th>kind</th><th>description</th><th>machine</th><th>compute time</th><th>key</th></tr></thead>\n");
    // Grids whose members are not runs get their anchor here (the graph draws them as one box).
    let run_groups: BTreeSet<&str> = report
        .runs
        .iter()
        .filter_map(|r| r.group.as_deref())
        .collect();
    let mut open_group: Option<String> = None;
    let mut started = false;
    for other in &report.others {
        let group = report_group(report, &other.name).filter(|g| !run_groups.contains(g.as_str()));
        if !started || group != open_group {
            if started {
                out.push_str("</tbody>\n");
            }
            match &group {
                Some(name) => {
                    let _ = writeln!(out, "<tbody id=\"{}\">", escape(&group_anchor(name)));
                }
                None => out.push_str("<tbody>\n"),
            }
            open_group = group;
            started = true;
        }
        let _ = writeln!(
            out,
            "<tr id=\"{id}\"><td>{name}</td><td><code>{kind}</code></td><td>{description}</td><td>{machine}</td><td>{time}</td><td>{key}</td></tr>",
            id = escape(&target_anchor(&other.name)),
            name = escape(&other.name),
            kind = escape(&other.kind),
            description = rich(other.description.as_deref().unwrap_or("")),
            machine = escape(&other.machine),
            time = seconds(other.seconds, report.timings),
            key = code_hash(&other.key),
        );
    }
    if started {
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n</section>\n");
}

/// The grid group a target is drawn in, when the graph draws its group as one box.
fn report_group(report: &Report, name: &str) -> Option<String> {
    report
        .graph
        .iter()
        .find(|node| node.members.iter().any(|member| member == name))
        .map(|node| node.name.clone())
}

fn checklist_section(out: &mut String, report: &Report) {
    let first = report
        .requested
        .first()
        .map(|r| format!("#{}", target_anchor(&r.name)))
        .unwrap_or_else(|| "#targets".into());
    let timings = if report.timings {
        "the backend, device, machine and wall-clock time of every build (<a href=\"#runs\">Runs</a>)"
    } else {
        "the backend, device and machine of every run (<a href=\"#runs\">Runs</a>); wall-clock times are left out so the report is byte-reproducible: write it with <code>--timings</code> to add them"
    };
    let items = [
        (
            "Code and instructions to reproduce the main results",
            format!(
                "the recipes (<code>recipes/</code>) and cpbuild {}; every target's key (a sha256 of everything that determines it) is in its section",
                escape(&report.cpbuild)
            ),
        ),
        (
            "Training details: hyperparameters",
            "every run's resolved params (<a href=\"#runs\">Runs</a>, <em>params</em>)".into(),
        ),
        (
            "Data splits",
            format!("the sha256 of every run's split file (<a href=\"{first}\">per figure</a> and per run)"),
        ),
        (
            "Random seeds",
            "every seed param, per figure and per run; every run is deterministic given them".into(),
        ),
        (
            "Variability across training: how the results evolve",
            "every run's per-epoch held-out loss and alignment beside its baseline's (<a href=\"#runs\">Runs</a>)".into(),
        ),
        ("Compute resources", timings.into()),
        (
            "The exact figures and the numbers behind them",
            format!("each figure and its table (<a href=\"{first}\">Figures</a>)"),
        ),
        (
            "Agreement with the published numbers",
            "each figure table compared with its golden copy, as <code>cpbuild verify</code> does: max absolute and relative error per table".into(),
        ),
        (
            "What each result depends on",
            "the <a href=\"#graph\">dependency graph</a>".into(),
        ),
    ];
    out.push_str("<section id=\"checklist\">\n<h2>Reproducibility checklist</h2>\n<p class=\"muted\">The NeurIPS checklist items this report answers, and where.</p>\n<table><thead><tr><th>item</th><th>answered by</th></tr></thead><tbody>\n");
    for (item, answer) in items {
        let _ = writeln!(out, "<tr><td>{item}</td><td>{answer}</td></tr>");
    }
    out.push_str("</tbody></table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_with_six_significant_digits() {
        assert_eq!(readable("0.123456789"), "0.123457");
        assert_eq!(readable("12"), "12");
        assert_eq!(readable("-0.0000001"), "-1.0000e-7");
        assert_eq!(readable("2.5"), "2.5");
        assert_eq!(readable("123456.75"), "123457");
        assert_eq!(readable("NR"), "NR");
        assert_eq!(readable(""), "");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
        assert_eq!(
            rich("run `a<b` then `c`"),
            "run <code>a&lt;b</code> then <code>c</code>"
        );
        assert_eq!(rich("one ` tick"), "one ` tick");
    }
}
