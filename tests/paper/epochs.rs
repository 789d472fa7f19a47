//! How many epochs the paper's graphs train, demand-driven against every run trained to the
//! end, counted from the recipes (the numbers in the README's "Demand-driven runs") by
//! [`GraphEpochs::count`], the function `cpbuild bench` projects the graph's GPU time with.
//!
//! "To the end" trains every run to its baseline's end — the `ci` schedules (20 CLIP-HBA, 12
//! ViT epochs: the ci baseline does not stop early) and the paper's baselines (118 epochs for
//! CLIP-HBA, where early stopping ended it; 100 for the ViT) — and a fig4 window at least to
//! the horizon. Baselines count the same in both (fig1 needs them to their end); early
//! stopping can only lower the demand-driven numbers.

use cpbuild::bench::epochs::{BaselineEnds, GraphEpochs};
use cpbuild::engine::graph::Graph;
use cpbuild::engine::recipe::Recipes;

use super::support::repo;

/// The epochs of every training run the four figures need on `profile`.
fn count(profile: &str, ends: BaselineEnds) -> GraphEpochs {
    let root = repo();
    let recipes = Recipes::load_dir(&root, &root.join("recipes")).expect("recipes");
    let graph = Graph::build(&recipes, profile, &cpbuild::registry()).expect("graph");
    let roots = graph
        .resolve_all(&["fig1", "fig2", "fig3", "fig4"].map(String::from))
        .expect("figures");
    GraphEpochs::count(&graph, &roots, ends).expect("countable runs")
}

#[test]
fn demand_driven_runs_train_fewer_epochs() {
    let ci = count("ci", BaselineEnds::CI);
    let paper = count("paper", BaselineEnds::PAPER);
    println!(
        "ci: {} epochs demand-driven, {} to the end",
        ci.demand(),
        ci.to_the_end()
    );
    println!(
        "paper: {} epochs demand-driven, {} to the end",
        paper.demand(),
        paper.to_the_end()
    );
    assert_eq!((ci.demand(), ci.to_the_end()), (233, 610));
    assert_eq!((paper.demand(), paper.to_the_end()), (9773, 19713));
    // The CLIP-HBA part, which `cpbuild bench` projects: the baseline, 98 single-epoch sweep
    // runs, 21 runs of the other three types at fig2's 7 epochs (14 of them on pixels) and 77
    // fig4 windows.
    assert_eq!(paper.hba.runs, 1 + 98 + 21 + 77);
    assert_eq!(paper.hba.demand, 9645);
    assert_eq!(paper.hba.image_perturbed, 14);
    assert_eq!(paper.vit.demand, 128);
}
