//! all-MiniLM-L6-v2 in plain Rust, for the local runtime's sentence embedder.
//!
//! - [`Tokenizer`]: BERT's WordPiece tokenizer as the model's `tokenizer.json`
//!   describes it (normalise, split on whitespace and punctuation, greedy
//!   longest-match word pieces, `[CLS] … [SEP]`), giving the ids Hugging
//!   Face's tokenizers library gives (tests/tokenizer.rs checks 325 texts);
//! - [`MiniLm`]: the fp32 BERT encoder from `config.json` and
//!   `model.safetensors`, attention-masked mean pooling and L2 normalisation
//!   (what sentence-transformers does for this model).
//!
//! The crate is small on purpose: it replaces candle and tokenizers, which
//! took about 170 s of the test build's CPU for one model's forward pass. It
//! is compiled at -O3 even in debug builds (the workspace's Cargo.toml), as
//! every search query in the tests goes through it.

mod model;
mod tokenizer;

pub use model::{Config, MiniLm};

/// The longest input in word pieces, `[CLS]` and `[SEP]` included: the length
/// all-MiniLM-L6-v2 was trained with. Both local engines truncate to it.
pub const MAX_TOKENS: usize = 256;
pub use tokenizer::Tokenizer;

/// Why a model or tokenizer file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Format { file: String, message: String },
}

impl Error {
    fn format(file: &str, message: impl Into<String>) -> Self {
        Self::Format {
            file: file.to_string(),
            message: message.into(),
        }
    }
}
