//! The CSV import pipeline, one for every target (a supplier's catalog here, a company's
//! products in the inventory module). The upload is checked whole before anything is
//! written (a file that is not a CSV of the target's [`Layout`] fails with one error and
//! leaves no trace), kept in the file store, and imported by a background job in batches:
//! upsert by SKU, per-row errors that never block valid rows, and progress after every
//! batch (a query, a progress subscription, and the target's `*.import.*` events). Each
//! batch commits its rows together with the progress that counts them, so a retried job
//! resumes where the last commit left it; importing the same file twice changes nothing.
//!
//! A target says what its rows are and how a batch is written ([`ImportTarget`]);
//! [`import_fields!`](crate::import_fields) gives it its GraphQL fields.

use crate::catalog::csv::{self, Layout, RowError};
use async_graphql::{ComplexObject, ID, Object, SimpleObject, TypeName};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use ils_entity::data_import as import;
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::jobs::{JobError, JobKind, JobPayload, JobRun, NewJob, handler};
use ils_kernel::pagination::Page;
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Bus, Db, DomainEvent, TenantContext, Tx, id};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, Select};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;
use uuid::Uuid;

pub use futures_util::Stream as ProgressStream;
pub use ils_entity::data_import::ImportStatus;
pub use ils_kernel::pagination::Page as ImportConnection;
pub use ils_kernel::pagination::PageArgs as ImportPage;

/// The GraphQL fields of one import target `$target` (the `what` of its docs): a query
/// object `$query` with `$one(id)` and `$list(first, after, last, before)`, a mutation
/// object `$mutation` with `$upload(input: { file })` (its docs given before it) returning
/// a payload that holds the new import under `$one`, and a subscription object
/// `$subscription` with `$progress(importId)`, each a thin resolver over
/// [`imports`](crate::imports). The mutation's input and payload are named for it
/// (`importCatalog` → `ImportCatalogInput`, `ImportCatalogPayload`); in Rust they are the
/// calling module's `UploadInput` and `UploadPayload`.
#[macro_export]
macro_rules! import_fields {
    (
        target: $target:ty,
        what: $what:literal,
        query: $query:ident { $one:ident, $list:ident },
        mutation: $mutation:ident { $(#[$doc:meta])* $upload:ident },
        subscription: $subscription:ident { $progress:ident } $(,)?
    ) => {
        #[derive(Default)]
        pub struct $query;

        #[::async_graphql::Object]
        impl $query {
            #[doc = concat!("One of your company's ", $what, " imports; null when it is not yours.")]
            async fn $one(
                &self,
                ctx: &::async_graphql::Context<'_>,
                #[graphql(desc = "The import's global ID.")] id: ::async_graphql::ID,
            ) -> ::async_graphql::Result<Option<$crate::imports::Import<$target>>> {
                Ok($crate::imports::find::<$target>(ctx, &id).await?)
            }

            #[doc = concat!("Your company's ", $what, " imports, oldest first (`last: N` for the newest).")]
            async fn $list(
                &self,
                ctx: &::async_graphql::Context<'_>,
                first: Option<i32>,
                after: Option<String>,
                last: Option<i32>,
                before: Option<String>,
            ) -> ::async_graphql::Result<
                $crate::imports::ImportConnection<$crate::imports::Import<$target>>,
            > {
                let page = $crate::imports::ImportPage::new(ctx, first, after, last, before);
                Ok($crate::imports::list::<$target>(ctx, page).await?)
            }
        }

        #[doc = concat!("What the ", $what, " import's upload mutation takes: the file.")]
        #[derive(::async_graphql::InputObject)]
        #[graphql(name_type)]
        pub struct UploadInput {
            /// The CSV file (UTF-8, a header row first; comma, semicolon or tab separated),
            /// sent as a part of a GraphQL multipart request.
            pub file: ::async_graphql::Upload,
        }

        impl ::async_graphql::TypeName for UploadInput {
            fn type_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Owned($crate::imports::mutation_type(stringify!($upload), "Input"))
            }
        }

        #[doc = concat!("What the ", $what, " import's upload mutation returns.")]
        #[derive(::async_graphql::SimpleObject)]
        #[graphql(name_type)]
        pub struct UploadPayload {
            #[doc = concat!("The new ", $what, " import, QUEUED (or already under way).")]
            pub $one: $crate::imports::Import<$target>,
        }

        impl ::async_graphql::TypeName for UploadPayload {
            fn type_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Owned($crate::imports::mutation_type(stringify!($upload), "Payload"))
            }
        }

        #[derive(Default)]
        pub struct $mutation;

        #[::async_graphql::Object]
        impl $mutation {
            $(#[$doc])*
            async fn $upload(
                &self,
                ctx: &::async_graphql::Context<'_>,
                #[graphql(desc = "The CSV file to import.")] input: UploadInput,
            ) -> ::async_graphql::Result<UploadPayload> {
                Ok(UploadPayload {
                    $one: $crate::imports::upload::<$target>(ctx, input.file).await?,
                })
            }
        }

        #[derive(Default)]
        pub struct $subscription;

        #[::async_graphql::Subscription]
        impl $subscription {
            #[doc = concat!(
                "The progress of one of your company's ", $what,
                " imports: its status now, then\nafter every batch, ending with COMPLETED or FAILED."
            )]
            async fn $progress(
                &self,
                ctx: &::async_graphql::Context<'_>,
                #[graphql(desc = "The global ID of the import to follow (one of your company's).")]
                import_id: ::async_graphql::ID,
            ) -> ::async_graphql::Result<
                impl $crate::imports::ProgressStream<Item = $crate::imports::ImportProgress<$target>>
                + use<>,
            > {
                Ok($crate::imports::watch::<$target>(ctx, &import_id).await?)
            }
        }
    };
}

/// The GraphQL type name of an upload mutation's input or payload: the mutation's Rust
/// name in PascalCase and `suffix` (`import_catalog`, `Input` → `ImportCatalogInput`).
pub fn mutation_type(mutation: &str, suffix: &str) -> String {
    let mut name: String = mutation
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    name.push_str(suffix);
    name
}

/// Rows per transaction (and per progress report).
pub const BATCH: usize = 500;
/// Row errors kept for reading; the count covers them all.
pub const MAX_KEPT_ERRORS: usize = 1000;

/// What a CSV file is imported into.
pub trait ImportTarget: Clone + Send + Sync + 'static {
    /// The GraphQL object's name, which is also its global ID prefix (`CatalogImport`).
    const NAME: &'static str;
    /// The GraphQL names of its row errors and of its progress reports.
    const ERROR_NAME: &'static str;
    const PROGRESS_NAME: &'static str;
    /// `data_imports.target`.
    const TARGET: &'static str;
    /// The job kind that runs its imports.
    const JOB: &'static str;
    /// The event types of its progress reports (`catalog.import.progress`, …).
    const PROGRESS_EVENT: &'static str;
    const COMPLETED_EVENT: &'static str;
    const FAILED_EVENT: &'static str;
    /// The file store folder of its uploads, and the name of an upload sent without one.
    const FOLDER: &'static str;
    const FILE_NAME: &'static str;
    /// Said when an import is started while another of the company's is under way.
    const BUSY: &'static str;

    /// A checked row, ready to write.
    type Row: Send + Sync + 'static;

    /// The file's columns and how a row is read and checked.
    fn layout() -> &'static Layout<Self::Row>;

    /// The row's SKU: a SKU given again later in the same file is an error on that row.
    fn sku(row: &Self::Row) -> &str;

    /// A transaction for the caller's import, once the caller may run one (the check comes
    /// before the upload is read).
    fn authorise(db: &Db, ctx: &TenantContext) -> impl Future<Output = AppResult<Tx>> + Send;

    /// Writes one batch's valid rows (with their lines, in file order): upsert by SKU.
    fn apply(
        tx: &Tx,
        rows: &[(usize, &Self::Row)],
    ) -> impl Future<Output = AppResult<Applied>> + Send;
}

/// What a batch did. A row refused only when written (what the stored data decide) is in
/// `refused`, with one error: each entry counts as one failed row.
#[derive(Default, Debug)]
pub struct Applied {
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub refused: Vec<RowError>,
}

/// A row the import could not take, and why.
#[derive(SimpleObject, Clone)]
#[graphql(name_type)]
pub struct ImportRowError<T: ImportTarget> {
    /// The line in the file (the header is line 1).
    pub row: i32,
    /// The CSV column, when the problem is in one cell.
    pub column: Option<String>,
    /// What is wrong, for the user (`"required"`, `"at most 64 characters"`).
    pub message: String,
    #[graphql(skip)]
    target: PhantomData<T>,
}

impl<T: ImportTarget> TypeName for ImportRowError<T> {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(T::ERROR_NAME)
    }
}

/// One import of a CSV file and how far it has got.
#[derive(Clone)]
pub struct Import<T: ImportTarget>(pub import::Model, PhantomData<T>);

impl<T: ImportTarget> Import<T> {
    pub fn new(row: import::Model) -> Self {
        Import(row, PhantomData)
    }
}

impl<T: ImportTarget> TypeName for Import<T> {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(T::NAME)
    }
}

/// One upload of a CSV file and the background import of its rows: upserted by SKU in
/// batches, with per-row errors that never stop the valid rows.
#[Object(name_type)]
impl<T: ImportTarget> Import<T> {
    /// The import's global ID.
    pub async fn id(&self) -> ID {
        id::encode(T::NAME, self.0.id)
    }
    /// The uploaded file's name, as the client sent it.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    /// The file's size in bytes.
    async fn byte_size(&self) -> i64 {
        self.0.byte_size
    }
    /// Where the import stands: QUEUED, RUNNING, then COMPLETED or FAILED.
    async fn status(&self) -> ImportStatus {
        self.0.status
    }
    /// Data rows in the file.
    async fn total_rows(&self) -> i32 {
        self.0.total_rows
    }
    /// Rows handled so far (imported or failed); equals `totalRows` when COMPLETED.
    async fn processed_rows(&self) -> i32 {
        self.0.processed_rows
    }
    /// Rows added.
    async fn created(&self) -> i32 {
        self.0.created_count
    }
    /// Rows that changed what was stored.
    async fn updated(&self) -> i32 {
        self.0.updated_count
    }
    /// Rows that matched what was stored already.
    async fn unchanged(&self) -> i32 {
        self.0.unchanged_count
    }
    /// Rows not imported (see `errors`).
    async fn failed(&self) -> i32 {
        self.0.error_count
    }
    /// The rows not imported and why, in file order (the first 1,000 are kept).
    async fn errors(
        &self,
        #[graphql(
            default = 100,
            validator(minimum = 0, maximum = 1000),
            desc = "How many errors to return, from the first: 0..1000 (default 100)."
        )]
        first: i32,
    ) -> Vec<ImportRowError<T>> {
        kept_errors(&self.0)
            .into_iter()
            .take(first as usize)
            .map(|e| ImportRowError {
                row: i32::try_from(e.row).unwrap_or(i32::MAX),
                column: e.column,
                message: e.message,
                target: PhantomData,
            })
            .collect()
    }
    /// Why the whole import failed, when it did.
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
    /// When the file was uploaded.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the import COMPLETED or FAILED; null until then.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

fn kept_errors(m: &import::Model) -> Vec<RowError> {
    serde_json::from_str(&m.errors).unwrap_or_default()
}

/// How far an import has got: what the progress subscription streams and the import
/// events carry (the events name the import by `importId`).
#[derive(SimpleObject, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[graphql(name_type, complex)]
#[serde(rename_all = "camelCase", bound = "")]
pub struct ImportProgress<T: ImportTarget> {
    #[graphql(skip)]
    pub import_id: ID,
    /// Where the import stands: QUEUED, RUNNING, then COMPLETED or FAILED.
    pub status: ImportStatus,
    /// Data rows in the file.
    pub total_rows: i32,
    /// Rows handled so far (imported or failed).
    pub processed_rows: i32,
    /// Rows added so far.
    pub created: i32,
    /// Rows so far that changed what was stored.
    pub updated: i32,
    /// Rows so far that matched what was stored already.
    pub unchanged: i32,
    /// Rows not imported so far (the import's `errors` say why).
    pub failed: i32,
    #[graphql(skip)]
    #[serde(skip)]
    target: PhantomData<T>,
}

#[ComplexObject]
impl<T: ImportTarget> ImportProgress<T> {
    /// The import this report is about, as it is when read (one lookup, made only when
    /// selected).
    async fn import(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Import<T>> {
        Ok(find::<T>(ctx, &self.import_id)
            .await?
            .ok_or(AppError::NotFound)?)
    }
}

impl<T: ImportTarget> TypeName for ImportProgress<T> {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(T::PROGRESS_NAME)
    }
}

fn progress<T: ImportTarget>(m: &import::Model) -> ImportProgress<T> {
    ImportProgress {
        import_id: id::encode(T::NAME, m.id),
        status: m.status,
        total_rows: m.total_rows,
        processed_rows: m.processed_rows,
        created: m.created_count,
        updated: m.updated_count,
        unchanged: m.unchanged_count,
        failed: m.error_count,
        target: PhantomData,
    }
}

/// The import events: one type per report kind, named by the target.
#[derive(Serialize, Deserialize)]
#[serde(transparent, bound = "")]
struct Progressed<T: ImportTarget>(ImportProgress<T>);
#[derive(Serialize, Deserialize)]
#[serde(transparent, bound = "")]
struct Completed<T: ImportTarget>(ImportProgress<T>);
#[derive(Serialize, Deserialize)]
#[serde(transparent, bound = "")]
struct Failed<T: ImportTarget>(ImportProgress<T>);

impl<T: ImportTarget> ImportProgress<T> {
    /// What an import event of `T` reports; `None` for other events (and for one this
    /// release cannot read, which is logged).
    fn of(ev: &ils_kernel::Event) -> Option<ImportProgress<T>> {
        use ils_kernel::events::signature;
        ev.read_as(&[
            signature::<Progressed<T>>(),
            signature::<Completed<T>>(),
            signature::<Failed<T>>(),
        ])
    }
}

impl<T: ImportTarget> DomainEvent for Progressed<T> {
    const TYPE: &'static str = T::PROGRESS_EVENT;
}
impl<T: ImportTarget> DomainEvent for Completed<T> {
    const TYPE: &'static str = T::COMPLETED_EVENT;
}
impl<T: ImportTarget> DomainEvent for Failed<T> {
    const TYPE: &'static str = T::FAILED_EVENT;
}

/// The caller's imports of `T`, through the guard.
fn imports_of<T: ImportTarget>(tx: &Tx) -> Select<import::Entity> {
    tx.select::<import::Entity>()
        .filter(import::Column::Target.eq(T::TARGET))
}

/// One of the caller's imports of `T` by global ID; `None` when it is not theirs.
pub async fn find<T: ImportTarget>(
    ctx: &async_graphql::Context<'_>,
    id: &ID,
) -> AppResult<Option<Import<T>>> {
    let (ctx, db) = ils_kernel::request_parts(ctx)?;
    require_member(ctx)?;
    let row_id = id::decode(T::NAME, id, "id")?;
    let tx = db.tenant(ctx).await?;
    let found = imports_of::<T>(&tx)
        .filter(import::Column::Id.eq(row_id))
        .one(tx.conn())
        .await?
        .map(Import::new);
    tx.commit().await?;
    Ok(found)
}

/// Imports of `T` among `ids`, read in one statement (for `node` and `nodes`).
pub async fn by_ids<T: ImportTarget>(tx: &Tx, ids: Vec<Uuid>) -> AppResult<Vec<Import<T>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(imports_of::<T>(tx)
        .filter(import::Column::Id.is_in(ids))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Import::new)
        .collect())
}

/// The caller's imports of `T`, oldest first.
pub async fn list<T: ImportTarget>(
    ctx: &async_graphql::Context<'_>,
    page: PageArgs,
) -> AppResult<Page<Import<T>>> {
    let (ctx, db) = ils_kernel::request_parts(ctx)?;
    require_member(ctx)?;
    let tx = db.read(ctx).await?;
    let page = paginate(
        tx.conn(),
        imports_of::<T>(&tx),
        import::Column::Id,
        page,
        |m| m.id,
        Import::new,
    )
    .await?;
    tx.commit().await?;
    Ok(page)
}

/// Starts an import from a GraphQL upload: the caller is authorised before the file is
/// read.
pub async fn upload<T: ImportTarget>(
    ctx: &async_graphql::Context<'_>,
    file: async_graphql::Upload,
) -> AppResult<Import<T>> {
    let (tenant, db) = ils_kernel::request_parts(ctx)?;
    let files = ctx
        .data::<Files>()
        .map_err(|_| AppError::internal("schema has no file store"))?;
    T::authorise(db, tenant).await?.commit().await?;
    let (file_name, bytes) = Files::read_upload(ctx, file, "input.file").await?;
    Ok(Import::new(
        start::<T>(db, tenant, files, file_name, Bytes::from(bytes)).await?,
    ))
}

/// Checks a file whole, stores it and queues its import, in that order: a file that is
/// not a CSV of the target's layout is refused (BAD_USER_INPUT on `input.file`) before
/// anything is written, and if the queueing fails the stored file is removed again.
pub async fn start<T: ImportTarget>(
    db: &Db,
    ctx: &TenantContext,
    files: &Files,
    file_name: String,
    bytes: Bytes,
) -> AppResult<import::Model> {
    let rows = csv::open(&bytes, T::layout())
        .map_err(|msg| AppError::bad_input("input.file", msg))?
        .len();
    let company = require_member(ctx)?;
    let id = Uuid::now_v7();
    let key = format!("{}/{company}/{id}.csv", T::FOLDER);
    let size = bytes.len() as i64;
    files.put(&key, bytes).await?;
    let queued = async {
        let tx = T::authorise(db, ctx).await?;
        let now = Utc::now();
        let row = tx
            .insert(import::ActiveModel {
                id: Set(id),
                company_id: sea_orm::ActiveValue::NotSet,
                target: Set(T::TARGET.into()),
                file_name: Set(if file_name.is_empty() {
                    T::FILE_NAME.into()
                } else {
                    file_name
                }),
                object_key: Set(key.clone()),
                byte_size: Set(size),
                status: Set(ImportStatus::Queued),
                total_rows: Set(i32::try_from(rows).unwrap_or(i32::MAX)),
                processed_rows: Set(0),
                created_count: Set(0),
                updated_count: Set(0),
                unchanged_count: Set(0),
                error_count: Set(0),
                errors: Set("[]".into()),
                failure: Set(None),
                created_by: Set(ctx.responsible_user()),
                created_at: Set(now),
                updated_at: Set(now),
                finished_at: Set(None),
            })
            .await
            .map_err(|e| match e {
                AppError::Conflict(_) => AppError::Conflict(T::BUSY.into()),
                e => e,
            })?;
        tx.enqueue(NewJob::of(&ImportJob::<T>::new(id)).key(format!("{}:{id}", T::JOB)))
            .await?;
        tx.commit().await?;
        Ok::<_, AppError>(row)
    }
    .await;
    if queued.is_err()
        && let Err(e) = files.delete(&key).await
    {
        tracing::warn!(error = %e, "an upload whose import was not queued could not be removed");
    }
    queued
}

/// The progress of one of the caller's imports of `T`: its state now, then after every
/// batch, ending with COMPLETED or FAILED.
pub async fn watch<T: ImportTarget>(
    ctx: &async_graphql::Context<'_>,
    import_id: &ID,
) -> AppResult<impl Stream<Item = ImportProgress<T>> + use<T>> {
    let (tenant, db) = ils_kernel::request_parts(ctx)?;
    let company = require_member(tenant)?;
    let row_id = id::decode(T::NAME, import_id, "importId")?;
    let bus = ctx
        .data::<Bus>()
        .map_err(|_| AppError::internal("schema has no event bus"))?;
    // Listening before reading, so no batch falls between the two.
    let live = bus.visible_stream(
        company,
        false,
        vec![
            T::PROGRESS_EVENT.into(),
            T::COMPLETED_EVENT.into(),
            T::FAILED_EVENT.into(),
        ],
    );
    let first = read_progress::<T>(db, tenant, row_id).await?;
    let wanted = first.import_id.clone();
    let updates = live.filter_map(move |ev| {
        // Only the events about this import are decoded (they name it by `importId`).
        let about_this = ev.data.get("importId").and_then(|v| v.as_str()) == Some(wanted.as_str());
        let p = about_this
            .then(|| ImportProgress::<T>::of(&ev))
            .flatten()
            .filter(|p| p.import_id == wanted);
        async move { p }
    });
    let state = Watch {
        pending: Some(first),
        updates: Box::pin(updates),
        last: None,
        done: false,
        db: db.clone(),
        tenant: tenant.clone(),
        id: row_id,
    };
    // The state now, then the reports after it; a stale report (sent before the snapshot
    // was read) is skipped. Live events can be lost (a lagging socket, a failed publish),
    // so a quiet stream re-reads the import; the stream ends right after the import does.
    Ok(futures_util::stream::unfold(state, |mut w| async move {
        if w.done {
            return None;
        }
        loop {
            let p = match w.pending.take() {
                Some(p) => p,
                None => match tokio::time::timeout(RECHECK, w.updates.next()).await {
                    Ok(Some(p)) => p,
                    Ok(None) => return None,
                    Err(_) => read_progress::<T>(&w.db, &w.tenant, w.id).await.ok()?,
                },
            };
            // Stale (older than what was sent) or nothing new (a quiet re-read).
            if let Some((rows, status)) = w.last
                && ((p.processed_rows < rows && !p.status.finished())
                    || (p.processed_rows == rows && p.status == status))
            {
                continue;
            }
            w.last = Some((p.processed_rows, p.status));
            w.done = p.status.finished();
            return Some((p, w));
        }
    }))
}

/// How often a progress stream with no news re-reads its import.
const RECHECK: Duration = Duration::from_secs(5);

struct Watch<T: ImportTarget> {
    pending: Option<ImportProgress<T>>,
    updates: std::pin::Pin<Box<dyn Stream<Item = ImportProgress<T>> + Send>>,
    /// The rows and status of the last report sent.
    last: Option<(i32, ImportStatus)>,
    done: bool,
    db: Db,
    tenant: TenantContext,
    id: Uuid,
}

async fn read_progress<T: ImportTarget>(
    db: &Db,
    ctx: &TenantContext,
    id: Uuid,
) -> AppResult<ImportProgress<T>> {
    let tx = db.tenant(ctx).await?;
    let row = imports_of::<T>(&tx)
        .filter(import::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(progress(&row))
}

/// The job kind that runs imports of `T`.
pub fn job_kind<T: ImportTarget>() -> JobKind {
    JobKind::new(T::JOB, handler(run_import::<T>))
        .max_attempts(5)
        .timeout(Duration::from_secs(600))
        // A job that dies without reporting (a timeout, a panic, a stopped worker) must
        // not leave its import RUNNING for ever.
        .on_dead(handler(|run: JobRun| async move {
            // A payload this release cannot read names no import: nothing to mark.
            let Ok(job) = run.payload::<ImportJob<T>>() else {
                return Ok(());
            };
            let id = job.import_id;
            fail::<T>(
                &run.db,
                &run.tenant(),
                id,
                "the import stopped on an internal error",
            )
            .await;
            Ok(())
        }))
}

/// The payload of an import job of `T`: the import to run.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub struct ImportJob<T> {
    pub import_id: Uuid,
    #[serde(skip)]
    target: std::marker::PhantomData<fn() -> T>,
}

impl<T> ImportJob<T> {
    pub fn new(import_id: Uuid) -> Self {
        ImportJob {
            import_id,
            target: std::marker::PhantomData,
        }
    }
}

impl<T: ImportTarget> JobPayload for ImportJob<T> {
    const KIND: &'static str = T::JOB;
}

async fn run_import<T: ImportTarget>(run: JobRun) -> Result<(), JobError> {
    let id = run.payload::<ImportJob<T>>()?.import_id;
    let files = run.resources.need::<Files>()?.clone();
    let ctx = run.tenant();
    match import::<T>(&run.db, &ctx, &files, id).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if run.is_last_attempt() {
                fail::<T>(&run.db, &ctx, id, "the import stopped on an internal error").await;
            }
            Err(JobError::from(e))
        }
    }
}

async fn emit_progress<T: ImportTarget>(tx: &Tx, row: &import::Model) -> AppResult<()> {
    let p = progress::<T>(row);
    match p.status {
        ImportStatus::Completed => tx.emit(&Completed(p), &[]).await?,
        ImportStatus::Failed => tx.emit(&Failed(p), &[]).await?,
        _ => tx.emit(&Progressed(p), &[]).await?,
    };
    Ok(())
}

/// Marks an import FAILED with `why`, if it has not finished.
async fn fail<T: ImportTarget>(db: &Db, ctx: &TenantContext, id: Uuid, why: &str) {
    let result = async {
        let tx = db.tenant(ctx).await?;
        let mut row = locked::<T>(&tx, id).await?;
        if row.status.finished() {
            return Ok(());
        }
        let now = Utc::now();
        row = tx
            .update(import::ActiveModel {
                id: sea_orm::ActiveValue::Unchanged(id),
                status: Set(ImportStatus::Failed),
                failure: Set(Some(why.into())),
                updated_at: Set(now),
                finished_at: Set(Some(now)),
                ..Default::default()
            })
            .await?;
        emit_progress::<T>(&tx, &row).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, import = %id, "could not mark an import failed");
    }
}

/// The import row, locked for this transaction: two runs of one job (a worker whose
/// lease ran out and came back) take turns, and each checks where the other left it.
async fn locked<T: ImportTarget>(tx: &Tx, id: Uuid) -> AppResult<import::Model> {
    tx.lock_for_update(imports_of::<T>(tx).filter(import::Column::Id.eq(id)))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)
}

/// Runs (or resumes) one import: each batch's rows and the progress that counts them
/// commit together, on the locked import row, and only if no other run moved it on.
async fn import<T: ImportTarget>(
    db: &Db,
    ctx: &TenantContext,
    files: &Files,
    id: Uuid,
) -> AppResult<()> {
    let tx = db.tenant(ctx).await?;
    let row = imports_of::<T>(&tx)
        .filter(import::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    if row.status.finished() {
        return Ok(());
    }
    let bytes = files.get(&row.object_key).await?;
    let file = match csv::open(&bytes, T::layout()) {
        Ok(f) => f,
        Err(why) => {
            fail::<T>(db, ctx, id, &why).await;
            return Ok(());
        }
    };
    let rows = without_repeated_skus::<T>(file.rows().collect());
    let mut first = true;
    loop {
        let tx = db.tenant(ctx).await?;
        let row = locked::<T>(&tx, id).await?;
        if row.status.finished() {
            return Ok(()); // another run finished it
        }
        let done = row.processed_rows.max(0) as usize;
        if first && row.status != ImportStatus::Running {
            // QUEUED -> RUNNING, reported before the first batch.
            let row = tx
                .update(import::ActiveModel {
                    id: sea_orm::ActiveValue::Unchanged(id),
                    status: Set(ImportStatus::Running),
                    total_rows: Set(i32::try_from(rows.len()).unwrap_or(i32::MAX)),
                    updated_at: Set(Utc::now()),
                    ..Default::default()
                })
                .await?;
            emit_progress::<T>(&tx, &row).await?;
            tx.commit().await?;
            first = false;
            continue;
        }
        first = false;
        let batch = &rows[done.min(rows.len())..(done + BATCH).min(rows.len())];
        let mut errors = kept_errors(&row);
        let (c, u, n, bad) = apply_batch::<T>(&tx, batch, &mut errors).await?;
        let processed = done + batch.len();
        let last = processed >= rows.len();
        let now = Utc::now();
        let row = tx
            .update(import::ActiveModel {
                id: sea_orm::ActiveValue::Unchanged(id),
                status: Set(if last {
                    ImportStatus::Completed
                } else {
                    ImportStatus::Running
                }),
                processed_rows: Set(processed as i32),
                created_count: Set(row.created_count + c),
                updated_count: Set(row.updated_count + u),
                unchanged_count: Set(row.unchanged_count + n),
                error_count: Set(row.error_count + bad),
                errors: Set(serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into())),
                updated_at: Set(now),
                finished_at: Set(last.then_some(now)),
                ..Default::default()
            })
            .await?;
        emit_progress::<T>(&tx, &row).await?;
        tx.commit().await?;
        if last {
            return Ok(());
        }
    }
}

/// A data row: its line and its checked value or errors.
type Row<R> = (usize, Result<R, Vec<RowError>>);

/// A SKU given again later in the same file is an error on the later row: which of two
/// rows was meant cannot be known.
fn without_repeated_skus<T: ImportTarget>(rows: Vec<Row<T::Row>>) -> Vec<Row<T::Row>> {
    let mut first: HashMap<String, usize> = HashMap::new();
    rows.into_iter()
        .map(|(line, r)| match r {
            Ok(d) => match first.get(T::sku(&d)) {
                Some(earlier) => (
                    line,
                    Err(vec![RowError {
                        row: line,
                        column: Some("sku".into()),
                        message: format!("SKU {} is already on line {earlier}", T::sku(&d)),
                    }]),
                ),
                None => {
                    first.insert(T::sku(&d).to_owned(), line);
                    (line, Ok(d))
                }
            },
            Err(e) => (line, Err(e)),
        })
        .collect()
}

/// Writes one batch through the target and keeps the first errors, in file order.
/// Returns (created, updated, unchanged, failed).
async fn apply_batch<T: ImportTarget>(
    tx: &Tx,
    batch: &[Row<T::Row>],
    errors: &mut Vec<RowError>,
) -> AppResult<(i32, i32, i32, i32)> {
    let valid: Vec<(usize, &T::Row)> = batch
        .iter()
        .filter_map(|(line, r)| r.as_ref().ok().map(|d| (*line, d)))
        .collect();
    let applied = T::apply(tx, &valid).await?;
    let mut failed = batch.len() - valid.len();
    failed += applied.refused.len();
    let mut batch_errors: Vec<RowError> = batch
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .flatten()
        .cloned()
        .chain(applied.refused)
        .collect();
    batch_errors.sort_by_key(|e| e.row);
    for e in batch_errors {
        if errors.len() < MAX_KEPT_ERRORS {
            errors.push(e);
        }
    }
    Ok((
        applied.created,
        applied.updated,
        applied.unchanged,
        failed as i32,
    ))
}
