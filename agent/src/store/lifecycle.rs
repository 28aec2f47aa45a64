//! The life of a document as an explicit state machine (DESIGN.md,
//! "Document life"). Pure: the store asks [`allowed`] before every
//! transition and refuses the others, so a bug cannot, say, deliver a
//! document twice or bring a superseded revision back.
//!
//! ```text
//! stored --> queued(dest) --> batched(dest) --> delivered(dest) --> confirmed(erp)
//!   |   \          |    \________________________^       |
//!   |    \--> held  \--> quarantined <--(erp rejection)---/
//!   |          \          \--(release)--> stored
//!   |           \--(release)--> stored
//!   \--> done (an export once split, an order revision turned amendment)
//! any waiting state --> superseded (a newer revision arrived)
//! ```
//!
//! Only the ERP answers after delivery (a done folder, a rejection file):
//! a delivered ERP document is confirmed or, rejected, quarantined with
//! the ERP's reason. The shop's and the fleet's deliveries are final.

use super::{Dest, State};

/// Whether a document may go from `from` to `to`.
pub fn allowed(from: State, to: State) -> bool {
    use State::*;
    match (from, to) {
        (Stored, Queued(_) | Held | Quarantined | Done | Superseded) => true,
        (Held | Quarantined, Stored | Superseded) => true,
        (Queued(d), Batched(e)) => d == e && d == Dest::Erp,
        (Queued(d), Delivered(e)) => d == e && d != Dest::Erp,
        (Queued(_), Quarantined | Superseded) => true,
        (Batched(d), Delivered(e)) => d == e,
        (Delivered(Dest::Erp), Confirmed(Dest::Erp) | Quarantined) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_lives_are_allowed() {
        let erp = [
            State::Stored,
            State::Queued(Dest::Erp),
            State::Batched(Dest::Erp),
            State::Delivered(Dest::Erp),
        ];
        assert!(erp.windows(2).all(|w| allowed(w[0], w[1])));
        let shop = [
            State::Stored,
            State::Queued(Dest::Shop),
            State::Delivered(Dest::Shop),
        ];
        assert!(shop.windows(2).all(|w| allowed(w[0], w[1])));
        assert!(allowed(State::Stored, State::Done));
    }

    #[test]
    fn quarantine_and_hold_end_only_by_release_or_a_newer_revision() {
        for from in [State::Held, State::Quarantined] {
            assert!(allowed(from, State::Stored));
            assert!(allowed(from, State::Superseded));
            assert!(!allowed(from, State::Queued(Dest::Erp)));
            assert!(!allowed(from, State::Delivered(Dest::Shop)));
        }
    }

    #[test]
    fn an_erp_delivery_ends_confirmed_or_rejected_into_quarantine() {
        let erp = State::Delivered(Dest::Erp);
        assert!(allowed(erp, State::Confirmed(Dest::Erp)));
        assert!(allowed(erp, State::Quarantined));
        assert!(!allowed(erp, State::Confirmed(Dest::Shop)));
        assert!(!allowed(erp, State::Stored));
        assert!(!allowed(erp, State::Superseded));
        assert!(!allowed(
            State::Queued(Dest::Erp),
            State::Confirmed(Dest::Erp)
        ));
        assert!(!allowed(
            State::Batched(Dest::Erp),
            State::Confirmed(Dest::Erp)
        ));
    }

    #[test]
    fn delivered_done_confirmed_and_superseded_are_final() {
        for from in [
            State::Delivered(Dest::Shop),
            State::Delivered(Dest::Fleet),
            State::Confirmed(Dest::Erp),
            State::Done,
            State::Superseded,
        ] {
            for to in State::ALL {
                assert!(!allowed(from, to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn nothing_skips_its_destination_or_changes_it() {
        assert!(!allowed(State::Stored, State::Delivered(Dest::Erp)));
        assert!(!allowed(
            State::Queued(Dest::Erp),
            State::Delivered(Dest::Erp)
        ));
        assert!(!allowed(
            State::Queued(Dest::Shop),
            State::Batched(Dest::Shop)
        ));
        assert!(!allowed(
            State::Batched(Dest::Erp),
            State::Delivered(Dest::Shop)
        ));
        assert!(!allowed(
            State::Queued(Dest::Erp),
            State::Queued(Dest::Shop)
        ));
    }
}
