//! The cron scheduler.

use super::*;

/// Enqueues each schedule's job at each of its cron times until `shutdown`. Every replica
/// runs this; the idempotency key `cron:<name>:<time>` makes each occurrence one job.
pub async fn run_scheduler(db: Db, registry: Arc<Registry>, shutdown: CancellationToken) {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build();
    let mut plans: Vec<(Schedule, croner::Cron, DateTime<Utc>)> = vec![];
    for s in registry.schedules() {
        match parser.parse(s.cron) {
            Ok(c) => match c.find_next_occurrence(&Utc::now(), false) {
                Ok(next) => plans.push((s.clone(), c, next)),
                Err(e) => tracing::error!(schedule = s.name, error = %e, "schedule never fires"),
            },
            Err(e) => tracing::error!(schedule = s.name, error = %e, "bad cron pattern"),
        }
    }
    while !shutdown.is_cancelled() && !plans.is_empty() {
        let soonest = plans.iter().map(|p| p.2).min().unwrap_or_else(Utc::now);
        let wait = (soonest - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => break,
        }
        let now = Utc::now();
        for (s, cron, next) in plans.iter_mut() {
            if *next > now {
                continue;
            }
            let job = (s.job)().key(format!("cron:{}:{}", s.name, next.timestamp()));
            if let Err(e) = enqueue_system(&db, job).await {
                tracing::error!(schedule = s.name, error = ?e, "could not enqueue a scheduled job");
            }
            *next = cron
                .find_next_occurrence(&now, false)
                .unwrap_or(now + chrono::Duration::days(3650));
        }
    }
}
