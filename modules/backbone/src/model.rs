//! The backbone's stored vocabularies, shared by the services and the GraphQL types. The
//! texts are the ones in the database columns (and the GraphQL enum values).

use ils_kernel::string_enum;

pub use ils_entity::webhook_delivery::WebhookDeliveryStatus;

// The kernel's queue writes these (`ils_kernel::jobs::STATES`); the test below keeps the
// two lists the same.
string_enum!(JobState {
    Queued = "QUEUED",
    Running = "RUNNING",
    Succeeded = "SUCCEEDED",
    Dead = "DEAD",
    Discarded = "DISCARDED",
});

// The kernel's audit log writes these.
string_enum!(AuditOutcome { Success = "SUCCESS", Failure = "FAILURE" });

impl JobState {
    /// The state of a stored job (an unknown text reads as QUEUED, as it always has).
    pub fn of(stored: &str) -> Self {
        Self::parse(stored).unwrap_or(JobState::Queued)
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
    fn job_states_are_the_kernels() {
        let ours: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(ours, ils_kernel::jobs::STATES);
    }

    #[test]
    fn unknown_texts_read_as_before() {
        assert_eq!(JobState::of("?"), JobState::Queued);
        assert_eq!(AuditOutcome::of("?"), AuditOutcome::Failure);
    }
}
