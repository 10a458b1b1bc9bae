//! The backbone's stored vocabularies, shared by the services and the GraphQL types. The
//! texts are the ones in the database columns (and the GraphQL enum values).

use ils_kernel::string_enum;

pub use ils_entity::webhook_delivery::WebhookDeliveryStatus;

// The kernel's queue writes these (`ils_kernel::jobs::STATES`, its column is still called
// `state`); the test below keeps the two lists the same.
string_enum!(
    /// Where a background job is in its life.
    JobStatus {
        /// Waiting to run at `runAt`: new, or retrying after a failed attempt (then
        /// `lastError` says why the last one failed).
        Queued = "QUEUED",
        /// A worker is running it now.
        Running = "RUNNING",
        /// Done (`finishedAt` says when).
        Succeeded = "SUCCEEDED",
        /// Gave up: every attempt failed, or one failed in a way retrying cannot fix
        /// (`lastError` says why). `retryJob` queues it again; `discardJob` gives it up.
        Dead = "DEAD",
        /// Given up for good by `discardJob`; it never runs again.
        Discarded = "DISCARDED",
    }
);

// The kernel's audit log writes these.
string_enum!(
    /// How an audited operation ended.
    AuditOutcome {
        /// It did what was asked.
        Success = "SUCCESS",
        /// It was refused or failed; `errorCode` says how.
        Failure = "FAILURE",
    }
);

impl JobStatus {
    /// The status of a stored job (an unknown text reads as QUEUED, as it always has).
    pub fn of(stored: &str) -> Self {
        Self::parse(stored).unwrap_or(JobStatus::Queued)
    }
}

impl AuditOutcome {
    /// The outcome of a stored entry (anything but SUCCESS is a failure, as it always was).
    pub fn of(stored: &str) -> Self {
        Self::parse(stored).unwrap_or(AuditOutcome::Failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_statuses_are_the_kernels_states() {
        let ours: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(ours, ils_kernel::jobs::STATES);
    }

    #[test]
    fn unknown_texts_read_as_before() {
        assert_eq!(JobStatus::of("?"), JobStatus::Queued);
        assert_eq!(AuditOutcome::of("?"), AuditOutcome::Failure);
    }
}
