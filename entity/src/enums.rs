//! `string_enum!`: the one way a crate declares a closed vocabulary stored as text (a
//! status, a type, a role). It derives the GraphQL enum, serde with the same names, the
//! SeaORM active enum (so an entity's column can be typed with it: a status column is the
//! enum, never a string), and `as_str` / `parse` for raw SQL and stored JSON.
//!
//! The crate that calls it needs `async-graphql`, `serde` and `sea-orm` as dependencies
//! (every crate of the workspace that stores text has them).

/// ```ignore
/// ils_entity::string_enum!(
///     /// Where a connection stands.
///     ConnectionStatus { Pending = "PENDING", Active = "ACTIVE" }
/// );
/// ```
#[macro_export]
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(
            async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize,
            sea_orm::EnumIter, sea_orm::DeriveActiveEnum,
        )]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $(
                $(#[$vm])*
                #[graphql(name = $text)]
                #[serde(rename = $text)]
                #[sea_orm(string_value = $text)]
                $variant
            ),+
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
