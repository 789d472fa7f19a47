//! An ImageNet-style image folder for the ViT baseline of the paper profile.
//!
//! The user supplies a folder with two splits, each one subfolder per class:
//!
//! ```text
//! <root>/train/<class>/*.JPEG
//! <root>/val/<class>/*.JPEG
//! ```
//!
//! As torchvision's `ImageFolder` does: the classes are the sorted directory names of `train/`
//! and a label is a class's index among them; files are sorted by name within each class; an
//! image file is one whose extension is `jpg`, `jpeg` or `png` in any case (other files, and
//! anything in nested folders, are ignored). Unlike `ImageFolder`, `val/` is labelled with the
//! classes of `train/` (so a class missing from `val/` is fine, but a class that appears only in
//! `val/` is an error), and an empty class is an error rather than a silently unlearnable label.
//!
//! Sorting is by the names' bytes, which for UTF-8 names is Python's code-point order, so labels
//! and sample order match torchvision's on the same folder.
//!
//! Listing reads directory entries only; pixels are decoded on demand by
//! [`ImageNetSplit::load`], with the preprocessing of [`crate::data::images`] (Pillow-style
//! bilinear resize to a square, no crop, then `(x / 255 - mean) / std`). The paper normalises the
//! ViT's inputs with the THINGS statistics ([`Normalisation::THINGS`]), which is the default
//! here; torchvision's ImageNet statistics ([`Normalisation::IMAGENET`]) differ, and either can be
//! chosen with [`ImageNetFolder::with_normalisation`].

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::images::{ImagesError, Normalisation, Preprocessing, load_image};

/// Where ImageNet comes from, how the folder must look and how to point a run at it, for
/// errors about the folder (the data module's counterpart of the THINGS images' source line).
pub const IMAGENET_SOURCE: &str = "ImageNet-1k is the user's to supply (ILSVRC2012, from \
     image-net.org): extract it as `<root>/train/<class>/*.JPEG` and `<root>/val/<class>/*.JPEG`, \
     one folder per class in each split (the validation images sorted into the same class \
     folders), at `data/imagenet/` or wherever the `root` of the run's `data` param points (the \
     `vit_data` profile variable in recipes/paper.toml)";

/// One split of the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// `train/`
    Train,
    /// `val/`
    Val,
}

impl Split {
    /// The split's folder name.
    pub fn folder_name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
        }
    }
}

/// Why an ImageNet folder could not be listed or an image loaded.
#[derive(Debug)]
pub enum ImageNetError {
    /// The root does not exist or is not a folder.
    MissingRoot { root: PathBuf },
    /// `train/` or `val/` is not a folder under the root.
    MissingSplit { root: PathBuf, split: Split },
    /// A folder could not be listed.
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file or folder name is not UTF-8, so it cannot be sorted as torchvision sorts it.
    NotUtf8 { path: PathBuf },
    /// A split has no class folders.
    NoClasses { root: PathBuf, split: Split },
    /// A class folder holds no image files.
    EmptyClass { path: PathBuf, split: Split },
    /// Classes of `val/` that `train/` does not have, so they have no label.
    UnknownValClasses { root: PathBuf, classes: Vec<String> },
    /// An image of `split` could not be read or decoded.
    Image { split: Split, error: ImagesError },
}

impl fmt::Display for ImageNetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingRoot { root } => write!(
                f,
                "the imagenet folder `{}` does not exist; {IMAGENET_SOURCE}",
                root.display()
            ),
            Self::MissingSplit { root, split } => write!(
                f,
                "the imagenet folder `{}` has no `{}/` folder; {IMAGENET_SOURCE}",
                root.display(),
                split.folder_name()
            ),
            Self::ReadDir { path, source } => {
                write!(f, "cannot list folder `{}`: {source}", path.display())
            }
            Self::NotUtf8 { path } => write!(
                f,
                "`{}` has a name that is not utf-8; rename it so that classes and files sort \
                 the same everywhere",
                path.display()
            ),
            Self::NoClasses { root, split } => write!(
                f,
                "the imagenet folder `{}` has no class folders in `{}/`; {IMAGENET_SOURCE}",
                root.display(),
                split.folder_name()
            ),
            Self::EmptyClass { path, split } => write!(
                f,
                "{} class folder `{}` holds no images (`.jpeg`, `.jpg` or `.png` files); {}",
                split.folder_name(),
                path.display(),
                match split {
                    Split::Train => {
                        "every folder of `train/` is a class the model must learn: add its \
                         images, or remove the folder to drop the class"
                    }
                    Split::Val => "add its validation images, or remove the folder",
                }
            ),
            Self::UnknownValClasses { root, classes } => {
                let listed: Vec<String> = classes
                    .iter()
                    .take(20)
                    .map(|class| format!("`{class}`"))
                    .collect();
                let more = if classes.len() > 20 {
                    format!(" and {} more", classes.len() - 20)
                } else {
                    String::new()
                };
                write!(
                    f,
                    "the imagenet folder `{}` has {} class(es) in `val/` that are not in \
                     `train/`, so they have no label: {}{more}; the classes are the folder \
                     names of `train/`: give `val/` the same names, or remove these folders",
                    root.display(),
                    classes.len(),
                    listed.join(", ")
                )
            }
            Self::Image {
                split,
                error: error @ (ImagesError::Decode { .. } | ImagesError::Read { .. }),
            } => write!(
                f,
                "{error}; extract this {} image again from the ImageNet archive, or remove it",
                split.folder_name()
            ),
            Self::Image { error, .. } => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ImageNetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ReadDir { source, .. } => Some(source),
            Self::Image { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A listed ImageNet folder: the classes and both splits.
#[derive(Debug, Clone)]
pub struct ImageNetFolder {
    /// The root holding `train/` and `val/`.
    pub root: PathBuf,
    /// Class names (the folder names of `train/`), sorted; a label indexes this list.
    pub classes: Vec<String>,
    /// The training samples.
    pub train: ImageNetSplit,
    /// The validation samples, labelled with the training classes.
    pub val: ImageNetSplit,
}

/// The samples of one split: image paths with their labels, sorted by class then file name.
/// Nothing is decoded until [`ImageNetSplit::load`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImageNetSplit {
    /// Which split this is.
    pub split: Split,
    /// `(path, label)` of every image.
    pub samples: Vec<(PathBuf, usize)>,
    /// Normalisation applied by [`ImageNetSplit::load`].
    pub normalisation: Normalisation,
}

impl ImageNetFolder {
    /// Lists `root/train` and `root/val`. Normalisation defaults to the THINGS statistics, as in
    /// the paper.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ImageNetError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(ImageNetError::MissingRoot { root });
        }
        let train_classes = list_classes(&root, Split::Train)?;
        let val_classes = list_classes(&root, Split::Val)?;
        let known: BTreeSet<&String> = train_classes.iter().collect();
        let unknown: Vec<String> = val_classes
            .iter()
            .filter(|class| !known.contains(class))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(ImageNetError::UnknownValClasses {
                root,
                classes: unknown,
            });
        }
        let train = list_split(&root, Split::Train, &train_classes, &train_classes)?;
        let val = list_split(&root, Split::Val, &val_classes, &train_classes)?;
        Ok(Self {
            root,
            classes: train_classes,
            train,
            val,
        })
    }

    /// Uses `normalisation` for both splits instead of the THINGS statistics.
    pub fn with_normalisation(mut self, normalisation: Normalisation) -> Self {
        self.train.normalisation = normalisation;
        self.val.normalisation = normalisation;
        self
    }

    /// Number of classes, and so of the classifier's outputs.
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }
}

impl ImageNetSplit {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no images (never true for a listed split).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Label of sample `index`.
    pub fn label(&self, index: usize) -> usize {
        self.samples[index].1
    }

    /// Sample `index` as `[3, resolution, resolution]` normalised pixels.
    pub fn load(&self, index: usize, resolution: u32) -> Result<Vec<f32>, ImageNetError> {
        let preprocessing = Preprocessing {
            resolution,
            normalisation: self.normalisation,
        };
        load_image(&self.samples[index].0, &preprocessing).map_err(|error| ImageNetError::Image {
            split: self.split,
            error,
        })
    }
}

/// The UTF-8 name of a directory entry.
fn entry_name(path: &Path) -> Result<String, ImageNetError> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_string)
        .ok_or_else(|| ImageNetError::NotUtf8 {
            path: path.to_path_buf(),
        })
}

/// Every entry of `folder`, as full paths.
fn read_dir(folder: &Path) -> Result<Vec<PathBuf>, ImageNetError> {
    let read_error = |source| ImageNetError::ReadDir {
        path: folder.to_path_buf(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(folder).map_err(read_error)? {
        paths.push(entry.map_err(read_error)?.path());
    }
    Ok(paths)
}

/// The sorted class folder names of one split.
fn list_classes(root: &Path, split: Split) -> Result<Vec<String>, ImageNetError> {
    let folder = root.join(split.folder_name());
    if !folder.is_dir() {
        return Err(ImageNetError::MissingSplit {
            root: root.to_path_buf(),
            split,
        });
    }
    let mut classes = Vec::new();
    for path in read_dir(&folder)? {
        if path.is_dir() {
            classes.push(entry_name(&path)?);
        }
    }
    if classes.is_empty() {
        return Err(ImageNetError::NoClasses {
            root: root.to_path_buf(),
            split,
        });
    }
    classes.sort();
    Ok(classes)
}

/// Whether `name` has an extension the loader decodes.
fn is_image_name(name: &str) -> bool {
    let Some((_, extension)) = name.rsplit_once('.') else {
        return false;
    };
    ["jpeg", "jpg", "png"]
        .iter()
        .any(|known| extension.eq_ignore_ascii_case(known))
}

/// The samples of `classes` (a sorted subset of `labels`) in one split.
fn list_split(
    root: &Path,
    split: Split,
    classes: &[String],
    labels: &[String],
) -> Result<ImageNetSplit, ImageNetError> {
    let mut samples = Vec::new();
    for class in classes {
        let label = labels
            .binary_search(class)
            .expect("every listed class has a label, checked by the caller");
        let folder = root.join(split.folder_name()).join(class);
        let mut files = Vec::new();
        for path in read_dir(&folder)? {
            if path.is_file() {
                let name = entry_name(&path)?;
                if is_image_name(&name) {
                    files.push((name, path));
                }
            }
        }
        if files.is_empty() {
            return Err(ImageNetError::EmptyClass {
                path: folder,
                split,
            });
        }
        files.sort();
        samples.extend(files.into_iter().map(|(_, path)| (path, label)));
    }
    Ok(ImageNetSplit {
        split,
        samples,
        normalisation: Normalisation::THINGS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    /// Writes a small solid-colour image at `root/relative`, creating folders.
    fn image_at(root: &Path, relative: &str, colour: [u8; 3]) {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let format = if relative.ends_with(".png") {
            ImageFormat::Png
        } else {
            ImageFormat::Jpeg
        };
        RgbImage::from_pixel(6, 5, Rgb(colour))
            .save_with_format(path, format)
            .unwrap();
    }

    fn relative(folder: &ImageNetFolder, split: &ImageNetSplit) -> Vec<(String, usize)> {
        split
            .samples
            .iter()
            .map(|(path, label)| {
                let text = path.strip_prefix(&folder.root).unwrap().to_str().unwrap();
                (text.replace('\\', "/"), *label)
            })
            .collect()
    }

    #[test]
    fn classes_files_and_labels_are_sorted_as_image_folder_does() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        image_at(root, "train/n02/b.JPEG", [0, 0, 0]);
        image_at(root, "train/n02/a.JPEG", [0, 0, 0]);
        image_at(root, "train/n01/z.png", [0, 0, 0]);
        image_at(root, "train/n01/y.jpg", [0, 0, 0]);
        image_at(root, "train/n03/c.JPEG", [0, 0, 0]);
        fs::write(root.join("train/n03/notes.txt"), "not an image").unwrap();
        image_at(root, "val/n03/v1.JPEG", [0, 0, 0]);
        image_at(root, "val/n01/v2.JPEG", [0, 0, 0]);
        fs::write(root.join("val/README"), "a stray file, not a class").unwrap();

        let folder = ImageNetFolder::open(root).unwrap();
        assert_eq!(folder.classes, ["n01", "n02", "n03"]);
        assert_eq!(folder.class_count(), 3);
        assert_eq!(
            relative(&folder, &folder.train),
            [
                ("train/n01/y.jpg".to_string(), 0),
                ("train/n01/z.png".to_string(), 0),
                ("train/n02/a.JPEG".to_string(), 1),
                ("train/n02/b.JPEG".to_string(), 1),
                ("train/n03/c.JPEG".to_string(), 2),
            ]
        );
        // `val/` has no `n02`: its labels still index the training classes.
        assert_eq!(
            relative(&folder, &folder.val),
            [
                ("val/n01/v2.JPEG".to_string(), 0),
                ("val/n03/v1.JPEG".to_string(), 2),
            ]
        );
        assert_eq!(folder.val.label(1), 2);
        assert_eq!(folder.train.split, Split::Train);
    }

    #[test]
    fn load_decodes_lazily_with_the_chosen_normalisation() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        image_at(root, "train/cat/a.png", [255, 128, 0]);
        image_at(root, "val/cat/b.png", [10, 20, 30]);
        let folder = ImageNetFolder::open(root).unwrap();
        let pixels = folder.train.load(0, 4).unwrap();
        assert_eq!(pixels.len(), 3 * 4 * 4);
        assert_eq!(pixels[0], Normalisation::THINGS.apply(0, 255));
        assert_eq!(pixels[16], Normalisation::THINGS.apply(1, 128));
        assert_eq!(pixels[47], Normalisation::THINGS.apply(2, 0));

        let imagenet = folder.with_normalisation(Normalisation::IMAGENET);
        let pixels = imagenet.val.load(0, 3).unwrap();
        assert_eq!(pixels.len(), 27);
        assert_eq!(pixels[0], (10.0f32 / 255.0 - 0.485) / 0.229);
        assert_eq!(pixels[9], (20.0f32 / 255.0 - 0.456) / 0.224);
        assert_eq!(pixels[26], (30.0f32 / 255.0 - 0.406) / 0.225);
    }

    #[test]
    fn a_missing_split_is_named() {
        let root = tempfile::tempdir().unwrap();
        image_at(root.path(), "train/cat/a.JPEG", [0, 0, 0]);
        let error = ImageNetFolder::open(root.path()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "the imagenet folder `{}` has no `val/` folder;",
                root.path().display()
            )),
            "{message}"
        );
        assert!(message.contains("`<root>/train/<class>/*.JPEG`"));

        let empty = tempfile::tempdir().unwrap();
        let error = ImageNetFolder::open(empty.path()).unwrap_err();
        assert!(
            error.to_string().contains("has no `train/` folder"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_root_says_where_imagenet_comes_from_and_where_to_put_it() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("imagenet");
        let message = ImageNetFolder::open(&root).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "the imagenet folder `{}` does not exist; {IMAGENET_SOURCE}",
                root.display()
            )
        );
        for part in ["image-net.org", "`data/imagenet/`", "`root`", "`vit_data`"] {
            assert!(message.contains(part), "{message}");
        }
        // A file where the folder should be is no folder either.
        fs::write(&root, "not a folder").unwrap();
        let message = ImageNetFolder::open(&root).unwrap_err().to_string();
        assert!(message.contains("does not exist"), "{message}");
    }

    #[test]
    fn a_split_without_classes_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        image_at(root.path(), "train/cat/a.JPEG", [0, 0, 0]);
        fs::create_dir(root.path().join("val")).unwrap();
        let error = ImageNetFolder::open(root.path()).unwrap_err();
        assert!(
            error.to_string().contains("has no class folders in `val/`"),
            "{error}"
        );
    }

    #[test]
    fn an_empty_class_is_named() {
        let root = tempfile::tempdir().unwrap();
        image_at(root.path(), "train/cat/a.JPEG", [0, 0, 0]);
        fs::create_dir_all(root.path().join("train/dog")).unwrap();
        fs::write(root.path().join("train/dog/readme.txt"), "no images").unwrap();
        image_at(root.path(), "val/cat/b.JPEG", [0, 0, 0]);
        let error = ImageNetFolder::open(root.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "train class folder `{}` holds no images (`.jpeg`, `.jpg` or `.png` files); \
                 every folder of `train/` is a class the model must learn: add its images, or \
                 remove the folder to drop the class",
                root.path().join("train").join("dog").display()
            )
        );

        fs::remove_dir_all(root.path().join("train/dog")).unwrap();
        fs::create_dir_all(root.path().join("val/cat")).unwrap();
        fs::remove_file(root.path().join("val/cat/b.JPEG")).unwrap();
        let error = ImageNetFolder::open(root.path()).unwrap_err();
        assert!(
            error.to_string().ends_with(
                "holds no images (`.jpeg`, `.jpg` or `.png` files); add its validation images, \
                 or remove the folder"
            ),
            "{error}"
        );
    }

    #[test]
    fn val_classes_missing_from_train_are_listed() {
        let root = tempfile::tempdir().unwrap();
        image_at(root.path(), "train/cat/a.JPEG", [0, 0, 0]);
        image_at(root.path(), "val/cat/b.JPEG", [0, 0, 0]);
        image_at(root.path(), "val/emu/c.JPEG", [0, 0, 0]);
        image_at(root.path(), "val/dog/d.JPEG", [0, 0, 0]);
        let error = ImageNetFolder::open(root.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the imagenet folder `{}` has 2 class(es) in `val/` that are not in `train/`, \
                 so they have no label: `dog`, `emu`; the classes are the folder names of \
                 `train/`: give `val/` the same names, or remove these folders",
                root.path().display()
            )
        );
    }

    #[test]
    fn a_corrupt_image_names_the_file() {
        let root = tempfile::tempdir().unwrap();
        image_at(root.path(), "train/cat/a.JPEG", [0, 0, 0]);
        image_at(root.path(), "val/cat/b.JPEG", [0, 0, 0]);
        fs::write(root.path().join("train/cat/c.JPEG"), b"\xff\xd8\xff broken").unwrap();
        let folder = ImageNetFolder::open(root.path()).unwrap();
        assert!(folder.train.load(0, 4).is_ok());
        let error = folder.train.load(1, 4).unwrap_err();
        let path = root.path().join("train").join("cat").join("c.JPEG");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot decode image `{}`", path.display())),
            "{message}"
        );
        assert!(
            message.ends_with(
                "; extract this train image again from the ImageNet archive, or remove it"
            ),
            "{message}"
        );
    }
}
