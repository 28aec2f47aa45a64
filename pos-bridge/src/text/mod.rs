//! Bytes to text: the declared encoding applied as the file streams, line
//! ends made uniform, and a watch on how the file ends.

pub mod cp850;

use std::io::{self, Read};

use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

use crate::dialect::Encoding;
use crate::line_ends::NormalizeLineEnds;

/// A byte stream decoded to UTF-8 from the declared encoding.
pub enum Decoded<R: Read> {
    /// UTF-8, Windows-1252 or ISO-8859-15, through encoding_rs (a UTF-8
    /// byte-order mark is removed).
    Standard(DecodeReaderBytes<R, Vec<u8>>),
    /// CP850, through the table of [`cp850`].
    Cp850(cp850::Cp850Reader<R>),
}

impl<R: Read> Decoded<R> {
    /// Decodes `source` as `encoding`.
    pub fn new(source: R, encoding: Encoding) -> Self {
        match encoding {
            Encoding::Cp850 => Decoded::Cp850(cp850::Cp850Reader::new(source)),
            other => Decoded::Standard(
                DecodeReaderBytesBuilder::new()
                    .encoding(Some(other.encoding()))
                    .bom_sniffing(true)
                    .build(source),
            ),
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Standard(inner) => inner.read(out),
            Decoded::Cp850(inner) => inner.read(out),
        }
    }
}

/// A reader that remembers the last byte it passed on, so the reader of
/// records can tell a file that ends with a line end from one cut short.
pub struct TrackEnd<R> {
    inner: R,
    last: Option<u8>,
}

impl<R: Read> TrackEnd<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        TrackEnd { inner, last: None }
    }

    /// Did the text seen so far end with a line end (after normalisation,
    /// every line end is `\n`)?
    pub fn ended_with_line_end(&self) -> bool {
        self.last == Some(b'\n')
    }
}

impl<R: Read> Read for TrackEnd<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        if n > 0 {
            self.last = Some(out[n - 1]);
        }
        Ok(n)
    }
}

/// Decoded text with LF line ends, the first line already read ahead.
pub type Text<R> = TrackEnd<io::Chain<io::Cursor<Vec<u8>>, NormalizeLineEnds<Decoded<R>>>>;

/// Longest first line looked at for Excel's `sep=` line.
const FIRST_LINE_LIMIT: usize = 64 * 1024;

/// Decodes `source`, and reads its first line ahead (returned without its
/// line end) so the caller can look at it before deciding how to read on.
/// The returned text starts again at the first line.
pub fn open<R: Read>(source: R, encoding: Encoding) -> io::Result<(Vec<u8>, Text<R>)> {
    let mut normalized = NormalizeLineEnds::new(Decoded::new(source, encoding));
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while first.len() < FIRST_LINE_LIMIT {
        if normalized.read(&mut byte)? == 0 {
            break;
        }
        first.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    let line = first.strip_suffix(b"\n").unwrap_or(&first).to_vec();
    let text = TrackEnd::new(io::Cursor::new(first).chain(normalized));
    Ok((line, text))
}

/// Drops the first line from a [`Text`] returned by [`open`] (its bytes are
/// all in the read-ahead cursor).
pub fn skip_first_line<R: Read>(text: Text<R>) -> Text<R> {
    let (_first, rest) = text.inner.into_inner();
    TrackEnd::new(io::Cursor::new(Vec::new()).chain(rest))
}

/// Does this look like UTF-8 with at least one multi-byte character? A file
/// declared in a single-byte code page that is in fact UTF-8 reads without
/// error and garbles every accent ("Ã‰chalotes"), so callers refuse it.
pub fn looks_like_utf8(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        // A multi-byte character cut by the end of the sniffed block.
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return false,
    };
    bytes[..valid].iter().any(|b| *b >= 0x80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(mut text: impl Read) -> String {
        let mut out = String::new();
        text.read_to_string(&mut out).expect("utf-8");
        out
    }

    #[test]
    fn the_first_line_is_read_ahead_and_kept() {
        let (first, text) = open(&b"sep=;\r\na;b\r\n"[..], Encoding::Utf8).expect("open");
        assert_eq!(first, b"sep=;");
        assert_eq!(all(text), "sep=;\na;b\n");
        let (_, text) = open(&b"sep=;\ra;b"[..], Encoding::Utf8).expect("open");
        assert_eq!(all(skip_first_line(text)), "a;b");
    }

    #[test]
    fn the_end_of_the_text_is_watched() {
        let (_, mut text) = open(&b"a;b\r"[..], Encoding::Windows1252).expect("open");
        let _ = all(&mut text);
        assert!(text.ended_with_line_end());
        let (_, mut text) = open(&b"a;b\na;"[..], Encoding::Windows1252).expect("open");
        let _ = all(&mut text);
        assert!(!text.ended_with_line_end());
    }

    #[test]
    fn a_utf8_byte_order_mark_is_not_part_of_the_first_line() {
        let (first, _) = open(&b"\xEF\xBB\xBFNumFacture;X\n"[..], Encoding::Utf8).expect("open");
        assert_eq!(first, b"NumFacture;X");
    }
}
