//! Conversations and messages, through the guard: a person's own (the private policy).

use ils_entity::{ai_conversation as conversation, ai_message as message};
use ils_kernel::{AppError, AppResult, Db, TenantContext, Tx};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub const USER: &str = "USER";
pub const ASSISTANT: &str = "ASSISTANT";
pub const TOOL: &str = "TOOL";

/// A conversation of the asking person; another person's (or company's) is NOT_FOUND.
pub async fn conversation(tx: &Tx, id: Uuid) -> AppResult<conversation::Model> {
    tx.select::<conversation::Entity>()
        .filter(conversation::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn start(tx: &Tx, title: &str) -> AppResult<conversation::Model> {
    let now = chrono::Utc::now();
    let title: String = title.chars().take(80).collect();
    tx.insert(conversation::ActiveModel {
        id: Set(Uuid::now_v7()),
        company_id: Set(Uuid::nil()),
        user_id: Set(Uuid::nil()),
        title: Set(title),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await
}

pub async fn touch(tx: &Tx, c: &conversation::Model) -> AppResult<()> {
    let mut am: conversation::ActiveModel = c.clone().into();
    am.updated_at = Set(chrono::Utc::now());
    tx.update(am).await?;
    Ok(())
}

/// A message to add.
#[derive(Default)]
pub struct NewMessage {
    pub id: Option<Uuid>,
    pub role: &'static str,
    pub content: String,
    pub tool_name: Option<String>,
    pub tool_arguments: Option<String>,
    pub tool_failed: bool,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub patient_data: bool,
}

pub async fn add(tx: &Tx, conversation: Uuid, m: NewMessage) -> AppResult<message::Model> {
    tx.insert(message::ActiveModel {
        id: Set(m.id.unwrap_or_else(Uuid::now_v7)),
        company_id: Set(Uuid::nil()),
        user_id: Set(Uuid::nil()),
        conversation_id: Set(conversation),
        role: Set(m.role.into()),
        content: Set(m.content),
        tool_name: Set(m.tool_name),
        tool_arguments: Set(m.tool_arguments),
        tool_failed: Set(m.tool_failed),
        provider: Set(m.provider),
        model: Set(m.model),
        input_tokens: Set(m.input_tokens),
        output_tokens: Set(m.output_tokens),
        cost_micros: Set(m.cost_micros),
        patient_data: Set(m.patient_data),
        created_at: Set(chrono::Utc::now()),
    })
    .await
}

/// Adds messages in one statement, in their order (their ids rise in it), and gives them
/// back as stored: the guard sets the owner and the person from the scope, as here.
pub async fn add_many(
    tx: &Tx,
    conversation: Uuid,
    messages: Vec<NewMessage>,
) -> AppResult<Vec<message::Model>> {
    let company = tx.scope().company().unwrap_or_default();
    let user = tx.scope().user().unwrap_or_default();
    let now = chrono::Utc::now();
    let rows: Vec<message::Model> = messages
        .into_iter()
        .map(|m| message::Model {
            id: m.id.unwrap_or_else(Uuid::now_v7),
            company_id: company,
            user_id: user,
            conversation_id: conversation,
            role: m.role.into(),
            content: m.content,
            tool_name: m.tool_name,
            tool_arguments: m.tool_arguments,
            tool_failed: m.tool_failed,
            provider: m.provider,
            model: m.model,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            cost_micros: m.cost_micros,
            patient_data: m.patient_data,
            created_at: now,
        })
        .collect();
    tx.insert_many::<message::Entity, message::ActiveModel>(
        rows.iter().cloned().map(Into::into).collect(),
    )
    .await?;
    Ok(rows)
}

/// The messages of a conversation, oldest first (at most `limit`, the latest ones).
pub async fn messages(tx: &Tx, conversation: Uuid, limit: u64) -> AppResult<Vec<message::Model>> {
    let mut rows = tx
        .select::<message::Entity>()
        .filter(message::Column::ConversationId.eq(conversation))
        .order_by_desc(message::Column::Id)
        .limit(limit)
        .all(tx.conn())
        .await?;
    rows.reverse();
    Ok(rows)
}

/// The asking person's conversations, newest first.
pub async fn list(db: &Db, ctx: &TenantContext, limit: u64) -> AppResult<Vec<conversation::Model>> {
    ils_kernel::authz::require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let rows = tx
        .select::<conversation::Entity>()
        .order_by_desc(conversation::Column::UpdatedAt)
        .order_by_desc(conversation::Column::Id)
        .limit(limit)
        .all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn conversations_by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<conversation::Model>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(tx
        .select::<conversation::Entity>()
        .filter(conversation::Column::Id.is_in(ids))
        .all(tx.conn())
        .await?)
}

pub async fn messages_by_ids(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<message::Model>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(tx
        .select::<message::Entity>()
        .filter(message::Column::Id.is_in(ids))
        .all(tx.conn())
        .await?)
}
