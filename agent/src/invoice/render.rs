//! One ERP invoice (or credit note) as a PDF a French accountant accepts.
//!
//! The page carries what the Code de commerce (L441-9) and the Code général
//! des impôts (art. 242 nonies A of annex II) ask of an invoice between
//! businesses: the seller's identity (name, legal form and capital, address,
//! SIREN/SIRET, RCS, VAT number), the customer's, the number and date, every
//! line with quantity, unit price excluding VAT and VAT rate, VAT per rate,
//! the totals, the due date and payment terms, discount terms, late-payment
//! penalties and the 40 EUR recovery indemnity.
//!
//! Lines are grouped by where they were sold (a web order, a counter ticket),
//! so a customer recognises each purchase of the day. Long invoices flow over
//! as many pages as needed, with the table header repeated and "page n / m"
//! on each.
//!
//! Rendering is a pure function of the invoice and the seller: no clock, no
//! randomness. The same input gives the same bytes, so a re-run after a crash
//! produces a file identical to the one already uploaded.
//!
//! The work is split in steps: measure and group the rows (`layout`), cut
//! them into pages, draw each page (`header`, `table`, `summary` on a
//! `canvas`), then serialize (`pdf`).

mod canvas;
mod fonts;
mod header;
mod layout;
mod pdf;
mod summary;
mod table;
#[cfg(test)]
mod tests;

use pos_bridge::invoice::{Invoice, InvoiceTotals};
use printpdf::{Mm, PdfPage};

use canvas::Canvas;
use fonts::Fonts;
use layout::{Room, BODY_BOTTOM, CONTINUED_TABLE_TOP, TABLE_HEADER_HEIGHT};
use summary::Summary;

/// The most lines one PDF takes (about 150 pages). The ERP's daily invoice
/// for one customer is far below; above this the export is likely wrong.
pub const MAX_LINES: usize = 5_000;

/// The selling company's identity, printed on every invoice (from the site
/// file: a TOML table with these fields, see `relais demo --seller`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seller {
    /// Company name, e.g. "Marée & Primeurs Delorme".
    pub name: String,
    /// Legal form, e.g. "SAS".
    pub legal_form: String,
    /// Share capital as printed, e.g. "50 000 EUR".
    pub capital: String,
    /// Postal address, one line each.
    pub address_lines: Vec<String>,
    /// SIREN (9 digits), as printed.
    pub siren: String,
    /// SIRET of the invoicing establishment (14 digits), as printed.
    pub siret: String,
    /// Trade register mention, e.g. "RCS Créteil 123 456 782".
    pub rcs: String,
    /// Intra-community VAT number, e.g. "FR11123456782".
    pub vat_number: String,
    /// Phone number for the customer.
    pub phone: String,
    /// E-mail address for the customer.
    pub email: String,
    /// Late-payment penalty rate, e.g. "3 fois le taux d'intérêt légal".
    pub late_penalty_rate: String,
    /// Early-payment discount terms, e.g. "Pas d'escompte pour paiement anticipé".
    pub discount_terms: String,
}

impl Seller {
    /// A fictional wholesaler at the Rungis market, for tests and the demo.
    /// Its identifiers are made up (they pass the Luhn check but belong to
    /// nobody we know of).
    pub fn sample() -> Seller {
        Seller {
            name: "Marée & Primeurs Delorme".to_string(),
            legal_form: "SAS".to_string(),
            capital: "50 000 EUR".to_string(),
            address_lines: vec![
                "Marché d'intérêt national de Rungis".to_string(),
                "Pavillon des fruits et légumes, allée C, cases 12-14".to_string(),
                "94150 Rungis".to_string(),
            ],
            siren: "123 456 782".to_string(),
            siret: "123 456 782 00010".to_string(),
            rcs: "RCS Créteil 123 456 782".to_string(),
            vat_number: "FR11123456782".to_string(),
            phone: "01 41 80 00 00".to_string(),
            email: "factures@delorme-primeurs.example".to_string(),
            late_penalty_rate: "3 fois le taux d'intérêt légal".to_string(),
            discount_terms: "Pas d'escompte pour paiement anticipé".to_string(),
        }
    }
}

/// Why an invoice could not be rendered. Every case names the invoice.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The invoice has no lines: the ERP export is incomplete.
    #[error("invoice {invoice}: no lines to render; check the ERP export for this invoice")]
    NoLines { invoice: String },
    /// The invoice has more lines than one PDF takes.
    #[error("invoice {invoice}: {lines} lines, more than the {max} one PDF takes")]
    TooManyLines {
        invoice: String,
        lines: usize,
        max: usize,
    },
    /// The font compiled into the program cannot be used (a build problem).
    #[error("invoice {invoice}: {reason}")]
    Font { invoice: String, reason: String },
    /// The PDF library reported an error while assembling the document.
    #[error("invoice {invoice}: the PDF library reported: {messages}")]
    Pdf { invoice: String, messages: String },
    /// Writing the assembled document to bytes failed.
    #[error("invoice {invoice}: writing the PDF failed: {source}")]
    Write {
        invoice: String,
        #[source]
        source: std::io::Error,
    },
}

/// Renders `invoice` as a PDF, on A4 pages, with `seller` as the issuer.
///
/// "FACTURE" becomes "AVOIR" when the invoice is a credit note (negative
/// total). The result depends only on the arguments: rendering twice gives
/// the same bytes.
pub fn render(invoice: &Invoice, seller: &Seller) -> Result<Vec<u8>, RenderError> {
    check_size(invoice)?;
    let fonts = fonts::fonts().map_err(|reason| RenderError::Font {
        invoice: invoice.number.clone(),
        reason,
    })?;
    let doc = Doc::new(invoice, seller, fonts);
    let pages = draw_pages(&doc);
    pdf::write(&doc, pages)
}

fn check_size(invoice: &Invoice) -> Result<(), RenderError> {
    let lines = invoice.lines.len();
    if lines == 0 {
        return Err(RenderError::NoLines {
            invoice: invoice.number.clone(),
        });
    }
    if lines > MAX_LINES {
        return Err(RenderError::TooManyLines {
            invoice: invoice.number.clone(),
            lines,
            max: MAX_LINES,
        });
    }
    Ok(())
}

/// Everything the drawing steps read, computed once.
struct Doc<'a> {
    invoice: &'a Invoice,
    seller: &'a Seller,
    fonts: &'static Fonts,
    /// "FACTURE" or "AVOIR".
    title: &'static str,
    totals: InvoiceTotals,
}

impl<'a> Doc<'a> {
    fn new(invoice: &'a Invoice, seller: &'a Seller, fonts: &'static Fonts) -> Self {
        Doc {
            invoice,
            seller,
            fonts,
            title: if invoice.is_credit_note() {
                "AVOIR"
            } else {
                "FACTURE"
            },
            totals: invoice.totals(),
        }
    }
}

/// Lays the invoice out and draws every page.
fn draw_pages(doc: &Doc) -> Vec<PdfPage> {
    let groups = layout::groups(doc.invoice, doc.fonts);
    let summary = Summary::build(doc);
    let mut first = Canvas::new(doc.fonts);
    let first_table_top = header::first_page(doc, &mut first);
    let room = Room {
        first_page: first_table_top - TABLE_HEADER_HEIGHT - BODY_BOTTOM,
        other_pages: CONTINUED_TABLE_TOP - TABLE_HEADER_HEIGHT - BODY_BOTTOM,
        summary: summary.height(),
    };
    let plans = layout::paginate(&groups, &room);

    let count = plans.len();
    let mut first = Some(first);
    let mut pages = Vec::with_capacity(count);
    for (index, plan) in plans.iter().enumerate() {
        let (mut canvas, mut y) = match first.take() {
            Some(canvas) => (canvas, first_table_top),
            None => (continued_canvas(doc), CONTINUED_TABLE_TOP),
        };
        if !plan.rows.is_empty() {
            y = table::draw(&mut canvas, &plan.rows, y);
        }
        if plan.summary {
            summary.draw(&mut canvas, y);
        }
        header::footer(doc, &mut canvas, index + 1, count);
        pages.push(PdfPage::new(Mm(210.0), Mm(297.0), canvas.into_ops()));
    }
    pages
}

fn continued_canvas(doc: &Doc) -> Canvas<'static> {
    let mut canvas = Canvas::new(doc.fonts);
    header::continued_page(doc, &mut canvas);
    canvas
}

/// A date the French way: `04/12/2026`.
fn date_fr(date: jiff::civil::Date) -> String {
    format!("{:02}/{:02}/{}", date.day(), date.month(), date.year())
}
