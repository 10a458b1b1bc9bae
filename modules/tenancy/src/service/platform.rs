//! The platform operator: every company's registration, and nothing of their data.

use crate::model::{CompanyStatus, CompanyType};
use ils_entity::company;
use ils_kernel::pagination::{Page, PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, TenantContext};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

#[derive(Default)]
pub struct CompanyFilter {
    pub status: Option<CompanyStatus>,
    pub company_type: Option<CompanyType>,
    /// Case-insensitive part of the name.
    pub search: Option<String>,
}

pub async fn companies<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    filter: CompanyFilter,
    page: PageArgs,
    map: impl Fn(company::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = db.read(ctx).await?;
    super::require_platform_admin(&tx, ctx).await?;
    let mut select = tx.select::<company::Entity>();
    if let Some(s) = filter.status {
        select = select.filter(company::Column::Status.eq(s));
    }
    if let Some(t) = filter.company_type {
        select = select.filter(company::Column::CompanyType.eq(t.as_str()));
    }
    if let Some(q) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        let pattern = format!(
            "%{}%",
            q.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        select = select.filter(
            sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(
                sea_orm::sea_query::Expr::col((company::Entity, company::Column::Name)),
            ))
            .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
        );
    }
    let conn = paginate(tx.conn(), select, company::Column::Id, page, |c| c.id, map).await?;
    tx.commit().await?;
    Ok(conn)
}

pub async fn decide(
    db: &Db,
    ctx: &TenantContext,
    id: Uuid,
    approve: bool,
    reason: Option<String>,
) -> AppResult<company::Model> {
    let reason = match (approve, reason) {
        (false, r) => Some(super::validate::text(
            r.as_deref().unwrap_or(""),
            "input.reason",
            1000,
        )?),
        (true, _) => None,
    };
    let tx = db.tenant(ctx).await?;
    super::require_platform_admin(&tx, ctx).await?;
    let company = tx.get::<company::Entity>(id).await?;
    if company.status != CompanyStatus::PendingApproval {
        return Err(AppError::Conflict(format!(
            "this company is {}, not pending approval",
            company.status.as_str()
        )));
    }
    let mut model = company.into_active_model();
    model.status = Set(if approve {
        CompanyStatus::Active
    } else {
        CompanyStatus::Rejected
    });
    model.rejection_reason = Set(reason);
    model.updated_at = Set(chrono::Utc::now());
    let company = tx.update(model).await?;
    if approve {
        let ev = crate::events::CompanyApproved(crate::events::CompanyChange {
            company_id: ils_kernel::id::encode(crate::model::COMPANY, company.id),
        });
        tx.emit(&ev, &[company.id]).await?;
    } else {
        let ev = crate::events::CompanyRejected(crate::events::CompanyChange {
            company_id: ils_kernel::id::encode(crate::model::COMPANY, company.id),
        });
        tx.emit(&ev, &[company.id]).await?;
    }
    tx.commit().await?;
    Ok(company)
}
