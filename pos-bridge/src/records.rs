//! Records of an ERP file, whatever its dialect: separated fields (with
//! quotes holding separators and line ends) or fixed-width columns.
//!
//! The reader streams, one record at a time with one read ahead. The read
//! ahead is what lets it tell the last record of a finished file from a last
//! line that a writer still at work has not finished: such a line has no
//! line end and fewer fields than the header, and is reported as
//! [`RecordError::IncompleteLastLine`] rather than as a bad value, so the
//! caller can wait and read the file again.
//!
//! A record whose shape is wrong (too many or too few fields, a fixed-width
//! line longer than the declared columns) still comes out, with its
//! [`ShapeProblem`]: the caller decides what to hold, and no field is ever
//! read from a shifted position.

use std::io::{self, BufRead, BufReader, Read};

use crate::dialect::{Dialect, FixedWidth};
use crate::text::{self, Text};

/// The source with its first bytes read ahead for the encoding check.
pub type Sniffed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// How much of the file is looked at to tell UTF-8 from a single-byte code page.
const SNIFF_BYTES: u64 = 64 * 1024;

/// A failure that stops reading the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file is UTF-8 while the site declares a single-byte code page.
    #[error(
        "the file is UTF-8 but the site's dialect says {declared}: accents would be garbled; \
             fix the dialect or the ERP's export setting"
    )]
    Encoding {
        /// The encoding the dialect declares.
        declared: String,
    },
    /// The file is empty or has no header.
    #[error("the file is empty: expected a header row")]
    Empty,
    /// The file's own `sep=` line names another separator than the dialect.
    #[error("line 1: expected sep={declared:?} (the site's separator), found {found:?}")]
    SeparatorLine {
        /// The dialect's separator.
        declared: char,
        /// The line as written.
        found: String,
    },
    /// The dialect itself cannot be used.
    #[error("the site's dialect: {0}")]
    Dialect(String),
    /// The last line has no line end and is shorter than a record: the
    /// writer has not finished the file.
    #[error(
        "line {line}: incomplete last line, the file is still being written \
         (expected {expected}, found {found} and no line end)"
    )]
    IncompleteLastLine {
        /// Line where the unfinished record starts.
        line: u64,
        /// What a whole record has.
        expected: String,
        /// What the unfinished one has.
        found: String,
    },
    /// The CSV layer failed (I/O or an unreadable record).
    #[error("line {line}: {source}")]
    Csv {
        /// Line where reading failed.
        line: u64,
        /// The CSV reader's error.
        source: csv::Error,
    },
    /// Reading the file failed.
    #[error("line {line}: reading the file: {source}")]
    Io {
        /// Line being read.
        line: u64,
        /// The operating system's error.
        source: io::Error,
    },
}

impl RecordError {
    /// Is this only a file not finished yet, worth reading again later?
    pub fn is_still_being_written(&self) -> bool {
        matches!(self, RecordError::IncompleteLastLine { .. })
    }
}

/// What is wrong with the shape of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeProblem {
    /// The column concerned, when it is one.
    pub column: Option<String>,
    /// What the record should look like.
    pub expected: String,
    /// What it looks like.
    pub found: String,
}

/// One record with the line it starts on.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based line of the file where the record starts.
    pub line: u64,
    /// The fields, untrimmed for CSV, trimmed of padding for fixed width.
    pub fields: csv::StringRecord,
    /// Set when the record does not have the header's shape.
    pub shape: Option<ShapeProblem>,
    /// Characters of a fixed-width line, for the last-line check.
    chars: usize,
}

impl Record {
    /// Field `index`, or `""` when the record is too short.
    pub fn get(&self, index: usize) -> &str {
        self.fields.get(index).unwrap_or("")
    }
}

enum Rows<R: Read> {
    Csv {
        reader: csv::Reader<Text<R>>,
    },
    Fixed {
        lines: BufReader<Text<R>>,
        layout: FixedWidth,
        line: u64,
    },
}

/// Streams the records of a file in a [`Dialect`]. The header (the first
/// record, or the declared column names for fixed width) is read by
/// [`RecordReader::new`].
pub struct RecordReader<R: Read> {
    rows: Rows<R>,
    header: Vec<String>,
    /// 1 when a `sep=` line was skipped: csv counts from the line after it.
    line_offset: u64,
    ahead: Option<Result<Record, RecordError>>,
}

impl<R: Read> RecordReader<R> {
    /// Checks the encoding, reads the header and prepares to stream records.
    pub fn new(source: R, dialect: &Dialect) -> Result<RecordReader<Sniffed<R>>, RecordError> {
        let source = sniff_encoding(source, dialect)?;
        let (first, text) = text::open(source, dialect.encoding)
            .map_err(|source| RecordError::Io { line: 1, source })?;
        match &dialect.fixed_width {
            Some(layout) => RecordReader::fixed(text, layout),
            None => RecordReader::separated(first, text, dialect),
        }
    }

    fn separated(
        first: Vec<u8>,
        text: Text<R>,
        dialect: &Dialect,
    ) -> Result<RecordReader<R>, RecordError> {
        let separator = u8::try_from(dialect.separator)
            .ok()
            .filter(u8::is_ascii)
            .ok_or_else(|| {
                let found = dialect.separator;
                RecordError::Dialect(format!(
                    "separator: expected one ASCII character, found {found:?}"
                ))
            })?;
        let skip = excel_separator_line(&first, dialect.separator)?;
        let text = if skip {
            text::skip_first_line(text)
        } else {
            text
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut header = csv::StringRecord::new();
        let line = u64::from(skip) + 1;
        let found = reader
            .read_record(&mut header)
            .map_err(|source| RecordError::Csv { line, source })?;
        if !found {
            return Err(RecordError::Empty);
        }
        Ok(RecordReader {
            rows: Rows::Csv { reader },
            header: header.iter().map(|h| h.trim().to_string()).collect(),
            line_offset: u64::from(skip),
            ahead: None,
        })
    }

    fn fixed(text: Text<R>, layout: &FixedWidth) -> Result<RecordReader<R>, RecordError> {
        layout.check().map_err(RecordError::Dialect)?;
        let mut lines = BufReader::new(text);
        let mut line = 0;
        if layout.title_line {
            let mut title = Vec::new();
            let n = lines
                .read_until(b'\n', &mut title)
                .map_err(|source| RecordError::Io { line: 1, source })?;
            if n == 0 {
                return Err(RecordError::Empty);
            }
            line = 1;
        }
        Ok(RecordReader {
            header: layout.columns.iter().map(|c| c.name.clone()).collect(),
            rows: Rows::Fixed {
                lines,
                layout: layout.clone(),
                line,
            },
            line_offset: 0,
            ahead: None,
        })
    }

    /// The column names, trimmed.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    fn raw(&mut self) -> Option<Result<Record, RecordError>> {
        let width = self.header.len();
        let offset = self.line_offset;
        match &mut self.rows {
            Rows::Csv { reader } => {
                let mut fields = csv::StringRecord::new();
                match reader.read_record(&mut fields) {
                    Ok(false) => None,
                    Ok(true) => {
                        let line = fields.position().map_or(0, |p| p.line()) + offset;
                        let shape = (fields.len() != width).then(|| ShapeProblem {
                            column: None,
                            expected: format!("{width} fields as in the header"),
                            found: format!("{}", fields.len()),
                        });
                        Some(Ok(Record {
                            line,
                            fields,
                            shape,
                            chars: 0,
                        }))
                    }
                    Err(source) => {
                        let line = source.position().map_or(0, |p| p.line()) + offset;
                        Some(Err(RecordError::Csv { line, source }))
                    }
                }
            }
            Rows::Fixed {
                lines,
                layout,
                line,
            } => next_fixed(lines, layout, line),
        }
    }

    /// Is this record, the last of the file, one that a writer has not
    /// finished?
    fn cut_short(&self, record: &Record) -> Option<RecordError> {
        let (ended, expected, found, short) = match &self.rows {
            Rows::Csv { reader } => {
                let width = self.header.len();
                let found = record.fields.len();
                let expected = format!("{width} fields");
                (
                    reader.get_ref().ended_with_line_end(),
                    expected,
                    format!("{found}"),
                    found < width,
                )
            }
            Rows::Fixed { lines, layout, .. } => {
                let last = layout.columns.iter().map(|c| c.start).max().unwrap_or(1);
                let chars = record.chars;
                let expected = format!("{} characters", layout.line_width());
                (
                    lines.get_ref().ended_with_line_end(),
                    expected,
                    format!("{chars}"),
                    chars < last,
                )
            }
        };
        (!ended && short).then_some(RecordError::IncompleteLastLine {
            line: record.line,
            expected,
            found,
        })
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        let current = match self.ahead.take() {
            Some(current) => current,
            None => self.raw()?,
        };
        let current = match current {
            Ok(record) => record,
            Err(e) => return Some(Err(e)),
        };
        self.ahead = self.raw();
        if self.ahead.is_none() {
            if let Some(cut) = self.cut_short(&current) {
                return Some(Err(cut));
            }
        }
        Some(Ok(current))
    }
}

/// Skips Excel's `sep=X` first line when X is the dialect's separator;
/// refuses it when it names another one.
fn excel_separator_line(first: &[u8], separator: char) -> Result<bool, RecordError> {
    let text = String::from_utf8_lossy(first);
    let bare = text.trim_matches(|c: char| c == '"' || c.is_ascii_whitespace() && c != '\t');
    if !bare
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("sep="))
    {
        return Ok(false);
    }
    // Excel pads the line with separators when the sheet has more columns.
    let named = &bare[4..];
    match named.chars().next() {
        Some(c) if c == separator && named.chars().all(|d| d == separator) => Ok(true),
        _ => Err(RecordError::SeparatorLine {
            declared: separator,
            found: text.into_owned(),
        }),
    }
}

/// Reads the next non-blank fixed-width line and cuts it into fields.
fn next_fixed<B: BufRead>(
    lines: &mut B,
    layout: &FixedWidth,
    line: &mut u64,
) -> Option<Result<Record, RecordError>> {
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        *line += 1;
        match lines.read_until(b'\n', &mut bytes) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(source) => {
                return Some(Err(RecordError::Io {
                    line: *line,
                    source,
                }))
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        if text.trim().is_empty() {
            continue;
        }
        return Some(Ok(cut_fixed(text, layout, *line)));
    }
}

/// Cuts one line at the declared positions. A line may stop short of the
/// last column (writers trim trailing blanks); a line longer than the
/// declared columns, even by a blank, is a shape problem: one character
/// inserted anywhere shifts every field after it and leaves only that trace.
/// A site whose ERP pads its records declares the padding as a column.
fn cut_fixed(text: &str, layout: &FixedWidth, line: u64) -> Record {
    let chars: Vec<char> = text.chars().collect();
    let mut fields = csv::StringRecord::new();
    for column in &layout.columns {
        let start = (column.start - 1).min(chars.len());
        let end = (column.start - 1 + column.width).min(chars.len());
        let value: String = chars[start..end].iter().collect();
        fields.push_field(value.trim_matches(' '));
    }
    let width = layout.line_width();
    let shape = (chars.len() > width).then(|| ShapeProblem {
        column: None,
        expected: format!("at most {width} characters (the declared columns)"),
        found: format!("{} characters", chars.len()),
    });
    Record {
        line,
        fields,
        shape,
        chars: chars.len(),
    }
}

/// Refuses a file declared in a single-byte code page that is in fact UTF-8.
fn sniff_encoding<R: Read>(mut source: R, dialect: &Dialect) -> Result<Sniffed<R>, RecordError> {
    let mut head = Vec::new();
    (&mut source)
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .map_err(|source| RecordError::Io { line: 1, source })?;
    if dialect.encoding.is_single_byte() && text::looks_like_utf8(&head) {
        return Err(RecordError::Encoding {
            declared: format!("{:?}", dialect.encoding),
        });
    }
    Ok(io::Cursor::new(head).chain(source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{Encoding, FixedColumn};

    fn dialect() -> Dialect {
        Dialect {
            encoding: Encoding::Utf8,
            ..Dialect::french_erp()
        }
    }

    fn fixed() -> Dialect {
        let column = |name: &str, start, width| FixedColumn {
            name: name.into(),
            start,
            width,
        };
        Dialect {
            fixed_width: Some(FixedWidth {
                columns: vec![column("Code", 1, 6), column("Montant", 7, 8)],
                title_line: false,
            }),
            ..dialect()
        }
    }

    fn all(bytes: &[u8], dialect: &Dialect) -> Vec<Result<Record, RecordError>> {
        RecordReader::new(bytes, dialect).expect("header").collect()
    }

    #[test]
    fn excel_pads_its_sep_line_with_separators() {
        let reader = RecordReader::new(&b"\"sep=;;;\"\r\nA;B\r\n1;2\r\n"[..], &dialect());
        let records: Vec<_> = reader.expect("header").collect();
        let record = records[0].as_ref().expect("record");
        assert_eq!((record.line, record.get(1)), (3, "2"));
    }

    #[test]
    fn a_separator_that_is_not_one_ascii_character_is_refused() {
        let dialect = Dialect {
            separator: '¦',
            ..dialect()
        };
        let err = RecordReader::new(&b"A\n"[..], &dialect)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("one ASCII character"), "{err}");
    }

    #[test]
    fn a_record_with_a_missing_field_says_so_and_is_still_given() {
        let records = all(b"A;B;C\n1;2\n", &dialect());
        let record = records[0].as_ref().expect("record");
        let shape = record.shape.as_ref().expect("shape problem");
        assert_eq!(
            (shape.expected.as_str(), shape.found.as_str()),
            ("3 fields as in the header", "2")
        );
    }

    #[test]
    fn fixed_width_fields_lose_their_padding_but_keep_leading_zeros() {
        let records = all(b"000123   12,50\r\n000124 1 234,5\r\n", &fixed());
        let second = records[1].as_ref().expect("record");
        assert_eq!(
            (second.get(0), second.get(1), second.line),
            ("000124", "1 234,5", 2)
        );
    }

    #[test]
    fn a_fixed_width_last_line_short_of_its_last_column_is_still_being_written() {
        let records = all(b"000123   12,50\r\n0001", &fixed());
        assert!(records[0].is_ok());
        let err = records[1].as_ref().expect_err("unfinished");
        assert!(err.is_still_being_written());
        assert_eq!(
            err.to_string(),
            "line 2: incomplete last line, the file is still being written \
             (expected 14 characters, found 4 and no line end)"
        );
    }

    #[test]
    fn a_full_last_line_without_a_line_end_is_complete() {
        let records = all(b"A;B\n1;2", &dialect());
        assert_eq!(records.len(), 1);
        assert!(records[0].is_ok());
    }
}
