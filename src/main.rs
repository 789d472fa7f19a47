//! The `cpbuild` binary: a thin shell around [`cpbuild::cli`].

fn main() {
    std::process::exit(cpbuild::cli::main());
}
