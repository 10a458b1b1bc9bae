//! The assistant's tools over lens orders: the acting company's orders (as a practice and
//! as a lab) and their counts. Both read through `service::orders::list`, so the same
//! member check, tenant guard and patient-read audit apply as for `orders` and `labOrders`.

use crate::graphql::orders::LensOrder;
use crate::model::{OrderStatus, Party};
use crate::service::{lookup, orders};
use chrono::{Datelike, NaiveDate, Utc};
use ils_entity::lens_order as order;
use ils_kernel::authz::require_member;
use ils_kernel::connections::partner_names;
use ils_kernel::pagination::PageArgs;
use ils_kernel::tools::{Effect, Tool, ToolCall, args, every, json, limit, name_matches};
use ils_kernel::{AppError, AppResult, ClientInfo, Db, TenantContext};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// The most orders one tool call reads (20 pages); beyond that the answer says `truncated`.
const MAX_SCANNED: usize = 2000;

/// The orders module's tools.
pub fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: "orders_list",
            description: "List the company's lens orders: as a practice its own orders (partner = the lab), as a lab its inbox (partner = the practice). Arguments (all optional): statuses (array of DRAFT, SUBMITTED, RECEIVED, ON_HOLD, IN_PRODUCTION, QUALITY_CHECK, SHIPPED, ARRIVED, DELIVERED, CANCELLED, REJECTED), late (true: only orders whose due date is before today and that are not finished), open (true: leave out finished orders: DELIVERED, CANCELLED, REJECTED), partner (part of the lab's or practice's name), text (words of the order number, patient reference or lab job number), side (PRACTICE, LAB or BOTH, default BOTH), limit (1..50, default 20). Result: {today, count (all matching), truncated, orders: [{orderNumber, side, status, partner, patientRef, patientName, dueDate, late, labJobNumber, updatedAt}]}, late orders first by due date, else newest first.",
            parameters: list_schema,
            effect: Effect::Read,
            personal: &["patientName"],
            run: |call| Box::pin(run_list(call)),
        },
        Tool {
            name: "orders_counts",
            description: "Count the company's lens orders (own orders as a practice and the inbox as a lab) for a period: by current status the orders created in it, and how many were created, submitted and delivered in it; also how many are open and late now. Arguments (optional): from, to (dates YYYY-MM-DD, inclusive; default: this calendar month so far). Result: {from, to, byStatus: {STATUS: n}, created, submitted, delivered, openNow, lateNow}.",
            parameters: counts_schema,
            effect: Effect::Read,
            personal: &[],
            run: |call| Box::pin(run_counts(call)),
        },
    ]
}

fn list_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "statuses": {"type": "array", "items": {"type": "string", "enum": [
                "DRAFT", "SUBMITTED", "RECEIVED", "ON_HOLD", "IN_PRODUCTION", "QUALITY_CHECK",
                "SHIPPED", "ARRIVED", "DELIVERED", "CANCELLED", "REJECTED"]}},
            "late": {"type": "boolean", "description": "Only orders past their due date and not finished."},
            "open": {"type": "boolean", "description": "Leave out DELIVERED, CANCELLED and REJECTED orders."},
            "partner": {"type": "string", "description": "Part of the lab's (or practice's) name."},
            "text": {"type": "string", "description": "Order number, patient reference or lab job number words."},
            "side": {"type": "string", "enum": ["PRACTICE", "LAB", "BOTH"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50}
        },
        "additionalProperties": false
    })
}

fn counts_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "from": {"type": "string", "format": "date", "description": "First day, YYYY-MM-DD (default: the 1st of this month)."},
            "to": {"type": "string", "format": "date", "description": "Last day, YYYY-MM-DD (default: today)."}
        },
        "additionalProperties": false
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListArgs {
    statuses: Option<Vec<String>>,
    late: Option<bool>,
    open: Option<bool>,
    partner: Option<String>,
    text: Option<String>,
    side: Option<String>,
    limit: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CountArgs {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// One order as a tool shows it.
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Row {
    order_number: String,
    side: &'static str,
    status: &'static str,
    partner: Option<String>,
    patient_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    patient_name: Option<String>,
    due_date: Option<NaiveDate>,
    late: bool,
    lab_job_number: Option<String>,
    updated_at: String,
}

/// Whether an order is late on `today`: due before today and not finished (nor, for the
/// practice, already ARRIVED: the lab's part is done).
fn is_late(row: &order::Model, side: Party, today: NaiveDate) -> bool {
    let done =
        row.status.finished() || (side == Party::Practice && row.status == OrderStatus::Arrived);
    !done && row.due_date.is_some_and(|d| d < today)
}

fn parse_statuses(given: Option<Vec<String>>) -> AppResult<Option<Vec<OrderStatus>>> {
    given
        .map(|list| {
            list.iter()
                .map(|s| {
                    OrderStatus::parse(&s.trim().to_uppercase().replace([' ', '-'], "_"))
                        .ok_or_else(|| {
                            AppError::bad_input("statuses", format!("unknown status {s:?}"))
                        })
                })
                .collect::<AppResult<Vec<_>>>()
        })
        .transpose()
        .map(|s| s.filter(|s| !s.is_empty()))
}

fn sides(side: Option<&str>) -> AppResult<Vec<Party>> {
    match side.map(|s| s.trim().to_uppercase()).as_deref() {
        None | Some("") | Some("BOTH") => Ok(vec![Party::Practice, Party::Lab]),
        Some("PRACTICE") | Some("ECP") => Ok(vec![Party::Practice]),
        Some("LAB") => Ok(vec![Party::Lab]),
        Some(other) => Err(AppError::bad_input(
            "side",
            format!("PRACTICE, LAB or BOTH, not {other:?}"),
        )),
    }
}

/// Every order of the company on `side` that `filter` lets through, up to
/// [`MAX_SCANNED`]; `true` when there were more.
async fn scan(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    side: Party,
    filter: impl Fn() -> orders::Filter,
    me: Uuid,
) -> AppResult<(Vec<order::Model>, bool)> {
    let (found, more) = every(MAX_SCANNED, |page| {
        orders::list(db, ctx, client, side, filter(), page, |row| {
            LensOrder::new(row, me)
        })
    })
    .await?;
    Ok((found.into_iter().map(|o| o.row).collect(), more))
}

/// The names of the practice's patients among `rows` (one audited read), by patient ID.
async fn patient_names(
    db: &Db,
    ctx: &TenantContext,
    client: &ClientInfo,
    rows: &[(Party, order::Model)],
) -> AppResult<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = rows
        .iter()
        .filter(|(side, _)| *side == Party::Practice)
        .filter_map(|(_, r)| r.patient_id)
        .collect();
    let found = lookup::patients(db, ctx, client, ids).await?;
    Ok(found
        .into_iter()
        .map(|p| (p.id, format!("{} {}", p.first_name, p.last_name)))
        .collect())
}

async fn run_list(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: ListArgs = args(&call)?;
    let me = require_member(call.ctx)?;
    let statuses = parse_statuses(a.statuses)?;
    let today = Utc::now().date_naive();
    let late_only = a.late.unwrap_or(false);
    let open_only = a.open.unwrap_or(false) || late_only;
    let names = {
        let tx = call.db.read(call.ctx).await?;
        let names = partner_names(&tx, me).await?;
        tx.commit().await?;
        names
    };
    let mut matched: Vec<(Party, order::Model)> = Vec::new();
    let mut truncated = false;
    // Matches counted by the database (the fast path), and whether any side was scanned.
    let mut counted = 0;
    let mut scanned = false;
    for side in sides(a.side.as_deref())? {
        let filter = || orders::Filter {
            statuses: statuses.clone(),
            due_before: late_only.then(|| today.pred_opt().unwrap_or(today)),
            text: a.text.clone().filter(|t| !t.trim().is_empty()),
        };
        // Without a partner to match by name, the database does all the filtering: one
        // page of the newest matches and their count (and only those orders' patients
        // are read and audited), not a scan of the company's orders.
        if a.partner.is_none() {
            let mut f = filter();
            if open_only && f.statuses.is_none() {
                f.statuses = Some(
                    OrderStatus::ALL
                        .iter()
                        .copied()
                        .filter(|st| {
                            let arrived_counts_as_done =
                                late_only && side == Party::Practice && *st == OrderStatus::Arrived;
                            !(st.finished() || arrived_counts_as_done)
                        })
                        .collect(),
                );
            }
            let page = PageArgs {
                last: Some(limit(a.limit, 20) as i32),
                count: true,
                ..PageArgs::default()
            };
            let conn = orders::list(call.db, call.ctx, call.client, side, f, page, |row| {
                LensOrder::new(row, me)
            })
            .await?;
            counted += conn.additional_fields.total_count.max(0) as usize;
            for row in conn.edges.into_iter().map(|e| e.node.row) {
                if (open_only && row.status.finished())
                    || (late_only && !is_late(&row, side, today))
                {
                    continue;
                }
                matched.push((side, row));
            }
            continue;
        }
        let (rows, more) = scan(call.db, call.ctx, call.client, side, filter, me).await?;
        truncated |= more;
        scanned = true;
        for row in rows {
            if open_only && row.status.finished() {
                continue;
            }
            if late_only && !is_late(&row, side, today) {
                continue;
            }
            if let Some(p) = a.partner.as_deref() {
                let name = partner_of(&row, side, &names).unwrap_or_default();
                if !name_matches(&name, p) {
                    continue;
                }
            }
            matched.push((side, row));
        }
    }
    if late_only {
        matched.sort_by_key(|(_, r)| (r.due_date, r.id));
    } else {
        matched.sort_by(|(_, a), (_, b)| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    }
    let count = if scanned {
        matched.len()
    } else {
        counted.max(matched.len())
    };
    let n = limit(a.limit, 20);
    truncated |= count > n;
    matched.truncate(n);
    let patients = patient_names(call.db, call.ctx, call.client, &matched).await?;
    let rows: Vec<Row> = matched
        .iter()
        .map(|(side, r)| Row {
            order_number: r.order_number.clone(),
            side: match side {
                Party::Practice => "PRACTICE",
                Party::Lab => "LAB",
            },
            status: r.status.as_str(),
            partner: partner_of(r, *side, &names),
            patient_ref: r.patient_ref.clone(),
            patient_name: r
                .patient_id
                .filter(|_| *side == Party::Practice)
                .and_then(|p| patients.get(&p).cloned())
                .or_else(|| r.patient_name.clone()),
            due_date: r.due_date,
            late: is_late(r, *side, today),
            lab_job_number: r.lab_job_number.clone(),
            updated_at: r.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect();
    Ok(json!({
        "today": today,
        "count": count,
        "truncated": truncated,
        "orders": json(&rows)?,
    }))
}

/// The other party's name: the lab's for the practice, the practice's for the lab.
fn partner_of(
    row: &order::Model,
    side: Party,
    names: &HashMap<Uuid, (String, String)>,
) -> Option<String> {
    match side {
        Party::Practice => row.lab_name.clone().or_else(|| {
            row.lab_company_id
                .and_then(|l| names.get(&l).map(|(n, _)| n.clone()))
        }),
        Party::Lab => names.get(&row.company_id).map(|(n, _)| n.clone()),
    }
}

/// The period asked, by default this calendar month up to today.
fn period(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> AppResult<(NaiveDate, NaiveDate)> {
    let from = from.unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let to = to.unwrap_or(today.max(from));
    if to < from {
        return Err(AppError::bad_input("to", "on or after from"));
    }
    Ok((from, to))
}

/// The most orders a side's counts read (status and dates only).
const MAX_COUNTED: u64 = 100_000;

async fn run_counts(call: ToolCall<'_>) -> AppResult<serde_json::Value> {
    let a: CountArgs = args(&call)?;
    let today = Utc::now().date_naive();
    let (from, to) = period(a.from, a.to, today)?;
    let within = |d: NaiveDate| from <= d && d <= to;
    let mut by_status: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let (mut created, mut submitted, mut delivered, mut open_now, mut late_now) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut truncated = false;
    require_member(call.ctx)?;
    for side in [Party::Practice, Party::Lab] {
        // Status and dates only: no patient is read, so nothing is audited.
        let (rows, more) = orders::standings(call.db, call.ctx, side, MAX_COUNTED).await?;
        truncated |= more;
        for r in rows {
            if within(r.created_at.date_naive()) {
                created += 1;
                *by_status.entry(r.status.as_str()).or_default() += 1;
            }
            if r.submitted_at.is_some_and(|s| within(s.date_naive())) {
                submitted += 1;
            }
            if r.status == OrderStatus::Delivered && within(r.updated_at.date_naive()) {
                delivered += 1;
            }
            if !r.status.finished() {
                open_now += 1;
            }
            let done = r.status.finished()
                || (side == Party::Practice && r.status == OrderStatus::Arrived);
            if !done && r.due_date.is_some_and(|d| d < today) {
                late_now += 1;
            }
        }
    }
    Ok(json!({
        "from": from,
        "to": to,
        "byStatus": by_status,
        "created": created,
        "submitted": submitted,
        "delivered": delivered,
        "openNow": open_now,
        "lateNow": late_now,
        "truncated": truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_period_is_this_month_so_far() {
        let today = day("2026-03-17");
        assert_eq!(
            period(None, None, today).unwrap(),
            (day("2026-03-01"), today)
        );
        assert_eq!(
            period(Some(day("2026-01-01")), Some(day("2026-01-31")), today).unwrap(),
            (day("2026-01-01"), day("2026-01-31"))
        );
        assert!(period(Some(day("2026-02-01")), Some(day("2026-01-31")), today).is_err());
    }

    #[test]
    fn statuses_and_sides_are_read_leniently() {
        assert_eq!(
            parse_statuses(Some(vec!["on hold".into(), "Shipped".into()])).unwrap(),
            Some(vec![OrderStatus::OnHold, OrderStatus::Shipped])
        );
        assert!(parse_statuses(Some(vec!["LOST".into()])).is_err());
        assert_eq!(parse_statuses(Some(vec![])).unwrap(), None);
        assert_eq!(sides(None).unwrap().len(), 2);
        assert_eq!(sides(Some("lab")).unwrap(), vec![Party::Lab]);
        assert!(sides(Some("supplier")).is_err());
    }

    #[test]
    fn the_tools_are_named_and_read_only() {
        let tools = tools();
        let names: Vec<_> = tools.iter().map(|t| t.name).collect();
        assert_eq!(names, ["orders_list", "orders_counts"]);
        assert!(tools.iter().all(|t| t.effect == Effect::Read));
        assert_eq!(tools[0].personal, ["patientName"]);
        for t in &tools {
            assert_eq!((t.parameters)()["type"], "object");
        }
    }
}
