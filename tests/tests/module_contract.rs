//! The module contract: a domain plugs in with one line in a `modules!` list. A toy module
//! that exists only in this test gets a query field, a mutation, a node type, a job and an
//! event handler, all working, without anything in `api` knowing it.

use async_graphql::{Context, ID, Object, Request, Result as GqlResult, Variables};
use ils_api::extension::Protections;
use ils_kernel::jobs::{JobKind, JobPayload, JobRun, WorkerConfig, handler};
use ils_kernel::module::ModuleList;
use ils_kernel::node::{AnyNode, NodeFetch, NodeRequest, NodeType};
use ils_kernel::{Bus, DomainEvent, Module, NewJob, Resources, Role, TenantContext, request_parts};
use ils_tests::{TestServer, company_uuid, eventually};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

ils_api::modules! {
    /// The toy module registered with one line (beside tenancy, which makes the company).
    mod with_toy {
        ils_tenancy::Tenancy,
        crate::Toy,
    }
}

static JOBS_RUN: AtomicUsize = AtomicUsize::new(0);
static BELLS_HEARD: AtomicUsize = AtomicUsize::new(0);

const TOY_THING: &str = "ToyThing";
const TOY_JOB: &str = "toy.count";
const TOY_HANDLER: &str = "toy.on_bell";

pub struct Toy;

#[derive(serde::Serialize, serde::Deserialize)]
struct BellRung {
    rung: u32,
}

/// The toy job's typed payload.
#[derive(serde::Serialize, serde::Deserialize)]
struct ToyCount {
    by: usize,
}

impl JobPayload for ToyCount {
    const KIND: &'static str = TOY_JOB;
}

impl DomainEvent for BellRung {
    const TYPE: &'static str = "toy.bell_rung";
}

#[derive(Default)]
pub struct ToyQuery;

#[Object]
impl ToyQuery {
    /// A field only the toy module has.
    async fn toy_greeting(&self) -> &'static str {
        "hello from a toy module"
    }
}

#[derive(Default)]
pub struct ToyMutation;

#[Object]
impl ToyMutation {
    /// Emits `toy.bell_rung` and enqueues a `toy.count` job, in one guarded transaction.
    async fn ring_toy_bell(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        let (tenant, db) = request_parts(ctx)?;
        let tx = db.tenant(tenant).await?;
        tx.emit(&BellRung { rung: 1 }, &[]).await?;
        tx.enqueue(NewJob::of(&ToyCount { by: 1 })).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// An object with a global ID, resolved by the toy module alone.
pub struct ToyThing(uuid::Uuid);

#[Object]
impl ToyThing {
    async fn id(&self) -> ID {
        ils_kernel::id::encode(TOY_THING, self.0)
    }

    async fn label(&self) -> String {
        format!("toy {}", self.0)
    }
}

impl Module for Toy {
    const NAME: &'static str = "toy";
    type Query = ToyQuery;
    type Mutation = ToyMutation;
    type Subscription = ils_kernel::module::NoSubscription;

    fn node_types() -> Vec<NodeType> {
        vec![NodeType::of::<ToyThing>()]
    }

    fn fetch_nodes(req: NodeRequest<'_>) -> NodeFetch<'_> {
        Box::pin(async move {
            Ok(req
                .ids
                .iter()
                .map(|(ty, id)| (ty == TOY_THING).then(|| AnyNode::new(ToyThing(*id))))
                .collect())
        })
    }

    fn jobs() -> Vec<JobKind> {
        vec![
            JobKind::new(
                TOY_JOB,
                handler(|run: JobRun| async move {
                    let count = run.payload::<ToyCount>()?;
                    JOBS_RUN.fetch_add(count.by, Ordering::SeqCst);
                    Ok(())
                }),
            ),
            JobKind::new(
                TOY_HANDLER,
                handler(|run: JobRun| async move {
                    let bell = run.event()?.decode::<BellRung>()?.expect("a bell");
                    BELLS_HEARD.fetch_add(bell.rung as usize, Ordering::SeqCst);
                    Ok(())
                }),
            )
            .on_events(&[BellRung::TYPE]),
        ]
    }
}

async fn run(schema: &with_toy::AppSchema, tenant: &TenantContext, query: &str) -> Value {
    let response = schema
        .execute(
            Request::new(query)
                .variables(Variables::default())
                .data(tenant.clone()),
        )
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().expect("JSON data")
}

#[tokio::test]
async fn a_module_registered_with_one_line_gets_a_field_a_node_a_job_and_a_handler() {
    // The platform's server makes the database and a company; it runs no background work,
    // so the toy list's dispatcher and workers are the only ones here.
    let s = TestServer::start_with(|c| c.workers = 0).await;
    let admin = s
        .sign_up("Toy Optics", "ECP", &ils_tests::email("toy"))
        .await;
    let company = company_uuid(&admin);
    let registry = Arc::new(with_toy::Modules::registry());
    let db = s.server.state.db.clone().with_registry(registry.clone());
    let schema =
        ils_api::schema::builder::<with_toy::Query, with_toy::Mutation, with_toy::Subscription>(
            &Protections::default(),
        )
        .data(db.clone())
        .finish();
    let (_, user) = ils_kernel::id::decode_any(&admin.user_id).expect("a user id");
    #[allow(clippy::disallowed_methods)] // the admin's context, as its credentials would make it
    let tenant = TenantContext::for_user(Some(company), user, vec![Role::CompanyAdmin], false);

    // The schema: the toy's field and node type are there, beside tenancy's.
    let sdl = schema.sdl();
    assert!(sdl.contains("toyGreeting: String!"), "{sdl}");
    assert!(sdl.contains("ringToyBell: Boolean!"), "{sdl}");
    assert!(sdl.contains("type ToyThing implements Node"), "{sdl}");
    assert!(sdl.contains("type User implements Node"), "{sdl}");

    // A field.
    let data = run(&schema, &tenant, "{ toyGreeting }").await;
    assert_eq!(data["toyGreeting"], "hello from a toy module");

    // A node type, by `node` and `nodes`, next to another module's.
    let thing = uuid::Uuid::new_v4();
    let thing_id = ils_kernel::id::encode(TOY_THING, thing).0;
    let company_id = admin.company_id.clone().expect("company id");
    let query = format!(
        r#"{{ node(id: "{thing_id}") {{ id __typename ... on ToyThing {{ label }} }}
             nodes(ids: ["{thing_id}", "{company_id}", "bm9wZQ"]) {{ __typename id }} }}"#
    );
    let data = run(&schema, &TenantContext::anonymous(), &query).await;
    assert_eq!(data["node"]["id"], thing_id.as_str());
    assert_eq!(data["node"]["__typename"], "ToyThing");
    assert_eq!(data["node"]["label"], format!("toy {thing}"));
    // Anonymous callers see no company; the unknown ID is null too.
    assert_eq!(data["nodes"][0]["__typename"], "ToyThing");
    assert_eq!(data["nodes"][1], Value::Null);
    assert_eq!(data["nodes"][2], Value::Null);
    let query = format!(r#"{{ nodes(ids: ["{company_id}"]) {{ __typename id }} }}"#);
    let data = run(&schema, &tenant, &query).await;
    assert_eq!(data["nodes"][0]["__typename"], "Company");

    // A job and an event handler: the mutation emits and enqueues; the dispatcher turns the
    // event into the handler's job; the workers run both.
    let data = run(&schema, &tenant, "mutation { ringToyBell }").await;
    assert_eq!(data["ringToyBell"], true);
    assert_eq!(registry.handlers_for(BellRung::TYPE), vec![TOY_HANDLER]);
    let bus = Bus::in_process();
    let dispatched =
        ils_kernel::dispatch::dispatch_once(&db, &bus, &registry, 100, Duration::from_secs(1))
            .await
            .expect("dispatch");
    assert_eq!((dispatched.taken, dispatched.published), (1, 1));
    let shutdown = CancellationToken::new();
    let workers = tokio::spawn(ils_kernel::jobs::run_workers(
        db.clone(),
        registry.clone(),
        Resources::builder().build(),
        WorkerConfig {
            poll: Duration::from_millis(50),
            ..WorkerConfig::default()
        },
        shutdown.clone(),
    ));
    eventually(
        "the toy job and handler ran",
        Duration::from_secs(20),
        || async {
            let seen = (
                JOBS_RUN.load(Ordering::SeqCst),
                BELLS_HEARD.load(Ordering::SeqCst),
            );
            if seen == (1, 1) { Ok(()) } else { Err(seen) }
        },
    )
    .await;
    shutdown.cancel();
    workers.await.expect("workers stop");

    // The platform's own schema knows nothing of the toy.
    let platform = ils_api::schema::sdl();
    assert!(!platform.contains("toyGreeting"));
    assert!(!platform.contains("ToyThing"));
    s.finish().await;
}
