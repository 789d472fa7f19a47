//! Loaders for the THINGS behavioural data the paper trains and evaluates on.
//!
//! Three kinds of file (see `data/README.md` for where they come from):
//! - SPoSE target CSVs (`spose_embedding66d_rescaled_*.csv`): header `,image_name,0,1,…,65`,
//!   then one row per concept: its index in THINGS (0..1853), its image file name, and its 66
//!   behavioural dimensions;
//! - `spose_dimensions66.txt`: the 66 dimension labels, one per line, in column order (they are
//!   the model's text prompts);
//! - `RDM48_triplet.mat`: MATLAB v5, variable `RDM48_triplet`, the 48×48 human dissimilarity
//!   matrix, symmetric with a zero diagonal.
//!
//! Files are checked strictly and every error names the file, the line where there is one, and
//! what is wrong, because a silently misparsed target file would quietly change every result.
//! Values are kept as `f64`, exactly as written: the training-set statistics and the RSA
//! fixtures are checked to 1e-9 and 1e-12, which `f32` rounding would not meet. Training can
//! take [`SposeTargets::targets_f32`].

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Number of SPoSE dimensions, and so of targets per image.
pub const DIMENSIONS: usize = 66;

/// Number of images in the human RDM.
pub const RDM_SIZE: usize = 48;

/// Name of the variable that holds the human RDM in `RDM48_triplet.mat`.
pub const RDM_VARIABLE: &str = "RDM48_triplet";

/// Columns of a SPoSE CSV: concept index, image name, then the dimensions.
const CSV_COLUMNS: usize = 2 + DIMENSIONS;

/// Why a THINGS file could not be loaded.
#[derive(Debug)]
pub enum ThingsError {
    /// The file could not be read at all.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    NotUtf8 { path: PathBuf },
    /// The file is empty (a CSV needs a header).
    Empty { path: PathBuf },
    /// The CSV header is not `,image_name,0,1,…,65`.
    Header { path: PathBuf, found: String },
    /// The CSV has a header and nothing else.
    NoRows { path: PathBuf },
    /// A CSV line has the wrong number of comma-separated columns.
    ColumnCount {
        path: PathBuf,
        line: usize,
        found: usize,
    },
    /// The first column of a CSV line is not a concept index.
    ConceptIndex {
        path: PathBuf,
        line: usize,
        value: String,
    },
    /// The image name column of a CSV line is empty.
    EmptyImageName { path: PathBuf, line: usize },
    /// A dimension value of a CSV line is not a finite number.
    Value {
        path: PathBuf,
        line: usize,
        dimension: usize,
        value: String,
    },
    /// The label file does not hold exactly 66 labels.
    LabelCount { path: PathBuf, found: usize },
    /// A label line is blank.
    EmptyLabel { path: PathBuf, line: usize },
    /// The `.mat` file could not be parsed.
    Mat { path: PathBuf, message: String },
    /// The `.mat` file lacks the variable; `found` lists the numeric variables it has.
    MissingVariable {
        path: PathBuf,
        variable: String,
        found: Vec<String>,
    },
    /// The variable is not real float64.
    VariableType {
        path: PathBuf,
        variable: String,
        found: String,
    },
    /// The variable does not have the expected dimensions.
    Shape {
        path: PathBuf,
        variable: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    /// A value of the RDM is NaN or infinite.
    NotFinite {
        path: PathBuf,
        row: usize,
        column: usize,
        value: f64,
    },
    /// A diagonal entry of the RDM is not zero.
    Diagonal {
        path: PathBuf,
        index: usize,
        value: f64,
    },
    /// The RDM is not symmetric.
    NotSymmetric {
        path: PathBuf,
        row: usize,
        column: usize,
        upper: f64,
        lower: f64,
    },
}

impl fmt::Display for ThingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "cannot read `{}`: {source}", path.display()),
            Self::NotUtf8 { path } => write!(f, "`{}` is not utf-8 text", path.display()),
            Self::Empty { path } => write!(f, "`{}` is empty", path.display()),
            Self::Header { path, found } => write!(
                f,
                "`{}` line 1: expected the header `,image_name,0,1,…,65`, found `{found}`",
                path.display()
            ),
            Self::NoRows { path } => {
                write!(f, "`{}` has a header but no rows", path.display())
            }
            Self::ColumnCount { path, line, found } => write!(
                f,
                "`{}` line {line}: expected {CSV_COLUMNS} columns \
                 (concept index, image name, {DIMENSIONS} dimensions), found {found}",
                path.display()
            ),
            Self::ConceptIndex { path, line, value } => write!(
                f,
                "`{}` line {line}: concept index `{value}` is not a non-negative integer",
                path.display()
            ),
            Self::EmptyImageName { path, line } => {
                write!(f, "`{}` line {line}: image name is empty", path.display())
            }
            Self::Value {
                path,
                line,
                dimension,
                value,
            } => write!(
                f,
                "`{}` line {line}: dimension {dimension} value `{value}` is not a finite number",
                path.display()
            ),
            Self::LabelCount { path, found } => write!(
                f,
                "`{}` has {found} labels, expected {DIMENSIONS} (one per line)",
                path.display()
            ),
            Self::EmptyLabel { path, line } => {
                write!(f, "`{}` line {line}: label is empty", path.display())
            }
            Self::Mat { path, message } => write!(
                f,
                "cannot parse `{}` as a matlab v5 file: {message}",
                path.display()
            ),
            Self::MissingVariable {
                path,
                variable,
                found,
            } => {
                let found = if found.is_empty() {
                    "no numeric variables".to_string()
                } else {
                    let names: Vec<String> = found.iter().map(|name| format!("`{name}`")).collect();
                    format!("only {}", names.join(", "))
                };
                write!(
                    f,
                    "`{}` has no variable `{variable}` ({found})",
                    path.display()
                )
            }
            Self::VariableType {
                path,
                variable,
                found,
            } => write!(
                f,
                "`{}` variable `{variable}` is {found}, expected real float64",
                path.display()
            ),
            Self::Shape {
                path,
                variable,
                found,
                expected,
            } => write!(
                f,
                "`{}` variable `{variable}` is {}, expected {}",
                path.display(),
                shape_text(found),
                shape_text(expected)
            ),
            Self::NotFinite {
                path,
                row,
                column,
                value,
            } => write!(
                f,
                "`{}` rdm entry ({row}, {column}) is {value}, expected a finite number",
                path.display()
            ),
            Self::Diagonal { path, index, value } => write!(
                f,
                "`{}` rdm diagonal entry ({index}, {index}) is {value}, expected 0",
                path.display()
            ),
            Self::NotSymmetric {
                path,
                row,
                column,
                upper,
                lower,
            } => write!(
                f,
                "`{}` rdm is not symmetric: ({row}, {column}) is {upper} but ({column}, {row}) \
                 is {lower}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ThingsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn shape_text(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    parts.join("×")
}

/// The rows of one SPoSE CSV, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct SposeTargets {
    /// Index of each row's concept among the 1,854 THINGS concepts (the CSV's first column).
    pub concept_index: Vec<usize>,
    /// Image file name of each row, e.g. `aardvark_01b.jpg`.
    pub image_name: Vec<String>,
    /// The 66 behavioural dimensions of each row, in label order.
    pub targets: Vec<[f64; DIMENSIONS]>,
}

impl SposeTargets {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no rows (never true for a loaded file).
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Mean and population standard deviation (numpy's default, ddof = 0) over every value of
    /// every row. The paper draws its random targets from N(mean, std) of the training file.
    /// Two passes, summed row by row in file order, so the result is the same everywhere.
    pub fn mean_and_std(&self) -> (f64, f64) {
        let count = (self.targets.len() * DIMENSIONS) as f64;
        let mean = self.targets.iter().flatten().sum::<f64>() / count;
        let variance = self
            .targets
            .iter()
            .flatten()
            .map(|value| (value - mean) * (value - mean))
            .sum::<f64>()
            / count;
        (mean, variance.sqrt())
    }

    /// The targets rounded to `f32`, the precision the model trains in.
    pub fn targets_f32(&self) -> Vec<[f32; DIMENSIONS]> {
        self.targets
            .iter()
            .map(|row| row.map(|value| value as f32))
            .collect()
    }
}

/// The human dissimilarity matrix over the 48 held-out images, in `words48` order.
#[derive(Debug, Clone, PartialEq)]
pub struct HumanRdm {
    /// Number of rows and columns (48).
    pub size: usize,
    /// Row-major `size × size` values.
    pub values: Vec<f64>,
}

impl HumanRdm {
    /// Entry at (`row`, `column`).
    pub fn get(&self, row: usize, column: usize) -> f64 {
        self.values[row * self.size + column]
    }
}

fn read_text(path: &Path) -> Result<String, ThingsError> {
    let bytes = fs::read(path).map_err(|source| ThingsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| ThingsError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

/// Reads a SPoSE CSV (`spose_embedding66d_rescaled_*.csv`).
pub fn read_spose_csv(path: impl AsRef<Path>) -> Result<SposeTargets, ThingsError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    let owned_path = || path.to_path_buf();
    // `lines` also strips a `\r`, so files saved on Windows load the same.
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| ThingsError::Empty { path: owned_path() })?;
    let expected_header: String = std::iter::once(",image_name".to_string())
        .chain((0..DIMENSIONS).map(|dimension| format!(",{dimension}")))
        .collect();
    if header != expected_header {
        return Err(ThingsError::Header {
            path: owned_path(),
            found: header.to_string(),
        });
    }

    let mut spose = SposeTargets {
        concept_index: Vec::new(),
        image_name: Vec::new(),
        targets: Vec::new(),
    };
    for (index, line) in lines.enumerate() {
        // 1-based and counting the header, as an editor shows it.
        let line_number = index + 2;
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != CSV_COLUMNS {
            return Err(ThingsError::ColumnCount {
                path: owned_path(),
                line: line_number,
                found: fields.len(),
            });
        }
        let concept = fields[0]
            .parse::<usize>()
            .map_err(|_| ThingsError::ConceptIndex {
                path: owned_path(),
                line: line_number,
                value: fields[0].to_string(),
            })?;
        if fields[1].is_empty() {
            return Err(ThingsError::EmptyImageName {
                path: owned_path(),
                line: line_number,
            });
        }
        let mut row = [0.0; DIMENSIONS];
        for (dimension, (slot, field)) in row.iter_mut().zip(&fields[2..]).enumerate() {
            *slot = field
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .ok_or_else(|| ThingsError::Value {
                    path: owned_path(),
                    line: line_number,
                    dimension,
                    value: (*field).to_string(),
                })?;
        }
        spose.concept_index.push(concept);
        spose.image_name.push(fields[1].to_string());
        spose.targets.push(row);
    }
    if spose.is_empty() {
        return Err(ThingsError::NoRows { path: owned_path() });
    }
    Ok(spose)
}

/// Reads `spose_dimensions66.txt`: exactly 66 non-blank lines, returned without surrounding
/// whitespace (the reference reads them with `strip()`).
pub fn read_dimension_labels(path: impl AsRef<Path>) -> Result<Vec<String>, ThingsError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() != DIMENSIONS {
        return Err(ThingsError::LabelCount {
            path: path.to_path_buf(),
            found: lines.len(),
        });
    }
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let label = line.trim();
            if label.is_empty() {
                Err(ThingsError::EmptyLabel {
                    path: path.to_path_buf(),
                    line: index + 1,
                })
            } else {
                Ok(label.to_string())
            }
        })
        .collect()
}

/// Reads the human RDM from `RDM48_triplet.mat` (variable `RDM48_triplet`, real float64
/// 48×48) and checks that it is finite, symmetric and zero on the diagonal.
pub fn read_human_rdm(path: impl AsRef<Path>) -> Result<HumanRdm, ThingsError> {
    let path = path.as_ref();
    let owned_path = || path.to_path_buf();
    let bytes = fs::read(path).map_err(|source| ThingsError::Read {
        path: owned_path(),
        source,
    })?;
    let mat = matfile::MatFile::parse(bytes.as_slice()).map_err(|error| ThingsError::Mat {
        path: owned_path(),
        message: error.to_string().to_lowercase(),
    })?;
    let array = mat
        .find_by_name(RDM_VARIABLE)
        .ok_or_else(|| ThingsError::MissingVariable {
            path: owned_path(),
            variable: RDM_VARIABLE.to_string(),
            found: mat
                .arrays()
                .iter()
                .map(|array| array.name().to_string())
                .collect(),
        })?;
    let real = match array.data() {
        matfile::NumericData::Double { real, imag: None } => real,
        other => {
            return Err(ThingsError::VariableType {
                path: owned_path(),
                variable: RDM_VARIABLE.to_string(),
                found: numeric_type_name(other).to_string(),
            });
        }
    };
    let expected = vec![RDM_SIZE, RDM_SIZE];
    if array.size() != &expected || real.len() != RDM_SIZE * RDM_SIZE {
        return Err(ThingsError::Shape {
            path: owned_path(),
            variable: RDM_VARIABLE.to_string(),
            found: array.size().clone(),
            expected,
        });
    }

    // MATLAB stores column-major: element (row, column) is at column * rows + row.
    let mut values = vec![0.0; RDM_SIZE * RDM_SIZE];
    for row in 0..RDM_SIZE {
        for column in 0..RDM_SIZE {
            let value = real[column * RDM_SIZE + row];
            if !value.is_finite() {
                return Err(ThingsError::NotFinite {
                    path: owned_path(),
                    row,
                    column,
                    value,
                });
            }
            values[row * RDM_SIZE + column] = value;
        }
    }
    for row in 0..RDM_SIZE {
        let diagonal = values[row * RDM_SIZE + row];
        if diagonal != 0.0 {
            return Err(ThingsError::Diagonal {
                path: owned_path(),
                index: row,
                value: diagonal,
            });
        }
        for column in (row + 1)..RDM_SIZE {
            let (upper, lower) = (
                values[row * RDM_SIZE + column],
                values[column * RDM_SIZE + row],
            );
            // Exact: the file is symmetric to the bit, and a transposed or shifted matrix would
            // differ by far more than rounding.
            if upper != lower {
                return Err(ThingsError::NotSymmetric {
                    path: owned_path(),
                    row,
                    column,
                    upper,
                    lower,
                });
            }
        }
    }
    Ok(HumanRdm {
        size: RDM_SIZE,
        values,
    })
}

/// The MATLAB-side name of a numeric type, for error messages.
fn numeric_type_name(data: &matfile::NumericData) -> &'static str {
    use matfile::NumericData as Data;
    match data {
        Data::Double { imag: Some(_), .. } | Data::Single { imag: Some(_), .. } => "complex",
        Data::Int8 { .. } => "int8",
        Data::UInt8 { .. } => "uint8",
        Data::Int16 { .. } => "int16",
        Data::UInt16 { .. } => "uint16",
        Data::Int32 { .. } => "int32",
        Data::UInt32 { .. } => "uint32",
        Data::Int64 { .. } => "int64",
        Data::UInt64 { .. } => "uint64",
        Data::Single { .. } => "float32",
        Data::Double { .. } => "float64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root of the cpbuild repository.
    fn repo_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn things_file(name: &str) -> PathBuf {
        repo_root().join("data/things").join(name)
    }

    fn header() -> String {
        std::iter::once(",image_name".to_string())
            .chain((0..DIMENSIONS).map(|dimension| format!(",{dimension}")))
            .collect()
    }

    fn row(concept: &str, image: &str, values: &[&str]) -> String {
        format!("{concept},{image},{}", values.join(","))
    }

    fn good_values() -> Vec<String> {
        (0..DIMENSIONS)
            .map(|dimension| format!("{}.5", dimension))
            .collect()
    }

    fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, contents).unwrap();
        path
    }

    /// A minimal MATLAB v5 file (little-endian, uncompressed) holding one real matrix, so the
    /// tests can make malformed RDMs. `class` and `data_type` are MATLAB's codes (double: 6
    /// and 9, single: 7 and 7); `data` is already encoded, column-major.
    fn mat_v5(name: &str, dims: &[i32], class: u32, data_type: u32, data: &[u8]) -> Vec<u8> {
        fn element(data_type: u32, payload: &[u8]) -> Vec<u8> {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&data_type.to_le_bytes());
            bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(payload);
            // Every element is padded to a multiple of 8 bytes.
            bytes.resize(bytes.len().div_ceil(8) * 8, 0);
            bytes
        }
        let mut flags = Vec::new();
        flags.extend_from_slice(&class.to_le_bytes());
        flags.extend_from_slice(&0u32.to_le_bytes());
        let dims: Vec<u8> = dims.iter().flat_map(|dim| dim.to_le_bytes()).collect();
        let mut matrix = Vec::new();
        matrix.extend(element(6, &flags)); // miUINT32
        matrix.extend(element(5, &dims)); // miINT32
        matrix.extend(element(1, name.as_bytes())); // miINT8
        matrix.extend(element(data_type, data));

        let mut file = format!(
            "MATLAB 5.0 MAT-file, written by cpbuild tests{}",
            " ".repeat(116)
        )
        .into_bytes();
        file.truncate(116);
        file.extend_from_slice(&[0; 8]); // no subsystem data
        file.extend_from_slice(&0x0100u16.to_le_bytes());
        file.extend_from_slice(b"IM");
        file.extend(element(14, &matrix)); // miMATRIX
        file
    }

    /// A valid RDM, column-major bytes, with `change` applied to the row-major matrix first.
    fn rdm_bytes(size: usize, change: impl Fn(&mut Vec<f64>)) -> Vec<u8> {
        let mut values = vec![0.0; size * size];
        for row in 0..size {
            for column in 0..size {
                if row != column {
                    values[row * size + column] = (row + column) as f64 / 100.0;
                }
            }
        }
        change(&mut values);
        let mut bytes = Vec::new();
        for column in 0..size {
            for row in 0..size {
                bytes.extend_from_slice(&values[row * size + column].to_le_bytes());
            }
        }
        bytes
    }

    fn load_error(result: Result<impl std::fmt::Debug, ThingsError>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn training_csv_loads_with_the_papers_statistics() {
        let spose =
            read_spose_csv(things_file("spose_embedding66d_rescaled_1806train.csv")).unwrap();
        assert_eq!(spose.len(), 1806);
        assert_eq!(spose.concept_index.len(), 1806);
        assert_eq!(spose.image_name.len(), 1806);
        assert_eq!(spose.concept_index[0], 0);
        assert_eq!(spose.image_name[0], "aardvark_01b.jpg");
        assert_eq!(spose.targets[0][0], 0.3412201532504557);
        assert_eq!(spose.targets[0][1], 11.00944715323772);
        assert!(spose.concept_index.iter().all(|&concept| concept < 1854));
        assert!(
            spose
                .targets
                .iter()
                .flatten()
                .all(|&value| (0.0..=100.0).contains(&value))
        );

        let (mean, std) = spose.mean_and_std();
        assert!((mean - 5.6906150491834).abs() < 1e-9, "mean {mean}");
        assert!((std - 10.17865285170066).abs() < 1e-9, "std {std}");

        let rounded = spose.targets_f32();
        assert_eq!(rounded.len(), 1806);
        assert_eq!(rounded[0][1], 11.009_447_f32);
    }

    #[test]
    fn held_out_csvs_hold_the_same_48_concepts() {
        let alphabetical =
            read_spose_csv(things_file("spose_embedding66d_rescaled_48val.csv")).unwrap();
        let reordered = read_spose_csv(things_file(
            "spose_embedding66d_rescaled_48val_reordered.csv",
        ))
        .unwrap();
        assert_eq!(alphabetical.len(), 48);
        assert_eq!(reordered.len(), 48);
        // The reordered file follows the human RDM's rows, i.e. `words48.txt`.
        let words = fs::read_to_string(things_file("words48.txt")).unwrap();
        let words: Vec<&str> = words.lines().collect();
        assert_eq!(words.len(), 48);
        assert_eq!(reordered.image_name[0], "pizza_01b.jpg");
        for (word, image) in words.iter().zip(&reordered.image_name) {
            // Image names are not all `<word>_01b.jpg` (`camera1_01b.jpg`, `dice_01s.jpg`).
            assert!(image.starts_with(&word.replace(' ', "_")), "{word} {image}");
        }
        // Same rows, another order.
        for (index, concept) in reordered.concept_index.iter().enumerate() {
            let position = alphabetical
                .concept_index
                .iter()
                .position(|c| c == concept)
                .unwrap();
            assert_eq!(alphabetical.targets[position], reordered.targets[index]);
            assert_eq!(
                alphabetical.image_name[position],
                reordered.image_name[index]
            );
        }
    }

    #[test]
    fn dimension_labels_load() {
        let labels = read_dimension_labels(things_file("spose_dimensions66.txt")).unwrap();
        assert_eq!(labels.len(), 66);
        assert_eq!(labels[0], "metallic; artificial");
        assert_eq!(labels[1], "food-related");
        assert_eq!(labels[65], "fine-grained; pattern");
    }

    #[test]
    fn human_rdm_loads_row_major() {
        let rdm = read_human_rdm(things_file("RDM48_triplet.mat")).unwrap();
        assert_eq!(rdm.size, 48);
        assert_eq!(rdm.values.len(), 48 * 48);
        assert!(rdm.values.iter().all(|&value| (0.0..1.0).contains(&value)));
        let off_diagonal = rdm.values.iter().filter(|&&value| value > 0.0).count();
        assert!(
            off_diagonal > 48 * 47 / 2,
            "{off_diagonal} positive entries"
        );
        assert_eq!(rdm.get(0, 1), rdm.get(1, 0));
    }

    #[test]
    fn column_major_mat_data_is_transposed() {
        // An asymmetric matrix would be rejected, so check the order on the raw layout: the
        // error names (0, 1) as the upper value, which is column-major element 1·size + 0.
        let dir = tempfile::tempdir().unwrap();
        let data = rdm_bytes(48, |values| values[1] = 0.75); // row 0, column 1
        let path = write(
            dir.path(),
            "asymmetric.mat",
            &mat_v5(RDM_VARIABLE, &[48, 48], 6, 9, &data),
        );
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "`{}` rdm is not symmetric: (0, 1) is 0.75 but (1, 0) is 0.01",
                path.display()
            )
        );
        let good = write(
            dir.path(),
            "good.mat",
            &mat_v5(RDM_VARIABLE, &[48, 48], 6, 9, &rdm_bytes(48, |_| ())),
        );
        let rdm = read_human_rdm(&good).unwrap();
        assert_eq!(rdm.get(2, 5), 0.07);
    }

    #[test]
    fn csv_errors_name_file_line_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let values = good_values();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let good_row = row("3", "cat_01b.jpg", &values);

        let path = write(dir.path(), "empty.csv", b"");
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!("`{}` is empty", path.display())
        );

        let path = write(dir.path(), "header.csv", b"index,image_name,0\n");
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!(
                "`{}` line 1: expected the header `,image_name,0,1,…,65`, found `index,image_name,0`",
                path.display()
            )
        );

        let path = write(dir.path(), "rows.csv", format!("{}\n", header()).as_bytes());
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!("`{}` has a header but no rows", path.display())
        );

        let short = row("4", "dog_01b.jpg", &values[..65]);
        let path = write(
            dir.path(),
            "columns.csv",
            format!("{}\n{good_row}\n{short}\n", header()).as_bytes(),
        );
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!(
                "`{}` line 3: expected 68 columns (concept index, image name, 66 dimensions), \
                 found 67",
                path.display()
            )
        );

        let bad_concept = row("-1", "dog_01b.jpg", &values);
        let path = write(
            dir.path(),
            "concept.csv",
            format!("{}\n{bad_concept}\n", header()).as_bytes(),
        );
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!(
                "`{}` line 2: concept index `-1` is not a non-negative integer",
                path.display()
            )
        );

        let no_name = row("4", "", &values);
        let path = write(
            dir.path(),
            "name.csv",
            format!("{}\n{no_name}\n", header()).as_bytes(),
        );
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!("`{}` line 2: image name is empty", path.display())
        );

        let mut bad_values = values.clone();
        bad_values[7] = "seven";
        let path = write(
            dir.path(),
            "value.csv",
            format!(
                "{}\n{good_row}\n{good_row}\n{}\n",
                header(),
                row("4", "dog_01b.jpg", &bad_values)
            )
            .as_bytes(),
        );
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!(
                "`{}` line 4: dimension 7 value `seven` is not a finite number",
                path.display()
            )
        );

        bad_values[7] = "NaN";
        let path = write(
            dir.path(),
            "nan.csv",
            format!("{}\n{}\n", header(), row("4", "dog_01b.jpg", &bad_values)).as_bytes(),
        );
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!(
                "`{}` line 2: dimension 7 value `NaN` is not a finite number",
                path.display()
            )
        );

        let path = write(dir.path(), "latin1.csv", b",image_name\xff\n");
        assert_eq!(
            load_error(read_spose_csv(&path)),
            format!("`{}` is not utf-8 text", path.display())
        );

        let path = dir.path().join("absent.csv");
        let message = load_error(read_spose_csv(&path));
        assert!(
            message.starts_with(&format!("cannot read `{}`: ", path.display())),
            "{message}"
        );
    }

    #[test]
    fn csv_with_windows_line_endings_loads() {
        let dir = tempfile::tempdir().unwrap();
        let values = good_values();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let text = format!("{}\r\n{}\r\n", header(), row("3", "cat_01b.jpg", &values));
        let path = write(dir.path(), "crlf.csv", text.as_bytes());
        let spose = read_spose_csv(&path).unwrap();
        assert_eq!(spose.concept_index, vec![3]);
        assert_eq!(spose.image_name, vec!["cat_01b.jpg".to_string()]);
        assert_eq!(spose.targets[0][65], 65.5);
    }

    #[test]
    fn label_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "few.txt", b"red\ngreen\n");
        assert_eq!(
            load_error(read_dimension_labels(&path)),
            format!(
                "`{}` has 2 labels, expected 66 (one per line)",
                path.display()
            )
        );
        let mut labels: Vec<String> = (0..66).map(|index| format!("label {index}")).collect();
        labels[9] = "   ".to_string();
        let path = write(dir.path(), "blank.txt", labels.join("\n").as_bytes());
        assert_eq!(
            load_error(read_dimension_labels(&path)),
            format!("`{}` line 10: label is empty", path.display())
        );
    }

    #[test]
    fn mat_errors_name_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();

        let path = write(dir.path(), "garbage.mat", b"not a mat file at all");
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "cannot parse `{}` as a matlab v5 file: an error occurred while parsing the file",
                path.display()
            )
        );

        let data = rdm_bytes(48, |_| ());
        let path = write(
            dir.path(),
            "name.mat",
            &mat_v5("other", &[48, 48], 6, 9, &data),
        );
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "`{}` has no variable `RDM48_triplet` (only `other`)",
                path.display()
            )
        );

        let small = rdm_bytes(3, |_| ());
        let path = write(
            dir.path(),
            "shape.mat",
            &mat_v5(RDM_VARIABLE, &[3, 3], 6, 9, &small),
        );
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "`{}` variable `RDM48_triplet` is 3×3, expected 48×48",
                path.display()
            )
        );

        let flat = rdm_bytes(48, |_| ());
        let path = write(
            dir.path(),
            "flat.mat",
            &mat_v5(RDM_VARIABLE, &[1, 2304], 6, 9, &flat),
        );
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "`{}` variable `RDM48_triplet` is 1×2304, expected 48×48",
                path.display()
            )
        );

        // (Single precision rather than an integer class: matfile 0.5 cannot read int32.)
        let singles: Vec<u8> = (0..48 * 48).flat_map(|_| 0f32.to_le_bytes()).collect();
        let path = write(
            dir.path(),
            "single.mat",
            &mat_v5(RDM_VARIABLE, &[48, 48], 7, 7, &singles),
        );
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "`{}` variable `RDM48_triplet` is float32, expected real float64",
                path.display()
            )
        );

        let data = rdm_bytes(48, |values| values[5 * 48 + 5] = 0.5);
        let path = write(
            dir.path(),
            "diagonal.mat",
            &mat_v5(RDM_VARIABLE, &[48, 48], 6, 9, &data),
        );
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "`{}` rdm diagonal entry (5, 5) is 0.5, expected 0",
                path.display()
            )
        );

        let data = rdm_bytes(48, |values| values[2 * 48 + 7] = f64::NAN);
        let path = write(
            dir.path(),
            "nan.mat",
            &mat_v5(RDM_VARIABLE, &[48, 48], 6, 9, &data),
        );
        assert_eq!(
            load_error(read_human_rdm(&path)),
            format!(
                "`{}` rdm entry (2, 7) is NaN, expected a finite number",
                path.display()
            )
        );

        let path = dir.path().join("absent.mat");
        let message = load_error(read_human_rdm(&path));
        assert!(
            message.starts_with(&format!("cannot read `{}`: ", path.display())),
            "{message}"
        );
    }
}
