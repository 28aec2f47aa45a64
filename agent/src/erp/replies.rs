//! The ERP's answers to import files.
//!
//! The ERP takes each import file from its import folder and either moves
//! it to its done folder (every piece imported) or leaves it and writes a
//! rejection file beside it, named by a pattern (`{name}.rej` by default:
//! `CMD_20261202_000012.csv.rej`). A rejection file is a CSV in the site's
//! import dialect (Windows-1252, `;` by default) with a header and one row
//! per refusal:
//!
//! ```text
//! RefExterne;Ligne;Motif
//! 383124;5;Client C004100 bloqué (encours dépassé)
//! ;9;Article FL-XXX inconnu
//! ```
//!
//! `RefExterne` names the order, ticket or credit note; `Ligne` is the line
//! of the import file (the header is line 1), used when the reference is
//! empty; `Motif` is the ERP's reason. The pieces refused are quarantined
//! with that reason, the others of the file are confirmed: the ERP imports
//! the rest of a file it partly refuses. A refusal Relais cannot place (no
//! reference or line of the file, or the whole file refused) quarantines
//! every document of the file: nothing is confirmed on a guess.
//!
//! Each file's answer is one commit. Relais leaves the ERP's files where
//! they are; a document leaves `delivered` once, so reading an answer again
//! finds nothing to do.

use std::collections::BTreeMap;
use std::fs;

use pos_bridge::dialect::Dialect;
use pos_bridge::spool::SpoolError;

use super::{settled, ErpError, ErpSettings};
use crate::mapping::import::ImportRow;
use crate::store::{decode, Dest, DocMeta, State, Store, StoreError, Transition};

/// Delivered documents looked at per round.
// TODO: a document delivered before replies were switched on never gets
// one; past this many such, newer files' replies wait. Confirm them with
// a one-off command when switching replies on at a site with history.
const SCAN: usize = 20_000;

/// What one look at the ERP's answers did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplyReport {
    /// Files answered.
    pub files: usize,
    /// Documents the ERP took in.
    pub confirmed: usize,
    /// Documents it refused, now quarantined.
    pub rejected: usize,
}

/// One refusal read from a rejection file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The piece's reference, if the ERP gave one.
    pub reference: String,
    /// The line of the import file, if given.
    pub line: Option<u64>,
    /// The ERP's reason.
    pub reason: String,
}

/// A rejection file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("rejection file {file}: {problem}")]
pub struct RejectionError {
    /// The file.
    pub file: String,
    /// Where and what.
    pub problem: String,
}

/// The name of the rejection file of `import_name` under `pattern`
/// (`{name}`: the import file's name; `{stem}`: the same without extension).
pub fn rejection_name(pattern: &str, import_name: &str) -> String {
    let stem = import_name
        .rsplit_once('.')
        .map_or(import_name, |(stem, _)| stem);
    pattern
        .replace("{name}", import_name)
        .replace("{stem}", stem)
}

/// Reads a rejection file (see the module doc).
pub fn read_rejection(
    bytes: &[u8],
    dialect: &Dialect,
    file: &str,
) -> Result<Vec<Refusal>, RejectionError> {
    let fail = |problem: String| RejectionError {
        file: file.to_string(),
        problem,
    };
    let text = dialect.encoding.decode(bytes).into_owned();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(dialect.separator as u8)
        .flexible(true)
        .from_reader(pos_bridge::line_ends::NormalizeLineEnds::new(
            text.as_bytes(),
        ));
    let header = reader
        .headers()
        .map_err(|e| fail(format!("header: {e}")))?
        .clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                fail(format!(
                    "the header has no column {name:?} (found {header:?})"
                ))
            })
    };
    let (reference_at, line_at, reason_at) =
        (column("RefExterne")?, column("Ligne")?, column("Motif")?);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(e.to_string()))?;
        let at = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").trim().to_string();
        let line_text = field(line_at);
        let line = match line_text.as_str() {
            "" => None,
            text => Some(text.parse().map_err(|_| {
                fail(format!(
                    "line {at}: Ligne: expected a line number, found {text:?}"
                ))
            })?),
        };
        out.push(Refusal {
            reference: field(reference_at),
            line,
            reason: field(reason_at),
        });
    }
    Ok(out)
}

/// Looks for the ERP's answers to every delivered import file and records
/// them: confirmed, or quarantined with the ERP's reason. Does nothing
/// unless the site names the ERP's done folder.
pub fn collect_replies(store: &Store, settings: &ErpSettings) -> Result<ReplyReport, ErpError> {
    let mut report = ReplyReport::default();
    let Some(done_dir) = &settings.import_done_dir else {
        return Ok(report);
    };
    let mut files: BTreeMap<String, Vec<DocMeta>> = BTreeMap::new();
    for meta in store.in_state(State::Delivered(Dest::Erp), SCAN)? {
        if let Some(name) = meta.delivered_as.clone() {
            files.entry(name).or_default().push(meta);
        }
    }
    for (name, docs) in files {
        let rejection_file = rejection_name(&settings.rejection_name, &name);
        let rejection = settings.import_dir.join(&rejection_file);
        let transitions = if rejection.exists() {
            if !settled(&rejection, settings.export_settle) {
                continue;
            }
            let bytes = fs::read(&rejection).map_err(|source| SpoolError {
                action: "read",
                path: rejection.clone(),
                source,
            })?;
            let refusals = read_rejection(&bytes, &settings.dialect, &rejection_file)
                .map_err(|e| e.to_string());
            answer_rejection(store, &name, &docs, refusals)?
        } else if done_dir.join(&name).exists() {
            let note = format!("imported by the ERP ({name} in its done folder)");
            docs.iter()
                .map(|m| Transition::to(m.id, State::Confirmed(Dest::Erp), note.clone()))
                .collect()
        } else {
            continue;
        };
        report.files += 1;
        for t in &transitions {
            if t.to == State::Quarantined {
                report.rejected += 1;
                tracing::error!(file = %name, document = t.id, reason = %t.note,
                    "rejected by the ERP");
            } else {
                report.confirmed += 1;
            }
        }
        store.apply(transitions)?;
        tracing::info!(file = %name, "ERP answer recorded");
    }
    Ok(report)
}

/// The transitions a rejection file makes for the documents of its file.
fn answer_rejection(
    store: &Store,
    name: &str,
    docs: &[DocMeta],
    refusals: Result<Vec<Refusal>, String>,
) -> Result<Vec<Transition>, StoreError> {
    let refusals = match refusals {
        Ok(refusals) => refusals,
        Err(problem) => {
            let note =
                format!("the ERP refused {name} and its rejection file is unreadable: {problem}");
            return Ok(quarantine_all(docs, &note));
        }
    };
    let placed = place(store, name, docs, &refusals)?;
    let Ok(reasons) = placed else {
        let list: Vec<String> = refusals.iter().map(describe).collect();
        let note = format!(
            "the ERP refused {name} and Relais cannot tell which documents: {}",
            list.join("; ")
        );
        return Ok(quarantine_all(docs, &note));
    };
    let refused = reasons.len();
    Ok(docs
        .iter()
        .map(|m| match reasons.get(&m.id) {
            Some(why) => {
                let note = format!("rejected by the ERP in {name}: {}", why.join("; "));
                Transition::to(m.id, State::Quarantined, note)
            }
            None => {
                let note = format!("imported by the ERP ({name}; {refused} refused beside it)");
                Transition::to(m.id, State::Confirmed(Dest::Erp), note)
            }
        })
        .collect())
}

fn describe(r: &Refusal) -> String {
    let line = r.line.map(|l| format!("line {l}: ")).unwrap_or_default();
    let reference = if r.reference.is_empty() {
        String::new()
    } else {
        format!("{} ", r.reference)
    };
    format!("{line}{reference}{}", r.reason)
}

fn quarantine_all(docs: &[DocMeta], note: &str) -> Vec<Transition> {
    docs.iter()
        .map(|m| Transition::to(m.id, State::Quarantined, note.to_string()))
        .collect()
}

/// Document id -> the ERP's reasons, or `Err` if a refusal names no
/// document of the file. Lines are counted as the file was written: the
/// header, then each document's rows in the batch's order.
fn place(
    store: &Store,
    name: &str,
    docs: &[DocMeta],
    refusals: &[Refusal],
) -> Result<Result<BTreeMap<u64, Vec<String>>, ()>, StoreError> {
    let mut by_reference: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_line: BTreeMap<u64, u64> = BTreeMap::new();
    let mut line = 1;
    for meta in docs {
        let rows: Vec<ImportRow> =
            decode(&store.mapped(meta.id)?).map_err(|source| StoreError::Damaged {
                what: format!("rows of document {} in {name}", meta.id),
                source,
            })?;
        for row in rows {
            line += 1;
            by_line.insert(line, meta.id);
            by_reference.insert(row.reference, meta.id);
        }
    }
    let mut reasons: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for refusal in refusals {
        let id = by_reference
            .get(&refusal.reference)
            .or_else(|| refusal.line.and_then(|l| by_line.get(&l)));
        let Some(&id) = id else {
            return Ok(Err(()));
        };
        reasons.entry(id).or_default().push(describe(refusal));
    }
    if reasons.is_empty() {
        // A rejection file with no row refuses the whole file.
        return Ok(Err(()));
    }
    Ok(Ok(reasons))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rejection_file_is_named_by_the_pattern() {
        assert_eq!(rejection_name("{name}.rej", "CMD_1.csv"), "CMD_1.csv.rej");
        assert_eq!(rejection_name("{stem}.err", "CMD_1.csv"), "CMD_1.err");
        assert_eq!(
            rejection_name("rejets/{stem}.txt", "CMD_1.csv"),
            "rejets/CMD_1.txt"
        );
    }

    #[test]
    fn a_rejection_file_is_read_in_the_site_dialect_with_lines_and_reasons() {
        let text = "RefExterne;Ligne;Motif\r\n383124;5;Client bloqué\r\n;9;Article inconnu\r\n";
        let bytes = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
        let refusals = read_rejection(&bytes, &Dialect::french_erp(), "x.rej").expect("read");
        assert_eq!(
            refusals,
            vec![
                Refusal {
                    reference: "383124".into(),
                    line: Some(5),
                    reason: "Client bloqué".into()
                },
                Refusal {
                    reference: String::new(),
                    line: Some(9),
                    reason: "Article inconnu".into()
                },
            ]
        );
    }

    #[test]
    fn a_bad_rejection_file_says_where_and_what() {
        let err = read_rejection(b"Ref;Motif\n1;x\n", &Dialect::french_erp(), "CMD_1.csv.rej")
            .expect_err("no RefExterne");
        assert!(err.to_string().contains("CMD_1.csv.rej"), "{err}");
        assert!(err.to_string().contains("RefExterne"), "{err}");
        let err = read_rejection(
            b"RefExterne;Ligne;Motif\n1;douze;x\n",
            &Dialect::french_erp(),
            "r",
        )
        .expect_err("bad line");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
