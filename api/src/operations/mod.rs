//! Persisted operations for partners (trusted documents): operation lists with versions,
//! published as Apollo manifests, graphql-codegen/Relay maps or folders of `.graphql`
//! files, granted to API keys, and run by ID (`documentId`, or Apollo's
//! `extensions.persistedQuery`) over POST, GET and the WebSocket. Also the automatic
//! persisted queries of signed-in users and the `ILS_OPERATIONS` mode for first-party
//! traffic. The request path is in `transport` and `ws_protocol`; this module holds the
//! lists (`store`), the checks (`check`), the caches (`runtime`), the manifest formats
//! (`manifest`) and the GraphQL surface below.

pub mod check;
pub mod gate;
mod lexer;
pub mod manifest;
pub mod runtime;
pub mod store;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};
use ils_entity::{operation_list, operation_list_version, operation_usage, persisted_document};
use ils_kernel::{AppError, id, request_parts};
use std::sync::Arc;

/// A document that passed every check, ready to store.
pub struct Checked {
    pub document: manifest::Document,
    /// QUERY, MUTATION or SUBSCRIPTION (its first operation).
    pub kind: &'static str,
    pub canonical: String,
}

pub const OPERATION_LIST: &str = "OperationList";
pub const OPERATION_LIST_VERSION: &str = "OperationListVersion";

/// The operations module, as the server assembles it.
pub struct Operations;

impl ils_kernel::Module for Operations {
    const NAME: &'static str = "operations";
    type Query = OperationsQuery;
    type Mutation = OperationsMutation;
    type Subscription = ils_kernel::module::NoSubscription;

    fn node_types() -> Vec<ils_kernel::node::NodeType> {
        vec![
            ils_kernel::node::NodeType::of::<OperationList>(),
            ils_kernel::node::NodeType::of::<OperationListVersion>(),
        ]
    }

    fn fetch_nodes(req: ils_kernel::node::NodeRequest<'_>) -> ils_kernel::node::NodeFetch<'_> {
        Box::pin(fetch_nodes(req))
    }

    fn tables() -> Vec<ils_kernel::module::Table> {
        use ils_entity::*;
        vec![
            ils_kernel::module::Table::of::<operation_list::Entity>(),
            ils_kernel::module::Table::of::<operation_list_version::Entity>(),
            ils_kernel::module::Table::of::<persisted_document::Entity>(),
            ils_kernel::module::Table::of::<api_key_operation_list::Entity>(),
            ils_kernel::module::Table::of::<operation_usage::Entity>(),
        ]
    }
}

/// Reads a manifest and checks every document in it; BAD_USER_INPUT when any is wrong,
/// one error per problem (the first carries the rest until the response is written, as
/// every multi-problem refusal does), each on `input.manifest.<document ID>` (or
/// `input.manifest` when the problem is the manifest's own).
pub async fn read_and_check(checker: &check::Checker, bytes: &[u8]) -> Result<Vec<Checked>> {
    let docs = manifest::parse(bytes).map_err(refused)?;
    checker.check(docs).await.map_err(refused)
}

/// The error a refused manifest answers.
pub fn refused(problems: Vec<manifest::Problem>) -> async_graphql::Error {
    AppError::invalid(
        "input.manifest",
        problems.into_iter().map(|p| ils_kernel::error::FieldError {
            field: p.id.unwrap_or_default(),
            message: match p.name {
                Some(name) => format!("{name}: {}", p.message),
                None => p.message,
            },
        }),
    )
    .into()
}

/// Publishes `examples` (`(name, text)`) as the platform's list `name`, unless an ACTIVE
/// version of it already holds every one: development's playground list, kept in step
/// with the examples the server embeds. Returns whether it published.
pub async fn publish_examples(
    db: &ils_kernel::Db,
    checker: &check::Checker,
    name: &str,
    examples: &[(String, String)],
) -> anyhow::Result<bool> {
    let active: std::collections::HashSet<String> = store::active_documents(db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .filter(|(list, _, _)| list.name == name && list.company_id.is_none())
        .map(|(_, _, doc)| doc.hash)
        .collect();
    let docs: Vec<manifest::Document> = examples
        .iter()
        .map(|(_, text)| manifest::Document {
            id: manifest::sha256_hex(text),
            body: text.clone(),
            name: async_graphql::parser::parse_query(text).ok().and_then(|d| {
                d.operations
                    .iter()
                    .next()
                    .and_then(|(n, _)| n.map(|n| n.to_string()))
            }),
        })
        .collect();
    if docs.iter().all(|d| active.contains(&d.id)) {
        return Ok(false);
    }
    let checked = checker.check(docs).await.map_err(|problems| {
        anyhow::anyhow!(
            "the examples do not pass against the schema: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    store::publish(db, store::Publisher::Operator, name, &checked)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(true)
}

/// What `ils operations` does.
pub enum Command {
    Publish {
        list: String,
        path: std::path::PathBuf,
    },
    Check,
}

/// `ils operations publish|check`, on the server's database, as the operator.
pub async fn cli(
    db: &ils_kernel::Db,
    checker: &check::Checker,
    command: Command,
) -> anyhow::Result<()> {
    let report = |problems: &[manifest::Problem]| {
        for p in problems {
            eprintln!("  {p}");
        }
    };
    match command {
        Command::Publish { list, path } => {
            let name = list_name(&list).map_err(|e| anyhow::anyhow!("{e}"))?;
            let docs = if path.is_dir() {
                manifest::from_folder(&path)
            } else {
                let bytes = std::fs::read(&path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                manifest::parse(&bytes)
            };
            let docs = match docs {
                Ok(d) => d,
                Err(problems) => {
                    report(&problems);
                    anyhow::bail!(
                        "the manifest was refused ({} problems); nothing was stored",
                        problems.len()
                    );
                }
            };
            let started = std::time::Instant::now();
            let checked = match checker.check(docs).await {
                Ok(c) => c,
                Err(problems) => {
                    report(&problems);
                    anyhow::bail!(
                        "the manifest was refused ({} problems); nothing was stored",
                        problems.len()
                    );
                }
            };
            let (list, version) = store::publish(db, store::Publisher::Operator, &name, &checked)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "published {} version {} ({} documents, {} ms); grant it to an API key as {:?}",
                list.name,
                version.version,
                version.document_count,
                started.elapsed().as_millis(),
                list.name
            );
            Ok(())
        }
        Command::Check => {
            let active = store::active_documents(db)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let total = active.len();
            let mut broken = 0;
            for (list, version, doc) in active {
                let document = manifest::Document {
                    id: doc.hash.clone(),
                    body: doc.body.clone(),
                    name: doc.name.clone(),
                };
                if let Err(problems) = checker.check(vec![document]).await {
                    broken += 1;
                    eprintln!(
                        "{} version {} ({}):",
                        list.name,
                        version.version,
                        if list.company_id.is_some() {
                            "a company's list"
                        } else {
                            "platform"
                        }
                    );
                    report(&problems);
                }
            }
            if broken > 0 {
                anyhow::bail!(
                    "{broken} of {total} active documents no longer pass against this schema"
                );
            }
            println!("all {total} active documents pass against this schema");
            Ok(())
        }
    }
}

fn runtime<'a>(ctx: &Context<'a>) -> Result<&'a Arc<runtime::Runtime>> {
    ctx.data::<Arc<runtime::Runtime>>()
        .map_err(|_| AppError::internal("no operations runtime").into())
}

/// The operation lists you can read.
#[derive(Default)]
pub struct OperationsQuery;

#[Object]
impl OperationsQuery {
    /// The operation lists you can see: your company's own and the platform's (platform
    /// admins see every list). Company members.
    async fn operation_lists(&self, ctx: &Context<'_>) -> Result<Vec<OperationList>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(store::lists(db, tenant)
            .await?
            .into_iter()
            .map(OperationList)
            .collect())
    }
}

/// The next version of an operation list, from a manifest.
#[derive(InputObject)]
pub struct PublishOperationsInput {
    /// The list's name (the partner application, e.g. `acme-pms`; 1 to 100 characters of
    /// letters, digits, `.`, `_` and `-`). A company admin publishes the company's own
    /// list; a platform admin the platform's, which any company may grant to its keys.
    pub list: String,
    /// An Apollo persisted query manifest (version 1), a `{ "<sha256>": "<document>" }`
    /// map (graphql-codegen's client preset, Relay), or one GraphQL document. Each ID
    /// must be the SHA-256 of its document, and every document must be valid against the
    /// current schema and limits.
    pub manifest: Upload,
}

/// The list version to retire.
#[derive(InputObject)]
pub struct RetireOperationListVersionInput {
    /// The version's ID.
    pub id: ID,
    /// Retire it even though its documents ran in the last 7 days (false when omitted
    /// or null).
    pub force: Option<bool>,
}

/// What `publishOperations` gives: the list and its new version.
#[derive(SimpleObject)]
pub struct PublishOperationsPayload {
    /// The list (made by its first publish).
    pub list: OperationList,
    /// The version just published, ACTIVE.
    pub version: OperationListVersion,
}

/// What `retireOperationListVersion` gives: the version, RETIRED.
#[derive(SimpleObject)]
pub struct RetireOperationListVersionPayload {
    /// The version, RETIRED.
    pub version: OperationListVersion,
}

/// Publishing and retiring operation lists.
#[derive(Default)]
pub struct OperationsMutation;

#[Object]
impl OperationsMutation {
    /// Publishes a new version of an operation list from a manifest (company admins: the
    /// company's list; platform admins: the platform's). The whole manifest is checked
    /// first: one bad document refuses it with every problem listed
    /// (`extensions.problems`: `id`, `name`, `message`) and nothing stored. The version is
    /// ACTIVE at once; keys granted the list run its documents by ID.
    async fn publish_operations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The list and the manifest.")] input: PublishOperationsInput,
    ) -> Result<PublishOperationsPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let name = list_name(&input.list)?;
        let (_, bytes) =
            ils_kernel::files::Files::read_upload(ctx, input.manifest, "input.manifest").await?;
        let checker = ctx
            .data::<Arc<check::Checker>>()
            .map_err(|_| AppError::internal("no document checker"))?;
        let docs = read_and_check(checker, &bytes).await?;
        let (list, version) =
            store::publish(db, store::Publisher::Caller(tenant), &name, &docs).await?;
        runtime(ctx)?.forget();
        Ok(PublishOperationsPayload {
            list: OperationList(list),
            version: OperationListVersion(version),
        })
    }

    /// Retires a list version: its documents stop running by ID on every server within a
    /// second. CONFLICT when any of them ran in the last 7 days, unless `force`.
    async fn retire_operation_list_version(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version, and whether to force it.")]
        input: RetireOperationListVersionInput,
    ) -> Result<RetireOperationListVersionPayload> {
        let (tenant, db) = request_parts(ctx)?;
        let id = id::decode(OPERATION_LIST_VERSION, &input.id, "input.id")?;
        let version = store::retire(
            db,
            store::Publisher::Caller(tenant),
            id,
            input.force.unwrap_or(false),
        )
        .await?;
        runtime(ctx)?.forget();
        Ok(RetireOperationListVersionPayload {
            version: OperationListVersion(version),
        })
    }
}

/// Lists and versions by global ID, through the guard (one query per type).
async fn fetch_nodes(
    req: ils_kernel::node::NodeRequest<'_>,
) -> ils_kernel::AppResult<Vec<Option<ils_kernel::node::AnyNode>>> {
    if !req.asks_for(&[OPERATION_LIST, OPERATION_LIST_VERSION]) {
        return Ok(req.none_found());
    }
    let tx = req.db.read(req.tenant).await?;
    let mut found = ils_kernel::node::Found::default();
    for m in tx
        .find_many::<operation_list::Entity>(req.ids_of(OPERATION_LIST))
        .await?
    {
        found.insert(OPERATION_LIST, m.id, OperationList(m));
    }
    for m in tx
        .find_many::<operation_list_version::Entity>(req.ids_of(OPERATION_LIST_VERSION))
        .await?
    {
        found.insert(OPERATION_LIST_VERSION, m.id, OperationListVersion(m));
    }
    tx.commit().await?;
    Ok(req.answer(found))
}

/// A valid list name, trimmed.
pub fn list_name(name: &str) -> std::result::Result<String, AppError> {
    let name = name.trim();
    let ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name.to_owned())
    } else {
        Err(AppError::bad_input(
            "input.list",
            "a list name is 1 to 100 letters, digits, `.`, `_` or `-`",
        ))
    }
}

/// A named list of trusted operations (a partner application's), with its versions. API
/// keys granted it run the documents of its ACTIVE versions by ID.
pub struct OperationList(pub operation_list::Model);

/// A named list of trusted operations (a partner application's), with its versions. API
/// keys granted it run the documents of its ACTIVE versions by ID.
#[Object]
impl OperationList {
    /// The list's global ID.
    async fn id(&self) -> ID {
        id::encode(OPERATION_LIST, self.0.id)
    }
    /// The list's name, by which API keys are granted it.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Whether it is the platform's (any company may grant it) rather than a company's.
    async fn platform(&self) -> bool {
        self.0.company_id.is_none()
    }
    /// When its first version was published.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its versions, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<OperationListVersion>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(store::versions(db, tenant, self.0.id)
            .await?
            .into_iter()
            .map(OperationListVersion)
            .collect())
    }
}

/// One published version of a list: the documents of one manifest.
pub struct OperationListVersion(pub operation_list_version::Model);

/// One published version of a list: the documents of one manifest.
#[Object]
impl OperationListVersion {
    /// The version's global ID (for `retireOperationListVersion`).
    async fn id(&self) -> ID {
        id::encode(OPERATION_LIST_VERSION, self.0.id)
    }
    /// 1 for the first version, then 2, 3, …
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// ACTIVE (its documents run) or RETIRED.
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// How many documents it holds.
    async fn document_count(&self) -> i32 {
        self.0.document_count
    }
    /// When it was published.
    async fn published_at(&self) -> DateTime<Utc> {
        self.0.published_at
    }
    /// When it was retired; null while ACTIVE.
    async fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.0.retired_at
    }
    /// Its documents, by name (at most `first`, 1 to 1000).
    async fn documents(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 100,
            validator(minimum = 1, maximum = 1000),
            desc = "How many documents (1 to 1000; 100 when omitted)."
        )]
        first: i32,
    ) -> Result<Vec<PersistedDocument>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(store::documents(db, tenant, self.0.id, first as u64)
            .await?
            .into_iter()
            .map(PersistedDocument)
            .collect())
    }
}

/// One trusted document of a list version.
pub struct PersistedDocument(pub persisted_document::Model);

/// One trusted document of a list version.
#[Object]
impl PersistedDocument {
    /// The document's ID: the SHA-256 of its text, in hex. Send it as `documentId`
    /// (optionally `sha256:`-prefixed) or as `extensions.persistedQuery.sha256Hash`.
    async fn id(&self) -> &str {
        &self.0.hash
    }
    /// Its (first) operation's name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// QUERY, MUTATION or SUBSCRIPTION.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// The document's text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// How often each caller you may see ran it (written every few seconds).
    async fn usage(&self, ctx: &Context<'_>) -> Result<Vec<OperationUsage>> {
        let (tenant, db) = request_parts(ctx)?;
        Ok(store::usage(db, tenant, &self.0.hash)
            .await?
            .into_iter()
            .map(|(usage, key)| OperationUsage(usage, key))
            .collect())
    }
}

/// How often one caller ran one document.
pub struct OperationUsage(
    pub operation_usage::Model,
    /// Its key, read with it when the reader may see keys.
    pub Option<ils_entity::api_key::Model>,
);

/// How often one caller ran one document.
#[Object]
impl OperationUsage {
    /// The API key that ran it (visible to its company's admins); null for people signed
    /// in, and for another company's key.
    async fn api_key(&self) -> Option<ils_tenancy::graphql::types::ApiKey> {
        self.1.clone().map(ils_tenancy::graphql::types::ApiKey)
    }
    /// How many times it ran.
    async fn count(&self) -> i64 {
        self.0.count
    }
    /// Runs that answered with errors.
    async fn errors(&self) -> i64 {
        self.0.errors
    }
    /// When it last ran.
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.0.last_seen_at
    }
}
