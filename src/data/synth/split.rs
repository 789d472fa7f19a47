//! Which concepts things-synth trains on: a deterministic subset of the training file, held
//! apart from the RSA concepts.

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use super::SYNTH_VERSION;
use super::keys::{fnv1a, rng_key};

/// A deterministic subset of `size` elements of `pool` (all of it if `size` is larger), sorted:
/// the training concepts of the `ci` profile.
///
/// The pool is shuffled with Fisher–Yates driven by a [`ChaCha8Rng`] keyed by
/// `rng_key(fnv1a("cpbuild/things-synth/v1/subset"), seed, 0)`; the index for a range of `n`
/// is the high half of `next_u64() × n` (bias below 2⁻⁵⁰, and fixed).
pub fn training_subset(pool: &[usize], size: usize, seed: u64) -> Vec<usize> {
    let tag = fnv1a(format!("{SYNTH_VERSION}/subset").as_bytes());
    let mut rng = ChaCha8Rng::from_seed(rng_key(tag, seed, 0));
    let mut shuffled = pool.to_vec();
    for i in (1..shuffled.len()).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        shuffled.swap(i, j);
    }
    shuffled.truncate(size);
    shuffled.sort_unstable();
    shuffled
}

/// Checks that no training concept is one of the RSA concepts; the error lists the overlap.
pub fn assert_disjoint(train_indices: &[usize], rsa_indices: &[usize]) -> Result<(), String> {
    let rsa: BTreeSet<usize> = rsa_indices.iter().copied().collect();
    let overlap: BTreeSet<usize> = train_indices
        .iter()
        .copied()
        .filter(|index| rsa.contains(index))
        .collect();
    if overlap.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = overlap.iter().map(usize::to_string).collect();
    Err(format!(
        "{} training concept(s) are also RSA concepts, which must be held out: {}",
        overlap.len(),
        listed.join(", ")
    ))
}
