//! The assistant as the server holds it: the provider chain built from the settings, the
//! price table and cap, and the hub that carries streamed answers to their followers
//! (`assistantReply`). With Redis, answer chunks travel through the event bus's relay like
//! events do (never through the outbox: they are not kept), so a follower on another
//! replica sees them too; they name no audience, so no company's event stream carries
//! them, and each follower receives only its own conversation's chunks.

use crate::builtin::Builtin;
use crate::config::{AiSettings, Kind};
use crate::provider::anthropic::Anthropic;
use crate::provider::chain::Chain;
use crate::provider::openai::OpenAi;
use crate::provider::scripted::Scripted;
use crate::provider::{ChatModel, HttpSettings};
use ils_kernel::{Bus, Event};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use uuid::Uuid;

/// The event type answer chunks travel as.
pub const REPLY_EVENT: &str = "ai.reply";

/// A piece of an answer as it is written.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    /// The answer being written (its message ID once stored).
    pub answer_id: Uuid,
    /// The text added.
    pub delta: String,
    /// The text so far is void (a provider failed mid-answer; the next one starts over).
    pub restart: bool,
    /// The answer ended: complete (`message_id` names it), or `failed`.
    pub done: bool,
    /// The answer could not be completed (an error, the asker gone): nothing was stored
    /// as the answer.
    pub failed: bool,
    pub message_id: Option<Uuid>,
}

#[derive(Clone)]
pub struct Assistant {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AiSettings,
    chain: Chain,
    builtin: Arc<Builtin>,
    bus: Bus,
    followers: Mutex<Followers>,
}

/// This process's followers by conversation, and the text of every answer being written
/// (so a follower who arrives mid-answer starts from what was written so far).
#[derive(Default)]
struct Followers {
    channels: HashMap<Uuid, broadcast::Sender<Chunk>>,
    writing: HashMap<Uuid, Writing>,
}

/// An answer being written.
struct Writing {
    user: Uuid,
    answer: Uuid,
    text: String,
    since: std::time::Instant,
}

/// An answer still being written after this long has lost its end (its replica died):
/// what was written is forgotten.
const FORGET_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

impl Assistant {
    /// The assistant of `settings`; answer chunks travel over `bus`. Starts the task that
    /// hands chunks from the bus to this process's followers (call within a runtime).
    pub fn new(settings: AiSettings, bus: Bus, http: reqwest::Client) -> Result<Assistant, String> {
        let builtin = Arc::new(Builtin);
        let mut models: Vec<Arc<dyn ChatModel>> = Vec::new();
        for p in &settings.providers {
            let http_settings = |base: &str, key: &Option<String>| HttpSettings {
                model: p.model.clone(),
                base_url: p.base_url.clone().unwrap_or_else(|| base.to_owned()),
                api_key: p.api_key.clone().or_else(|| key.clone()),
                timeout: p.timeout.unwrap_or(settings.timeout),
            };
            models.push(match p.kind {
                Kind::OpenAi => Arc::new(OpenAi::new(
                    http_settings(&settings.openai_base_url, &settings.openai_api_key),
                    http.clone(),
                )),
                Kind::Anthropic => Arc::new(Anthropic::new(
                    http_settings(&settings.anthropic_base_url, &settings.anthropic_api_key),
                    http.clone(),
                )),
                Kind::Builtin => builtin.clone(),
                Kind::Scripted => Arc::new(match &p.script {
                    None => Scripted::new(&p.model, vec![]),
                    Some(path) => {
                        let text = std::fs::read_to_string(path)
                            .map_err(|e| format!("the scripted model's script {path}: {e}"))?;
                        Scripted::parse(&p.model, &text)?
                    }
                }),
            });
        }
        let assistant = Assistant {
            inner: Arc::new(Inner {
                chain: Chain::new(models),
                settings,
                builtin,
                bus: bus.clone(),
                followers: Mutex::default(),
            }),
        };
        let weak = Arc::downgrade(&assistant.inner);
        let mut rx = bus.subscribe();
        tokio::spawn(async move {
            loop {
                let event = match rx.recv().await {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "answer chunks skipped");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if event.event_type != REPLY_EVENT {
                    continue;
                }
                let Some(inner) = weak.upgrade() else { return };
                if let Ok(chunk) = serde_json::from_value::<Chunk>(event.data.clone()) {
                    inner.hand_over(chunk);
                }
            }
        });
        Ok(assistant)
    }

    pub fn settings(&self) -> &AiSettings {
        &self.inner.settings
    }

    pub fn chain(&self) -> &Chain {
        &self.inner.chain
    }

    pub fn builtin(&self) -> &Arc<Builtin> {
        &self.inner.builtin
    }

    /// Sends a chunk to the followers of its conversation, on every replica.
    pub async fn publish(&self, chunk: Chunk) {
        let event = Event {
            id: Uuid::now_v7(),
            event_type: REPLY_EVENT.into(),
            company_id: None,
            audience: vec![],
            admins_only: false,
            version: 1,
            data: serde_json::to_value(&chunk).unwrap_or_default(),
            occurred_at: chrono::Utc::now(),
            seq: None,
        };
        if let Err(e) = self.inner.bus.publish(event).await {
            // A lost chunk costs a follower some text; the stored answer is complete.
            tracing::warn!(error = ?e, "an answer chunk could not be published");
        }
    }

    /// The chunks of `conversation`'s answers from now on, and the text of the answer
    /// being written now, if one is (with its person), taken at the same instant: nothing
    /// is missed or seen twice.
    pub fn follow(
        &self,
        conversation: Uuid,
    ) -> (broadcast::Receiver<Chunk>, Option<(Uuid, String)>) {
        let mut f = self
            .inner
            .followers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f.channels.retain(|_, tx| tx.receiver_count() > 0);
        let rx = f
            .channels
            .entry(conversation)
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe();
        let so_far = f
            .writing
            .get(&conversation)
            .filter(|w| w.since.elapsed() < FORGET_AFTER)
            .map(|w| (w.user, w.text.clone()));
        (rx, so_far)
    }
}

impl Inner {
    fn hand_over(&self, chunk: Chunk) {
        let mut f = self.followers.lock().unwrap_or_else(|e| e.into_inner());
        if chunk.done {
            f.writing.remove(&chunk.conversation_id);
        } else {
            if !f.writing.contains_key(&chunk.conversation_id) && f.writing.len() >= 64 {
                f.writing.retain(|_, w| w.since.elapsed() < FORGET_AFTER);
            }
            let w = f
                .writing
                .entry(chunk.conversation_id)
                .or_insert_with(|| Writing {
                    user: chunk.user_id,
                    answer: chunk.answer_id,
                    text: String::new(),
                    since: std::time::Instant::now(),
                });
            // Another answer in the conversation: what is kept is its text alone.
            if w.answer != chunk.answer_id {
                *w = Writing {
                    user: chunk.user_id,
                    answer: chunk.answer_id,
                    text: String::new(),
                    since: std::time::Instant::now(),
                };
            }
            if chunk.restart {
                w.text.clear();
            }
            w.text.push_str(&chunk.delta);
        }
        if let Some(tx) = f.channels.get(&chunk.conversation_id) {
            let _ = tx.send(chunk);
        }
    }
}
