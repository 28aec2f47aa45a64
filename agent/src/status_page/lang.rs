//! The page's two languages: which one a visitor gets, and every word,
//! number, amount and time written the way that language writes it.
//!
//! The choice is `?lang=fr|en` first (a link on the page sets it, and the
//! meta refresh keeps it), then the browser's `Accept-Language`, then
//! French: the boxes stand in French markets.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::invoice::money_fmt;

/// A language of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// French, the default.
    Fr,
    /// English.
    En,
}

impl Lang {
    /// Both languages, in the order the page offers them.
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    /// The ISO 639-1 code, as in `?lang=` and `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the link that switches to it.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::En => "English",
        }
    }

    /// The language a request asks for: its query string's `lang`, else its
    /// `Accept-Language` header, else French.
    pub fn choose(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        query
            .and_then(from_query)
            .or_else(|| accept_language.and_then(from_accept_language))
            .unwrap_or(Lang::Fr)
    }

    fn from_code(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// The page's fixed words.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::Fr => &FRENCH,
            Lang::En => &ENGLISH,
        }
    }

    /// What documents of a kind are called, as a heading (`order`,
    /// `ticket`, ... as the store names them); unknown names stay as they are.
    pub fn kinds(self, name: &str) -> &str {
        let (fr, en) = match name {
            "order" => ("Commandes web", "Web orders"),
            "ticket" => ("Tickets de caisse", "Till tickets"),
            "export" => ("Exports de factures", "Invoice exports"),
            "invoice" => ("Factures", "Invoices"),
            "amendment" => ("Avoirs et modifications", "Credit notes and amendments"),
            "telemetry" => ("Télémesures", "Telemetry"),
            _ => return name,
        };
        self.pick(fr, en)
    }

    /// What one document of a kind is called, before its id.
    pub fn kind(self, name: &str) -> &str {
        let (fr, en) = match name {
            "order" => ("Commande web", "Web order"),
            "ticket" => ("Ticket de caisse", "Till ticket"),
            "export" => ("Export de factures", "Invoice export"),
            "invoice" => ("Facture", "Invoice"),
            "amendment" => ("Avoir ou modification", "Credit note or amendment"),
            "telemetry" => ("Télémesure", "Telemetry"),
            _ => return name,
        };
        self.pick(fr, en)
    }

    /// What a destination or peer is called (`erp`, `shop`, `pos`, `fleet`).
    pub fn peer(self, name: &str) -> &str {
        let (fr, en) = match name {
            "erp" => ("ERP", "ERP"),
            "shop" => ("Boutique web", "Web shop"),
            "pos" => ("Caisses", "Tills"),
            "fleet" => ("Flotte", "Fleet"),
            _ => return name,
        };
        self.pick(fr, en)
    }

    fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// An amount in euros: `1 234,50 EUR` or `1,234.50 EUR`.
    pub fn amount(self, amount: Decimal) -> String {
        match self {
            Lang::Fr => money_fmt::eur(amount),
            Lang::En => {
                let rounded =
                    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                let text = format!("{:.2}", rounded.abs());
                let (units, cents) = text.split_once('.').unwrap_or((&text, "00"));
                let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
                    "-"
                } else {
                    ""
                };
                format!("{sign}{}.{cents} EUR", group_thousands(units, ','))
            }
        }
    }

    /// A whole number: `12 345` or `12,345`.
    pub fn count(self, n: u64) -> String {
        group_thousands(
            &n.to_string(),
            self.pick(" ", ",").chars().next().unwrap_or(' '),
        )
    }

    /// A moment in the site's time: `04/12/2026 18:51` or `2026-12-04 18:51`.
    pub fn time(self, at: Timestamp, tz: &TimeZone) -> String {
        let format = self.pick("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M");
        at.to_zoned(tz.clone()).strftime(format).to_string()
    }

    /// A business day: `02/12/2026` or `2026-12-02`.
    pub fn date(self, day: Date) -> String {
        day.strftime(self.pick("%d/%m/%Y", "%Y-%m-%d")).to_string()
    }

    /// How long ago `then` was, seen at `now`: `3 h 20 min` and the like,
    /// with the language's word for "ago".
    pub fn ago(self, then: Timestamp, now: Timestamp) -> String {
        let seconds = now.as_second().saturating_sub(then.as_second()).max(0);
        let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
        let span = if minutes < 1 {
            self.pick("moins d'une minute", "under a minute")
                .to_string()
        } else if hours < 1 {
            format!("{minutes} min")
        } else if days < 1 {
            format!("{hours} h {} min", minutes % 60)
        } else {
            format!("{days} {} {} h", self.pick("j", "d"), hours % 24)
        };
        match self {
            Lang::Fr => format!("il y a {span}"),
            Lang::En => format!("{span} ago"),
        }
    }

    /// The line under the quarantine list when only its first part is shown.
    pub fn more_in_quarantine(self, n: u64) -> String {
        match self {
            Lang::Fr => format!("… et {n} autres : `relais quarantine` les liste tous."),
            Lang::En => format!("… and {n} more: `relais quarantine` lists them all."),
        }
    }
}

fn from_query(query: &str) -> Option<Lang> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "lang")
        .and_then(|(_, value)| Lang::from_code(value))
}

/// The best of `fr` and `en` by the header's weights; a language without
/// `q` weighs 1, and among equals the first named wins.
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::from_code) else {
            continue;
        };
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        if weight > 0.0 && best.is_none_or(|(_, w)| weight > w) {
            best = Some((lang, weight));
        }
    }
    best.map(|(lang, _)| lang)
}

fn group_thousands(digits: &str, separator: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// The page's fixed words in one language.
#[derive(Debug)]
pub struct Words {
    pub title: &'static str,
    pub updated: &'static str,
    pub refresh: &'static str,
    pub queues: &'static str,
    pub destination: &'static str,
    pub waiting: &'static str,
    pub oldest: &'static str,
    pub nothing_waiting: &'static str,
    pub last_success: &'static str,
    pub never: &'static str,
    pub quarantine: &'static str,
    pub quarantine_empty: &'static str,
    pub quarantine_hint: &'static str,
    pub store_id: &'static str,
    pub business_day: &'static str,
    pub received: &'static str,
    pub today: &'static str,
    pub kind: &'static str,
    pub documents: &'static str,
    pub total: &'static str,
    pub unavailable: &'static str,
}

static FRENCH: Words = Words {
    title: "Relais — état du boîtier",
    updated: "Mis à jour le",
    refresh: "Actualiser",
    queues: "Files d'attente",
    destination: "Destination",
    waiting: "En attente",
    oldest: "Plus ancien",
    nothing_waiting: "rien en attente",
    last_success: "Dernier succès",
    never: "jamais",
    quarantine: "Quarantaine",
    quarantine_empty: "Rien en quarantaine.",
    quarantine_hint: "Corriger la cause, puis `relais quarantine release ID` sur le boîtier.",
    store_id: "n°",
    business_day: "jour",
    received: "reçu",
    today: "Aujourd'hui",
    kind: "Type",
    documents: "Reçus",
    total: "Montant TTC",
    unavailable: "Le registre des documents ne répond pas",
};

static ENGLISH: Words = Words {
    title: "Relais — box status",
    updated: "Updated",
    refresh: "Refresh",
    queues: "Queues",
    destination: "Destination",
    waiting: "Waiting",
    oldest: "Oldest",
    nothing_waiting: "nothing waiting",
    last_success: "Last success",
    never: "never",
    quarantine: "Quarantine",
    quarantine_empty: "Nothing in quarantine.",
    quarantine_hint: "Fix the cause, then run `relais quarantine release ID` on the box.",
    store_id: "no.",
    business_day: "day",
    received: "received",
    today: "Today",
    kind: "Kind",
    documents: "Received",
    total: "Amount incl. VAT",
    unavailable: "The document store does not answer",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_over_the_header_and_french_is_the_default() {
        assert_eq!(Lang::choose(Some("lang=en"), Some("fr-FR")), Lang::En);
        assert_eq!(Lang::choose(Some("x=1&lang=FR"), Some("en")), Lang::Fr);
        assert_eq!(
            Lang::choose(Some("lang=de"), Some("en-GB,en;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::choose(None, None), Lang::Fr);
        assert_eq!(Lang::choose(None, Some("de-DE,de;q=0.9")), Lang::Fr);
    }

    #[test]
    fn the_header_is_read_by_its_weights() {
        assert_eq!(Lang::choose(None, Some("fr;q=0.5, en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::choose(None, Some("de, fr-CH;q=0.7, en;q=0.3")),
            Lang::Fr
        );
        assert_eq!(
            Lang::choose(None, Some("en-US,en;q=0.9,fr;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::choose(None, Some("en;q=0, fr;q=0.1")), Lang::Fr);
        assert_eq!(Lang::choose(None, Some("en;q=bad")), Lang::Fr);
    }

    #[test]
    fn amounts_and_counts_are_written_each_language_s_way() {
        let amount = Decimal::new(-123_456_785, 3);
        assert_eq!(Lang::Fr.amount(amount), "-123 456,79 EUR");
        assert_eq!(Lang::En.amount(amount), "-123,456.79 EUR");
        assert_eq!(Lang::En.amount(Decimal::ZERO), "0.00 EUR");
        assert_eq!(Lang::Fr.count(1_234_567), "1 234 567");
        assert_eq!(Lang::En.count(999), "999");
    }

    #[test]
    fn ages_and_times_read_naturally() {
        let now: Timestamp = "2026-12-04T17:51:00Z".parse().expect("time");
        let ago = |s: i64| now - jiff::SignedDuration::from_secs(s);
        assert_eq!(Lang::Fr.ago(ago(20), now), "il y a moins d'une minute");
        assert_eq!(Lang::En.ago(ago(5 * 60), now), "5 min ago");
        assert_eq!(
            Lang::Fr.ago(ago(3 * 3600 + 20 * 60), now),
            "il y a 3 h 20 min"
        );
        assert_eq!(Lang::En.ago(ago(2 * 86_400 + 3600), now), "2 d 1 h ago");
        assert_eq!(Lang::En.ago(ago(-60), now), "under a minute ago");

        let paris = TimeZone::get("Europe/Paris").expect("tz");
        assert_eq!(Lang::Fr.time(now, &paris), "04/12/2026 18:51");
        assert_eq!(Lang::En.time(now, &paris), "2026-12-04 18:51");
    }
}
