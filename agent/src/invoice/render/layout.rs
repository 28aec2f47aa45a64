//! Page geometry, the rows of the lines table and how they flow over pages.
//!
//! Everything here is plain data and arithmetic: the rows are measured with
//! the embedded fonts, then cut into pages, before anything is drawn. Knowing
//! the page count up front is what lets every footer say "page n / m".

use std::collections::HashMap;

use pos_bridge::invoice::{Invoice, InvoiceLine, Origin};

use super::fonts::{Fonts, Weight};
use crate::invoice::money_fmt::{decimal_fr, eur, percent_fr};

/// A4 portrait, in points (1/72 inch); the origin is the bottom-left corner.
pub(super) const PAGE_WIDTH: f32 = 595.28;
pub(super) const PAGE_HEIGHT: f32 = 841.89;
/// 15 mm margins left and right.
pub(super) const LEFT: f32 = 42.5;
pub(super) const RIGHT: f32 = PAGE_WIDTH - 42.5;
pub(super) const CONTENT_WIDTH: f32 = RIGHT - LEFT;
/// Baseline of the first line of the page header.
pub(super) const TOP: f32 = PAGE_HEIGHT - 46.0;
/// Top of the lines table on pages after the first.
pub(super) const CONTINUED_TABLE_TOP: f32 = PAGE_HEIGHT - 86.0;
/// Nothing of the table or the summary goes below this line: the footer
/// lives underneath.
pub(super) const BODY_BOTTOM: f32 = 64.0;

/// Text sizes.
pub(super) const BODY_SIZE: f32 = 8.5;
pub(super) const SMALL_SIZE: f32 = 7.5;

/// Heights of the table's parts.
pub(super) const TABLE_HEADER_HEIGHT: f32 = 18.0;
pub(super) const GROUP_HEIGHT: f32 = 17.0;
pub(super) const ITEM_HEIGHT: f32 = 13.5;
/// Each extra line of a wrapped designation.
pub(super) const ITEM_EXTRA_LINE: f32 = 10.0;
/// A designation longer than this many lines is cut with an ellipsis.
pub(super) const MAX_LABEL_LINES: usize = 3;
/// Inner padding of a table cell.
pub(super) const CELL_PADDING: f32 = 4.0;

/// How a column's text sits in its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Right,
}

/// One column of the lines table.
pub(super) struct Column {
    pub(super) title: &'static str,
    pub(super) left: f32,
    pub(super) width: f32,
    pub(super) align: Align,
}

impl Column {
    pub(super) const fn right(&self) -> f32 {
        self.left + self.width
    }
}

const fn column(title: &'static str, left: f32, width: f32, align: Align) -> Column {
    Column {
        title,
        left,
        width,
        align,
    }
}

/// Column widths add up to the content width (510 pt).
pub(super) const COLUMNS: [Column; 7] = [
    // Wide enough for the ERP's longest article codes (16 characters).
    column("Réf.", LEFT, 82.0, Align::Left),
    column("Désignation", LEFT + 82.0, 164.0, Align::Left),
    column("Qté", LEFT + 246.0, 48.0, Align::Right),
    column("Unité", LEFT + 294.0, 38.0, Align::Left),
    column("PU HT", LEFT + 332.0, 64.0, Align::Right),
    column("TVA", LEFT + 396.0, 40.0, Align::Right),
    column(
        "Montant HT",
        LEFT + 436.0,
        CONTENT_WIDTH - 436.0,
        Align::Right,
    ),
];
const LABEL_COLUMN: usize = 1;

/// One invoice line, formatted and measured.
pub(super) struct ItemRow {
    /// The cells in column order; the designation is in `label_lines`.
    pub(super) cells: [String; 7],
    pub(super) label_lines: Vec<String>,
}

impl ItemRow {
    pub(super) fn height(&self) -> f32 {
        let extra = self.label_lines.len().saturating_sub(1) as f32;
        ITEM_HEIGHT + extra * ITEM_EXTRA_LINE
    }
}

/// The lines of one origin (a web order or a counter ticket).
pub(super) struct Group {
    pub(super) title: String,
    pub(super) items: Vec<ItemRow>,
}

/// Groups the invoice's lines by origin reference, in the order each
/// reference first appears, keeping export order inside a group.
pub(super) fn groups(invoice: &Invoice, fonts: &Fonts) -> Vec<Group> {
    let mut index: HashMap<(Origin, &str), usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for line in &invoice.lines {
        let key = (line.origin, line.reference.as_str());
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                title: fonts.printable(&group_title(line)),
                items: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].items.push(item_row(line, fonts));
    }
    groups
}

fn group_title(line: &InvoiceLine) -> String {
    let reference = line.reference.trim();
    match (line.origin, reference.is_empty()) {
        (Origin::Web, false) => format!("Commande web n° {reference}"),
        (Origin::Web, true) => "Commande web (sans numéro)".to_string(),
        (Origin::Counter, false) => format!("Ticket comptoir {reference}"),
        (Origin::Counter, true) => "Ticket comptoir (sans numéro)".to_string(),
    }
}

fn item_row(line: &InvoiceLine, fonts: &Fonts) -> ItemRow {
    let label = fonts.printable(&line.label);
    let label_width = COLUMNS[LABEL_COLUMN].width - 2.0 * CELL_PADDING;
    let label_lines = wrap(
        fonts,
        Weight::Regular,
        &label,
        BODY_SIZE,
        label_width,
        MAX_LABEL_LINES,
    );
    let article_width = COLUMNS[0].width - 2.0 * CELL_PADDING;
    let article = fit(
        fonts,
        Weight::Regular,
        &fonts.printable(&line.article),
        BODY_SIZE,
        article_width,
    );
    let unit_width = COLUMNS[3].width - 2.0 * CELL_PADDING;
    let unit = fit(
        fonts,
        Weight::Regular,
        &fonts.printable(&line.unit),
        BODY_SIZE,
        unit_width,
    );
    ItemRow {
        cells: [
            article,
            String::new(),
            decimal_fr(line.quantity),
            unit,
            eur(line.unit_price_ht),
            percent_fr(line.vat_rate),
            eur(line.amount_ht),
        ],
        label_lines,
    }
}

/// Breaks `text` into lines no wider than `width`, at spaces when it can and
/// inside a word when a word alone is too wide. Past `max_lines` the text is
/// cut and the last line ends with an ellipsis.
pub(super) fn wrap(
    fonts: &Fonts,
    weight: Weight,
    text: &str,
    size: f32,
    width: f32,
    max_lines: usize,
) -> Vec<String> {
    let face = fonts.face(weight);
    let space = face.width(" ", size);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_width = 0.0;
    for word in text.split_whitespace() {
        let word_width = face.width(word, size);
        if !current.is_empty() && current_width + space + word_width <= width {
            current.push(' ');
            current.push_str(word);
            current_width += space + word_width;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if word_width <= width {
            current.push_str(word);
        } else {
            current = break_word(fonts, weight, word, size, width, &mut lines);
        }
        current_width = face.width(&current, size);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    limit_lines(fonts, weight, lines, size, width, max_lines)
}

/// Pushes the full-width pieces of an over-long word and returns the rest.
fn break_word(
    fonts: &Fonts,
    weight: Weight,
    word: &str,
    size: f32,
    width: f32,
    lines: &mut Vec<String>,
) -> String {
    let face = fonts.face(weight);
    let mut piece = String::new();
    for c in word.chars() {
        piece.push(c);
        if face.width(&piece, size) > width && piece.chars().count() > 1 {
            piece.pop();
            lines.push(std::mem::take(&mut piece));
            piece.push(c);
        }
    }
    piece
}

fn limit_lines(
    fonts: &Fonts,
    weight: Weight,
    mut lines: Vec<String>,
    size: f32,
    width: f32,
    max_lines: usize,
) -> Vec<String> {
    if lines.len() <= max_lines {
        return lines;
    }
    lines.truncate(max_lines.max(1));
    if let Some(last) = lines.last_mut() {
        *last = ellipsize(fonts, weight, &format!("{last}…"), size, width);
    }
    lines
}

/// `text` on one line, cut with an ellipsis when wider than `width`.
pub(super) fn fit(fonts: &Fonts, weight: Weight, text: &str, size: f32, width: f32) -> String {
    ellipsize(fonts, weight, text, size, width)
}

fn ellipsize(fonts: &Fonts, weight: Weight, text: &str, size: f32, width: f32) -> String {
    let face = fonts.face(weight);
    if face.width(text, size) <= width {
        return text.to_string();
    }
    let mut kept: String = text.trim_end_matches('…').to_string();
    while !kept.is_empty() && face.width(&format!("{kept}…"), size) > width {
        kept.pop();
    }
    format!("{}…", kept.trim_end())
}

/// What one page of the lines table shows.
pub(super) enum PageRow<'a> {
    /// A group heading; `continued` when the group began on an earlier page.
    Group {
        title: &'a str,
        continued: bool,
    },
    Item(&'a ItemRow),
}

/// The content of one page.
#[derive(Default)]
pub(super) struct PagePlan<'a> {
    pub(super) rows: Vec<PageRow<'a>>,
    /// Whether the VAT summary, totals and payment mentions go on this page.
    pub(super) summary: bool,
}

/// Room for rows and the summary on each page, in points.
pub(super) struct Room {
    pub(super) first_page: f32,
    pub(super) other_pages: f32,
    pub(super) summary: f32,
}

/// Cuts the groups into pages. A group heading never ends a page on its own,
/// a group cut by a page break is announced again as "(suite)" on the next
/// page, and the summary goes after the last row, on a page of its own when
/// it does not fit under the table.
pub(super) fn paginate<'a>(groups: &'a [Group], room: &Room) -> Vec<PagePlan<'a>> {
    let mut pager = Pager::new(room);
    for group in groups {
        let first_item = group.items.first().map_or(0.0, ItemRow::height);
        pager.make_room(GROUP_HEIGHT + first_item, None);
        pager.push(PageRow::Group {
            title: &group.title,
            continued: false,
        });
        for item in &group.items {
            pager.make_room(item.height(), Some(&group.title));
            pager.push(PageRow::Item(item));
        }
    }
    pager.finish(room.summary)
}

struct Pager<'a> {
    done: Vec<PagePlan<'a>>,
    page: PagePlan<'a>,
    left: f32,
    other_pages: f32,
}

impl<'a> Pager<'a> {
    fn new(room: &Room) -> Self {
        Pager {
            done: Vec::new(),
            page: PagePlan::default(),
            left: room.first_page,
            other_pages: room.other_pages,
        }
    }

    fn push(&mut self, row: PageRow<'a>) {
        self.left -= match &row {
            PageRow::Group { .. } => GROUP_HEIGHT,
            PageRow::Item(item) => item.height(),
        };
        self.page.rows.push(row);
    }

    /// Starts a new page unless `height` still fits; a group cut there is
    /// announced again at the top of the new page.
    fn make_room(&mut self, height: f32, group: Option<&'a str>) {
        if height <= self.left || self.page.rows.is_empty() {
            return;
        }
        self.new_page();
        if let Some(title) = group {
            self.push(PageRow::Group {
                title,
                continued: true,
            });
        }
    }

    fn new_page(&mut self) {
        self.done.push(std::mem::take(&mut self.page));
        self.left = self.other_pages;
    }

    fn finish(mut self, summary: f32) -> Vec<PagePlan<'a>> {
        if summary > self.left && !self.page.rows.is_empty() {
            self.new_page();
        }
        self.page.summary = true;
        self.done.push(self.page);
        self.done
    }
}
