//! Backbone services: plain async functions over the tenant guard, and the job kinds.
//! Resolvers call these and do nothing else; nothing here knows GraphQL beyond the
//! `Connection` that pagination returns.

pub mod audit;
pub mod events;
pub mod jobs;
pub mod mail;
pub mod webhooks;
