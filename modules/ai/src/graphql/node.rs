//! The assistant's objects by global ID, through the guard: a conversation and its
//! messages are found only by the person they belong to.

use super::{AiConversation, AiMessage, CONVERSATION, MESSAGE};
use crate::service::store;
use ils_kernel::AppResult;
use ils_kernel::node::{AnyNode, Found, NodeRequest, NodeType};

pub fn node_types() -> Vec<NodeType> {
    vec![
        NodeType::of::<AiConversation>(),
        NodeType::of::<AiMessage>(),
    ]
}

pub async fn fetch_many(req: NodeRequest<'_>) -> AppResult<Vec<Option<AnyNode>>> {
    if !req.asks_for(&[CONVERSATION, MESSAGE]) || req.tenant.company_id().is_none() {
        return Ok(req.none_found());
    }
    let tx = req.db.read(req.tenant).await?;
    let mut found = Found::default();
    for c in store::conversations_by_ids(&tx, req.ids_of(CONVERSATION)).await? {
        found.insert(CONVERSATION, c.id, AiConversation(c));
    }
    for m in store::messages_by_ids(&tx, req.ids_of(MESSAGE)).await? {
        found.insert(MESSAGE, m.id, AiMessage(m));
    }
    tx.commit().await?;
    Ok(req.answer(found))
}
