//! `cpbuild show TARGET`: a built target's bundle, unpacked copy, manifest and run record, as
//! JSON.

use std::io::Write;

use cpbuild_engine::error::{Error, Result, exit_code};
use cpbuild_engine::plan::ItemState;

use super::{GlobalOptions, context};

pub(super) fn show(global: &GlobalOptions, target: &str) -> Result<i32> {
    let project = context::load(global)?;
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
