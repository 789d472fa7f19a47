//! `check-paper-files` through the binary, on the repository's own `recipes/paper.toml` and
//! `data/`: a user bringing the paper's files learns everything that is missing or wrong at
//! once, each with where it comes from, and nothing trains on a wrong file.

use std::path::Path;

use super::cpbuild;

/// A project with the repository's recipes and shipped `data/` files (nothing of the user's).
fn paper_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["recipes", "data/things", "data/clip"] {
        std::fs::create_dir_all(dir.path().join(folder)).expect("a folder");
        for entry in std::fs::read_dir(repo.join(folder)).expect("a repository folder") {
            let path = entry.expect("an entry").path();
            if path.is_file() {
                let name = path.file_name().expect("a name");
                std::fs::copy(&path, dir.path().join(folder).join(name)).expect("a copy");
            }
        }
    }
    dir
}

/// Every `image_name` of the two SPoSE files the paper reads.
fn image_names(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for csv in [
        "data/things/spose_embedding66d_rescaled_1806train.csv",
        "data/things/spose_embedding66d_rescaled_48val.csv",
    ] {
        let text = std::fs::read_to_string(root.join(csv)).expect("a SPoSE file");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
        let column = header
            .iter()
            .position(|name| *name == "image_name")
            .expect("an image_name column");
        names.extend(lines.map(|line| line.split(',').nth(column).expect("a cell").to_string()));
    }
    names
}

/// A plausible safetensors file: an 8-byte header length, then the JSON header.
fn safetensors() -> Vec<u8> {
    let header = br#"{"__metadata__":{}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes
}

#[test]
fn every_missing_or_wrong_paper_file_is_reported_at_once() {
    let dir = paper_project();
    let root = dir.path();

    // Nothing of the user's: both are named before anything runs, with where they come from.
    let (code, _, stderr) = cpbuild(root, &["--profile", "paper", "clip_weights"]);
    assert_eq!(code, 2, "{stderr}");
    for part in [
        "inputs are missing or wrong; fix all of them before building",
        "input `data/things/images` of target `paper_files` does not exist",
        "the THINGS images come from the THINGS database",
        "input `data/clip/model.safetensors` of target `paper_files` does not exist",
        "huggingface.co/openai/clip-vit-large-patch14",
        "(1 other target reads it too)",
    ] {
        assert!(stderr.contains(part), "stderr must say {part:?}:\n{stderr}");
    }

    // Present but wrong: a git-lfs pointer for the weights, an edited shipped file and two
    // missing photographs, all reported by one run.
    let names = image_names(root);
    std::fs::create_dir_all(root.join("data/things/images")).expect("images");
    for name in &names[2..] {
        std::fs::write(root.join("data/things/images").join(name), b"jpeg").expect("an image");
    }
    std::fs::write(
        root.join("data/clip/model.safetensors"),
        "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1710\n",
    )
    .expect("a pointer");
    let mat = root.join("data/things/RDM48_triplet.mat");
    let mut bytes = std::fs::read(&mat).expect("the RDM");
    bytes[200] ^= 1;
    std::fs::write(&mat, bytes).expect("an edited RDM");
    let (code, _, stderr) = cpbuild(root, &["--profile", "paper", "clip_weights"]);
    assert_eq!(code, 1, "{stderr}");
    for part in [
        "FAILED paper_files",
        "RDM48_triplet.mat",
        "c08e207821fdba8d85e2d1018d89ca9a79afd106cc7db20506a69678528f094b",
        &names[0],
        &names[1],
        "not a safetensors header",
    ] {
        assert!(stderr.contains(part), "stderr must say {part:?}:\n{stderr}");
    }
    assert!(
        !root.join("artifacts/logs/clip_weights.log").exists(),
        "nothing may run on wrong files:\n{stderr}"
    );

    // Fixed: the check passes and the weights target is built on it.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/things/RDM48_triplet.mat"),
        &mat,
    )
    .expect("the RDM restored");
    for name in &names[..2] {
        std::fs::write(root.join("data/things/images").join(name), b"jpeg").expect("an image");
    }
    std::fs::write(root.join("data/clip/model.safetensors"), safetensors()).expect("weights");
    let (code, _, stderr) = cpbuild(root, &["--profile", "paper", "clip_weights"]);
    assert_eq!(code, 0, "{stderr}");
    let checked = std::fs::read_to_string(root.join("artifacts/logs/paper_files.log"))
        .expect("the check's log");
    assert!(
        checked.contains("11 shipped files match their sha256")
            && checked.contains(&format!("{} photographs", names.len())),
        "{checked}"
    );
}
