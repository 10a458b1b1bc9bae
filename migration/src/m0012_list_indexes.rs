//! Every paginated list is one index range at any size. A list is a tenant's rows in id
//! order (`company_id = $1 ORDER BY id LIMIT n`, or a lab's inbox on `lab_company_id`):
//! with an index on the scoping column alone, PostgreSQL reads every row of the tenant and
//! sorts them (10,000 rows from 9,900 pages for one page of a large practice's orders).
//! With `(column, id)` the page is a short forward or backward range scan whatever the
//! tenant's size. Where such an index replaces one on the column alone, the old one goes:
//! the pair serves every look-up the single column did. `tests/tests/plans.rs` reads each
//! list's plan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, scoping column, whether an index on the column alone exists and is replaced).
const LISTS: &[(&str, &str, bool)] = &[
    ("users", "company_id", true),
    ("invitations", "company_id", true),
    ("api_keys", "company_id", true),
    ("jobs", "company_id", true),
    ("webhook_endpoints", "company_id", true),
    ("webhook_deliveries", "company_id", true),
    ("audit_log", "company_id", true),
    ("connections", "requester_company_id", true),
    ("connections", "responder_company_id", true),
    ("catalog_items", "company_id", false),
    ("data_imports", "company_id", true),
    ("patients", "company_id", true),
    ("lens_orders", "company_id", false),
    ("lens_orders", "lab_company_id", true),
    ("products", "company_id", false),
    ("purchase_orders", "company_id", false),
    ("purchase_orders", "supplier_company_id", true),
    ("stock_balances", "company_id", false),
    ("stock_movements", "company_id", false),
    ("stock_discrepancies", "company_id", true),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, col, replaces) in LISTS {
            m.create_index(
                Index::create()
                    .name(format!("ix_{table}_{col}_id"))
                    .table(*table)
                    .col(*col)
                    .col("id")
                    .to_owned(),
            )
            .await?;
            if *replaces {
                m.drop_index(
                    Index::drop()
                        .name(format!("ix_{table}_{col}"))
                        .table(*table)
                        .to_owned(),
                )
                .await?;
            }
        }
        // The directory lists one kind of listed, active company in company order.
        m.drop_index(directory("ix_marketplace_profiles_directory"))
            .await?;
        m.create_index(directory_index(true)).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, col, replaces) in LISTS {
            if *replaces {
                m.create_index(
                    Index::create()
                        .name(format!("ix_{table}_{col}"))
                        .table(*table)
                        .col(*col)
                        .to_owned(),
                )
                .await?;
            }
            m.drop_index(
                Index::drop()
                    .name(format!("ix_{table}_{col}_id"))
                    .table(*table)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_index(directory("ix_marketplace_profiles_directory_company"))
            .await?;
        m.create_index(directory_index(false)).await
    }
}

fn directory(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table("marketplace_profiles")
        .to_owned()
}

/// The directory's index: by kind, listing and status, then (`ordered`) company.
fn directory_index(ordered: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .table("marketplace_profiles")
        .col("company_type")
        .col("listed")
        .col("status");
    if ordered {
        index
            .name("ix_marketplace_profiles_directory_company")
            .col("company_id");
    } else {
        index.name("ix_marketplace_profiles_directory");
    }
    index.to_owned()
}
