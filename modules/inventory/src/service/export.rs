//! Stock levels as a CSV file: every balance of the company (or of one location) with its
//! product and location, written with the `csv` crate, kept in the file store and handed
//! out as a signed download link.

use crate::model::LOCATION;
use crate::service::stock::{Level, parts};
use async_graphql::ID;
use ils_common::catalog::draft::price_to_decimal;
use ils_common::csv_cell;
use ils_entity::stock_balance as balance;
use ils_kernel::authz::require_member;
use ils_kernel::files::{Exported, Files};
use ils_kernel::{AppError, AppResult, Db, TenantContext, id};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};

/// The CSV text of these levels, header first; money as exact decimals. Text cells (SKU,
/// name, location, currency) are neutralised against spreadsheet formulas
/// (`ils_common::csv_cell`); numeric cells are numbers and stay as they are.
pub fn csv_of(levels: &[Level]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "sku",
        "name",
        "location",
        "on_hand",
        "reserved",
        "available",
        "average_cost",
        "value",
        "currency",
        "low",
    ])?;
    for l in levels {
        let avg = price_to_decimal(l.row.avg_cost);
        let (sku, name, currency) = l
            .product
            .as_ref()
            .map(|p| (p.sku.as_str(), p.name.as_str(), p.currency.as_str()))
            .unwrap_or(("", "", ""));
        let location = l.location.as_ref().map(|x| x.name.as_str()).unwrap_or("");
        w.write_record([
            csv_cell::text(sku).into_owned(),
            csv_cell::text(name).into_owned(),
            csv_cell::text(location).into_owned(),
            l.row.on_hand.to_string(),
            l.row.reserved.to_string(),
            (l.row.on_hand - l.row.reserved).to_string(),
            avg.to_string(),
            avg.checked_mul(Decimal::from(l.row.on_hand))
                .map(|v| v.to_string())
                .unwrap_or_default(),
            csv_cell::text(currency).into_owned(),
            l.row.low.to_string(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

/// Writes the company's stock levels (of one location, or all) as a CSV file in `files`
/// and returns where it is and a link to download it.
pub async fn stock_levels(
    db: &Db,
    ctx: &TenantContext,
    files: &Files,
    location_id: Option<&ID>,
) -> AppResult<Exported> {
    let me = require_member(ctx)?;
    let tx = db.tenant(ctx).await?;
    let mut select = tx
        .select::<balance::Entity>()
        .order_by_asc(balance::Column::Id);
    if let Some(l) = location_id {
        let location = id::decode(LOCATION, l, "input.locationId")?;
        // Another company's location (or none) is NOT_FOUND, as every other ID is; an
        // empty file would say it exists and holds nothing.
        tx.get::<ils_entity::stock_location::Entity>(location)
            .await?;
        select = select.filter(balance::Column::LocationId.eq(location));
    }
    let balances = select.all(tx.conn()).await?;
    // Every product and location of the company, not a list of ids: the file may name
    // any number of them.
    let parts = parts(&tx, None).await?;
    tx.commit().await?;
    let levels: Vec<Level> = balances
        .into_iter()
        .map(|row| {
            let mut level = Level {
                row,
                product: None,
                location: None,
            };
            level.attach(&parts);
            level
        })
        .collect();
    let text = csv_of(&levels).map_err(|e| AppError::internal(format!("csv: {e}")))?;
    let file_name = format!("stock-{}.csv", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    files
        .export("stock-exports", me, file_name, text, levels.len() as i64)
        .await
}
