//! `domain_event!`. (`string_enum!` lives in the entity crate, where the status columns
//! use it; the kernel re-exports it.)

/// `domain_event!`: declares a domain event type, either with its own fields or wrapping a
/// payload that several events share (serialised as the payload itself).
///
/// ```ignore
/// ils_kernel::domain_event!(UserJoined, "user.joined", admins_only: true { user_id: ID });
/// ils_kernel::domain_event!(ConnectionAccepted, "connection.accepted", admins_only: false, ConnectionChange);
/// ```
#[macro_export]
macro_rules! domain_event {
    ($name:ident, $ty:literal, admins_only: $admins:literal { $($field:ident : $t:ty),* $(,)? }) => {
        #[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
        #[serde(rename_all = "camelCase")]
        pub struct $name { $(pub $field: $t),* }
        impl $crate::DomainEvent for $name {
            const TYPE: &'static str = $ty;
            const ADMINS_ONLY: bool = $admins;
        }
    };
    ($name:ident, $ty:literal, admins_only: $admins:literal, $payload:ty) => {
        #[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
        pub struct $name(pub $payload);
        impl $crate::DomainEvent for $name {
            const TYPE: &'static str = $ty;
            const ADMINS_ONLY: bool = $admins;
        }
    };
}
