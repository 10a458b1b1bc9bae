//! Persisted operations (trusted documents): the lists of operations a partner's API key may
//! run, published as manifests written by client tooling.

mod lexer;
pub mod manifest;
