//! Representational similarity analysis (RSA) between a model's predictions and the human RDM.
//!
//! As the paper computes it (`docs/protocol.md`, "RSA"): the model RDM over the 48 held-out images
//! is `1 − Pearson correlation` between the 66-d predictions of each pair (diagonal 0); the strict
//! upper triangles (1,128 pairs, row-major) of the model and human RDMs are compared with
//! Spearman's ρ, whose two-sided p-value is the one `scipy.stats.spearmanr` reports.
//!
//! Everything is `f64` and every sum runs in a fixed order, so results are bit-for-bit the same
//! on every machine. Degenerate data (a constant prediction row, a constant triangle) gives NaN,
//! as numpy and scipy do, rather than an error: a training run should record it, not stop.
//! Shapes that do not fit together are errors.

use std::fmt;

/// Why an RSA could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum RsaError {
    /// Fewer than two images: there are no pairs to compare.
    TooFewImages { images: usize },
    /// A prediction row has a different length from the first one.
    RaggedPredictions {
        image: usize,
        length: usize,
        expected: usize,
    },
    /// A square matrix was expected but the number of values does not fit.
    NotSquare { values: usize, size: usize },
    /// The two vectors to correlate differ in length.
    LengthMismatch { left: usize, right: usize },
    /// Too few values to correlate (Spearman needs at least two, the p-value three).
    TooFewValues { values: usize },
}

impl fmt::Display for RsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFewImages { images } => {
                write!(f, "rsa needs at least 2 images, got {images}")
            }
            Self::RaggedPredictions {
                image,
                length,
                expected,
            } => write!(
                f,
                "prediction of image {image} has {length} values, the first has {expected}"
            ),
            Self::NotSquare { values, size } => write!(
                f,
                "rdm has {values} values, a {size}×{size} matrix needs {}",
                size * size
            ),
            Self::LengthMismatch { left, right } => {
                write!(f, "cannot correlate {left} values with {right} values")
            }
            Self::TooFewValues { values } => {
                write!(
                    f,
                    "spearman correlation needs at least 3 values, got {values}"
                )
            }
        }
    }
}

impl std::error::Error for RsaError {}

/// Model RDM: `n×n` row-major `1 − Pearson(predictions[i], predictions[j])`, diagonal exactly 0.
///
/// Correlations are clipped to [−1, 1] as `numpy.corrcoef` does, so values lie in [0, 2]. A
/// constant prediction row has no correlation: its off-diagonal entries are NaN.
pub fn model_rdm(predictions: &[Vec<f64>]) -> Result<Vec<f64>, RsaError> {
    let images = predictions.len();
    if images < 2 {
        return Err(RsaError::TooFewImages { images });
    }
    let expected = predictions[0].len();
    for (image, row) in predictions.iter().enumerate() {
        if row.len() != expected {
            return Err(RsaError::RaggedPredictions {
                image,
                length: row.len(),
                expected,
            });
        }
    }
    // Centre each row and take its standard deviation once, so each pair costs one dot
    // product; the correlation is then formed as `numpy.corrcoef` forms it.
    let degrees = (expected as f64 - 1.0).max(1.0);
    let centred: Vec<Vec<f64>> = predictions
        .iter()
        .map(|row| {
            let mean = mean(row);
            row.iter().map(|value| value - mean).collect()
        })
        .collect();
    let deviations: Vec<f64> = centred
        .iter()
        .map(|row| (dot(row, row) / degrees).sqrt())
        .collect();

    let mut rdm = vec![0.0; images * images];
    for i in 0..images {
        for j in (i + 1)..images {
            let covariance = dot(&centred[i], &centred[j]) / degrees;
            let correlation = (covariance / deviations[i] / deviations[j]).clamp(-1.0, 1.0);
            let dissimilarity = 1.0 - correlation;
            rdm[i * images + j] = dissimilarity;
            rdm[j * images + i] = dissimilarity;
        }
    }
    Ok(rdm)
}

/// The strict upper triangle of a row-major `n×n` matrix, row by row: (0,1), (0,2), …, (0,n−1),
/// (1,2), … — `n(n−1)/2` values.
pub fn upper_triangle(rdm: &[f64], n: usize) -> Result<Vec<f64>, RsaError> {
    if rdm.len() != n * n {
        return Err(RsaError::NotSquare {
            values: rdm.len(),
            size: n,
        });
    }
    let mut values = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        values.extend_from_slice(&rdm[i * n + i + 1..(i + 1) * n]);
    }
    Ok(values)
}

/// Spearman's ρ and its two-sided p-value, as `scipy.stats.spearmanr(x, y)` computes them.
///
/// ρ is the Pearson correlation of the average ranks (ties share the mean of their ranks). The
/// p-value is that of Student's t with `n − 2` degrees of freedom,
/// `t = ρ·√((n−2)/((1−ρ)(1+ρ)))`, `p = 2·sf(|t|) = I_{df/(df+t²)}(df/2, 1/2)`.
/// Returns `(rho, p_value)`; both are NaN when either input is constant or holds a NaN.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<(f64, f64), RsaError> {
    if x.len() != y.len() {
        return Err(RsaError::LengthMismatch {
            left: x.len(),
            right: y.len(),
        });
    }
    if x.len() < 3 {
        return Err(RsaError::TooFewValues { values: x.len() });
    }
    if x.iter().chain(y).any(|value| value.is_nan()) {
        return Ok((f64::NAN, f64::NAN));
    }
    let rho = pearson(&average_ranks(x), &average_ranks(y));
    if rho.is_nan() {
        return Ok((f64::NAN, f64::NAN));
    }
    Ok((rho, spearman_p_value(rho, x.len())))
}

/// Behavioural RSA: Spearman ρ and p between the upper triangles of the model RDM of
/// `predictions` and `human_rdm` (row-major, `n×n` with `n = predictions.len()`).
pub fn behavioral_rsa(predictions: &[Vec<f64>], human_rdm: &[f64]) -> Result<(f64, f64), RsaError> {
    let images = predictions.len();
    let human = upper_triangle(human_rdm, images)?;
    let model = upper_triangle(&model_rdm(predictions)?, images)?;
    spearman(&model, &human)
}

/// Pearson correlation the way `numpy.corrcoef` forms it (covariance divided by each standard
/// deviation in turn, then clipped to [−1, 1]), so that rounding at ρ = ±1 goes the same way;
/// NaN if either input is constant.
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (mean_x, mean_y) = (mean(x), mean(y));
    let mut products = 0.0;
    let mut squares_x = 0.0;
    let mut squares_y = 0.0;
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mean_x, b - mean_y);
        products += dx * dy;
        squares_x += dx * dx;
        squares_y += dy * dy;
    }
    let degrees = (x.len() - 1) as f64;
    let covariance = products / degrees;
    let (deviation_x, deviation_y) = ((squares_x / degrees).sqrt(), (squares_y / degrees).sqrt());
    (covariance / deviation_x / deviation_y).clamp(-1.0, 1.0)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn dot(left: &[f64], right: &[f64]) -> f64 {
    left.iter().zip(right).map(|(a, b)| a * b).sum()
}

/// 1-based ranks, ties given the mean of the ranks they span (`scipy.stats.rankdata`'s
/// `"average"`). The input holds no NaN.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    // Stable, so the result does not depend on the sort's internals.
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        // `==` rather than `total_cmp`, so that −0.0 and 0.0 tie as they do in numpy.
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = rank;
        }
        start = end;
    }
    ranks
}

/// Two-sided p-value of Spearman's ρ over `n` pairs, through Student's t with `n − 2` degrees
/// of freedom.
fn spearman_p_value(rho: f64, n: usize) -> f64 {
    let df = (n - 2) as f64;
    let denominator = (1.0 - rho) * (1.0 + rho);
    // |ρ| = 1 gives an infinite t; scipy reports p = 0 there.
    if denominator <= 0.0 {
        return 0.0;
    }
    let t_squared = rho * rho * df / denominator;
    // With x = df/(df+t²), 2·sf(|t|) = I_x(df/2, 1/2). 1 − x is formed directly so that
    // neither side loses digits to cancellation.
    let total = df + t_squared;
    regularized_incomplete_beta(df / total, t_squared / total, df / 2.0, 0.5)
}

/// The regularised incomplete beta function `I_x(a, b)`, given both `x` and `y = 1 − x` so
/// that the caller can supply whichever it knows without rounding.
///
/// Continued fraction (Numerical Recipes' `betacf`, evaluated with the modified Lentz method),
/// with the prefactor `x^a·y^b / (a·B(a, b))` taken in logs so that results down to the
/// smallest normal `f64` keep their relative precision. Relative error is about 1e-13 for the
/// arguments RSA uses; see the tests against high-precision values.
fn regularized_incomplete_beta(x: f64, y: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let log_prefactor = a * x.ln() + b * y.ln() - log_beta(a, b);
    // The fraction converges fast for x < (a+1)/(a+b+2); on the other side use the symmetry
    // I_x(a, b) = 1 − I_y(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        (log_prefactor.exp() * beta_continued_fraction(x, a, b)) / a
    } else {
        1.0 - (log_prefactor.exp() * beta_continued_fraction(y, b, a)) / b
    }
}

/// The continued fraction of the incomplete beta function, by the modified Lentz method.
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPSILON: f64 = 1e-16;
    const MAX_ITERATIONS: usize = 10_000;
    let guard = |value: f64| if value.abs() < TINY { TINY } else { value };

    let (sum, plus_one, minus_one) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - sum * x / plus_one);
    let mut fraction = d;
    for m in 1..=MAX_ITERATIONS {
        let m = m as f64;
        let twice = 2.0 * m;
        // Even step.
        let numerator = m * (b - m) * x / ((minus_one + twice) * (a + twice));
        d = 1.0 / guard(1.0 + numerator * d);
        c = guard(1.0 + numerator / c);
        fraction *= d * c;
        // Odd step.
        let numerator = -(a + m) * (sum + m) * x / ((a + twice) * (plus_one + twice));
        d = 1.0 / guard(1.0 + numerator * d);
        c = guard(1.0 + numerator / c);
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < EPSILON {
            break;
        }
    }
    fraction
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)`.
fn log_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `ln Γ(x)` for `x > 0`, by the Lanczos approximation (g = 7, 9 terms), relative error near
/// 1e-15. Arguments below 0.5 go through the reflection formula.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut series = COEFFICIENTS[0];
    for (index, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        series += coefficient / (x + index as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use super::*;

    /// Root of the cpbuild repository (this crate is `crates/ml`).
    fn repo_root() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// The rows of a SPoSE CSV (header `,image_name,0..65`) as f64, parsed here so that this
    /// module's tests do not depend on the THINGS loader.
    fn read_spose(name: &str) -> Vec<Vec<f64>> {
        let text = fs::read_to_string(repo_root().join("data/things").join(name)).unwrap();
        text.lines()
            .skip(1)
            .map(|line| {
                line.split(',')
                    .skip(2)
                    .map(|field| field.parse().unwrap())
                    .collect()
            })
            .collect()
    }

    /// The human RDM, row-major, read with `matfile` directly for the same reason.
    fn read_human_rdm() -> Vec<f64> {
        let file = fs::File::open(repo_root().join("data/things/RDM48_triplet.mat")).unwrap();
        let mat = matfile::MatFile::parse(file).unwrap();
        let array = mat.find_by_name("RDM48_triplet").unwrap();
        assert_eq!(array.size(), &vec![48, 48]);
        let matfile::NumericData::Double { real, .. } = array.data() else {
            panic!("not double");
        };
        // MATLAB stores column-major; the matrix is symmetric, but transpose properly anyway.
        let mut rdm = vec![0.0; 48 * 48];
        for row in 0..48 {
            for column in 0..48 {
                rdm[row * 48 + column] = real[column * 48 + row];
            }
        }
        rdm
    }

    fn assert_close(actual: f64, expected: f64, relative: f64, what: &str) {
        let tolerance = relative * expected.abs().max(f64::MIN_POSITIVE);
        assert!(
            (actual - expected).abs() <= tolerance,
            "{what}: got {actual:e}, expected {expected:e} (relative tolerance {relative:e})"
        );
    }

    /// The predictions each fixture case describes.
    fn case_predictions(name: &str, targets: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let sin = |i: usize, j: usize| (0.37 * (i + 1) as f64 * (j + 1) as f64).sin();
        match name {
            "targets" => targets.to_vec(),
            "sin" => (0..48)
                .map(|i| (0..66).map(|j| sin(i, j) + 0.01 * j as f64).collect())
                .collect(),
            "targets_plus_sin" => targets
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    row.iter()
                        .enumerate()
                        .map(|(j, value)| value + 20.0 * sin(i, j))
                        .collect()
                })
                .collect(),
            other => panic!("unknown fixture case `{other}`"),
        }
    }

    #[test]
    fn reproduces_every_fixture_case() {
        // scipy 1.17.1's results (provenance in tests/fixtures/README.md).
        let path = repo_root().join("tests/fixtures/rsa_cases.json");
        let text = fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "fixture `{}` unreadable ({error}): it is committed with the repository",
                path.display()
            )
        });
        let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
        let targets = read_spose("spose_embedding66d_rescaled_48val_reordered.csv");
        assert_eq!(targets.len(), 48);
        let human = read_human_rdm();
        let cases = fixture["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 3);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let predictions = case_predictions(name, &targets);

            let rdm = model_rdm(&predictions).unwrap();
            let first_row: Vec<f64> = case["model_rdm_first_row"]
                .as_array()
                .unwrap()
                .iter()
                .map(|value| value.as_f64().unwrap())
                .collect();
            assert_eq!(first_row.len(), 48);
            assert_eq!(rdm[0], 0.0);
            for (column, &expected) in first_row.iter().enumerate() {
                let actual = rdm[column];
                assert!(
                    (actual - expected).abs() <= 1e-12,
                    "{name}: rdm[0][{column}] = {actual}, expected {expected}"
                );
            }

            let (rho, p_value) = behavioral_rsa(&predictions, &human).unwrap();
            let expected_rho = case["rho"].as_f64().unwrap();
            let expected_p = case["p_value"].as_f64().unwrap();
            assert!(
                (rho - expected_rho).abs() <= 1e-12,
                "{name}: rho {rho}, expected {expected_rho}"
            );
            if expected_p > 1e-300 {
                assert_close(p_value, expected_p, 1e-6, &format!("{name}: p"));
            } else {
                // scipy underflows to 0 here; the true value is below f64's range too.
                assert!(p_value <= 1e-300, "{name}: p {p_value:e}, expected about 0");
            }
        }
    }

    #[test]
    fn model_rdm_is_symmetric_with_zero_diagonal() {
        let predictions = case_predictions("sin", &[]);
        let rdm = model_rdm(&predictions).unwrap();
        assert_eq!(rdm.len(), 48 * 48);
        for i in 0..48 {
            assert_eq!(rdm[i * 48 + i], 0.0);
            for j in 0..48 {
                assert_eq!(rdm[i * 48 + j].to_bits(), rdm[j * 48 + i].to_bits());
                assert!((0.0..=2.0).contains(&rdm[i * 48 + j]));
            }
        }
    }

    #[test]
    fn model_rdm_of_hand_checked_rows() {
        // Perfectly correlated, anti-correlated and uncorrelated rows.
        let predictions = vec![
            vec![1.0, 2.0, 3.0, 4.0],
            vec![2.0, 4.0, 6.0, 8.0],
            vec![4.0, 3.0, 2.0, 1.0],
            vec![1.0, -1.0, -1.0, 1.0],
        ];
        let rdm = model_rdm(&predictions).unwrap();
        assert!(rdm[1].abs() < 1e-15, "{}", rdm[1]);
        assert!((rdm[2] - 2.0).abs() < 1e-15, "{}", rdm[2]);
        assert!((rdm[3] - 1.0).abs() < 1e-15, "{}", rdm[3]);
        assert_eq!(upper_triangle(&rdm, 4).unwrap().len(), 6);
    }

    #[test]
    fn constant_prediction_gives_nan_not_a_panic() {
        let predictions = vec![
            vec![1.0, 1.0, 1.0],
            vec![1.0, 2.0, 3.0],
            vec![3.0, 1.0, 2.0],
        ];
        let rdm = model_rdm(&predictions).unwrap();
        assert!(rdm[1].is_nan());
        assert_eq!(rdm[0], 0.0);
        let human = vec![0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 2.0, 3.0, 0.0];
        let (rho, p_value) = behavioral_rsa(&predictions, &human).unwrap();
        assert!(rho.is_nan() && p_value.is_nan());
    }

    #[test]
    fn upper_triangle_is_row_major_and_strict() {
        let matrix: Vec<f64> = (0..16).map(f64::from).collect();
        assert_eq!(
            upper_triangle(&matrix, 4).unwrap(),
            vec![1.0, 2.0, 3.0, 6.0, 7.0, 11.0]
        );
        assert_eq!(upper_triangle(&[], 0).unwrap(), Vec::<f64>::new());
        assert_eq!(upper_triangle(&[5.0], 1).unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn average_ranks_match_rankdata() {
        // scipy.stats.rankdata([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]).
        let ranks = average_ranks(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]);
        assert_eq!(
            ranks,
            vec![4.5, 1.5, 6.0, 1.5, 8.0, 11.0, 3.0, 10.0, 8.0, 4.5, 8.0]
        );
        assert_eq!(average_ranks(&[-0.0, 0.0]), vec![1.5, 1.5]);
    }

    #[test]
    fn spearman_of_small_hand_checked_cases() {
        // Monotone: ρ = ±1 and p = 0, as scipy reports.
        let (rho, p_value) = spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 25.0, 100.0]).unwrap();
        assert_eq!((rho, p_value), (1.0, 0.0));
        let (rho, p_value) = spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap();
        assert_eq!((rho, p_value), (-1.0, 0.0));
        // spearmanr([1,2,3,4,5], [5,6,7,8,7]), ties included: ρ and p computed with mpmath at
        // 50 digits from the average ranks.
        let (rho, p_value) =
            spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
        assert!((rho - 0.820_782_681_668_123_3).abs() < 1e-15, "{rho}");
        assert_close(p_value, 0.088_587_005_313_543_88, 1e-12, "p");
        // Uncorrelated: ρ = 0, p = 1.
        let (rho, p_value) = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, -1.0, -1.0, 1.0]).unwrap();
        assert_eq!(rho, 0.0);
        assert_close(p_value, 1.0, 1e-15, "p");
    }

    #[test]
    fn spearman_p_value_against_high_precision_values() {
        // (ρ, n, p) with p = I_{df/(df+t²)}(df/2, 1/2) from mpmath at 50 digits.
        let cases = [
            (0.05304868403649797, 1128, 0.07491955769158273),
            (0.3648115831673076, 1128, 7.791297174600108e-37),
            (0.5, 10, 0.14111328125),
            (0.01, 1128, 0.7372531271984124),
            (-0.2, 30, 0.2893035287254402),
            (0.7, 100, 5.329041427530762e-16),
            (0.6, 1128, 2.9961720467228746e-111),
            (0.8, 1128, 4.688955229643976e-252),
            (0.83, 1128, 9.11022093761563e-288),
        ];
        for (rho, n, expected) in cases {
            assert_close(
                spearman_p_value(rho, n),
                expected,
                1e-9,
                &format!("p({rho}, {n})"),
            );
        }
    }

    #[test]
    fn ln_gamma_against_known_values() {
        assert!(ln_gamma(1.0).abs() < 1e-15);
        assert!(ln_gamma(2.0).abs() < 1e-15);
        assert_close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-14,
            "ln Γ(1/2)",
        );
        // ln Γ(563) = ln(562!) from mpmath.
        assert_close(ln_gamma(563.0), 3_000.388_877_378_343, 1e-15, "ln Γ(563)");
        assert_close(ln_gamma(0.1), 2.252_712_651_734_206, 1e-14, "ln Γ(0.1)");
    }

    #[test]
    fn shape_errors_are_reported() {
        let ragged = vec![vec![1.0, 2.0, 3.0], vec![1.0, 2.0]];
        assert_eq!(
            model_rdm(&ragged).unwrap_err().to_string(),
            "prediction of image 1 has 2 values, the first has 3"
        );
        assert_eq!(
            model_rdm(&[vec![1.0, 2.0]]).unwrap_err().to_string(),
            "rsa needs at least 2 images, got 1"
        );
        assert_eq!(
            upper_triangle(&[1.0, 2.0, 3.0], 2).unwrap_err().to_string(),
            "rdm has 3 values, a 2×2 matrix needs 4"
        );
        assert_eq!(
            spearman(&[1.0, 2.0, 3.0], &[1.0, 2.0])
                .unwrap_err()
                .to_string(),
            "cannot correlate 3 values with 2 values"
        );
        assert_eq!(
            spearman(&[1.0, 2.0], &[1.0, 2.0]).unwrap_err().to_string(),
            "spearman correlation needs at least 3 values, got 2"
        );
        let predictions = vec![vec![1.0, 2.0, 3.0]; 3];
        assert_eq!(
            behavioral_rsa(&predictions, &[0.0; 4])
                .unwrap_err()
                .to_string(),
            "rdm has 4 values, a 3×3 matrix needs 9"
        );
    }

    #[test]
    fn is_deterministic() {
        let targets = read_spose("spose_embedding66d_rescaled_48val_reordered.csv");
        let human = read_human_rdm();
        let predictions = case_predictions("targets_plus_sin", &targets);
        let first = behavioral_rsa(&predictions, &human).unwrap();
        for _ in 0..3 {
            let again = behavioral_rsa(&predictions, &human).unwrap();
            assert_eq!(first.0.to_bits(), again.0.to_bits());
            assert_eq!(first.1.to_bits(), again.1.to_bits());
        }
    }
}
