//! What one source record adds to each party's dashboards: pure functions from a lens
//! order (with its status history) or a purchase order (with its lines) to figures per
//! company, metric, dimension and day (UTC). The event handler and `ils analytics rebuild`
//! both go through them, so the rollups kept event by event and the ones rebuilt from
//! scratch are the same sums of the same figures.
//!
//! A figure is a `value` (a count, days, or money in ten-thousandths) and the `count` of
//! contributions behind it, so that averages and rates are sums divided at read time.

use chrono::NaiveDate;
use ils_entity::lens_order::{JobType, OrderStatus};
use ils_entity::purchase_order::PurchaseOrderStatus;
use ils_entity::{lens_order, order_status_change, purchase_order, purchase_order_line};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The metrics kept, by name as stored.
pub mod metric {
    /// Practice: orders submitted (by submission day).
    pub const ORDERS: &str = "orders";
    /// Practice: orders neither cancelled nor rejected (the remake rate's base), by
    /// submission day.
    pub const MADE: &str = "orders_made";
    /// Practice: orders by their status now (dimension), by submission day.
    pub const ORDERS_BY_STATUS: &str = "orders_by_status";
    /// Practice and lab: remakes (neither cancelled nor rejected) by reason (dimension), by
    /// submission day.
    pub const REMAKES: &str = "remakes";
    /// Practice (by lab) and lab: days from submission to shipping, by shipping day.
    pub const TURNAROUND: &str = "turnaround_days";
    /// Practice (by lab) and lab: days from submission to the due date the lab gave, by
    /// shipping day; only for jobs shipped with a due date.
    pub const PROMISED: &str = "promised_days";
    /// Practice (by lab) and lab: jobs shipped by their due date (value) among those
    /// shipped with one (count), by shipping day.
    pub const ON_TIME: &str = "on_time";
    /// Lab: jobs received and neither cancelled nor rejected, by practice (dimension) and
    /// submission day.
    pub const JOBS: &str = "jobs";
    /// Lab: jobs not yet shipped, by status (and production stage), by submission day.
    pub const WIP: &str = "wip";
    /// Buyer: the value of purchase orders submitted (neither rejected nor cancelled), by
    /// supplier and currency (`<supplier>|<currency>`), by submission day.
    pub const SPEND: &str = "spend";
    /// Supplier: purchase orders received and not turned down or withdrawn (count) and
    /// their value, by currency.
    pub const PURCHASE_ORDERS: &str = "purchase_orders";
    /// Supplier: units ordered on those purchase orders.
    pub const UNITS_ORDERED: &str = "units_ordered";
    /// Supplier: of those, units the buyer has received.
    pub const UNITS_RECEIVED: &str = "units_received";
    /// Supplier: days from submission to the last unit received, by the day it was.
    pub const LEAD_TIME: &str = "lead_time_days";
    /// Supplier: units ordered by catalog item (dimension).
    pub const ITEM_UNITS: &str = "item_units";
}

/// Where a figure goes: a metric, its dimension (empty for none) and a day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub metric: String,
    pub dim: String,
    pub day: NaiveDate,
}

/// A sum and the number of contributions in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub value: i64,
    pub count: i64,
}

/// One company's figures from one source (or many, summed).
pub type Facts = BTreeMap<Key, Amount>;

/// Every party's figures from one source.
pub type ByCompany = BTreeMap<Uuid, Facts>;

fn add(facts: &mut ByCompany, company: Uuid, metric: &str, dim: &str, day: NaiveDate, a: Amount) {
    let slot = facts
        .entry(company)
        .or_default()
        .entry(Key {
            metric: metric.to_owned(),
            dim: dim.to_owned(),
            day,
        })
        .or_default();
    slot.value += a.value;
    slot.count += a.count;
}

fn one(value: i64) -> Amount {
    Amount { value, count: 1 }
}

/// A lens order's figures for its practice and its lab. `steps` is the order's status
/// history (any order). A draft adds nothing.
pub fn order_facts(order: &lens_order::Model, steps: &[order_status_change::Model]) -> ByCompany {
    let mut out = ByCompany::new();
    let Some(submitted_at) = order.submitted_at else {
        return out;
    };
    let submitted = submitted_at.date_naive();
    let practice = order.company_id;
    let lab = order.lab_company_id;
    let lab_dim = lab.map(|l| l.to_string()).unwrap_or_default();
    add(&mut out, practice, metric::ORDERS, "", submitted, one(1));
    add(
        &mut out,
        practice,
        metric::ORDERS_BY_STATUS,
        order.status.as_str(),
        submitted,
        one(1),
    );
    // A job cancelled or rejected was never made: it is no job of the lab's and no remake,
    // so neither party can move the other's rates with orders that end unmade.
    let ended = matches!(order.status, OrderStatus::Cancelled | OrderStatus::Rejected);
    if ended {
        return out;
    }
    add(&mut out, practice, metric::MADE, "", submitted, one(1));
    if order.job_type == JobType::Remake {
        let reason = order
            .remake_reason
            .map(|r| r.as_str())
            .unwrap_or("UNSPECIFIED");
        add(
            &mut out,
            practice,
            metric::REMAKES,
            reason,
            submitted,
            one(1),
        );
        if let Some(lab) = lab {
            add(&mut out, lab, metric::REMAKES, reason, submitted, one(1));
        }
    }
    // Only a job that has shipped has a turnaround (its history is not read otherwise).
    let shipped = steps
        .iter()
        .filter(|_| has_shipped(order.status))
        .filter(|s| s.to_status == OrderStatus::Shipped.as_str())
        .map(|s| s.created_at)
        .min();
    if let Some(shipped_at) = shipped {
        let day = shipped_at.date_naive();
        let actual = (day - submitted).num_days();
        let mut shipped_figures = vec![(metric::TURNAROUND, one(actual))];
        if let Some(due) = order.due_date {
            shipped_figures.push((metric::PROMISED, one((due - submitted).num_days())));
            shipped_figures.push((metric::ON_TIME, one(i64::from(day <= due))));
        }
        for (m, a) in shipped_figures {
            add(&mut out, practice, m, &lab_dim, day, a);
            if let Some(lab) = lab {
                add(&mut out, lab, m, "", day, a);
            }
        }
    }
    if let Some(lab) = lab {
        add(
            &mut out,
            lab,
            metric::JOBS,
            &practice.to_string(),
            submitted,
            one(1),
        );
        if let Some(stage) = wip_stage(order) {
            add(&mut out, lab, metric::WIP, &stage, submitted, one(1));
        }
    }
    out
}

/// Whether a job in `status` has shipped (its history then holds the day it did).
pub fn has_shipped(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Shipped | OrderStatus::Arrived | OrderStatus::Delivered
    )
}

/// Where a job stands at its lab while the lab still has it: its status, with the
/// production stage while in production; none once shipped or ended.
fn wip_stage(order: &lens_order::Model) -> Option<String> {
    use OrderStatus as S;
    match order.status {
        S::Submitted | S::Received | S::OnHold | S::QualityCheck => {
            Some(order.status.as_str().to_owned())
        }
        S::InProduction => Some(match order.production_stage {
            Some(stage) => format!("IN_PRODUCTION/{}", stage.as_str()),
            None => "IN_PRODUCTION".to_owned(),
        }),
        _ => None,
    }
}

/// A purchase order's figures for its buyer and its supplier. A draft, or an order
/// withdrawn before it was submitted, adds nothing.
pub fn purchase_order_facts(
    po: &purchase_order::Model,
    lines: &[purchase_order_line::Model],
) -> ByCompany {
    use PurchaseOrderStatus as S;
    let mut out = ByCompany::new();
    let Some(submitted_at) = po.submitted_at else {
        return out;
    };
    let submitted = submitted_at.date_naive();
    let value: i64 = lines
        .iter()
        .map(|l| l.quantity.saturating_mul(l.unit_price))
        .fold(0i64, i64::saturating_add);
    let ordered: i64 = lines.iter().map(|l| l.quantity).sum();
    let received: i64 = lines.iter().map(|l| l.received_quantity).sum();
    // An order the supplier turned down or the buyer withdrew counts for neither party:
    // one cannot move the other's figures with orders that never went ahead.
    if matches!(po.status, S::Rejected | S::Cancelled) {
        return out;
    }
    let supplier = po.supplier_company_id;
    let dim = format!("{}|{}", supplier.unwrap_or(po.supplier_id), po.currency);
    add(
        &mut out,
        po.company_id,
        metric::SPEND,
        &dim,
        submitted,
        one(value),
    );
    let Some(supplier) = supplier else {
        return out;
    };
    add(
        &mut out,
        supplier,
        metric::PURCHASE_ORDERS,
        &po.currency,
        submitted,
        one(value),
    );
    add(
        &mut out,
        supplier,
        metric::UNITS_ORDERED,
        "",
        submitted,
        one(ordered),
    );
    add(
        &mut out,
        supplier,
        metric::UNITS_RECEIVED,
        "",
        submitted,
        one(received),
    );
    for line in lines {
        add(
            &mut out,
            supplier,
            metric::ITEM_UNITS,
            &line.catalog_item_id.to_string(),
            submitted,
            one(line.quantity),
        );
    }
    if po.status == S::Received {
        // A received order changes no more: the last change is when its last unit came.
        let day = po.updated_at.date_naive();
        add(
            &mut out,
            supplier,
            metric::LEAD_TIME,
            "",
            day,
            one((day - submitted).num_days()),
        );
    }
    out
}

/// What turns `old` into `new`: each key's difference, zero ones left out.
pub fn difference(old: &Facts, new: &Facts) -> Facts {
    let mut out = Facts::new();
    for (k, n) in new {
        let o = old.get(k).copied().unwrap_or_default();
        if *n != o {
            out.insert(
                k.clone(),
                Amount {
                    value: n.value - o.value,
                    count: n.count - o.count,
                },
            );
        }
    }
    for (k, o) in old {
        if !new.contains_key(k) && *o != Amount::default() {
            out.insert(
                k.clone(),
                Amount {
                    value: -o.value,
                    count: -o.count,
                },
            );
        }
    }
    out
}

/// Facts as stored with their source: `[metric, dim, day, value, count]` rows.
pub fn to_json(facts: &Facts) -> String {
    let rows: Vec<(&str, &str, NaiveDate, i64, i64)> = facts
        .iter()
        .map(|(k, a)| (k.metric.as_str(), k.dim.as_str(), k.day, a.value, a.count))
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
}

/// Facts as stored; `None` for text this release cannot read.
pub fn from_json(text: &str) -> Option<Facts> {
    let rows: Vec<(String, String, NaiveDate, i64, i64)> = serde_json::from_str(text).ok()?;
    Some(
        rows.into_iter()
            .map(|(metric, dim, day, value, count)| {
                (Key { metric, dim, day }, Amount { value, count })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use ils_entity::lens_order::{Eyes, RemakeReason};

    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, 10, 0, 0).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn order(status: OrderStatus) -> lens_order::Model {
        lens_order::Model {
            id: Uuid::from_u128(1),
            company_id: Uuid::from_u128(10),
            lab_company_id: Some(Uuid::from_u128(20)),
            lab_name: Some("Lab".into()),
            order_number: "ORD-000001".into(),
            status,
            version: 1,
            patient_id: None,
            patient_ref: "P1".into(),
            patient_name: None,
            patient_birth_date: None,
            rx: "{}".into(),
            rx_minus_cyl: "{}".into(),
            lens: "{}".into(),
            frame: None,
            fit: "{}".into(),
            job_type: JobType::New,
            remake_of: None,
            remake_reason: None,
            requested_date: None,
            notes: None,
            lab_job_number: None,
            external_ref: None,
            dcs_source: None,
            eyes: Eyes::Both,
            due_date: None,
            production_stage: None,
            hold_question: None,
            hold_answer: None,
            carrier: None,
            tracking_number: None,
            reject_reason: None,
            cancel_reason: None,
            submitted_at: Some(at(2)),
            created_at: at(1),
            updated_at: at(2),
        }
    }

    fn step(to: OrderStatus, when: DateTime<Utc>) -> order_status_change::Model {
        order_status_change::Model {
            id: Uuid::now_v7(),
            order_id: Uuid::from_u128(1),
            company_id: Uuid::from_u128(10),
            lab_company_id: Some(Uuid::from_u128(20)),
            from_status: None,
            to_status: to.as_str().into(),
            actor_company_id: None,
            actor_user_id: None,
            note: None,
            created_at: when,
        }
    }

    fn get(f: &ByCompany, company: u128, metric: &str, dim: &str, d: u32) -> Option<Amount> {
        f.get(&Uuid::from_u128(company))?
            .get(&Key {
                metric: metric.into(),
                dim: dim.into(),
                day: day(d),
            })
            .copied()
    }

    #[test]
    fn a_draft_adds_nothing() {
        let mut o = order(OrderStatus::Draft);
        o.submitted_at = None;
        assert!(order_facts(&o, &[]).is_empty());
    }

    #[test]
    fn a_shipped_remake_counts_for_both_parties_with_its_turnaround() {
        let mut o = order(OrderStatus::Shipped);
        o.job_type = JobType::Remake;
        o.remake_reason = Some(RemakeReason::LabError);
        o.due_date = Some(day(6));
        let steps = [
            step(OrderStatus::Submitted, at(2)),
            step(OrderStatus::Shipped, at(9)),
        ];
        let f = order_facts(&o, &steps);
        let lab = Uuid::from_u128(20).to_string();
        assert_eq!(get(&f, 10, metric::ORDERS, "", 2), Some(one(1)));
        assert_eq!(
            get(&f, 10, metric::ORDERS_BY_STATUS, "SHIPPED", 2),
            Some(one(1))
        );
        assert_eq!(get(&f, 10, metric::REMAKES, "LAB_ERROR", 2), Some(one(1)));
        assert_eq!(get(&f, 20, metric::REMAKES, "LAB_ERROR", 2), Some(one(1)));
        // Shipped on the 9th, submitted on the 2nd, due on the 6th: 7 days, 4 promised, late.
        assert_eq!(get(&f, 10, metric::TURNAROUND, &lab, 9), Some(one(7)));
        assert_eq!(get(&f, 10, metric::PROMISED, &lab, 9), Some(one(4)));
        assert_eq!(get(&f, 10, metric::ON_TIME, &lab, 9), Some(one(0)));
        assert_eq!(get(&f, 20, metric::TURNAROUND, "", 9), Some(one(7)));
        assert_eq!(get(&f, 20, metric::ON_TIME, "", 9), Some(one(0)));
        // Shipped: no longer work in progress.
        assert!(
            f[&Uuid::from_u128(20)]
                .keys()
                .all(|k| k.metric != metric::WIP)
        );
        assert_eq!(
            get(&f, 20, metric::JOBS, &Uuid::from_u128(10).to_string(), 2),
            Some(one(1))
        );
    }

    #[test]
    fn an_order_that_ends_unmade_moves_neither_partys_rates() {
        // A practice cannot raise its lab's remake rate with remakes it then cancels, nor
        // a lab the practice's with orders it rejects.
        for status in [OrderStatus::Cancelled, OrderStatus::Rejected] {
            let mut o = order(status);
            o.job_type = JobType::Remake;
            o.remake_reason = Some(RemakeReason::LabError);
            let f = order_facts(&o, &[]);
            assert_eq!(get(&f, 10, metric::ORDERS, "", 2), Some(one(1)));
            assert_eq!(
                get(&f, 10, metric::ORDERS_BY_STATUS, status.as_str(), 2),
                Some(one(1))
            );
            assert_eq!(get(&f, 10, metric::MADE, "", 2), None);
            assert_eq!(get(&f, 10, metric::REMAKES, "LAB_ERROR", 2), None);
            assert!(!f.contains_key(&Uuid::from_u128(20)), "the lab: {f:?}");
        }
    }

    #[test]
    fn work_in_progress_names_the_production_stage() {
        let mut o = order(OrderStatus::InProduction);
        o.production_stage = Some(ils_entity::lens_order::ProductionStage::Coating);
        let f = order_facts(&o, &[]);
        assert_eq!(
            get(&f, 20, metric::WIP, "IN_PRODUCTION/COATING", 2),
            Some(one(1))
        );
        assert_eq!(get(&f, 10, metric::WIP, "IN_PRODUCTION/COATING", 2), None);
    }

    #[test]
    fn the_difference_applied_to_the_old_gives_the_new() {
        let a = order_facts(&order(OrderStatus::Submitted), &[]);
        let mut shipped = order(OrderStatus::Shipped);
        shipped.due_date = Some(day(20));
        let b = order_facts(&shipped, &[step(OrderStatus::Shipped, at(5))]);
        for company in [10u128, 20] {
            let c = Uuid::from_u128(company);
            let old = a.get(&c).cloned().unwrap_or_default();
            let new = b.get(&c).cloned().unwrap_or_default();
            let d = difference(&old, &new);
            let mut applied = old.clone();
            for (k, x) in d {
                let slot = applied.entry(k).or_default();
                slot.value += x.value;
                slot.count += x.count;
            }
            applied.retain(|_, a| *a != Amount::default());
            assert_eq!(applied, new);
            assert!(difference(&new, &new).is_empty());
        }
    }

    #[test]
    fn stored_facts_read_back_the_same() {
        let f = order_facts(&order(OrderStatus::Received), &[]);
        let practice = &f[&Uuid::from_u128(10)];
        assert_eq!(from_json(&to_json(practice)).as_ref(), Some(practice));
        assert!(from_json("not json").is_none());
    }
}
