//! The assistant over GraphQL: `askAssistant`, the streamed `assistantReply`, the
//! person's conversations, the providers' health, the company's usage and settings.

pub mod node;

use crate::assistant::Assistant;
use crate::service::{ask, spend, store};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use ils_common::money::{Money, MoneyInput};
use ils_entity::{ai_conversation as conversation, ai_message as message};
use ils_kernel::tools::Toolbox;
use ils_kernel::{AppError, Role, client_info, id, request_parts};
use rust_decimal::Decimal;

pub const CONVERSATION: &str = "AiConversation";
pub const MESSAGE: &str = "AiMessage";

/// Micro-dollars as text (`$0.000210`), for messages.
pub fn usd(micros: i64) -> String {
    format!("${}", Decimal::new(micros, 6).normalize())
}

/// Micro-dollars as `Money` in US dollars.
pub fn money(micros: i64) -> Money {
    Money {
        amount: Decimal::new(micros, 6).normalize(),
        currency: "USD".into(),
    }
}

fn assistant<'a>(ctx: &Context<'a>) -> Result<&'a Assistant, AppError> {
    ctx.data::<Assistant>()
        .map_err(|_| AppError::internal("schema has no assistant"))
}

/// A conversation with the assistant: yours alone (nobody else in your company, admins
/// included, can read it).
pub struct AiConversation(pub conversation::Model);

/// A conversation with the assistant: yours alone (nobody else in your company, admins
/// included, can read it).
#[Object]
impl AiConversation {
    /// The conversation's global ID.
    async fn id(&self) -> ID {
        id::encode(CONVERSATION, self.0.id)
    }

    /// The first question, shortened.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// When it began.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it was last asked something.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Every message, oldest first: questions, the tool calls the assistant made with
    /// their results, and answers (the last 500).
    async fn messages(&self, ctx: &Context<'_>) -> Result<Vec<AiMessage>> {
        let (tenant, db) = request_parts(ctx)?;
        let tx = db.read(tenant).await?;
        let rows = store::messages(&tx, self.0.id, 500).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(AiMessage).collect())
    }
}

/// Who wrote a message.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum AiMessageRole {
    /// The person asking.
    User,
    /// The assistant's answer.
    Assistant,
    /// A tool the assistant called, with its result.
    Tool,
}

/// One message of a conversation.
pub struct AiMessage(pub message::Model);

/// One message of a conversation: a question, a tool call with its result, or an answer.
#[Object]
impl AiMessage {
    /// The message's global ID.
    async fn id(&self) -> ID {
        id::encode(MESSAGE, self.0.id)
    }

    /// Who wrote it.
    async fn role(&self) -> AiMessageRole {
        match self.0.role.as_str() {
            store::USER => AiMessageRole::User,
            store::TOOL => AiMessageRole::Tool,
            _ => AiMessageRole::Assistant,
        }
    }

    /// The text: the question, the answer, or (for a tool call) the tool's result as
    /// JSON, or the error it met.
    async fn content(&self) -> &str {
        &self.0.content
    }

    /// A tool call: the tool's name.
    async fn tool_name(&self) -> Option<&str> {
        self.0.tool_name.as_deref()
    }

    /// A tool call: its arguments (JSON text).
    async fn tool_arguments(&self) -> Option<&str> {
        self.0.tool_arguments.as_deref()
    }

    /// A tool call that failed (`content` says why).
    async fn tool_failed(&self) -> bool {
        self.0.tool_failed
    }

    /// An answer: who gave it (`builtin`, `cache`, `openai`, `anthropic`, `scripted`).
    async fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }

    /// An answer: the model that gave it.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }

    /// An answer: tokens the models read for it, over every round.
    async fn input_tokens(&self) -> i64 {
        self.0.input_tokens
    }

    /// An answer: tokens the models wrote for it.
    async fn output_tokens(&self) -> i64 {
        self.0.output_tokens
    }

    /// An answer: what the model calls behind it cost (US dollars, to the micro-dollar).
    async fn cost(&self) -> Money {
        money(self.0.cost_micros)
    }

    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A model provider's health in this server process.
#[derive(SimpleObject)]
pub struct AiProvider {
    /// Its place in the order tried (0 first).
    pub position: i32,
    /// `openai`, `anthropic`, `scripted`.
    pub provider: String,
    /// The model asked for.
    pub model: String,
    /// UP, FAILING (failed lately, still tried) or SKIPPED (circuit open: failed
    /// repeatedly, not tried until `skippedUntil`).
    pub status: AiProviderStatus,
    /// Calls since the process started.
    pub calls: i64,
    /// Failed calls since the process started.
    pub failures: i64,
    /// Failures in a row.
    pub consecutive_failures: i32,
    /// What the last failure was.
    pub last_error: Option<String>,
    /// When it was.
    pub last_error_at: Option<DateTime<Utc>>,
    /// How long the last call took, in milliseconds.
    pub last_latency_ms: Option<i64>,
    /// Not tried before then.
    pub skipped_until: Option<DateTime<Utc>>,
}

/// A provider's health.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum AiProviderStatus {
    /// Its last call succeeded (or it was not called yet).
    Up,
    /// Its last call failed; it is still tried.
    Failing,
    /// It failed repeatedly and is skipped for a while (its circuit is open).
    Skipped,
}

/// The company's assistant settings.
#[derive(SimpleObject)]
pub struct AiSettings {
    /// Patient names, birth dates and contact details may be sent to an external model
    /// (off: they are withheld from tool results before any leaves the platform).
    pub share_patient_data: bool,
    /// The monthly budget in force: the company's own when it set one, else the
    /// platform's.
    pub monthly_cap: Money,
    /// The platform's monthly budget per company, the most a company may set.
    pub platform_monthly_cap: Money,
    /// Spent on models this calendar month (UTC).
    pub spent_this_month: Money,
}

/// Usage summed for one person, provider and model.
#[derive(SimpleObject)]
pub struct AiUsageLine {
    /// The company. An ID rather than the company: a platform admin's report covers
    /// every company.
    pub company_id: ID,
    /// The person who asked. An ID rather than the user, who may have left.
    pub user_id: ID,
    /// `openai`, `anthropic`, `scripted`.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Model calls.
    pub calls: i64,
    /// Tokens read.
    pub input_tokens: i64,
    /// Tokens written.
    pub output_tokens: i64,
    /// What they cost.
    pub cost: Money,
}

/// The assistant's usage over a period.
#[derive(SimpleObject)]
pub struct AiUsage {
    /// The period's first instant.
    pub from: DateTime<Utc>,
    /// The instant after the period.
    pub to: DateTime<Utc>,
    /// Model calls in all.
    pub calls: i64,
    /// What they cost in all.
    pub total_cost: Money,
    /// By company, person, provider and model.
    pub lines: Vec<AiUsageLine>,
}

/// A period of usage: a calendar month (`2026-12`), or from/to instants.
#[derive(InputObject)]
pub struct AiUsagePeriod {
    /// A calendar month, `YYYY-MM` (UTC).
    pub month: Option<String>,
    /// The first instant (with `to`).
    pub from: Option<DateTime<Utc>>,
    /// The instant after the last (with `from`).
    pub to: Option<DateTime<Utc>>,
}

fn period_of(p: Option<AiUsagePeriod>) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    use chrono::{Months, NaiveDate, TimeZone};
    let bad_month = || AppError::bad_input("period.month", "YYYY-MM, e.g. 2026-12");
    let month = |start: NaiveDate| {
        let from = Utc.from_utc_datetime(&start.and_hms_opt(0, 0, 0)?);
        Some((from, from.checked_add_months(Months::new(1))?))
    };
    match p {
        None => month(spend::month_start(Utc::now()).date_naive())
            .ok_or_else(|| AppError::internal("this month has no end")),
        Some(AiUsagePeriod {
            month: Some(m),
            from: None,
            to: None,
        }) => {
            // Exactly four digits, a dash, two digits (chrono alone takes "+262142-12").
            let plain = m.len() == 7
                && m.bytes().enumerate().all(|(i, b)| {
                    if i == 4 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !plain {
                return Err(bad_month());
            }
            NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                .ok()
                .and_then(month)
                .ok_or_else(bad_month)
        }
        Some(AiUsagePeriod {
            month: None,
            from: Some(from),
            to: Some(to),
        }) if from < to => Ok((from, to)),
        _ => Err(AppError::bad_input(
            "period",
            "either month, or from and to (from before to)",
        )),
    }
}

#[derive(Default)]
pub struct AiQuery;

#[Object]
impl AiQuery {
    /// Your conversations with the assistant, most recent first.
    async fn ai_conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "How many, at most 100.")] first: i32,
    ) -> Result<Vec<AiConversation>> {
        let (tenant, db) = request_parts(ctx)?;
        let first = first.clamp(1, 100) as u64;
        Ok(store::list(db, tenant, first)
            .await?
            .into_iter()
            .map(AiConversation)
            .collect())
    }

    /// One of your conversations; null for anyone else's.
    async fn ai_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's global ID.")] id: ID,
    ) -> Result<Option<AiConversation>> {
        let (tenant, db) = request_parts(ctx)?;
        ils_kernel::authz::require_member(tenant)?;
        let Ok(row_id) = id::decode(CONVERSATION, &id, "id") else {
            return Ok(None);
        };
        let tx = db.read(tenant).await?;
        let row = store::conversations_by_ids(&tx, vec![row_id]).await?;
        tx.commit().await?;
        Ok(row.into_iter().next().map(AiConversation))
    }

    /// The model providers in the order they are tried, with their health in this
    /// server process (company admins and platform admins).
    async fn ai_providers(&self, ctx: &Context<'_>) -> Result<Vec<AiProvider>> {
        let (tenant, _) = request_parts(ctx)?;
        if tenant.is_anonymous() {
            return Err(AppError::unauthenticated().into());
        }
        if !tenant.is_platform_admin() && !tenant.has_role(Role::CompanyAdmin) {
            return Err(AppError::forbidden("company admins and platform admins only").into());
        }
        let a = assistant(ctx)?;
        let now = std::time::Instant::now();
        let wall = Utc::now();
        Ok(a.chain()
            .providers()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let h = p.health();
                let open = h.is_open(now);
                AiProvider {
                    position: i as i32,
                    provider: p.model.provider().to_owned(),
                    model: p.model.model().to_owned(),
                    status: if open {
                        AiProviderStatus::Skipped
                    } else if h.consecutive_failures > 0 {
                        AiProviderStatus::Failing
                    } else {
                        AiProviderStatus::Up
                    },
                    calls: h.calls as i64,
                    failures: h.failures as i64,
                    consecutive_failures: h.consecutive_failures as i32,
                    last_error: h.last_error,
                    last_error_at: h.last_error_at,
                    last_latency_ms: h.last_latency.map(|d| d.as_millis() as i64),
                    skipped_until: h
                        .open_until
                        .filter(|t| *t > now)
                        .and_then(|t| chrono::Duration::from_std(t - now).ok())
                        .map(|d| wall + d),
                }
            })
            .collect())
    }

    /// Your company's assistant settings and this month's spend.
    async fn ai_settings(&self, ctx: &Context<'_>) -> Result<AiSettings> {
        let (tenant, db) = request_parts(ctx)?;
        ils_kernel::authz::require_member(tenant)?;
        let platform = assistant(ctx)?.settings().monthly_cap_micros;
        let tx = db.read(tenant).await?;
        let s = spend::settings(&tx).await?;
        let spent = spend::spent_in_month(&tx, Utc::now()).await?;
        tx.commit().await?;
        Ok(settings_view(s, platform, spent))
    }

    /// The assistant's usage over a period (this month by default): your company's for a
    /// company admin, every company's for a platform admin.
    async fn ai_usage(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period; this calendar month (UTC) when left out.")] period: Option<
            AiUsagePeriod,
        >,
    ) -> Result<AiUsage> {
        let (tenant, db) = request_parts(ctx)?;
        spend::may_read_usage(tenant)?;
        let (from, to) = period_of(period)?;
        let lines = spend::report(db, tenant, from, to).await?;
        Ok(AiUsage {
            from,
            to,
            calls: lines.iter().map(|l| l.calls).sum(),
            total_cost: money(lines.iter().map(|l| l.cost_micros).sum()),
            lines: lines
                .into_iter()
                .map(|l| AiUsageLine {
                    company_id: id::encode("Company", l.company_id),
                    user_id: id::encode("User", l.user_id),
                    provider: l.provider,
                    model: l.model,
                    calls: l.calls,
                    input_tokens: l.input_tokens,
                    output_tokens: l.output_tokens,
                    cost: money(l.cost_micros),
                })
                .collect(),
        })
    }
}

fn settings_view(s: spend::Settings, platform: i64, spent: i64) -> AiSettings {
    AiSettings {
        share_patient_data: s.share_patient_data,
        monthly_cap: money(s.monthly_cap_micros.map_or(platform, |c| c.min(platform))),
        platform_monthly_cap: money(platform),
        spent_this_month: money(spent),
    }
}

/// What `askAssistant` takes.
#[derive(InputObject)]
pub struct AskAssistantInput {
    /// Your conversation to continue; none starts a new one.
    pub conversation_id: Option<ID>,
    /// The question, 1 to 4000 characters.
    pub message: String,
}

/// What `askAssistant` gives back.
#[derive(SimpleObject)]
pub struct AskAssistantPayload {
    /// The conversation (new, or the one continued).
    pub conversation: AiConversation,
    /// Your question, as stored.
    pub question: AiMessage,
    /// The tool calls behind the answer, with their results.
    pub tool_calls: Vec<AiMessage>,
    /// The answer.
    pub answer: AiMessage,
}

/// What `updateAiSettings` takes; a field left out stays as it is.
#[derive(InputObject)]
pub struct UpdateAiSettingsInput {
    /// Let patient names, birth dates and contact details reach external models.
    pub share_patient_data: Option<bool>,
    /// The company's own monthly budget, in USD, at most the platform's.
    pub monthly_cap: Option<MoneyInput>,
    /// Go back to the platform's monthly budget.
    pub clear_monthly_cap: Option<bool>,
}

/// What `updateAiSettings` gives back.
#[derive(SimpleObject)]
pub struct UpdateAiSettingsPayload {
    /// The settings now.
    pub ai_settings: AiSettings,
}

#[derive(Default)]
pub struct AiMutation;

#[Object]
impl AiMutation {
    /// Asks the assistant about your company's data. It answers from your own data only,
    /// reading it with your permissions; it may prepare drafts (never submit or approve
    /// anything). The answer is complete when this returns; to see it written token by
    /// token, subscribe to `assistantReply` for the conversation first. Refused with
    /// QUOTA_EXCEEDED when your company's monthly budget is spent and the built-in
    /// assistant does not know the question.
    async fn ask_assistant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The question, and the conversation it continues.")]
        input: AskAssistantInput,
    ) -> Result<AskAssistantPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let conversation = match &input.conversation_id {
            Some(c) => Some(id::decode(CONVERSATION, c, "input.conversationId")?),
            None => None,
        };
        let toolbox = ctx
            .data::<Toolbox>()
            .map_err(|_| AppError::internal("schema has no toolbox"))?;
        let asked = ask::ask(
            db,
            tenant,
            &client_info(ctx),
            assistant(ctx)?,
            toolbox,
            conversation,
            &input.message,
        )
        .await?;
        Ok(AskAssistantPayload {
            conversation: AiConversation(asked.conversation),
            question: AiMessage(asked.question),
            tool_calls: asked.tool_messages.into_iter().map(AiMessage).collect(),
            answer: AiMessage(asked.answer),
        })
    }

    /// Changes your company's assistant settings (company admins).
    async fn update_ai_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings to change.")] input: UpdateAiSettingsInput,
    ) -> Result<UpdateAiSettingsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        spend::may_change_settings(tenant)?;
        let platform = assistant(ctx)?.settings().monthly_cap_micros;
        let cap = match &input.monthly_cap {
            None => None,
            Some(m) => {
                let mut errors = ils_kernel::FieldErrors::default();
                let Some(m) = m.check("input.monthlyCap", false, &mut errors) else {
                    return Err(AppError::invalid("", errors.into_vec()).into());
                };
                if m.currency != "USD" {
                    return Err(AppError::bad_input(
                        "input.monthlyCap.currency",
                        "the assistant's prices are in USD",
                    )
                    .into());
                }
                let too_large = || AppError::bad_input("input.monthlyCap.amount", "too large");
                let micros = m
                    .amount
                    .checked_mul(Decimal::new(1_000_000, 0))
                    .ok_or_else(too_large)?
                    .trunc();
                Some(i64::try_from(micros).map_err(|_| too_large())?)
            }
        };
        let s = spend::update(
            db,
            tenant,
            platform,
            input.share_patient_data,
            cap,
            input.clear_monthly_cap.unwrap_or(false),
        )
        .await?;
        let tx = db.read(tenant).await?;
        let spent = spend::spent_in_month(&tx, Utc::now()).await?;
        tx.commit().await?;
        Ok(UpdateAiSettingsPayload {
            ai_settings: settings_view(s, platform, spent),
        })
    }
}

/// A piece of the assistant's answer as it is written.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AssistantReplyChunk {
    /// The conversation.
    pub conversation: AiConversation,
    /// Text added to the answer.
    pub delta: String,
    /// Discard the text received so far: a model failed mid-answer and the next one
    /// starts again.
    pub restart: bool,
    /// The answer ended: `message` is the stored answer, unless `failed`.
    pub done: bool,
    /// The answer could not be completed (an error, or the asker went away before it
    /// was written); nothing was stored as the answer.
    pub failed: bool,
    #[graphql(skip)]
    pub message_id: Option<uuid::Uuid>,
}

#[async_graphql::ComplexObject]
impl AssistantReplyChunk {
    /// The stored answer, on the last chunk.
    async fn message(&self, ctx: &Context<'_>) -> Result<Option<AiMessage>> {
        let Some(id) = self.message_id else {
            return Ok(None);
        };
        let (tenant, db) = request_parts(ctx)?;
        let tx = db.read(tenant).await?;
        let rows = store::messages_by_ids(&tx, vec![id]).await?;
        tx.commit().await?;
        Ok(rows.into_iter().next().map(AiMessage))
    }
}

#[derive(Default)]
pub struct AiSubscription;

#[Subscription]
impl AiSubscription {
    /// The assistant's answers in one of your conversations, token by token, as they are
    /// written. Subscribing mid-answer, the first chunk carries the text written so far;
    /// the stored answers are in `aiConversation`. The subscription goes on answer after
    /// answer. NOT_FOUND for anyone else's conversation.
    async fn assistant_reply(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "One of your conversations.")] conversation_id: ID,
    ) -> Result<impl Stream<Item = AssistantReplyChunk> + use<>> {
        let (tenant, db) = request_parts(ctx)?;
        ils_kernel::authz::require_member(tenant)?;
        let user = tenant
            .user_id()
            .ok_or_else(|| AppError::forbidden("conversations are people's, not API keys'"))?;
        let row_id = id::decode(CONVERSATION, &conversation_id, "conversationId")?;
        let tx = db.read(tenant).await?;
        let conv = store::conversation(&tx, row_id).await?;
        tx.commit().await?;
        let (rx, so_far) = assistant(ctx)?.follow(conv.id);
        // Mid-answer, the text written so far comes first.
        let first = so_far
            .filter(|(person, text)| *person == user && !text.is_empty())
            .map(|(_, text)| AssistantReplyChunk {
                conversation: AiConversation(conv.clone()),
                delta: text,
                restart: false,
                done: false,
                failed: false,
                message_id: None,
            });
        let live = futures_util::stream::unfold(
            (rx, conv, false),
            move |(mut rx, conv, finished)| async move {
                if finished {
                    return None;
                }
                loop {
                    match rx.recv().await {
                        Ok(c) if c.user_id == user && c.conversation_id == conv.id => {
                            let chunk = AssistantReplyChunk {
                                conversation: AiConversation(conv.clone()),
                                delta: c.delta,
                                restart: c.restart,
                                done: c.done,
                                failed: c.failed,
                                message_id: c.message_id,
                            };
                            // The stream goes on after an answer: the next question's
                            // answer follows on the same subscription.
                            return Some((chunk, (rx, conv, false)));
                        }
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "a reply follower fell behind");
                            continue;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        );
        Ok(futures_util::StreamExt::chain(
            futures_util::stream::iter(first),
            live,
        ))
    }
}
