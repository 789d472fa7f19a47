//! Fingerprints: what determines a target's output, and its key.
//!
//! A target's **key** is the sha256 of the canonical JSON serialisation (object keys sorted,
//! no whitespace) of its [`Fingerprint`]:
//!
//! | field            | what is hashed                                                          |
//! |------------------|-------------------------------------------------------------------------|
//! | `cpbuild`        | the cpbuild version (`CARGO_PKG_VERSION`)                               |
//! | `target`         | the target's name                                                       |
//! | `kind`           | the kind (`shell`, `train-hba`, …)                                      |
//! | `action_version` | the action's own version string                                         |
//! | `context`        | build options the action declares relevant (e.g. the backend), or null |
//! | `params`         | the params after profile and grid substitution (for `shell`: `command`, `outputs`) |
//! | `deps`           | dependency name → that dependency's key (so any change below propagates) |
//! | `inputs`         | input path relative to the project root → sha256 of the file's contents |
//!
//! Never hashed: modification times, absolute paths, the profile's *name* (only the values it
//! puts into params), the store location, the machine, timestamps, `-j`.
//!
//! As in cargo, the key is the only thing that decides freshness: a target is fresh when the
//! store holds a verified bundle for its key. The fingerprint's fields are also saved after each
//! successful build (the *record*), only to explain later why a target is dirty
//! ([`DirtyReason`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::util::canonical;

/// Everything that determines a target's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The cpbuild version.
    pub cpbuild: String,
    /// The target's name.
    pub target: String,
    /// Its kind.
    pub kind: String,
    /// The action's version.
    pub action_version: String,
    /// Build options the action depends on.
    pub context: Json,
    /// Resolved params.
    pub params: Json,
    /// Dependency name → key.
    pub deps: BTreeMap<String, String>,
    /// Input path → content sha256.
    pub inputs: BTreeMap<String, String>,
}

impl Fingerprint {
    /// The key: sha256 of the canonical serialisation.
    pub fn key(&self) -> String {
        let value = serde_json::to_value(self).expect("fingerprints always serialise");
        crate::util::hash::bytes(canonical::to_string(&value).as_bytes())
    }

    /// The key of this fingerprint's extension family: everything but the target's name and
    /// with `family_params` in place of the params (see `Action::extension`).
    pub fn family_key(&self, family_params: &Json) -> String {
        let value = serde_json::json!({
            "cpbuild": self.cpbuild,
            "kind": self.kind,
            "action_version": self.action_version,
            "context": self.context,
            "family": family_params,
            "deps": self.deps.values().collect::<Vec<_>>(),
            "inputs": self.inputs,
        });
        crate::util::hash::bytes(canonical::to_string(&value).as_bytes())
    }

    /// Why `self` differs from `old`, the fingerprint of the last successful build.
    pub fn diff(&self, old: &Fingerprint) -> Vec<DirtyReason> {
        let mut reasons = Vec::new();
        if self.cpbuild != old.cpbuild {
            reasons.push(DirtyReason::ToolVersion {
                old: old.cpbuild.clone(),
                new: self.cpbuild.clone(),
            });
        }
        if self.kind != old.kind {
            reasons.push(DirtyReason::Kind {
                old: old.kind.clone(),
                new: self.kind.clone(),
            });
        }
        if self.action_version != old.action_version {
            reasons.push(DirtyReason::ActionVersion {
                old: old.action_version.clone(),
                new: self.action_version.clone(),
            });
        }
        if self.context != old.context {
            reasons.push(DirtyReason::Context {
                old: canonical::to_string(&old.context),
                new: canonical::to_string(&self.context),
            });
        }
        diff_json("params", &old.params, &self.params, &mut reasons);
        diff_maps(&old.inputs, &self.inputs, &mut reasons, |path, old, new| {
            DirtyReason::Input {
                path: path.to_string(),
                old: old.map(str::to_string),
                new: new.map(str::to_string),
            }
        });
        diff_maps(&old.deps, &self.deps, &mut reasons, |name, old, new| {
            DirtyReason::Dep {
                name: name.to_string(),
                old: old.map(str::to_string),
                new: new.map(str::to_string),
            }
        });
        reasons
    }
}

fn diff_maps(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    reasons: &mut Vec<DirtyReason>,
    make: impl Fn(&str, Option<&str>, Option<&str>) -> DirtyReason,
) {
    for (name, old_value) in old {
        match new.get(name) {
            Some(new_value) if new_value == old_value => {}
            other => reasons.push(make(name, Some(old_value), other.map(String::as_str))),
        }
    }
    for (name, new_value) in new {
        if !old.contains_key(name) {
            reasons.push(make(name, None, Some(new_value)));
        }
    }
}

fn diff_json(path: &str, old: &Json, new: &Json, reasons: &mut Vec<DirtyReason>) {
    match (old, new) {
        (Json::Object(a), Json::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff_json(&child, x, y, reasons),
                    (x, y) => reasons.push(DirtyReason::Param {
                        path: child,
                        old: x.map(canonical::to_string),
                        new: y.map(canonical::to_string),
                    }),
                }
            }
        }
        _ if old == new => {}
        _ => reasons.push(DirtyReason::Param {
            path: path.to_string(),
            old: Some(canonical::to_string(old)),
            new: Some(canonical::to_string(new)),
        }),
    }
}

/// Why a target must be (re)built.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum DirtyReason {
    /// No build of this target was ever recorded in this store.
    NeverBuilt,
    /// `-B`.
    Forced,
    /// The fingerprint is unchanged but its bundle is gone (removed by `gc`, or imported elsewhere).
    BundleMissing,
    /// The bundle failed verification.
    BundleCorrupt { detail: String },
    /// cpbuild's version changed.
    ToolVersion { old: String, new: String },
    /// The kind changed.
    Kind { old: String, new: String },
    /// The action's version changed.
    ActionVersion { old: String, new: String },
    /// Relevant build options changed.
    Context { old: String, new: String },
    /// A param changed (`None`: absent).
    Param {
        path: String,
        old: Option<String>,
        new: Option<String>,
    },
    /// An input file changed, appeared or disappeared (values are content sha256s).
    Input {
        path: String,
        old: Option<String>,
        new: Option<String>,
    },
    /// A dependency's key changed (values are keys).
    Dep {
        name: String,
        old: Option<String>,
        new: Option<String>,
    },
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

impl fmt::Display for DirtyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Paths and param names may hold newlines: they are printed escaped.
        use crate::util::printable;
        match self {
            DirtyReason::NeverBuilt => write!(f, "never built"),
            DirtyReason::Forced => write!(f, "forced by `-B`"),
            DirtyReason::BundleMissing => write!(f, "bundle missing from the store"),
            DirtyReason::BundleCorrupt { detail } => write!(f, "bundle corrupt ({detail})"),
            DirtyReason::ToolVersion { old, new } => {
                write!(f, "cpbuild version changed: {old} → {new}")
            }
            DirtyReason::Kind { old, new } => write!(f, "kind changed: `{old}` → `{new}`"),
            DirtyReason::ActionVersion { old, new } => {
                write!(f, "action version changed: {old} → {new}")
            }
            DirtyReason::Context { old, new } => write!(f, "build options changed: {old} → {new}"),
            DirtyReason::Param { path, old, new } => match (printable(path), old, new) {
                (path, Some(old), Some(new)) => {
                    write!(f, "param `{path}` changed: {old} → {new}")
                }
                (path, None, Some(new)) => write!(f, "param `{path}` added: {new}"),
                (path, Some(old), None) => write!(f, "param `{path}` removed (was {old})"),
                (path, None, None) => write!(f, "param `{path}` changed"),
            },
            DirtyReason::Input { path, old, new } => match (printable(path), old, new) {
                (path, Some(old), Some(new)) => write!(
                    f,
                    "input `{path}` changed: sha256 {} → {}",
                    short(old),
                    short(new)
                ),
                (path, None, Some(_)) => write!(f, "input `{path}` added"),
                (path, Some(_), None) => write!(f, "input `{path}` removed"),
                (path, None, None) => write!(f, "input `{path}` changed"),
            },
            DirtyReason::Dep { name, old, new } => match (old, new) {
                (Some(old), Some(new)) => write!(
                    f,
                    "dependency `{name}` changed: key {} → {}",
                    short(old),
                    short(new)
                ),
                (None, Some(_)) => write!(f, "dependency `{name}` added"),
                (Some(_), None) => write!(f, "dependency `{name}` removed"),
                (None, None) => write!(f, "dependency `{name}` changed"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fingerprint() -> Fingerprint {
        Fingerprint {
            cpbuild: "0.1.0".into(),
            target: "a".into(),
            kind: "shell".into(),
            action_version: "1".into(),
            context: Json::Null,
            params: json!({"command": "echo", "n": 1}),
            deps: [("b".to_string(), "k1".to_string())].into(),
            inputs: [("x.csv".to_string(), "h1".to_string())].into(),
        }
    }

    #[test]
    fn key_is_stable_and_sensitive() {
        let a = fingerprint();
        assert_eq!(a.key(), fingerprint().key());
        let mut b = fingerprint();
        b.params["n"] = json!(2);
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn diff_names_each_change() {
        let old = fingerprint();
        let mut new = fingerprint();
        new.params["n"] = json!(2);
        new.inputs.insert("x.csv".into(), "h2".into());
        new.deps.insert("c".into(), "k3".into());
        let reasons: Vec<String> = new.diff(&old).iter().map(|r| r.to_string()).collect();
        assert_eq!(
            reasons,
            [
                "param `params.n` changed: 1 → 2",
                "input `x.csv` changed: sha256 h1 → h2",
                "dependency `c` added",
            ]
        );
    }
}
