//! Line ends as ERPs write them: CRLF, LF, or a lone CR (old Mac-style
//! exports). The CSV layer counts lines on LF only, so every CRLF and lone CR
//! becomes one LF before parsing; line numbers in errors then match what an
//! editor shows.

use std::io::{self, Read};

/// A reader that turns CRLF and lone CR into LF.
pub struct NormalizeLineEnds<R> {
    inner: R,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    pending_cr: bool,
}

impl<R: Read> NormalizeLineEnds<R> {
    /// Wraps a byte reader (already decoded to UTF-8).
    pub fn new(inner: R) -> Self {
        NormalizeLineEnds {
            inner,
            buffer: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            pending_cr: false,
        }
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.start < self.end {
            return Ok(true);
        }
        let n = self.inner.read(&mut self.buffer)?;
        self.start = 0;
        self.end = n;
        Ok(n > 0)
    }
}

impl<R: Read> Read for NormalizeLineEnds<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < out.len() {
            if !self.fill()? {
                if self.pending_cr {
                    self.pending_cr = false;
                    out[written] = b'\n';
                    written += 1;
                }
                break;
            }
            let byte = self.buffer[self.start];
            self.start += 1;
            if self.pending_cr {
                self.pending_cr = false;
                out[written] = b'\n';
                written += 1;
                if byte == b'\n' {
                    continue;
                }
                if written == out.len() {
                    self.start -= 1;
                    break;
                }
            }
            if byte == b'\r' {
                self.pending_cr = true;
                continue;
            }
            out[written] = byte;
            written += 1;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut reader = NormalizeLineEnds::new(input);
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            let n = reader.read(&mut buf).expect("read");
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn crlf_and_lone_cr_become_lf_whatever_the_read_size() {
        for chunk in [1, 2, 3, 1024] {
            assert_eq!(normalize(b"a\r\nb\rc\nd\r", chunk), b"a\nb\nc\nd\n");
            assert_eq!(normalize(b"\r\r\n", chunk), b"\n\n");
        }
    }
}
