//! What the job admin surface and the command line do with the queue: enqueue platform
//! work, count, prune, retry and discard.

use super::*;

/// Enqueues a platform-wide job outside any request.
pub async fn enqueue_system(db: &Db, job: NewJob) -> AppResult<bool> {
    let tx = crate::below::system(db).await?;
    let inserted = tx.enqueue_for(None, job).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Enqueues many platform-wide jobs in one transaction (bulk loads, the bench).
pub async fn enqueue_system_many(db: &Db, jobs: impl IntoIterator<Item = NewJob>) -> AppResult<()> {
    let tx = crate::below::system(db).await?;
    tx.enqueue_many_for(None, jobs.into_iter().collect())
        .await?;
    tx.commit().await
}

/// Refreshes the planner's statistics of the queue (PostgreSQL): what autovacuum does
/// within a minute of a bulk load, done at once (the bench, after enqueueing).
pub async fn analyze(db: &Db) -> AppResult<()> {
    if db.backend() != DbBackend::Postgres {
        return Ok(());
    }
    let tx = crate::below::system(db).await?;
    crate::below::analyze_jobs(&tx).await?;
    tx.commit().await
}

/// How many jobs of `kind` are still queued or running (an index range, however many
/// finished jobs the table holds).
pub async fn count_unfinished(db: &Db, kind: &str) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    let tx = crate::below::system(db).await?;
    let n = crate::below::jobs()
        .filter(job::Column::State.is_in([QUEUED, RUNNING]))
        .filter(job::Column::Kind.eq(kind))
        .count(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Deletes succeeded and discarded jobs finished more than `keep` ago; dead jobs stay
/// until someone retries or discards them.
pub async fn prune(db: &Db, keep: chrono::Duration) -> AppResult<u64> {
    let tx = crate::below::system(db).await?;
    let n = crate::below::delete_jobs()
        .filter(job::Column::State.is_in([SUCCEEDED, DISCARDED]))
        .filter(job::Column::FinishedAt.lt(Utc::now() - keep))
        .exec(tx.conn())
        .await?
        .rows_affected;
    tx.commit().await?;
    Ok(n)
}

/// Puts a DEAD job back in the queue with a fresh set of attempts (guarded: the caller's
/// own company's jobs, or any for a platform admin).
pub async fn retry(tx: &Tx, id: Uuid) -> AppResult<job::Model> {
    let now = Utc::now();
    let job = change_state(
        tx,
        id,
        &[DEAD],
        vec![
            (job::Column::State, Expr::value(QUEUED)),
            (job::Column::Attempts, Expr::value(0)),
            (job::Column::RunAt, Expr::value(now)),
            (
                job::Column::FinishedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            ),
            (job::Column::UpdatedAt, Expr::value(now)),
        ],
    )
    .await?;
    tx.mark_enqueued();
    Ok(job)
}

/// Gives up on a QUEUED or DEAD job for good.
pub async fn discard(tx: &Tx, id: Uuid) -> AppResult<job::Model> {
    let now = Utc::now();
    change_state(
        tx,
        id,
        &[QUEUED, DEAD],
        vec![
            (job::Column::State, Expr::value(DISCARDED)),
            (job::Column::FinishedAt, Expr::value(Some(now))),
            (job::Column::UpdatedAt, Expr::value(now)),
        ],
    )
    .await
}

/// Applies `sets` to the job only while it is in one of `from` (one conditional statement,
/// so a worker claiming it at the same moment cannot be overtaken): NOT_FOUND when the
/// scope cannot see it, BAD_USER_INPUT naming its state when it is in another one.
async fn change_state(
    tx: &Tx,
    id: Uuid,
    from: &[&str],
    sets: Vec<(job::Column, sea_orm::sea_query::SimpleExpr)>,
) -> AppResult<job::Model> {
    let changed = tx
        .update_many::<job::Entity>(
            sets,
            Condition::all()
                .add(job::Column::Id.eq(id))
                .add(job::Column::State.is_in(from.iter().copied())),
        )
        .await?;
    let job = tx.get::<job::Entity>(id).await?;
    if changed == 0 {
        return Err(AppError::bad_input(
            "id",
            format!(
                "only {} jobs can be changed so; this one is {}",
                from.join(" or "),
                job.state
            ),
        ));
    }
    Ok(job)
}

/// Jobs per state, as the scope may see them.
pub async fn counts(tx: &Tx) -> AppResult<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = tx
        .select::<job::Entity>()
        .select_only()
        .column(job::Column::State)
        .column_as(job::Column::Id.count(), "n")
        .group_by(job::Column::State)
        .into_tuple()
        .all(tx.conn())
        .await?;
    Ok(STATES
        .iter()
        .map(|s| {
            let n = rows
                .iter()
                .find(|(st, _)| st == s)
                .map(|r| r.1)
                .unwrap_or(0);
            (s.to_string(), n)
        })
        .collect())
}
