//! One check, before any work starts, of every file the paper profile reads.
//!
//! Three kinds of file (see `data/README.md`):
//! - the behavioural files shipped with cpbuild (`data/things/…`, `data/clip/…`), checked
//!   against the sha256 sums that `data/README.md` lists ([`SHIPPED_FILES`] is the same list;
//!   a test keeps the two equal), because a silently edited target file changes every result;
//! - the THINGS images, the user's to supply: a flat folder (default `data/things/images/`)
//!   holding every `image_name` of the two SPoSE CSVs (1,806 training + 48 test concepts);
//! - the CLIP ViT-L/14 weights, the user's to supply: the `model.safetensors` file of the
//!   Hugging Face model `openai/clip-vit-large-patch14` (default `data/clip/model.safetensors`).
//!   Its sha256 is not pinned: cpbuild has no trusted copy to take it from. The check reads only
//!   the safetensors header length, which catches the usual wrong downloads (a git-lfs pointer,
//!   an HTML page, `pytorch_model.bin`) without hashing 1.7 GB on every build.
//!
//! Images are checked for presence only: decoding all 1,854 would take longer than the check
//! is worth, and the loader names a corrupt file when it meets one.
//!
//! Every problem is collected into one [`PaperFilesError`], each with where the file comes from,
//! so that a user setting up the paper learns everything to fix in one run.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use cpbuild_engine::util::hash;

use super::images::{THINGS_IMAGES_SOURCE, missing_images, write_missing_list};
use super::things::{ThingsError, read_spose_csv};

/// Default path of the CLIP weights, relative to the project root.
pub const DEFAULT_CLIP_WEIGHTS: &str = "data/clip/model.safetensors";

/// Default folder of the shipped files, relative to the project root.
pub const DEFAULT_DATA_DIR: &str = "data";

/// The SPoSE CSVs whose `image_name` columns list the images the paper needs, relative to the
/// data folder: training concepts, then the 48 test concepts.
pub const IMAGE_NAME_CSVS: [&str; 2] = [
    "things/spose_embedding66d_rescaled_1806train.csv",
    "things/spose_embedding66d_rescaled_48val.csv",
];

/// Where the CLIP weights come from.
pub const CLIP_WEIGHTS_SOURCE: &str = "the `model.safetensors` file of the Hugging Face model \
     `openai/clip-vit-large-patch14` (huggingface.co/openai/clip-vit-large-patch14); its sha256 \
     is not pinned by cpbuild";

/// Where the THINGS behavioural files come from.
const THINGS_DATA_SOURCE: &str = "THINGS behavioural data, Hebart et al. 2020, CC BY 4.0";

/// Where the CLIP tokenizer files come from.
const CLIP_TOKENIZER_SOURCE: &str = "OpenAI CLIP's tokenizer, MIT licence";

/// A file shipped in `data/`, with its pinned sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippedFile {
    /// Path relative to the data folder, `/`-separated.
    pub path: &'static str,
    /// Lower-case hex sha256, as listed in `data/README.md`.
    pub sha256: &'static str,
    /// Where the file comes from.
    pub source: &'static str,
}

/// A shipped THINGS behavioural file.
const fn things_file(path: &'static str, sha256: &'static str) -> ShippedFile {
    ShippedFile {
        path,
        sha256,
        source: THINGS_DATA_SOURCE,
    }
}

/// A shipped CLIP tokenizer file.
const fn clip_file(path: &'static str, sha256: &'static str) -> ShippedFile {
    ShippedFile {
        path,
        sha256,
        source: CLIP_TOKENIZER_SOURCE,
    }
}

/// Every shipped file the paper profile reads, in `data/README.md` order.
pub const SHIPPED_FILES: [ShippedFile; 11] = [
    things_file(
        "things/RDM48_triplet.mat",
        "c08e207821fdba8d85e2d1018d89ca9a79afd106cc7db20506a69678528f094b",
    ),
    things_file(
        "things/spose_dimensions66.txt",
        "c15f5f46e2fae7af958694bb994ef31344ab491cc127f2acda17138c0fce9e58",
    ),
    things_file(
        "things/spose_embedding66d_rescaled_1806train.csv",
        "13092e21538426c6a864e9142b16d62204dd39664b931778f2057a4b5638068b",
    ),
    things_file(
        "things/spose_embedding66d_rescaled_48val.csv",
        "f62e8d07657dccb7dfee3ba27c54549b910131f065d038d3bb44764da7390ddd",
    ),
    things_file(
        "things/spose_embedding66d_rescaled_48val_reordered.csv",
        "849bc805f8a9b67ab0a314940aeebc7670adaaff16742bd93948a6a5dbb6f68e",
    ),
    things_file(
        "things/things48_image_names.csv",
        "779f6352f28804e9fdd690e00c82bea1e1db75e1f9db3d17c3b358bd28f3eb3b",
    ),
    things_file(
        "things/triplet48_index.npy",
        "ef296bfcc1fc07d37d562d6c70599baeaed9f95c404ff3551dc68bd8122c6cb2",
    ),
    things_file(
        "things/words48.mat",
        "b6a0cc9058138293b5b0a39d503f41be965ea22572db60af19c0e930d66bf8a0",
    ),
    things_file(
        "things/words48.txt",
        "b2f5ba9d5e114d83d7853f529439d1a2a1b3f8a50a65e6de21e1529a394c2bea",
    ),
    clip_file(
        "clip/bpe_simple_vocab_16e6.txt.gz",
        "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a",
    ),
    clip_file(
        "clip/tokenizer_cases.json",
        "b65a6b3a5a8f492536700db79d7fe36cadf96f6d9b39fa3b19997e53b1b0bb11",
    ),
];

/// The paths of the paper profile's input files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperFiles {
    /// Folder of the shipped files (`data/`).
    pub data_dir: PathBuf,
    /// Folder of the THINGS images (`data/things/images/`).
    pub images_dir: PathBuf,
    /// The CLIP ViT-L/14 weights (`data/clip/model.safetensors`).
    pub clip_weights: PathBuf,
}

/// One thing wrong with the paper profile's files.
#[derive(Debug)]
pub enum PaperFileProblem {
    /// A shipped file is not there.
    ShippedMissing { path: PathBuf, file: ShippedFile },
    /// A shipped file exists but could not be read.
    ShippedUnreadable {
        path: PathBuf,
        file: ShippedFile,
        source: std::io::Error,
    },
    /// A shipped file's contents are not the pinned ones.
    ShippedMismatch {
        path: PathBuf,
        file: ShippedFile,
        actual: String,
    },
    /// The image names could not be read from a SPoSE CSV, so the images were not checked.
    ImageNames(ThingsError),
    /// The THINGS image folder is not there.
    ImagesFolderMissing { folder: PathBuf },
    /// Some THINGS images are not in the folder; `missing` holds all of them.
    ImagesMissing {
        folder: PathBuf,
        missing: Vec<String>,
        expected: usize,
    },
    /// The CLIP weights file is not there.
    WeightsMissing { path: PathBuf },
    /// The CLIP weights file is not a safetensors file.
    WeightsNotSafetensors { path: PathBuf, reason: String },
}

impl fmt::Display for PaperFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let restore = "restore it from the cpbuild repository (`git checkout -- data/`)";
        match self {
            Self::ShippedMissing { path, file } => write!(
                f,
                "`{}` is missing (expected sha256 {}); it is shipped with cpbuild ({}): {restore}",
                path.display(),
                file.sha256,
                file.source
            ),
            Self::ShippedUnreadable { path, file, source } => write!(
                f,
                "cannot read `{}`: {source}; it is shipped with cpbuild ({}): {restore}",
                path.display(),
                file.source
            ),
            Self::ShippedMismatch { path, file, actual } => write!(
                f,
                "`{}` has sha256 {actual}, expected {}; it is shipped with cpbuild ({}): \
                 {restore}",
                path.display(),
                file.sha256,
                file.source
            ),
            Self::ImageNames(error) => write!(
                f,
                "cannot list the THINGS images to expect, so they were not checked: {error}"
            ),
            Self::ImagesFolderMissing { folder } => write!(
                f,
                "the THINGS image folder `{}` does not exist; {THINGS_IMAGES_SOURCE}",
                folder.display()
            ),
            Self::ImagesMissing {
                folder,
                missing,
                expected,
            } => {
                writeln!(
                    f,
                    "{} of {expected} THINGS images are missing from `{}`:",
                    missing.len(),
                    folder.display()
                )?;
                write_missing_list(f, missing)?;
                write!(f, "  {THINGS_IMAGES_SOURCE}")
            }
            Self::WeightsMissing { path } => write!(
                f,
                "the CLIP weights file `{}` does not exist; it is {CLIP_WEIGHTS_SOURCE}",
                path.display()
            ),
            Self::WeightsNotSafetensors { path, reason } => write!(
                f,
                "the CLIP weights file `{}` is not a safetensors file ({reason}); it should be \
                 {CLIP_WEIGHTS_SOURCE}",
                path.display()
            ),
        }
    }
}

/// Everything wrong with the paper profile's files, found in one pass.
#[derive(Debug)]
pub struct PaperFilesError {
    /// The problems, in check order: shipped files, images, weights.
    pub problems: Vec<PaperFileProblem>,
}

impl fmt::Display for PaperFilesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "the paper profile's input files have {count} {noun}:")?;
        for problem in &self.problems {
            write!(f, "\n- {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PaperFilesError {}

impl PaperFiles {
    /// The default paths under the project root `root`.
    pub fn in_project(root: &Path) -> Self {
        Self {
            data_dir: root.join(DEFAULT_DATA_DIR),
            images_dir: root.join(super::images::DEFAULT_IMAGES_DIR),
            clip_weights: root.join(DEFAULT_CLIP_WEIGHTS),
        }
    }

    /// Checks every file and reports every problem at once.
    pub fn check(&self) -> Result<(), PaperFilesError> {
        let mut problems = self.check_shipped();
        problems.extend(self.check_images());
        problems.extend(self.check_weights());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PaperFilesError { problems })
        }
    }

    /// The image names the paper needs: the `image_name` column of the training CSV, then of
    /// the 48-concept test CSV.
    pub fn image_names(&self) -> Result<Vec<String>, ThingsError> {
        let mut names = Vec::new();
        for csv in IMAGE_NAME_CSVS {
            names.extend(read_spose_csv(self.data_dir.join(csv))?.image_name);
        }
        Ok(names)
    }

    fn check_shipped(&self) -> Vec<PaperFileProblem> {
        let mut problems = Vec::new();
        for file in SHIPPED_FILES {
            let path = self.data_dir.join(file.path);
            if !path.is_file() {
                problems.push(PaperFileProblem::ShippedMissing { path, file });
                continue;
            }
            match hash::file(&path) {
                Err(source) => {
                    problems.push(PaperFileProblem::ShippedUnreadable { path, file, source })
                }
                Ok((actual, _)) if actual != file.sha256 => {
                    problems.push(PaperFileProblem::ShippedMismatch { path, file, actual });
                }
                Ok(_) => {}
            }
        }
        problems
    }

    fn check_images(&self) -> Option<PaperFileProblem> {
        // The folder first: 1,854 "missing" names would hide the one real problem.
        if !self.images_dir.is_dir() {
            return Some(PaperFileProblem::ImagesFolderMissing {
                folder: self.images_dir.clone(),
            });
        }
        let names = match self.image_names() {
            Ok(names) => names,
            Err(error) => return Some(PaperFileProblem::ImageNames(error)),
        };
        let missing = missing_images(&self.images_dir, &names);
        if missing.is_empty() {
            None
        } else {
            Some(PaperFileProblem::ImagesMissing {
                folder: self.images_dir.clone(),
                missing,
                expected: names.len(),
            })
        }
    }

    fn check_weights(&self) -> Option<PaperFileProblem> {
        let path = &self.clip_weights;
        if !path.is_file() {
            return Some(PaperFileProblem::WeightsMissing { path: path.clone() });
        }
        safetensors_problem(path).map(|reason| PaperFileProblem::WeightsNotSafetensors {
            path: path.clone(),
            reason,
        })
    }
}

/// Why `path` is not a plausible safetensors file, if it is not: the format starts with a
/// little-endian `u64` header length, then that many bytes of JSON beginning with `{`.
fn safetensors_problem(path: &Path) -> Option<String> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) => return Some(format!("cannot read it: {error}")),
    };
    let length = match file.metadata() {
        Ok(metadata) => metadata.len(),
        Err(error) => return Some(format!("cannot read it: {error}")),
    };
    let mut start = [0u8; 9];
    if length < start.len() as u64 || file.read_exact(&mut start).is_err() {
        return Some(format!("it is only {length} bytes long"));
    }
    let header = u64::from_le_bytes(start[..8].try_into().expect("eight bytes"));
    if header == 0 || header > length - 8 || start[8] != b'{' {
        return Some(format!(
            "its first bytes are not a safetensors header; a git-lfs pointer, a web page or \
             `pytorch_model.bin` would look like this ({length} bytes)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// The checked-in `data/` folder.
    fn shipped_data_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
    }

    /// A copy of the shipped files in a temp dir, with `images` holding an empty file for each
    /// needed image and a minimal safetensors file as the weights.
    fn complete_setup() -> (tempfile::TempDir, PaperFiles) {
        let root = tempfile::tempdir().unwrap();
        let files = PaperFiles::in_project(root.path());
        for file in SHIPPED_FILES {
            let to = files.data_dir.join(file.path);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(shipped_data_dir().join(file.path), to).unwrap();
        }
        fs::create_dir_all(&files.images_dir).unwrap();
        for name in files.image_names().unwrap() {
            // Presence is all the check looks at.
            fs::write(files.images_dir.join(name), b"").unwrap();
        }
        let header = br#"{"__metadata__":{}}"#;
        let mut weights = (header.len() as u64).to_le_bytes().to_vec();
        weights.extend_from_slice(header);
        fs::write(&files.clip_weights, weights).unwrap();
        (root, files)
    }

    #[test]
    fn the_pinned_sums_are_those_of_data_readme() {
        let readme = fs::read_to_string(shipped_data_dir().join("README.md")).unwrap();
        let listed: Vec<(String, String)> = readme
            .lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter_map(|line| line.split_once("  "))
            .filter(|(sum, _)| sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|(sum, path)| (path.to_string(), sum.to_string()))
            .collect();
        let pinned: Vec<(String, String)> = SHIPPED_FILES
            .iter()
            .map(|file| (file.path.to_string(), file.sha256.to_string()))
            .collect();
        assert_eq!(pinned, listed);
    }

    #[test]
    fn the_shipped_files_match_their_sums() {
        let files = PaperFiles {
            data_dir: shipped_data_dir(),
            images_dir: PathBuf::new(),
            clip_weights: PathBuf::new(),
        };
        let problems: Vec<String> = files
            .check_shipped()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert!(problems.is_empty(), "{problems:#?}");
        // 1,806 training concepts and 48 test concepts, all with distinct names.
        let names = files.image_names().unwrap();
        assert_eq!(names.len(), 1854);
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), 1854);
        assert!(names.iter().any(|name| name == "dice_01s.jpg"));
    }

    #[test]
    fn a_complete_setup_passes() {
        let (_root, files) = complete_setup();
        files.check().unwrap();
    }

    #[test]
    fn every_problem_is_reported_in_one_error() {
        let (_root, files) = complete_setup();
        let mismatched = files.data_dir.join("things/words48.txt");
        fs::write(&mismatched, "edited\n").unwrap();
        let removed = files.data_dir.join("clip/tokenizer_cases.json");
        fs::remove_file(&removed).unwrap();
        fs::remove_file(files.images_dir.join("dice_01s.jpg")).unwrap();
        fs::remove_file(files.images_dir.join("aardvark_01b.jpg")).unwrap();
        fs::remove_file(&files.clip_weights).unwrap();

        let error = files.check().unwrap_err();
        assert_eq!(error.problems.len(), 4);
        let message = error.to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines[0], "the paper profile's input files have 4 problems:");
        assert_eq!(
            lines[1],
            format!(
                "- `{}` has sha256 {}, expected \
                 b2f5ba9d5e114d83d7853f529439d1a2a1b3f8a50a65e6de21e1529a394c2bea; it is shipped \
                 with cpbuild (THINGS behavioural data, Hebart et al. 2020, CC BY 4.0): restore \
                 it from the cpbuild repository (`git checkout -- data/`)",
                mismatched.display(),
                hash::bytes(b"edited\n")
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "- `{}` is missing (expected sha256 \
                 b65a6b3a5a8f492536700db79d7fe36cadf96f6d9b39fa3b19997e53b1b0bb11); it is \
                 shipped with cpbuild (OpenAI CLIP's tokenizer, MIT licence): restore it from \
                 the cpbuild repository (`git checkout -- data/`)",
                removed.display()
            )
        );
        assert_eq!(
            lines[3],
            format!(
                "- 2 of 1854 THINGS images are missing from `{}`:",
                files.images_dir.display()
            )
        );
        // Training CSV order first, then the test CSV.
        assert_eq!(lines[4], "    `aardvark_01b.jpg`");
        assert_eq!(lines[5], "    `dice_01s.jpg`");
        assert!(lines[6].contains("osf.io/jum2f"), "{}", lines[6]);
        assert_eq!(
            lines[7],
            format!(
                "- the CLIP weights file `{}` does not exist; it is the `model.safetensors` \
                 file of the Hugging Face model `openai/clip-vit-large-patch14` \
                 (huggingface.co/openai/clip-vit-large-patch14); its sha256 is not pinned by \
                 cpbuild",
                files.clip_weights.display()
            )
        );
        assert_eq!(lines.len(), 8);
    }

    #[test]
    fn a_missing_image_folder_is_one_problem() {
        let (_root, files) = complete_setup();
        fs::remove_dir_all(&files.images_dir).unwrap();
        let error = files.check().unwrap_err();
        assert_eq!(error.problems.len(), 1);
        assert_eq!(
            error.to_string(),
            format!(
                "the paper profile's input files have 1 problem:\n- the THINGS image folder `{}` \
                 does not exist; {THINGS_IMAGES_SOURCE}",
                files.images_dir.display()
            )
        );
    }

    #[test]
    fn a_broken_csv_is_reported_instead_of_the_images() {
        let (_root, files) = complete_setup();
        fs::write(files.data_dir.join(IMAGE_NAME_CSVS[1]), "not,a,spose,csv\n").unwrap();
        let error = files.check().unwrap_err();
        let messages: Vec<String> = error.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].contains("spose_embedding66d_rescaled_48val.csv` has sha256"));
        assert!(
            messages[1].starts_with(
                "cannot list the THINGS images to expect, so they were not checked: `"
            ),
            "{}",
            messages[1]
        );
    }

    #[test]
    fn weights_that_are_not_safetensors_are_named() {
        let (_root, files) = complete_setup();
        // What a clone without git-lfs leaves behind.
        let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:0000\nsize 1\n";
        fs::write(&files.clip_weights, pointer).unwrap();
        let error = files.check().unwrap_err();
        assert_eq!(error.problems.len(), 1);
        let message = error.problems[0].to_string();
        assert!(
            message.starts_with(&format!(
                "the CLIP weights file `{}` is not a safetensors file (its first bytes are not \
                 a safetensors header;",
                files.clip_weights.display()
            )),
            "{message}"
        );
        assert!(message.contains("`openai/clip-vit-large-patch14`"));

        fs::write(&files.clip_weights, b"{}").unwrap();
        let message = files.check().unwrap_err().problems[0].to_string();
        assert!(message.contains("(it is only 2 bytes long)"), "{message}");
    }
}
