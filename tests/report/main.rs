//! `cpbuild report --html` through the real binary, on a project of run-shaped shell targets
//! and real `figure` targets (`tests/fixtures/report`): what the page holds, that it is
//! byte-reproducible, that archives carry it, and that it loads in a real headless Chromium with
//! no console errors, every figure and every run's curves drawn, every internal link resolving.
//!
//! The browser test needs Chromium (`chromium` on `PATH`, or `$CPBUILD_CHROMIUM`); without one
//! it says so and passes, unless `CI=true` or `CPBUILD_REQUIRE_CHROMIUM=1` (set by `.ci/run`,
//! which installs Debian's `chromium`), where a missing browser fails.

#[path = "../common/mod.rs"]
mod common;

mod browser;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::{copy_tree, cpbuild, repo};

/// A built copy of the fixture project.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// Copies the fixture and builds its default targets under `profile`.
    fn built(profile: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("tests/fixtures/report"), dir.path());
        let project = Project { dir };
        project.run(&["--profile", profile, "-j", "2"]);
        project
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// Runs cpbuild; panics unless it succeeds; returns stdout.
    fn run(&self, args: &[&str]) -> String {
        let (code, stdout, stderr) = cpbuild(self.root(), args);
        assert_eq!(code, 0, "cpbuild {args:?} failed:\n{stderr}");
        stdout
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|e| panic!("cannot read `{relative}`: {e}"))
    }

    /// The run-shaped targets (every `shell` target), from `cpbuild list`.
    fn runs(&self, profile: &str) -> Vec<String> {
        self.run(&["--profile", profile, "list"])
            .lines()
            .filter_map(|line| {
                let mut words = line.trim_start_matches(['*', ' ']).split_whitespace();
                let name = words.next()?;
                (words.next()? == "shell").then(|| name.to_string())
            })
            .collect()
    }

    /// Every figure target's SVG files in the working tree: (target, file).
    fn figure_svgs(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for target in std::fs::read_dir(self.path("artifacts/figures")).unwrap() {
            let target = target.unwrap();
            for file in std::fs::read_dir(target.path()).unwrap() {
                let name = file.unwrap().file_name().to_string_lossy().into_owned();
                if name.ends_with(".svg") {
                    found.push((target.file_name().to_string_lossy().into_owned(), name));
                }
            }
        }
        found.sort();
        found
    }
}

/// Writes `csv` as the insta snapshot `golden/<file>.snap` that `cpbuild verify` reads.
fn write_golden(project: &Project, file: &str, csv: &str) {
    std::fs::create_dir_all(project.path("golden")).unwrap();
    std::fs::write(
        project.path(&format!("golden/{file}.snap")),
        format!("---\nsource: tests/paper/main.rs\nexpression: csv\n---\n{csv}"),
    )
    .unwrap();
}

/// The members of an archive, by name.
fn archive_member(path: &Path, wanted: &str) -> Option<String> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy() == wanted {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return Some(text);
        }
    }
    None
}

#[test]
fn html_report_shows_figures_runs_golden_status_and_graph_reproducibly() {
    let project = Project::built("ci");
    // fig3 matches its golden copy; fig4's differs in one cell; fig1a and fig2a have none.
    write_golden(
        &project,
        "fig3.csv",
        &project.read("artifacts/figures/fig3/fig3.csv"),
    );
    let fig4 = project.read("artifacts/figures/fig4/fig4.csv");
    let mut lines: Vec<String> = fig4.lines().map(str::to_string).collect();
    let cells: Vec<&str> = lines[1].split(',').collect();
    let changed_column = cells
        .iter()
        .rposition(|cell| cell.parse::<i64>().is_ok())
        .expect("a number in fig4.csv");
    let mut changed: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    changed[changed_column] = (cells[changed_column].parse::<i64>().unwrap() + 1).to_string();
    lines[1] = changed.join(",");
    write_golden(&project, "fig4.csv", &(lines.join("\n") + "\n"));

    let stdout = project.run(&["report", "--html"]);
    assert!(
        stdout.contains("wrote `artifacts/report/index.html`"),
        "{stdout}"
    );
    let html = project.read("artifacts/report/index.html");

    // Self-contained: nothing fetched, no path of this machine.
    for outside in ["src=", "<link", "href=\"http", "url(http", "@import"] {
        assert!(
            !html.contains(outside),
            "the page refers outside: `{outside}`"
        );
    }
    let root = project.root().canonicalize().unwrap();
    assert!(!html.contains(&*root.to_string_lossy()), "a local path");

    // Every figure inline, every run with its curves and provenance.
    for (target, file) in project.figure_svgs() {
        let section = html
            .split(&format!("id=\"target-{target}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no section for `{target}`"));
        let section = section.split("</article>").next().unwrap();
        assert!(
            section.contains(&format!(
                "<figure class=\"drawing\" data-file=\"{file}\"><svg"
            )),
            "`{target}` does not inline `{file}`"
        );
    }
    let runs = project.runs("ci");
    assert_eq!(runs.len(), 23, "{runs:?}");
    for run in &runs {
        let card = html
            .split(&format!("<article class=\"run\" id=\"run-{run}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no card for run `{run}`"));
        let card = card.split("</article>").next().unwrap();
        assert!(
            card.contains(&format!("<figure class=\"curves\" data-run=\"{run}\"><svg")),
            "`{run}` has no curves"
        );
        // Its own line (blue) in both panels; the baseline's (grey) beside a perturbed run's.
        assert!(card.matches("#1F529B").count() >= 2, "`{run}`: {card}");
        if run != "baseline" {
            assert!(card.contains("#969696"), "`{run}` has no baseline curve");
            assert!(card.contains("href=\"#run-baseline\""), "`{run}`");
            assert!(card.contains("seed = 0") && card.contains("perturbation.seed = 0"));
        }
        assert!(
            card.contains("<td>data split</td><td><code title="),
            "{card}"
        );
        assert!(card.contains("<td>epochs</td>"), "{card}");
    }
    assert!(html.contains("perturbed: random_target, epochs 6–9"));

    // Golden status as `cpbuild verify` computes it.
    let fig3 = html.split("id=\"target-fig3\"").nth(1).unwrap();
    assert!(fig3.split("</h3>").next().unwrap().contains("golden: ok"));
    let fig4 = html.split("id=\"target-fig4\"").nth(1).unwrap();
    assert!(
        fig4.split("</h3>")
            .next()
            .unwrap()
            .contains("golden: 1 FAILED")
    );
    let fig2a = html.split("id=\"target-fig2a\"").nth(1).unwrap();
    assert!(fig2a.contains("<code>golden/fig2a.csv.snap</code> does not exist"));
    let (code, verify, _) = cpbuild(project.root(), &["verify", "fig3", "fig4"]);
    assert_eq!(code, 1, "{verify}");
    let failures: Vec<&str> = verify.lines().filter(|l| l.starts_with("  row ")).collect();
    assert_eq!(failures.len(), 1, "{verify}");
    for line in failures {
        // `row 1 `column`: golden …, built … (abs error …)`, the column set as code.
        let (row, rest) = line.trim().split_once(" `").unwrap();
        let (column, numbers) = rest.split_once('`').unwrap();
        let shown = format!("<li>{row} <code>{column}</code>{numbers}</li>");
        assert!(fig4.contains(&shown), "the report lacks `{shown}`");
    }
    for line in verify.lines().filter(|l| l.starts_with("verify ")) {
        // `… (N rows, max abs error X, max rel error Y)`: the same numbers in the report.
        let numbers = line.rsplit('(').next().unwrap();
        let abs = numbers
            .split("max abs error ")
            .nth(1)
            .unwrap()
            .split(',')
            .next();
        assert!(html.contains(&format!(">{}<", abs.unwrap())), "{line}");
    }

    // The graph: one box per target or grid, each a link; the checklist.
    let graph = html.split("<svg class=\"graph\"").nth(1).unwrap();
    let graph = graph.split("</svg>").next().unwrap();
    for node in [
        "#target-fig3",
        "#group-sweep",
        "#group-window",
        "#run-baseline",
    ] {
        assert!(
            graph.contains(&format!("href=\"{node}\"")),
            "graph lacks {node}"
        );
    }
    assert!(html.contains("id=\"checklist\""));

    // Byte-reproducible: another store, built serially, gives the same bytes; `--timings`
    // adds wall-clock times.
    project.run(&["--store", "second", "-j", "1"]);
    project.run(&[
        "--store",
        "second",
        "report",
        "--html",
        "-o",
        "second-report",
    ]);
    assert!(
        html == project.read("second-report/index.html"),
        "the reports differ"
    );
    project.run(&["report", "--html", "--timings", "-o", "timed"]);
    let timed = project.read("timed/index.html");
    assert!(timed != html && timed.contains(" s</td>"));
    assert!(html.contains("not in this report (<code>--timings</code>)"));

    // Archives carry the same page (with the archive's version) and list it in their README.
    project.run(&["archive", "--version", "1.0.0", "-o", "a.tar.zst"]);
    let archived = archive_member(
        &project.path("a.tar.zst"),
        "cpbuild-report-demo-1.0.0/report/index.html",
    )
    .expect("the archive holds report/index.html");
    assert_eq!(
        archived.replace("report-demo 1.0.0", "report-demo local"),
        html
    );
    let readme = archive_member(
        &project.path("a.tar.zst"),
        "cpbuild-report-demo-1.0.0/README.md",
    )
    .unwrap();
    assert!(readme.contains("- `report/index.html`: the report to open in a browser"));
    project.run(&["verify-archive", "a.tar.zst"]);
}

#[test]
fn html_report_refuses_what_it_cannot_show() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/fixtures/report"), dir.path());
    let (code, _, stderr) = cpbuild(dir.path(), &["report", "--html", "-o", "out"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("must be built first"), "{stderr}");
    assert!(stderr.contains("`baseline`: never built"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "nothing is written");
    let (code, _, stderr) = cpbuild(dir.path(), &["report", "--html", "fig5"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown target `fig5`"), "{stderr}");
    assert!(stderr.contains("did you mean"), "{stderr}");
    let (code, _, stderr) = cpbuild(dir.path(), &["report", "-o", "out"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--html"), "{stderr}");
}

/// Chromium, or `None` (the test passes, saying it was skipped) when it is missing and not
/// required.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = browser::find_chromium() {
        return Some(path);
    }
    let required = std::env::var("CI").as_deref() == Ok("true")
        || std::env::var("CPBUILD_REQUIRE_CHROMIUM").as_deref() == Ok("1");
    assert!(
        !required,
        "no Chromium found (`chromium` on PATH or $CPBUILD_CHROMIUM), and CI=true or CPBUILD_REQUIRE_CHROMIUM=1 requires the browser test; install Debian's `chromium` (`.ci/run` does)"
    );
    eprintln!("skipped: no Chromium found (set CPBUILD_REQUIRE_CHROMIUM=1 to make this a failure)");
    None
}

/// What the browser finds in the loaded page.
const PAGE_FACTS: &str = r##"(() => {
  const drawn = (svg) => { const box = svg && svg.getBoundingClientRect(); return !!box && box.width > 100 && box.height > 50; };
  const links = Array.from(document.querySelectorAll('a[href^="#"]')).map(a => a.getAttribute('href'));
  return {
    unresolved: links.filter(href => !document.getElementById(decodeURIComponent(href.slice(1)))),
    links: links.length,
    drawings: Array.from(document.querySelectorAll('article.target figure.drawing'))
      .filter(figure => drawn(figure.querySelector('svg')) && figure.querySelectorAll('svg *').length > 20)
      .map(figure => figure.closest('article').id + '/' + figure.dataset.file),
    curves: Array.from(document.querySelectorAll('article.run figure.curves'))
      .filter(figure => drawn(figure.querySelector('svg'))
        && figure.querySelectorAll('[stroke="#1F529B"], [fill="#1F529B"]').length >= 2)
      .map(figure => figure.dataset.run),
    graph: document.querySelectorAll('svg.graph a').length,
    resources: performance.getEntriesByType('resource').map(entry => entry.name),
    loaded_ms: performance.getEntriesByType('navigation')[0].loadEventEnd,
  };
})()"##;

/// Checks a decoded screenshot is a page, not a blank: returns (pixel luminance variance,
/// share of pixels that are not white).
fn screenshot_contrast(png_bytes: &[u8]) -> (f64, f64) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let luminance: Vec<f64> = pixels[..info.buffer_size()]
        .chunks(channels)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let mean = luminance.iter().sum::<f64>() / luminance.len() as f64;
    let variance =
        luminance.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / luminance.len() as f64;
    let ink = luminance.iter().filter(|&&l| l < 245.0).count() as f64 / luminance.len() as f64;
    (variance, ink)
}

/// Loads `page` in Chromium and checks it against the project's figures and runs; returns the
/// load time the page measured itself (ms) and the browser's wall-clock load time.
fn check_in_browser(
    chromium: &Path,
    project: &Project,
    profile: &str,
    page: &Path,
) -> (f64, std::time::Duration) {
    let mut browser = browser::Browser::start(chromium, 1400, 1000);
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let wall = browser.load(&url);
    let facts = browser.evaluate(PAGE_FACTS);
    assert!(
        browser.errors.is_empty(),
        "console errors: {:#?}",
        browser.errors
    );
    assert_eq!(facts["unresolved"], serde_json::json!([]), "dangling links");
    assert!(facts["links"].as_u64().unwrap() > 10, "{facts}");
    assert_eq!(
        facts["resources"],
        serde_json::json!([]),
        "it fetched files"
    );
    let drawings: Vec<String> = serde_json::from_value(facts["drawings"].clone()).unwrap();
    let expected: Vec<String> = project
        .figure_svgs()
        .into_iter()
        .map(|(target, file)| format!("target-{target}/{file}"))
        .collect();
    assert_eq!(drawings, expected, "figures drawn");
    let mut curves: Vec<String> = serde_json::from_value(facts["curves"].clone()).unwrap();
    let mut runs = project.runs(profile);
    curves.sort();
    runs.sort();
    assert_eq!(curves, runs, "runs whose curves are drawn");
    assert!(facts["graph"].as_u64().unwrap() >= 4, "{facts}");

    let screenshot = browser.screenshot();
    let (variance, ink) = screenshot_contrast(&screenshot);
    assert!(
        variance > 200.0 && ink > 0.05,
        "the screenshot looks blank (luminance variance {variance:.0}, {:.1} % ink)",
        ink * 100.0
    );
    if let Some(path) = std::env::var_os("CPBUILD_REPORT_SCREENSHOT") {
        std::fs::write(&path, &screenshot).unwrap();
    }
    (facts["loaded_ms"].as_f64().unwrap(), wall)
}

#[test]
fn html_report_loads_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let project = Project::built("ci");
    project.run(&["report", "--html"]);
    let (loaded, wall) = check_in_browser(
        &chromium,
        &project,
        "ci",
        &project.path("artifacts/report/index.html"),
    );
    eprintln!("the ci-sized report loaded in {loaded:.0} ms (page), {wall:?} (wall)");
}

/// The paper's shapes: 204 runs of up to 150 epochs. Not run by default (it builds 208 targets);
/// run it with `cargo test --test report -- --ignored` to see how fast a paper-sized report
/// loads.
#[test]
#[ignore = "builds a paper-sized project (208 targets); run with --ignored to measure"]
fn paper_sized_html_report_loads_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let project = Project::built("paper");
    let stdout = project.run(&["--profile", "paper", "report", "--html"]);
    assert_eq!(project.runs("paper").len(), 204);
    let (loaded, wall) = check_in_browser(
        &chromium,
        &project,
        "paper",
        &project.path("artifacts/report/index.html"),
    );
    eprintln!(
        "the paper-sized report ({}) loaded in {loaded:.0} ms (page), {wall:?} (wall)",
        stdout.lines().next().unwrap_or_default()
    );
}
