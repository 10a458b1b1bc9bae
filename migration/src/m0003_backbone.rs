//! The event backbone: the outbox, the job queue, webhooks and the audit log; on
//! PostgreSQL their row-level security walls, and on both backends an append-only audit log.

use crate::m0001_tenancy::{fk, index};
use crate::rls::{self, COMPANY, PLATFORM, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("events")
                .col(pk_uuid("id"))
                .col(string("event_type"))
                .col(uuid_null("company_id"))
                .col(text("audience"))
                .col(boolean("admins_only"))
                .col(text("data"))
                .col(timestamp_with_time_zone("occurred_at"))
                .col(timestamp_with_time_zone_null("dispatched_at"))
                .to_owned(),
        )
        .await?;
        index(m, "events", "dispatched_at").await?;

        m.create_table(
            Table::create()
                .table("jobs")
                .col(pk_uuid("id"))
                .col(uuid_null("company_id"))
                .col(string("kind"))
                .col(text("payload"))
                .col(string("state"))
                .col(integer("priority"))
                .col(timestamp_with_time_zone("run_at"))
                .col(integer("attempts"))
                .col(integer("max_attempts"))
                .col(text_null("last_error"))
                .col(string_null("locked_by"))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(string_null("idempotency_key").unique_key())
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .to_owned(),
        )
        .await?;
        // The claims walk these partial indexes in claim order: queued jobs by priority then
        // due time, running jobs by lease expiry. Partial, so finished jobs cost the claim
        // nothing; the claim names the state as a literal so the planner can use them.
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_jobs_due ON jobs (priority DESC, run_at) WHERE state = 'QUEUED'",
            )
            .await?;
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_jobs_lease ON jobs (lease_until) WHERE state = 'RUNNING'",
            )
            .await?;
        index(m, "jobs", "company_id").await?;

        m.create_table(
            Table::create()
                .table("webhook_endpoints")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("url"))
                .col(string("description"))
                .col(text("event_types"))
                .col(string("secret"))
                .col(boolean("enabled"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("webhook_endpoints", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        index(m, "webhook_endpoints", "company_id").await?;

        m.create_table(
            Table::create()
                .table("webhook_deliveries")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("endpoint_id"))
                .col(uuid("event_id"))
                .col(string("event_type"))
                .col(text("body"))
                .col(string("status"))
                .col(integer("attempts"))
                .col(integer_null("last_status_code"))
                .col(text_null("last_error"))
                .col(integer_null("last_latency_ms"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .foreign_key(&mut fk("webhook_deliveries", "company_id", "companies"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_deliveries_endpoint_id")
                        .from("webhook_deliveries", "endpoint_id")
                        .to("webhook_endpoints", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "webhook_deliveries", "company_id").await?;
        index(m, "webhook_deliveries", "event_id").await?;
        index(m, "webhook_deliveries", "created_at").await?;
        m.create_index(
            Index::create()
                .name("ux_webhook_deliveries_endpoint_event")
                .table("webhook_deliveries")
                .col("endpoint_id")
                .col("event_id")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("audit_log")
                .col(pk_uuid("id"))
                .col(uuid_null("company_id"))
                .col(string("actor_kind"))
                .col(uuid_null("actor_user_id"))
                .col(uuid_null("actor_api_key_id"))
                .col(string("operation"))
                .col(text("target_ids"))
                .col(string_null("client_address"))
                .col(string_null("user_agent"))
                .col(string("outcome"))
                .col(string_null("error_code"))
                .col(timestamp_with_time_zone("occurred_at"))
                .to_owned(),
        )
        .await?;
        index(m, "audit_log", "company_id").await?;

        let conn = m.get_connection();
        match m.get_database_backend() {
            DbBackend::Postgres => {
                // A queue table churns: vacuum and analyse it early, so dead versions of
                // claimed and finished jobs do not pile up in front of the claims.
                conn.execute_unprepared(
                    "ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, \
                     autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.02, \
                     autovacuum_vacuum_cost_delay = 0)",
                )
                .await?;
                conn.execute_unprepared(&rls::ensure_app_role()).await?;
                let owned = rls::owned("company_id");
                for wall in [
                    // Company admins read their own jobs; platform admins every job.
                    Wall {
                        table: "jobs",
                        using: format!("{owned} OR {PLATFORM}"),
                        check: format!("{owned} OR {PLATFORM}"),
                        lookup: None,
                    },
                    Wall {
                        table: "webhook_endpoints",
                        using: owned.clone(),
                        check: owned.clone(),
                        lookup: None,
                    },
                    Wall {
                        table: "webhook_deliveries",
                        using: owned.clone(),
                        check: owned.clone(),
                        lookup: None,
                    },
                ] {
                    conn.execute_unprepared(&rls::protect(&wall)).await?;
                }
                // The outbox: the application role may only add to it; the dispatcher
                // (the owner, in system scope) reads it.
                conn.execute_unprepared(&rls::append_only(
                    "events",
                    None,
                    // The acting company (or the platform) records the event.
                    &format!("company_id IS NOT DISTINCT FROM {COMPANY} OR {PLATFORM}"),
                ))
                .await?;
                conn.execute_unprepared(&rls::append_only(
                    "audit_log",
                    Some(&format!("{owned} OR {PLATFORM}")),
                    &format!("{owned} OR (company_id IS NULL AND {COMPANY} IS NULL)"),
                ))
                .await?;
                conn.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION ils_refuse_change() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;\n\
                     CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
                     FOR EACH ROW EXECUTE FUNCTION ils_refuse_change();",
                )
                .await?;
            }
            _ => {
                conn.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
                )
                .await?;
                conn.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
                     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "audit_log",
            "webhook_deliveries",
            "webhook_endpoints",
            "jobs",
            "events",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS ils_refuse_change()")
                .await?;
        }
        Ok(())
    }
}
