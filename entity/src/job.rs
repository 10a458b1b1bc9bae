use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A durable background job, enqueued in the transaction of the write that needs it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The company the job works for; none for platform-wide work.
    pub company_id: Option<Uuid>,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// The version of the payload's shape (its serde type's `VERSION`).
    pub version: i32,
    /// QUEUED, RUNNING, SUCCEEDED, DEAD or DISCARDED.
    pub state: String,
    /// Higher runs first.
    pub priority: i32,
    pub run_at: DateTimeUtc,
    pub attempts: i32,
    pub max_attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub locked_by: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Company admins see their company's jobs; platform admins see every job.
impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId).with_platform()
    }
}
