//! `string_enum!`: the one way a module declares a closed vocabulary stored as text (a
//! state, a type, a role). It derives the GraphQL enum, serde with the same names, and
//! `as_str` / `parse` for the database column.

/// ```ignore
/// ils_kernel::string_enum!(
///     /// Where a connection stands.
///     ConnectionState { Pending = "PENDING", Active = "ACTIVE" }
/// );
/// ```
#[macro_export]
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(
            async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$vm])* #[graphql(name = $text)] #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and GraphQL name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value with this stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

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
