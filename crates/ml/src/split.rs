//! The train/test split of the training pool and the order of each training epoch.
//!
//! The paper splits the 1,806-concept pool into 1,444 train and 362 test concepts once, from
//! the run seed, and saves the indices. Here the split is a permutation drawn from the
//! `Split` stream, so it is reproducible from the seed alone (`docs/protocol.md`, "Split and
//! shuffle from framework RNG internals") and is still saved in every run's bundle. Each
//! epoch's training order is a permutation drawn from the `Loader` stream keyed by the epoch, so
//! a run resumed at epoch k sees exactly the batches the uninterrupted run saw, with no
//! generator state to carry.

use serde::{Deserialize, Serialize};

use super::streams::{Purpose, permutation, stream};

/// Positions into the training pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Training positions, in draw order.
    pub train: Vec<usize>,
    /// Test positions, in draw order.
    pub test: Vec<usize>,
}

impl Split {
    /// Splits a pool of `pool` items into `train` + `test` (which must not exceed the pool).
    pub fn draw(pool: usize, train: usize, test: usize, seed: u64) -> Result<Split, String> {
        if train + test > pool {
            return Err(format!(
                "a split of {train} train + {test} test needs {} items, but the pool has {pool}",
                train + test
            ));
        }
        let order = permutation(&mut stream(seed, Purpose::Split, 0, 0), pool);
        Ok(Split {
            train: order[..train].to_vec(),
            test: order[train..train + test].to_vec(),
        })
    }
}

/// The batches of training positions (indices into `split.train`) for `epoch` (1-based).
pub fn epoch_batches(
    train_len: usize,
    batch_size: usize,
    seed: u64,
    epoch: u32,
) -> Vec<Vec<usize>> {
    let order = permutation(
        &mut stream(seed, Purpose::Loader, u64::from(epoch), 0),
        train_len,
    );
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_disjoint_complete_and_reproducible() {
        let split = Split::draw(1806, 1444, 362, 0).unwrap();
        assert_eq!(split.train.len(), 1444);
        assert_eq!(split.test.len(), 362);
        let mut all: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1806).collect::<Vec<_>>());
        assert_eq!(split, Split::draw(1806, 1444, 362, 0).unwrap());
        assert_ne!(split, Split::draw(1806, 1444, 362, 1).unwrap());
        assert!(Split::draw(10, 8, 3, 0).is_err());
    }

    #[test]
    fn epochs_have_their_own_order_and_full_coverage() {
        let one = epoch_batches(1444, 64, 0, 1);
        assert_eq!(one.len(), 23);
        assert_eq!(one.last().unwrap().len(), 1444 - 22 * 64);
        assert_ne!(one, epoch_batches(1444, 64, 0, 2));
        assert_eq!(one, epoch_batches(1444, 64, 0, 1));
    }
}
