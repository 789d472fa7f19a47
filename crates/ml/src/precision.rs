//! The floating-point precision training runs in: `--precision f32|bf16`.
//!
//! `f32` is the paper's precision and the only one implemented. `bf16` is accepted by name so
//! that asking for it gets a clear refusal ([`Precision::check`]) instead of a parse error:
//! mixed precision as a paper-scale GPU run would use it (bf16 matrix products, f32 master
//! weights and f32 AdamW state) needs support that burn 0.21 does not give (see
//! [`BF16_NOT_IMPLEMENTED`]).

use std::fmt;
use std::str::FromStr;

/// Why `bf16` is refused: what burn 0.21 lacks, and what an implementation would take.
pub const BF16_NOT_IMPLEMENTED: &str = "bf16 mixed precision is not implemented: burn 0.21 has \
    no automatic mixed precision (an open feature request, tracel-ai/burn#5696), only explicit \
    differentiable casts (`Tensor::cast`), and its CubeCL backends do not promote mixed bf16/f32 \
    operands (a binary kernel takes the left operand's dtype); keeping f32 master weights and AdamW state would need a cast at every \
    op of CLIP, DoRA and CLIP-HBA (bf16 matrix products, f32 layer norm, softmax and loss), \
    and NdArray, on which the tests run, has no bf16 to check that code against";

/// A training precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// IEEE single precision everywhere (the paper's; the default).
    #[default]
    F32,
    /// bf16 mixed precision with f32 master weights (not implemented).
    Bf16,
}

/// A precision that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrecisionError {
    /// Not one of [`Precision::NAMES`].
    Unknown {
        /// What was given.
        name: String,
    },
    /// Known, but not implemented.
    NotImplemented {
        /// The precision.
        precision: Precision,
        /// Why, and what it would take.
        reason: &'static str,
    },
}

impl fmt::Display for PrecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrecisionError::Unknown { name } => {
                write!(f, "unknown precision `{name}`: expected `f32` or `bf16`")
            }
            PrecisionError::NotImplemented { precision, reason } => {
                write!(f, "`--precision {precision}` is refused: {reason}")
            }
        }
    }
}

impl std::error::Error for PrecisionError {}

impl Precision {
    /// Every accepted name.
    pub const NAMES: [&'static str; 2] = ["f32", "bf16"];

    /// Every precision, in the order benchmarks list them.
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::Bf16];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    /// Whether training can run in this precision.
    pub fn check(self) -> Result<(), PrecisionError> {
        match self {
            Precision::F32 => Ok(()),
            Precision::Bf16 => Err(PrecisionError::NotImplemented {
                precision: self,
                reason: BF16_NOT_IMPLEMENTED,
            }),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = PrecisionError;

    fn from_str(name: &str) -> Result<Precision, PrecisionError> {
        match name {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(PrecisionError::Unknown {
                name: name.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_is_the_default_and_bf16_is_refused_with_its_reason() {
        assert_eq!(Precision::default(), Precision::F32);
        for name in Precision::NAMES {
            assert_eq!(name.parse::<Precision>().expect("a name").name(), name);
        }
        assert!(Precision::F32.check().is_ok());
        let message = Precision::Bf16.check().expect_err("refused").to_string();
        assert!(
            message.starts_with("`--precision bf16` is refused: bf16 mixed precision is not implemented: burn 0.21 has no automatic mixed precision"),
            "{message}"
        );
        assert_eq!(
            "fp16"
                .parse::<Precision>()
                .expect_err("unknown")
                .to_string(),
            "unknown precision `fp16`: expected `f32` or `bf16`"
        );
    }
}
