//! A page being drawn: absolute positioning of text, rules and boxes, turned
//! into printpdf operations.
//!
//! Consecutive pieces of text share one text object (BT .. ET), which a rule
//! or a box closes. Inside it, PDF moves the pen relative to the start of
//! the previous line (`Td`), so the canvas remembers that point and turns
//! each absolute position into the move from there. The font is set again
//! only when it changes. Fewer operators make the PDF smaller and quicker
//! to write.

use printpdf::{
    Color, Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, Rect, Rgb, TextItem,
};

use super::fonts::{Fonts, Weight};

/// The few colours of the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ink {
    Black,
    Grey,
    Rule,
    Shade,
    Accent,
    White,
}

impl Ink {
    fn color(self) -> Color {
        let (r, g, b) = match self {
            Ink::Black => (0.10, 0.10, 0.10),
            Ink::Grey => (0.38, 0.38, 0.40),
            Ink::Rule => (0.80, 0.81, 0.83),
            Ink::Shade => (0.93, 0.94, 0.95),
            Ink::Accent => (0.13, 0.25, 0.40),
            Ink::White => (1.0, 1.0, 1.0),
        };
        Color::Rgb(Rgb::new(r, g, b, None))
    }
}

/// Face, size and colour of a piece of text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Style {
    pub(super) weight: Weight,
    pub(super) size: f32,
    pub(super) ink: Ink,
}

impl Style {
    pub(super) const fn new(weight: Weight, size: f32, ink: Ink) -> Style {
        Style { weight, size, ink }
    }
}

/// The operations of one page, in drawing order.
pub(super) struct Canvas<'f> {
    pub(super) fonts: &'f Fonts,
    ops: Vec<Op>,
    fill: Option<Ink>,
    font: Option<(Weight, f32)>,
    /// Start of the last line inside the open text object, if one is open.
    line_start: Option<(f32, f32)>,
}

impl<'f> Canvas<'f> {
    pub(super) fn new(fonts: &'f Fonts) -> Self {
        Canvas {
            fonts,
            ops: Vec::with_capacity(1024),
            fill: None,
            font: None,
            line_start: None,
        }
    }

    pub(super) fn into_ops(mut self) -> Vec<Op> {
        self.end_text();
        self.ops
    }

    /// Width of `text` in `style`, in points.
    pub(super) fn width(&self, text: &str, style: Style) -> f32 {
        self.fonts.face(style.weight).width(text, style.size)
    }

    /// Text starting at `x`, on the baseline `y`.
    pub(super) fn text(&mut self, x: f32, y: f32, style: Style, text: &str) {
        if text.is_empty() {
            return;
        }
        self.set_fill(style.ink);
        let (from_x, from_y) = self.begin_text();
        self.set_font(style);
        let (dx, dy) = (hundredths(x - from_x), hundredths(y - from_y));
        self.ops.push(Op::SetTextCursor {
            pos: Point {
                x: Pt(dx),
                y: Pt(dy),
            },
        });
        // Where the pen really is: rounding errors do not add up line after line.
        self.line_start = Some((from_x + dx, from_y + dy));
        self.ops.push(Op::ShowText {
            items: vec![TextItem::Text(text.to_string())],
        });
    }

    /// Text ending at `right`.
    pub(super) fn text_right(&mut self, right: f32, y: f32, style: Style, text: &str) {
        let x = right - self.width(text, style);
        self.text(x, y, style, text);
    }

    /// Text centred on `center`.
    pub(super) fn text_center(&mut self, center: f32, y: f32, style: Style, text: &str) {
        let x = center - self.width(text, style) / 2.0;
        self.text(x, y, style, text);
    }

    /// A filled box; `y` is its bottom edge.
    pub(super) fn fill_rect(&mut self, x: f32, y: f32, width: f32, height: f32, ink: Ink) {
        self.end_text();
        self.set_fill(ink);
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(width),
                height: Pt(height),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
    }

    /// A box outline; `y` is its bottom edge.
    pub(super) fn stroke_rect(&mut self, x: f32, y: f32, width: f32, height: f32, ink: Ink) {
        self.set_stroke(ink, 0.6);
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(width),
                height: Pt(height),
                mode: Some(PaintMode::Stroke),
                winding_order: None,
            },
        });
    }

    /// A horizontal rule from `x1` to `x2` at height `y`.
    pub(super) fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, ink: Ink) {
        self.set_stroke(ink, thickness);
        let point = |x: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![point(x1), point(x2)],
                is_closed: false,
            },
        });
    }

    /// Opens a text object unless one is open; returns where the pen's line
    /// starts, the page origin in a new text object.
    fn begin_text(&mut self) -> (f32, f32) {
        match self.line_start {
            Some(start) => start,
            None => {
                self.ops.push(Op::StartTextSection);
                (0.0, 0.0)
            }
        }
    }

    /// Closes the open text object: graphics cannot be drawn inside one.
    fn end_text(&mut self) {
        if self.line_start.take().is_some() {
            self.ops.push(Op::EndTextSection);
        }
    }

    fn set_font(&mut self, style: Style) {
        if self.font == Some((style.weight, style.size)) {
            return;
        }
        let font = PdfFontHandle::External(self.fonts.face(style.weight).id.clone());
        self.ops.push(Op::SetFont {
            font,
            size: Pt(style.size),
        });
        self.font = Some((style.weight, style.size));
    }

    fn set_fill(&mut self, ink: Ink) {
        if self.fill != Some(ink) {
            self.ops.push(Op::SetFillColor { col: ink.color() });
            self.fill = Some(ink);
        }
    }

    fn set_stroke(&mut self, ink: Ink, thickness: f32) {
        self.end_text();
        self.ops.push(Op::SetOutlineColor { col: ink.color() });
        self.ops.push(Op::SetOutlineThickness { pt: Pt(thickness) });
    }
}

/// `value` rounded to 1/100 pt (3.5 µm), so the PDF says `12.35`, not
/// `12.349998`.
fn hundredths(value: f32) -> f32 {
    (value * 100.0).round() / 100.0
}
