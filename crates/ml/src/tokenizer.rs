//! CLIP's byte-level BPE tokenizer, a port of OpenAI CLIP's `simple_tokenizer.py`.
//!
//! The model turns each of the 66 SPoSE dimension labels into a text prompt, so the token ids
//! must be exactly those the reference tokenizer gives; the tests check every case in
//! `data/clip/tokenizer_cases.json`.
//!
//! What the reference does, and what this port does:
//! - the merges come from `bpe_simple_vocab_16e6.txt.gz`, lines 1..=48894 after the
//!   `#version` header (Python's `merges[1:49152-256-2+1]`);
//! - the vocabulary is the 256 byte symbols, the same with `</w>` appended, one entry per
//!   merge, then `<|startoftext|>` (49406) and `<|endoftext|>` (49407);
//! - text is cleaned (HTML-unescaped twice, whitespace collapsed, stripped, lower-cased),
//!   split by CLIP's regular expression, byte-encoded and merged pair by pair, lowest rank first.
//!
//! The reference also runs `ftfy.fix_text`, which repairs mojibake, straightens curly quotes
//! and applies NFC. Only the quote straightening is reproduced here: the prompts this project
//! tokenizes are plain ASCII labels, and pulling in a Unicode-normalisation table for text that
//! never needs it is not worth the weight. HTML unescaping likewise covers the common entities
//! only (see `html_unescape`).

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use regex::Regex;

/// Number of merges CLIP uses: `49152 - 256 - 2`, i.e. `merges[1:49152-256-2+1]` in Python.
pub const MERGE_COUNT: usize = 49152 - 256 - 2;

/// Size of the vocabulary: 256 bytes, 256 bytes with `</w>`, the merges, and two specials.
pub const VOCAB_SIZE: usize = 512 + MERGE_COUNT + 2;

/// CLIP's split pattern, verbatim from `simple_tokenizer.py` (it is compiled case-insensitive).
const SPLIT_PATTERN: &str =
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

const START_OF_TEXT: &str = "<|startoftext|>";
const END_OF_TEXT: &str = "<|endoftext|>";
const END_OF_WORD: &str = "</w>";

/// Why a tokenizer could not be built, or could not tokenize a text.
#[derive(Debug)]
pub enum TokenizerError {
    /// The vocabulary file could not be opened or decompressed.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The decompressed vocabulary is not UTF-8.
    NotUtf8 { path: PathBuf },
    /// The vocabulary holds fewer merge lines than CLIP uses.
    TooFewMerges {
        path: PathBuf,
        found: usize,
        expected: usize,
    },
    /// A merge line is not two symbols separated by a space.
    MalformedMerge {
        path: PathBuf,
        line: usize,
        content: String,
    },
    /// The text needs more tokens than the context holds.
    TooLong {
        text: String,
        tokens: usize,
        context_length: usize,
    },
    /// A token id that is not in the vocabulary was given to [`Tokenizer::decode`].
    UnknownId { id: u32 },
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => {
                write!(
                    f,
                    "cannot read bpe vocabulary `{}`: {source}",
                    path.display()
                )
            }
            Self::NotUtf8 { path } => {
                write!(f, "bpe vocabulary `{}` is not utf-8 text", path.display())
            }
            Self::TooFewMerges {
                path,
                found,
                expected,
            } => write!(
                f,
                "bpe vocabulary `{}` has {found} merge lines, clip needs {expected}",
                path.display()
            ),
            Self::MalformedMerge {
                path,
                line,
                content,
            } => write!(
                f,
                "bpe vocabulary `{}` line {line}: expected two symbols separated by a space, \
                 found `{content}`",
                path.display()
            ),
            Self::TooLong {
                text,
                tokens,
                context_length,
            } => write!(
                f,
                "text `{text}` needs {tokens} tokens (with start and end), \
                 more than the context length {context_length}"
            ),
            Self::UnknownId { id } => write!(f, "token id `{id}` is not in the clip vocabulary"),
        }
    }
}

impl std::error::Error for TokenizerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// CLIP's BPE tokenizer, ready to encode text.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    /// Vocabulary id of each byte's symbol.
    byte_ids: [u32; 256],
    /// Vocabulary id of each byte's symbol with `</w>`, the form a word's last byte takes.
    end_of_word_ids: [u32; 256],
    /// For each pair of adjacent symbol ids: the merge rank (lower merges first) and the id of
    /// the merged symbol. Working on ids instead of strings avoids allocating in the hot loop.
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// Vocabulary entry of each id, for [`Tokenizer::decode`].
    decoder: Vec<String>,
    /// Inverse of `bytes_to_unicode`, for [`Tokenizer::decode`].
    byte_decoder: HashMap<char, u8>,
    split: Regex,
    sot: u32,
    eot: u32,
}

impl Tokenizer {
    /// Reads CLIP's `bpe_simple_vocab_16e6.txt.gz`.
    pub fn from_gz_file(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        let read_error = |source| TokenizerError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = fs::File::open(path).map_err(read_error)?;
        let mut bytes = Vec::new();
        GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        let text = String::from_utf8(bytes).map_err(|_| TokenizerError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        Self::from_merges_text(&text, path)
    }

    /// Builds the tokenizer from the decompressed vocabulary text; `path` is only for errors.
    fn from_merges_text(text: &str, path: &Path) -> Result<Self, TokenizerError> {
        // Python splits on '\n' only, so a trailing '\r' would be part of a symbol there too;
        // the real file has none.
        let lines: Vec<&str> = text.split('\n').collect();
        let found = lines.len().saturating_sub(1);
        if found < MERGE_COUNT {
            return Err(TokenizerError::TooFewMerges {
                path: path.to_path_buf(),
                found,
                expected: MERGE_COUNT,
            });
        }
        let mut merge_pairs = Vec::with_capacity(MERGE_COUNT);
        for (index, line) in lines.iter().enumerate().skip(1).take(MERGE_COUNT) {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(first), Some(second), None) => merge_pairs.push((first, second)),
                _ => {
                    return Err(TokenizerError::MalformedMerge {
                        path: path.to_path_buf(),
                        // 1-based, counting the header, as an editor shows it.
                        line: index + 1,
                        content: (*line).to_string(),
                    });
                }
            }
        }

        let byte_symbols = bytes_to_unicode();
        let mut decoder: Vec<String> = Vec::with_capacity(VOCAB_SIZE);
        decoder.extend(byte_symbols.iter().map(|(_, symbol)| symbol.to_string()));
        decoder.extend(
            byte_symbols
                .iter()
                .map(|(_, symbol)| format!("{symbol}{END_OF_WORD}")),
        );
        decoder.extend(
            merge_pairs
                .iter()
                .map(|(first, second)| format!("{first}{second}")),
        );
        decoder.push(START_OF_TEXT.to_string());
        decoder.push(END_OF_TEXT.to_string());

        // Python builds `dict(zip(vocab, range(len(vocab))))`, so if a string appeared twice
        // the later id would win; inserting in order with overwrite reproduces that.
        let mut encoder: HashMap<&str, u32> = HashMap::with_capacity(decoder.len());
        for (id, entry) in decoder.iter().enumerate() {
            encoder.insert(entry.as_str(), id as u32);
        }

        // Looked up rather than computed (id, id + 256) so that a vocabulary whose merges
        // repeat a byte symbol's string maps it to the same id as the reference would.
        let mut byte_ids = [0u32; 256];
        let mut end_of_word_ids = [0u32; 256];
        let mut byte_decoder = HashMap::with_capacity(256);
        for &(byte, symbol) in &byte_symbols {
            byte_ids[usize::from(byte)] = encoder[symbol.encode_utf8(&mut [0; 4]) as &str];
            end_of_word_ids[usize::from(byte)] = encoder[format!("{symbol}{END_OF_WORD}").as_str()];
            byte_decoder.insert(symbol, byte);
        }

        let mut merges = HashMap::with_capacity(MERGE_COUNT);
        for (rank, (first, second)) in merge_pairs.iter().enumerate() {
            // A merge whose halves are not vocabulary entries can never apply: every symbol of
            // a word is a byte symbol or the result of an earlier merge.
            let (Some(&first_id), Some(&second_id)) = (encoder.get(first), encoder.get(second))
            else {
                continue;
            };
            let merged = format!("{first}{second}");
            let merged_id = encoder[merged.as_str()];
            // Later duplicates win, as in Python's `dict(zip(merges, range(...)))`.
            merges.insert((first_id, second_id), (rank as u32, merged_id));
        }

        let sot = encoder[START_OF_TEXT];
        let eot = encoder[END_OF_TEXT];
        // The pattern is a constant that the tests compile, so failing here is a bug in this
        // file, not something a user can cause.
        let split = Regex::new(&format!("(?i){SPLIT_PATTERN}"))
            .expect("clip's split pattern is a valid regular expression");
        Ok(Self {
            byte_ids,
            end_of_word_ids,
            merges,
            decoder,
            byte_decoder,
            split,
            sot,
            eot,
        })
    }

    /// Id of `<|startoftext|>` (49406).
    pub fn sot(&self) -> u32 {
        self.sot
    }

    /// Id of `<|endoftext|>` (49407).
    pub fn eot(&self) -> u32 {
        self.eot
    }

    /// Number of entries in the vocabulary (49408).
    pub fn vocab_size(&self) -> usize {
        self.decoder.len()
    }

    /// Token ids of `text`, without the start and end tokens (CLIP's `encode`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = clean(text);
        let mut ids = Vec::new();
        for piece in self.split.find_iter(&cleaned) {
            match piece.as_str() {
                // The reference's cache maps the special tokens to themselves, so they are
                // never split by BPE.
                START_OF_TEXT => ids.push(self.sot),
                END_OF_TEXT => ids.push(self.eot),
                word => self.bpe(word.as_bytes(), &mut ids),
            }
        }
        ids
    }

    /// `<|startoftext|>`, the ids of `text`, `<|endoftext|>`, then zeros up to
    /// `context_length` (CLIP's `tokenize` with `truncate=False`).
    pub fn tokenize(&self, text: &str, context_length: usize) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = Vec::with_capacity(context_length);
        ids.push(self.sot);
        ids.extend(self.encode(text));
        ids.push(self.eot);
        if ids.len() > context_length {
            return Err(TokenizerError::TooLong {
                text: text.to_string(),
                tokens: ids.len(),
                context_length,
            });
        }
        ids.resize(context_length, 0);
        Ok(ids)
    }

    /// Text of `ids` (CLIP's `decode`): `</w>` becomes a space, invalid UTF-8 becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let mut bytes = Vec::new();
        for &id in ids {
            let entry = self
                .decoder
                .get(id as usize)
                .ok_or(TokenizerError::UnknownId { id })?;
            for symbol in entry.chars() {
                // Every character of every entry is a byte symbol: the byte symbols cover
                // printable ASCII, which is all that `</w>` and the special tokens use.
                if let Some(&byte) = self.byte_decoder.get(&symbol) {
                    bytes.push(byte);
                }
            }
        }
        Ok(String::from_utf8_lossy(&bytes).replace(END_OF_WORD, " "))
    }

    /// Appends the BPE ids of one pre-split word, given as its UTF-8 bytes.
    fn bpe(&self, word: &[u8], out: &mut Vec<u32>) {
        let Some((&last, rest)) = word.split_last() else {
            return;
        };
        let mut symbols: Vec<u32> = rest
            .iter()
            .map(|&byte| self.byte_ids[usize::from(byte)])
            .collect();
        // The last symbol carries the end-of-word marker.
        symbols.push(self.end_of_word_ids[usize::from(last)]);

        loop {
            // The adjacent pair with the lowest rank merges next, every occurrence at once,
            // left to right, exactly as the reference's `while` loop does.
            let best = symbols
                .windows(2)
                .filter_map(|pair| {
                    self.merges
                        .get(&(pair[0], pair[1]))
                        .map(|&merge| (merge, pair))
                })
                .min_by_key(|&((rank, _), _)| rank);
            let Some(((_, merged_id), pair)) = best else {
                break;
            };
            let (first, second) = (pair[0], pair[1]);
            let mut merged = Vec::with_capacity(symbols.len());
            let mut index = 0;
            while index < symbols.len() {
                if index + 1 < symbols.len()
                    && symbols[index] == first
                    && symbols[index + 1] == second
                {
                    merged.push(merged_id);
                    index += 2;
                } else {
                    merged.push(symbols[index]);
                    index += 1;
                }
            }
            symbols = merged;
            if symbols.len() == 1 {
                break;
            }
        }
        out.extend(symbols);
    }
}

/// GPT-2's reversible byte-to-character table, in the reference's order: printable bytes map
/// to themselves, the rest to U+0100 onwards, so that BPE never sees whitespace or control
/// characters.
fn bytes_to_unicode() -> Vec<(u8, char)> {
    let printable = |byte: u8| matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut table: Vec<(u8, char)> = (0..=255u8)
        .filter(|&byte| printable(byte))
        .map(|byte| (byte, char::from(byte)))
        .collect();
    let unprintable = (0..=255u8).filter(|&byte| !printable(byte));
    for (code, byte) in (256u32..).zip(unprintable) {
        // 256..=323 are all valid scalar values, so this never falls back.
        table.push((
            byte,
            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
        ));
    }
    table
}

/// The reference's `whitespace_clean(basic_clean(text)).lower()`.
fn clean(text: &str) -> String {
    let fixed = uncurl_quotes(text);
    let unescaped = html_unescape(&html_unescape(&fixed));
    let mut collapsed = String::with_capacity(unescaped.len());
    let mut in_space = false;
    for character in unescaped.trim_matches(python_is_space).chars() {
        if python_is_space(character) {
            in_space = true;
        } else {
            if in_space {
                collapsed.push(' ');
                in_space = false;
            }
            collapsed.push(character);
        }
    }
    collapsed.to_lowercase()
}

/// Python's `str.isspace`, which `\s` follows in `re`: Unicode White_Space plus the
/// information separators U+001C..U+001F.
fn python_is_space(character: char) -> bool {
    character.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&character)
}

/// The part of `ftfy.fix_text` that can matter for prompts: curly quotes become straight ones,
/// so that `don’t` splits like `don't`.
fn uncurl_quotes(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' => '"',
            other => other,
        })
        .collect()
}

/// A subset of Python's `html.unescape`: the five XML entities, `&nbsp;`, and decimal or
/// hexadecimal character references. Anything else is left as it is.
fn html_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        match decode_entity(candidate) {
            Some((character, length)) => {
                out.push(character);
                rest = &candidate[length..];
            }
            None => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the entity at the start of `text` (which starts with `&`): the character and the
/// entity's length in bytes.
fn decode_entity(text: &str) -> Option<(char, usize)> {
    let end = text.find(';')?;
    // Entities are short; a far-away `;` belongs to something else.
    if end > 10 {
        return None;
    }
    let name = &text[1..end];
    let character = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse::<u32>().ok()?,
            };
            // Python turns NUL, surrogates and out-of-range values into U+FFFD.
            match char::from_u32(code) {
                Some('\0') | None => char::REPLACEMENT_CHARACTER,
                Some(character) => character,
            }
        }
    };
    Some((character, end + 1))
}

/// Row-major ids of `rows` cut to the columns some row uses (up to the last non-zero id of the
/// longest row; at least one column), and that width. CLIP's text tower is causal and pools at
/// end-of-text, so the cut padding changes nothing of its output; it only costs time (the 66
/// dimension labels use ~10 of 77 columns).
pub fn trim_padding(rows: &[Vec<u32>]) -> (Vec<u32>, usize) {
    let context = rows
        .iter()
        .map(|ids| {
            ids.iter()
                .rposition(|&id| id != 0)
                .map_or(1, |last| last + 1)
        })
        .max()
        .unwrap_or(1);
    let ids = rows
        .iter()
        .flat_map(|ids| ids[..context].iter().copied())
        .collect();
    (ids, context)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    /// Root of the cpbuild repository (this crate is `crates/ml`).
    fn repo_root() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    fn clip_tokenizer() -> Tokenizer {
        let path = repo_root().join("data/clip/bpe_simple_vocab_16e6.txt.gz");
        match Tokenizer::from_gz_file(&path) {
            Ok(tokenizer) => tokenizer,
            Err(error) => panic!("{error}"),
        }
    }

    fn write_gz(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        fs::write(&path, encoder.finish().unwrap()).unwrap();
        path
    }

    #[test]
    fn matches_every_reference_case() {
        let tokenizer = clip_tokenizer();
        let cases_path = repo_root().join("data/clip/tokenizer_cases.json");
        let cases: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(cases_path).unwrap()).unwrap();
        let context_length = cases["context_length"].as_u64().unwrap() as usize;
        assert_eq!(cases["sot"].as_u64(), Some(u64::from(tokenizer.sot())));
        assert_eq!(cases["eot"].as_u64(), Some(u64::from(tokenizer.eot())));
        let cases = cases["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 72);
        for case in cases {
            let text = case["text"].as_str().unwrap();
            let expected: Vec<u32> = case["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_u64().unwrap() as u32)
                .collect();
            let padded = tokenizer.tokenize(text, context_length).unwrap();
            assert_eq!(padded.len(), context_length);
            assert_eq!(&padded[..expected.len()], &expected[..], "text {text:?}");
            assert!(
                padded[expected.len()..].iter().all(|&id| id == 0),
                "text {text:?}"
            );
            assert_eq!(
                tokenizer.encode(text),
                expected[1..expected.len() - 1],
                "text {text:?}"
            );
        }
    }

    #[test]
    fn special_ids_and_vocab_size_are_clips() {
        let tokenizer = clip_tokenizer();
        assert_eq!(tokenizer.sot(), 49406);
        assert_eq!(tokenizer.eot(), 49407);
        assert_eq!(tokenizer.vocab_size(), 49408);
        assert_eq!(VOCAB_SIZE, 49408);
    }

    #[test]
    fn special_tokens_in_text_are_kept_whole() {
        let tokenizer = clip_tokenizer();
        assert_eq!(tokenizer.encode("<|startoftext|>"), vec![49406]);
        assert_eq!(tokenizer.encode("a <|EndOfText|>"), vec![320, 49407]);
    }

    #[test]
    fn whitespace_and_case_do_not_change_ids() {
        let tokenizer = clip_tokenizer();
        let plain = tokenizer.encode("a photo of a cat.");
        assert_eq!(tokenizer.encode("  A\tPHOTO \n\n of a   Cat. "), plain);
        assert_eq!(tokenizer.encode("a\u{1f}photo of a cat."), plain);
    }

    #[test]
    fn curly_quotes_and_entities_are_cleaned_like_the_reference() {
        let tokenizer = clip_tokenizer();
        assert_eq!(tokenizer.encode("don\u{2019}t"), tokenizer.encode("don't"));
        assert_eq!(
            tokenizer.encode("salt &amp; pepper"),
            tokenizer.encode("salt & pepper")
        );
        // Unescaped twice, as the reference does.
        assert_eq!(
            tokenizer.encode("salt &amp;amp; pepper"),
            tokenizer.encode("salt & pepper")
        );
        assert_eq!(tokenizer.encode("&#39;s &#x41;"), tokenizer.encode("'s a"));
        assert_eq!(
            tokenizer.encode("AT&T; &bogus;"),
            tokenizer.encode("at&t; &bogus;")
        );
    }

    #[test]
    fn decode_inverts_encode_up_to_cleaning() {
        let tokenizer = clip_tokenizer();
        let ids = tokenizer.tokenize("Über-naïve café's 🙂", 77).unwrap();
        let end = ids.iter().position(|&id| id == tokenizer.eot()).unwrap();
        assert_eq!(
            tokenizer.decode(&ids[1..end]).unwrap(),
            "über - naïve café 's 🙂 "
        );
        let error = tokenizer.decode(&[49408]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "token id `49408` is not in the clip vocabulary"
        );
    }

    #[test]
    fn byte_symbols_follow_the_reference_order() {
        let tokenizer = clip_tokenizer();
        let table = bytes_to_unicode();
        assert_eq!(table.len(), 256);
        let mut seen: Vec<u8> = table.iter().map(|&(byte, _)| byte).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256);
        // Byte symbols are the first 256 ids, in the reference's order.
        assert_eq!(tokenizer.byte_ids[usize::from(b'!')], 0);
        assert_eq!(tokenizer.byte_ids[0], 188);
        assert_eq!(tokenizer.byte_ids[usize::from(b' ')], 220);
        for byte in 0..256 {
            assert_eq!(
                tokenizer.end_of_word_ids[byte],
                tokenizer.byte_ids[byte] + 256
            );
        }
    }

    #[test]
    fn too_long_text_is_an_error_naming_it() {
        let tokenizer = clip_tokenizer();
        let text = "red ".repeat(80);
        let error = tokenizer.tokenize(&text, 77).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "text `{text}` needs 82 tokens (with start and end), \
                 more than the context length 77"
            )
        );
        // Exactly full is fine: 75 words plus start and end.
        let text = "red ".repeat(75);
        let ids = tokenizer.tokenize(&text, 77).unwrap();
        assert_eq!(ids.len(), 77);
        assert_eq!(ids[76], 49407);
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.txt.gz");
        let error = Tokenizer::from_gz_file(&path).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "cannot read bpe vocabulary `{}`: ",
                path.display()
            )),
            "{message}"
        );
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn file_that_is_not_gzip_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.txt.gz");
        fs::write(&path, "#version: 0.2\ni n\n").unwrap();
        let message = Tokenizer::from_gz_file(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "cannot read bpe vocabulary `{}`: ",
                path.display()
            )),
            "{message}"
        );
    }

    #[test]
    fn non_utf8_vocabulary_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.txt.gz");
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(b"#version: 0.2\n\xff \xfe\n").unwrap();
        fs::write(&path, encoder.finish().unwrap()).unwrap();
        let error = Tokenizer::from_gz_file(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("bpe vocabulary `{}` is not utf-8 text", path.display())
        );
    }

    #[test]
    fn short_vocabulary_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_gz(dir.path(), "short.txt.gz", "#version: 0.2\ni n\nt h\n");
        let error = Tokenizer::from_gz_file(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "bpe vocabulary `{}` has 3 merge lines, clip needs 48894",
                path.display()
            )
        );
    }

    #[test]
    fn malformed_merge_line_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("#version: 0.2\n");
        for index in 0..MERGE_COUNT {
            if index == 41 {
                text.push_str("lonely\n");
            } else {
                text.push_str("a b\n");
            }
        }
        let path = write_gz(dir.path(), "bad.txt.gz", &text);
        let error = Tokenizer::from_gz_file(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "bpe vocabulary `{}` line 43: expected two symbols separated by a space, \
                 found `lonely`",
                path.display()
            )
        );
    }

    #[test]
    fn merges_apply_lowest_rank_first() {
        // A hand-made vocabulary: `a b` outranks `b c`, so "abc" becomes `ab` + `c</w>` and
        // then `ab c</w>` (rank 2) joins them; "bc" alone uses `b c</w>` (rank 3).
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("#version: 0.2\na b\nb c\nab c</w>\nb c</w>\n");
        for _ in 4..MERGE_COUNT {
            text.push_str("x y\n");
        }
        let path = write_gz(dir.path(), "tiny.txt.gz", &text);
        let tokenizer = Tokenizer::from_gz_file(&path).unwrap();
        // Later duplicates of `x y` win, as in the reference's dict.
        assert_eq!(
            tokenizer.merges[&(
                tokenizer.byte_ids[usize::from(b'x')],
                tokenizer.byte_ids[usize::from(b'y')]
            )]
                .0,
            MERGE_COUNT as u32 - 1
        );
        // The merged string `xy` appears many times; like the reference's dict, the last id wins.
        assert_eq!(
            tokenizer.encode("xyz"),
            vec![
                512 + MERGE_COUNT as u32 - 1,
                tokenizer.end_of_word_ids[usize::from(b'z')]
            ]
        );
        assert_eq!(tokenizer.encode("abc"), vec![512 + 2]);
        assert_eq!(tokenizer.encode("bc"), vec![512 + 3]);
        assert_eq!(
            tokenizer.encode("ca"),
            vec![
                tokenizer.byte_ids[usize::from(b'c')],
                tokenizer.end_of_word_ids[usize::from(b'a')]
            ]
        );
    }
}
