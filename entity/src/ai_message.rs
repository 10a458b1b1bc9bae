use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// One message of a conversation: the person's question, a tool call the assistant made
/// with its result, or the assistant's answer (with who answered and what it cost).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    pub user_id: Uuid,
    pub conversation_id: Uuid,
    /// USER, ASSISTANT or TOOL.
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// A TOOL message: the tool called, its arguments (JSON) and whether it failed.
    pub tool_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub tool_arguments: Option<String>,
    pub tool_failed: bool,
    /// An ASSISTANT message: the provider and model that answered (`builtin`, `cache`).
    pub provider: Option<String>,
    pub model: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// What answering cost, in micro-units of the price table's currency (USD).
    pub cost_micros: i64,
    /// An ASSISTANT message written from patient data sent to a model while the company
    /// shared it: withheld from models once it no longer does.
    pub patient_data: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::private(Column::CompanyId, Column::UserId)
    }
}
