//! The page itself: a [`Report`] written as one self-contained HTML
//! document, in plain Rust.
//!
//! Every value that came from the store goes through [`escape`] (ids at
//! the source and quarantine reasons are written by shops, registers and
//! the ERP, not by us). The page has no script, loads nothing else (the
//! style is inline, no font, image or CDN) and reloads itself with a meta
//! refresh, so it works on any phone on the LAN, even one without a route
//! to the internet.

use std::fmt::Write;

use jiff::tz::TimeZone;

use super::lang::Lang;
use super::report::{Queue, Report};

/// The page's whole style: small, readable on a phone, light or dark.
const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1b1b;--muted:#5a5f66;--line:#d6d6d6;\
--bad:#b3261e;--on-bad:#fff;--card:#f5f5f5}\
@media (prefers-color-scheme:dark){:root{--bg:#121212;--fg:#ececec;--muted:#a9adb3;\
--line:#3a3a3a;--bad:#f28b82;--on-bad:#121212;--card:#1f1f1f}}\
*{box-sizing:border-box}\
body{margin:0;padding:0 12px 24px;background:var(--bg);color:var(--fg);\
font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
main{max-width:46rem;margin:0 auto}\
h1{font-size:1.35rem;margin:.8rem 0 .1rem}\
h2{font-size:1.1rem;margin:1.3rem 0 .4rem;padding-bottom:.2rem;border-bottom:1px solid var(--line)}\
table{width:100%;border-collapse:collapse}\
th,td{text-align:left;vertical-align:top;padding:.35rem .3rem;border-bottom:1px solid var(--line)}\
th{font-size:.85rem;color:var(--muted);font-weight:600}\
.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\
.muted{color:var(--muted);font-size:.88rem}\
.badge{display:inline-block;min-width:1.7em;padding:0 .45em;border-radius:1em;text-align:center;\
font-size:.9rem;background:var(--line)}\
.badge.bad{background:var(--bad);color:var(--on-bad)}\
nav{margin:.3rem 0}\
nav a{display:inline-block;padding:.4rem .8rem;margin:.2rem .4rem .2rem 0;\
border:1px solid var(--line);border-radius:6px;color:inherit;text-decoration:none}\
.q{background:var(--card);border-left:4px solid var(--bad);border-radius:6px;padding:.45rem .7rem;\
margin:.5rem 0}\
.q p{margin:.15rem 0}\
.reason,.id{overflow-wrap:anywhere;white-space:pre-wrap}\
code{overflow-wrap:anywhere}";

/// `text` made safe to place in HTML text or in a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One of our own sentences: escaped, with `command` spans set as code.
fn sentence(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// The page for `report` in `lang`, reloading every `refresh_seconds`.
pub fn render(report: &Report, lang: Lang, tz: &TimeZone, refresh_seconds: u64) -> String {
    let body = [
        header(report, lang, tz),
        queues(report, lang, tz),
        quarantine(report, lang),
        last_success(report, lang, tz),
        today(report, lang),
    ]
    .concat();
    page(lang, refresh_seconds, &body)
}

/// The page shown when the store cannot be read; `cause` is escaped.
pub fn render_unavailable(lang: Lang, refresh_seconds: u64, cause: &str) -> String {
    let w = lang.words();
    let body = format!(
        "<h1>Relais</h1>{}<p><span class=\"badge bad\">!</span> {}: {}</p>",
        nav(lang),
        escape(w.unavailable),
        escape(cause)
    );
    page(lang, refresh_seconds, &body)
}

fn page(lang: Lang, refresh_seconds: u64, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{refresh_seconds}\">\
         <title>{title}</title><style>{STYLE}</style></head>\n\
         <body><main>\n{body}</main></body></html>\n",
        code = lang.code(),
        title = escape(lang.words().title),
    )
}

/// The refresh link (keeping the language) and the other language's link.
fn nav(lang: Lang) -> String {
    let mut out = format!(
        "<nav><a href=\"?lang={}\">↻ {}</a>",
        lang.code(),
        escape(lang.words().refresh)
    );
    for other in Lang::ALL.into_iter().filter(|l| *l != lang) {
        let _ = write!(
            out,
            "<a href=\"?lang={code}\" hreflang=\"{code}\" lang=\"{code}\">{}</a>",
            escape(other.own_name()),
            code = other.code()
        );
    }
    out.push_str("</nav>\n");
    out
}

fn header(report: &Report, lang: Lang, tz: &TimeZone) -> String {
    format!(
        "<h1>{}</h1><p class=\"muted\">{} {} ({})</p>{}",
        escape(lang.words().title),
        escape(lang.words().updated),
        escape(&lang.time(report.generated_at, tz)),
        escape(&report.time_zone),
        nav(lang)
    )
}

fn queues(report: &Report, lang: Lang, tz: &TimeZone) -> String {
    let w = lang.words();
    let mut out = format!(
        "<h2>{}</h2><table><tr><th>{}</th><th class=\"n\">{}</th><th>{}</th></tr>",
        escape(w.queues),
        escape(w.destination),
        escape(w.waiting),
        escape(w.oldest)
    );
    for q in &report.queues {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            escape(lang.peer(&q.dest)),
            lang.count(q.waiting),
            oldest(q, lang, tz, report)
        );
    }
    out.push_str("</table>\n");
    out
}

fn oldest(q: &Queue, lang: Lang, tz: &TimeZone, report: &Report) -> String {
    let Some(doc) = &q.oldest else {
        return format!(
            "<span class=\"muted\">{}</span>",
            escape(lang.words().nothing_waiting)
        );
    };
    format!(
        "<span class=\"id\">{} {}</span><br><span class=\"muted\">{} · {}</span>",
        escape(lang.kind(&doc.kind)),
        escape(&doc.external_id),
        escape(&lang.time(doc.received_at, tz)),
        escape(&lang.ago(doc.received_at, report.generated_at))
    )
}

fn quarantine(report: &Report, lang: Lang) -> String {
    let w = lang.words();
    let badge = if report.quarantined > 0 {
        "badge bad"
    } else {
        "badge"
    };
    let mut out = format!(
        "<h2>{} <span class=\"{badge}\">{}</span></h2>",
        escape(w.quarantine),
        lang.count(report.quarantined)
    );
    if report.quarantine.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape(w.quarantine_empty));
        return out;
    }
    for q in &report.quarantine {
        let _ = write!(
            out,
            "<div class=\"q\"><p class=\"id\"><strong>{} {}</strong></p>\
             <p class=\"reason\">{}</p>\
             <p class=\"muted\">{} {} · {} {} · {} · {} {}</p></div>",
            escape(lang.kind(&q.kind)),
            escape(&q.external_id),
            escape(&q.reason),
            escape(w.store_id),
            q.id,
            escape(w.business_day),
            escape(&lang.date(q.day)),
            escape(&lang.amount(q.amount)),
            escape(w.received),
            escape(&lang.ago(q.received_at, report.generated_at)),
        );
    }
    let shown = report.quarantine.len() as u64;
    if report.quarantined > shown {
        let _ = write!(
            out,
            "<p class=\"muted\">{}</p>",
            sentence(&lang.more_in_quarantine(report.quarantined - shown))
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"muted\">{}</p>",
        sentence(w.quarantine_hint)
    );
    out
}

fn last_success(report: &Report, lang: Lang, tz: &TimeZone) -> String {
    let w = lang.words();
    let mut out = format!("<h2>{}</h2><table>", escape(w.last_success));
    for p in &report.last_success {
        let when = match p.at {
            Some(at) => format!(
                "{}<br><span class=\"muted\">{}</span>",
                escape(&lang.time(at, tz)),
                escape(&lang.ago(at, report.generated_at))
            ),
            None => format!("<span class=\"muted\">{}</span>", escape(w.never)),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{when}</td></tr>",
            escape(lang.peer(&p.peer))
        );
    }
    out.push_str("</table>\n");
    out
}

fn today(report: &Report, lang: Lang) -> String {
    let w = lang.words();
    let mut out = format!(
        "<h2>{} <span class=\"muted\">{}</span></h2><table><tr><th>{}</th>\
         <th class=\"n\">{}</th><th class=\"n\">{}</th></tr>",
        escape(w.today),
        escape(&lang.date(report.today.day)),
        escape(w.kind),
        escape(w.documents),
        escape(w.total)
    );
    for k in &report.today.kinds {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(lang.kinds(&k.kind)),
            lang.count(k.documents),
            escape(&lang.amount(k.amount))
        );
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{DayFigures, KindFigures};
    use crate::status_page::report::{PeerSuccess, Quarantined, WaitingDoc};
    use rust_decimal::Decimal;

    fn report(reason: &str) -> Report {
        let now: jiff::Timestamp = "2026-12-04T17:51:00Z".parse().expect("time");
        let day = jiff::civil::date(2026, 12, 4);
        Report {
            generated_at: now,
            time_zone: "Europe/Paris".into(),
            queues: vec![Queue {
                dest: "erp".into(),
                waiting: 1234,
                oldest: Some(WaitingDoc {
                    id: 7,
                    kind: "order".into(),
                    external_id: "\"><img src=x onerror=alert(1)>".into(),
                    received_at: now - jiff::SignedDuration::from_secs(3 * 3600),
                }),
            }],
            last_success: vec![PeerSuccess {
                peer: "shop".into(),
                at: None,
            }],
            quarantined: 3,
            quarantine: vec![Quarantined {
                id: 9,
                kind: "ticket".into(),
                external_id: "T-1&2".into(),
                day,
                received_at: now,
                amount: Decimal::new(123_450, 2),
                reason: reason.into(),
            }],
            today: DayFigures {
                day,
                kinds: vec![KindFigures {
                    kind: "order".into(),
                    documents: 2,
                    amount: Decimal::new(99_990, 2),
                }],
            },
            states: vec![],
        }
    }

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").expect("tz")
    }

    #[test]
    fn escape_neutralises_every_html_special_character() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("Crème brûlée"), "Crème brûlée");
    }

    #[test]
    fn values_from_outside_cannot_open_a_tag() {
        let html = render(
            &report("<script>alert('x')</script>"),
            Lang::En,
            &paris(),
            30,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("T-1&amp;2"));
    }

    #[test]
    fn the_page_speaks_french_with_french_numbers() {
        let html = render(&report("client inconnu"), Lang::Fr, &paris(), 30);
        assert!(html.contains("<html lang=\"fr\">"));
        assert!(html.contains("Files d&#39;attente"));
        assert!(html.contains("Quarantaine <span class=\"badge bad\">3</span>"));
        assert!(html.contains("1 234"), "grouped count");
        assert!(html.contains("1 234,50 EUR"));
        assert!(html.contains("il y a 3 h 0 min"));
        assert!(html.contains("jamais"));
        assert!(html.contains("04/12/2026 18:51"));
        assert!(html.contains("… et 2 autres"));
        assert!(html.contains("<a href=\"?lang=en\" hreflang=\"en\" lang=\"en\">English</a>"));
    }

    #[test]
    fn the_page_speaks_english_with_english_numbers() {
        let html = render(&report("unknown customer"), Lang::En, &paris(), 30);
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("Queues"));
        assert!(html.contains("1,234"), "grouped count");
        assert!(html.contains("1,234.50 EUR"));
        assert!(html.contains("3 h 0 min ago"));
        assert!(html.contains("never"));
        assert!(html.contains("<code>relais quarantine release ID</code>"));
        assert!(html.contains("Français</a>"));
    }

    #[test]
    fn the_page_reloads_itself_and_needs_nothing_else() {
        let html = render(&report("x"), Lang::Fr, &paris(), 45);
        assert!(html.contains("<meta http-equiv=\"refresh\" content=\"45\">"));
        assert!(html.contains("name=\"viewport\""));
        for outside in [
            "<script",
            "src=\"http",
            "href=\"http",
            "<link",
            "@import",
            "url(",
        ] {
            assert!(!html.contains(outside), "{outside}");
        }
    }

    #[test]
    fn an_unreadable_store_is_said_plainly_and_escaped() {
        let html = render_unavailable(Lang::Fr, 30, "database <locked>");
        assert!(
            html.contains("ne répond pas: database &lt;locked&gt;"),
            "{html}"
        );
    }
}
