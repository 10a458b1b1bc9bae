use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where an import stands: QUEUED, then RUNNING, then COMPLETED or FAILED.
    ImportStatus {
        /// The file was checked and stored; the import waits for a worker.
        Queued = "QUEUED",
        /// Rows are being imported, batch by batch (`processedRows` grows).
        Running = "RUNNING",
        /// Every row was processed; rows that could not be imported are in `errors`.
        Completed = "COMPLETED",
        /// The import stopped as a whole (`failure` says why); rows of batches already
        /// committed stay imported.
        Failed = "FAILED",
    }
);

impl ImportStatus {
    pub fn finished(self) -> bool {
        matches!(self, ImportStatus::Completed | ImportStatus::Failed)
    }
}

/// One CSV upload to import (a supplier's catalog, a company's products) and the
/// background job's progress through it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    /// What the file is imported into: CATALOG | PRODUCTS.
    pub target: String,
    pub file_name: String,
    /// Where the uploaded file is kept (object store key).
    pub object_key: String,
    pub byte_size: i64,
    pub status: ImportStatus,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created_count: i32,
    pub updated_count: i32,
    pub unchanged_count: i32,
    pub error_count: i32,
    /// JSON array of {row, column, message}, the first 1,000.
    #[sea_orm(column_type = "Text")]
    pub errors: String,
    /// Why the whole import failed, if it did.
    pub failure: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
