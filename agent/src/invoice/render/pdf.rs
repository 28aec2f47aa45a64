//! From drawn pages to PDF bytes, the same bytes for the same invoice.
//!
//! printpdf leaves three things that vary between runs: the document dates
//! (set here from the invoice date), the font resource names (registered
//! here under fixed names, see `fonts`) and the trailer's /ID, which it draws
//! from a process-wide counter. The /ID is replaced here by a hash of the
//! invoice's content before the file is written.

use printpdf::{
    Date, DateTime, Offset, PdfDocument, PdfDocumentInfo, PdfFont, PdfPage, PdfParseErrorSeverity,
    PdfSaveOptions, Time,
};
use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

use super::fonts::Face;
use super::{Doc, RenderError};

/// Whether printpdf subsets the fonts for each invoice. Off: both faces are
/// embedded whole, deflated once per process, and a one-page invoice is
/// about 40 KB. On: only the glyphs each invoice uses are embedded (about
/// 20 KB for one page, a third less for a day's batch), but every render
/// subsets, re-parses and deflates the fonts again, which makes it about
/// 1.5 times slower. Both give identical pages.
const SUBSET_FONTS: bool = false;

/// Serializes `pages` with the invoice's metadata and embedded fonts.
pub(super) fn write(doc: &Doc, pages: Vec<PdfPage>) -> Result<Vec<u8>, RenderError> {
    let id = document_id(doc);
    let mut pdf = PdfDocument::new("");
    pdf.metadata.info = info(doc, &id);
    for face in [&doc.fonts.regular, &doc.fonts.bold] {
        register(&mut pdf, face);
    }
    pdf.pages = pages;

    let options = PdfSaveOptions {
        optimize: true,
        subset_fonts: SUBSET_FONTS,
        secure: true,
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    let mut lopdf_doc = pdf.to_lopdf_document(&options, &mut warnings);
    check_warnings(doc, &warnings)?;

    let id_string = || lopdf::Object::String(id.to_vec(), lopdf::StringFormat::Hexadecimal);
    lopdf_doc.trailer.set("ID", vec![id_string(), id_string()]);
    drop_pdfx_claim(&mut lopdf_doc);
    embed_deflated_fonts(&mut lopdf_doc, [&doc.fonts.regular, &doc.fonts.bold]);
    compress(&mut lopdf_doc).map_err(|source| RenderError::Write {
        invoice: doc.invoice.number.clone(),
        source,
    })?;

    let mut bytes = Vec::with_capacity(64 * 1024);
    lopdf_doc
        .save_to(&mut bytes)
        .map_err(|source| RenderError::Write {
            invoice: doc.invoice.number.clone(),
            source,
        })?;
    Ok(bytes)
}

/// printpdf writes an (empty) PDF/X version into the document information,
/// which viewers then show as a PDF/X claim the file does not meet.
fn drop_pdfx_claim(lopdf_doc: &mut lopdf::Document) {
    let info = lopdf_doc
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference);
    if let Ok(info) = info {
        if let Ok(dict) = lopdf_doc.get_dictionary_mut(info) {
            dict.remove(b"GTS_PDFXVersion");
        }
    }
}

/// Swaps each font program embedded whole for the copy deflated once per
/// process: deflating 60 KB of fonts for every invoice would be most of the
/// render time. Subset programs differ from the faces and are left alone.
fn embed_deflated_fonts(lopdf_doc: &mut lopdf::Document, faces: [&Face; 2]) {
    for object in lopdf_doc.objects.values_mut() {
        let lopdf::Object::Stream(stream) = object else {
            continue;
        };
        let face = faces.iter().find(|face| stream.content == face.program);
        if let Some(face) = face {
            if !stream.dict.has(b"Filter") {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(face.program_deflated.clone());
            }
        }
    }
}

/// Deflates the other streams (page contents, text maps) at the fastest
/// level: drawing operators compress well at any level, and lopdf's own
/// `compress` (best level) took half the render time.
fn compress(lopdf_doc: &mut lopdf::Document) -> std::io::Result<()> {
    for object in lopdf_doc.objects.values_mut() {
        let lopdf::Object::Stream(stream) = object else {
            continue;
        };
        if !stream.allows_compression || stream.dict.has(b"Filter") {
            continue;
        }
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&stream.content)?;
        let deflated = encoder.finish()?;
        if deflated.len() < stream.content.len() {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(deflated);
        }
    }
    Ok(())
}

fn register(pdf: &mut PdfDocument, face: &Face) {
    let font = PdfFont::new(face.parsed.clone());
    pdf.resources.fonts.map.insert(face.id.clone(), font);
}

/// printpdf reports problems (text outside a text section, a font without
/// its bytes) as messages rather than errors; the ones it ranks as errors
/// mean a damaged PDF, so they stop the render.
fn check_warnings(doc: &Doc, warnings: &[printpdf::PdfWarnMsg]) -> Result<(), RenderError> {
    let errors: Vec<&str> = warnings
        .iter()
        .filter(|w| w.severity == PdfParseErrorSeverity::Error)
        .map(|w| w.msg.as_str())
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(RenderError::Pdf {
        invoice: doc.invoice.number.clone(),
        messages: errors.join("; "),
    })
}

fn info(doc: &Doc, id: &[u8; 16]) -> PdfDocumentInfo {
    let invoice = doc.invoice;
    let date = midnight_utc(invoice.date);
    PdfDocumentInfo {
        creation_date: date,
        modification_date: date,
        metadata_date: date,
        document_title: format!("{} {}", title_case(doc.title), invoice.number),
        author: doc.seller.name.clone(),
        creator: "Relais".to_string(),
        producer: "Relais (printpdf)".to_string(),
        subject: format!(
            "{} n° {} – client {} {}",
            title_case(doc.title),
            invoice.number,
            invoice.customer.code,
            invoice.customer.name
        ),
        identifier: hex::encode(id),
        ..PdfDocumentInfo::default()
    }
}

fn title_case(title: &str) -> String {
    let mut chars = title.chars();
    match chars.next() {
        Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
        None => String::new(),
    }
}

/// The invoice date as the document's date: the ERP gives no time of day.
fn midnight_utc(date: jiff::civil::Date) -> DateTime {
    DateTime {
        date: Date {
            year: i32::from(date.year()),
            month: date.month().unsigned_abs(),
            day: date.day().unsigned_abs(),
        },
        time: Time {
            hour: 0,
            minute: 0,
            second: 0,
            millisecond: 0,
        },
        offset: Offset {
            hours: 0,
            minutes: 0,
            seconds: 0,
            milliseconds: 0,
        },
    }
}

/// 128 bits of a SHA-256 over everything printed from the invoice, so the
/// same invoice always gets the same /ID and a corrected one a new /ID.
/// Each field is length-prefixed so that no two invoices hash the same input.
fn document_id(doc: &Doc) -> [u8; 16] {
    let invoice = doc.invoice;
    let customer = &invoice.customer;
    let mut hasher = Sha256::new();
    let mut feed = |field: &str| {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    };
    feed(&doc.seller.siret);
    feed(&invoice.number);
    feed(&invoice.date.to_string());
    feed(&invoice.due_date.to_string());
    feed(&invoice.payment_terms);
    for field in [
        &customer.code,
        &customer.name,
        &customer.siret,
        &customer.vat_number,
    ] {
        feed(field);
    }
    for field in [&customer.address, &customer.postcode, &customer.city] {
        feed(field);
    }
    for line in &invoice.lines {
        feed(line.origin.code());
        feed(&line.reference);
        feed(&line.article);
        feed(&line.label);
        feed(&line.unit);
        for amount in [line.quantity, line.unit_price_ht, line.amount_ht] {
            feed(&amount.to_string());
        }
        for amount in [line.vat_rate, line.amount_vat, line.amount_ttc] {
            feed(&amount.to_string());
        }
    }
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}
