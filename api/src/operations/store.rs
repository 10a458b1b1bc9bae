//! Operation lists in the database, through the tenant guard: publishing a version,
//! retiring one, reading them, and what the request path asks (which versions a caller may
//! run, which documents have a hash, how often each ran).

use super::Checked;
use ils_entity::{
    api_key, api_key_operation_list, operation_list, operation_list_version, operation_usage,
    persisted_document,
};
use ils_kernel::authz::{require_platform_admin, require_user_role};
use ils_kernel::{Actor, AppError, AppResult, Db, Role, TenantContext, Tx};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub const ACTIVE: &str = "ACTIVE";
pub const RETIRED: &str = "RETIRED";
/// A version whose documents ran this recently is not retired without `force`.
pub const RECENT_USE: chrono::Duration = chrono::Duration::days(7);
/// Rows per insert statement (SQLite allows 32,766 bound values per statement).
const BATCH: usize = 500;

/// Who may publish: a platform admin (the list is the platform's) or a company admin
/// signed in as a person (the list is the company's).
async fn require_publisher(tx: &Tx, ctx: &TenantContext) -> AppResult<()> {
    if ctx.is_platform_admin() {
        require_platform_admin(tx, ctx).await
    } else {
        require_user_role(tx, ctx, Role::CompanyAdmin)
            .await
            .map(|_| ())
    }
}

/// Who publishes or retires: a caller (a platform admin, for a platform list; a company
/// admin, for the company's list) or the operator at the command line (platform lists).
#[derive(Clone, Copy)]
pub enum Publisher<'a> {
    Caller(&'a TenantContext),
    Operator,
}

impl Publisher<'_> {
    /// A writable transaction for the publisher, its right to publish checked.
    async fn begin(self, db: &Db) -> AppResult<Tx> {
        match self {
            Publisher::Caller(ctx) => {
                let tx = db.tenant(ctx).await?;
                require_publisher(&tx, ctx).await?;
                Ok(tx)
            }
            #[allow(clippy::disallowed_methods)] // the operator's command line sees every list
            Publisher::Operator => db.system().await,
        }
    }

    /// The company whose list is meant (none: the platform's).
    fn company(self) -> Option<Uuid> {
        match self {
            Publisher::Caller(ctx) => ctx.company_id(),
            Publisher::Operator => None,
        }
    }
}

/// Publishes `docs` as the next version of the publisher's list `name` (made on first
/// use), in one transaction: a refused publish stores nothing.
pub async fn publish(
    db: &Db,
    who: Publisher<'_>,
    name: &str,
    docs: &[Checked],
) -> AppResult<(operation_list::Model, operation_list_version::Model)> {
    let tx = who.begin(db).await?;
    let company = who.company();
    let now = chrono::Utc::now();
    let owned = match company {
        Some(c) => operation_list::Column::CompanyId.eq(c),
        None => operation_list::Column::CompanyId.is_null(),
    };
    let list = match tx
        .select::<operation_list::Entity>()
        .filter(operation_list::Column::Name.eq(name))
        .filter(owned)
        .one(tx.conn())
        .await?
    {
        Some(list) => list,
        None => {
            tx.insert(operation_list::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: Set(company),
                name: Set(name.to_owned()),
                created_at: Set(now),
            })
            .await?
        }
    };
    let last = tx
        .select::<operation_list_version::Entity>()
        .filter(operation_list_version::Column::ListId.eq(list.id))
        .order_by_desc(operation_list_version::Column::Version)
        .one(tx.conn())
        .await?
        .map_or(0, |v| v.version);
    let version = tx
        .insert(operation_list_version::ActiveModel {
            id: Set(Uuid::now_v7()),
            list_id: Set(list.id),
            company_id: Set(list.company_id),
            version: Set(last + 1),
            status: Set(ACTIVE.into()),
            document_count: Set(docs.len() as i32),
            published_by: Set(match who {
                Publisher::Caller(ctx) => ctx.responsible_user(),
                Publisher::Operator => None,
            }),
            published_at: Set(now),
            retired_at: Set(None),
        })
        .await?;
    for chunk in docs.chunks(BATCH) {
        tx.insert_many(
            chunk
                .iter()
                .map(|d| persisted_document::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    version_id: Set(version.id),
                    company_id: Set(list.company_id),
                    hash: Set(d.document.id.clone()),
                    name: Set(d.document.name.clone()),
                    kind: Set(d.kind.into()),
                    canonical: Set(d.canonical.clone()),
                    body: Set(d.document.body.clone()),
                    created_at: Set(now),
                })
                .collect(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok((list, version))
}

/// Retires a list version: its documents stop running (unless another ACTIVE version the
/// caller may run holds them). CONFLICT when one of those that stop ran in the last 7
/// days, unless `force`. Platform admins may retire any list's version (the operator's
/// power over what runs); a company admin only the company's own.
pub async fn retire(
    db: &Db,
    who: Publisher<'_>,
    id: Uuid,
    force: bool,
) -> AppResult<operation_list_version::Model> {
    let tx = who.begin(db).await?;
    let version = tx.get::<operation_list_version::Entity>(id).await?;
    // A company admin reads the platform's versions but may not retire them.
    let platform = match who {
        Publisher::Caller(ctx) => ctx.is_platform_admin(),
        Publisher::Operator => true,
    };
    if version.company_id != who.company() && !platform {
        return Err(AppError::forbidden(
            "only platform admins may retire a platform list's version",
        ));
    }
    if version.status == RETIRED {
        tx.commit().await?;
        return Ok(version);
    }
    if !force {
        // The documents that stop with it: those no other ACTIVE version of the list holds.
        let hashes_of = |versions: Vec<Uuid>| {
            tx.select::<persisted_document::Entity>()
                .select_only()
                .column(persisted_document::Column::Hash)
                .filter(persisted_document::Column::VersionId.is_in(versions))
                .into_tuple::<String>()
                .all(tx.conn())
        };
        let others: Vec<Uuid> = tx
            .select::<operation_list_version::Entity>()
            .select_only()
            .column(operation_list_version::Column::Id)
            .filter(operation_list_version::Column::ListId.eq(version.list_id))
            .filter(operation_list_version::Column::Status.eq(ACTIVE))
            .filter(operation_list_version::Column::Id.ne(version.id))
            .into_tuple()
            .all(tx.conn())
            .await?;
        let kept: std::collections::HashSet<String> =
            hashes_of(others).await?.into_iter().collect();
        let hashes: Vec<String> = hashes_of(vec![version.id])
            .await?
            .into_iter()
            .filter(|h| !kept.contains(h))
            .collect();
        let since = chrono::Utc::now() - RECENT_USE;
        let mut used = 0;
        for chunk in hashes.chunks(BATCH) {
            used += tx
                .select::<operation_usage::Entity>()
                .filter(operation_usage::Column::Hash.is_in(chunk.iter().cloned()))
                .filter(operation_usage::Column::LastSeenAt.gt(since))
                .count(tx.conn())
                .await?;
        }
        if used > 0 {
            return Err(AppError::Conflict(format!(
                "version {} ran in the last 7 days ({used} operation and caller pairs); \
                 retire it with force: true to stop it anyway",
                version.version
            )));
        }
    }
    let now = chrono::Utc::now();
    tx.update_many::<operation_list_version::Entity>(
        vec![
            (operation_list_version::Column::Status, Expr::value(RETIRED)),
            (operation_list_version::Column::RetiredAt, Expr::value(now)),
        ],
        Condition::all().add(operation_list_version::Column::Id.eq(version.id)),
    )
    .await?;
    let version = tx.get::<operation_list_version::Entity>(version.id).await?;
    tx.commit().await?;
    Ok(version)
}

/// The lists the caller sees (its company's and the platform's; a platform admin sees
/// all), by name.
pub async fn lists(db: &Db, ctx: &TenantContext) -> AppResult<Vec<operation_list::Model>> {
    ils_kernel::authz::require_member(ctx).or_else(|e| {
        if ctx.is_platform_admin() {
            Ok(Uuid::nil())
        } else {
            Err(e)
        }
    })?;
    let tx = db.read(ctx).await?;
    let lists = tx
        .select::<operation_list::Entity>()
        .order_by_asc(operation_list::Column::Name)
        .order_by_asc(operation_list::Column::Id)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(lists)
}

/// The versions of `list`, newest first.
pub async fn versions(
    db: &Db,
    ctx: &TenantContext,
    list: Uuid,
) -> AppResult<Vec<operation_list_version::Model>> {
    let tx = db.read(ctx).await?;
    let versions = tx
        .select::<operation_list_version::Entity>()
        .filter(operation_list_version::Column::ListId.eq(list))
        .order_by_desc(operation_list_version::Column::Version)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(versions)
}

/// The documents of a version, by name then hash (at most `limit`).
pub async fn documents(
    db: &Db,
    ctx: &TenantContext,
    version: Uuid,
    limit: u64,
) -> AppResult<Vec<persisted_document::Model>> {
    let tx = db.read(ctx).await?;
    let docs = tx
        .select::<persisted_document::Entity>()
        .filter(persisted_document::Column::VersionId.eq(version))
        .order_by_asc(persisted_document::Column::Name)
        .order_by_asc(persisted_document::Column::Hash)
        .limit(limit)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(docs)
}

/// The usage of one document by the callers the reader may see.
pub async fn usage(
    db: &Db,
    ctx: &TenantContext,
    hash: &str,
) -> AppResult<Vec<(operation_usage::Model, Option<api_key::Model>)>> {
    let tx = db.read(ctx).await?;
    let rows = tx
        .select::<operation_usage::Entity>()
        .filter(operation_usage::Column::Hash.eq(hash))
        .order_by_desc(operation_usage::Column::LastSeenAt)
        .limit(100)
        .all(tx.conn())
        .await?;
    // The keys, in one read, for company admins only (as their list is): one role check and
    // one query for every row, not one each.
    let ids: Vec<Uuid> = rows
        .iter()
        .map(|r| r.api_key_id)
        .filter(|id| !id.is_nil())
        .collect();
    let keys = if ids.is_empty()
        || ils_kernel::authz::require_role(&tx, ctx, Role::CompanyAdmin)
            .await
            .is_err()
    {
        vec![]
    } else {
        tx.find_many::<api_key::Entity>(ids).await?
    };
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let key = keys.iter().find(|k| k.id == r.api_key_id).cloned();
            (r, key)
        })
        .collect())
}

/// Where the request path reads what `ctx` may run. An API key reads through its own
/// scope (its grants, its company's lists and the platform's). Everyone else runs the
/// platform's lists only, and may have no company (nobody signed in, platform admins),
/// whose scope sees no list: they read below the guard, every query of theirs filtered
/// to the platform's rows (`company_id IS NULL`), which belong to no tenant.
async fn reader(db: &Db, ctx: &TenantContext) -> AppResult<Tx> {
    match ctx.actor() {
        Actor::ApiKey { .. } => db.read(ctx).await,
        #[allow(clippy::disallowed_methods)] // the platform's own rows, filtered below
        _ => db.system().await,
    }
}

/// No filter for an API key (its scope decides); the platform's rows for anyone else.
fn platform_only(ctx: &TenantContext) -> Condition {
    match ctx.actor() {
        Actor::ApiKey { .. } => Condition::all(),
        _ => Condition::all().add(persisted_document::Column::CompanyId.is_null()),
    }
}

/// The ACTIVE versions `ctx` may run: an API key's granted lists; for anyone else (people
/// signed in, and nobody) the platform's lists.
pub async fn runnable_versions(db: &Db, ctx: &TenantContext) -> AppResult<Vec<Uuid>> {
    let tx = reader(db, ctx).await?;
    let lists: Vec<Uuid> = match ctx.actor() {
        Actor::ApiKey { id, .. } => {
            tx.select::<api_key_operation_list::Entity>()
                .select_only()
                .column(api_key_operation_list::Column::ListId)
                .filter(api_key_operation_list::Column::ApiKeyId.eq(id))
                .into_tuple()
                .all(tx.conn())
                .await?
        }
        _ => {
            tx.select::<operation_list::Entity>()
                .select_only()
                .column(operation_list::Column::Id)
                .filter(operation_list::Column::CompanyId.is_null())
                .into_tuple()
                .all(tx.conn())
                .await?
        }
    };
    let versions = if lists.is_empty() {
        vec![]
    } else {
        tx.select::<operation_list_version::Entity>()
            .select_only()
            .column(operation_list_version::Column::Id)
            .filter(operation_list_version::Column::ListId.is_in(lists))
            .filter(operation_list_version::Column::Status.eq(ACTIVE))
            .into_tuple()
            .all(tx.conn())
            .await?
    };
    tx.commit().await?;
    Ok(versions)
}

/// How a document is looked for: by its ID, or (the safelist) by its canonical form.
#[derive(Clone, Copy)]
pub enum Match<'a> {
    Hash(&'a str),
    Canonical(&'a str),
}

/// The first document among `versions` that `by` picks.
pub async fn find(
    db: &Db,
    ctx: &TenantContext,
    versions: &[Uuid],
    by: Match<'_>,
) -> AppResult<Option<persisted_document::Model>> {
    if versions.is_empty() {
        return Ok(None);
    }
    let picked = match by {
        Match::Hash(hash) => persisted_document::Column::Hash.eq(hash),
        Match::Canonical(text) => persisted_document::Column::Canonical.eq(text),
    };
    let tx = reader(db, ctx).await?;
    let doc = tx
        .select::<persisted_document::Entity>()
        .filter(picked)
        .filter(persisted_document::Column::VersionId.is_in(versions.iter().copied()))
        .filter(platform_only(ctx))
        .one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(doc)
}

/// Every ACTIVE version's documents, for `ils operations check` (system scope).
pub async fn active_documents(
    db: &Db,
) -> AppResult<
    Vec<(
        operation_list::Model,
        operation_list_version::Model,
        persisted_document::Model,
    )>,
> {
    #[allow(clippy::disallowed_methods)] // the operator's check reads every list
    let tx = db.system().await?;
    let lists = tx.select::<operation_list::Entity>().all(tx.conn()).await?;
    let versions = tx
        .select::<operation_list_version::Entity>()
        .filter(operation_list_version::Column::Status.eq(ACTIVE))
        .all(tx.conn())
        .await?;
    let docs = tx
        .select::<persisted_document::Entity>()
        .order_by_asc(persisted_document::Column::Hash)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(docs
        .into_iter()
        .filter_map(|d| {
            let v = versions.iter().find(|v| v.id == d.version_id)?;
            let l = lists.iter().find(|l| l.id == v.list_id)?;
            Some((l.clone(), v.clone(), d))
        })
        .collect())
}

/// Adds counts to the usage rows of the caller `ctx` (an API key, or a person: the nil
/// key): `(hash, runs, errors, last seen)`, in the caller's own scope.
pub async fn add_usage(
    db: &Db,
    ctx: &TenantContext,
    rows: Vec<(String, i64, i64, chrono::DateTime<chrono::Utc>)>,
) -> AppResult<()> {
    let key = match ctx.actor() {
        Actor::ApiKey { id, .. } => id,
        _ => Uuid::nil(),
    };
    let tx = db.tenant(ctx).await?;
    for (hash, runs, errors, seen) in rows {
        let changed = tx
            .update_many::<operation_usage::Entity>(
                vec![
                    (
                        operation_usage::Column::Count,
                        Expr::col(operation_usage::Column::Count).add(runs),
                    ),
                    (
                        operation_usage::Column::Errors,
                        Expr::col(operation_usage::Column::Errors).add(errors),
                    ),
                    (operation_usage::Column::LastSeenAt, Expr::value(seen)),
                ],
                Condition::all()
                    .add(operation_usage::Column::ApiKeyId.eq(key))
                    .add(operation_usage::Column::Hash.eq(hash.clone())),
            )
            .await?;
        if changed == 0 {
            tx.insert(operation_usage::ActiveModel {
                id: Set(Uuid::now_v7()),
                company_id: sea_orm::ActiveValue::NotSet,
                api_key_id: Set(key),
                hash: Set(hash),
                count: Set(runs),
                errors: Set(errors),
                last_seen_at: Set(seen),
            })
            .await?;
        }
    }
    tx.commit().await
}
