//! Checking an invoice upload and deciding what it means, without touching the disk.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use super::HeldInvoice;
use crate::wp::WpError;

/// Largest PDF the plugin takes; above it the answer is 413 and nothing is stored.
pub(crate) const MAX_PDF_BYTES: usize = 10 * 1024 * 1024;

/// Header naming the shop customer the invoice belongs to.
pub(crate) const CUSTOMER_HEADER: &str = "x-relais-customer";

/// Optional header with the SHA-256 of the body, as hex, checked against the body received.
pub(crate) const SHA256_HEADER: &str = "x-relais-sha256";

/// Every PDF starts with this.
const PDF_MAGIC: &[u8] = b"%PDF-";

/// A well-formed upload.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// Invoice number, checked with [`check_number`].
    pub number: String,
    /// Shop customer id, > 0.
    pub customer_id: u64,
    /// SHA-256 of `pdf`, lowercase hex.
    pub sha256: String,
    /// The PDF bytes.
    pub pdf: Bytes,
}

/// What an upload means given what the shop holds under its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing held under the number: store it.
    Create,
    /// The same customer and bytes are held already: answer as if created, store nothing.
    Identical(HeldInvoice),
    /// The number is held for another customer or with other bytes: refuse.
    Conflict(HeldInvoice),
}

/// Decides between create, identical and conflict.
pub(crate) fn decide(held: Option<&HeldInvoice>, customer_id: u64, sha256: &str) -> Decision {
    match held {
        None => Decision::Create,
        Some(h) if h.customer_id == customer_id && h.sha256 == sha256 => {
            Decision::Identical(h.clone())
        }
        Some(h) => Decision::Conflict(h.clone()),
    }
}

/// Checks an invoice number: 1 to 64 of `A-Z a-z 0-9 _ -`, which also keeps it safe as a
/// file name.
pub(crate) fn check_number(number: &str) -> Result<(), WpError> {
    let valid = (1..=64).contains(&number.len())
        && number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        return Ok(());
    }
    Err(bad_request(
        "relais_invoice_invalid_number",
        format!("invoice number {number:?} must be 1 to 64 characters among A-Z a-z 0-9 _ -"),
    ))
}

/// Checks everything about a `PUT` except what the shop already holds.
pub(crate) fn parse_upload(
    number: String,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Upload, WpError> {
    check_number(&number)?;
    let customer_id = customer_id(headers)?;
    check_content_type(headers)?;
    let pdf = body.map_err(body_error)?;
    if !pdf.starts_with(PDF_MAGIC) {
        let start = String::from_utf8_lossy(&pdf[..pdf.len().min(8)]).into_owned();
        let message = format!("the body is not a PDF: it starts with {start:?}, not \"%PDF-\"");
        return Err(bad_request("relais_invoice_not_pdf", message));
    }

    let sha256 = hex::encode(Sha256::digest(&pdf));
    check_declared_sha256(headers, &sha256)?;
    Ok(Upload {
        number,
        customer_id,
        sha256,
        pdf,
    })
}

/// Reads a customer id: a decimal integer > 0.
pub(crate) fn parse_customer_id(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|id| *id > 0)
}

fn customer_id(headers: &HeaderMap) -> Result<u64, WpError> {
    let values: Vec<&str> = headers
        .get_all(CUSTOMER_HEADER)
        .iter()
        .map(|v| v.to_str().unwrap_or("(not text)"))
        .collect();
    // Two values would leave the owner of the invoice to chance.
    match values.as_slice() {
        [one] => parse_customer_id(one).ok_or_else(|| bad_customer(&format!("{one:?}"))),
        [] => Err(bad_customer("no header")),
        several => Err(bad_customer(&format!(
            "{} headers {several:?}",
            several.len()
        ))),
    }
}

fn bad_customer(found: &str) -> WpError {
    let message = format!("X-Relais-Customer must be one shop customer id > 0, found {found}");
    bad_request("relais_invoice_invalid_customer", message)
}

fn check_content_type(headers: &HeaderMap) -> Result<(), WpError> {
    let raw = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = raw.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/pdf") {
        return Ok(());
    }
    Err(WpError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "relais_invoice_unsupported_type",
        format!("Content-Type must be application/pdf, found {raw:?}"),
    ))
}

fn check_declared_sha256(headers: &HeaderMap, actual: &str) -> Result<(), WpError> {
    let Some(value) = headers.get(SHA256_HEADER) else {
        return Ok(());
    };
    let declared = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    if declared == actual {
        return Ok(());
    }
    let message =
        format!("X-Relais-Sha256 says {declared:?} but the body received has SHA-256 {actual}");
    Err(bad_request("relais_invoice_checksum_mismatch", message))
}

fn body_error(rejection: BytesRejection) -> WpError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return WpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "relais_invoice_too_large",
            format!("the PDF is larger than {MAX_PDF_BYTES} bytes"),
        );
    }
    bad_request(
        "relais_invoice_unreadable_body",
        format!("the body could not be read: {}", rejection.body_text()),
    )
}

fn bad_request(code: &'static str, message: String) -> WpError {
    WpError::new(StatusCode::BAD_REQUEST, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(customer: &str, sha: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
        headers.insert(
            CUSTOMER_HEADER,
            HeaderValue::from_str(customer).expect("header"),
        );
        if let Some(sha) = sha {
            headers.insert(SHA256_HEADER, HeaderValue::from_str(sha).expect("header"));
        }
        headers
    }

    fn held(customer_id: u64, sha256: &str) -> HeldInvoice {
        HeldInvoice {
            number: "F1".to_owned(),
            customer_id,
            sha256: sha256.to_owned(),
            size: 9,
            received_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    fn code(result: Result<Upload, WpError>) -> String {
        format!("{:?}", result.expect_err("refused"))
    }

    #[test]
    fn invoice_numbers_are_short_and_file_name_safe() {
        assert!(check_number("FA-2026_000123").is_ok());
        for bad in ["", "../etc", "a b", "é", &"9".repeat(65)] {
            assert!(check_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_valid_upload_gets_its_checksum() {
        let body = Bytes::from_static(b"%PDF-1.7");
        let sha = hex::encode(Sha256::digest(&body));
        let upload = parse_upload(
            "F1".into(),
            &headers("42", Some(&sha.to_uppercase())),
            Ok(body),
        )
        .expect("valid");

        assert_eq!((upload.customer_id, upload.sha256), (42, sha));
    }

    #[test]
    fn uploads_with_a_wrong_part_are_refused_with_its_code() {
        let pdf = || Ok(Bytes::from_static(b"%PDF-1.7"));
        let cases = [
            (
                parse_upload("F1".into(), &headers("0", None), pdf()),
                "invalid_customer",
            ),
            (
                parse_upload("F1".into(), &headers("x", None), pdf()),
                "invalid_customer",
            ),
            (
                parse_upload("F1".into(), &headers("1", Some("ab")), pdf()),
                "checksum_mismatch",
            ),
            (
                parse_upload(
                    "F1".into(),
                    &headers("1", None),
                    Ok(Bytes::from_static(b"<html>")),
                ),
                "not_pdf",
            ),
        ];
        for (result, expected) in cases {
            let text = code(result);
            assert!(text.contains(expected), "{text}");
        }
    }

    #[test]
    fn the_content_type_must_be_pdf() {
        let mut headers = headers("1", None);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let text = code(parse_upload(
            "F1".into(),
            &headers,
            Ok(Bytes::from_static(b"%PDF-")),
        ));
        assert!(text.contains("unsupported_type"), "{text}");
    }

    #[test]
    fn same_number_same_customer_same_bytes_is_identical_anything_else_conflicts() {
        let h = held(7, "aa");
        assert_eq!(decide(None, 7, "aa"), Decision::Create);
        assert_eq!(decide(Some(&h), 7, "aa"), Decision::Identical(h.clone()));
        assert_eq!(decide(Some(&h), 7, "bb"), Decision::Conflict(h.clone()));
        assert_eq!(decide(Some(&h), 8, "aa"), Decision::Conflict(h));
    }
}
