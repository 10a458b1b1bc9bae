//! The assistant (issue 19): each company's settings, its people's conversations and their
//! messages (private to the person: the company's wall and the user's), every model call's
//! usage and cost (the company's, readable by platform admins), each month's running total
//! of that cost, and the company's cache of answers.

use crate::m0001_tenancy::fk;
use crate::rls::{self, COMPANY, PLATFORM, USER, Wall};
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("ai_settings")
                .col(pk_uuid("company_id"))
                .col(boolean("share_patient_data"))
                .col(big_integer_null("monthly_cap_micros"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("ai_settings", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("ai_conversations")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("user_id"))
                .col(string("title"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("ai_conversations", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("ai_messages")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("user_id"))
                .col(uuid("conversation_id"))
                .col(string("role"))
                .col(text("content"))
                .col(string_null("tool_name"))
                .col(text_null("tool_arguments"))
                .col(boolean("tool_failed"))
                .col(string_null("provider"))
                .col(string_null("model"))
                .col(big_integer("input_tokens"))
                .col(big_integer("output_tokens"))
                .col(big_integer("cost_micros"))
                .col(boolean("patient_data").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "ai_messages",
                    "conversation_id",
                    "ai_conversations",
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("ai_usage")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(uuid("user_id"))
                .col(uuid("message_id"))
                .col(string("provider"))
                .col(string("model"))
                .col(big_integer("input_tokens"))
                .col(big_integer("output_tokens"))
                .col(big_integer("cost_micros"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("ai_usage", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("ai_answers")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("question_hash"))
                .col(text("tool_calls"))
                .col(string("fingerprint"))
                .col(text("answer"))
                .col(string("provider"))
                .col(string("model"))
                .col(big_integer("hits"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("ai_answers", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("ai_spend")
                .col(pk_uuid("id"))
                .col(uuid("company_id"))
                .col(string("month"))
                .col(big_integer("cost_micros"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("ai_spend", "company_id", "companies"))
                .to_owned(),
        )
        .await?;
        for (name, table, cols, unique) in [
            (
                "ix_ai_conversations_owner",
                "ai_conversations",
                &["company_id", "user_id", "id"][..],
                false,
            ),
            (
                "ix_ai_messages_conversation",
                "ai_messages",
                &["conversation_id", "id"][..],
                false,
            ),
            (
                "ix_ai_usage_company_time",
                "ai_usage",
                &["company_id", "created_at"][..],
                false,
            ),
            (
                "ux_ai_spend_month",
                "ai_spend",
                &["company_id", "month"][..],
                true,
            ),
            (
                "ux_ai_answers_question",
                "ai_answers",
                &["company_id", "question_hash"][..],
                true,
            ),
        ] {
            let mut idx = Index::create().name(name).table(table).to_owned();
            for c in cols {
                idx.col(*c);
            }
            if unique {
                idx.unique();
            }
            m.create_index(idx).await?;
        }
        if m.get_database_backend() == DbBackend::Postgres {
            let conn = m.get_connection();
            let owned = rls::owned("company_id");
            let private = format!("company_id = {COMPANY} AND user_id = {USER}");
            for (table, using, check) in [
                ("ai_settings", owned.clone(), owned.clone()),
                ("ai_answers", owned.clone(), owned.clone()),
                ("ai_spend", owned.clone(), owned.clone()),
                ("ai_conversations", private.clone(), private.clone()),
                ("ai_messages", private.clone(), private.clone()),
                (
                    "ai_usage",
                    format!("company_id = {COMPANY} OR {PLATFORM}"),
                    owned.clone(),
                ),
            ] {
                conn.execute_unprepared(&rls::protect(&Wall {
                    table,
                    using,
                    check,
                    lookup: None,
                }))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "ai_spend",
            "ai_answers",
            "ai_usage",
            "ai_messages",
            "ai_conversations",
            "ai_settings",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
