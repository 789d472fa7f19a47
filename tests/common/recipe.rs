//! Recipe text that many tests and benchmarks write: profile headers, grid targets, the
//! 10,000-target grid, figure targets and tiny training targets. Built here once, so a test's recipe shows only
//! what the test is about, and a change to the recipe format is made in one place.

/// `[profile.<name>]` blocks in order, each followed by its `variable = value` lines.
pub fn profiles(blocks: &[(&str, &[&str])]) -> String {
    blocks
        .iter()
        .map(|(name, lines)| {
            let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
            format!("[profile.{name}]\n{body}")
        })
        .collect()
}

/// The head of a grid: `[target.<table>]` expanding to targets named `name` over `foreach`.
/// The caller appends the rest of the table (kind, command, …).
pub fn grid(table: &str, name: &str, foreach: &str) -> String {
    format!("[target.{table}]\nname = \"{name}\"\nforeach = {foreach}\n")
}

/// A 10,000-target grid: 100 × 100 shell targets `cell_<row>_<column>` with no command output.
pub fn ten_thousand_targets() -> String {
    let grid = grid(
        "grid",
        "cell_{row}_{column}",
        "{ row = { from = 1, to = 100 }, column = { from = 1, to = 100 } }",
    );
    format!(
        "\n{grid}kind = \"shell\"\nparams = {{ row = \"{{row}}\", column = \"{{column}}\" }}\n\
         command = \"true\"\n"
    )
}

/// A `figure` target `[target.<table>]` reading `inputs` with `params` (the inside of the
/// inline table).
pub fn figure(table: &str, inputs: &[&str], params: &str) -> String {
    format!("[target.{table}]\nkind = \"figure\"\ninputs = {inputs:?}\nparams = {{ {params} }}\n")
}

/// A training target `[target.<table>]` of `kind`, depending on `deps`, reading the training
/// data (`INPUTS`, which the test replaces by the files it copied) with `params` (the inside of
/// the inline table).
pub fn training(table: &str, kind: &str, deps: &[&str], params: &str) -> String {
    let deps = if deps.is_empty() {
        String::new()
    } else {
        format!("deps = {deps:?}\n")
    };
    format!("[target.{table}]\nkind = \"{kind}\"\n{deps}inputs = INPUTS\nparams = {{ {params} }}\n")
}

/// The params every tiny CLIP-HBA run shares: the tiny model from random weights on 24
/// synthetic pool images. A run adds its seed, epochs and sizes.
pub const TINY_HBA: &str = r#"model = "clip-tiny", data = { world = "things-synth", train_pool_size = 24 }, weights = "random""#;

/// A tiny CLIP-HBA run (`train-hba`): [`TINY_HBA`] followed by `params`.
pub fn tiny_hba(table: &str, deps: &[&str], params: &str) -> String {
    training(table, "train-hba", deps, &format!("{TINY_HBA}, {params}"))
}

/// The params every tiny ViT run shares: the tiny ViT on 160 synthetic concepts.
pub const TINY_VIT: &str = r#"model = "vit-tiny", data = { world = "things-synth", train_pool_size = 160, min_class_size = 6, val_size = 24 }"#;

/// A tiny ViT run (`train-vit`): [`TINY_VIT`] followed by `params`.
pub fn tiny_vit(table: &str, deps: &[&str], params: &str) -> String {
    training(table, "train-vit", deps, &format!("{TINY_VIT}, {params}"))
}
