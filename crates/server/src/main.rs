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
        #[arg(long, default_value_t = 365)]
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
                RegistryAction::Enrol {
                    name,
                    roles,
                    csr,
                    out,
                    days,
                    replace,
                } => {
                    let fingerprint =
                        enrol(&config, &db, &name, &roles, &csr, &out, days, replace).await?;
                    println!(
                        "{name}: certificate {} written to {}",
                        fingerprint,
                        out.display()
                    );
                    println!(
                        "  profile: gatehouse profile add --name {name} --server URL --ca CA.pem --cert {} --device-key ID (and the device: --piv --serial N, or --module PATH --token LABEL)",
                        out.display()
                    );
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

/// Issues a certificate for the key in a signing request and registers it (or, with `replace`,
/// gives an existing entry the new certificate). Audited first: no audit entry, no change.
#[allow(clippy::too_many_arguments)] // one per command-line option
async fn enrol(
    config: &Config,
    db: &gatehouse_server::db::Db,
    name: &str,
    roles: &[gatehouse_protocol::Role],
    csr: &std::path::Path,
    out: &std::path::Path,
    days: u32,
    replace: bool,
) -> anyhow::Result<gatehouse_protocol::Fingerprint> {
    use rustls::pki_types::CertificateSigningRequestDer;
    use rustls::pki_types::pem::PemObject as _;
    let bytes = std::fs::read(csr).with_context(|| format!("reading {}", csr.display()))?;
    let der = match CertificateSigningRequestDer::from_pem_slice(&bytes) {
        Ok(der) => der.as_ref().to_vec(),
        Err(_) => bytes,
    };
    // The development deployment keeps the CA key next to its certificate (`init` writes
    // both); a production CA issues certificates elsewhere, from the same request.
    let ca_cert = config.resolve(&config.tls.ca_cert);
    let ca_key = ca_cert.with_extension("key");
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading {} (enrol issues from the deployment's own CA; with an external CA, have it sign the request)",
                path.display()
            )
        })
    };
    let ca = gatehouse_server::pki::Authority::load(&read(&ca_cert)?, &read(&ca_key)?)?;
    let cert_pem = ca
        .issue_client_for_request(
            name,
            &der,
            gatehouse_server::pki::Validity::days_from_now(days),
        )
        .with_context(|| format!("{}", csr.display()))?;
    let fingerprint = deployment::fingerprint_of_pem(&cert_pem)?;
    let existing = db.officers().await?.into_iter().find(|o| o.name == name);
    match (&existing, replace) {
        (Some(_), false) => anyhow::bail!(
            "{name:?} is registered already; pass --replace to give them this certificate instead (their old one stops working)"
        ),
        (None, true) => {
            anyhow::bail!("no registry entry named {name:?} to replace; see `registry list`")
        }
        _ => {}
    }
    let action = if replace {
        "registry.replace-certificate"
    } else {
        "registry.enrol"
    };
    let roles_text: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
    audit_registry_change(
        config,
        db,
        action,
        format!("officer:{fingerprint}"),
        serde_json::json!({
            "name": name,
            "roles": roles_text,
            "replaces": existing.map(|o| o.fingerprint.to_hex()),
        }),
    )
    .await?;
    // Write the certificate before registering: a registered fingerprint whose certificate
    // was lost would be an entry nobody can use.
    deployment::write_file(out, &cert_pem, 0o644)?;
    if replace {
        db.replace_certificate(name, &fingerprint).await?;
    } else {
        db.register(&fingerprint, name, roles).await?;
    }
    Ok(fingerprint)
}

/// Changes a registry entry and audits it; the change is made only if its audit entry is written.
async fn set_disabled(
    config: &Config,
    db: &gatehouse_server::db::Db,
    name: &str,
    disable: bool,
) -> anyhow::Result<()> {
    let officer = db
        .officers()
        .await?
        .into_iter()
        .find(|o| o.name == name)
        .with_context(|| format!("no registry entry named {name:?}; see `registry list`"))?;
    audit_registry_change(
        config,
        db,
        if disable {
            "registry.disable"
        } else {
            "registry.enable"
        },
        format!("officer:{}", officer.fingerprint),
        serde_json::json!({ "name": name }),
    )
    .await?;
    db.set_disabled(name, disable).await?;
    Ok(())
}

/// Appends a registry change made on this machine to the audit trail. The caller makes the
/// change only if this succeeds.
async fn audit_registry_change(
    config: &Config,
    db: &gatehouse_server::db::Db,
    action: &str,
    object: String,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    use gatehouse_server::audit::{self, AuditLog};
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
        action: action.to_owned(),
        object,
        outcome: gatehouse_audit::leaf::OutcomeKind::Success,
        code: None,
        request_id: format!("cli-{}", std::process::id()),
        details,
        personal: Vec::new(),
    })
    .await
    .context("the change was not made because it could not be audited")?;
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
