//! `train-vit` on an ImageNet-layout folder (the paper profile's data path) through the real
//! binary: a tiny generated folder of JPEGs (`train/<class>/*.JPEG`, `val/<class>/*.JPEG`) and
//! the 48 RSA images as THINGS photographs, trained with `vit-tiny` for two epochs, then the
//! user's mistakes one at a time, each named precisely and none losing what is already built.

use std::path::Path;

use image::{ImageFormat, Rgb, RgbImage};

use super::{
    DATA, assert_nothing_to_do, assert_perturbed_epoch_2, build_collect, cpbuild, project, read,
};

/// The classes of the generated folder.
const CLASSES: [&str; 3] = ["n01440764", "n01443537", "n01484850"];

/// A baseline on the folder, an `image_noise` run continuing it at epoch 2, a shell target that
/// collects both, and an unrelated target whose bundle every failure must leave alone.
const RECIPE: &str = r#"
[target.other]
kind = "shell"
command = "echo kept > other.txt"
outputs = ["other.txt"]

[target.vit]
kind = "train-vit"
inputs = INPUTS
params = { model = "vit-tiny", data = { world = "imagenet", root = "data/imagenet", things_image_dir = "data/things/images" }, seed = 3, epochs = 2, warmup_epochs = 1, batch_size = 4, learning_rate = 0.05 }

[target.vit_noise_e2]
kind = "train-vit"
deps = ["vit"]
inputs = INPUTS
params = { model = "vit-tiny", data = { world = "imagenet", root = "data/imagenet", things_image_dir = "data/things/images" }, seed = 3, epochs = 2, warmup_epochs = 1, batch_size = 4, learning_rate = 0.05, perturbation = { kind = "image_noise", start = 2, length = 1, seed = 5 }, resume_from = "vit" }

[target.collect]
kind = "shell"
deps = ["vit", "vit_noise_e2"]
command = "cp $CPBUILD_DEP_VIT/results.csv baseline.csv; cp $CPBUILD_DEP_VIT_NOISE_E2/results.csv perturbed.csv; cp $CPBUILD_DEP_VIT/classes.json classes.json; cp $CPBUILD_DEP_VIT/config.json config.json; ls $CPBUILD_DEP_VIT/epochs > epochs.txt"
outputs = ["baseline.csv", "perturbed.csv", "classes.json", "config.json", "epochs.txt"]
"#;

/// Writes a small JPEG whose colour and stripes depend on `class` and `index`, so that the
/// classes differ and no two images are the same.
fn jpeg(path: &Path, class: usize, index: usize) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("an image folder");
    let (class, index) = (class as u32 % 3, index as u32);
    let base = [60 + 80 * class, 200 - 60 * class, (30 * index) % 256].map(|v| v as u8);
    let image = RgbImage::from_fn(40, 30, |x, y| {
        let stripe = ((x + y * class) / 5).is_multiple_of(2);
        Rgb(if stripe {
            base
        } else {
            [base[2], base[0], base[1]]
        })
    });
    image
        .save_with_format(path, ImageFormat::Jpeg)
        .expect("a jpeg");
}

/// A project with the repository's data files, a generated ImageNet folder (4 training and 2
/// validation images per class), the 48 RSA images under `data/things/images/`, and [`RECIPE`].
fn imagenet_project() -> tempfile::TempDir {
    let dir = project();
    let root = dir.path();
    for (class, name) in CLASSES.iter().enumerate() {
        for index in 0..4 {
            let file = format!("data/imagenet/train/{name}/{name}_{index}.JPEG");
            jpeg(&root.join(file), class, index);
        }
        for index in 0..2 {
            let file = format!("data/imagenet/val/{name}/ILSVRC2012_val_{class}{index}.JPEG");
            jpeg(&root.join(file), class, index + 4);
        }
    }
    for (row, name) in rsa_image_names(root).iter().enumerate() {
        jpeg(&root.join("data/things/images").join(name), row % 3, row);
    }
    let mut inputs: Vec<&str> = DATA.to_vec();
    inputs.extend(["data/imagenet", "data/things/images"]);
    let recipe = RECIPE.replace("INPUTS", &format!("{inputs:?}"));
    std::fs::write(root.join("recipes/main.toml"), recipe).expect("recipe");
    dir
}

/// The `image_name` column of the RSA csv: the 48 THINGS photographs the ViT is probed on.
fn rsa_image_names(root: &Path) -> Vec<String> {
    let csv = read(
        root,
        "data/things/spose_embedding66d_rescaled_48val_reordered.csv",
    );
    let names: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(1).expect("an image_name").to_string())
        .collect();
    assert_eq!(names.len(), 48);
    names
}

#[test]
fn train_vit_on_an_imagenet_folder_then_nothing_to_do() {
    let dir = imagenet_project();
    let root = dir.path();
    build_collect(root);

    let baseline = read(root, "baseline.csv");
    let lines: Vec<&str> = baseline.lines().collect();
    assert_eq!(lines[0], "epoch,val_loss,rsa_score");
    assert_eq!(lines.len(), 3, "{baseline}");
    for (epoch, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], (epoch + 1).to_string(), "{baseline}");
        let val_loss: f64 = cells[1].parse().expect("a val_loss");
        let rsa: f64 = cells[2].parse().expect("an rsa_score");
        assert!(val_loss.is_finite() && val_loss > 0.0, "{baseline}");
        assert!((-1.0..=1.0).contains(&rsa), "{baseline}");
    }
    assert_perturbed_epoch_2(
        root,
        &lines,
        "epoch,val_loss,rsa_score",
        ",False,False,False,True",
        1,
    );

    let epochs = read(root, "epochs.txt");
    for state in ["e0000", "e0001", "e0002"] {
        assert!(epochs.contains(state), "{epochs}");
    }
    assert!(!epochs.contains("e0003"), "two epochs only: {epochs}");
    let classes: serde_json::Value =
        serde_json::from_str(&read(root, "classes.json")).expect("json");
    assert_eq!(classes["labelling"], "imagenet folder");
    assert_eq!(classes["classes"], serde_json::json!(CLASSES));
    let config: serde_json::Value = serde_json::from_str(&read(root, "config.json")).expect("json");
    assert_eq!(config["run"]["model"], "vit-tiny");
    assert_eq!(config["run"]["data"]["world"], "imagenet");
    assert_eq!(config["run"]["classes"], 3);

    assert_nothing_to_do(root, &["collect"], "a complete build");
    let (code, shown, _) = cpbuild(root, &["show", "vit"]);
    assert_eq!(code, 0);
    assert!(shown.contains("\"epochs_trained\": 2"), "{shown}");
    assert!(shown.contains("\"classes\": 3"), "{shown}");
}

/// A mistake in the user's folder: what to do to the project, what cpbuild must say (exit code
/// and parts of stderr), and how to undo it.
struct Mistake {
    what: &'static str,
    make: fn(&Path),
    code: i32,
    says: &'static [&'static str],
    undo: fn(&Path),
}

const MISTAKES: [Mistake; 5] = [
    Mistake {
        what: "a class folder without images",
        make: |root| {
            let folder = root.join("data/imagenet/train/n09999999");
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join("README.txt"), "images to come").unwrap();
        },
        code: 1,
        says: &[
            "FAILED vit:",
            "train class folder `",
            "data/imagenet/train/n09999999` holds no images (`.jpeg`, `.jpg` or `.png` files)",
            "add its images, or remove the folder",
        ],
        undo: |root| std::fs::remove_dir_all(root.join("data/imagenet/train/n09999999")).unwrap(),
    },
    Mistake {
        what: "a corrupt training JPEG",
        make: |root| {
            let path = root.join("data/imagenet/train/n01443537/n01443537_2.JPEG");
            std::fs::rename(&path, path.with_extension("good")).unwrap();
            std::fs::write(&path, b"\xff\xd8\xff\xe0 truncated by a failed download").unwrap();
        },
        code: 1,
        says: &[
            "FAILED vit:",
            "cannot decode image `",
            "data/imagenet/train/n01443537/n01443537_2.JPEG` (is it corrupt or not an image?)",
            "extract this train image again from the ImageNet archive, or remove it",
        ],
        undo: |root| {
            let path = root.join("data/imagenet/train/n01443537/n01443537_2.JPEG");
            std::fs::rename(path.with_extension("good"), &path).unwrap();
        },
    },
    Mistake {
        what: "a validation class that training does not have",
        make: |root| jpeg(&root.join("data/imagenet/val/n02000000/v.JPEG"), 1, 9),
        code: 1,
        says: &[
            "FAILED vit:",
            "data/imagenet` has 1 class(es) in `val/` that are not in `train/`, so they have no \
             label: `n02000000`",
            "give `val/` the same names, or remove these folders",
        ],
        undo: |root| std::fs::remove_dir_all(root.join("data/imagenet/val/n02000000")).unwrap(),
    },
    Mistake {
        what: "a missing RSA photograph",
        make: |root| {
            let path = root.join("data/things/images/pizza_01b.jpg");
            std::fs::rename(&path, root.join("pizza_01b.jpg.moved")).unwrap();
        },
        code: 1,
        says: &[
            "FAILED vit:",
            "1 of 48 images are missing from `",
            "`pizza_01b.jpg`",
            "osf.io/jum2f",
        ],
        undo: |root| {
            let path = root.join("data/things/images/pizza_01b.jpg");
            std::fs::rename(root.join("pizza_01b.jpg.moved"), path).unwrap();
        },
    },
    Mistake {
        what: "no imagenet folder at all",
        make: |root| {
            std::fs::rename(root.join("data/imagenet"), root.join("imagenet.moved")).unwrap()
        },
        // Declared inputs are checked before anything runs: a recipe error, naming the file,
        // line and column of the input and the target.
        code: 2,
        says: &[
            "recipes/main.toml:",
            "input `data/imagenet` of target `vit` does not exist",
            "fix the path (relative to the project root), or remove the input",
        ],
        undo: |root| {
            std::fs::rename(root.join("imagenet.moved"), root.join("data/imagenet")).unwrap()
        },
    },
];

#[test]
fn imagenet_mistakes_are_named_and_lose_nothing_built() {
    let dir = imagenet_project();
    let root = dir.path();
    let (code, stdout, stderr) = cpbuild(root, &["--json", "other", "vit"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for mistake in &MISTAKES {
        (mistake.make)(root);
        let (code, _, stderr) = cpbuild(root, &["vit", "other"]);
        assert_eq!(code, mistake.code, "{}:\n{stderr}", mistake.what);
        for part in mistake.says {
            assert!(
                stderr.contains(part),
                "{}: stderr must say {part:?}:\n{stderr}",
                mistake.what
            );
        }
        assert!(
            !stderr.contains("panicked") && !stderr.contains("\n;"),
            "{}: no panic, and no line break inside a sentence:\n{stderr}",
            mistake.what
        );
        (mistake.undo)(root);
        // The failure kept the earlier `vit` bundle (its key is back) and `other`'s.
        assert_nothing_to_do(root, &["vit", "other"], mistake.what);
    }
}

/// An absent imagenet folder (refused before anything runs) and an empty one (refused by the
/// run) both say where ImageNet comes from and where to put it.
#[test]
fn a_missing_or_empty_imagenet_folder_says_where_imagenet_comes_from() {
    let dir = imagenet_project();
    let root = dir.path();
    let (code, _, stderr) = cpbuild(root, &["other"]);
    assert_eq!(code, 0, "{stderr}");
    std::fs::rename(root.join("data/imagenet"), root.join("imagenet.moved")).unwrap();

    let (code, _, stderr) = cpbuild(root, &["vit", "other"]);
    assert_eq!(code, 2, "{stderr}");
    for part in [
        "input `data/imagenet` of target `vit` does not exist",
        "help: ImageNet-1k is the user's to supply (ILSVRC2012, from image-net.org)",
        "`<root>/train/<class>/*.JPEG`",
        "the `vit_data` profile variable",
    ] {
        assert!(stderr.contains(part), "stderr must say {part:?}:\n{stderr}");
    }
    assert_nothing_to_do(root, &["other"], "an absent imagenet folder");

    // Created but not filled: no files, so nothing is hidden from the key; the run says what
    // is missing.
    std::fs::create_dir_all(root.join("data/imagenet")).unwrap();
    let (code, _, stderr) = cpbuild(root, &["vit", "other"]);
    assert_eq!(code, 1, "{stderr}");
    for part in [
        "FAILED vit: the imagenet folder `",
        "data/imagenet` has no `train/` folder; ImageNet-1k is the user's to supply",
    ] {
        assert!(stderr.contains(part), "stderr must say {part:?}:\n{stderr}");
    }
    assert_nothing_to_do(root, &["other"], "an empty imagenet folder");
}
