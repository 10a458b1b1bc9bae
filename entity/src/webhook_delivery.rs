use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

crate::string_enum!(
    /// Where a webhook delivery is: being tried, accepted, or given up.
    WebhookDeliveryStatus {
        /// Waiting for its first attempt (or, after `redeliverWebhook`, for the next one).
        Pending = "PENDING",
        /// The endpoint accepted it (answered 2xx).
        Delivered = "DELIVERED",
        /// The last attempt failed; it will be retried.
        Failed = "FAILED",
        /// Every attempt failed; `redeliverWebhook` sends it again.
        Dead = "DEAD",
    }
);

/// One event sent (or being sent) to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// The exact body that is POSTed.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub status: WebhookDeliveryStatus,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
