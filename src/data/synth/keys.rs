//! Keyed randomness of things-synth: the ChaCha key of each picture (and of the training
//! subset) from the version tag, the seed and an index, by explicit integer mixing.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::SYNTH_VERSION;

/// The picture's random generator, keyed as the module documentation says.
pub(super) fn picture_rng(seed: u64, concept_index: usize) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(rng_key(
        fnv1a(SYNTH_VERSION.as_bytes()),
        seed,
        concept_index as u64,
    ))
}

/// A ChaCha key from a domain `tag` and two values: four words
/// `mix(mix(mix(tag ⊕ k) ⊕ a) ⊕ b)`, little-endian. Explicit integer mixing rather than a
/// cryptographic hash: the key only has to be fixed and well spread, not secret.
pub fn rng_key(tag: u64, a: u64, b: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    for (k, word) in key.chunks_exact_mut(8).enumerate() {
        let value = mix64(mix64(mix64(tag ^ k as u64) ^ a) ^ b);
        word.copy_from_slice(&value.to_le_bytes());
    }
    key
}

/// 64-bit FNV-1a: turns the version string into the domain tag of the keys.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// SplitMix64's finaliser: a fixed, well-mixed hash of integers.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
