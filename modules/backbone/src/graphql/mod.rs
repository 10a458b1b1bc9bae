//! The backbone's GraphQL face: object, input and enum types, and thin resolvers that call
//! `crate::service`.

pub mod audit;
pub mod events;
pub mod jobs;
pub mod node;
pub mod webhooks;

pub use audit::AuditQuery;
pub use events::EventsSubscription;
pub use jobs::{JobsMutation, JobsQuery};
pub use webhooks::{WebhooksMutation, WebhooksQuery};
