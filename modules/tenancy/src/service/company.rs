//! The acting company's own profile.

use super::{require_role, validate};
use ils_entity::company;
use ils_kernel::{AppResult, Db, Role, TenantContext};
use sea_orm::{ActiveValue::Set, IntoActiveModel};

/// A partial update: `None` leaves a field as it is, `Some("")` clears an optional one.
#[derive(Default)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub opening_hours: Option<String>,
}

pub async fn update_profile(
    db: &Db,
    ctx: &TenantContext,
    change: ProfileChange,
) -> AppResult<company::Model> {
    let tx = db.tenant(ctx).await?;
    let company_id = require_role(&tx, ctx, Role::CompanyAdmin).await?;
    let current = tx.get::<company::Entity>(company_id).await?;
    let mut model = current.into_active_model();
    if let Some(name) = change.name {
        model.name = Set(validate::text(&name, "input.name", 200)?);
    }
    if let Some(a) = change.address {
        model.address = Set(validate::optional_text(Some(&a), "input.address", 500)?);
    }
    if let Some(p) = change.phone {
        model.phone = Set(validate::phone(Some(&p), "input.phone")?);
    }
    if let Some(w) = change.website {
        model.website = Set(validate::website(Some(&w), "input.website")?);
    }
    if let Some(h) = change.opening_hours {
        model.opening_hours = Set(validate::optional_text(
            Some(&h),
            "input.openingHours",
            1000,
        )?);
    }
    model.updated_at = Set(chrono::Utc::now());
    let company = tx.update(model).await?;
    tx.emit(
        &crate::events::CompanyUpdated(crate::events::CompanyChange {
            company_id: ils_kernel::id::encode(crate::model::COMPANY, company.id),
        }),
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(company)
}
