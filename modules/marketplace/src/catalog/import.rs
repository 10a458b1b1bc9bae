//! CSV import of a supplier's catalog. The upload is checked whole before anything is
//! written (a file that is not a catalog CSV fails with one error and leaves no trace),
//! kept in the file store, and imported by a background job in batches: upsert by SKU,
//! per-row errors that never block valid rows, and progress after every batch (a query,
//! the `catalogImportProgress` subscription, and `catalog.import.*` events). Each batch
//! commits its rows together with the progress that counts them, so a retried job resumes
//! where the last commit left it; importing the same file twice changes nothing.

use super::csv::{self as catalog_csv, RowError};
use super::draft::ItemDraft;
use super::items::{changed_row, new_row, same, supplier_tx};
use crate::events::{CatalogImportCompleted, CatalogImportFailed, CatalogImportProgressed};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result, SimpleObject, Subscription, Upload};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use ils_entity::{catalog_import as import, catalog_item as item};
use ils_kernel::authz::require_member;
use ils_kernel::files::Files;
use ils_kernel::jobs::{JobError, JobKind, JobRun, NewJob, handler};
use ils_kernel::pagination::{PageArgs, paginate};
use ils_kernel::{AppError, AppResult, Bus, Db, TenantContext, Tx, id, request_parts};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use uuid::Uuid;

pub const IMPORT: &str = "CatalogImport";
pub const IMPORT_JOB: &str = "marketplace.catalog_import";
/// Rows per transaction (and per progress report).
pub const BATCH: usize = 500;
/// Row errors kept for reading; the count covers them all.
pub const MAX_KEPT_ERRORS: usize = 1000;

ils_kernel::string_enum!(
    /// Where a catalog import stands.
    CatalogImportStatus {
        Queued = "QUEUED",
        Running = "RUNNING",
        Completed = "COMPLETED",
        Failed = "FAILED",
    }
);

/// The Rust name for it.
pub use CatalogImportStatus as ImportStatus;

impl ImportStatus {
    pub fn finished(self) -> bool {
        matches!(self, ImportStatus::Completed | ImportStatus::Failed)
    }
}

/// A row the import could not take, and why.
#[derive(SimpleObject, Clone)]
#[graphql(name = "CatalogImportError")]
pub struct ImportRowError {
    /// The line in the file (the header is line 1).
    pub row: i32,
    /// The CSV column, when the problem is in one cell.
    pub column: Option<String>,
    pub message: String,
}

#[derive(Clone)]
pub struct CatalogImport(pub import::Model);

#[Object]
impl CatalogImport {
    pub async fn id(&self) -> ID {
        id::encode(IMPORT, self.0.id)
    }
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
    async fn byte_size(&self) -> i64 {
        self.0.byte_size
    }
    async fn status(&self) -> Option<ImportStatus> {
        ImportStatus::parse(&self.0.status)
    }
    /// Data rows in the file.
    async fn total_rows(&self) -> i32 {
        self.0.total_rows
    }
    async fn processed_rows(&self) -> i32 {
        self.0.processed_rows
    }
    /// Items added.
    async fn created(&self) -> i32 {
        self.0.created_count
    }
    /// Items changed.
    async fn updated(&self) -> i32 {
        self.0.updated_count
    }
    /// Rows that matched the catalog already.
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
        #[graphql(default = 100, validator(minimum = 0, maximum = 1000))] first: i32,
    ) -> Vec<ImportRowError> {
        kept_errors(&self.0)
            .into_iter()
            .take(first as usize)
            .map(|e| ImportRowError {
                row: e.row as i32,
                column: e.column,
                message: e.message,
            })
            .collect()
    }
    /// Why the whole import failed, when it did.
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

fn kept_errors(m: &import::Model) -> Vec<RowError> {
    serde_json::from_str(&m.errors).unwrap_or_default()
}

/// How far an import has got: what `catalogImportProgress` streams and the
/// `catalog.import.*` events carry.
#[derive(SimpleObject, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[graphql(name = "CatalogImportProgress")]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    pub import_id: ID,
    pub status: ImportStatus,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub failed: i32,
}

fn progress(m: &import::Model) -> AppResult<ImportProgress> {
    Ok(ImportProgress {
        import_id: id::encode(IMPORT, m.id),
        status: ImportStatus::parse(&m.status)
            .ok_or_else(|| AppError::internal(format!("import status {}", m.status)))?,
        total_rows: m.total_rows,
        processed_rows: m.processed_rows,
        created: m.created_count,
        updated: m.updated_count,
        unchanged: m.unchanged_count,
        failed: m.error_count,
    })
}

#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// One of your company's catalog imports; null when it is not yours.
    async fn catalog_import(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CatalogImport>> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let row_id = id::decode(IMPORT, &id, "id")?;
        let tx = db.tenant(tenant).await?;
        let found = tx.find::<import::Entity>(row_id).await?.map(CatalogImport);
        tx.commit().await?;
        Ok(found)
    }

    /// Your company's catalog imports, oldest first (`last: N` for the newest).
    async fn catalog_imports(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Connection<String, CatalogImport>> {
        let (tenant, db) = request_parts(ctx)?;
        require_member(tenant)?;
        let tx = db.tenant(tenant).await?;
        let page = paginate(
            tx.conn(),
            tx.select::<import::Entity>(),
            import::Column::Id,
            PageArgs::new(first, after, last, before),
            |m| m.id,
            CatalogImport,
        )
        .await?;
        tx.commit().await?;
        Ok(page)
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports your catalog from a CSV file sent as a GraphQL multipart request (suppliers;
    /// admins and managers). The file is checked first: one that is not a catalog CSV is
    /// refused with BAD_USER_INPUT and nothing is stored. Otherwise the import is queued
    /// and its progress can be followed with `catalogImport` or `catalogImportProgress`.
    /// Columns: sku, name, category, price, currency (required), gtin (or upc / ean),
    /// brand, min_order_quantity, lead_time_days, active, and the category's attributes.
    async fn import_catalog(&self, ctx: &Context<'_>, file: Upload) -> Result<CatalogImport> {
        let (tenant, db) = request_parts(ctx)?;
        let files = ctx
            .data::<Files>()
            .map_err(|_| AppError::internal("schema has no file store"))?;
        // Authorised before the file is read.
        let tx = supplier_tx(db, tenant).await?;
        tx.commit().await?;
        let (file_name, bytes) = Files::read_upload(ctx, file, "file").await?;
        Ok(CatalogImport(
            start(db, tenant, files, file_name, Bytes::from(bytes)).await?,
        ))
    }
}

/// Checks a catalog file whole, stores it and queues its import, in that order: a file
/// that is not a catalog CSV is refused (BAD_USER_INPUT on `file`) before anything is
/// written, and if the queueing fails the stored file is removed again.
pub async fn start(
    db: &Db,
    ctx: &TenantContext,
    files: &Files,
    file_name: String,
    bytes: Bytes,
) -> AppResult<import::Model> {
    let rows = catalog_csv::open(&bytes)
        .map_err(|msg| AppError::bad_input("file", msg))?
        .len();
    let company = require_member(ctx)?;
    let id = Uuid::now_v7();
    let key = format!("catalog-imports/{company}/{id}.csv");
    let size = bytes.len() as i64;
    files.put(&key, bytes).await?;
    let queued = async {
        let tx = supplier_tx(db, ctx).await?;
        let now = Utc::now();
        let row = tx
            .insert(import::ActiveModel {
                id: Set(id),
                company_id: sea_orm::ActiveValue::NotSet,
                file_name: Set(if file_name.is_empty() {
                    "catalog.csv".into()
                } else {
                    file_name
                }),
                object_key: Set(key.clone()),
                byte_size: Set(size),
                status: Set(ImportStatus::Queued.as_str().into()),
                total_rows: Set(rows as i32),
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
                AppError::Conflict(_) => AppError::Conflict(
                    "an import of your catalog is already under way; start the next one when it has finished"
                        .into(),
                ),
                e => e,
            })?;
        tx.enqueue(
            NewJob::new(IMPORT_JOB, serde_json::json!({ "importId": id }))
                .key(format!("{IMPORT_JOB}:{id}")),
        )
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

#[derive(Default)]
pub struct ImportSubscription;

#[Subscription]
impl ImportSubscription {
    /// The progress of one of your company's catalog imports: its state now, then after
    /// every batch, ending with COMPLETED or FAILED.
    async fn catalog_import_progress(
        &self,
        ctx: &Context<'_>,
        import_id: ID,
    ) -> Result<impl Stream<Item = ImportProgress> + use<>> {
        let (tenant, db) = request_parts(ctx)?;
        let company = require_member(tenant)?;
        let row_id = id::decode(IMPORT, &import_id, "importId")?;
        let bus = ctx
            .data::<Bus>()
            .map_err(|_| AppError::internal("schema has no event bus"))?;
        // Listening before reading, so no batch falls between the two.
        let live = bus.visible_stream(company, false, vec!["catalog.import.*".into()]);
        let first = read_progress(db, tenant, row_id).await?;
        let wanted = first.import_id.clone();
        let updates = live.filter_map(move |ev| {
            let p = serde_json::from_value::<ImportProgress>(ev.data.clone())
                .ok()
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
        // The state now, then the reports after it; a stale report (sent before the
        // snapshot was read) is skipped. Live events can be lost (a lagging socket, a
        // failed publish), so a quiet stream re-reads the import; the stream ends right
        // after the import does.
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
                        Err(_) => read_progress(&w.db, &w.tenant, w.id).await.ok()?,
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
}

/// How often a progress stream with no news re-reads its import.
const RECHECK: Duration = Duration::from_secs(5);

struct Watch {
    pending: Option<ImportProgress>,
    updates: std::pin::Pin<Box<dyn Stream<Item = ImportProgress> + Send>>,
    /// The rows and status of the last report sent.
    last: Option<(i32, ImportStatus)>,
    done: bool,
    db: Db,
    tenant: TenantContext,
    id: Uuid,
}

async fn read_progress(db: &Db, ctx: &TenantContext, id: Uuid) -> AppResult<ImportProgress> {
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<import::Entity>(id).await?;
    tx.commit().await?;
    progress(&row)
}

pub fn import_kind() -> JobKind {
    JobKind::new(IMPORT_JOB, handler(run_import))
        .max_attempts(5)
        .timeout(Duration::from_secs(600))
        // A job that dies without reporting (a timeout, a panic, a stopped worker) must
        // not leave its import RUNNING for ever.
        .on_dead(handler(|run: JobRun| async move {
            if let Some(id) = import_id(&run.payload["payload"]) {
                fail(
                    &run.db,
                    &run.tenant(),
                    id,
                    "the import stopped on an internal error",
                )
                .await;
            }
            Ok(())
        }))
}

fn import_id(payload: &serde_json::Value) -> Option<Uuid> {
    payload
        .get("importId")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

async fn run_import(run: JobRun) -> Result<(), JobError> {
    let id = import_id(&run.payload)
        .ok_or_else(|| JobError::permanent("payload without an importId"))?;
    let files = run.resources.need::<Files>()?.clone();
    let ctx = run.tenant();
    let outcome = import(&run.db, &ctx, &files, id).await;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            if run.is_last_attempt() {
                fail(&run.db, &ctx, id, "the import stopped on an internal error").await;
            }
            Err(JobError::from(e))
        }
    }
}

async fn emit_progress(tx: &Tx, row: &import::Model) -> AppResult<()> {
    let p = progress(row)?;
    match p.status {
        ImportStatus::Completed => tx.emit(&CatalogImportCompleted(p), &[]).await?,
        ImportStatus::Failed => tx.emit(&CatalogImportFailed(p), &[]).await?,
        _ => tx.emit(&CatalogImportProgressed(p), &[]).await?,
    };
    Ok(())
}

/// Marks an import FAILED with `why`, if it has not finished.
async fn fail(db: &Db, ctx: &TenantContext, id: Uuid, why: &str) {
    let result = async {
        let tx = db.tenant(ctx).await?;
        let mut row = tx.get::<import::Entity>(id).await?;
        if ImportStatus::parse(&row.status).is_some_and(ImportStatus::finished) {
            return Ok(());
        }
        let now = Utc::now();
        row = tx
            .update(import::ActiveModel {
                id: sea_orm::ActiveValue::Unchanged(id),
                status: Set(ImportStatus::Failed.as_str().into()),
                failure: Set(Some(why.into())),
                updated_at: Set(now),
                finished_at: Set(Some(now)),
                ..Default::default()
            })
            .await?;
        emit_progress(&tx, &row).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, import = %id, "could not mark a catalog import failed");
    }
}

/// The import row, locked for this transaction: two runs of one job (a worker whose
/// lease ran out and came back) take turns, and each checks where the other left it.
async fn locked(tx: &Tx, id: Uuid) -> AppResult<import::Model> {
    tx.lock_for_update(
        tx.select::<import::Entity>()
            .filter(import::Column::Id.eq(id)),
    )
    .one(tx.conn())
    .await?
    .ok_or(AppError::NotFound)
}

/// Runs (or resumes) one import: each batch's rows and the progress that counts them
/// commit together, on the locked import row, and only if no other run moved it on.
async fn import(db: &Db, ctx: &TenantContext, files: &Files, id: Uuid) -> AppResult<()> {
    let tx = db.tenant(ctx).await?;
    let row = tx.get::<import::Entity>(id).await?;
    tx.commit().await?;
    if ImportStatus::parse(&row.status).is_some_and(ImportStatus::finished) {
        return Ok(());
    }
    let bytes = files.get(&row.object_key).await?;
    let file = match catalog_csv::open(&bytes) {
        Ok(f) => f,
        Err(why) => {
            let why: String = why;
            fail(db, ctx, id, &why).await;
            return Ok(());
        }
    };
    let rows = without_repeated_skus(file.rows().collect());
    let mut first = true;
    loop {
        let tx = db.tenant(ctx).await?;
        let row = locked(&tx, id).await?;
        let status = ImportStatus::parse(&row.status);
        if status.is_some_and(ImportStatus::finished) {
            return Ok(()); // another run finished it
        }
        let done = row.processed_rows.max(0) as usize;
        if first && status != Some(ImportStatus::Running) {
            // QUEUED -> RUNNING, reported before the first batch.
            let row = tx
                .update(import::ActiveModel {
                    id: sea_orm::ActiveValue::Unchanged(id),
                    status: Set(ImportStatus::Running.as_str().into()),
                    total_rows: Set(rows.len() as i32),
                    updated_at: Set(Utc::now()),
                    ..Default::default()
                })
                .await?;
            emit_progress(&tx, &row).await?;
            tx.commit().await?;
            first = false;
            continue;
        }
        first = false;
        let batch = &rows[done.min(rows.len())..(done + BATCH).min(rows.len())];
        let mut errors = kept_errors(&row);
        let (c, u, n, bad) = apply_batch(&tx, batch, &mut errors).await?;
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
                }
                .as_str()
                .into()),
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
        emit_progress(&tx, &row).await?;
        tx.commit().await?;
        if last {
            return Ok(());
        }
    }
}

/// A SKU given again later in the same file is an error on the later row: which of two
/// rows was meant cannot be known.
type Row = (usize, Result<ItemDraft, Vec<RowError>>);

fn without_repeated_skus(rows: Vec<Row>) -> Vec<Row> {
    let mut first: HashMap<String, usize> = HashMap::new();
    rows.into_iter()
        .map(|(line, r)| match r {
            Ok(d) => match first.get(&d.sku) {
                Some(earlier) => (
                    line,
                    Err(vec![RowError {
                        row: line,
                        column: Some("sku".into()),
                        message: format!("SKU {} is already on line {earlier}", d.sku),
                    }]),
                ),
                None => {
                    first.insert(d.sku.clone(), line);
                    (line, Ok(d))
                }
            },
            Err(e) => (line, Err(e)),
        })
        .collect()
}

/// Upserts one batch by SKU: new SKUs inserted in one statement, changed items updated,
/// identical ones left alone. Returns (created, updated, unchanged, failed).
async fn apply_batch(
    tx: &Tx,
    batch: &[Row],
    errors: &mut Vec<RowError>,
) -> AppResult<(i32, i32, i32, i32)> {
    let me = tx
        .scope()
        .company()
        .ok_or_else(|| AppError::internal("an import without a company"))?;
    let drafts: Vec<&ItemDraft> = batch.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    let skus: HashSet<&str> = drafts.iter().map(|d| d.sku.as_str()).collect();
    let existing: HashMap<String, item::Model> = if skus.is_empty() {
        HashMap::new()
    } else {
        tx.select::<item::Entity>()
            .filter(item::Column::CompanyId.eq(me))
            .filter(item::Column::Sku.is_in(skus))
            .all(tx.conn())
            .await?
            .into_iter()
            .map(|m| (m.sku.clone(), m))
            .collect()
    };
    let (mut created, mut updated, mut unchanged, mut failed) = (Vec::new(), 0, 0, 0);
    for (_, r) in batch {
        match r {
            Err(row_errors) => {
                failed += 1;
                for e in row_errors {
                    if errors.len() < MAX_KEPT_ERRORS {
                        errors.push(e.clone());
                    }
                }
            }
            Ok(d) => match existing.get(&d.sku) {
                None => created.push(new_row(d)),
                Some(current) if same(current, d) => unchanged += 1,
                Some(current) => {
                    tx.update(changed_row(current, d)).await?;
                    updated += 1;
                }
            },
        }
    }
    let n = created.len() as i32;
    tx.insert_many(created).await?;
    Ok((n, updated, unchanged, failed))
}
