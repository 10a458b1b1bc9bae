//! When a product's stock counts as low.

use ils_entity::{product, stock_balance as balance};
use ils_kernel::{AppResult, Tx};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};

/// The available stock at or below which a product is low: the larger of its reorder
/// point and its minimum (none: never low).
pub fn threshold_of(p: &product::Model) -> Option<i64> {
    Ord::max(p.reorder_point, p.min_quantity)
}

/// Re-marks a product's balances low or not after its reorder settings changed (no event:
/// the event is for stock crossing the threshold, not the threshold moving).
pub async fn refresh_low(tx: &Tx, p: &product::Model) -> AppResult<()> {
    let threshold = threshold_of(p);
    let low: SimpleExpr = match threshold {
        Some(t) => Expr::col(balance::Column::OnHand)
            .sub(Expr::col(balance::Column::Reserved))
            .lte(t),
        None => Expr::value(false),
    };
    tx.update_many::<balance::Entity>(
        vec![(balance::Column::Low, low)],
        balance::Column::ProductId.eq(p.id),
    )
    .await?;
    Ok(())
}
