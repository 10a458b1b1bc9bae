use crate::policy::{Guarded, Policy};
use sea_orm::entity::prelude::*;

/// A monthly release of market insights: every published figure (after disclosure control
/// and noise) and the peer distributions, as JSON, fixed once built. The platform's own
/// rows (no company owns one); companies read them for their peer figures.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "insight_releases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Always null: the platform's row.
    pub company_id: Option<Uuid>,
    /// The first day of the month it covers.
    #[sea_orm(unique)]
    pub month: Date,
    /// The privacy budget the release spent.
    pub epsilon: f64,
    /// Companies that contributed.
    pub contributors: i32,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Guarded for Entity {
    fn policy() -> Policy<Self> {
        crate::policy::platform_or_owned(Column::CompanyId)
    }
}
