//! A figure's table, written as a deterministic CSV.
//!
//! Every figure writes the numbers it plots, so that a figure can be checked (and compared with
//! a golden copy) without looking at pixels. The CSV is byte-deterministic: columns in a fixed
//! order, `\n` line ends, numbers in Rust's shortest round-trip form (they parse back to the
//! exact `f64`), very small or large magnitudes in exponent form (`1e-300`), the same rule as
//! the results CSVs of training ([`crate::ml::results::number`]).

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An integer (epochs, lengths).
    Integer(i64),
    /// A real number.
    Number(f64),
    /// A word (model, perturbation, sign).
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// Nothing (an undefined value, e.g. the recovery epoch of a run that never recovered).
    Empty,
}

impl Cell {
    fn write(&self, out: &mut String) {
        match self {
            Cell::Integer(value) => out.push_str(&value.to_string()),
            Cell::Number(value) => out.push_str(&number(*value)),
            Cell::Text(text) => out.push_str(&quoted(text)),
            Cell::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Cell::Empty => {}
        }
    }
}

impl From<u32> for Cell {
    fn from(value: u32) -> Self {
        Cell::Integer(i64::from(value))
    }
}

impl From<f64> for Cell {
    fn from(value: f64) -> Self {
        Cell::Number(value)
    }
}

impl From<bool> for Cell {
    fn from(value: bool) -> Self {
        Cell::Bool(value)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::Text(text.to_string())
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Self {
        value.map_or(Cell::Empty, Into::into)
    }
}

/// Named columns and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names, in output order.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|name| name.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per column (a programming error otherwise).
    pub fn push(&mut self, row: Vec<Cell>) {
        assert_eq!(
            row.len(),
            self.columns.len(),
            "a row of a figure table must have one cell per column"
        );
        self.rows.push(row);
    }

    /// The CSV text: header, then one line per row, every line ending in `\n`.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|name| quoted(name)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            for (index, cell) in row.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                cell.write(&mut out);
            }
            out.push('\n');
        }
        out
    }
}

/// A number as the figure CSVs write it: shortest round-trip, exponent form outside
/// [1e-5, 1e16).
pub fn number(value: f64) -> String {
    crate::ml::results::number(value)
}

/// Quotes text only when CSV needs it (a comma, quote or line break), so ordinary words stay
/// bare.
fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_kind_of_cell() {
        let mut table = Table::new(&["epoch", "value", "word", "flag", "missing"]);
        table.push(vec![
            3u32.into(),
            0.1.into(),
            "a,b".into(),
            true.into(),
            None::<u32>.into(),
        ]);
        table.push(vec![
            Cell::Integer(-1),
            1e-300.into(),
            "x".into(),
            false.into(),
            Some(7u32).into(),
        ]);
        assert_eq!(
            table.to_csv(),
            "epoch,value,word,flag,missing\n3,0.1,\"a,b\",true,\n-1,1e-300,x,false,7\n"
        );
    }

    #[test]
    fn numbers_round_trip() {
        for value in [0.1 + 0.2, -0.0012345678901234567, 123456.789, 2e20, 3e-7] {
            assert_eq!(number(value).parse::<f64>().unwrap(), value);
        }
        assert_eq!(number(2e20), "2e20");
        assert_eq!(number(-0.5), "-0.5");
    }
}
