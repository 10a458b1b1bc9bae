use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A company's cached answer to a question a model answered: found again by the
/// normalised question's digest, and used only while the data its tools read is
/// unchanged (`fingerprint`). Never shared between companies.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_answers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub company_id: Uuid,
    /// SHA-256 of the normalised question.
    pub question_hash: String,
    /// The tool calls the answer was built from (JSON: name and arguments), run again to
    /// see whether their data changed.
    #[sea_orm(column_type = "Text")]
    pub tool_calls: String,
    /// SHA-256 of what those calls returned.
    pub fingerprint: String,
    #[sea_orm(column_type = "Text")]
    pub answer: String,
    pub provider: String,
    pub model: String,
    pub hits: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        Policy::owned(Column::CompanyId)
    }
}
