//! Code page 850 ("DOS Latin 1"), which encoding_rs does not provide.
//!
//! Old ERPs that run in a console still export in it. Bytes below 0x80 are
//! ASCII; the upper half is the table below, the one IBM published and
//! Windows, ICU and Python use (`cp850`). Every byte decodes to one
//! character, so decoding cannot fail; encoding names the first character
//! the code page lacks (the euro sign, for one).

use std::io::{self, Read};

/// Characters of bytes 0x80 to 0xFF.
const UPPER: [char; 128] = [
    '\u{00c7}', '\u{00fc}', '\u{00e9}', '\u{00e2}', '\u{00e4}', '\u{00e0}', '\u{00e5}', '\u{00e7}',
    '\u{00ea}', '\u{00eb}', '\u{00e8}', '\u{00ef}', '\u{00ee}', '\u{00ec}', '\u{00c4}', '\u{00c5}',
    '\u{00c9}', '\u{00e6}', '\u{00c6}', '\u{00f4}', '\u{00f6}', '\u{00f2}', '\u{00fb}', '\u{00f9}',
    '\u{00ff}', '\u{00d6}', '\u{00dc}', '\u{00f8}', '\u{00a3}', '\u{00d8}', '\u{00d7}', '\u{0192}',
    '\u{00e1}', '\u{00ed}', '\u{00f3}', '\u{00fa}', '\u{00f1}', '\u{00d1}', '\u{00aa}', '\u{00ba}',
    '\u{00bf}', '\u{00ae}', '\u{00ac}', '\u{00bd}', '\u{00bc}', '\u{00a1}', '\u{00ab}', '\u{00bb}',
    '\u{2591}', '\u{2592}', '\u{2593}', '\u{2502}', '\u{2524}', '\u{00c1}', '\u{00c2}', '\u{00c0}',
    '\u{00a9}', '\u{2563}', '\u{2551}', '\u{2557}', '\u{255d}', '\u{00a2}', '\u{00a5}', '\u{2510}',
    '\u{2514}', '\u{2534}', '\u{252c}', '\u{251c}', '\u{2500}', '\u{253c}', '\u{00e3}', '\u{00c3}',
    '\u{255a}', '\u{2554}', '\u{2569}', '\u{2566}', '\u{2560}', '\u{2550}', '\u{256c}', '\u{00a4}',
    '\u{00f0}', '\u{00d0}', '\u{00ca}', '\u{00cb}', '\u{00c8}', '\u{0131}', '\u{00cd}', '\u{00ce}',
    '\u{00cf}', '\u{2518}', '\u{250c}', '\u{2588}', '\u{2584}', '\u{00a6}', '\u{00cc}', '\u{2580}',
    '\u{00d3}', '\u{00df}', '\u{00d4}', '\u{00d2}', '\u{00f5}', '\u{00d5}', '\u{00b5}', '\u{00fe}',
    '\u{00de}', '\u{00da}', '\u{00db}', '\u{00d9}', '\u{00fd}', '\u{00dd}', '\u{00af}', '\u{00b4}',
    '\u{00ad}', '\u{00b1}', '\u{2017}', '\u{00be}', '\u{00b6}', '\u{00a7}', '\u{00f7}', '\u{00b8}',
    '\u{00b0}', '\u{00a8}', '\u{00b7}', '\u{00b9}', '\u{00b3}', '\u{00b2}', '\u{25a0}', '\u{00a0}',
];

/// The character of one byte.
pub fn decode_byte(byte: u8) -> char {
    if byte < 0x80 {
        char::from(byte)
    } else {
        UPPER[usize::from(byte - 0x80)]
    }
}

/// Decodes a whole text.
pub fn decode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| decode_byte(*b)).collect()
}

/// The byte of one character, if the code page has it.
pub fn encode_char(c: char) -> Option<u8> {
    if c.is_ascii() {
        return u8::try_from(c).ok();
    }
    let at = UPPER.iter().position(|u| *u == c)?;
    u8::try_from(at + 0x80).ok()
}

/// Encodes a text; `Err` is the first character CP850 cannot write.
pub fn encode(text: &str) -> Result<Vec<u8>, char> {
    text.chars().map(|c| encode_char(c).ok_or(c)).collect()
}

/// A reader that turns CP850 bytes into UTF-8 as they stream.
pub struct Cp850Reader<R> {
    inner: R,
    input: Vec<u8>,
    output: Vec<u8>,
    served: usize,
}

impl<R: Read> Cp850Reader<R> {
    /// Wraps a reader of CP850 bytes.
    pub fn new(inner: R) -> Self {
        Cp850Reader {
            inner,
            input: vec![0; 32 * 1024],
            output: Vec::with_capacity(96 * 1024),
            served: 0,
        }
    }
}

impl<R: Read> Read for Cp850Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.served == self.output.len() {
            let n = self.inner.read(&mut self.input)?;
            self.output.clear();
            self.served = 0;
            let mut utf8 = [0; 4];
            for byte in &self.input[..n] {
                let text = decode_byte(*byte).encode_utf8(&mut utf8);
                self.output.extend_from_slice(text.as_bytes());
            }
        }
        let n = out.len().min(self.output.len() - self.served);
        out[..n].copy_from_slice(&self.output[self.served..self.served + n]);
        self.served += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_letters_sit_where_the_code_page_puts_them() {
        let known = [
            (0x82, 'é'),
            (0x85, 'à'),
            (0x87, 'ç'),
            (0x8a, 'è'),
            (0x88, 'ê'),
            (0x90, 'É'),
            (0xb7, 'À'),
            (0xd4, 'È'),
            (0x93, 'ô'),
            (0x97, 'ù'),
            (0xd5, 'ı'),
            (0xf8, '°'),
            (0xff, '\u{a0}'),
        ];
        for (byte, c) in known {
            assert_eq!(decode_byte(byte), c, "byte {byte:#x}");
        }
    }

    #[test]
    fn every_byte_round_trips_and_the_table_has_no_duplicate() {
        for byte in 0..=255u8 {
            assert_eq!(encode_char(decode_byte(byte)), Some(byte), "byte {byte:#x}");
        }
    }

    #[test]
    fn the_stream_decoder_agrees_with_the_whole_text_decoder_at_any_read_size() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        for chunk in [1, 3, 4096] {
            let mut reader = Cp850Reader::new(&bytes[..]);
            let mut text = Vec::new();
            let mut buf = vec![0; chunk];
            loop {
                let n = reader.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                text.extend_from_slice(&buf[..n]);
            }
            assert_eq!(String::from_utf8(text).expect("utf-8"), decode(&bytes));
        }
    }

    #[test]
    fn the_euro_sign_is_named_not_replaced() {
        assert_eq!(encode("9,60 €"), Err('€'));
        assert_eq!(
            encode("Crème brûlée"),
            Ok(b"Cr\x8ame br\x96l\x82e".to_vec())
        );
    }
}
