//! The GraphQL-level protections async-graphql lacks (document-wide alias and directive
//! limits, introspection refused with an error, depth and complexity measured with
//! introspection against its own limits) and the one place where every error gets its
//! stable `extensions.code`.

use crate::ratelimit::Drew;
use crate::shared::{self, SharedResponses};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensionValues, Request, Response, ServerError, ServerResult, ValidationResult, Value,
    Variables,
};
use ils_kernel::events::SharedDelivery;
use ils_kernel::{Role, TenantContext};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Protections {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
}

impl Default for Protections {
    fn default() -> Self {
        Protections::from(&crate::config::Config::default())
    }
}

impl From<&crate::config::Config> for Protections {
    fn from(c: &crate::config::Config) -> Self {
        Protections {
            max_depth: c.max_depth,
            max_complexity: c.max_complexity,
            max_aliases: c.max_aliases,
            max_directives: c.max_directives,
        }
    }
}

/// Per-request facts the transport puts in the request data. async-graphql shows request
/// data to the parse and validation hooks (not to `request`), so the rules that need it
/// live there; the transport stamps the request id on the finished response.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    /// Whether `__schema` / `__type` may be queried; "Did you mean …?" hints go with it.
    pub introspection: bool,
}

pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Builds each request's [`Pipeline`].
pub struct PipelineFactory {
    limits: Protections,
    /// Whether mutations are audited (the publishing checker's schema runs none).
    audited: bool,
    /// The results of events executed once for every subscription (`crate::shared`).
    shared: Arc<SharedResponses>,
}

impl PipelineFactory {
    pub fn new(limits: Protections, audited: bool) -> PipelineFactory {
        PipelineFactory {
            limits,
            audited,
            shared: Arc::default(),
        }
    }
}

impl ExtensionFactory for PipelineFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Pipeline {
            protect: Protect {
                limits: self.limits.clone(),
                document: std::sync::Mutex::new(None),
                sharing: std::sync::Mutex::new(Sharing::default()),
                shared: self.shared.clone(),
                inputs: std::sync::Mutex::new(Inputs::default()),
            },
            audit: self.audited.then(crate::audit::Audit::default),
            meter: Meter {
                limits: self.limits.clone(),
                introspection_only: std::sync::atomic::AtomicBool::new(false),
                operation: std::sync::Mutex::new(None),
                cost: std::sync::atomic::AtomicU64::new(0),
                subscription: std::sync::atomic::AtomicBool::new(false),
                query: std::sync::atomic::AtomicBool::new(false),
                draw: std::sync::Mutex::new(None),
            },
        })
    }
}

/// Everything ILS does around async-graphql's own steps for one request, as one
/// extension. Its steps, from the outside in:
/// - [`Protect`]: the document's size, aliases, directives and introspection, the error
///   codes, integers past 32 bits, one error per problem, the response in the document's
///   order, and the executions subscriptions share;
/// - [`crate::audit::Audit`]: every mutation run, or refused in validation (before the
///   32-bit `Int` check);
/// - [`Meter`]: depth, complexity and the caller's cost budget, and the usage counts;
/// - the text inputs' rule (`crate::text_input`), once the document is valid.
///
/// One extension rather than one each: async-graphql passes every field of every response
/// through each registered extension's `resolve` hook (a boxed future a field even where
/// the hook does nothing), and none of these needs it.
struct Pipeline {
    protect: Protect,
    audit: Option<crate::audit::Audit>,
    meter: Meter,
}

#[async_trait::async_trait]
impl Extension for Pipeline {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        // A query's draw is settled where it runs (`execute`) or where validation refuses
        // it; should a request end between the two, its draw is made and settled here, so
        // no request escapes its budget.
        if let Some(draw) = self.meter.take_draw()
            && let Err(refusal) = self.meter.wait_for(ctx, draw).await
        {
            response = Response::from_errors(vec![refusal]);
        }
        assign_codes(&mut response);
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = self.protect.prepare(request);
        self.meter.prepare(&request);
        self.protect.measure_text(&mut request)?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, PARSE_FAILED))?;
        self.meter.parsed(&doc);
        if let Some(audit) = &self.audit {
            audit.parsed(&doc, variables);
        }
        self.protect.parsed(ctx, query, variables, doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next
            .run(ctx)
            .await
            .and_then(|r| self.protect.texts(ctx).map(|()| r));
        let result = self.meter.validated(ctx, result).await;
        if let (Some(audit), Err(errors)) = (&self.audit, &result) {
            // The refusal's own code (a text refused by the text rule is BAD_USER_INPUT);
            // async-graphql's own validation errors have none yet.
            let code = errors
                .first()
                .and_then(error_code)
                .unwrap_or(VALIDATION_FAILED);
            audit.refused(ctx, code).await;
        }
        let result = self.protect.validated(ctx, result);
        // A query refused by the last check never executes: its draw is settled here, and
        // a refusal of its budget is the answer, as when the draw came first.
        match (result, self.meter.take_draw()) {
            (Err(errors), Some(draw)) => match self.meter.wait_for(ctx, draw).await {
                Ok(()) => Err(errors),
                Err(refusal) => Err(vec![refusal]),
            },
            (Ok(result), Some(draw)) => {
                self.meter.keep_draw(draw);
                Ok(result)
            }
            (result, None) => result,
        }
    }

    /// Every execution, over HTTP and over the WebSocket (which skips `request`), and each
    /// event of a subscription (async-graphql runs this hook once per event).
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        // A query whose budget is still being drawn runs meanwhile; its answer waits for
        // the verdict, and a refusal replaces it. (A query writes nothing but the audit
        // entry of a patient-data read, which stays: the read did happen.)
        if let Some(draw) = self.meter.take_draw() {
            let run = next.run(ctx, operation_name);
            tokio::pin!(run);
            let mut draw = draw;
            let (drawn, ran) = tokio::select! {
                biased;
                drawn = &mut draw => {
                    crate::ratelimit::record_wait(&drawn.0, std::time::Duration::ZERO, Drew::Beside);
                    (drawn, None)
                }
                response = &mut run => {
                    let answered = std::time::Instant::now();
                    let drawn = draw.await;
                    crate::ratelimit::record_wait(&drawn.0, answered.elapsed(), Drew::Beside);
                    (drawn, Some(response))
                }
            };
            if let Err(refusal) = self.meter.settle(ctx, drawn) {
                return Response::from_errors(vec![refusal]);
            }
            let response = match ran {
                Some(response) => response,
                None => run.await,
            };
            return self.ran(ctx, operation_name, response).await;
        }
        let run = || async {
            let response = next.run(ctx, operation_name).await;
            self.ran(ctx, operation_name, response).await
        };
        // An event that subscriptions with the same key share: executed once, by the first.
        let Some(key) = self.protect.shared_key(ctx) else {
            return run().await;
        };
        let (response, shared) = self.protect.shared.get_or_execute(key, run).await;
        if shared {
            metrics::counter!("ils_subscription_shared_results_total").increment(1);
        }
        response
    }
}

impl Pipeline {
    /// What follows an execution: its usage, its audit entry (a mutation's), and the
    /// response with one error per problem, in the document's order.
    async fn ran(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        response: Response,
    ) -> Response {
        self.meter.executed(ctx, &response);
        if let Some(audit) = &self.audit {
            let failed = response
                .errors
                .first()
                .map(|e| error_code(e).unwrap_or("INTERNAL"));
            audit
                .executed(ctx, operation_name, &response.data, failed)
                .await;
        }
        self.protect.finish(ctx, operation_name, response)
    }
}

/// The pipeline's protections: see [`Pipeline`].
struct Protect {
    limits: Protections,
    /// The parsed document, kept to put the response's keys in its order
    /// (`crate::order`) and for the checks after validation.
    document: std::sync::Mutex<Option<Arc<ExecutableDocument>>>,
    /// What this request's subscription shares with others (`crate::shared`).
    sharing: std::sync::Mutex<Sharing>,
    shared: Arc<SharedResponses>,
    /// What validation needs of the request besides the document (`crate::int_range`,
    /// `crate::text_input`).
    inputs: std::sync::Mutex<Inputs>,
}

/// The request's operation name and, when its document declares variables, their values.
#[derive(Default)]
struct Inputs {
    operation_name: Option<String>,
    variables: Option<Variables>,
}

/// A subscription's part in sharing executions: where its stream offers each event, and
/// the key of its document (set only when the document can be shared).
#[derive(Default)]
struct Sharing {
    delivery: Option<Arc<SharedDelivery>>,
    document: Option<Arc<str>>,
}

impl Protect {
    /// Notes the operation name; a subscription gets a place where its stream can offer
    /// the events it is about to execute (`SharedDelivery`); whether its document can
    /// share them is known once it is parsed.
    fn prepare(&self, request: Request) -> Request {
        self.inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .operation_name
            .clone_from(&request.operation_name);
        // A cheap first look; the parsed document decides.
        if request.query.contains("subscription") {
            let delivery = Arc::new(SharedDelivery::default());
            self.sharing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .delivery = Some(delivery.clone());
            request.data(delivery)
        } else {
            request
        }
    }

    /// A text is parsed here, once: async-graphql takes the parsed document instead of
    /// parsing the text again. Its own parse step walks fragment spreads without
    /// memoising (for its recursion and directive checks), so the size is measured first;
    /// a persisted document was measured when it was published (and comes parsed). A text
    /// that does not parse is left to that step, which reports it.
    fn measure_text(&self, request: &mut Request) -> ServerResult<()> {
        if request
            .data
            .contains_key(&std::any::TypeId::of::<Trusted>())
        {
            return Ok(());
        }
        let Ok(plain) = request.parsed_query() else {
            return Ok(());
        };
        let fields = expanded_fields(plain);
        if fields > MAX_EXPANDED_FIELDS {
            let size = if fields == usize::MAX {
                "unbounded".to_owned()
            } else {
                fields.to_string()
            };
            return Err(refusal(format!(
                "Query is too large once its fragments are expanded ({size} selections; at most {MAX_EXPANDED_FIELDS})"
            )));
        }
        Ok(())
    }

    /// Keeps the parsed document (and its variables, when it declares any), and refuses
    /// it past the alias and directive limits, or for introspection the caller may not do.
    fn parsed(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        doc: ExecutableDocument,
    ) -> ServerResult<ExecutableDocument> {
        *self.document.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(doc.clone()));
        if doc
            .operations
            .iter()
            .any(|(_, op)| !op.node.variable_definitions.is_empty())
        {
            self.inputs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .variables = Some(variables.clone());
        }
        {
            let mut sharing = self.sharing.lock().unwrap_or_else(|e| e.into_inner());
            if sharing.delivery.is_some() {
                sharing.document = shared::document_key(&doc, query, variables);
            }
        }
        let c = census(&doc);
        let limits = &self.limits;
        if c.aliases > limits.max_aliases {
            return Err(refusal(format!(
                "Query has too many aliases ({}; at most {})",
                c.aliases, limits.max_aliases
            )));
        }
        if c.directives > limits.max_directives {
            return Err(refusal(format!(
                "Query has too many directives ({}; at most {})",
                c.directives, limits.max_directives
            )));
        }
        let introspection = ctx
            .data_opt::<RequestMeta>()
            .is_none_or(|m| m.introspection);
        if c.introspection && !introspection {
            return Err(refusal(
                "Introspection is not allowed for this caller".into(),
            ));
        }
        Ok(doc)
    }

    fn document(&self) -> Option<Arc<ExecutableDocument>> {
        self.document
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The text inputs' rule (`crate::text_input`) on the valid document.
    fn texts(&self, ctx: &ExtensionContext<'_>) -> Result<(), Vec<ServerError>> {
        // Validation runs only on a document the parse step returned, which kept it.
        let Some(doc) = self.document() else {
            tracing::error!("the input checks found no parsed document");
            let mut e = ServerError::new("internal error", None);
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", "INTERNAL");
            return Err(vec![e]);
        };
        let inputs = self.inputs.lock().unwrap_or_else(|e| e.into_inner());
        let none = Variables::default();
        crate::text_input::refusals(
            &doc,
            inputs.variables.as_ref().unwrap_or(&none),
            &ctx.schema_env.registry,
        )
    }

    /// Every validation error with its code (and without "Did you mean …?" for callers
    /// who may not introspect); a valid document may still hold an `Int` past 32 bits,
    /// which async-graphql lets through to execution.
    fn validated(
        &self,
        ctx: &ExtensionContext<'_>,
        result: Result<ValidationResult, Vec<ServerError>>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let hints = ctx
            .data_opt::<RequestMeta>()
            .is_none_or(|m| m.introspection);
        let result = result.map_err(|errs| {
            errs.into_iter()
                .map(|mut e| {
                    if !hints && let Some(i) = e.message.find(" Did you mean") {
                        e.message.truncate(i);
                    }
                    with_code(e, VALIDATION_FAILED)
                })
                .collect::<Vec<_>>()
        })?;
        if let Some(doc) = self.document() {
            let inputs = self.inputs.lock().unwrap_or_else(|e| e.into_inner());
            let none = Variables::default();
            let out_of_range = crate::int_range::out_of_range(
                &ctx.schema_env.registry,
                &doc,
                inputs.operation_name.as_deref(),
                inputs.variables.as_ref().unwrap_or(&none),
            );
            if !out_of_range.is_empty() {
                return Err(out_of_range
                    .into_iter()
                    .map(|e| with_code(e, VALIDATION_FAILED))
                    .collect());
            }
        }
        Ok(result)
    }

    /// An executed response with every problem its own error and the data in the
    /// document's order.
    fn finish(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        mut response: Response,
    ) -> Response {
        response.errors = one_error_per_problem(std::mem::take(&mut response.errors));
        if let Some(doc) = self.document()
            && let Some(op) = crate::order::operation(&doc, operation_name)
        {
            crate::order::reorder(&mut response.data, &doc, op, Some(&ctx.schema_env.registry));
        }
        response
    }

    /// The key of the execution starting now, when its stream offered an event and the
    /// document can be shared. The offered event is taken either way.
    fn shared_key(&self, ctx: &ExtensionContext<'_>) -> Option<shared::Key> {
        let sharing = self.sharing.lock().unwrap_or_else(|e| e.into_inner());
        let event = sharing.delivery.as_ref()?.take()?;
        let document = sharing.document.clone()?;
        let tenant = ctx.data_opt::<TenantContext>()?;
        Some(shared::Key {
            event: event.id,
            document,
            company: tenant.company_id()?,
            admin: tenant.has_role(Role::CompanyAdmin),
        })
    }
}

/// A refusal of the document's shape, as a validation error.
fn refusal(message: String) -> ServerError {
    with_code(ServerError::new(message, None), VALIDATION_FAILED)
}

/// The pipeline's metering, one per request: the parse step notes what the document is,
/// the validation step measures it against the matching limits and draws its cost on the
/// caller's budget (`crate::ratelimit`), the execution step counts its usage.
struct Meter {
    limits: Protections,
    introspection_only: std::sync::atomic::AtomicBool,
    /// The operation's name, as the client gave it.
    operation: std::sync::Mutex<Option<String>>,
    /// The cost points the document measured.
    cost: std::sync::atomic::AtomicU64,
    /// Whether the operation run is a subscription: counted once, when it starts (each
    /// event it delivers runs the `execute` hook again).
    subscription: std::sync::atomic::AtomicBool,
    /// Whether the operation run is a query.
    query: std::sync::atomic::AtomicBool,
    /// A query's draw on its budgets, made at validation, sent and settled at execution.
    draw: std::sync::Mutex<Option<Draw>>,
}

/// A query's draw on the caller's budgets, sent when the query starts to execute (to Redis,
/// typically): what it said, with the cost points it drew.
type Draw = std::pin::Pin<Box<dyn std::future::Future<Output = DrawnCost> + Send>>;
type DrawnCost = (crate::ratelimit::Drawn, u64);

impl Meter {
    /// Counts the request in its company's usage (the limiter's counts), when it has one.
    fn count(&self, ctx: &ExtensionContext<'_>, counts: crate::usage::Counts) {
        let (Some(limiter), Some(tenant)) = (
            ctx.data_opt::<Arc<crate::ratelimit::Limiter>>(),
            ctx.data_opt::<TenantContext>(),
        ) else {
            return;
        };
        let operation = self
            .operation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        limiter.usage.add(tenant, operation.as_deref(), counts);
        if let Some(slot) = ctx.data_opt::<crate::ratelimit::RateSlot>() {
            slot.with(|l| l.counted += 1);
        }
    }

    fn keep_draw(&self, draw: Draw) {
        *self.draw.lock().unwrap_or_else(|p| p.into_inner()) = Some(draw);
    }

    fn take_draw(&self) -> Option<Draw> {
        self.draw.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Waits for `draw` before anything runs (its whole time is the answer's wait), then
    /// settles it.
    async fn wait_for(&self, ctx: &ExtensionContext<'_>, draw: Draw) -> Result<(), ServerError> {
        let started = std::time::Instant::now();
        let drawn = draw.await;
        crate::ratelimit::record_wait(&drawn.0, started.elapsed(), Drew::First);
        self.settle(ctx, drawn)
    }

    /// Notes what a draw of `cost` points said for the answer's headers and, when it
    /// refused, counts the refusal and returns its error.
    fn settle(
        &self,
        ctx: &ExtensionContext<'_>,
        (drawn, cost): DrawnCost,
    ) -> Result<(), ServerError> {
        if let Some(slot) = ctx.data_opt::<crate::ratelimit::RateSlot>() {
            slot.with(|l| {
                l.note(&drawn);
                l.cost_points += cost;
            });
        }
        match drawn.refused() {
            Some(refusal) => {
                self.count(ctx, crate::usage::Counts::refused());
                Err(refusal.error())
            }
            None => Ok(()),
        }
    }

    fn prepare(&self, request: &Request) {
        *self.operation.lock().unwrap_or_else(|p| p.into_inner()) = request.operation_name.clone();
    }

    fn executed(&self, ctx: &ExtensionContext<'_>, response: &Response) {
        if self.subscription.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        self.count(
            ctx,
            crate::usage::Counts::ran(
                self.cost.load(std::sync::atomic::Ordering::Relaxed),
                !response.errors.is_empty(),
            ),
        );
    }

    fn parsed(&self, doc: &ExecutableDocument) {
        self.introspection_only.store(
            introspection_only(doc),
            std::sync::atomic::Ordering::Relaxed,
        );
        let (kind, picked) = {
            let name = self
                .operation
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            // Without a name, async-graphql runs a document's operation only when it is
            // the only one (it refuses the others after validation, without executing).
            let picked = name.is_some() || doc.operations.iter().count() == 1;
            (operation_type(doc, name.as_deref()), picked)
        };
        use async_graphql::parser::types::OperationType;
        self.subscription.store(
            kind == Some(OperationType::Subscription),
            std::sync::atomic::Ordering::Relaxed,
        );
        // Only an operation that will run may run beside its draw (`Pipeline::execute`):
        // a draw left for an execution that never comes would never be made.
        self.query.store(
            picked && kind == Some(OperationType::Query),
            std::sync::atomic::Ordering::Relaxed,
        );
        // Usage is counted by operation: the name the request gave, or else the name of
        // the document's one operation.
        let mut operation = self.operation.lock().unwrap_or_else(|p| p.into_inner());
        if operation.is_none()
            && let async_graphql::parser::types::DocumentOperations::Multiple(ops) = &doc.operations
            && ops.len() == 1
        {
            *operation = ops.keys().next().map(|n| n.to_string());
        }
    }

    async fn validated(
        &self,
        ctx: &ExtensionContext<'_>,
        result: Result<ValidationResult, Vec<ServerError>>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = match result {
            Ok(r) => r,
            Err(errors) => {
                self.count(ctx, crate::usage::Counts::invalid());
                return Err(errors);
            }
        };
        // async-graphql computes depth and complexity for every document; the schema sets
        // no limits of its own so that they are applied here, by kind of document.
        let (max_depth, max_complexity) = if self
            .introspection_only
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            (INTROSPECTION_MAX_DEPTH, INTROSPECTION_MAX_COMPLEXITY)
        } else {
            (self.limits.max_depth, self.limits.max_complexity)
        };
        let refuse = |message: &str| {
            Err(vec![with_code(
                ServerError::new(message, None),
                VALIDATION_FAILED,
            )])
        };
        let refused = |e| {
            self.count(ctx, crate::usage::Counts::invalid());
            e
        };
        if result.complexity > max_complexity {
            return refused(refuse("Query is too complex."));
        }
        if result.depth > max_depth {
            return refused(refuse("Query is nested too deep."));
        }
        // The cost budget, drawn once the cost is known, with the request's own draw when
        // the transport left it to this point (one draw for both).
        let cost = result.complexity as u64;
        self.cost.store(cost, std::sync::atomic::Ordering::Relaxed);
        if let (Some(limiter), Some(tenant)) = (
            ctx.data_opt::<Arc<crate::ratelimit::Limiter>>(),
            ctx.data_opt::<TenantContext>(),
        ) {
            let slot = ctx.data_opt::<crate::ratelimit::RateSlot>();
            // Without a slot (a subscription over the legacy graphql-ws protocol, whose
            // messages pass no gate of ours) the request is drawn here too.
            let requests = slot.map_or(1, |s| s.take_pending());
            let address = ctx
                .data_opt::<ils_kernel::ClientInfo>()
                .and_then(|c| c.address.as_deref());
            use crate::ratelimit::Measure;
            let both = [(Measure::Requests, requests), (Measure::Cost, cost)];
            let amounts = if requests == 0 { &both[1..] } else { &both[..] };
            let draw: Draw = {
                let (limiter, tenant) = (limiter.clone(), tenant.clone());
                let (address, amounts) = (address.map(str::to_owned), amounts.to_vec());
                Box::pin(async move {
                    let drawn = limiter.draw(&tenant, address.as_deref(), &amounts).await;
                    (drawn, cost)
                })
            };
            // A query runs while its draw is on its way (`Pipeline::execute`): the draw
            // then costs its latency only when it outlasts the query. Anything else, and
            // a query of a caller refused within its last retry-after (whose refusals
            // should cost no work), waits for the verdict first.
            if self.query.load(std::sync::atomic::Ordering::Relaxed)
                && !limiter.held(tenant, address)
            {
                self.keep_draw(draw);
            } else {
                self.wait_for(ctx, draw)
                    .await
                    .map_err(|refusal| vec![refusal])?;
            }
        }
        // A subscription is counted here, once, as it starts.
        if self.subscription.load(std::sync::atomic::Ordering::Relaxed) {
            self.count(ctx, crate::usage::Counts::ran(cost, false));
        }
        Ok(result)
    }
}

/// Marks a request whose document was measured when it was published (a persisted
/// operation, which comes parsed): the checks that would parse its text again are skipped.
#[derive(Clone, Copy)]
pub struct Trusted;

/// The limits a document that asks only for the schema (`__schema`, `__type`,
/// `__typename` at its root) is measured against. Introspection reads the schema held in
/// memory, never the database, but nests deeply: GraphiQL's and graphql-codegen's queries
/// follow `ofType` nine levels (depth 13 in all) and select about 100 fields. The data
/// limits (`ILS_MAX_DEPTH`, default 12) would refuse them; these are sized to admit the
/// standard queries with room, and still bound a document built to be expensive.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;
pub const INTROSPECTION_MAX_COMPLEXITY: usize = 500;

fn with_code(mut e: ServerError, code: &str) -> ServerError {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
    }
    e
}

/// What a document holds, counted once per written occurrence (a fragment counts once,
/// however often it is spread; spreads are bounded by the depth and complexity limits).
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Census {
    pub aliases: usize,
    pub directives: usize,
    /// `__schema`, `__type` or `_service` (the subgraph's SDL) anywhere.
    pub introspection: bool,
}

/// The document asks only about the schema: every operation's root selections are
/// `__schema`, `__type` or `__typename`, and one is `__schema` or `__type` (they exist
/// only at the root, so the roots are all that is looked at; a fragment spread at the
/// root counts as data: it is not looked into).
pub fn introspection_only(doc: &ExecutableDocument) -> bool {
    #[derive(Default)]
    struct Roots {
        data: bool,
        schema: bool,
    }
    fn look(set: &SelectionSet, r: &mut Roots) {
        for s in &set.items {
            match &s.node {
                Selection::Field(f) => match f.node.name.node.as_str() {
                    "__schema" | "__type" => r.schema = true,
                    "__typename" => {}
                    _ => r.data = true,
                },
                Selection::InlineFragment(i) => look(&i.node.selection_set.node, r),
                Selection::FragmentSpread(_) => r.data = true,
            }
        }
    }
    let mut r = Roots::default();
    for (_, op) in doc.operations.iter() {
        look(&op.node.selection_set.node, &mut r);
    }
    r.schema && !r.data
}

fn walk(set: &SelectionSet, c: &mut Census) {
    for s in &set.items {
        match &s.node {
            Selection::Field(f) => {
                let f = &f.node;
                c.aliases += usize::from(f.alias.is_some());
                c.directives += f.directives.len();
                // The subgraph's `_service { sdl }` is the whole schema too.
                c.introspection |=
                    matches!(f.name.node.as_str(), "__schema" | "__type" | "_service");
                walk(&f.selection_set.node, c);
            }
            Selection::InlineFragment(i) => {
                c.directives += i.node.directives.len();
                walk(&i.node.selection_set.node, c);
            }
            Selection::FragmentSpread(f) => c.directives += f.node.directives.len(),
        }
    }
}

/// How many selections (fields, inline fragments, spreads, known or not) the operations
/// hold once every fragment spread is expanded, counted with memoised fragment sizes, so
/// a document that doubles itself through fragments (a few hundred bytes that expand to
/// billions) is measured in linear time. Nesting deeper than `MAX_NESTING` (which the
/// depth limits refuse anyway) measures as unbounded, so the walk itself stays shallow.
/// Cycles count once here; validation refuses them.
pub fn expanded_fields(doc: &ExecutableDocument) -> usize {
    use std::collections::{HashMap, HashSet};
    struct Walk<'a> {
        doc: &'a ExecutableDocument,
        memo: HashMap<&'a str, usize>,
        visiting: HashSet<&'a str>,
    }
    impl<'a> Walk<'a> {
        fn size(&mut self, set: &'a SelectionSet, depth: usize) -> usize {
            if depth > MAX_NESTING {
                return usize::MAX;
            }
            let mut total = 0usize;
            for s in &set.items {
                let inner = match &s.node {
                    Selection::Field(f) => self.size(&f.node.selection_set.node, depth + 1),
                    Selection::InlineFragment(i) => {
                        self.size(&i.node.selection_set.node, depth + 1)
                    }
                    Selection::FragmentSpread(f) => {
                        let name = f.node.fragment_name.node.as_str();
                        if let Some(n) = self.memo.get(name) {
                            *n
                        } else if self.visiting.contains(name) {
                            0
                        } else if let Some(frag) =
                            self.doc.fragments.get(&f.node.fragment_name.node)
                        {
                            self.visiting.insert(name);
                            let n = self.size(&frag.node.selection_set.node, depth + 1);
                            self.visiting.remove(name);
                            self.memo.insert(name, n);
                            n
                        } else {
                            0
                        }
                    }
                };
                total = total.saturating_add(1).saturating_add(inner);
            }
            total
        }
    }
    let mut walk = Walk {
        doc,
        memo: HashMap::new(),
        visiting: HashSet::new(),
    };
    doc.operations.iter().fold(0usize, |acc, (_, op)| {
        acc.saturating_add(walk.size(&op.node.selection_set.node, 0))
    })
}

/// Selection sets nested deeper than this (through fields or fragments) are refused before
/// anything walks them; the depth and recursion limits are far below it.
pub const MAX_NESTING: usize = 64;

/// The most selections a document may expand to. Far above any real query (the complexity
/// limit stops those much sooner); it only stops documents built to explode.
pub const MAX_EXPANDED_FIELDS: usize = 20_000;

pub fn census(doc: &ExecutableDocument) -> Census {
    let mut c = Census::default();
    for (_, op) in doc.operations.iter() {
        c.directives += op.node.directives.len();
        walk(&op.node.selection_set.node, &mut c);
    }
    for f in doc.fragments.values() {
        c.directives += f.node.directives.len();
        walk(&f.node.selection_set.node, &mut c);
    }
    c
}

/// Gives every error of `response` that has no `extensions.code` yet its code. What has
/// none by then is async-graphql's own: choosing the operation (a request error), or
/// coercing arguments and variables. The `request` hook applies this to every HTTP
/// response; a WebSocket's operations skip that hook, so the graphql-transport-ws server
/// applies it to each of theirs.
pub fn assign_codes(response: &mut Response) {
    for e in &mut response.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            let choosing = e.message.starts_with("Unknown operation named")
                || e.message.starts_with("Operation name required");
            ext.set(
                "code",
                if choosing {
                    VALIDATION_FAILED
                } else {
                    "BAD_USER_INPUT"
                },
            );
        }
    }
}

/// Stamps the request id on every error of a finished response.
pub fn stamp_request_id(response: &mut Response, request_id: &str) {
    for e in &mut response.errors {
        e.extensions
            .get_or_insert_with(Default::default)
            .set("requestId", request_id);
    }
}

/// An error's `extensions.code`, when it has one.
pub fn error_code(e: &ServerError) -> Option<&str> {
    match e.extensions.as_ref()?.get("code")? {
        Value::String(c) => Some(c),
        _ => None,
    }
}

/// True when the response failed before execution (parse or validation): a request error
/// in GraphQL-over-HTTP terms.
pub fn is_request_error(r: &Response) -> bool {
    r.data == Value::Null
        && !r.errors.is_empty()
        && r.errors.iter().all(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .is_some_and(|c| {
                    *c == Value::from(PARSE_FAILED)
                        || *c == Value::from(VALIDATION_FAILED)
                        // A cost budget's refusal, before anything ran (a field's own
                        // RATE_LIMITED, such as a throttled log-in, has a path).
                        || (*c == Value::from("RATE_LIMITED") && e.path.is_empty())
                })
        })
}

/// A validation that found several problems (`AppError::Invalid`) reports the first as
/// its error and the rest under `extensions.problems`: each of those becomes an error of
/// its own here, at the same place in the query, with its own `field`. This is the one
/// place where that happens, for HTTP and WebSocket alike.
fn one_error_per_problem(errors: Vec<ServerError>) -> Vec<ServerError> {
    let mut out = Vec::with_capacity(errors.len());
    for mut e in errors {
        let problems = e.extensions.as_mut().and_then(|x| {
            let found = x.get(ils_kernel::error::PROBLEMS).cloned();
            x.unset(ils_kernel::error::PROBLEMS);
            found
        });
        let code = e.extensions.as_ref().and_then(|x| x.get("code").cloned());
        let (path, locations) = (e.path.clone(), e.locations.clone());
        out.push(e);
        let Some(async_graphql::Value::List(problems)) = problems else {
            continue;
        };
        for problem in problems {
            let async_graphql::Value::Object(mut problem) = problem else {
                continue;
            };
            let message = match problem.shift_remove("message") {
                Some(async_graphql::Value::String(m)) => m,
                _ => continue,
            };
            let mut extensions = ErrorExtensionValues::default();
            if let Some(code) = &code {
                extensions.set("code", code.clone());
            }
            if let Some(field) = problem.shift_remove("field") {
                extensions.set("field", field);
            }
            let mut extra = ServerError::new(message, None);
            extra.locations = locations.clone();
            extra.path = path.clone();
            extra.extensions = Some(extensions);
            out.push(extra);
        }
    }
    out
}

/// The type of the operation `name` picks in `doc` (or its only one).
pub fn operation_type(
    doc: &ExecutableDocument,
    name: Option<&str>,
) -> Option<async_graphql::parser::types::OperationType> {
    match name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name))
            .map(|(_, o)| o.node.ty),
        None => doc.operations.iter().next().map(|(_, o)| o.node.ty),
    }
}

#[cfg(test)]
mod tests {
    use ils_kernel::{AppError, FieldError};

    #[test]
    fn an_invalid_input_becomes_one_error_per_problem() {
        let problem = |field: &str, message: &str| FieldError {
            field: field.into(),
            message: message.into(),
        };
        let invalid = AppError::invalid(
            "order",
            vec![
                problem("rx.right.axis", "between 1 and 180 degrees"),
                problem("lens.index", "one of 1.50, 1.60"),
                problem("", "incomplete"),
            ],
        );
        let mut first = async_graphql::Error::from(invalid).into_server_error(Default::default());
        first.path = vec![async_graphql::PathSegment::Field("submitOrder".into())];
        let errors = one_error_per_problem(vec![first]);
        let seen: Vec<(String, Value, Value)> = errors
            .iter()
            .map(|e| {
                let x = e.extensions.as_ref().expect("extensions");
                assert!(x.get(ils_kernel::error::PROBLEMS).is_none());
                assert_eq!(e.path.len(), 1, "every error keeps its place");
                (
                    e.message.clone(),
                    x.get("code").cloned().expect("code"),
                    x.get("field").cloned().expect("field"),
                )
            })
            .collect();
        let code = Value::from("BAD_USER_INPUT");
        let path = |p: &[&str]| Value::from(p.join("."));
        assert_eq!(
            seen,
            vec![
                (
                    "between 1 and 180 degrees".to_string(),
                    code.clone(),
                    path(&["order", "rx", "right", "axis"])
                ),
                (
                    "one of 1.50, 1.60".to_string(),
                    code.clone(),
                    path(&["order", "lens", "index"])
                ),
                ("incomplete".to_string(), code, path(&["order"])),
            ]
        );
    }

    use super::*;

    #[test]
    fn the_census_counts_aliases_directives_and_introspection() {
        let doc = async_graphql::parser::parse_query(
            "query { a: me { b: user { id } } ...F } fragment F on Query { c: me { roles } }",
        )
        .unwrap();
        let c = census(&doc);
        assert_eq!(c.aliases, 3);
        assert!(!c.introspection);
        let doc = async_graphql::parser::parse_query(
            "query @a { x @b @c { __type(name: \"Q\") { name } } ... on Query @d { y } ...F @e } fragment F on Query @f { z }",
        )
        .unwrap();
        let c = census(&doc);
        assert_eq!(c.directives, 6);
        assert!(c.introspection);
    }

    #[test]
    fn fragments_that_double_themselves_are_measured_in_linear_time() {
        let mut q = String::from("query { ...F0 } ");
        for i in 0..60 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }} ",
                n = i + 1
            ));
        }
        q.push_str("fragment F60 on Query { __typename }");
        let doc = async_graphql::parser::parse_query(&q).unwrap();
        assert!(expanded_fields(&doc) > MAX_EXPANDED_FIELDS);
        let doc = async_graphql::parser::parse_query(
            "{ a { b c } ...F } fragment F on Query { d ...G } fragment G on Query { e }",
        )
        .unwrap();
        // a { b c } = 3, the spread of F = 1, d = 1, the spread of G = 1, e = 1
        assert_eq!(expanded_fields(&doc), 7);
        let cyclic = async_graphql::parser::parse_query(
            "{ ...A } fragment A on Query { x ...B } fragment B on Query { y ...A }",
        )
        .unwrap();
        assert!(expanded_fields(&cyclic) < 10);
        // Doubling through spreads of an undefined fragment is measured too.
        let mut q = String::from("query { ...F0 } ");
        for i in 0..31 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }} ",
                n = i + 1
            ));
        }
        q.push_str("fragment F31 on Query { ...Nope }");
        let doc = async_graphql::parser::parse_query(&q).unwrap();
        assert!(expanded_fields(&doc) > MAX_EXPANDED_FIELDS);
        // A long chain measures as unbounded without a deep walk.
        let mut q = String::from("query { ...C0 } ");
        for i in 0..5000 {
            q.push_str(&format!("fragment C{i} on Query {{ ...C{} }} ", i + 1));
        }
        q.push_str("fragment C5000 on Query { __typename }");
        let doc = async_graphql::parser::parse_query(&q).unwrap();
        assert_eq!(expanded_fields(&doc), usize::MAX);
    }
}
