//! The one schema: the platform's modules, listed once, with their limits.

use crate::extension::Protections;
use async_graphql::{ObjectType, Schema, SchemaBuilder, SubscriptionType};

crate::modules! {
    /// Every domain of the platform, in order. A new domain is one line here (and its
    /// crate in Cargo.toml): its GraphQL roots, node types, jobs, event handlers and
    /// schedules all come through its `Module`.
    pub mod platform {
        ils_tenancy::Tenancy,
        ils_backbone::Backbone,
        ils_marketplace::Marketplace,
        ils_orders::Orders,
        ils_inventory::Inventory,
        ils_ai::Ai,
        ils_analytics::Analytics,
        crate::operations::Operations,
    }
}

pub use platform::{AppSchema, Modules, Mutation, Query, Subscription};

/// A schema of `Query`, `Mutation` and `Subscription` roots (the platform's, or a test's
/// own list) with the limits; `data` is added by the caller (database, token settings…).
pub fn builder<Q, M, S>(limits: &Protections) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + Default + 'static,
    M: ObjectType + Default + 'static,
    S: SubscriptionType + Default + 'static,
{
    with_limits(
        Schema::build(Q::default(), M::default(), S::default()),
        limits,
        true,
    )
}

/// The limits and input checks on a schema's requests, audited or not.
fn with_limits<Q, M, S>(
    builder: SchemaBuilder<Q, M, S>,
    limits: &Protections,
    audited: bool,
) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + Default + 'static,
    M: ObjectType + Default + 'static,
    S: SubscriptionType + Default + 'static,
{
    // Depth and complexity are measured by the request pipeline, which holds
    // introspection to its own limits (async-graphql's would refuse GraphiQL's query).
    builder
        .limit_directives(limits.max_directives)
        .limit_recursive_depth(limits.max_depth.max(32))
        .extension(crate::extension::PipelineFactory::new(
            limits.clone(),
            audited,
        ))
}

/// What publishing checks documents with: the platform's schema with the same types,
/// limits and input checks, no audit, and every request ends after validation
/// (`operations::check`).
pub fn checker(limits: &Protections) -> crate::operations::check::Checker {
    crate::operations::check::Checker::new(validation_schema(limits))
}

fn validation_schema(limits: &Protections) -> AppSchema {
    let roots = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .extension(crate::operations::check::StopAfterValidation);
    with_limits(roots, limits, false).finish()
}

/// The platform's schema with its limits.
pub fn platform_builder(limits: &Protections) -> SchemaBuilder<Query, Mutation, Subscription> {
    described_scalars(builder(limits))
}

/// The platform's schema as an Apollo Federation v2 subgraph (served on `/subgraph`):
/// the same types and limits, with `_service`, `_entities` and the entities' `@key`s.
pub fn subgraph_builder(limits: &Protections) -> SchemaBuilder<Query, Mutation, Subscription> {
    crate::federation::federate::<Modules, _, _, _>(platform_builder(limits))
}

/// Describes every Relay connection type (async-graphql leaves them without a
/// description) and the four Relay arguments of every field that returns one, in one
/// place rather than at each resolver. Registered after the roots, its
/// `create_type_info` sees every type the schema holds; it adds no type of its own.
struct DescribeConnections;

/// What the Relay arguments of every connection field say (the page sizes are
/// `ils_kernel::pagination::DEFAULT_PAGE` and `MAX_PAGE`).
const PAGE_ARGUMENTS: &[(&str, &str)] = &[
    (
        "first",
        "Items from the start, or after `after`: at most 100 (20 when neither `first` nor `last` is given).",
    ),
    (
        "after",
        "A cursor from `pageInfo.endCursor` or an edge: items after it.",
    ),
    (
        "last",
        "Items from the end, or before `before`: at most 100.",
    ),
    (
        "before",
        "A cursor from `pageInfo.startCursor` or an edge: items before it.",
    ),
];

impl async_graphql::OutputType for DescribeConnections {
    fn type_name() -> std::borrow::Cow<'static, str> {
        "Query".into()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        use async_graphql::registry::MetaType;
        let pages: Vec<(String, String)> = registry
            .types
            .iter()
            .filter_map(|(name, ty)| match ty {
                MetaType::Object {
                    fields,
                    description: None,
                    ..
                } if fields.contains_key("edges") && fields.contains_key("pageInfo") => {
                    let node = fields
                        .get("nodes")
                        .map(|f| async_graphql::registry::MetaTypeName::concrete_typename(&f.ty))
                        .unwrap_or("item")
                        .to_owned();
                    Some((name.clone(), node))
                }
                _ => None,
            })
            .collect();
        let page_types: Vec<String> = pages.iter().map(|(name, _)| name.clone()).collect();
        for ty in registry.types.values_mut() {
            let MetaType::Object { fields, .. } = ty else {
                continue;
            };
            for field in fields.values_mut() {
                let returns = async_graphql::registry::MetaTypeName::concrete_typename(&field.ty);
                if !page_types.iter().any(|p| p == returns) {
                    continue;
                }
                for (arg, text) in PAGE_ARGUMENTS {
                    if let Some(a) = field.args.get_mut(*arg)
                        && a.description.is_none()
                    {
                        a.description = Some((*text).to_owned());
                    }
                }
            }
        }
        for (name, node) in pages {
            registry.set_description(
                &name,
                format!(
                    "A page of `{node}` items (Relay connection): `edges` with their cursors, \
                     `nodes`, `pageInfo` and `totalCount`."
                ),
            );
        }
        "Query".into()
    }

    async fn resolve(
        &self,
        _ctx: &async_graphql::ContextSelectionSet<'_>,
        _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    ) -> async_graphql::ServerResult<async_graphql::Value> {
        Ok(async_graphql::Value::Null)
    }
}

/// The standard scalars, described for clients (async-graphql's own texts name Rust
/// types). `specifiedByURL` is set where a specification exists.
fn described_scalars<Q, M, S>(b: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    b.register_output_type::<DescribeConnections>()
        .override_output_type_description::<chrono::DateTime<chrono::Utc>>(
            "An instant in time: an RFC 3339 date-time with an offset, written by the server in \
         UTC (`2026-12-05T09:30:00.123Z`).",
        )
        .override_output_type_description::<rust_decimal::Decimal>(
            "A decimal number, exact, written as a string in canonical form: no exponent, no \
         trailing zeros, no negative zero (`12.5`, `-0.25`, `3`), so one value has one \
         spelling. Inputs may be a string or a number, in any spelling.",
        )
        .override_output_type_description::<async_graphql::Json<serde_json::Value>>(
            "Any JSON value (RFC 8259).",
        )
        .override_input_type_description::<async_graphql::Upload>(
            "A file sent with the request as a part of a multipart request (the GraphQL \
         multipart request specification).",
        )
}

/// The SDL that `schema.graphql` must equal (with `@specifiedBy` where a scalar has a
/// specification).
pub fn sdl() -> String {
    platform_builder(&Protections::default())
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// The subgraph's SDL, as `_service { sdl }` gives it to a gateway.
pub fn subgraph_sdl() -> String {
    crate::federation::subgraph_sdl(&subgraph_builder(&Protections::default()).finish())
}
