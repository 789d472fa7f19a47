//! The `Test` project builder: writes files into a temporary directory, runs the real
//! `cpbuild` binary there, and returns what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value as Json;

use crate::common::recipe::profiles;
pub use crate::common::{assert_contains, assert_lacks};

/// A temporary project.
pub struct Project {
    dir: tempfile::TempDir,
}

/// What one run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON events (for runs with `--json`).
    pub fn events(&self) -> Vec<Json> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event {l}: {e}")))
            .collect()
    }

    /// Names of targets with an event of `kind` (`start`, `finished`, `failed`, …).
    pub fn targets_with(&self, kind: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .events()
            .iter()
            .filter(|e| e["event"] == kind)
            .map(|e| e["target"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    }

    /// Asserts success, printing everything otherwise.
    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "cpbuild failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_cpbuild")
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes `contents` to `relative`.
    pub fn file(&self, relative: &str, contents: &str) -> &Project {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Writes `recipes/main.toml`.
    pub fn recipe(&self, contents: &str) -> &Project {
        self.file("recipes/main.toml", contents)
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative))
            .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
    }

    /// The `cpbuild` command, run in the project.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(args)
            .current_dir(self.root())
            .env_remove("CPBUILD_STORE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs cpbuild with `args` and waits.
    pub fn run(&self, args: &[&str]) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output().expect("cpbuild runs");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Every bundle file of a store, by name, with its bytes.
    pub fn bundles(&self, store: &str) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.path(store).join("bundles"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".tar.zst"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The lines of the bundles' index of the store `artifacts`, parsed.
    pub fn index_lines(&self) -> Vec<serde_json::Value> {
        self.read("artifacts/bundles/index.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The names of the files in `artifacts/bundles` that are not bundles, sorted.
    pub fn beside_bundles(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path("artifacts/bundles"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".tar.zst"))
            .collect();
        names.sort();
        names
    }
}

/// A three-level recipe: `data` → `left`, `right` → `summary`, plus an unrelated `other`.
pub fn three_levels_recipe() -> String {
    let profiles = profiles(&[("ci", &["scale = 2"]), ("paper", &["scale = 10"])]);
    format!(
        r#"
default = ["summary"]

{profiles}
[target.data]
kind = "shell"
inputs = ["input.txt"]
command = "tr a-z A-Z < input.txt > data.txt"
outputs = ["data.txt"]

[target.left]
kind = "shell"
deps = ["data"]
params = {{ factor = 3 }}
command = "echo left ${{scale}} >> runs.log; cat data.txt data.txt > left.txt"
outputs = ["left.txt"]

[target.right]
kind = "shell"
deps = ["data"]
command = "echo right >> runs.log; wc -c < data.txt > right.txt"
outputs = ["right.txt"]

[target.summary]
kind = "shell"
deps = ["left", "right"]
command = "echo summary >> runs.log; cat left.txt right.txt > summary.txt"
outputs = ["summary.txt"]

[target.other]
kind = "shell"
command = "echo other > other.txt"
outputs = ["other.txt"]
"#
    )
}

/// Makes a read-only store directory (an unpacked copy) writable again, so a test can damage it.
pub fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            make_writable(&path);
        }
    }
}
