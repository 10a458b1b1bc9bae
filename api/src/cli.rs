//! The `ils` command line.

use crate::config::{Config, ConfigError, LogFormat};
use crate::{db, schema, seed, server};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ils",
    version,
    about = "ILS: the GraphQL API of the optical trade"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Run only the background work (outbox dispatcher, job workers, scheduler), to scale
    /// it out beside `serve` processes that set ILS_WORKERS=0 or more.
    Worker,
    /// Measure job throughput: enqueue no-op jobs and time the workers draining them.
    BenchJobs {
        #[arg(long, default_value_t = 20_000)]
        jobs: usize,
        /// Jobs enqueued per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Measure persisted operations: publishing a list of --documents operations, and
    /// looking their IDs up as the request path does (first time and cached), p50/p99.
    BenchOperations {
        #[arg(long, default_value_t = 10_000)]
        documents: usize,
        #[arg(long, default_value_t = 200_000)]
        lookups: usize,
    },
    /// Measure the purchasing agent: seed one practice with `products` products from
    /// `suppliers` ACTIVELY connected suppliers and `days` days of daily sales history
    /// (below the guard), then run the agent twice (drafting, then finding nothing new)
    /// and report each run's time and SQL statements. The practice's admin logs in as
    /// --email with --password; its product IDs are written to --ids (for bench/agent's
    /// demandForecast load run).
    BenchAgent {
        #[arg(long, default_value_t = 10_000)]
        products: usize,
        #[arg(long, default_value_t = 20)]
        suppliers: usize,
        #[arg(long, default_value_t = 730)]
        days: usize,
        #[arg(long, default_value = "admin@agent.bench.example")]
        email: String,
        #[arg(long, default_value = crate::bench::SEED_PASSWORD)]
        password: String,
        /// Where to write the products' global IDs, one a line.
        #[arg(long)]
        ids: Option<std::path::PathBuf>,
    },
    /// Measure what rollup maintenance adds to order submission, in a database
    /// `bench-seed` wrote: `orders` drafts of Practice 1 submitted through the schema
    /// (timed), the analytics handler run over their events in batches (timed), and
    /// `orders` more submitted with a worker handling their events beside them (timed).
    BenchAnalytics {
        #[arg(long, default_value_t = 1500)]
        orders: usize,
    },
    /// Measure the rate limiter's own cost per request: `requests` draws of a request
    /// and of a cost on a user's and a company's budgets (what a request makes), in Redis
    /// (`REDIS_URL`, required) and in process.
    BenchLimiter {
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
    },
    /// Measure a supplier's CSV catalog import: upload to COMPLETED, then the same file
    /// again (nothing changes).
    BenchCatalogImport {
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
    },
    /// Measure stock reads and writes over a large ledger: a page of stockLevels and
    /// postStockMovement, p50/p95/p99.
    BenchInventory {
        /// Ledger lines to seed for one company.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 1_000)]
        products: usize,
        /// Timed requests of each kind.
        #[arg(long, default_value_t = 500)]
        samples: usize,
    },
    /// Write the load benchmark's data set (bench/run) into an empty PostgreSQL database
    /// (PostgreSQL only: set-based SQL): ACTIVE practices, labs and suppliers named
    /// `Practice 1`, `Lab 1`, `Supplier 1`…, one admin each (`Practice 12` logs in as
    /// admin@practice-12.bench.example with --password), an ACTIVE connection from each
    /// practice to the labs its orders go to, and submitted lens orders (two eyes each,
    /// statuses and times spread as the peer's bench/peer/dataset.sql), then ANALYZE.
    /// 1.5 million orders take a few minutes.
    BenchSeed {
        #[arg(long, default_value_t = 150)]
        practices: usize,
        #[arg(long, default_value_t = 40)]
        labs: usize,
        #[arg(long, default_value_t = 10)]
        suppliers: usize,
        #[arg(long, default_value_t = 1_000)]
        orders_per_practice: usize,
        /// Every seeded admin's password (hashed once).
        #[arg(long, default_value = crate::bench::SEED_PASSWORD)]
        password: String,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema {
        /// Print the Apollo Federation v2 subgraph SDL instead (what `/subgraph` answers
        /// to `_service { sdl }`), for composing a supergraph from a file.
        #[arg(long)]
        subgraph: bool,
    },
    /// Analytics: the rollups behind every company's dashboard.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// Persisted operations (trusted documents) for partners.
    Operations {
        #[command(subcommand)]
        command: OperationsCommand,
    },
    /// Seed demo data into an empty database.
    Seed,
    /// Create a platform admin account. The password is read from standard input (one
    /// line), or from a file with --password-file; never from the command line, where
    /// other users and the shell history would see it.
    CreatePlatformAdmin {
        #[arg(long)]
        email: String,
        /// A file holding the password (its first line).
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
        #[arg(long, default_value = "Platform")]
        first_name: String,
        #[arg(long, default_value = "Admin")]
        last_name: String,
    },
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Recompute every company's dashboard rollups from the lens orders and purchase
    /// orders, in one transaction (after an upgrade that adds a figure, or to check the
    /// kept ones: the result is what the event handler keeps).
    Rebuild,
    /// Build the market insights release of a month that has ended (the monthly job does
    /// this on the 2nd), or show the one kept; prints how long it took.
    Release {
        /// Any day of the month (YYYY-MM-DD); last month when left out.
        #[arg(long)]
        month: Option<chrono::NaiveDate>,
        /// The privacy budget of a new release.
        #[arg(long, default_value_t = ils_analytics::insights::DEFAULT_EPSILON)]
        epsilon: f64,
    },
}

#[derive(Subcommand)]
enum OperationsCommand {
    /// Publish a manifest as the next version of a platform list (any company may grant
    /// it to its API keys): an Apollo persisted query manifest, a `{ "<sha256>": "<document>" }`
    /// map (graphql-codegen's client preset, Relay), one .graphql file, or a folder of
    /// .graphql files (each file one document). Every document is checked against this
    /// build's schema and limits first; one problem refuses the whole manifest (exit 1,
    /// every problem listed, nothing stored).
    Publish {
        /// The list's name (e.g. acme-pms).
        #[arg(long)]
        list: String,
        /// The manifest file, or a folder of .graphql files.
        path: std::path::PathBuf,
    },
    /// Check every ACTIVE list version's documents against this build's schema and limits
    /// (exit 1, listing each broken document, when a schema change would break an
    /// operation a partner runs).
    Check,
}

/// The settings, for `ils --help`.
fn settings_help() -> String {
    use crate::config::{OTHER_VARIABLES, VARIABLES};
    let mut out = String::from(
        "Settings (environment variables; in ils.toml the same names in lower case without ILS_):\n",
    );
    for (name, what) in VARIABLES.iter().chain(OTHER_VARIABLES) {
        out.push_str(&format!("  {name:<30} {what}\n"));
    }
    out.push_str("An unknown ILS_ variable or ils.toml key stops the server (exit 2).");
    out
}

/// The password for `create-platform-admin`: the first line of the file, or of standard
/// input.
fn read_password(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let text = match file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line
        }
    };
    let password = text.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        anyhow::bail!("no password given (one line on standard input, or --password-file)");
    }
    Ok(password)
}

pub fn run() -> ExitCode {
    let matches = Cli::command().after_help(settings_help()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if let Some(Command::Schema { subgraph }) = cli.command {
        if subgraph {
            println!("{}", schema::subgraph_sdl());
        } else {
            println!("{}", schema::sdl());
        }
        return ExitCode::SUCCESS;
    }
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => return fail_config(&e),
    };
    init_tracing(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ils: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Worker => worker(config).await,
            Command::BenchJobs { jobs, batch } => crate::bench::jobs(config, jobs, batch).await,
            Command::BenchOperations { documents, lookups } => {
                crate::bench::operations(config, documents, lookups).await
            }
            Command::BenchInventory {
                rows,
                products,
                samples,
            } => crate::bench::inventory(config, rows, products, samples).await,
            Command::BenchAgent {
                products,
                suppliers,
                days,
                email,
                password,
                ids,
            } => {
                crate::bench::agent(
                    config,
                    crate::bench::AgentShape {
                        products,
                        suppliers,
                        days,
                        email,
                        password,
                        ids,
                    },
                )
                .await
            }
            Command::BenchAnalytics { orders } => crate::bench::analytics(config, orders).await,
            Command::BenchLimiter { requests } => crate::bench::limiter(config, requests).await,
            Command::BenchCatalogImport { rows } => {
                crate::bench::catalog_import(config, rows).await
            }
            Command::BenchSeed {
                practices,
                labs,
                suppliers,
                orders_per_practice,
                password,
            } => {
                crate::bench::seed(
                    config,
                    crate::bench::SeedShape {
                        practices,
                        labs,
                        suppliers,
                        orders_per_practice,
                        password,
                    },
                )
                .await
            }
            Command::Migrate => {
                let (conn, _) = db::connect(&config, &Default::default()).await?;
                db::migrate(&conn).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Seed => {
                if config.env == crate::config::Environment::Production {
                    return Err(ConfigError(
                        "ils seed adds demo companies with known passwords; it is refused when \
                         ILS_ENV=production"
                            .into(),
                    )
                    .into());
                }
                let (state, _) = server::build(Config {
                    seed_demo: false,
                    ..config
                })
                .await?;
                let seeded = seed::seed_if_empty(&state.db, &state.tokens)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                println!(
                    "{}",
                    if seeded {
                        "demo data seeded"
                    } else {
                        "the database already has companies; nothing seeded"
                    }
                );
                Ok(())
            }
            Command::CreatePlatformAdmin {
                email,
                password_file,
                first_name,
                last_name,
            } => {
                let password = read_password(password_file.as_deref())?;
                let (state, _) = server::build(Config {
                    seed_demo: false,
                    ..config
                })
                .await?;
                seed::create_platform_admin(&state.db, &email, &password, &first_name, &last_name)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e))?;
                println!("platform admin {email} created");
                Ok(())
            }
            Command::Operations { command } => {
                let (state, _) = server::build(Config {
                    seed_demo: false,
                    ..config
                })
                .await?;
                let checker = schema::checker(&crate::extension::Protections::from(&*state.config));
                crate::operations::cli(&state.db, &checker, command_of(command)).await
            }
            Command::Analytics {
                command: AnalyticsCommand::Release { month, epsilon },
            } => {
                let (state, _) = server::build(Config {
                    seed_demo: false,
                    ..config
                })
                .await?;
                let month = month.unwrap_or_else(|| {
                    ils_analytics::insights::month_of(chrono::Utc::now().date_naive()).0
                        - chrono::Duration::days(1)
                });
                let started = std::time::Instant::now();
                let r = ils_analytics::insights::build(&state.db, month, epsilon)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let published = r.body.cells.iter().filter(|c| c.value.is_some()).count();
                println!(
                    "release {} (ε {}): {} contributing companies, {} figures of which {} published, {} peer distributions; {:.1} s",
                    r.month.format("%Y-%m"),
                    r.epsilon,
                    r.contributors,
                    r.body.cells.len(),
                    published,
                    r.body.peers.len(),
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            Command::Analytics {
                command: AnalyticsCommand::Rebuild,
            } => {
                let (state, _) = server::build(Config {
                    seed_demo: false,
                    ..config
                })
                .await?;
                let started = std::time::Instant::now();
                let done = ils_analytics::rollup::rebuild(&state.db)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "rollups rebuilt in {:.1} s: {} lens orders and {} purchase orders, {} day rows for {} companies",
                    started.elapsed().as_secs_f64(),
                    done.orders,
                    done.purchase_orders,
                    done.day_rows,
                    done.companies
                );
                Ok(())
            }
            Command::Schema { .. } => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(c) => fail_config(c),
            None => {
                eprintln!("ils: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn fail_config(e: &ConfigError) -> ExitCode {
    eprintln!("ils: {e}");
    ExitCode::from(2)
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ILS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colours only on a terminal: logs collected from a file or a pipe stay plain text.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let running = server::start(config).await?;
    let addr = running.addr;
    println!("ILS is listening on http://{addr}");
    println!("  playground: http://{addr}/playground");
    println!("  GraphQL:    http://{addr}/graphql  (WebSocket: ws://{addr}/graphql/ws)");
    if !running.state.demo_logins.is_empty() {
        println!("  demo logins:");
        for d in running.state.demo_logins.iter() {
            println!("    {:<22} {:<28} {}", d.label, d.email, d.password);
        }
    }
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let workers = config.workers.max(1);
    let (state, _) = server::build(Config {
        seed_demo: false,
        workers,
        ..config
    })
    .await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tracker = server::start_background(&state, &shutdown).await;
    println!("ILS worker running ({workers} job slots); Ctrl-C or SIGTERM stops it");
    shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    let grace = std::time::Duration::from_secs(state.config.shutdown_grace_secs);
    let _ = tokio::time::timeout(grace, tracker.wait()).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return std::future::pending::<()>().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn command_of(c: OperationsCommand) -> crate::operations::Command {
    match c {
        OperationsCommand::Publish { list, path } => {
            crate::operations::Command::Publish { list, path }
        }
        OperationsCommand::Check => crate::operations::Command::Check,
    }
}
