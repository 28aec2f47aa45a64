//! The sample market day maps in full, and every order's rows add up.

use std::path::PathBuf;

use pos_bridge::dialect::Dialect;
use pos_bridge::ticket::Ticket;
use relais::mapping::import::RowType;
use relais::mapping::order::{map_order, Context, OrderDecision};
use relais::mapping::site::{Clients, SiteRules};
use relais::mapping::{check_rows, ticket::map_ticket};
use relais::shop::order::Order;
use rust_decimal::Decimal;

fn day() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/samples/day-2026-12-02")
}

fn clients() -> Clients {
    let file = std::fs::File::open(day().join("erp/clients.csv")).expect("client file");
    Clients::read(file, &Dialect::french_erp()).expect("clients")
}

#[test]
fn every_sendable_web_order_maps_and_adds_up_to_its_total() {
    let text = std::fs::read(day().join("woocommerce/orders-2026-12-02.json")).expect("orders");
    let orders: Vec<Order> = serde_json::from_slice(&text).expect("orders parse");
    let (rules, clients) = (SiteRules::default(), clients());
    let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
    let cx = Context {
        rules: &rules,
        clients: &clients,
        tz: &tz,
    };
    let (mut sent, mut held, mut total) = (0, 0, Decimal::ZERO);
    for order in &orders {
        match map_order(order, &cx).unwrap_or_else(|e| panic!("{e}")) {
            OrderDecision::Send(rows) => {
                check_rows(&rows, &Dialect::french_erp(), &rules).expect("within the ERP's rules");
                let goods: Decimal = rows
                    .iter()
                    .filter(|r| r.kind != RowType::Reg)
                    .map(|r| r.amount_ttc)
                    .sum();
                let paid: Decimal = rows
                    .iter()
                    .filter(|r| r.kind == RowType::Reg)
                    .map(|r| r.amount_ttc)
                    .sum();
                assert_eq!(
                    (goods, paid),
                    (order.total, order.total),
                    "order {}",
                    order.number
                );
                sent += 1;
                total += order.total;
            }
            OrderDecision::Hold(_) => held += 1,
        }
    }
    assert_eq!((sent, held), (427, 28));
    assert_eq!(total.to_string(), "164473.78");
}

#[test]
fn every_ticket_maps_and_its_payments_add_up() {
    let text =
        std::fs::read_to_string(day().join("pos/tickets-2026-12-02.jsonl")).expect("tickets");
    let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
    let mut paid = Decimal::ZERO;
    for line in text.lines() {
        let ticket = Ticket::parse(line.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let rows = map_ticket(&ticket, &SiteRules::default(), &tz).expect("maps");
        let goods: Decimal = rows
            .iter()
            .filter(|r| r.kind != RowType::Reg)
            .map(|r| r.amount_ttc)
            .sum();
        assert_eq!(goods, ticket.total_paid(), "ticket {}", ticket.ticket);
        paid += ticket.total_paid();
    }
    assert_eq!(paid.to_string(), "68308.65");
}
