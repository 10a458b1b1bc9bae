//! One open stock count per location, and one open discrepancy per (location, product).
//!
//! A count adjusts by counted less what the books said when each product was counted, so
//! two open counts of one location would each apply the same difference. A second open
//! discrepancy of one balance would be a duplicate report. Earlier duplicates are closed
//! first: every open count but the newest of its location is CANCELLED, and every open
//! discrepancy but the newest of its balance is RESOLVED (ids are time-ordered UUIDv7).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let conn = m.get_connection();
        for sql in [
            "UPDATE stock_counts SET status = 'CANCELLED' WHERE status = 'OPEN' AND EXISTS (\
             SELECT 1 FROM stock_counts n WHERE n.company_id = stock_counts.company_id \
             AND n.location_id = stock_counts.location_id AND n.status = 'OPEN' \
             AND n.id > stock_counts.id)",
            "CREATE UNIQUE INDEX ux_stock_counts_one_open ON stock_counts (company_id, location_id) \
             WHERE status = 'OPEN'",
            "UPDATE stock_discrepancies SET status = 'RESOLVED' WHERE status = 'OPEN' AND EXISTS (\
             SELECT 1 FROM stock_discrepancies n WHERE n.company_id = stock_discrepancies.company_id \
             AND n.location_id = stock_discrepancies.location_id \
             AND n.product_id = stock_discrepancies.product_id AND n.status = 'OPEN' \
             AND n.id > stock_discrepancies.id)",
            "CREATE UNIQUE INDEX ux_stock_discrepancies_one_open ON stock_discrepancies \
             (company_id, location_id, product_id) WHERE status = 'OPEN'",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let conn = m.get_connection();
        for sql in [
            "DROP INDEX ux_stock_discrepancies_one_open",
            "DROP INDEX ux_stock_counts_one_open",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
