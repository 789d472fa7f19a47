//! How many epochs the paper's graphs train, demand-driven against every run trained to the
//! end, counted from the recipes (the numbers in the README's "Demand-driven runs") by
//! [`GraphEpochs::count`], the function `cpbuild bench` projects the graph's GPU time with.
//!
//! Baselines end where early stopping ended them: the `ci` baseline as it trains here (see
//! [`CI`]), the paper's CLIP-HBA baseline after 118 epochs (minimum test loss at 98) and the ViT
//! after its 100. fig3's sweep runs up to the baseline's minimum-test-loss epoch. A fig4 window
//! is counted to window end + patience, the earliest the early-stopping rule of perturbed runs
//! can end it (improvements after the window push that further; the figure test checks every
//! ci window ran at least that far). "To the end" trains every run to its baseline's end.

use cpbuild::bench::epochs::{BaselineEnds, GraphEpochs};
use cpbuild::engine::graph::Graph;
use cpbuild::engine::recipe::Recipes;

use super::support::repo;

/// The ci baselines where they end (the CLIP-HBA baseline stopped early after 26 epochs,
/// minimum test loss at 22, as `learning.rs` checks on the built bundles; the ViT's 12 epochs).
const CI: BaselineEnds = BaselineEnds {
    hba: 26,
    hba_best: 22,
    vit: 12,
};

/// The epochs of every training run the four figures need on `profile`.
fn count(profile: &str, ends: BaselineEnds) -> GraphEpochs {
    let root = repo();
    let recipes = Recipes::load_dir(&root, &root.join("recipes")).expect("recipes");
    let graph = Graph::build_with(&recipes, profile, &cpbuild::registry(), &ends.published())
        .expect("graph");
    assert!(graph.pending.is_empty(), "fig3's sweep expands");
    let roots = graph
        .resolve_all(&["fig1", "fig2", "fig3", "fig4"].map(String::from))
        .expect("figures");
    GraphEpochs::count(&graph, &roots, ends).expect("countable runs")
}

#[test]
fn demand_driven_runs_train_fewer_epochs() {
    let ci = count("ci", CI);
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
    assert!(ci.demand() < ci.to_the_end());
    // ci: 22 sweep runs, 12 single-epoch runs of the four types, 12 windows.
    assert_eq!(ci.hba.runs, 1 + 22 + 12 + 12);
    // fig4's windows counted to window end + patience, the earliest the rule can end them: a
    // lower bound for the demand-driven count (see the module doc).
    assert_eq!((paper.demand(), paper.to_the_end()), (3_639, 17_991));
    // The CLIP-HBA part, which `cpbuild bench` projects: the baseline, 98 single-epoch sweep
    // runs, 28 single-epoch runs of the four types at fig2's 7 epochs (14 of them on pixels)
    // and 77 fig4 windows.
    assert_eq!(paper.hba.runs, 1 + 98 + 28 + 77);
    assert_eq!(paper.hba.demand, 3_511);
    assert_eq!(paper.hba.image_perturbed, 14);
    assert_eq!(paper.vit.demand, 128);
}
