//! Machine-learning pieces that do not need a tensor library: CLIP's tokenizer, RSA, and the
//! deterministic bookkeeping of training (random streams, splits, perturbations, early
//! stopping, results tables).

pub mod early_stopping;
pub mod perturbation;
pub mod results;
pub mod rsa;
pub mod split;
pub mod streams;
pub mod tokenizer;
