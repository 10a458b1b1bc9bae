//! Backend-neutral schema migrations, plus the PostgreSQL-only security step that turns on
//! row-level security (the tenant guard's second wall).

#![allow(clippy::disallowed_methods)] // migrations build the schema and the RLS wall, below the guard

pub use sea_orm_migration::prelude::*;

mod m0001_tenancy;
mod m0002_tenancy_rls;
mod m0003_backbone;
mod m0004_marketplace;
mod m0005_orders;
mod m0006_lens_orders;
mod m0007_order_files;
mod m0008_inventory;
mod m0009_data_imports;
mod m0010_one_open_count;
mod m0011_payload_versions;
mod m0012_list_indexes;
mod m0013_dcs_job_source;
mod m0014_event_cursors;
mod m0015_active_user_check;
mod m0016_sign_up_requests;
mod m0017_persisted_operations;
mod m0018_assistant;
mod m0019_demand;
mod m0020_purchasing_agent;
mod m0021_analytics;
mod m0022_insights;
mod m0023_plans;
pub mod rls;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_tenancy::Migration),
            Box::new(m0002_tenancy_rls::Migration),
            Box::new(m0003_backbone::Migration),
            Box::new(m0004_marketplace::Migration),
            Box::new(m0005_orders::Migration),
            Box::new(m0006_lens_orders::Migration),
            Box::new(m0007_order_files::Migration),
            Box::new(m0008_inventory::Migration),
            Box::new(m0009_data_imports::Migration),
            Box::new(m0010_one_open_count::Migration),
            Box::new(m0011_payload_versions::Migration),
            Box::new(m0012_list_indexes::Migration),
            Box::new(m0013_dcs_job_source::Migration),
            Box::new(m0014_event_cursors::Migration),
            Box::new(m0015_active_user_check::Migration),
            Box::new(m0016_sign_up_requests::Migration),
            Box::new(m0017_persisted_operations::Migration),
            Box::new(m0018_assistant::Migration),
            Box::new(m0019_demand::Migration),
            Box::new(m0020_purchasing_agent::Migration),
            Box::new(m0021_analytics::Migration),
            Box::new(m0022_insights::Migration),
            Box::new(m0023_plans::Migration),
        ]
    }
}
