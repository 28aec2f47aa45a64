//! The two embedded faces (DejaVu Sans Condensed, regular and bold) and text
//! measurement.
//!
//! The faces are parsed once per process and shared: parsing a 680 KB
//! TrueType file costs more than laying out a whole invoice. Each PDF embeds
//! only the glyphs it uses (printpdf subsets on save), which keeps a one-page
//! invoice at tens of kilobytes.

use std::sync::OnceLock;

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
/// same invoice differ. The first six letters double as the subset tag.
const REGULAR_ID: &str = "RLSREG";
const BOLD_ID: &str = "RLSBLD";

/// Which face a piece of text is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    Regular,
    Bold,
}

/// One parsed face and the numbers needed to measure text with it.
pub(super) struct Face {
    pub(super) id: FontId,
    pub(super) parsed: ParsedFont,
    units_per_em: f32,
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
    fn parse(bytes: &[u8], id: &str, file: &str) -> Result<Face, String> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut warnings)
            .ok_or_else(|| format!("embedded font {file} could not be parsed"))?;
        let units_per_em = f32::from(parsed.pdf_font_metrics.units_per_em.max(1));
        Ok(Face {
            id: FontId(id.to_string()),
            parsed,
            units_per_em,
        })
    }

    /// Whether the face has a glyph for `c`.
    pub(super) fn has(&self, c: char) -> bool {
        self.parsed.lookup_glyph_index(u32::from(c)).is_some()
    }

    /// Width of `text` in points at `size` points.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text
            .chars()
            .map(|c| {
                let gid = self.parsed.lookup_glyph_index(u32::from(c)).unwrap_or(0);
                u32::from(self.parsed.get_horizontal_advance(gid))
            })
            .sum();
        units as f32 * size / self.units_per_em
    }
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
