//! A company's stock position for reordering, as planning and the purchasing agent read
//! it: available stock (balances, never the ledger) and what open purchase orders have
//! not delivered yet, per product over all locations.

use crate::model::PurchaseOrderStatus;
use ils_entity::stock_balance as balance;
use ils_kernel::{AppResult, Tx};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

/// Available stock per product over all locations (balances, not the ledger).
pub(crate) async fn available(tx: &Tx) -> AppResult<HashMap<Uuid, i64>> {
    let rows: Vec<(Uuid, i64, i64)> = tx
        .select::<balance::Entity>()
        .select_only()
        .column(balance::Column::ProductId)
        .column(balance::Column::OnHand)
        .column(balance::Column::Reserved)
        .into_tuple()
        .all(tx.conn())
        .await?;
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    for (p, on, res) in rows {
        *out.entry(p).or_default() += on - res;
    }
    Ok(out)
}

/// Units on order per product: what open purchase orders (submitted, acknowledged, partly
/// received) of the company have not delivered yet.
pub(crate) async fn on_order(tx: &Tx, me: Uuid) -> AppResult<HashMap<Uuid, i64>> {
    use PurchaseOrderStatus as S;
    use ils_entity::{purchase_order as po, purchase_order_line as line};
    let open: Vec<Uuid> = tx
        .select::<po::Entity>()
        .select_only()
        .column(po::Column::Id)
        .filter(po::Column::CompanyId.eq(me))
        .filter(po::Column::Status.is_in([S::Submitted, S::Acknowledged, S::PartiallyReceived]))
        .into_tuple()
        .all(tx.conn())
        .await?;
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    if open.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Uuid, i64, i64)> = tx
        .select::<line::Entity>()
        .select_only()
        .column(line::Column::ProductId)
        .column(line::Column::Quantity)
        .column(line::Column::ReceivedQuantity)
        .filter(line::Column::OrderId.is_in(open))
        .into_tuple()
        .all(tx.conn())
        .await?;
    for (p, ordered, received) in rows {
        *out.entry(p).or_default() += (ordered - received).max(0);
    }
    Ok(out)
}
