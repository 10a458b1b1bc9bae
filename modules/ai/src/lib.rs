//! The assistant: people ask in plain language and get answers built from their own
//! company's data, through the tools the domain modules offer (`ils_kernel::tools`), by
//! a chain of chat models (`provider`) with the built-in assistant (`builtin`) first for
//! what it knows and last when the models fail.

pub mod builtin;
pub mod provider;
