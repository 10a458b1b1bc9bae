use sea_orm::entity::prelude::*;

/// The outbox: a domain event recorded in the same transaction as the write that caused it,
/// delivered at least once after commit (subscriptions, webhooks, handler jobs).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_type: String,
    /// The company whose action caused the event, when a company acted.
    pub company_id: Option<Uuid>,
    /// JSON array of the company ids allowed to see the event.
    #[sea_orm(column_type = "Text")]
    pub audience: String,
    /// Only the audience's company admins may see it (team and credential events).
    pub admins_only: bool,
    /// The event's JSON payload.
    #[sea_orm(column_type = "Text")]
    pub data: String,
    /// The version of the payload's shape (its serde type's `VERSION`).
    pub version: i32,
    pub occurred_at: DateTimeUtc,
    pub dispatched_at: Option<DateTimeUtc>,
    /// Its place in dispatch order (commit order): what a subscriber's cursor names.
    /// Given at dispatch; none before.
    pub seq: Option<i64>,
    /// When the bus took it for live subscribers; until then the dispatcher tries again.
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
