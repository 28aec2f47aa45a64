//! The page header (seller, invoice identity, customer) and the footer with
//! the seller's legal line and the page number.

use super::canvas::{Canvas, Ink, Style};
use super::fonts::Weight;
use super::layout::{
    fit, wrap, BODY_SIZE, CONTENT_WIDTH, LEFT, PAGE_WIDTH, RIGHT, SMALL_SIZE, TOP,
};
use super::{date_fr, Doc};

const SELLER_NAME: Style = Style::new(Weight::Bold, 14.0, Ink::Accent);
const BODY: Style = Style::new(Weight::Regular, BODY_SIZE, Ink::Black);
const BODY_BOLD: Style = Style::new(Weight::Bold, BODY_SIZE, Ink::Black);
const LABEL: Style = Style::new(Weight::Regular, BODY_SIZE, Ink::Grey);
const SMALL_LABEL: Style = Style::new(Weight::Regular, SMALL_SIZE, Ink::Grey);
const TITLE: Style = Style::new(Weight::Bold, 22.0, Ink::Accent);
const CUSTOMER_NAME: Style = Style::new(Weight::Bold, 10.0, Ink::Black);
const RUNNING_TITLE: Style = Style::new(Weight::Bold, 11.0, Ink::Accent);
const FOOTER: Style = Style::new(Weight::Regular, 6.8, Ink::Grey);
const FOOTER_PAGE: Style = Style::new(Weight::Regular, SMALL_SIZE, Ink::Grey);

const LEADING: f32 = 11.0;
/// Left edge of the customer box: where a window envelope shows the address.
const CUSTOMER_BOX_LEFT: f32 = 305.0;
const CUSTOMER_BOX_PADDING: f32 = 9.0;
const INFO_LABEL_X: f32 = CUSTOMER_BOX_LEFT + CUSTOMER_BOX_PADDING;
const INFO_VALUE_X: f32 = INFO_LABEL_X + 70.0;
/// Baseline of the footer's legal line and of its page line.
const FOOTER_RULE_Y: f32 = 46.0;
const FOOTER_LEGAL_Y: f32 = 36.0;
const FOOTER_PAGE_Y: f32 = 25.0;

/// Draws the first page's header and returns the top of the lines table.
pub(super) fn first_page(doc: &Doc, canvas: &mut Canvas) -> f32 {
    let seller_bottom = seller_block(doc, canvas);
    let info_bottom = invoice_block(doc, canvas);
    let box_top = seller_bottom.min(info_bottom) - 12.0;
    let box_bottom = customer_box(doc, canvas, box_top);
    box_bottom - 18.0
}

/// Seller identity, top left. Returns the lowest baseline used.
fn seller_block(doc: &Doc, canvas: &mut Canvas) -> f32 {
    let seller = doc.seller;
    let width = CUSTOMER_BOX_LEFT - LEFT - 16.0;
    let name = fit_to(canvas, &seller.name, SELLER_NAME, width);
    canvas.text(LEFT, TOP - 4.0, SELLER_NAME, &name);

    let mut lines = vec![format!(
        "{} au capital de {}",
        seller.legal_form, seller.capital
    )];
    lines.extend(seller.address_lines.iter().cloned());
    lines.push(format!("Tél. {} · {}", seller.phone, seller.email));
    lines.push(format!("SIREN {} · SIRET {}", seller.siren, seller.siret));
    lines.push(format!("{} · N° TVA {}", seller.rcs, seller.vat_number));

    let mut y = TOP - 21.0;
    for line in &lines {
        let line = fit_to(canvas, line, BODY, width);
        canvas.text(LEFT, y, BODY, &line);
        y -= LEADING;
    }
    y + LEADING
}

/// "FACTURE" or "AVOIR", number, dates, terms and customer code, top right.
/// Returns the lowest baseline used.
fn invoice_block(doc: &Doc, canvas: &mut Canvas) -> f32 {
    let invoice = doc.invoice;
    canvas.text(INFO_LABEL_X, TOP - 6.0, TITLE, doc.title);

    let value_width = RIGHT - INFO_VALUE_X;
    let (date, due) = (date_fr(invoice.date), date_fr(invoice.due_date));
    let mut rows = vec![("N°", invoice.number.as_str(), BODY_BOLD)];
    if let Some(corrected) = &invoice.corrects {
        rows.push(("Avoir sur", corrected.as_str(), BODY));
    }
    rows.extend([
        ("Date", date.as_str(), BODY),
        // One invoice per customer per day of sales: the sale date is the
        // invoice date (a mandatory mention of its own).
        ("Date de vente", date.as_str(), BODY),
        ("Échéance", due.as_str(), BODY),
        ("Règlement", invoice.payment_terms.as_str(), BODY),
        ("Code client", invoice.customer.code.as_str(), BODY),
    ]);
    let mut y = TOP - 26.0;
    for (label, value, style) in rows {
        canvas.text(INFO_LABEL_X, y, LABEL, label);
        let value = fit_to(canvas, value, style, value_width);
        canvas.text(INFO_VALUE_X, y, style, &value);
        y -= LEADING + 1.0;
    }
    y + LEADING + 1.0
}

/// The customer's name, address and identifiers in a framed box. Returns the
/// box's bottom edge.
fn customer_box(doc: &Doc, canvas: &mut Canvas, top: f32) -> f32 {
    let inner_left = CUSTOMER_BOX_LEFT + CUSTOMER_BOX_PADDING;
    let inner_width = RIGHT - CUSTOMER_BOX_LEFT - 2.0 * CUSTOMER_BOX_PADDING;
    let (name, lines) = customer_lines(doc, canvas, inner_width);

    let mut y = top - CUSTOMER_BOX_PADDING - 7.0;
    canvas.text(inner_left, y, SMALL_LABEL, "Client");
    y -= 14.0;
    for line in &name {
        canvas.text(inner_left, y, CUSTOMER_NAME, line);
        y -= 12.5;
    }
    for line in &lines {
        canvas.text(inner_left, y, BODY, line);
        y -= LEADING;
    }
    let bottom = y + LEADING - CUSTOMER_BOX_PADDING - 2.0;
    let width = RIGHT - CUSTOMER_BOX_LEFT;
    canvas.stroke_rect(CUSTOMER_BOX_LEFT, bottom, width, top - bottom, Ink::Rule);
    bottom
}

/// The customer's name (wrapped) and the address and identifier lines.
fn customer_lines(doc: &Doc, canvas: &Canvas, width: f32) -> (Vec<String>, Vec<String>) {
    let customer = &doc.invoice.customer;
    let fonts = canvas.fonts;
    let name = fonts.printable(&customer.name);
    let name = wrap(fonts, Weight::Bold, &name, CUSTOMER_NAME.size, width, 2);

    let address = fonts.printable(&customer.address);
    let mut lines = wrap(fonts, Weight::Regular, &address, BODY_SIZE, width, 3);
    lines.push(format!(
        "{} {}",
        customer.postcode.trim(),
        customer.city.trim()
    ));
    if !customer.siret.trim().is_empty() {
        lines.push(format!("SIRET {}", customer.siret.trim()));
    }
    if !customer.vat_number.trim().is_empty() {
        lines.push(format!("N° TVA {}", customer.vat_number.trim()));
    }
    let lines = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| fit_to(canvas, line, BODY, width))
        .collect();
    (name, lines)
}

/// The short header of the pages after the first.
pub(super) fn continued_page(doc: &Doc, canvas: &mut Canvas) {
    let invoice = doc.invoice;
    let half = CONTENT_WIDTH / 2.0 - 8.0;
    let name = fit_to(canvas, &doc.seller.name, RUNNING_TITLE, half);
    canvas.text(LEFT, TOP, RUNNING_TITLE, &name);
    let title = format!("{} n° {} (suite)", doc.title, invoice.number);
    let title = fit_to(canvas, &title, RUNNING_TITLE, half);
    canvas.text_right(RIGHT, TOP, RUNNING_TITLE, &title);

    let about = format!(
        "Client : {} · code {} · date {}",
        invoice.customer.name,
        invoice.customer.code,
        date_fr(invoice.date)
    );
    let about = fit_to(canvas, &about, LABEL, CONTENT_WIDTH);
    canvas.text(LEFT, TOP - 15.0, LABEL, &about);
    canvas.hline(LEFT, RIGHT, TOP - 24.0, 0.6, Ink::Rule);
}

/// The seller's legal line and "Page n / m", on every page.
pub(super) fn footer(doc: &Doc, canvas: &mut Canvas, page: usize, pages: usize) {
    let seller = doc.seller;
    canvas.hline(LEFT, RIGHT, FOOTER_RULE_Y, 0.6, Ink::Rule);

    let legal = format!(
        "{} · {} au capital de {} · SIRET {} · {} · N° TVA {}",
        seller.name, seller.legal_form, seller.capital, seller.siret, seller.rcs, seller.vat_number
    );
    let legal = fit_to(canvas, &legal, FOOTER, CONTENT_WIDTH);
    canvas.text_center(PAGE_WIDTH / 2.0, FOOTER_LEGAL_Y, FOOTER, &legal);

    let reference = format!("{} n° {}", doc.title, doc.invoice.number);
    let reference = fit_to(canvas, &reference, FOOTER_PAGE, CONTENT_WIDTH / 2.0);
    canvas.text(LEFT, FOOTER_PAGE_Y, FOOTER_PAGE, &reference);
    let page = format!("Page {page} / {pages}");
    canvas.text_right(RIGHT, FOOTER_PAGE_Y, FOOTER_PAGE, &page);
}

/// `text` made printable and cut to `width` in `style`.
fn fit_to(canvas: &Canvas, text: &str, style: Style, width: f32) -> String {
    let text = canvas.fonts.printable(text);
    fit(canvas.fonts, style.weight, &text, style.size, width)
}
