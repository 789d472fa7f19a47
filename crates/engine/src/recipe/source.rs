//! A recipe file's text, and the mapping from byte offsets to `line:column`.

use std::ops::Range;
use std::path::PathBuf;

use crate::error::Location;

/// One loaded recipe file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as shown to users (relative to the project root).
    pub display_path: PathBuf,
    /// The file's text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps `text`, read from `display_path`.
    pub fn new(display_path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            display_path,
            text,
            line_starts,
        }
    }

    /// The location of the start of `span`.
    pub fn location(&self, span: &Range<usize>) -> Location {
        let offset = span.start.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = self.text[line_start..offset].chars().count() + 1;
        Location {
            file: self.display_path.clone(),
            line: line_index + 1,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let source = SourceFile::new("r.toml".into(), "a = 1\nbé = 2\n".into());
        assert_eq!(source.location(&(0..1)).to_string(), "r.toml:1:1");
        assert_eq!(source.location(&(6..7)).to_string(), "r.toml:2:1");
        // `=` after a two-byte character is the 4th character of line 2.
        assert_eq!(source.location(&(10..11)).to_string(), "r.toml:2:4");
    }
}
