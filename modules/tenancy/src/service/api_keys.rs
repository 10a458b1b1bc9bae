//! API keys for partners: the secret is shown once; only its digest is kept.

use super::{require_role, require_user_role, validate};
use crate::tokens::{digest, random_secret};
use ils_common::plan;
use ils_entity::{api_key, api_key_operation_list, operation_list};
use ils_kernel::pagination::{Page, PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Db, Role, TenantContext};
use sea_orm::{ActiveValue::Set, IntoActiveModel};
use uuid::Uuid;

/// Every key starts with this, so a leaked one is easy to find in code and logs.
pub const KEY_PREFIX: &str = "ils_";

pub async fn create(
    db: &Db,
    ctx: &TenantContext,
    name: &str,
    role: Role,
    persisted_only: bool,
    operation_lists: &[String],
) -> AppResult<(api_key::Model, String)> {
    let name = validate::text(name, "input.name", 100)?;
    let creator = ctx
        .responsible_user()
        .ok_or_else(AppError::unauthenticated)?;
    let secret = format!("{KEY_PREFIX}{}", random_secret());
    let tx = db.tenant(ctx).await?;
    let company = require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    {
        use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
        let active = async {
            Ok(tx
                .select::<api_key::Entity>()
                .filter(api_key::Column::RevokedAt.is_null())
                .count(tx.conn())
                .await?)
        };
        plan::allow_one_more(&tx, company, plan::Counted::ApiKeys, active).await?;
    }
    if !operation_lists.is_empty() {
        plan::require(&tx, company, plan::Feature::PartnerOperations).await?;
    }
    let key = tx
        .insert(api_key::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: sea_orm::ActiveValue::NotSet,
            name: Set(name),
            role: Set(role.as_str().into()),
            persisted_only: Set(persisted_only),
            key_prefix: Set(secret.chars().take(KEY_PREFIX.len() + 6).collect()),
            key_hash: Set(digest(&secret)),
            created_by: Set(creator),
            created_at: Set(chrono::Utc::now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        })
        .await?;
    grant_lists(&tx, key.id, operation_lists, "input.operationLists").await?;
    tx.emit(
        &crate::events::ApiKeyCreated {
            api_key_id: ils_kernel::id::encode(crate::model::API_KEY, key.id),
            name: key.name.clone(),
            role: key.role.clone(),
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok((key, secret))
}

pub async fn list<T: async_graphql::OutputType>(
    db: &Db,
    ctx: &TenantContext,
    page: PageArgs,
    map: impl Fn(api_key::Model) -> T,
) -> AppResult<Page<T>> {
    let tx = db.read(ctx).await?;
    require_role(&tx, ctx, Role::CompanyAdmin).await?;
    let conn = paginate(
        tx.conn(),
        tx.select::<api_key::Entity>(),
        api_key::Column::Id,
        page,
        |k| k.id,
        map,
    )
    .await?;
    tx.commit().await?;
    Ok(conn)
}

pub async fn revoke(db: &Db, ctx: &TenantContext, id: Uuid) -> AppResult<api_key::Model> {
    let tx = db.tenant(ctx).await?;
    require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    let key = tx.get::<api_key::Entity>(id).await?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut model = key.into_active_model();
    model.revoked_at = Set(Some(chrono::Utc::now()));
    let key = tx.update(model).await?;
    tx.emit(
        &crate::events::ApiKeyRevoked {
            api_key_id: ils_kernel::id::encode(crate::model::API_KEY, key.id),
        },
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(key)
}

/// Replaces the operation lists a key may run (company admins): every ACTIVE version of
/// each named list. A name is the company's own list, or else a platform list.
pub async fn set_operation_lists(
    db: &Db,
    ctx: &TenantContext,
    key_id: Uuid,
    operation_lists: &[String],
) -> AppResult<(api_key::Model, Vec<operation_list::Model>)> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let tx = db.tenant(ctx).await?;
    let company = require_user_role(&tx, ctx, Role::CompanyAdmin).await?;
    if !operation_lists.is_empty() {
        plan::require(&tx, company, plan::Feature::PartnerOperations).await?;
    }
    let key = tx.get::<api_key::Entity>(key_id).await?;
    tx.delete_many::<api_key_operation_list::Entity>()
        .filter(api_key_operation_list::Column::ApiKeyId.eq(key.id))
        .exec(tx.conn())
        .await?;
    let lists = grant_lists(&tx, key.id, operation_lists, "input.lists").await?;
    tx.commit().await?;
    Ok((key, lists))
}

/// The operation lists granted to `key`, by name.
pub async fn granted_lists(
    db: &Db,
    ctx: &TenantContext,
    key: Uuid,
) -> AppResult<Vec<operation_list::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let tx = db.read(ctx).await?;
    let ids: Vec<Uuid> = tx
        .select::<api_key_operation_list::Entity>()
        .filter(api_key_operation_list::Column::ApiKeyId.eq(key))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|g| g.list_id)
        .collect();
    let lists = tx
        .select::<operation_list::Entity>()
        .filter(operation_list::Column::Id.is_in(ids))
        .order_by_asc(operation_list::Column::Name)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(lists)
}

/// Grants `key` the lists named `names` (the company's own list of that name, or else the
/// platform's); an unknown name is BAD_USER_INPUT on `field.N`, and nothing is granted.
async fn grant_lists(
    tx: &ils_kernel::Tx,
    key: Uuid,
    names: &[String],
    field: &str,
) -> AppResult<Vec<operation_list::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    if names.is_empty() {
        return Ok(vec![]);
    }
    if names.len() > 50 {
        return Err(AppError::bad_input(field, "at most 50 operation lists"));
    }
    let visible = tx
        .select::<operation_list::Entity>()
        .filter(operation_list::Column::Name.is_in(names.iter().map(|n| n.trim().to_owned())))
        .all(tx.conn())
        .await?;
    let mut chosen: Vec<operation_list::Model> = vec![];
    for (i, name) in names.iter().enumerate() {
        let name = name.trim();
        let own = visible
            .iter()
            .find(|l| l.name == name && l.company_id.is_some());
        let platform = visible
            .iter()
            .find(|l| l.name == name && l.company_id.is_none());
        let Some(list) = own.or(platform) else {
            return Err(AppError::bad_input(
                &format!("{field}.{i}"),
                format!("no operation list is named {name:?}"),
            ));
        };
        if !chosen.iter().any(|c| c.id == list.id) {
            chosen.push(list.clone());
        }
    }
    let now = chrono::Utc::now();
    tx.insert_many(
        chosen
            .iter()
            .map(|l| api_key_operation_list::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: sea_orm::ActiveValue::NotSet,
                api_key_id: Set(key),
                list_id: Set(l.id),
                created_at: Set(now),
            })
            .collect(),
    )
    .await?;
    Ok(chosen)
}
