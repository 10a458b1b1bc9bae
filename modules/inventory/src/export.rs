//! Stock levels as a CSV file: every balance of the company (or of one location) with its
//! product and location, written with the `csv` crate, kept in the file store and handed
//! out as a signed download link.

use crate::stock::StockLevel;
use async_graphql::{Context, ID, Object, Result, SimpleObject};
use bytes::Bytes;
use ils_common::catalog::draft::price_to_decimal;
use ils_entity::{product, stock_balance as balance, stock_location as location};
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::{AppError, id, request_parts};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

/// How long a download link stays good.
const LINK_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(SimpleObject)]
pub struct StockExport {
    pub file_name: String,
    /// Rows written (one per product and location).
    pub rows: i64,
    /// Where the file is kept in the file store.
    pub stored_as: String,
    /// A link to download it (good for 15 minutes, no login needed).
    pub download_url: String,
}

/// The CSV text of these levels, header first; money as exact decimals.
pub fn csv_of(levels: &[StockLevel]) -> Result<String, csv::Error> {
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
        w.write_record([
            sku.to_owned(),
            name.to_owned(),
            l.location
                .as_ref()
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            l.row.on_hand.to_string(),
            l.row.reserved.to_string(),
            (l.row.on_hand - l.row.reserved).to_string(),
            avg.to_string(),
            avg.checked_mul(Decimal::from(l.row.on_hand))
                .map(|v| v.to_string())
                .unwrap_or_default(),
            currency.to_owned(),
            l.row.low.to_string(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Writes your stock levels (of one location, or all) as a CSV file and returns a link
    /// to download it.
    async fn export_stock_levels(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
    ) -> Result<StockExport> {
        let (tenant, db) = request_parts(ctx)?;
        let me = require_member(tenant)?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        let tx = db.tenant(tenant).await?;
        let mut select = tx
            .select::<balance::Entity>()
            .order_by_asc(balance::Column::Id);
        if let Some(l) = &location_id {
            select = select.filter(balance::Column::LocationId.eq(id::decode(
                crate::locations::LOCATION,
                l,
                "locationId",
            )?));
        }
        let balances = select.all(tx.conn()).await.map_err(AppError::from)?;
        let products: HashMap<Uuid, product::Model> = tx
            .select::<product::Entity>()
            .all(tx.conn())
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let locations: HashMap<Uuid, location::Model> = tx
            .select::<location::Entity>()
            .all(tx.conn())
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        tx.commit().await?;
        let levels: Vec<StockLevel> = balances
            .into_iter()
            .map(|row| StockLevel {
                product: products.get(&row.product_id).cloned(),
                location: locations.get(&row.location_id).cloned(),
                row,
            })
            .collect();
        let text = csv_of(&levels).map_err(|e| AppError::internal(format!("csv: {e}")))?;
        let file_name = format!("stock-{}.csv", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
        let key = format!("stock-exports/{me}/{}/{file_name}", Uuid::now_v7());
        files.put(&key, Bytes::from(text)).await?;
        Ok(StockExport {
            file_name,
            rows: levels.len() as i64,
            download_url: files.link(&key, LINK_TTL)?,
            stored_as: key,
        })
    }
}
