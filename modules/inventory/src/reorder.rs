//! When and how much to reorder: demand statistics, safety stock, reorder points, the
//! economic order quantity, min/max, a product's plan made of them, and ABC
//! classification. Pure functions, no database.
//!
//! These are statistics, so they work in `f64`; the quantities they return are whole units,
//! rounded up where falling short would be the worse mistake (a reorder point or an order
//! quantity one unit too small risks a stock-out, one too large costs one unit's holding).
//! Rounding up forgives float noise of about one part in a billion, so that 1.1 x 10 is 11
//! and not 12.

ils_kernel::string_enum!(
    /// The probability of not running out during a replenishment lead time, which sets how
    /// many standard deviations of lead-time demand the safety stock covers.
    ServiceLevel {
        /// 90 %: z = 1.28.
        P90 = "P90",
        /// 95 %: z = 1.645.
        P95 = "P95",
        /// 97.5 %: z = 1.96.
        P975 = "P97_5",
        /// 99 %: z = 2.326.
        P99 = "P99",
    }
);

impl ServiceLevel {
    /// The standard normal quantile of this service level.
    pub fn z(self) -> f64 {
        match self {
            Self::P90 => 1.28,
            Self::P95 => 1.645,
            Self::P975 => 1.96,
            Self::P99 => 2.326,
        }
    }
}

/// Daily demand over a period.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DemandStats {
    /// Days in the period, days without demand included.
    pub days: usize,
    /// Mean units per day; 0 for an empty period.
    pub mean: f64,
    /// Sample standard deviation of units per day (divided by n - 1); 0 when fewer than 2
    /// days.
    pub std_dev: f64,
}

/// The mean and sample standard deviation of daily quantities. Pass every day of the
/// period, zero days included: leaving them out overstates demand and understates its
/// variability.
pub fn demand_stats(daily: &[f64]) -> DemandStats {
    let days = daily.len();
    if days == 0 {
        return DemandStats::default();
    }
    let n = days as f64;
    let mean = daily.iter().sum::<f64>() / n;
    let std_dev = if days < 2 {
        0.0
    } else {
        let squares: f64 = daily.iter().map(|x| (x - mean).powi(2)).sum();
        (squares / (n - 1.0)).sqrt()
    };
    DemandStats {
        days,
        mean,
        std_dev,
    }
}

/// Safety stock, `z x sigma_d x sqrt(L)`: the buffer that covers daily demand's variability
/// (`std_dev`, units per day) over a lead time of `lead_time_days`, at the service level
/// whose quantile is `z` (see [`ServiceLevel::z`]). Inputs that are negative or not finite
/// count as 0.
pub fn safety_stock(z: f64, std_dev: f64, lead_time_days: f64) -> f64 {
    non_negative(z) * non_negative(std_dev) * non_negative(lead_time_days).sqrt()
}

/// The reorder point, `ceil(d x L + SS)`: when available stock falls to it, order. `d` is
/// mean daily demand, `L` the lead time in days, `SS` the safety stock. Inputs that are
/// negative or not finite count as 0.
pub fn reorder_point(mean_daily: f64, lead_time_days: f64, safety_stock: f64) -> i64 {
    ceil_units(non_negative(mean_daily) * non_negative(lead_time_days) + non_negative(safety_stock))
}

/// The economic order quantity, `ceil(sqrt(2DS / H))`: the order size that balances the
/// cost of ordering against the cost of holding stock. `D` is annual demand in units, `S`
/// the cost of placing one order, `H` the cost of holding one unit for a year (the same
/// currency for both). At least 1; `None` when an input is not a positive finite number (or
/// the result is not finite).
pub fn eoq(annual_demand: f64, order_cost: f64, holding_cost_per_unit_year: f64) -> Option<i64> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !(positive(annual_demand) && positive(order_cost) && positive(holding_cost_per_unit_year)) {
        return None;
    }
    let q = (2.0 * annual_demand * order_cost / holding_cost_per_unit_year).sqrt();
    q.is_finite().then(|| ceil_units(q).max(1))
}

/// Min/max replenishment: when available stock is at or below `min`, order up to `max`,
/// that is `Some(max - available)`; `None` when stock is above `min` or already at `max`.
/// Saturates rather than overflowing.
pub fn order_up_to(available: i64, min: i64, max: i64) -> Option<i64> {
    (available <= min && max > available).then(|| max.saturating_sub(available))
}

ils_kernel::string_enum!(
    /// An item's share of annual consumption value, which sets how closely it is watched.
    AbcClass {
        /// The few items making up about 80 % of value: count often, forecast carefully.
        A = "A",
        /// The next 15 % of value.
        B = "B",
        /// The many items making up the last 5 % (and anything with no value).
        C = "C",
    }
);

/// The cumulative share of value below which an item is A.
pub const A_SHARE: f64 = 0.80;
/// The cumulative share of value below which an item is B (when not A).
pub const B_SHARE: f64 = 0.95;

/// Float noise forgiven when comparing a cumulative share with [`A_SHARE`] or [`B_SHARE`]
/// (so that 0.5 + 0.3 counts as 0.80).
const SHARE_TOLERANCE: f64 = 1e-9;

/// ABC classification of items by annual consumption value (units used a year x unit
/// cost), returned ranked by value, highest first (equal values keep their input order),
/// each with its class and the cumulative share of total value up to and including it.
///
/// An item is A while the cumulative share before it is below [`A_SHARE`] (so the item
/// that crosses 80 % is still A), B while it is below [`B_SHARE`], else C. Items with zero,
/// negative or non-finite value count as 0: they are C and add nothing to the shares. The
/// last positive item's share is exactly 1; when no value is positive every item is C with
/// share 0.
pub fn abc<K: Clone>(items: &[(K, f64)]) -> Vec<(K, AbcClass, f64)> {
    let mut ranked: Vec<(&K, f64)> = items
        .iter()
        .map(|(key, value)| {
            let value = if value.is_finite() && *value != 0.0 {
                *value
            } else {
                0.0
            };
            (key, value)
        })
        .collect();
    // a stable sort: equal values keep their input order
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    // summed in ranked order, so the running sum ends exactly on the total
    let total: f64 = ranked.iter().map(|(_, value)| value.max(0.0)).sum();
    let share = |cumulative: f64| {
        if total > 0.0 { cumulative / total } else { 0.0 }
    };

    let mut cumulative = 0.0;
    ranked
        .into_iter()
        .map(|(key, value)| {
            let before = share(cumulative);
            let class = if value <= 0.0 {
                AbcClass::C
            } else if before < A_SHARE - SHARE_TOLERANCE {
                AbcClass::A
            } else if before < B_SHARE - SHARE_TOLERANCE {
                AbcClass::B
            } else {
                AbcClass::C
            };
            cumulative += value.max(0.0);
            (key.clone(), class, share(cumulative))
        })
        .collect()
}

/// The one rule that decides whether a product needs reordering, shared by the low-stock
/// state (`lowStock`, `inventory.low_stock`) and the planner (`reorderSuggestions`).
///
/// The reorder point is the product's own `reorderPoint` when it has one (what the company
/// decided), else the one computed from its demand and lead time (planning only: the
/// low-stock state, kept at every movement, has no demand to compute from). The threshold is
/// the larger of the reorder point and the product's `minQuantity`; stock at or below it
/// needs reordering. Neither: never.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReorderRule {
    /// The reorder point the rule uses: the product's own, else the computed one.
    pub reorder_point: Option<i64>,
    /// The product's minimum (min/max policy).
    pub min_quantity: Option<i64>,
}

impl ReorderRule {
    /// The rule for a product with its own reorder point and minimum, and the reorder
    /// point computed from its demand when there is one.
    pub fn new(own_reorder_point: Option<i64>, computed: Option<i64>, min: Option<i64>) -> Self {
        ReorderRule {
            reorder_point: own_reorder_point.or(computed),
            min_quantity: min,
        }
    }

    /// The stock at or below which the product needs reordering; `None`: never.
    pub fn threshold(&self) -> Option<i64> {
        Ord::max(self.reorder_point, self.min_quantity)
    }

    /// Whether `stock` (available units, or the inventory position) needs reordering.
    pub fn needs_reorder(&self, stock: i64) -> bool {
        self.threshold().is_some_and(|t| stock <= t)
    }
}

/// A product's reorder settings, as stored on it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Settings {
    /// Its own reorder point, which wins over the computed one.
    pub reorder_point: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
}

/// Demand over a replenishment lead time, as a forecast says it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LeadTimeDemand {
    /// The units expected over the lead time.
    pub units: f64,
    /// The standard deviation of the forecast's error over the lead time, in units (from
    /// its backtest): what the safety stock covers.
    pub sigma: f64,
}

/// What planning says of one product: the numbers of its reorder suggestion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// The safety stock in units, rounded up; `None` without a lead time.
    pub safety_stock: Option<i64>,
    /// The product's own reorder point, else the computed one; `None` without either.
    pub reorder_point: Option<i64>,
    /// `None` without an order cost and a unit cost.
    pub eoq: Option<i64>,
    /// What min/max orders; `None` without both, or above the minimum.
    pub order_up_to: Option<i64>,
    /// The stock position needs reordering ([`ReorderRule`]).
    pub reorder_now: bool,
    /// The min/max quantity, else the EOQ but at least what takes the position above the
    /// reorder point; 0 when it is not time to reorder.
    pub suggested: i64,
}

/// A product's plan from its expected daily demand (`daily`, for the EOQ's annual
/// demand), its demand over the lead time when it has one (`lead`: the reorder point is
/// `ceil(units + z x sigma)`, the safety stock `z x sigma`), the service level's quantile
/// `z`, its reorder settings, its stock position (available plus on order), and `costs`:
/// the cost of placing an order and of holding one unit for a year, when both are known.
pub fn plan(
    daily: f64,
    lead: Option<LeadTimeDemand>,
    z: f64,
    settings: &Settings,
    position: i64,
    costs: Option<(f64, f64)>,
) -> Plan {
    let safety = lead.map(|l| non_negative(z) * non_negative(l.sigma));
    let computed = lead
        .zip(safety)
        .map(|(l, ss)| reorder_point(l.units, 1.0, ss));
    let rule = ReorderRule::new(settings.reorder_point, computed, settings.min_quantity);
    let rop = rule.reorder_point;
    let eoq = costs.and_then(|(order, holding)| eoq(daily * 365.0, order, holding));
    let up_to = settings
        .min_quantity
        .zip(settings.max_quantity)
        .and_then(|(min, max)| order_up_to(position, min, max));
    let reorder_now = rule.needs_reorder(position);
    let suggested = if !reorder_now {
        0
    } else if let Some(q) = up_to {
        q
    } else {
        let gap = rop
            .map_or(0, |r| r.saturating_add(1).saturating_sub(position))
            .max(0);
        eoq.unwrap_or(0).max(gap)
    };
    Plan {
        safety_stock: safety.map(ceil_units),
        reorder_point: rop,
        eoq,
        order_up_to: up_to,
        reorder_now,
        suggested,
    }
}

/// `units` rounded up to what a supplier sells: at least `min_order`, in whole multiples
/// of `multiple` (both at least 1); 0 stays 0 (nothing to order).
pub fn order_quantity(units: f64, min_order: i64, multiple: i64) -> i64 {
    let units = ceil_units(non_negative(units));
    if units == 0 {
        return 0;
    }
    let multiple = multiple.max(1);
    let wanted = units.max(min_order.max(1));
    let packs = wanted / multiple + i64::from(wanted % multiple != 0);
    packs.saturating_mul(multiple)
}

/// The most of `limit` units a supplier can be ordered: the largest multiple of
/// `multiple` at most `limit`, if it is at least `min_order`; `None`: nothing fits.
pub fn at_most(limit: i64, min_order: i64, multiple: i64) -> Option<i64> {
    let multiple = multiple.max(1);
    let q = limit.max(0) / multiple * multiple;
    (q >= min_order.max(1)).then_some(q)
}

/// `x` when it is a finite number above 0, else 0.
fn non_negative(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// `x` rounded up to whole units, forgiving float noise of one part in a billion; at least
/// 0 and saturating at `i64::MAX`.
fn ceil_units(x: f64) -> i64 {
    let noise = 1e-9 * x.abs().max(1.0);
    // `as` saturates (and maps NaN to 0), which is what a quantity wants here
    (x - noise).ceil().max(0.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn z_values() {
        assert_eq!(ServiceLevel::P90.z(), 1.28);
        assert_eq!(ServiceLevel::P95.z(), 1.645);
        assert_eq!(ServiceLevel::P975.z(), 1.96);
        assert_eq!(ServiceLevel::P99.z(), 2.326);
        assert_eq!(ServiceLevel::P975.as_str(), "P97_5");
        assert_eq!(ServiceLevel::parse("P97_5"), Some(ServiceLevel::P975));
        // a higher service level never asks for a smaller buffer
        let z: Vec<f64> = ServiceLevel::ALL.iter().map(|s| s.z()).collect();
        assert!(z.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn demand_statistics() {
        let stats = demand_stats(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(stats.days, 8);
        assert!(close(stats.mean, 5.0));
        // sum of squares 32 over n - 1 = 7
        assert!(close(stats.std_dev, (32.0f64 / 7.0).sqrt()));

        // zero days count: a lumpy seller
        let stats = demand_stats(&[0.0, 0.0, 6.0, 0.0, 0.0, 0.0]);
        assert!(close(stats.mean, 1.0));
        assert!(close(stats.std_dev, (30.0f64 / 5.0).sqrt()));

        assert_eq!(demand_stats(&[]), DemandStats::default());
        assert_eq!(
            demand_stats(&[3.0]),
            DemandStats {
                days: 1,
                mean: 3.0,
                std_dev: 0.0
            }
        );
        assert_eq!(demand_stats(&[4.0; 30]).std_dev, 0.0);
    }

    #[test]
    fn safety_stock_and_reorder_point() {
        // 4 a day, sigma 2, 9 days' lead, 95 %: SS = 1.645 x 2 x 3 = 9.87, ROP = 36 + 9.87
        let ss = safety_stock(ServiceLevel::P95.z(), 2.0, 9.0);
        assert!(close(ss, 9.87));
        assert_eq!(reorder_point(4.0, 9.0, ss), 46);
        // exact products are not rounded up by float noise: 1.1 x 10 = 11.000000000000002
        assert_eq!(reorder_point(1.1, 10.0, 0.0), 11);
        assert_eq!(reorder_point(0.1, 3.0, 0.0), 1);
        assert_eq!(reorder_point(0.01, 1.0, 0.0), 1);
        assert_eq!(reorder_point(0.0, 10.0, 0.0), 0);
        // nonsense counts as nothing
        assert_eq!(safety_stock(1.645, -2.0, 9.0), 0.0);
        assert_eq!(safety_stock(1.645, 2.0, f64::NAN), 0.0);
        assert_eq!(reorder_point(-4.0, 9.0, 3.5), 4);
        assert_eq!(reorder_point(f64::INFINITY, 9.0, 0.0), 0);
    }

    #[test]
    fn economic_order_quantity() {
        // sqrt(2 x 1000 x 50 / 2) = sqrt(50000) = 223.6
        assert_eq!(eoq(1000.0, 50.0, 2.0), Some(224));
        // sqrt(2 x 1200 x 30 / 10) = sqrt(7200) = 84.85
        assert_eq!(eoq(1200.0, 30.0, 10.0), Some(85));
        // exact: sqrt(2 x 800 x 25 / 4) = 100
        assert_eq!(eoq(800.0, 25.0, 4.0), Some(100));
        assert_eq!(eoq(1.0, 0.01, 1000.0), Some(1));
        for (d, s, h) in [
            (0.0, 50.0, 2.0),
            (1000.0, 0.0, 2.0),
            (1000.0, 50.0, 0.0),
            (-1000.0, 50.0, 2.0),
            (f64::NAN, 50.0, 2.0),
            (1000.0, f64::INFINITY, 2.0),
            (f64::MAX, f64::MAX, f64::MIN_POSITIVE),
        ] {
            assert_eq!(eoq(d, s, h), None, "{d} {s} {h}");
        }
    }

    #[test]
    fn min_max() {
        assert_eq!(order_up_to(5, 5, 20), Some(15));
        assert_eq!(order_up_to(2, 5, 20), Some(18));
        assert_eq!(order_up_to(-3, 5, 20), Some(23));
        assert_eq!(order_up_to(6, 5, 20), None);
        assert_eq!(order_up_to(5, 5, 5), None);
        assert_eq!(order_up_to(5, 10, 4), None);
        assert_eq!(order_up_to(i64::MIN, 0, 1), Some(i64::MAX));
    }

    #[test]
    fn plans() {
        // 4 a day over 9 days' lead: 36, error sigma 6 (2 a day, sqrt(9)), 95 %: SS 9.87,
        // ROP 46; 40 in position.
        let lead = Some(LeadTimeDemand {
            units: 36.0,
            sigma: 6.0,
        });
        let z = ServiceLevel::P95.z();
        let none = Settings::default();
        let base = plan(4.0, lead, z, &none, 40, None);
        assert_eq!(
            base,
            Plan {
                safety_stock: Some(10),
                reorder_point: Some(46),
                eoq: None,
                order_up_to: None,
                reorder_now: true,
                suggested: 7,
            }
        );
        // sqrt(2 x 1460 x 50 / 2) = 270.2: the EOQ when it is more than the gap
        let costed = plan(4.0, lead, z, &none, 40, Some((50.0, 2.0)));
        assert_eq!(costed.eoq, Some(271));
        assert_eq!(costed.suggested, 271);
        // min/max comes first
        let min_max_of = Settings {
            min_quantity: Some(45),
            max_quantity: Some(100),
            ..Settings::default()
        };
        let min_max = plan(4.0, lead, z, &min_max_of, 40, Some((50.0, 2.0)));
        assert_eq!((min_max.order_up_to, min_max.suggested), (Some(60), 60));
        // without a lead time only the minimum says when
        let no_lead = plan(4.0, None, z, &min_max_of, 50, None);
        assert_eq!((no_lead.reorder_point, no_lead.safety_stock), (None, None));
        assert!(!no_lead.reorder_now);
        assert_eq!(no_lead.suggested, 0);
        assert!(plan(4.0, None, z, &min_max_of, 45, None).reorder_now);
    }

    #[test]
    fn the_products_own_reorder_point_decides() {
        // Issue 16's product: own reorder point 10, 5 in position, no lead time, no sales.
        let own = Settings {
            reorder_point: Some(10),
            ..Settings::default()
        };
        let z = ServiceLevel::P95.z();
        let p = plan(0.0, None, z, &own, 5, None);
        assert_eq!(
            p,
            Plan {
                safety_stock: None,
                reorder_point: Some(10),
                eoq: None,
                order_up_to: None,
                reorder_now: true,
                // back above the reorder point: 10 + 1 - 5
                suggested: 6,
            }
        );
        // At the reorder point it is due; above it, not.
        assert!(plan(0.0, None, z, &own, 10, None).reorder_now);
        assert_eq!(plan(0.0, None, z, &own, 11, None).suggested, 0);
        // It wins over the computed one (46 here), either way.
        let lead = Some(LeadTimeDemand {
            units: 36.0,
            sigma: 6.0,
        });
        let p = plan(4.0, lead, z, &own, 20, None);
        assert_eq!((p.reorder_point, p.reorder_now), (Some(10), false));
        let higher = Settings {
            reorder_point: Some(60),
            ..own
        };
        let p = plan(4.0, lead, z, &higher, 50, None);
        assert_eq!(
            (p.reorder_point, p.reorder_now, p.suggested),
            (Some(60), true, 11)
        );
        // The minimum still counts when it is higher.
        let min_max = Settings {
            min_quantity: Some(12),
            max_quantity: Some(30),
            ..own
        };
        let p = plan(0.0, None, z, &min_max, 11, None);
        assert_eq!((p.reorder_now, p.suggested), (true, 19));
    }

    #[test]
    fn quantities_a_supplier_sells() {
        // 37.2 units, sold in 10s, at least 20: 40
        assert_eq!(order_quantity(37.2, 20, 10), 40);
        // the minimum first, then whole packs: 5 wanted, at least 12, packs of 5 -> 15
        assert_eq!(order_quantity(5.0, 12, 5), 15);
        assert_eq!(order_quantity(3.0, 1, 1), 3);
        assert_eq!(order_quantity(0.0, 10, 6), 0);
        assert_eq!(order_quantity(-4.0, 10, 6), 0);
        assert_eq!(order_quantity(f64::NAN, 10, 6), 0);
        // a nonsense multiple or minimum counts as 1
        assert_eq!(order_quantity(7.0, 0, 0), 7);
        // the largest whole packs within a limit, if the minimum fits
        assert_eq!(at_most(47, 20, 10), Some(40));
        assert_eq!(at_most(47, 1, 1), Some(47));
        assert_eq!(at_most(9, 1, 10), None);
        assert_eq!(at_most(30, 40, 10), None);
        assert_eq!(at_most(-5, 1, 1), None);
    }

    #[test]
    fn one_rule_for_low_stock_and_planning() {
        // The low-stock state has no demand: the product's own settings.
        let settings_only = ReorderRule::new(Some(10), None, Some(4));
        assert_eq!(settings_only.threshold(), Some(10));
        assert!(settings_only.needs_reorder(5));
        assert!(settings_only.needs_reorder(10));
        assert!(!settings_only.needs_reorder(11));
        // The planner's computed point only stands in for a missing own one.
        assert_eq!(
            ReorderRule::new(Some(10), Some(46), None).threshold(),
            Some(10)
        );
        assert_eq!(ReorderRule::new(None, Some(46), None).threshold(), Some(46));
        assert_eq!(
            ReorderRule::new(None, Some(3), Some(8)).threshold(),
            Some(8)
        );
        // Nothing set: never.
        let never = ReorderRule::new(None, None, None);
        assert_eq!(never.threshold(), None);
        assert!(!never.needs_reorder(i64::MIN));
    }

    proptest! {
        /// Whatever the demand, a product with its own settings is due in planning exactly
        /// when the low-stock rule says so for the same stock.
        #[test]
        fn planning_agrees_with_the_low_stock_rule(
            own in prop::option::of(0i64..100),
            min in prop::option::of(0i64..100),
            lead in prop::option::of(0.0f64..60.0),
            mean in 0.0f64..20.0,
            sigma in 0.0f64..10.0,
            position in -50i64..200,
        ) {
            prop_assume!(own.is_some() || lead.is_none());
            let settings = Settings {
                reorder_point: own,
                min_quantity: min,
                max_quantity: None,
            };
            let lead = lead.map(|l| LeadTimeDemand { units: mean * l, sigma: sigma * l.sqrt() });
            let p = plan(mean, lead, ServiceLevel::P95.z(), &settings, position, None);
            let low = ReorderRule::new(own, None, min).needs_reorder(position);
            prop_assert_eq!(p.reorder_now, low);
            if !low {
                prop_assert_eq!(p.suggested, 0);
            }
        }
    }

    fn classes<K>(ranked: &[(K, AbcClass, f64)]) -> String {
        ranked.iter().map(|(_, class, _)| class.as_str()).collect()
    }

    #[test]
    fn abc_worked_example() {
        let items = [
            ("blanks", 10.0),
            ("frames", 50.0),
            ("cloths", 3.0),
            ("toric", 30.0),
            ("cases", 2.0),
            ("drops", 5.0),
        ];
        let ranked = abc(&items);
        let keys: Vec<&str> = ranked.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(
            keys,
            ["frames", "toric", "blanks", "drops", "cloths", "cases"]
        );
        assert_eq!(classes(&ranked), "AABBCC");
        let shares: Vec<f64> = ranked.iter().map(|(_, _, s)| *s).collect();
        for (share, want) in shares.iter().zip([0.5, 0.8, 0.9, 0.95, 0.98, 1.0]) {
            assert!(close(*share, want), "{shares:?}");
        }
        assert_eq!(shares[5], 1.0);

        // the same in fractions, whose float sums are not exact
        let items = [0.5, 0.3, 0.1, 0.05, 0.03, 0.02].map(|v| ((), v));
        assert_eq!(classes(&abc(&items)), "AABBCC");
    }

    #[test]
    fn abc_item_crossing_a_threshold_stays_in_the_class() {
        // 70 before the second item, which takes the share to 90 %: still A
        let ranked = abc(&[(1, 70.0), (2, 20.0), (3, 4.0), (4, 3.0), (5, 3.0)]);
        assert_eq!(classes(&ranked), "AABBC");
        // one item holding everything is A
        assert_eq!(classes(&abc(&[(1, 100.0)])), "A");
    }

    #[test]
    fn abc_edge_cases() {
        assert!(abc::<u8>(&[]).is_empty());
        let ranked = abc(&[(1, 0.0), (2, 0.0), (3, -0.0)]);
        assert_eq!(
            ranked,
            [
                (1, AbcClass::C, 0.0),
                (2, AbcClass::C, 0.0),
                (3, AbcClass::C, 0.0)
            ]
        );
        // ties keep input order; zero, negative and non-finite values are C and add nothing
        let ranked = abc(&[
            (1, -5.0),
            (2, 10.0),
            (3, f64::NAN),
            (4, 0.0),
            (5, 10.0),
            (6, f64::INFINITY),
        ]);
        let keys: Vec<u8> = ranked.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(keys, [2, 5, 3, 4, 6, 1]);
        assert_eq!(classes(&ranked), "AACCCC");
        let shares: Vec<f64> = ranked.iter().map(|(_, _, s)| *s).collect();
        assert_eq!(shares, [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]);
    }

    fn rank(class: AbcClass) -> usize {
        AbcClass::ALL.iter().position(|c| *c == class).unwrap()
    }

    proptest! {
        #[test]
        fn abc_classes_are_monotone_and_shares_end_at_one(
            values in prop::collection::vec(
                prop_oneof![3 => 0.0f64..1e7, 1 => Just(0.0), 1 => -100.0f64..0.0],
                0..60,
            ),
        ) {
            let items: Vec<(usize, f64)> = values.iter().copied().enumerate().collect();
            let ranked = abc(&items);
            prop_assert_eq!(ranked.len(), items.len());
            let mut keys: Vec<usize> = ranked.iter().map(|(k, _, _)| *k).collect();
            for pair in ranked.windows(2) {
                let ((k0, c0, s0), (k1, c1, s1)) = (&pair[0], &pair[1]);
                let (v0, v1) = (values[*k0], values[*k1]);
                prop_assert!(v0 > v1 || (v0 == v1 && k0 < k1) || (v0 <= 0.0 && v1 <= 0.0));
                prop_assert!(rank(*c0) <= rank(*c1), "{:?} after {:?}", c1, c0);
                prop_assert!(s0 <= s1);
            }
            keys.sort_unstable();
            prop_assert!(keys.iter().copied().eq(0..items.len()));
            let total: f64 = values.iter().filter(|v| **v > 0.0).sum();
            for (k, class, share) in &ranked {
                prop_assert!((0.0..=1.0).contains(share));
                if values[*k] <= 0.0 {
                    prop_assert_eq!(*class, AbcClass::C);
                }
            }
            if total > 0.0 {
                prop_assert!((ranked.last().unwrap().2 - 1.0).abs() <= 1e-9);
                prop_assert_eq!(ranked[0].1, AbcClass::A);
            } else {
                prop_assert!(ranked.iter().all(|(_, c, s)| *c == AbcClass::C && *s == 0.0));
            }
        }

        #[test]
        fn order_quantities_are_whole_packs_covering_the_need(
            units in 0.0f64..10_000.0,
            min in 1i64..500,
            multiple in 1i64..100,
        ) {
            let q = order_quantity(units, min, multiple);
            if units <= 1e-6 {
                prop_assert_eq!(q, 0);
            } else {
                prop_assert!(q % multiple == 0 && q >= min && q as f64 >= units - 1e-6);
                // no more than one pack beyond what the need or the minimum asks
                prop_assert!(q < (units.ceil() as i64).max(min) + multiple);
            }
            if let Some(cut) = at_most(q / 2, min, multiple) {
                prop_assert!(cut <= q / 2 && cut % multiple == 0 && cut >= min);
            }
        }

        #[test]
        fn quantities_round_up(
            d in 0.0f64..500.0,
            lead in 0.0f64..120.0,
            sigma in 0.0f64..100.0,
            s in 0.01f64..1000.0,
            h in 0.01f64..1000.0,
        ) {
            let ss = safety_stock(ServiceLevel::P99.z(), sigma, lead);
            let rop = reorder_point(d, lead, ss) as f64;
            let exact = d * lead + ss;
            // within the relative float-noise tolerance of rounding up
            prop_assert!(rop >= exact * (1.0 - 1e-8) && rop < exact + 1.0);
            let annual = d * 365.0 + 1.0;
            let q = eoq(annual, s, h).unwrap() as f64;
            let exact = (2.0 * annual * s / h).sqrt();
            prop_assert!(q >= 1.0 && q >= exact * (1.0 - 1e-8) && q < exact.max(1.0) + 1.0);
        }

        #[test]
        fn sample_std_dev_is_not_negative(daily in prop::collection::vec(0.0f64..50.0, 0..100)) {
            let stats = demand_stats(&daily);
            prop_assert_eq!(stats.days, daily.len());
            prop_assert!(stats.std_dev >= 0.0);
            if let (Some(lo), Some(hi)) = (
                daily.iter().copied().reduce(f64::min),
                daily.iter().copied().reduce(f64::max),
            ) {
                prop_assert!(lo - 1e-9 <= stats.mean && stats.mean <= hi + 1e-9);
                // no day is further from the mean than the whole spread
                prop_assert!(stats.std_dev <= hi - lo + 1e-9);
            }
        }
    }
}
