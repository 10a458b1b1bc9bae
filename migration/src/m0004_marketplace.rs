//! The marketplace: directory profiles, connections between companies, supplier catalogs
//! and their CSV imports; on PostgreSQL, their row-level security walls.

use crate::m0001_tenancy::{fk, index};
use crate::rls::{self, COMPANY, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("marketplace_profiles")
                .col(uuid("company_id").primary_key())
                .col(string("name"))
                .col(string("company_type"))
                .col(string("status"))
                .col(boolean("listed"))
                .col(text_null("description"))
                .col(string_null("city"))
                .col(string_null("region"))
                .col(string_null("country"))
                .col(text("service_areas"))
                .col(text("specialties"))
                .col(string_null("logo_url"))
                .col(text("search_text"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("marketplace_profiles", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_marketplace_profiles_directory")
                .table("marketplace_profiles")
                .col("company_type")
                .col("listed")
                .col("status")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("connections")
                .col(pk_uuid("id"))
                .col(uuid("requester_company_id"))
                .col(uuid("responder_company_id"))
                .col(string("requester_name"))
                .col(string("requester_type"))
                .col(string("responder_name"))
                .col(string("responder_type"))
                .col(string("pair_key"))
                .col(string("state"))
                .col(text_null("message"))
                .col(uuid_null("requested_by"))
                .col(timestamp_with_time_zone_null("responded_at"))
                .col(timestamp_with_time_zone_null("ended_at"))
                .col(uuid_null("ended_by_company_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("connections", "requester_company_id", "companies"))
                .foreign_key(&mut fk("connections", "responder_company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "connections", "requester_company_id").await?;
        index(m, "connections", "responder_company_id").await?;
        // One open (PENDING or ACTIVE) connection per pair, whichever side asked: a second
        // request is a unique violation, which the guard reports as CONFLICT. Partial
        // indexes exist on both backends.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_connections_open_pair ON connections (pair_key) \
                 WHERE state IN ('PENDING', 'ACTIVE')",
            )
            .await?;

        m.create_table(
            Table::create()
                .table("catalog_items")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("sku"))
                .col(string_null("gtin"))
                .col(string("name"))
                .col(string_null("brand"))
                .col(string("category"))
                .col(big_integer("price_units"))
                .col(string("currency"))
                .col(integer("min_order_quantity"))
                .col(integer("lead_time_days"))
                .col(boolean("active"))
                .col(text("attributes"))
                .col(text("search_text"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("catalog_items", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_catalog_items_company_sku")
                .table("catalog_items")
                .col("company_id")
                .col("sku")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_catalog_items_company_category")
                .table("catalog_items")
                .col("company_id")
                .col("category")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("catalog_imports")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("file_name"))
                .col(string("object_key"))
                .col(big_integer("byte_size"))
                .col(string("status"))
                .col(integer("total_rows"))
                .col(integer("processed_rows"))
                .col(integer("created_count"))
                .col(integer("updated_count"))
                .col(integer("unchanged_count"))
                .col(integer("error_count"))
                .col(text("errors"))
                .col(text_null("failure"))
                .col(uuid_null("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .foreign_key(&mut fk("catalog_imports", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "catalog_imports", "company_id").await?;
        // One import at a time per supplier: two imports touching the same SKUs would
        // race each other's inserts and counts.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_catalog_imports_one_running ON catalog_imports (company_id) \
                 WHERE status IN ('QUEUED', 'RUNNING')",
            )
            .await?;

        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            conn.execute_unprepared(&rls::ensure_app_role()).await?;
            let owned = rls::owned("company_id");
            let parties =
                format!("requester_company_id = {COMPANY} OR responder_company_id = {COMPANY}");
            // A profile's copy of its company (name, type, status) is what the directory
            // trusts, so a row is written only when the copy matches the company's own row.
            let profile_check = format!(
                "{owned} AND (name, company_type, status) = (SELECT c.name, c.company_type, c.status \
                 FROM companies c WHERE c.id = marketplace_profiles.company_id)"
            );
            for wall in [
                Wall {
                    table: "marketplace_profiles",
                    using: owned.clone(),
                    check: profile_check,
                    lookup: None,
                },
                // Both parties see and change the shared row; only the requester creates
                // it (the guard sets the requester from the acting company).
                Wall {
                    table: "connections",
                    using: parties.clone(),
                    check: parties,
                    lookup: None,
                },
                Wall {
                    table: "catalog_items",
                    using: owned.clone(),
                    check: owned.clone(),
                    lookup: None,
                },
                Wall {
                    table: "catalog_imports",
                    using: owned.clone(),
                    check: owned.clone(),
                    lookup: None,
                },
            ] {
                conn.execute_unprepared(&rls::protect(&wall)).await?;
            }
            // A connection is an access grant, so the database itself says how one comes
            // about: only the requester creates it, PENDING; it is never deleted; its
            // parties and request never change; only the company asked accepts or rejects,
            // either party ends it; each party renames only its own side. Two parties,
            // and the pair key names them.
            conn.execute_unprepared(&format!(
                "DROP POLICY IF EXISTS requester_creates ON connections;\n\
                 CREATE POLICY requester_creates ON connections AS RESTRICTIVE FOR INSERT TO {app} \
                 WITH CHECK (requester_company_id = {COMPANY} AND state = 'PENDING');\n\
                 REVOKE DELETE ON connections FROM {app};\n\
                 ALTER TABLE connections ADD CONSTRAINT connections_two_parties \
                 CHECK (requester_company_id <> responder_company_id);\n\
                 ALTER TABLE connections ADD CONSTRAINT connections_pair_key CHECK (pair_key = \
                 least(requester_company_id, responder_company_id)::text || ':' || \
                 greatest(requester_company_id, responder_company_id)::text);\n\
                 CREATE OR REPLACE FUNCTION ils_connection_rules() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                 DECLARE me uuid := nullif(current_setting('app.company_id', true), '')::uuid;\n\
                 BEGIN\n\
                   IF current_user <> '{app}' THEN RETURN NEW; END IF;\n\
                   IF NEW.requester_company_id <> OLD.requester_company_id\n\
                      OR NEW.responder_company_id <> OLD.responder_company_id\n\
                      OR NEW.pair_key <> OLD.pair_key OR NEW.created_at <> OLD.created_at\n\
                      OR NEW.message IS DISTINCT FROM OLD.message\n\
                      OR NEW.requested_by IS DISTINCT FROM OLD.requested_by\n\
                      OR NEW.requester_type <> OLD.requester_type OR NEW.responder_type <> OLD.responder_type THEN\n\
                     RAISE EXCEPTION 'a connection''s parties and request cannot change';\n\
                   END IF;\n\
                   IF (NEW.requester_name <> OLD.requester_name AND me IS DISTINCT FROM OLD.requester_company_id)\n\
                      OR (NEW.responder_name <> OLD.responder_name AND me IS DISTINCT FROM OLD.responder_company_id) THEN\n\
                     RAISE EXCEPTION 'a company renames only its own side of a connection';\n\
                   END IF;\n\
                   IF NEW.state <> OLD.state AND NOT (\n\
                        (OLD.state = 'PENDING' AND NEW.state IN ('ACTIVE', 'REJECTED') AND me = OLD.responder_company_id)\n\
                        OR (OLD.state IN ('PENDING', 'ACTIVE') AND NEW.state = 'ENDED')) THEN\n\
                     RAISE EXCEPTION 'a connection cannot go from % to % this way', OLD.state, NEW.state;\n\
                   END IF;\n\
                   RETURN NEW;\n\
                 END $$;\n\
                 CREATE TRIGGER connections_rules BEFORE UPDATE ON connections \
                 FOR EACH ROW EXECUTE FUNCTION ils_connection_rules();",
                app = rls::APP_ROLE,
            ))
            .await?;
            // The directory: any company reads listed profiles of active companies.
            conn.execute_unprepared(&rls::also_readable(
                "marketplace_profiles",
                "directory_read",
                &format!("listed AND status = 'ACTIVE' AND {COMPANY} IS NOT NULL"),
            ))
            .await?;
            // A supplier's catalog: read by the companies it has an ACTIVE connection
            // with, for as long as that lasts.
            conn.execute_unprepared(&rls::also_readable(
                "catalog_items",
                "connected_read",
                &format!(
                    "EXISTS (SELECT 1 FROM connections c WHERE c.state = 'ACTIVE' AND \
                     ((c.requester_company_id = {COMPANY} AND c.responder_company_id = catalog_items.company_id) OR \
                      (c.responder_company_id = {COMPANY} AND c.requester_company_id = catalog_items.company_id)))"
                ),
            ))
            .await?;
            // Text search over the directory and catalogs.
            conn.execute_unprepared(
                "CREATE INDEX ix_marketplace_profiles_fts ON marketplace_profiles \
                 USING gin (to_tsvector('simple', search_text));\n\
                 CREATE INDEX ix_catalog_items_fts ON catalog_items \
                 USING gin (to_tsvector('simple', search_text));",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "catalog_imports",
            "catalog_items",
            "connections",
            "marketplace_profiles",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS ils_connection_rules()")
                .await?;
        }
        Ok(())
    }
}
