//! How many epochs the paper's graphs train, demand-driven against every run trained to the
//! end, counted from the recipes (the numbers in the README's "Demand-driven runs").
//!
//! A run trains from its perturbation's start (epoch 1 for a baseline) to its last epoch:
//! `stop_after_epoch` when demand-driven, else the whole schedule. "To the end" trains every
//! run to its baseline's end — the `ci` schedules (20 CLIP-HBA, 12 ViT epochs: the ci baseline
//! does not stop early) and the paper's baselines (118 epochs for CLIP-HBA, where early
//! stopping ended it; 100 for the ViT) — and a fig4 window at least to the horizon.
//! Baselines count the same in both (fig1 needs them to their end); early stopping can only
//! lower the demand-driven numbers.

use cpbuild::engine::graph::Graph;
use cpbuild::engine::recipe::Recipes;
use serde_json::Value as Json;

use super::support::repo;

/// (demand-driven, to the end) epochs of every training run the four figures need.
fn count(profile: &str, hba_end: u64, vit_end: u64) -> (u64, u64) {
    let root = repo();
    let recipes = Recipes::load_dir(&root, &root.join("recipes")).expect("recipes");
    let graph = Graph::build(&recipes, profile, &cpbuild::registry()).expect("graph");
    let roots = graph
        .resolve_all(&["fig1", "fig2", "fig3", "fig4"].map(String::from))
        .expect("figures");
    let (mut demand, mut full) = (0, 0);
    for id in graph.closure(&roots) {
        let spec = &graph.target(id).spec;
        let params = &spec.params;
        let (schedule, end) = match spec.kind.as_str() {
            "train-hba" => (params["max_epochs"].as_u64().expect("max_epochs"), hba_end),
            "train-vit" => (params["epochs"].as_u64().expect("epochs"), vit_end),
            _ => continue,
        };
        let first = params["perturbation"]["start"].as_u64().unwrap_or(1);
        let last = params["stop_after_epoch"]
            .as_u64()
            .unwrap_or(schedule.min(end));
        let to_the_end = if spec.group == "window" {
            end.max(last)
        } else {
            end
        };
        assert!(params.get("perturbation").is_none_or(Json::is_object));
        demand += last - first + 1;
        full += to_the_end - first + 1;
    }
    (demand, full)
}

#[test]
fn demand_driven_runs_train_fewer_epochs() {
    let ci = count("ci", 20, 12);
    let paper = count("paper", 118, 100);
    println!("ci: {} epochs demand-driven, {} to the end", ci.0, ci.1);
    println!(
        "paper: {} epochs demand-driven, {} to the end",
        paper.0, paper.1
    );
    assert_eq!(ci, (233, 610));
    assert_eq!(paper, (9773, 19713));
}
