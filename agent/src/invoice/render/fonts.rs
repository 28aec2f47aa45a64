//! The two embedded faces (DejaVu Sans Condensed, regular and bold) and text
//! measurement.
//!
//! The faces are cut down to the Latin characters ERP exports carry, without
//! hinting (see `assets/fonts/README.md`): about 31 KB each, 17 KB deflated.
//! They are parsed and deflated once per process and shared, and each PDF
//! embeds them whole (see `pdf::SUBSET_FONTS` for the other choice).

use std::io::Write;
use std::sync::OnceLock;

use flate2::write::ZlibEncoder;
use flate2::Compression;
use printpdf::{FontId, ParsedFont};

static REGULAR_TTF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSansCondensed.ttf"
));
static BOLD_TTF: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSansCondensed-Bold.ttf"
));

/// Resource names of the faces inside every PDF. Fixed, because printpdf's
/// own ids come from a process-wide counter and would make two renders of the
/// same invoice differ.
const REGULAR_ID: &str = "RLSREG";
const BOLD_ID: &str = "RLSBLD";

/// Which face a piece of text is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

/// Characters below this code point have their advance in a table: all of
/// Latin-1 and Latin Extended-A, which is nearly every character of an
/// invoice.
const TABLE_END: u32 = 0x180;

/// One parsed face, its font program ready to embed, and the numbers needed
/// to measure text with it.
pub(super) struct Face {
    pub(super) id: FontId,
    pub(super) parsed: ParsedFont,
    /// The font program as compiled in, and deflated once for every PDF.
    pub(super) program: &'static [u8],
    pub(super) program_deflated: Vec<u8>,
    units_per_em: f32,
    /// Advance width of each character below `TABLE_END`, `None` when the
    /// face has no glyph for it.
    advances: Vec<Option<u16>>,
}

/// Both faces, parsed.
pub(super) struct Fonts {
    pub(super) regular: Face,
    pub(super) bold: Face,
}

static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();

/// The shared faces, parsed on first use.
///
/// An error here means the bytes compiled into the binary are not a usable
/// font: a build problem, reported once per call so no invoice is skipped
/// silently.
pub(super) fn fonts() -> Result<&'static Fonts, String> {
    FONTS
        .get_or_init(|| {
            Ok(Fonts {
                regular: Face::parse(REGULAR_TTF, REGULAR_ID, "DejaVuSansCondensed.ttf")?,
                bold: Face::parse(BOLD_TTF, BOLD_ID, "DejaVuSansCondensed-Bold.ttf")?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Face {
    fn parse(bytes: &'static [u8], id: &str, file: &str) -> Result<Face, String> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut warnings)
            .ok_or_else(|| format!("embedded font {file} could not be parsed"))?;
        let units_per_em = f32::from(parsed.pdf_font_metrics.units_per_em.max(1));
        let advances = (0..TABLE_END)
            .map(|code| {
                let gid = parsed.lookup_glyph_index(code)?;
                Some(parsed.get_horizontal_advance(gid))
            })
            .collect();
        let program_deflated = deflate(bytes)
            .map_err(|e| format!("embedded font {file} could not be compressed: {e}"))?;
        Ok(Face {
            id: FontId(id.to_string()),
            parsed,
            program: bytes,
            program_deflated,
            units_per_em,
            advances,
        })
    }

    fn advance(&self, c: char) -> Option<u16> {
        match self.advances.get(c as usize) {
            Some(advance) => *advance,
            None => {
                let gid = self.parsed.lookup_glyph_index(u32::from(c))?;
                Some(self.parsed.get_horizontal_advance(gid))
            }
        }
    }

    /// Whether the face has a glyph for `c`.
    pub(super) fn has(&self, c: char) -> bool {
        self.advance(c).is_some()
    }

    /// Width of `text` in points at `size` points. A character without a
    /// glyph counts as the missing-glyph box.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text
            .chars()
            .map(|c| {
                let advance = self.advance(c);
                u32::from(advance.unwrap_or_else(|| self.parsed.get_horizontal_advance(0)))
            })
            .sum();
        units as f32 * size / self.units_per_em
    }
}

fn deflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

impl Fonts {
    pub(super) fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// Replaces what the faces cannot draw: control characters (tabs, line
    /// breaks from an ERP text field) become spaces, characters without a
    /// glyph become U+FFFD, so a reader sees that something was there.
    pub(super) fn printable(&self, text: &str) -> String {
        text.chars()
            .map(|c| match c {
                c if c.is_control() => ' ',
                c if self.regular.has(c) && self.bold.has(c) => c,
                _ => '\u{FFFD}',
            })
            .collect()
    }
}
