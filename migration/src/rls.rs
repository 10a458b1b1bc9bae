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
  BEGIN
    CREATE ROLE {APP_ROLE} NOLOGIN NOBYPASSRLS NOSUPERUSER NOINHERIT;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
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

/// SQL that locks one table behind a policy: RLS enabled and forced (so even the table
/// owner is subject to it), the app role granted plain DML and nothing else.
pub fn protect(table: &str, using: &str, check: &str, grants: &str) -> String {
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
         DROP POLICY IF EXISTS tenant_wall ON {table};\n\
         CREATE POLICY tenant_wall ON {table} USING ({using}) WITH CHECK ({check});\n\
         GRANT {grants} ON {table} TO {APP_ROLE};"
    )
}

/// The usual policy of a table owned by one company.
pub fn owned(column: &str) -> String {
    format!("{column} = {COMPANY}")
}
