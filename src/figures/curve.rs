//! A training curve reduced to what the figures read: per epoch, one loss and one alignment.
//!
//! Both models fit it: CLIP-HBA gives (`test_loss`, `behavioral_rsa_rho`), the ViT gives
//! (`val_loss`, `rsa_score`). The figure computations are written once over
//! curves, so fig1 and fig2 treat the two models alike.

use super::setup::RunSetup;

/// One epoch of a curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// 1-based epoch.
    pub epoch: u32,
    /// The held-out loss (CLIP-HBA test loss, ViT validation loss).
    pub loss: f64,
    /// The alignment with humans (behavioural RSA ρ, ViT RSA score).
    pub alignment: f64,
}

/// A run's curve, epochs strictly increasing (gaps allowed: a resumed run may start late).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// What the curve is, for error messages: usually the CSV path.
    pub name: String,
    /// The epochs, strictly increasing.
    pub points: Vec<CurvePoint>,
    /// What the run trained, when its bundle says (for plot titles).
    pub setup: Option<RunSetup>,
}

impl Curve {
    /// A curve; `points` must be sorted by strictly increasing epoch (the parsers check this).
    pub fn new(name: impl Into<String>, points: Vec<CurvePoint>) -> Curve {
        debug_assert!(points.windows(2).all(|pair| pair[0].epoch < pair[1].epoch));
        Curve {
            name: name.into(),
            points,
            setup: None,
        }
    }

    /// The same curve, saying what the run trained.
    pub fn with_setup(mut self, setup: Option<RunSetup>) -> Curve {
        self.setup = setup;
        self
    }

    /// The point at `epoch`, if the run has it.
    pub fn at(&self, epoch: u32) -> Option<&CurvePoint> {
        self.points
            .binary_search_by_key(&epoch, |point| point.epoch)
            .ok()
            .map(|index| &self.points[index])
    }

    /// The epoch of minimum loss; ties go to the first such epoch (as `argmin` does), because
    /// later equal losses are not an improvement.
    pub fn min_loss_point(&self) -> Option<&CurvePoint> {
        self.points
            .iter()
            .fold(None, |best: Option<&CurvePoint>, point| match best {
                Some(best) if best.loss <= point.loss => Some(best),
                _ => Some(point),
            })
    }

    /// The last epoch the run has.
    pub fn last_epoch(&self) -> Option<u32> {
        self.points.last().map(|point| point.epoch)
    }
}

/// A curve of (loss, alignment) per epoch from `first` on, for tests.
#[cfg(test)]
pub(crate) fn test_curve(name: &str, first: u32, values: &[(f64, f64)]) -> Curve {
    let points = values
        .iter()
        .enumerate()
        .map(|(index, &(loss, alignment))| CurvePoint {
            epoch: first + index as u32,
            loss,
            alignment,
        })
        .collect();
    Curve::new(name, points)
}

/// The baseline the figure tests share: losses 10, 8, 6, 5, 5, 5.5, 6 (minimum 5 first at
/// epoch 4, tied at 5), alignments 0.1 to 0.7.
#[cfg(test)]
pub(crate) fn test_baseline() -> Curve {
    test_curve(
        "baseline",
        1,
        &[
            (10.0, 0.1),
            (8.0, 0.2),
            (6.0, 0.3),
            (5.0, 0.4),
            (5.0, 0.5),
            (5.5, 0.6),
            (6.0, 0.7),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(losses: &[f64]) -> Curve {
        let points = losses
            .iter()
            .enumerate()
            .map(|(index, &loss)| CurvePoint {
                epoch: index as u32 + 1,
                loss,
                alignment: 0.0,
            })
            .collect();
        Curve::new("test", points)
    }

    #[test]
    fn minimum_ties_go_to_the_first_epoch() {
        let curve = curve(&[3.0, 1.0, 2.0, 1.0]);
        assert_eq!(curve.min_loss_point().map(|point| point.epoch), Some(2));
        assert_eq!(curve.at(3).map(|point| point.loss), Some(2.0));
        assert_eq!(curve.at(9), None);
        assert_eq!(curve.last_epoch(), Some(4));
    }
}
