//! Row-level security on PostgreSQL: the second wall behind the kernel's tenant guard.
//!
//! The guard opens every transaction with `set_config` calls for `role` (the application
//! role below, which has no BYPASSRLS), `app.company_id`, `app.user_id`, `app.lookup` (a
//! credential being looked up: an email, a token digest) and `app.platform_admin`. Policies
//! read each setting through a sub-select so PostgreSQL evaluates it once per statement,
//! not once per row.

/// The role every guarded transaction runs as. It owns nothing and cannot bypass RLS.
pub const APP_ROLE: &str = "ils_app";

pub const COMPANY: &str = "(select nullif(current_setting('app.company_id', true), '')::uuid)";
pub const USER: &str = "(select nullif(current_setting('app.user_id', true), '')::uuid)";
pub const LOOKUP: &str = "(select nullif(current_setting('app.lookup', true), ''))";
pub const PLATFORM: &str =
    "(select coalesce(current_setting('app.platform_admin', true), '') = 'on')";

/// SQL that creates the application role once per cluster and lets the migrating user
/// switch to it. Roles are cluster-wide, so parallel migrations of different databases
/// may race here: the losers' errors are swallowed.
pub fn ensure_app_role() -> String {
    format!(
        r#"DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    BEGIN
      CREATE ROLE {APP_ROLE} NOLOGIN NOBYPASSRLS NOSUPERUSER NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
    BEGIN
      EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
    EXCEPTION WHEN others THEN NULL;
    END;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO {APP_ROLE};"#
    )
}

/// Set by `Db::system` (the command line, seeding, cross-tenant workers). Only the
/// owner's `system_access` policies read it, so the application role gains nothing by
/// setting it.
pub const SYSTEM: &str = "(select coalesce(current_setting('app.system', true), '') = 'on')";

/// How one table is walled in.
pub struct Wall<'a> {
    pub table: &'a str,
    /// Rows the application role may read, update and delete.
    pub using: String,
    /// Rows the application role may write (insert, and the new row of an update).
    pub check: String,
    /// A column a credential look-up may match, for reading only.
    pub lookup: Option<&'a str>,
}

/// SQL that puts one table behind its wall: RLS enabled and forced (even the table owner
/// is subject to it), the application role's policies, a read-only credential look-up
/// policy, the owner's system policy, and plain DML for the application role.
pub fn protect(w: &Wall) -> String {
    let t = w.table;
    let mut sql = format!(
        "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE {t} FORCE ROW LEVEL SECURITY;\n\
         DROP POLICY IF EXISTS tenant_wall ON {t};\n\
         DROP POLICY IF EXISTS credential_lookup ON {t};\n\
         DROP POLICY IF EXISTS system_access ON {t};\n\
         CREATE POLICY tenant_wall ON {t} FOR ALL TO {APP_ROLE} USING ({using}) WITH CHECK ({check});\n",
        using = w.using,
        check = w.check,
    );
    if let Some(col) = w.lookup {
        sql.push_str(&format!(
            "CREATE POLICY credential_lookup ON {t} FOR SELECT TO {APP_ROLE} USING ({col} = {LOOKUP});\n"
        ));
    }
    sql.push_str(&format!(
        "DO $$ BEGIN EXECUTE format('CREATE POLICY system_access ON {t} FOR ALL TO %I USING ({sys}) WITH CHECK ({sys})', current_user); END $$;\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {APP_ROLE};",
        sys = SYSTEM.replace('\'', "''"),
    ));
    sql
}

/// The usual rule of a table owned by one company.
pub fn owned(column: &str) -> String {
    format!("{column} = {COMPANY}")
}

/// SQL that walls in an append-only table: the application role may insert rows that pass
/// `check` and read rows that pass `read` (none when `None`), and has no UPDATE or DELETE
/// privilege at all. The owner's `system_access` policy is as in `protect`.
pub fn append_only(t: &str, read: Option<&str>, check: &str) -> String {
    let mut sql = format!(
        "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE {t} FORCE ROW LEVEL SECURITY;\n\
         DROP POLICY IF EXISTS tenant_insert ON {t};\n\
         DROP POLICY IF EXISTS tenant_read ON {t};\n\
         DROP POLICY IF EXISTS system_access ON {t};\n\
         CREATE POLICY tenant_insert ON {t} FOR INSERT TO {APP_ROLE} WITH CHECK ({check});\n"
    );
    let mut grants = "INSERT".to_owned();
    if let Some(read) = read {
        sql.push_str(&format!(
            "CREATE POLICY tenant_read ON {t} FOR SELECT TO {APP_ROLE} USING ({read});\n"
        ));
        grants.push_str(", SELECT");
    }
    sql.push_str(&format!(
        "DO $$ BEGIN EXECUTE format('CREATE POLICY system_access ON {t} FOR ALL TO %I USING ({sys}) WITH CHECK ({sys})', current_user); END $$;\n\
         REVOKE ALL ON {t} FROM {APP_ROLE};\n\
         GRANT {grants} ON {t} TO {APP_ROLE};",
        sys = SYSTEM.replace('\'', "''"),
    ));
    sql
}

/// SQL for a second, read-only way into a walled table: rows that pass `using` are
/// readable by the application role (policies of one table are OR-ed), never writable.
/// Used for what a company shows to others: a listed directory profile, a supplier's
/// catalog to its connected buyers.
pub fn also_readable(table: &str, policy: &str, using: &str) -> String {
    format!(
        "DROP POLICY IF EXISTS {policy} ON {table};\n\
         CREATE POLICY {policy} ON {table} FOR SELECT TO {APP_ROLE} USING ({using});"
    )
}
