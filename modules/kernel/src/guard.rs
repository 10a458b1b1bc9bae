//! The tenant guard: the only door from module code to tenant tables.
//!
//! Every unit of work is a transaction (`Tx`) opened for a `Scope`. Reads, updates and
//! deletes get the scope's filter from the entity's `Policy`; inserts get the owner column
//! from the scope. On PostgreSQL the transaction also switches to the application role and
//! sets the scope as transaction-local settings, so row-level security enforces the same
//! rule a second time (one statement per transaction, whatever it then runs).
#![allow(clippy::disallowed_methods)] // the one place allowed to call SeaORM directly

use crate::policy::Guarded;
use crate::{AppError, AppResult, TenantContext};
use sea_orm::sea_query::{Expr, IntoCondition};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, DeleteMany, IntoActiveModel, QueryFilter,
    Related, Select, SelectTwo, Statement, TransactionTrait, UpdateMany, Value,
};
use sea_orm::{Iterable, PrimaryKeyToColumn};
use uuid::Uuid;

/// The database, as the modules see it: it only opens guarded transactions.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// On PostgreSQL, the role guarded transactions run as (no BYPASSRLS).
    app_role: Option<String>,
}

/// What one transaction may see.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub company: Option<Uuid>,
    pub user: Option<Uuid>,
    /// A credential being looked up (an email, a token digest): only rows that carry it.
    pub lookup: Option<String>,
    pub platform: bool,
    /// Sees everything: for the command line, seeding and cross-tenant workers. Reached only
    /// through `Db::system`, which clippy forbids outside the places that say why.
    system: bool,
}

impl Scope {
    pub fn of(ctx: &TenantContext) -> Scope {
        Scope {
            company: ctx.company_id,
            // Only a signed-in user has "own rows"; an API key acts for its company alone.
            user: ctx.user_id(),
            lookup: None,
            platform: ctx.platform_admin,
            system: false,
        }
    }

    pub fn lookup(value: impl Into<String>) -> Scope {
        Scope {
            lookup: Some(value.into()),
            ..Scope::default()
        }
    }

    /// The scope of a company and (optionally) one of its users, for flows that establish
    /// who is acting: sign-up, log-in, accepting an invitation.
    pub fn acting(company: Option<Uuid>, user: Option<Uuid>) -> Scope {
        Scope {
            company,
            user,
            ..Scope::default()
        }
    }
}

impl Db {
    /// `app_role` is the PostgreSQL role to run guarded work as; ignored on SQLite.
    pub fn new(conn: DatabaseConnection, app_role: Option<String>) -> Db {
        let app_role = match conn.get_database_backend() {
            DbBackend::Postgres => app_role,
            _ => None,
        };
        Db { conn, app_role }
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// A transaction scoped to the caller of a request.
    pub async fn tenant(&self, ctx: &TenantContext) -> AppResult<Tx> {
        self.open(Scope::of(ctx)).await
    }

    /// A transaction with an explicit scope (credential look-ups, sign-up).
    pub async fn open(&self, scope: Scope) -> AppResult<Tx> {
        let tx = self.conn.begin().await?;
        let tx = Tx {
            tx,
            scope,
            app_role: self.app_role.clone(),
        };
        tx.apply_scope().await?;
        Ok(tx)
    }

    /// A transaction that sees every tenant. Only for the command line, seeding and
    /// cross-tenant workers; banned by clippy everywhere else.
    pub async fn system(&self) -> AppResult<Tx> {
        let tx = self.conn.begin().await?;
        Ok(Tx {
            tx,
            scope: Scope {
                system: true,
                ..Scope::default()
            },
            app_role: None,
        })
    }

    /// Reachability, for `/readyz`.
    pub async fn ping(&self) -> AppResult<()> {
        self.conn.ping().await.map_err(AppError::from)
    }

    /// The raw connection: for migrations and the kernel's own tests only.
    pub fn raw_connection(&self) -> &DatabaseConnection {
        &self.conn
    }
}

/// One guarded transaction. Dropped without `commit`, it rolls back.
pub struct Tx {
    tx: DatabaseTransaction,
    scope: Scope,
    app_role: Option<String>,
}

impl Tx {
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The connection to run guarded statements on (`.all(tx.conn())`).
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }

    pub async fn commit(self) -> AppResult<()> {
        self.tx.commit().await.map_err(AppError::from)
    }

    /// Switches the scope inside the transaction, once a flow has established who acts
    /// (the user found by a log-in, the company created by a sign-up).
    pub async fn assume(&mut self, company: Option<Uuid>, user: Option<Uuid>) -> AppResult<()> {
        self.scope = Scope {
            company,
            user,
            lookup: None,
            platform: false,
            system: self.scope.system,
        };
        self.apply_scope().await
    }

    async fn apply_scope(&self) -> AppResult<()> {
        let Some(role) = &self.app_role else {
            return Ok(());
        };
        if self.scope.system {
            return Ok(());
        }
        let s = &self.scope;
        let opt = |v: Option<String>| Value::from(v.unwrap_or_default());
        self.tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('role', $1, true), set_config('app.company_id', $2, true), \
                 set_config('app.user_id', $3, true), set_config('app.lookup', $4, true), \
                 set_config('app.platform_admin', $5, true)",
                [
                    Value::from(role.clone()),
                    opt(s.company.map(|c| c.to_string())),
                    opt(s.user.map(|u| u.to_string())),
                    opt(s.lookup.clone()),
                    Value::from(if s.platform { "on" } else { "off" }),
                ],
            ))
            .await?;
        Ok(())
    }

    /// The rows of `E` this scope may see.
    pub fn condition<E: Guarded>(&self) -> Condition {
        condition::<E>(&self.scope)
    }

    pub fn select<E: Guarded>(&self) -> Select<E> {
        E::find().filter(self.condition::<E>())
    }

    /// `E` joined to its related `R`, each side guarded.
    pub fn select_also<E, R>(&self) -> SelectTwo<E, R>
    where
        E: Guarded + Related<R>,
        R: Guarded,
    {
        // The joined side may be absent (a LEFT JOIN); when present it must be visible.
        let r_key = R::PrimaryKey::iter().next().map(|k| k.into_column());
        let r_visible = match r_key {
            Some(k) => Condition::any().add(k.is_null()).add(self.condition::<R>()),
            None => self.condition::<R>(),
        };
        E::find()
            .find_also_related(R::default())
            .filter(self.condition::<E>())
            .filter(r_visible)
    }

    /// Inserts a row; the owner column is set from the scope, whatever the model says.
    pub async fn insert<E, A>(&self, mut model: A) -> AppResult<E::Model>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
        E::Model: IntoActiveModel<A>,
    {
        if let Some(owner) = E::policy().owner
            && !self.scope.system
        {
            let company = self
                .scope
                .company
                .ok_or_else(|| AppError::forbidden("no company to own this record"))?;
            model.set(owner, company.into());
        }
        model.insert(&self.tx).await.map_err(write_error)
    }

    /// Updates one row the scope may see; another tenant's row is NOT_FOUND. The owner
    /// column is never changed.
    pub async fn update<E, A>(&self, mut model: A) -> AppResult<E::Model>
    where
        E: Guarded,
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
        E::Model: IntoActiveModel<A>,
    {
        // The owner column is never changed; a primary key that is also the owner (the
        // companies table) stays as the row's identity.
        if let Some(owner) = E::policy().owner
            && model.get(owner).is_set()
        {
            model.not_set(owner);
        }
        let update = E::update(model).validate()?.filter(self.condition::<E>());
        update.exec(&self.tx).await.map_err(write_error)
    }

    /// Locks the selected rows until commit, where the backend can (PostgreSQL); SQLite
    /// serialises writers anyway.
    pub fn lock_for_update<E: sea_orm::EntityTrait>(&self, select: Select<E>) -> Select<E> {
        use sea_orm::QuerySelect;
        match self.tx.get_database_backend() {
            DbBackend::Postgres => select.lock_exclusive(),
            _ => select,
        }
    }

    pub fn update_many<E: Guarded>(&self) -> UpdateMany<E> {
        E::update_many().filter(self.condition::<E>())
    }

    pub fn delete_many<E: Guarded>(&self) -> DeleteMany<E> {
        E::delete_many().filter(self.condition::<E>())
    }
}

/// A unique-constraint violation is a CONFLICT the caller can act on; the rest is internal.
fn write_error(err: sea_orm::DbErr) -> AppError {
    AppError::from_db_conflict(err, "a record with this value already exists")
}

fn condition<E: Guarded>(scope: &Scope) -> Condition {
    let p = E::policy();
    if scope.system || (scope.platform && p.platform_visible) {
        return Condition::all();
    }
    let mut any = Condition::any();
    if let Some(company) = scope.company {
        for col in &p.parties {
            any = any.add(col.eq(company));
        }
    }
    if let (Some(col), Some(user)) = (p.own_rows, scope.user) {
        any = any.add(col.eq(user));
    }
    if let (Some(col), Some(value)) = (p.lookup, &scope.lookup) {
        any = any.add(col.eq(value.clone()));
    }
    if any.is_empty() {
        // Nothing in scope matches: a condition no row satisfies.
        return Expr::cust("1 = 0").into_condition();
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use ils_entity::{api_key, company, user};
    use sea_orm::QueryTrait;

    fn sql<E: Guarded>(scope: &Scope) -> String {
        E::find()
            .filter(condition::<E>(scope))
            .build(DbBackend::Postgres)
            .to_string()
    }

    #[test]
    fn anonymous_scope_matches_nothing() {
        let s = sql::<api_key::Entity>(&Scope::default());
        assert!(s.contains("WHERE 1 = 0"), "{s}");
    }

    #[test]
    fn company_scope_filters_on_the_owner_column() {
        let c = Uuid::now_v7();
        let s = sql::<api_key::Entity>(&Scope::acting(Some(c), None));
        assert!(
            s.contains(&format!("\"api_keys\".\"company_id\" = '{c}'")),
            "{s}"
        );
    }

    #[test]
    fn platform_admin_sees_companies_but_no_tenant_rows() {
        let scope = Scope {
            platform: true,
            ..Scope::default()
        };
        let all = sql::<company::Entity>(&scope);
        assert!(!all.contains("1 = 0") && !all.contains("\"id\" ="), "{all}");
        assert!(sql::<api_key::Entity>(&scope).contains("WHERE 1 = 0"));
    }

    #[test]
    fn users_are_visible_to_their_company_themselves_and_a_lookup() {
        let (c, u) = (Uuid::now_v7(), Uuid::now_v7());
        let s = sql::<user::Entity>(&Scope {
            lookup: Some("a@b.c".into()),
            ..Scope::acting(Some(c), Some(u))
        });
        assert!(s.contains("\"users\".\"company_id\" ="), "{s}");
        assert!(s.contains(" OR \"users\".\"id\" ="), "{s}");
        assert!(s.contains(" OR \"users\".\"email\" = 'a@b.c'"), "{s}");
    }
}
