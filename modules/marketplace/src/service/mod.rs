//! Marketplace services: plain async functions over the tenant guard, and the job kinds.
//! Resolvers call these and do nothing else; nothing here knows GraphQL beyond the
//! `Connection` that pagination returns.

pub mod catalog;
pub mod connections;
pub mod import;
pub mod profile;
