//! Under the table: VAT per rate, the totals, and the payment mentions French
//! law requires on every invoice between businesses (Code de commerce,
//! L441-9 and L441-10): due date and terms, discount terms, late-payment
//! penalties and the fixed 40 EUR recovery indemnity.

use super::canvas::{Canvas, Ink, Style};
use super::fonts::Weight;
use super::layout::{wrap, BODY_SIZE, CELL_PADDING, CONTENT_WIDTH, LEFT, RIGHT, SMALL_SIZE};
use super::{date_fr, Doc};
use crate::invoice::money_fmt::{eur, percent_fr};

const GAP_ABOVE: f32 = 16.0;
const VAT_HEADER_HEIGHT: f32 = 15.0;
const VAT_ROW_HEIGHT: f32 = 14.0;
const TOTAL_ROW_HEIGHT: f32 = 16.0;
const GRAND_TOTAL_HEIGHT: f32 = 21.0;
const GAP_BEFORE_MENTIONS: f32 = 18.0;
const MENTION_HEADING: f32 = 12.0;
const MENTION_LEADING: f32 = 9.6;

/// Right edges of the VAT table's columns; the rate sits at the left.
const VAT_BASE_RIGHT: f32 = LEFT + 170.0;
const VAT_AMOUNT_RIGHT: f32 = LEFT + 256.0;
const TOTALS_LEFT: f32 = 345.0;

const CELL: Style = Style::new(Weight::Regular, BODY_SIZE, Ink::Black);
const CELL_HEAD: Style = Style::new(Weight::Bold, 8.0, Ink::Black);
const TOTAL_LABEL: Style = Style::new(Weight::Regular, 9.0, Ink::Black);
const TOTAL_VALUE: Style = Style::new(Weight::Bold, 9.0, Ink::Black);
const GRAND_TOTAL: Style = Style::new(Weight::Bold, 10.5, Ink::White);
const MENTION_TITLE: Style = Style::new(Weight::Bold, 8.0, Ink::Accent);
const MENTION: Style = Style::new(Weight::Regular, SMALL_SIZE, Ink::Black);

/// The summary block, formatted and measured.
pub(super) struct Summary {
    vat_rows: Vec<[String; 3]>,
    totals: [(&'static str, String); 3],
    mentions: Vec<String>,
}

impl Summary {
    pub(super) fn build(doc: &Doc) -> Summary {
        let vat_rows = doc
            .totals
            .by_rate
            .iter()
            .map(|s| [percent_fr(s.rate), eur(s.base_ht), eur(s.vat)])
            .collect();
        let totals = [
            ("Total HT", eur(doc.totals.ht)),
            ("Total TVA", eur(doc.totals.vat)),
            ("Total TTC", eur(doc.totals.ttc)),
        ];
        let mentions = mention_lines(doc);
        Summary {
            vat_rows,
            totals,
            mentions,
        }
    }

    /// Height of the whole block, gap above included.
    pub(super) fn height(&self) -> f32 {
        GAP_ABOVE + self.figures_height() + GAP_BEFORE_MENTIONS + self.mentions_height()
    }

    fn figures_height(&self) -> f32 {
        let vat = VAT_HEADER_HEIGHT + self.vat_rows.len() as f32 * VAT_ROW_HEIGHT;
        let totals = 2.0 * TOTAL_ROW_HEIGHT + GRAND_TOTAL_HEIGHT;
        vat.max(totals)
    }

    fn mentions_height(&self) -> f32 {
        MENTION_HEADING + self.mentions.len() as f32 * MENTION_LEADING
    }

    /// Draws the block with its top (gap included) at `top`.
    pub(super) fn draw(&self, canvas: &mut Canvas, top: f32) {
        let figures_top = top - GAP_ABOVE;
        self.draw_vat(canvas, figures_top);
        self.draw_totals(canvas, figures_top);
        let mentions_top = figures_top - self.figures_height() - GAP_BEFORE_MENTIONS;
        self.draw_mentions(canvas, mentions_top);
    }

    fn draw_vat(&self, canvas: &mut Canvas, top: f32) {
        let width = VAT_AMOUNT_RIGHT - LEFT;
        let head_bottom = top - VAT_HEADER_HEIGHT;
        canvas.fill_rect(LEFT, head_bottom, width, VAT_HEADER_HEIGHT, Ink::Shade);
        let baseline = head_bottom + 5.0;
        vat_row(
            canvas,
            baseline,
            CELL_HEAD,
            ["Taux TVA", "Base HT", "Montant TVA"],
        );

        let mut y = head_bottom;
        for row in &self.vat_rows {
            let cells = [row[0].as_str(), row[1].as_str(), row[2].as_str()];
            vat_row(canvas, y - 10.0, CELL, cells);
            y -= VAT_ROW_HEIGHT;
            canvas.hline(LEFT, VAT_AMOUNT_RIGHT, y, 0.4, Ink::Rule);
        }
    }

    fn draw_totals(&self, canvas: &mut Canvas, top: f32) {
        let value_right = RIGHT - CELL_PADDING;
        let label_x = TOTALS_LEFT + CELL_PADDING;
        let mut y = top;
        for (label, value) in &self.totals[..2] {
            canvas.text(label_x, y - 11.0, TOTAL_LABEL, label);
            canvas.text_right(value_right, y - 11.0, TOTAL_VALUE, value);
            y -= TOTAL_ROW_HEIGHT;
            canvas.hline(TOTALS_LEFT, RIGHT, y, 0.4, Ink::Rule);
        }

        let (label, value) = &self.totals[2];
        let bottom = y - GRAND_TOTAL_HEIGHT;
        canvas.fill_rect(
            TOTALS_LEFT,
            bottom,
            RIGHT - TOTALS_LEFT,
            GRAND_TOTAL_HEIGHT,
            Ink::Accent,
        );
        canvas.text(label_x, bottom + 7.0, GRAND_TOTAL, label);
        canvas.text_right(value_right, bottom + 7.0, GRAND_TOTAL, value);
    }

    fn draw_mentions(&self, canvas: &mut Canvas, top: f32) {
        canvas.text(LEFT, top - 8.0, MENTION_TITLE, "Conditions de règlement");
        let mut y = top - MENTION_HEADING - 8.0;
        for line in &self.mentions {
            canvas.text(LEFT, y, MENTION, line);
            y -= MENTION_LEADING;
        }
    }
}

fn vat_row(canvas: &mut Canvas, baseline: f32, style: Style, cells: [&str; 3]) {
    canvas.text(LEFT + CELL_PADDING, baseline, style, cells[0]);
    canvas.text_right(VAT_BASE_RIGHT - CELL_PADDING, baseline, style, cells[1]);
    canvas.text_right(VAT_AMOUNT_RIGHT - CELL_PADDING, baseline, style, cells[2]);
}

/// The payment mentions, one paragraph each, wrapped to the page width.
fn mention_lines(doc: &Doc) -> Vec<String> {
    let invoice = doc.invoice;
    let seller = doc.seller;
    let paragraphs = [
        format!(
            "Règlement : {}. Date d'échéance : {}.",
            invoice.payment_terms.trim().trim_end_matches('.'),
            date_fr(invoice.due_date)
        ),
        format!(
            "Escompte : {}.",
            seller.discount_terms.trim().trim_end_matches('.')
        ),
        format!(
            "Pénalités de retard : {}, exigibles dès le lendemain de la date d'échéance.",
            seller.late_penalty_rate.trim().trim_end_matches('.')
        ),
        "En cas de retard de paiement, une indemnité forfaitaire pour frais de recouvrement \
         de 40 EUR est due de plein droit (art. L441-10 et D441-5 du Code de commerce)."
            .to_string(),
    ];
    let fonts = doc.fonts;
    paragraphs
        .iter()
        .flat_map(|p| wrap_all(doc, &fonts.printable(p)))
        .collect()
}

fn wrap_all(doc: &Doc, paragraph: &str) -> Vec<String> {
    wrap(
        doc.fonts,
        Weight::Regular,
        paragraph,
        MENTION.size,
        CONTENT_WIDTH,
        4,
    )
}
