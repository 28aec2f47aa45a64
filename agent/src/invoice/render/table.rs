//! The lines table: its header band, the group headings and the item rows.

use super::canvas::{Canvas, Ink, Style};
use super::fonts::Weight;
use super::layout::{
    Align, Column, ItemRow, PageRow, BODY_SIZE, CELL_PADDING, COLUMNS, CONTENT_WIDTH, GROUP_HEIGHT,
    ITEM_EXTRA_LINE, LEFT, RIGHT, TABLE_HEADER_HEIGHT,
};

const HEADER_TEXT: Style = Style::new(Weight::Bold, 8.0, Ink::White);
const GROUP_TEXT: Style = Style::new(Weight::Bold, BODY_SIZE, Ink::Accent);
const GROUP_NOTE: Style = Style::new(Weight::Regular, BODY_SIZE, Ink::Grey);
const CELL_TEXT: Style = Style::new(Weight::Regular, BODY_SIZE, Ink::Black);

/// Distance from a row's top edge to its first baseline.
const FIRST_BASELINE: f32 = 9.6;

/// Draws the table header and `rows` from `top` down; returns the bottom of
/// the last row.
pub(super) fn draw(canvas: &mut Canvas, rows: &[PageRow], top: f32) -> f32 {
    header(canvas, top);
    let mut y = top - TABLE_HEADER_HEIGHT;
    for row in rows {
        y = match row {
            PageRow::Group { title, continued } => group(canvas, y, title, *continued),
            PageRow::Item(item) => self::item(canvas, y, item),
        };
    }
    y
}

fn header(canvas: &mut Canvas, top: f32) {
    let bottom = top - TABLE_HEADER_HEIGHT;
    canvas.fill_rect(
        LEFT,
        bottom,
        CONTENT_WIDTH,
        TABLE_HEADER_HEIGHT,
        Ink::Accent,
    );
    for column in &COLUMNS {
        cell(canvas, column, bottom + 6.2, HEADER_TEXT, column.title);
    }
}

fn group(canvas: &mut Canvas, top: f32, title: &str, continued: bool) -> f32 {
    let bottom = top - GROUP_HEIGHT;
    canvas.fill_rect(
        LEFT,
        bottom + 1.5,
        CONTENT_WIDTH,
        GROUP_HEIGHT - 4.0,
        Ink::Shade,
    );
    let baseline = bottom + 6.5;
    let x = LEFT + CELL_PADDING;
    canvas.text(x, baseline, GROUP_TEXT, title);
    if continued {
        let after = x + canvas.width(title, GROUP_TEXT) + 4.0;
        canvas.text(after, baseline, GROUP_NOTE, "(suite)");
    }
    bottom
}

fn item(canvas: &mut Canvas, top: f32, item: &ItemRow) -> f32 {
    let baseline = top - FIRST_BASELINE;
    for (column, text) in COLUMNS.iter().zip(&item.cells) {
        cell(canvas, column, baseline, CELL_TEXT, text);
    }
    let label = &COLUMNS[1];
    let mut y = baseline;
    for line in &item.label_lines {
        cell(canvas, label, y, CELL_TEXT, line);
        y -= ITEM_EXTRA_LINE;
    }
    let bottom = top - item.height();
    canvas.hline(LEFT, RIGHT, bottom, 0.4, Ink::Rule);
    bottom
}

fn cell(canvas: &mut Canvas, column: &Column, baseline: f32, style: Style, text: &str) {
    match column.align {
        Align::Left => canvas.text(column.left + CELL_PADDING, baseline, style, text),
        Align::Right => canvas.text_right(column.right() - CELL_PADDING, baseline, style, text),
    }
}
