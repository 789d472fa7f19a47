//! Deterministic trigonometry for the renderer: the same bits on every platform.

/// Sine, as a fixed polynomial after exact range reduction, so that every platform gets the
/// same bits (the platform `sin` may differ in the last place). Error below 4e-6.
pub fn sin(x: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, PI, TAU};
    let mut r = x - (x / TAU + 0.5).floor() * TAU; // in [-π, π]
    if r > FRAC_PI_2 {
        r = PI - r;
    } else if r < -FRAC_PI_2 {
        r = -PI - r;
    }
    let r2 = r * r;
    // Taylor series to r⁹ in nested form; |r| ≤ π/2.
    r * (1.0 - r2 / 6.0 * (1.0 - r2 / 20.0 * (1.0 - r2 / 42.0 * (1.0 - r2 / 72.0))))
}

/// Cosine via [`sin`].
pub fn cos(x: f64) -> f64 {
    sin(x + std::f64::consts::FRAC_PI_2)
}
