//! A company's plan: asking for another (company admins), setting it and the company's
//! own rate budgets (platform admins). What each plan includes is `ils_common::plan`'s
//! table. Moving to a smaller plan keeps every row: only new use beyond the smaller plan
//! is refused (`PLAN_LIMIT`).

use super::{require_platform_admin, require_user_role};
use crate::model::{CompanyType, Plan};
use ils_common::plan::Overrides;
use ils_entity::company;
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use uuid::Uuid;

/// Whether a company of `kind` may be on `plan`: the free plan is for practices.
pub fn available(kind: CompanyType, plan: Plan) -> bool {
    plan != Plan::FreeEcp || kind == CompanyType::Ecp
}

/// `BAD_USER_INPUT` on `input.plan` unless company `c` may be on `plan`.
fn may_be_on(c: &company::Model, plan: Plan) -> AppResult<()> {
    let kind = CompanyType::parse(&c.company_type)
        .ok_or_else(|| AppError::internal(format!("unknown company type {}", c.company_type)))?;
    if available(kind, plan) {
        return Ok(());
    }
    Err(AppError::bad_input(
        "input.plan",
        format!("the {} plan is for eye-care practices", plan.as_str()),
    ))
}

/// What `requestPlanChange` did.
pub enum Requested {
    /// A smaller plan: the company is on it now.
    Changed(company::Model),
    /// A bigger plan: asked for, until a platform admin sets it.
    Pending(company::Model),
}

/// A company admin asks for `plan`: a smaller plan applies at once (nothing is lost:
/// only new use beyond it is refused); a bigger one waits for a platform admin
/// (`setCompanyPlan`). Asking for the plan the company is on withdraws a pending request.
pub async fn request_change(db: &Db, ctx: &TenantContext, plan: Plan) -> AppResult<Requested> {
    let tx = db.tenant(ctx).await?;
    // A person's choice: API keys, whatever their role, cannot change the plan.
    let company_id = require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    let current = tx.get::<company::Entity>(company_id).await?;
    may_be_on(&current, plan)?;
    let on = Plan::parse(&current.plan).unwrap_or(Plan::FreeEcp);
    let mut model = current.into_active_model();
    let bigger = plan == Plan::Full && on == Plan::FreeEcp;
    if bigger {
        model.requested_plan = Set(Some(plan.as_str().into()));
    } else {
        model.plan = Set(plan.as_str().into());
        model.requested_plan = Set(None);
    }
    model.updated_at = Set(chrono::Utc::now());
    let company = tx.update(model).await?;
    announce(&tx, company.id).await?;
    tx.commit().await?;
    Ok(if bigger {
        Requested::Pending(company)
    } else {
        Requested::Changed(company)
    })
}

/// A platform admin sets a company's plan (and clears what it asked for).
pub async fn set_plan(
    db: &Db,
    ctx: &TenantContext,
    id: Uuid,
    plan: Plan,
) -> AppResult<company::Model> {
    let tx = db.tenant(ctx).await?;
    require_platform_admin(&tx, ctx).await?;
    let current = tx.get::<company::Entity>(id).await?;
    may_be_on(&current, plan)?;
    let mut model = current.into_active_model();
    model.plan = Set(plan.as_str().into());
    model.requested_plan = Set(None);
    model.updated_at = Set(chrono::Utc::now());
    let company = tx.update(model).await?;
    announce(&tx, company.id).await?;
    tx.commit().await?;
    Ok(company)
}

/// A platform admin gives a company rate budgets other than its plan's (empty: the
/// plan's again).
pub async fn set_rate_limits(
    db: &Db,
    ctx: &TenantContext,
    id: Uuid,
    overrides: Overrides,
) -> AppResult<company::Model> {
    for (field, b) in [
        ("input.apiKey", overrides.api_key),
        ("input.user", overrides.user),
        ("input.company", overrides.company),
    ] {
        if let Some(b) = b
            && (b.requests_per_minute == 0 || b.cost_per_minute == 0)
        {
            return Err(AppError::bad_input(
                field,
                "a budget's requests and cost a minute must be positive",
            ));
        }
    }
    let tx = db.tenant(ctx).await?;
    require_platform_admin(&tx, ctx).await?;
    let current = tx.get::<company::Entity>(id).await?;
    let mut model = current.into_active_model();
    model.rate_overrides =
        Set((!overrides.is_empty()).then(|| serde_json::to_string(&overrides).unwrap_or_default()));
    model.updated_at = Set(chrono::Utc::now());
    let company = tx.update(model).await?;
    announce(&tx, company.id).await?;
    tx.commit().await?;
    Ok(company)
}

/// `company.updated` to the company: every replica's rate limiter reads its budgets again.
async fn announce(tx: &Tx, company: Uuid) -> AppResult<()> {
    tx.emit(
        &crate::events::CompanyUpdated(crate::events::CompanyChange {
            company_id: ils_kernel::id::encode(crate::model::COMPANY, company),
        }),
        &[company],
    )
    .await?;
    Ok(())
}
