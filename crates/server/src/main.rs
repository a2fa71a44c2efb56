//! `gatehouse-server` command line: `init` a development deployment, `serve` it,
//! inspect or change the officer registry, print the OpenAPI document.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gatehouse_server::config::{self, Config, LogFormat};
use gatehouse_server::deployment::{self, InitOptions};
use tracing_subscriber::EnvFilter;
use utoipa::OpenApi;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse-server",
    version,
    about = "The Gatehouse custody backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a development deployment: CA, server and people certificates, registry, profiles.
    Init {
        /// Directory to create it in.
        #[arg(long)]
        data_dir: PathBuf,
        /// Replace an existing deployment in that directory.
        #[arg(long)]
        force: bool,
        /// The deployment's name.
        #[arg(long, default_value = "dev")]
        deployment: String,
        /// Address the server will listen on.
        #[arg(long, default_value = config::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Keep the registry in PostgreSQL instead of the SQLite file.
        #[arg(long, env = "GATEHOUSE_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Serve the API over mutual TLS until SIGINT or SIGTERM.
    Serve {
        /// The deployment's config file.
        #[arg(long)]
        config: PathBuf,
        /// Override the listen address (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Once listening, write the bound host:port to this file.
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
    /// Inspect or change the officer registry.
    Registry {
        /// The deployment's config file.
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: RegistryAction,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Append labelled demo activity (actions `demo.*`) to the audit log, through the real
    /// sequencer, so the explorer has a large trail to show.
    DemoActivity {
        /// The deployment's config file.
        #[arg(long)]
        config: PathBuf,
        /// How many entries.
        #[arg(long, default_value_t = 10_000)]
        count: u64,
    },
}

#[derive(Debug, Subcommand)]
enum RegistryAction {
    /// List every entry.
    List,
    /// Switch a person's access off.
    Disable {
        /// Registered name.
        name: String,
    },
    /// Switch a person's access back on.
    Enable {
        /// Registered name.
        name: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehouse-server: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)] // the CLI's output is its product
async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init {
            data_dir,
            force,
            deployment,
            listen,
            database_url,
        } => {
            let options = InitOptions {
                deployment,
                listen,
                force,
                database_url,
            };
            let created = deployment::init(&data_dir, &options).await?;
            println!("Created a development deployment in {}", data_dir.display());
            println!("  config:  {}", created.config_file.display());
            for person in &created.people {
                let roles: Vec<_> = person.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "  {:<6} {:<20} profile {}",
                    person.name,
                    roles.join("+"),
                    person.profile.display()
                );
            }
            println!(
                "Start it with: gatehouse-server serve --config {}",
                created.config_file.display()
            );
            Ok(())
        }
        Command::Serve {
            config,
            listen,
            ready_file,
        } => {
            let mut config = Config::load(&config)?;
            if let Some(listen) = listen {
                config.listen = listen;
            }
            init_logging(&config)?;
            let running = gatehouse_server::start(&config).await?;
            if let Some(path) = ready_file {
                deployment::write_file(&path, &running.addr.to_string(), 0o644)
                    .context("writing the ready file")?;
            }
            running.run_until(shutdown_signal()).await?;
            Ok(())
        }
        Command::Registry { config, action } => {
            let config = Config::load(&config)?;
            let db = gatehouse_server::db::Db::connect(&config.database_url()).await?;
            let disable = matches!(action, RegistryAction::Disable { .. });
            match action {
                RegistryAction::List => {
                    for o in db.officers().await? {
                        let roles: Vec<_> = o.roles.iter().map(|r| r.as_str()).collect();
                        let state = if o.disabled { "disabled" } else { "enabled" };
                        println!(
                            "{:<12} {:<24} {:<8} {}",
                            o.name,
                            roles.join("+"),
                            state,
                            o.fingerprint
                        );
                    }
                }
                RegistryAction::Disable { name } | RegistryAction::Enable { name } => {
                    set_disabled(&config, &db, &name, disable).await?;
                    println!(
                        "{name}: access {}",
                        if disable { "disabled" } else { "enabled" }
                    );
                }
            }
            db.close().await;
            Ok(())
        }
        Command::DemoActivity { config, count } => {
            use gatehouse_server::audit::{self, AuditLog};
            let config = Config::load(&config)?;
            let db = gatehouse_server::db::Db::connect(&config.database_url()).await?;
            let key = audit::load_key(
                &config.resolve(&config.audit.log_key),
                &config.audit_origin(),
            )?;
            let log = AuditLog::open(db.clone(), key).await?;
            let started = std::time::Instant::now();
            gatehouse_server::demo::generate(&log, count, 512, move |done| {
                eprint!("\rappending demo activity: {done}/{count}");
            })
            .await
            .context("appending demo activity")?;
            eprintln!();
            println!(
                "appended {count} demo entries in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            db.close().await;
            Ok(())
        }
        Command::Openapi => {
            let doc = gatehouse_server::http::ApiDoc::openapi().to_pretty_json()?;
            println!("{doc}");
            Ok(())
        }
    }
}

/// Changes a registry entry and audits it; the change is made only if its audit entry is written.
async fn set_disabled(
    config: &Config,
    db: &gatehouse_server::db::Db,
    name: &str,
    disable: bool,
) -> anyhow::Result<()> {
    use gatehouse_server::audit::{self, AuditLog};
    let officer = db
        .officers()
        .await?
        .into_iter()
        .find(|o| o.name == name)
        .with_context(|| format!("no registry entry named {name:?}; see `registry list`"))?;
    let key = audit::load_key(
        &config.resolve(&config.audit.log_key),
        &config.audit_origin(),
    )?;
    let log = AuditLog::open(db.clone(), key).await?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    log.append(audit::Entry {
        actor: audit::Actor {
            name: format!("local:{operator}"),
            fingerprint: gatehouse_protocol::Fingerprint::from_digest([0; 32]),
        },
        action: if disable {
            "registry.disable"
        } else {
            "registry.enable"
        }
        .to_owned(),
        object: format!("officer:{}", officer.fingerprint),
        outcome: gatehouse_audit::leaf::OutcomeKind::Success,
        code: None,
        request_id: format!("cli-{}", std::process::id()),
        details: serde_json::json!({ "name": name }),
        personal: Vec::new(),
    })
    .await
    .context("the change was not made because it could not be audited")?;
    db.set_disabled(name, disable).await?;
    Ok(())
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log.filter)
        .with_context(|| format!("log filter {:?} is invalid", config.log.filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => tracing::info!("interrupted"),
        _ = terminate.recv() => tracing::info!("terminated"),
    }
}
