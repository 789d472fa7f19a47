//! An owned TOML value tree that remembers where every value came from.
//!
//! `toml`'s `DeTable` keeps spans but borrows the text; recipes outlive parsing, so the tree
//! is converted once into [`Node`]s that carry their file and byte span.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Index of a file in [`super::Recipes::files`].
pub type FileId = usize;

/// A TOML value with its origin.
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: NodeValue,
    /// Which recipe file.
    pub file: FileId,
    /// Byte span of the value in that file.
    pub span: Range<usize>,
}

/// A table entry: the key's span is kept for errors about the key itself.
#[derive(Debug, Clone)]
pub struct TableEntry {
    /// Byte span of the key.
    pub key_span: Range<usize>,
    /// The value.
    pub node: Node,
}

/// The TOML value kinds.
#[derive(Debug, Clone)]
pub enum NodeValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// Datetimes are kept as their TOML text.
    Datetime(String),
    Array(Vec<Node>),
    Table(BTreeMap<String, TableEntry>),
}

impl Node {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::String(_) => "a string",
            NodeValue::Integer(_) => "an integer",
            NodeValue::Float(_) => "a float",
            NodeValue::Boolean(_) => "a boolean",
            NodeValue::Datetime(_) => "a datetime",
            NodeValue::Array(_) => "an array",
            NodeValue::Table(_) => "a table",
        }
    }

    /// The table's entries, if this is a table.
    pub fn as_table(&self) -> Option<&BTreeMap<String, TableEntry>> {
        match &self.value {
            NodeValue::Table(table) => Some(table),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Converts a parsed document into a [`Node`] table.
pub fn from_document(document: &Spanned<DeTable<'_>>, file: FileId) -> Result<Node, ConvertError> {
    Ok(Node {
        value: table(document.get_ref(), file)?,
        file,
        span: document.span(),
    })
}

/// A value TOML accepts but cpbuild cannot represent (an integer beyond i64, say).
#[derive(Debug)]
pub struct ConvertError {
    /// Where.
    pub span: Range<usize>,
    /// What.
    pub message: String,
}

fn table(table: &DeTable<'_>, file: FileId) -> Result<NodeValue, ConvertError> {
    let mut entries = BTreeMap::new();
    for (key, value) in table.iter() {
        entries.insert(
            key.get_ref().to_string(),
            TableEntry {
                key_span: key.span(),
                node: node(value, file)?,
            },
        );
    }
    Ok(NodeValue::Table(entries))
}

fn node(value: &Spanned<DeValue<'_>>, file: FileId) -> Result<Node, ConvertError> {
    let span = value.span();
    let converted = match value.get_ref() {
        DeValue::String(s) => NodeValue::String(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => NodeValue::Integer(n),
                Err(_) => {
                    return Err(ConvertError {
                        span,
                        message: format!("integer `{}` does not fit in 64 bits", i.as_str()),
                    });
                }
            }
        }
        DeValue::Float(f) => {
            let text = f.as_str().replace('_', "");
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => NodeValue::Float(x),
                _ => {
                    return Err(ConvertError {
                        span,
                        message: format!(
                            "float `{}` is not finite; recipes hold finite numbers only",
                            f.as_str()
                        ),
                    });
                }
            }
        }
        DeValue::Boolean(b) => NodeValue::Boolean(*b),
        DeValue::Datetime(d) => NodeValue::Datetime(d.to_string()),
        DeValue::Array(items) => NodeValue::Array(
            items
                .iter()
                .map(|item| node(item, file))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => table(t, file)?,
    };
    Ok(Node {
        value: converted,
        file,
        span,
    })
}
