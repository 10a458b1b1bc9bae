//! The stock ledger's arithmetic: what one movement does to a balance. Pure functions, no
//! database.
//!
//! Every movement is an append-only ledger row carrying its signed [`Effect`] on the
//! balance of one (company, location, product); the balance row is updated in the same
//! transaction with [`apply`], so the balance always equals the sum of the ledger's effects
//! and a correction is a new row, never an edit.
//!
//! Quantities are whole units (`i64`). Money is `i64` ten-thousandths of the currency unit
//! (12.50 is `125000`), never floats. Stock is valued at a moving average unit cost: a
//! receipt (or a transfer in) blends its cost into the average, every issue leaves it
//! unchanged. A balance holds, owes or reserves at most [`MAX_QUANTITY`] units
//! ([`LedgerError::BeyondLimit`]), and all arithmetic is checked besides: nothing wraps.

use std::fmt;

ils_kernel::string_enum!(
    /// What a ledger row records.
    MovementKind {
        /// Goods received from a supplier, at the unit cost on the delivery; blends that
        /// cost into the moving average.
        Receipt = "RECEIPT",
        /// Goods sold to (or fitted for) a customer; leaves the average unchanged.
        Sale = "SALE",
        /// A correction of on-hand stock, usually after a count; signed. Units added are
        /// valued at the current average, so the average is unchanged.
        Adjustment = "ADJUSTMENT",
        /// Goods leaving this location for another of the company's locations.
        TransferOut = "TRANSFER_OUT",
        /// Goods arriving from another location, at the source's average cost; blends that
        /// cost into this location's average like a receipt.
        TransferIn = "TRANSFER_IN",
        /// Goods broken, spoiled or lost (a lens damaged in edging, an expired blank).
        Breakage = "BREAKAGE",
        /// Goods coming back from a customer; back on hand at the current average.
        Return = "RETURN",
        /// Stock set aside for a job (a lens picked for an order): still on hand, no longer
        /// available.
        Reserve = "RESERVE",
        /// A reservation given back: the stock is available again.
        Release = "RELEASE",
    }
);

impl MovementKind {
    /// Whether a movement of this kind carries a unit cost (RECEIPT and TRANSFER_IN must;
    /// every other kind's cost is ignored).
    pub fn takes_cost(self) -> bool {
        matches!(self, Self::Receipt | Self::TransferIn)
    }
}

/// The stock of one product at one location.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Units physically on hand, reserved ones included. Negative only where the company
    /// allows selling stock it has not booked in yet.
    pub on_hand: i64,
    /// Units on hand set aside for jobs; never negative.
    pub reserved: i64,
    /// Moving average unit cost, in ten-thousandths of the currency unit.
    pub avg_cost: i64,
}

impl Balance {
    /// Units on hand and not reserved: `on_hand - reserved` (stock on order is the
    /// purchasing side's concern, not the ledger's). Saturates rather than overflowing.
    pub fn available(&self) -> i64 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

/// The signed changes a movement makes to a balance, as its ledger row stores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effect {
    /// Change to on-hand units.
    pub on_hand: i64,
    /// Change to reserved units.
    pub reserved: i64,
}

/// One movement as entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Movement {
    /// What happened.
    pub kind: MovementKind,
    /// Units, as entered: more than 0, except for an ADJUSTMENT, which is signed and not 0.
    /// At most [`MAX_QUANTITY`] either way.
    pub quantity: i64,
    /// Unit cost in ten-thousandths, not negative: required for a RECEIPT, and for a
    /// TRANSFER_IN (the source location's average cost); ignored for every other kind.
    pub unit_cost: Option<i64>,
}

/// Why a movement was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerError {
    /// The quantity is 0, negative where it must be positive, or above [`MAX_QUANTITY`].
    BadQuantity(String),
    /// A RECEIPT or TRANSFER_IN without a unit cost, or a negative cost.
    BadCost(String),
    /// The movement would take available stock below zero (and negative stock is not
    /// allowed, or the movement is a reservation, which never may).
    Insufficient { available: i64, wanted: i64 },
    /// A RELEASE of more than is reserved.
    NotReserved { reserved: i64, wanted: i64 },
    /// The balance would hold more than [`MAX_QUANTITY`] units (or owe more, or reserve
    /// more): no shop holds that much, and quantities stay within a GraphQL `Int`.
    BeyondLimit,
    /// The arithmetic would overflow (absurd quantities or costs).
    Overflow,
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadQuantity(message) | Self::BadCost(message) => f.write_str(message),
            Self::Insufficient { available, wanted } => {
                write!(f, "only {available} available, {wanted} wanted")
            }
            Self::NotReserved { reserved, wanted } => {
                write!(f, "only {reserved} reserved, cannot release {wanted}")
            }
            Self::BeyondLimit => write!(
                f,
                "a location holds at most {MAX_QUANTITY} units of a product, either way"
            ),
            Self::Overflow => f.write_str("quantity or value out of range"),
        }
    }
}

impl std::error::Error for LedgerError {}

/// The most units one movement may move (either way for an ADJUSTMENT).
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// The signed deltas of a movement, after checking its quantity and cost; independent of
/// any balance.
///
/// RECEIPT, TRANSFER_IN and RETURN add to on hand; SALE, TRANSFER_OUT and BREAKAGE take
/// from it; ADJUSTMENT adds its signed quantity; RESERVE adds to reserved and RELEASE takes
/// from it.
pub fn effect(m: &Movement) -> Result<Effect, LedgerError> {
    let q = m.quantity;
    if m.kind == MovementKind::Adjustment {
        if q == 0 {
            return Err(LedgerError::BadQuantity(
                "adjustment quantity must not be 0".into(),
            ));
        }
        if q.unsigned_abs() > MAX_QUANTITY.unsigned_abs() {
            return Err(LedgerError::BadQuantity(format!(
                "adjustment quantity must be at most {MAX_QUANTITY} either way"
            )));
        }
    } else if !(1..=MAX_QUANTITY).contains(&q) {
        return Err(LedgerError::BadQuantity(format!(
            "quantity must be 1..{MAX_QUANTITY}"
        )));
    }
    if m.kind.takes_cost() {
        match m.unit_cost {
            None => return Err(LedgerError::BadCost("unit cost is required".into())),
            Some(cost) if cost < 0 => {
                return Err(LedgerError::BadCost(
                    "unit cost must not be negative".into(),
                ));
            }
            Some(_) => {}
        }
    }
    let (on_hand, reserved) = match m.kind {
        MovementKind::Receipt | MovementKind::TransferIn | MovementKind::Return => (q, 0),
        MovementKind::Sale | MovementKind::TransferOut | MovementKind::Breakage => (-q, 0),
        MovementKind::Adjustment => (q, 0),
        MovementKind::Reserve => (0, q),
        MovementKind::Release => (0, -q),
    };
    Ok(Effect { on_hand, reserved })
}

/// Applies a movement to a balance: the new balance and the effect to store on the ledger
/// row. Pure: a refused movement changes nothing.
///
/// - RECEIPT, TRANSFER_IN, RETURN add to on hand. RECEIPT and TRANSFER_IN blend their unit
///   cost into the moving average: when nothing (or less than nothing) was on hand the
///   average becomes the unit cost, else
///   `round((on_hand * avg + q * cost) / (on_hand + q))`, rounded half away from zero. A
///   RETURN comes back at the current average.
/// - SALE, BREAKAGE, TRANSFER_OUT and a negative ADJUSTMENT take from on hand; they are
///   [`LedgerError::Insufficient`] when available stock would go below zero, unless
///   `allow_negative`. A positive ADJUSTMENT is always accepted. None of them moves the
///   average.
/// - RESERVE is refused when more is wanted than is available, whatever `allow_negative`
///   says: stock that is not there cannot be set aside.
/// - RELEASE is [`LedgerError::NotReserved`] when more is wanted than is reserved.
pub fn apply(
    b: &Balance,
    m: &Movement,
    allow_negative: bool,
) -> Result<(Balance, Effect), LedgerError> {
    let fx = effect(m)?;
    let on_hand = b
        .on_hand
        .checked_add(fx.on_hand)
        .ok_or(LedgerError::Overflow)?;
    let reserved = b
        .reserved
        .checked_add(fx.reserved)
        .ok_or(LedgerError::Overflow)?;
    let available = on_hand.checked_sub(reserved).ok_or(LedgerError::Overflow)?;
    let wanted = m.quantity.abs();
    let insufficient = || LedgerError::Insufficient {
        available: b.available(),
        wanted,
    };

    if fx.reserved > 0 && available < 0 {
        return Err(insufficient());
    }
    if fx.reserved < 0 && reserved < 0 {
        return Err(LedgerError::NotReserved {
            reserved: b.reserved,
            wanted,
        });
    }
    if fx.on_hand < 0 && available < 0 && !allow_negative {
        return Err(insufficient());
    }
    // Past the limit only by growing: a balance beyond it (from before the limit) can
    // still be brought back.
    let grows_past = |before: i64, after: i64| {
        after.unsigned_abs() > MAX_QUANTITY.unsigned_abs()
            && after.unsigned_abs() > before.unsigned_abs()
    };
    if grows_past(b.on_hand, on_hand) || grows_past(b.reserved, reserved) {
        return Err(LedgerError::BeyondLimit);
    }

    let avg_cost = match (m.kind.takes_cost(), m.unit_cost) {
        (true, Some(cost)) => moving_average(b, m.quantity, cost)?,
        _ => b.avg_cost,
    };
    let balance = Balance {
        on_hand,
        reserved,
        avg_cost,
    };
    Ok((balance, fx))
}

/// The average after receiving `q` units at `cost` into `b`.
fn moving_average(b: &Balance, q: i64, cost: i64) -> Result<i64, LedgerError> {
    if b.on_hand <= 0 {
        return Ok(cost);
    }
    let value = i128::from(b.on_hand) * i128::from(b.avg_cost) + i128::from(q) * i128::from(cost);
    let units = i128::from(b.on_hand) + i128::from(q);
    i64::try_from(div_round(value, units)).map_err(|_| LedgerError::Overflow)
}

/// `n / d` rounded half away from zero; `d` is positive.
fn div_round(n: i128, d: i128) -> i128 {
    let (quotient, remainder) = (n / d, n % d);
    if 2 * remainder.abs() >= d {
        quotient + n.signum()
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mv(kind: MovementKind, quantity: i64) -> Movement {
        Movement {
            kind,
            quantity,
            unit_cost: None,
        }
    }

    fn costed(kind: MovementKind, quantity: i64, unit_cost: i64) -> Movement {
        Movement {
            kind,
            quantity,
            unit_cost: Some(unit_cost),
        }
    }

    fn bal(on_hand: i64, reserved: i64, avg_cost: i64) -> Balance {
        Balance {
            on_hand,
            reserved,
            avg_cost,
        }
    }

    /// Applies the movements in turn, panicking on a refusal.
    fn run(movements: &[Movement]) -> Balance {
        movements.iter().fold(Balance::default(), |b, m| {
            apply(&b, m, false).expect("accepted").0
        })
    }

    #[test]
    fn receipt_blends_the_moving_average() {
        use MovementKind::*;
        let b = run(&[costed(Receipt, 10, 20_000), costed(Receipt, 30, 30_000)]);
        assert_eq!(b, bal(40, 0, 27_500));
        // 3 @ 1.0000 + 1 @ 1.0002 = 4.0002 / 4 = 1.00005 -> 1.0001 (half away from zero)
        let b = run(&[costed(Receipt, 3, 10_000), costed(Receipt, 1, 10_002)]);
        assert_eq!(b.avg_cost, 10_001);
        // 3 @ 0.0001 + 1 @ 0 = 0.0003 / 4 -> 0.75 ten-thousandths -> 1
        let b = run(&[costed(Receipt, 3, 1), costed(Receipt, 1, 0)]);
        assert_eq!(b.avg_cost, 1);
        let b = run(&[costed(Receipt, 2, 1), costed(Receipt, 1, 0)]);
        assert_eq!(b.avg_cost, 1); // 2/3 = 0.67 -> 1
        let b = run(&[costed(Receipt, 1, 1), costed(Receipt, 2, 0)]);
        assert_eq!(b.avg_cost, 0); // 1/3 = 0.33 -> 0
        // a free receipt (sample stock) still dilutes the average
        let b = run(&[costed(Receipt, 10, 20_000), costed(Receipt, 10, 0)]);
        assert_eq!(b.avg_cost, 10_000);
    }

    #[test]
    fn transfer_in_blends_like_a_receipt() {
        use MovementKind::*;
        let b = run(&[costed(Receipt, 10, 20_000), costed(TransferIn, 30, 30_000)]);
        assert_eq!(b, bal(40, 0, 27_500));
    }

    #[test]
    fn issues_returns_and_adjustments_keep_the_average() {
        use MovementKind::*;
        let start = bal(40, 0, 27_500);
        for m in [
            mv(Sale, 5),
            mv(Breakage, 1),
            mv(TransferOut, 10),
            mv(Return, 2),
            mv(Adjustment, -3),
            mv(Adjustment, 4),
            // a cost on a kind that takes none is ignored
            costed(Sale, 1, 99_999),
            costed(Return, 1, 99_999),
        ] {
            let (b, fx) = apply(&start, &m, false).unwrap();
            assert_eq!(b.avg_cost, 27_500, "{m:?}");
            assert_eq!(b.on_hand, start.on_hand + fx.on_hand);
            assert_eq!(fx.reserved, 0);
        }
        assert_eq!(
            apply(&start, &mv(Sale, 40), false).unwrap().0,
            bal(0, 0, 27_500)
        );
    }

    #[test]
    fn receipt_after_running_out_or_negative_takes_the_new_cost() {
        use MovementKind::*;
        let b = run(&[
            costed(Receipt, 5, 20_000),
            mv(Sale, 5),
            costed(Receipt, 5, 40_000),
        ]);
        assert_eq!(b, bal(5, 0, 40_000));
        let (b, _) = apply(&bal(0, 0, 20_000), &mv(Sale, 3), true).unwrap();
        assert_eq!(b, bal(-3, 0, 20_000));
        let (b, _) = apply(&b, &costed(Receipt, 5, 40_000), false).unwrap();
        assert_eq!(b, bal(2, 0, 40_000));
    }

    #[test]
    fn effects_are_signed_by_kind() {
        use MovementKind::*;
        let cases = [
            (costed(Receipt, 4, 1), 4, 0),
            (costed(TransferIn, 4, 1), 4, 0),
            (mv(Return, 4), 4, 0),
            (mv(Sale, 4), -4, 0),
            (mv(Breakage, 4), -4, 0),
            (mv(TransferOut, 4), -4, 0),
            (mv(Adjustment, -4), -4, 0),
            (mv(Adjustment, 4), 4, 0),
            (mv(Reserve, 4), 0, 4),
            (mv(Release, 4), 0, -4),
        ];
        for (m, on_hand, reserved) in cases {
            assert_eq!(effect(&m), Ok(Effect { on_hand, reserved }), "{m:?}");
        }
    }

    #[test]
    fn reserve_and_release() {
        use MovementKind::*;
        let b = bal(10, 0, 20_000);
        let (b, fx) = apply(&b, &mv(Reserve, 4), false).unwrap();
        assert_eq!(
            (b, fx),
            (
                bal(10, 4, 20_000),
                Effect {
                    on_hand: 0,
                    reserved: 4
                }
            )
        );
        assert_eq!(b.available(), 6);
        // the whole available stock may be reserved, not one more, even with negatives on
        let full = apply(&b, &mv(Reserve, 6), false).unwrap().0;
        assert_eq!(full.available(), 0);
        for allow_negative in [false, true] {
            assert_eq!(
                apply(&b, &mv(Reserve, 7), allow_negative),
                Err(LedgerError::Insufficient {
                    available: 6,
                    wanted: 7
                })
            );
        }
        // selling must leave the reserved units alone
        assert_eq!(
            apply(&b, &mv(Sale, 7), false),
            Err(LedgerError::Insufficient {
                available: 6,
                wanted: 7
            })
        );
        assert_eq!(apply(&b, &mv(Sale, 7), true).unwrap().0, bal(3, 4, 20_000));
        let (b, fx) = apply(&b, &mv(Release, 4), false).unwrap();
        assert_eq!(
            (b, fx),
            (
                bal(10, 0, 20_000),
                Effect {
                    on_hand: 0,
                    reserved: -4
                }
            )
        );
        assert_eq!(
            apply(&b, &mv(Release, 1), true),
            Err(LedgerError::NotReserved {
                reserved: 0,
                wanted: 1
            })
        );
    }

    #[test]
    fn issues_beyond_available_need_negatives_allowed() {
        use MovementKind::*;
        let b = bal(3, 1, 20_000);
        for m in [
            mv(Sale, 3),
            mv(Breakage, 3),
            mv(TransferOut, 3),
            mv(Adjustment, -3),
        ] {
            assert_eq!(
                apply(&b, &m, false),
                Err(LedgerError::Insufficient {
                    available: 2,
                    wanted: 3
                }),
                "{m:?}"
            );
            assert_eq!(apply(&b, &m, true).unwrap().0, bal(0, 1, 20_000));
        }
        // once negative, adding stock is always fine and issuing still is not
        let short = bal(-2, 0, 20_000);
        assert_eq!(
            apply(&short, &mv(Adjustment, 1), false).unwrap().0,
            bal(-1, 0, 20_000)
        );
        assert_eq!(
            apply(&short, &mv(Return, 1), false).unwrap().0,
            bal(-1, 0, 20_000)
        );
        assert!(apply(&short, &mv(Sale, 1), false).is_err());
        assert!(apply(&short, &mv(Reserve, 1), true).is_err());
    }

    #[test]
    fn refuses_bad_quantities_and_costs() {
        use MovementKind::*;
        let b = bal(10, 0, 1);
        for m in [
            mv(Sale, 0),
            mv(Sale, -1),
            mv(Reserve, -1),
            mv(Release, 0),
            mv(Adjustment, 0),
            mv(Sale, MAX_QUANTITY + 1),
            mv(Adjustment, -MAX_QUANTITY - 1),
            mv(Adjustment, i64::MIN),
            costed(Receipt, -5, 1),
        ] {
            assert!(
                matches!(apply(&b, &m, true), Err(LedgerError::BadQuantity(_))),
                "{m:?}"
            );
        }
        assert!(apply(&b, &mv(Adjustment, -MAX_QUANTITY), true).is_ok());
        assert!(apply(&bal(0, 0, 1), &costed(Receipt, MAX_QUANTITY, 1), true).is_ok());
        for m in [mv(Receipt, 1), mv(TransferIn, 1), costed(Receipt, 1, -1)] {
            assert!(
                matches!(apply(&b, &m, true), Err(LedgerError::BadCost(_))),
                "{m:?}"
            );
        }
    }

    #[test]
    fn a_balance_stays_within_the_limit() {
        use MovementKind::*;
        let full = bal(MAX_QUANTITY, 0, 1);
        assert_eq!(
            apply(&full, &costed(Receipt, 1, 1), false),
            Err(LedgerError::BeyondLimit)
        );
        assert_eq!(
            apply(&full, &mv(Adjustment, 1), false),
            Err(LedgerError::BeyondLimit)
        );
        assert!(apply(&full, &mv(Reserve, MAX_QUANTITY), false).is_ok());
        let owed = bal(-MAX_QUANTITY, 0, 1);
        assert_eq!(
            apply(&owed, &mv(Sale, 1), true),
            Err(LedgerError::BeyondLimit)
        );
        assert!(apply(&owed, &mv(Return, 1), true).is_ok());
        // A balance already past the limit may come back towards it, not grow.
        let past = bal(2 * MAX_QUANTITY, 0, 1);
        assert!(apply(&past, &mv(Sale, 5), false).is_ok());
        assert!(apply(&past, &mv(Adjustment, -MAX_QUANTITY), false).is_ok());
        assert_eq!(
            apply(&past, &mv(Return, 1), false),
            Err(LedgerError::BeyondLimit)
        );
        // Refused for lack of stock first: that is the message that helps.
        assert!(matches!(
            apply(&bal(0, 0, 1), &mv(Adjustment, -MAX_QUANTITY), false),
            Err(LedgerError::Insufficient { .. })
        ));
        assert_eq!(
            LedgerError::BeyondLimit.to_string(),
            "a location holds at most 1000000000 units of a product, either way"
        );
    }

    #[test]
    fn overflow_is_refused() {
        use MovementKind::*;
        let full = bal(i64::MAX - 1, 0, 1);
        assert_eq!(
            apply(&full, &mv(Return, 2), false),
            Err(LedgerError::Overflow)
        );
        let owed = bal(i64::MIN + 1, 0, 1);
        assert_eq!(apply(&owed, &mv(Sale, 2), true), Err(LedgerError::Overflow));
        // the value products do not overflow: they are i128
        let (b, _) = apply(&bal(1, 0, i64::MAX), &costed(Receipt, 1, i64::MAX), false).unwrap();
        assert_eq!(b.avg_cost, i64::MAX);
    }

    #[test]
    fn messages() {
        assert_eq!(
            LedgerError::Insufficient {
                available: 2,
                wanted: 3
            }
            .to_string(),
            "only 2 available, 3 wanted"
        );
        assert_eq!(
            LedgerError::NotReserved {
                reserved: 0,
                wanted: 1
            }
            .to_string(),
            "only 0 reserved, cannot release 1"
        );
        let err = apply(&Balance::default(), &mv(MovementKind::Receipt, 1), false).unwrap_err();
        assert_eq!(err.to_string(), "unit cost is required");
    }

    #[test]
    fn transfer_value_drift_is_bounded_by_the_destination_units() {
        use MovementKind::*;
        // 1 unit @ 0.0500 joins 1000 free units: the exact average 500/1001 rounds to 0,
        // so 500 ten-thousandths of value vanish (half a ten-thousandth on B's 1001 units
        // at most), far more than the 1 unit moved.
        let a = bal(1, 0, 500);
        let b = bal(1000, 0, 0);
        let (a2, _) = apply(&a, &mv(TransferOut, 1), false).unwrap();
        let (b2, _) = apply(&b, &costed(TransferIn, 1, a.avg_cost), false).unwrap();
        assert_eq!((a2, b2), (bal(0, 0, 500), bal(1001, 0, 0)));
    }

    #[test]
    fn kinds_round_trip() {
        for kind in MovementKind::ALL {
            assert_eq!(MovementKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(MovementKind::TransferOut.as_str(), "TRANSFER_OUT");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(div_round(5, 3), 2);
        assert_eq!(div_round(0, 7), 0);
    }

    fn any_movement() -> impl Strategy<Value = Movement> {
        (
            prop::sample::select(MovementKind::ALL),
            -60i64..=60,
            prop::option::weighted(0.9, 0i64..=1_000_000),
        )
            .prop_map(|(kind, quantity, unit_cost)| Movement {
                kind,
                quantity,
                unit_cost,
            })
    }

    proptest! {
        #[test]
        fn balance_is_the_sum_of_the_ledger(
            movements in prop::collection::vec(any_movement(), 0..80),
            allow_negative in any::<bool>(),
        ) {
            let mut b = Balance::default();
            let mut total = Effect { on_hand: 0, reserved: 0 };
            for m in &movements {
                match apply(&b, m, allow_negative) {
                    Ok((next, fx)) => {
                        prop_assert_eq!(effect(m), Ok(fx));
                        total.on_hand += fx.on_hand;
                        total.reserved += fx.reserved;
                        b = next;
                    }
                    Err(_) => prop_assert!(effect(m).is_err() || !allow_negative
                        || matches!(m.kind, MovementKind::Reserve | MovementKind::Release)),
                }
                prop_assert_eq!(b.on_hand, total.on_hand);
                prop_assert_eq!(b.reserved, total.reserved);
                prop_assert!(b.reserved >= 0);
                prop_assert!(b.avg_cost >= 0);
                if !allow_negative {
                    prop_assert!(b.available() >= 0);
                }
            }
        }

        #[test]
        fn apply_is_pure(
            on_hand in -100i64..=100,
            reserved in 0i64..=100,
            avg_cost in 0i64..=1_000_000,
            m in any_movement(),
            allow_negative in any::<bool>(),
        ) {
            let b = bal(on_hand, reserved, avg_cost);
            let first = apply(&b, &m, allow_negative);
            prop_assert_eq!(apply(&b, &m, allow_negative), first.clone());
            if let Ok((next, fx)) = first {
                prop_assert_eq!(next.on_hand, b.on_hand + fx.on_hand);
                prop_assert_eq!(next.reserved, b.reserved + fx.reserved);
            }
        }

        /// A movement never takes a balance past the limit, and one refused only for the
        /// limit would have grown it past.
        #[test]
        fn the_limit_is_never_crossed_outwards(
            on_hand in -2 * MAX_QUANTITY..=2 * MAX_QUANTITY,
            reserved in 0i64..=2 * MAX_QUANTITY,
            kind in prop::sample::select(MovementKind::ALL),
            quantity in -MAX_QUANTITY..=MAX_QUANTITY,
        ) {
            let b = bal(on_hand, reserved, 1);
            let m = Movement { kind, quantity, unit_cost: Some(1) };
            let limit = MAX_QUANTITY.unsigned_abs();
            match apply(&b, &m, true) {
                Ok((next, _)) => {
                    prop_assert!(next.on_hand.unsigned_abs() <= limit.max(b.on_hand.unsigned_abs()));
                    prop_assert!(next.reserved.unsigned_abs() <= limit.max(b.reserved.unsigned_abs()));
                }
                Err(LedgerError::BeyondLimit) => {
                    let fx = effect(&m).unwrap();
                    let (h, r) = (on_hand + fx.on_hand, reserved + fx.reserved);
                    prop_assert!(
                        (h.unsigned_abs() > limit && h.unsigned_abs() > on_hand.unsigned_abs())
                            || (r.unsigned_abs() > limit && r.unsigned_abs() > reserved.unsigned_abs())
                    );
                }
                Err(_) => {}
            }
        }

        /// A transfer moves units and their value from A to B: total units are conserved
        /// exactly, total value within the rounding of B's new average (at most half a
        /// ten-thousandth on each of B's units). When B starts empty it is exact.
        #[test]
        fn transfers_conserve_units_and_value(
            a_on_hand in 1i64..=10_000,
            a_reserved in 0i64..=10_000,
            a_cost in 0i64..=10_000_000,
            b_on_hand in 0i64..=10_000,
            b_cost in 0i64..=10_000_000,
            q in 1i64..=10_000,
        ) {
            let a = bal(a_on_hand, a_reserved.min(a_on_hand - 1), a_cost);
            let b = bal(b_on_hand, 0, b_cost);
            let q = q.min(a.available());
            let out = Movement { kind: MovementKind::TransferOut, quantity: q, unit_cost: None };
            let (a2, _) = apply(&a, &out, false).unwrap();
            let inn = Movement { kind: MovementKind::TransferIn, quantity: q, unit_cost: Some(a.avg_cost) };
            let (b2, _) = apply(&b, &inn, false).unwrap();

            prop_assert_eq!(a2.on_hand + b2.on_hand, a.on_hand + b.on_hand);
            let value = |x: &Balance| i128::from(x.on_hand) * i128::from(x.avg_cost);
            let drift = (value(&a) + value(&b) - value(&a2) - value(&b2)).abs();
            prop_assert!(2 * drift <= i128::from(b2.on_hand), "drift {drift}");
            if b.on_hand == 0 {
                prop_assert_eq!(drift, 0);
            }
        }
    }
}
