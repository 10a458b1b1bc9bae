//! Webhook endpoints, as company admins register, change and delete them.

use super::signing::new_secret;
use super::ssrf::check_url;
use super::{WebhookSettings, admin_tx};
use chrono::Utc;
use ils_entity::{webhook_delivery, webhook_endpoint};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext, Tx};
use sea_orm::{ActiveValue::Set, ColumnTrait, IntoActiveModel, QueryFilter};
use uuid::Uuid;

/// A receiver to register.
pub struct NewEndpoint {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// Fields to change; omitted ones stay.
pub struct EndpointChange {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// A change the caller may make and whose fields were checked ([`check_change`]).
pub struct CheckedChange(EndpointChange);

/// The event types an endpoint subscribes to, checked like the `events` subscription's.
fn check_types(types: &[String]) -> AppResult<Vec<String>> {
    ils_kernel::events::check_patterns(types, "input.eventTypes")?;
    Ok(types.to_vec())
}

fn check_description(description: &str) -> AppResult<()> {
    if description.chars().count() > 500 {
        return Err(AppError::bad_input(
            "input.description",
            "at most 500 characters",
        ));
    }
    Ok(())
}

/// The company's endpoints.
pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    tenant: &TenantContext,
    page: PageArgs,
    map: impl Fn(ils_entity::webhook_endpoint::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = admin_tx(db, tenant).await?;
    let conn = paginate(
        tx.conn(),
        tx.select::<webhook_endpoint::Entity>(),
        webhook_endpoint::Column::Id,
        page,
        |e| e.id,
        map,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

/// The endpoints among `ids` that the caller may see (a company admin: their company's);
/// none for anybody else.
pub async fn by_ids(
    tx: &Tx,
    tenant: &TenantContext,
    ids: Vec<Uuid>,
) -> AppResult<Vec<webhook_endpoint::Model>> {
    if ids.is_empty()
        || ils_kernel::authz::require_role(tx, tenant, Role::CompanyAdmin)
            .await
            .is_err()
    {
        return Ok(vec![]);
    }
    tx.find_many::<webhook_endpoint::Entity>(ids).await
}

/// Registers a receiver; returns it with its signing secret.
pub async fn create(
    db: &Db,
    tenant: &TenantContext,
    settings: &WebhookSettings,
    new: NewEndpoint,
) -> AppResult<(webhook_endpoint::Model, String)> {
    // Authorised before the URL is looked at: the check may ask DNS, which must not be
    // an oracle for callers who may not manage webhooks, and no transaction stays open
    // across the lookup.
    let tx = admin_tx(db, tenant).await?;
    tx.commit().await?;
    let url = check_url(&new.url, settings.allow_private).await?;
    let types = check_types(&new.event_types)?;
    let description = new.description.unwrap_or_default();
    check_description(&description)?;
    let secret = new_secret();
    let now = Utc::now();
    let tx = admin_tx(db, tenant).await?;
    if let Some(company) = tenant.company_id() {
        use sea_orm::PaginatorTrait;
        let endpoints = async {
            Ok(tx
                .select::<webhook_endpoint::Entity>()
                .count(tx.conn())
                .await?)
        };
        ils_common::plan::allow_one_more(
            &tx,
            company,
            ils_common::plan::Counted::WebhookEndpoints,
            endpoints,
        )
        .await?;
    }
    let endpoint = tx
        .insert(webhook_endpoint::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            url: Set(url),
            description: Set(description),
            event_types: Set(serde_json::to_string(&types).unwrap_or_default()),
            secret: Set(secret.clone()),
            enabled: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    tx.commit().await?;
    Ok((endpoint, secret))
}

/// Authorises the caller and checks a change's fields, before the endpoint is named.
pub async fn check_change(
    db: &Db,
    tenant: &TenantContext,
    settings: &WebhookSettings,
    change: EndpointChange,
) -> AppResult<CheckedChange> {
    // Authorised before validating, as in `create`.
    let tx = admin_tx(db, tenant).await?;
    tx.commit().await?;
    let url = match &change.url {
        Some(u) => Some(check_url(u, settings.allow_private).await?),
        None => None,
    };
    let event_types = change.event_types.as_deref().map(check_types).transpose()?;
    if let Some(d) = &change.description {
        check_description(d)?;
    }
    Ok(CheckedChange(EndpointChange {
        url,
        event_types,
        ..change
    }))
}

/// Applies a checked change to an endpoint.
pub async fn update(
    db: &Db,
    tenant: &TenantContext,
    endpoint_id: Uuid,
    change: CheckedChange,
) -> AppResult<webhook_endpoint::Model> {
    let CheckedChange(change) = change;
    change_endpoint(db, tenant, endpoint_id, |am| {
        if let Some(u) = change.url {
            am.url = Set(u);
        }
        if let Some(t) = change.event_types {
            am.event_types = Set(serde_json::to_string(&t).unwrap_or_default());
        }
        if let Some(d) = change.description {
            am.description = Set(d);
        }
        if let Some(e) = change.enabled {
            am.enabled = Set(e);
        }
    })
    .await
}

/// Enables or disables deliveries to an endpoint.
pub async fn set_enabled(
    db: &Db,
    tenant: &TenantContext,
    endpoint_id: Uuid,
    enabled: bool,
) -> AppResult<webhook_endpoint::Model> {
    change_endpoint(db, tenant, endpoint_id, |am| am.enabled = Set(enabled)).await
}

/// Replaces the signing secret; returns the endpoint and the new secret.
pub async fn rotate_secret(
    db: &Db,
    tenant: &TenantContext,
    endpoint_id: Uuid,
) -> AppResult<(webhook_endpoint::Model, String)> {
    let secret = new_secret();
    let endpoint = change_endpoint(db, tenant, endpoint_id, |am| {
        am.secret = Set(secret.clone())
    })
    .await?;
    Ok((endpoint, secret))
}

/// Deletes an endpoint and its delivery log.
pub async fn delete(db: &Db, tenant: &TenantContext, endpoint_id: Uuid) -> AppResult<()> {
    let tx = admin_tx(db, tenant).await?;
    tx.get::<webhook_endpoint::Entity>(endpoint_id).await?;
    tx.delete_many::<webhook_delivery::Entity>()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .exec(tx.conn())
        .await
        .map_err(AppError::from)?;
    tx.delete_many::<webhook_endpoint::Entity>()
        .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
        .exec(tx.conn())
        .await
        .map_err(AppError::from)?;
    tx.commit().await?;
    Ok(())
}

/// Loads an endpoint in a company admin's transaction, applies `change`, stamps
/// `updated_at` and saves it.
async fn change_endpoint(
    db: &Db,
    tenant: &TenantContext,
    endpoint_id: Uuid,
    change: impl FnOnce(&mut webhook_endpoint::ActiveModel),
) -> AppResult<webhook_endpoint::Model> {
    let tx = admin_tx(db, tenant).await?;
    let mut am = tx
        .get::<webhook_endpoint::Entity>(endpoint_id)
        .await?
        .into_active_model();
    change(&mut am);
    am.updated_at = Set(Utc::now());
    let endpoint = tx.update(am).await?;
    tx.commit().await?;
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_patterns_are_checked() {
        assert!(check_types(&["*".into(), "order.*".into(), "api_key.created".into()]).is_ok());
        for bad in ["", "Order", "a*b", "**", "order.*.x"] {
            assert!(check_types(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_types(&[]).is_err());
    }
}
