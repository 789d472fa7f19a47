//! Machine-learning pieces that do not need a tensor library: CLIP's tokenizer and RSA.

pub mod rsa;
pub mod tokenizer;
