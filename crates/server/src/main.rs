//! `gatehouse-server` command line: `init` a development deployment, `serve` it,
//! inspect or change the officer registry, print the OpenAPI document.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gatehouse_server::config::{self, Config, LogFormat};
use gatehouse_server::deployment::{self, InitOptions};
use gatehouse_server::registry::enrol::Enrolment;
use gatehouse_server::registry::{ChangedBy, Registry};
use tracing_subscriber::EnvFilter;

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
    /// Issue a client certificate for a key kept on a device (YubiKey, PKCS#11 token) from its
    /// certificate signing request (`gatehouse device csr`), and register it. The request's
    /// signature proves the key is held; only its public key is used.
    Enrol {
        /// The person's name (the certificate's common name and the registry entry).
        #[arg(long)]
        name: String,
        /// A role (repeat for several): officer, responder, compliance, admin. Not with --replace,
        /// which keeps the entry's roles.
        #[arg(
            long = "role",
            required_unless_present = "replace",
            conflicts_with = "replace"
        )]
        roles: Vec<gatehouse_protocol::Role>,
        /// The certificate signing request (PEM or DER).
        #[arg(long)]
        csr: PathBuf,
        /// Where to write the certificate (PEM).
        #[arg(long)]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = gatehouse_server::registry::enrol::DEFAULT_DAYS)]
        days: u32,
        /// The person is registered already: replace their certificate (the old one stops
        /// working at once), keeping their roles.
        #[arg(long)]
        replace: bool,
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
            let db = gatehouse_server::store::Db::connect(&config.database_url()).await?;
            if let RegistryAction::List = action {
                for o in gatehouse_server::registry::store::officers(&db).await? {
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
                db.close().await;
                return Ok(());
            }
            let mut tasks = tokio::task::JoinSet::new();
            let log = gatehouse_server::open_audit(&config, &db, &mut tasks).await?;
            let registry = Registry::new(db.clone(), log.clone());
            let by = ChangedBy::local_operator();
            let disable = matches!(action, RegistryAction::Disable { .. });
            let result = match action {
                RegistryAction::List => Ok(()),
                RegistryAction::Enrol {
                    name,
                    roles,
                    csr,
                    out,
                    days,
                    replace,
                } => {
                    let request = Enrolment {
                        name: &name,
                        roles: &roles,
                        csr: &csr,
                        out: &out,
                        days,
                        replace,
                    };
                    gatehouse_server::registry::enrol::from_request(&config, &registry, &by, &request)
                        .await
                        .map(|fingerprint| {
                            println!("{name}: certificate {fingerprint} written to {}", out.display());
                            println!(
                                "  profile: gatehouse profile add --name {name} --server URL --ca CA.pem --cert {} --device-key ID (and the device: --piv --serial N, or --module PATH --token LABEL)",
                                out.display()
                            );
                        })
                        .map_err(anyhow::Error::from)
                }
                RegistryAction::Disable { name } | RegistryAction::Enable { name } => registry
                    .set_disabled(&by, &name, disable)
                    .await
                    .map(|()| {
                        println!(
                            "{name}: access {}",
                            if disable { "disabled" } else { "enabled" }
                        );
                    })
                    .map_err(anyhow::Error::from),
            };
            log.close();
            while tasks.join_next().await.is_some() {}
            db.close().await;
            result
        }
        Command::DemoActivity { config, count } => {
            let config = Config::load(&config)?;
            let db = gatehouse_server::store::Db::connect(&config.database_url()).await?;
            let mut tasks = tokio::task::JoinSet::new();
            let log = gatehouse_server::open_audit(&config, &db, &mut tasks).await?;
            let started = std::time::Instant::now();
            let result = gatehouse_server::audit::demo::generate(&log, count, 8, move |done| {
                eprint!("\rappending demo activity: {done}/{count}");
            })
            .await
            .context("appending demo activity");
            log.close();
            while tasks.join_next().await.is_some() {}
            db.close().await;
            result?;
            eprintln!();
            println!(
                "appended {count} demo entries in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Openapi => {
            let doc = gatehouse_server::http::openapi().to_pretty_json()?;
            println!("{doc}");
            Ok(())
        }
    }
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
