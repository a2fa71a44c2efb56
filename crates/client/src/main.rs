//! `gatehouse`: the command-line client. Manages connection profiles and asks
//! the server who you are and how it is.
//!
//! Exit codes: 0 ok, 1 other failure, 2 usage, 3 unreachable, 4 server not
//! trusted, 5 client certificate rejected, 6 not registered, 7 disabled,
//! 8 certificate expired or not yet valid, 9 server version unsupported,
//! 10 profile problem, 11 keyring unavailable, 12 audit verification alarm.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gatehouse_client::profile::{self, KeySource, NewProfile, Profile, ProfileStore};
use gatehouse_client::secret::{Secret, SecretStore};
use gatehouse_client::{Error, OpenError};
use gatehouse_protocol::Environment;

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "Gatehouse command-line client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage connection profiles.
    Profile {
        #[command(subcommand)]
        action: ProfileAction,
    },
    /// Show who the server thinks you are.
    Whoami {
        /// Profile to use (defaults to the only one, if there is exactly one).
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Sync and verify the audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Show the server's version, instance and storage.
    Status {
        /// Profile to use (defaults to the only one, if there is exactly one).
        #[arg(long, short)]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Fetch new entries into the local cache, verifying signatures, consistency and every entry.
    Sync {
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Re-verify the local cache offline.
    Verify {
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Search the verified local cache (full text, FTS5 syntax), newest first. Works offline.
    Search {
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
        /// What to look for, e.g. `refused`, `action:audit.erase`, `dave`; all entries when omitted.
        query: Option<String>,
        /// Most entries to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
enum ProfileAction {
    /// Add a profile from certificate and key files.
    Add {
        /// Profile name.
        #[arg(long)]
        name: String,
        /// Server URL, https://host:port.
        #[arg(long)]
        server: String,
        /// The deployment CA certificate (PEM).
        #[arg(long)]
        ca: PathBuf,
        /// Your client certificate (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Your private key (PKCS#8 PEM, optionally encrypted).
        #[arg(long)]
        key: PathBuf,
        /// development, staging or production.
        #[arg(long, default_value = "development")]
        environment: Environment,
        /// Read the key's passphrase from standard input (first line) and keep it in the OS keyring.
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Import a profile file (as written by `gatehouse-server init`).
    Import {
        /// The profile file.
        file: PathBuf,
        /// Use this name instead of the file's.
        #[arg(long)]
        name: Option<String>,
        /// Use this server URL instead of the file's.
        #[arg(long)]
        server: Option<String>,
    },
    /// List profiles.
    List,
    /// Show one profile.
    Show {
        /// Profile name.
        name: String,
    },
    /// Remove a profile and its keyring secrets (the certificate files stay).
    Remove {
        /// Profile name.
        name: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("GATEHOUSE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            if let Some(hint) = failure.hint {
                eprintln!("what to do: {hint}");
            }
            ExitCode::from(failure.code)
        }
    }
}

struct Failure {
    code: u8,
    message: String,
    hint: Option<String>,
}

impl From<profile::Error> for Failure {
    fn from(e: profile::Error) -> Self {
        let code = if matches!(e, profile::Error::Secret(_)) {
            11
        } else {
            10
        };
        Failure {
            code,
            message: e.to_string(),
            hint: None,
        }
    }
}

impl From<gatehouse_client::audit::Error> for Failure {
    fn from(e: gatehouse_client::audit::Error) -> Self {
        match e {
            gatehouse_client::audit::Error::Connection(e) => e.into(),
            e if e.is_alarm() => Failure {
                code: 12,
                message: e.to_string(),
                hint: Some("Stop relying on this server's audit trail and report it to your security team.".to_owned()),
            },
            e => Failure { code: 1, message: e.to_string(), hint: None },
        }
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Profile(e) => e.into(),
            OpenError::Identity(e) => Failure {
                code: 10,
                message: e.to_string(),
                hint: None,
            },
            OpenError::Connection(e) => e.into(),
            other => Failure {
                code: 1,
                message: other.to_string(),
                hint: None,
            },
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Unreachable { .. } => 3,
            Error::ServerNotTrusted { .. } => 4,
            Error::ClientCertRejected { .. } => 5,
            Error::NotRegistered { .. } => 6,
            Error::Disabled { .. } => 7,
            Error::CertificateExpired { .. } | Error::CertificateNotYetValid { .. } => 8,
            Error::ServerTooOld { .. } | Error::ServerTooNew { .. } => 9,
            Error::CaCertificate { .. } => 10,
            _ => 1,
        };
        let mut message = e.to_string();
        match &e {
            Error::ServerNotTrusted {
                fingerprint: Some(fp),
                ..
            } => {
                message.push_str(&format!(
                    "\nserver certificate SHA-256: {}",
                    fp.to_colon_hex()
                ));
            }
            Error::NotRegistered { fingerprint, .. } => {
                message.push_str(&format!(
                    "\nyour certificate SHA-256: {}",
                    fingerprint.to_colon_hex()
                ));
            }
            _ => {}
        }
        Failure {
            code,
            message,
            hint: Some(e.hint().to_owned()),
        }
    }
}

#[allow(clippy::print_stdout)] // the CLI's output is its product
async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Profile { action } => {
            let store = ProfileStore::open_default(SecretStore::native())?;
            profile_command(&store, action)
        }
        Command::Whoami { profile } => {
            let (store, profile) = chosen(profile)?;
            let connection = gatehouse_client::open(&store, &profile)?;
            let me = connection.whoami().await?;
            let roles: Vec<_> = me.roles.iter().map(|r| r.as_str()).collect();
            println!("name:        {}", me.name);
            println!("roles:       {}", roles.join(", "));
            println!("fingerprint: {}", me.fingerprint.to_colon_hex());
            println!("valid until: {}", me.not_after.to_rfc3339());
            println!(
                "profile:     {} ({}, {})",
                profile.name, profile.server_url, profile.environment
            );
            Ok(())
        }
        Command::Audit { action } => {
            let profile = match &action {
                AuditAction::Sync { profile }
                | AuditAction::Verify { profile }
                | AuditAction::Search { profile, .. } => profile.clone(),
            };
            let (store, profile) = chosen(profile)?;
            let path = store
                .dir()
                .join("audit")
                .join(format!("{}.db", profile.name));
            let cache = gatehouse_client::audit::Cache::open(&path).await?;
            match action {
                AuditAction::Sync { .. } => {
                    let connection = gatehouse_client::open(&store, &profile)?;
                    let synced = cache
                        .sync(&connection, |done, total| {
                            eprint!("\rsyncing audit log: {done}/{total}")
                        })
                        .await?;
                    eprintln!();
                    if synced.pinned_now {
                        println!(
                            "pinned the log key at first use: {}",
                            cache.pinned().await?.unwrap_or_default()
                        );
                    }
                    println!(
                        "verified {} entries ({} new)",
                        synced.to,
                        synced.to - synced.from
                    );
                }
                AuditAction::Search { query, limit, .. } => {
                    for (index, leaf) in cache.search(query.as_deref(), limit).await? {
                        println!(
                            "{index:>8}  {}  {:<16} {:<20} {:<8} {}",
                            leaf.time.to_datetime().to_rfc3339(),
                            leaf.actor.name,
                            leaf.action,
                            leaf.outcome.kind.as_str(),
                            leaf.object
                        );
                    }
                }
                AuditAction::Verify { .. } => {
                    let size = cache.verify().await?;
                    println!("verified {size} cached entries against the signed checkpoint");
                }
            }
            Ok(())
        }
        Command::Status { profile } => {
            let (store, profile) = chosen(profile)?;
            let connection = gatehouse_client::open(&store, &profile)?;
            let status = connection.status().await?;
            println!("deployment:  {}", status.deployment);
            println!(
                "version:     {} (API {})",
                status.version, status.api_version
            );
            println!("instance:    {}", status.instance_id);
            println!("database:    {:?}", status.database);
            println!("uptime:      {} s", status.uptime_seconds);
            Ok(())
        }
    }
}

fn chosen(name: Option<String>) -> Result<(ProfileStore, Profile), Failure> {
    let store = ProfileStore::open_default(SecretStore::native())?;
    let profile =
        match name {
            Some(name) => store.get(&name)?,
            None => {
                let mut all = store.list()?;
                match all.len() {
                    1 => all.remove(0),
                    0 => return Err(Failure {
                        code: 10,
                        message: "no profiles yet".to_owned(),
                        hint: Some(
                            "add one with `gatehouse profile add` or `gatehouse profile import`"
                                .to_owned(),
                        ),
                    }),
                    _ => {
                        return Err(Failure {
                            code: 10,
                            message: "several profiles exist".to_owned(),
                            hint: Some(
                                "choose one with --profile NAME (see `gatehouse profile list`)"
                                    .to_owned(),
                            ),
                        });
                    }
                }
            }
        };
    Ok((store, profile))
}

#[allow(clippy::print_stdout)]
fn profile_command(store: &ProfileStore, action: ProfileAction) -> Result<(), Failure> {
    match action {
        ProfileAction::Add {
            name,
            server,
            ca,
            cert,
            key,
            environment,
            passphrase_stdin,
        } => {
            let key_passphrase = if passphrase_stdin {
                Some(read_passphrase()?)
            } else {
                None
            };
            let profile = Profile {
                name,
                server_url: server,
                environment,
                ca_cert: ca,
                client_cert: cert,
                key: KeySource::File {
                    path: key,
                    encrypted: false,
                },
            };
            let added = store.add(NewProfile {
                profile,
                key_passphrase,
            })?;
            println!("added profile {} ({})", added.name, added.server_url);
        }
        ProfileAction::Import { file, name, server } => {
            let added = store.import(&file, name.as_deref(), server.as_deref())?;
            println!("imported profile {} ({})", added.name, added.server_url);
        }
        ProfileAction::List => {
            for p in store.list()? {
                println!("{:<16} {:<12} {}", p.name, p.environment, p.server_url);
            }
        }
        ProfileAction::Show { name } => {
            let p = store.get(&name)?;
            println!("name:        {}", p.name);
            println!("server:      {}", p.server_url);
            println!("environment: {}", p.environment);
            println!("CA:          {}", p.ca_cert.display());
            println!("certificate: {}", p.client_cert.display());
            println!("key:         {}", p.key.describe());
        }
        ProfileAction::Remove { name } => {
            store.remove(&name)?;
            println!("removed profile {name}");
        }
    }
    Ok(())
}

fn read_passphrase() -> Result<Secret, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("key passphrase (input is echoed; pipe it in to avoid that): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| Failure {
        code: 1,
        message: format!("cannot read the passphrase: {e}"),
        hint: None,
    })?;
    let secret = Secret::new(line.trim_end_matches(['\r', '\n']).to_owned());
    zeroize::Zeroize::zeroize(&mut line);
    Ok(secret)
}
