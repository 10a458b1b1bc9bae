//! The company's answer cache. An answer a model gave to a conversation's first question
//! is kept under the normalised question's digest with the tool calls it was built from
//! and a digest of what they returned. Asked again, the calls run again as the asking
//! person (so their role checks apply); when what they return is unchanged, the kept
//! answer is given and no model is paid. Rows are the company's (the guard and RLS wall
//! them in), never shared.

use crate::provider::ToolCall;
use ils_entity::ai_answer as answer;
use ils_kernel::{AppResult, Tx};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The digest of tool outcomes, in call order.
pub fn fingerprint(outcomes: &[String]) -> String {
    let mut h = Sha256::new();
    for o in outcomes {
        h.update((o.len() as u64).to_le_bytes());
        h.update(o.as_bytes());
    }
    hex::encode(h.finalize())
}

pub async fn find(tx: &Tx, question_hash: &str) -> AppResult<Option<answer::Model>> {
    Ok(tx
        .select::<answer::Entity>()
        .filter(answer::Column::QuestionHash.eq(question_hash))
        .one(tx.conn())
        .await?)
}

pub fn calls_of(row: &answer::Model) -> Vec<ToolCall> {
    serde_json::from_str(&row.tool_calls).unwrap_or_default()
}

/// Counts a hit (in the transaction that stores the answer): an increment, so two hits
/// at once both count and neither fails.
pub async fn hit(tx: &Tx, row: &answer::Model) -> AppResult<()> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    tx.update_many::<answer::Entity>(
        vec![(answer::Column::Hits, Expr::col(answer::Column::Hits).add(1))],
        answer::Column::Id.eq(row.id),
    )
    .await?;
    Ok(())
}

/// What to keep.
pub struct Keep {
    pub question_hash: String,
    pub calls: Vec<ToolCall>,
    pub fingerprint: String,
    pub answer: String,
    pub provider: String,
    pub model: String,
}

/// Keeps an answer, replacing the one kept for the same question (in the transaction that
/// stores the answer: an upsert, so two people keeping one answer at once both succeed,
/// the later one's kept).
pub async fn keep(tx: &Tx, k: Keep) -> AppResult<()> {
    let proposed = |c: answer::Column| (c, Tx::proposed::<answer::Entity>(c));
    tx.upsert::<answer::Entity, _>(
        answer::ActiveModel {
            id: Set(Uuid::now_v7()),
            company_id: Set(Uuid::nil()),
            question_hash: Set(k.question_hash),
            tool_calls: Set(serde_json::to_string(&k.calls).unwrap_or_else(|_| "[]".into())),
            fingerprint: Set(k.fingerprint),
            answer: Set(k.answer),
            provider: Set(k.provider),
            model: Set(k.model),
            hits: Set(0),
            created_at: Set(chrono::Utc::now()),
        },
        &[answer::Column::QuestionHash],
        vec![
            proposed(answer::Column::ToolCalls),
            proposed(answer::Column::Fingerprint),
            proposed(answer::Column::Answer),
            proposed(answer::Column::Provider),
            proposed(answer::Column::Model),
            proposed(answer::Column::Hits),
            proposed(answer::Column::CreatedAt),
        ],
    )
    .await
}
