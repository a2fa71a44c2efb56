//! `gatehouse`: the command-line client. Manages connection profiles and asks
//! the server who you are and how it is.
//!
//! The command line and its dispatch are here; `profile`, `audit` and `device` hold their
//! subcommands, and `exit` the exit codes (one table: [`exit::Exit`]).

/// `println!` that ends the program quietly when standard output is gone (the reader of a pipe,
/// like `head`, exited): `println!` would panic there.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod audit;
mod device;
mod exit;
mod profile;
mod proposal;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gatehouse_client::Connection;
use gatehouse_client::profile::{Profile, ProfileStore};
use gatehouse_client::secret::{Secret, SecretStore};

use exit::{Exit, Failure, failure};

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
        action: profile::ProfileAction,
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
        action: audit::AuditAction,
    },
    /// Hardware and software key devices: list, inspect, generate, test, change the PIN.
    Device {
        #[command(subcommand)]
        action: device::DeviceAction,
    },
    /// Your ledger key: enrol it from your device, list everyone's.
    LedgerKey {
        #[command(subcommand)]
        action: proposal::LedgerKeyAction,
    },
    /// The deployment's token: propose it (administrators).
    Token {
        #[command(subcommand)]
        action: proposal::TokenAction,
    },
    /// Propose a mint.
    Mint {
        #[command(subcommand)]
        action: proposal::MintAction,
    },
    /// The approval policy: show it (checked against the ledger), propose a change.
    Policy {
        #[command(subcommand)]
        action: proposal::PolicyAction,
    },
    /// Emergency pause (responders): your device signs the TokenPause; every instance stops and
    /// the token is paused on the ledger. One signature, no quorum.
    Pause {
        #[command(flatten)]
        device: Box<device::DeviceArgs>,
        /// Your ledger key's id on the device (hex; a YubiKey's slot, e.g. 9c).
        #[arg(long)]
        key: String,
        /// Why (optional; at most 60 bytes are kept).
        #[arg(long, default_value = "")]
        reason: String,
        /// Break-glass, when the server cannot be reached: pause the token on the ledger directly,
        /// paid by your own account (`gatehouse profile break-glass`); the signed record is
        /// delivered to the server's audit log when it is back.
        #[arg(long)]
        ledger_only: bool,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Key rotation (step 1 for now: what the ledger holds, and the keys staged to replace it).
    Rotate {
        #[command(subcommand)]
        action: proposal::RotateAction,
    },
    /// Create a responder's break-glass account on the ledger (administrators): keyed by their
    /// enrolled ledger key, funded from the operator. Prints the `gatehouse profile break-glass`
    /// command the responder runs.
    BreakGlassAccount {
        /// The responder.
        #[arg(long = "for")]
        person: String,
        /// Hbar to fund it with (1 to 100).
        #[arg(long, default_value_t = 10)]
        hbar: u32,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Resume after a pause: officers propose, the quorum approves (`proposal approve`), then a
    /// responder's device signs the TokenUnpause.
    Resume {
        #[command(subcommand)]
        action: proposal::ResumeAction,
    },
    /// Proposals: list, show, approve (on your device), reject, cancel.
    Proposal {
        #[command(subcommand)]
        action: proposal::ProposalAction,
    },
    /// Show the server's version, instance and storage.
    Status {
        /// Profile to use (defaults to the only one, if there is exactly one).
        #[arg(long, short)]
        profile: Option<String>,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        // By default errors only, and not cryptoki's: it logs every mechanism number a PKCS#11
        // module lists that cryptoki has no name for, which is noise to a person. Nor the
        // yubikey crate's: it logs an error for every empty reader it looks at while finding a
        // YubiKey; what matters comes back as a device error with what to do.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("error,cryptoki::mechanism=off,yubikey=off")
            }),
        )
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

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Profile { action } => {
            let store = ProfileStore::open_default(SecretStore::native())?;
            profile::run(&store, action).await
        }
        Command::Whoami { profile } => {
            let (store, profile) = profile::chosen(profile)?;
            let connection = connect(&store, &profile).await?;
            let me = connection.whoami().await?;
            let roles: Vec<_> = me.roles.iter().map(|r| r.as_str()).collect();
            say!("name:        {}", me.name);
            say!("roles:       {}", roles.join(", "));
            say!("fingerprint: {}", me.fingerprint.to_colon_hex());
            say!("valid until: {}", me.not_after.to_rfc3339());
            say!(
                "profile:     {} ({}, {})",
                profile.name,
                profile.server_url,
                profile.environment
            );
            Ok(())
        }
        Command::Audit { action } => audit::run(action).await,
        Command::Device { action } => {
            // Device calls block (PKCS#11 is synchronous): keep them off the async runtime.
            tokio::task::spawn_blocking(move || device::run(action))
                .await
                .map_err(|e| failure(Exit::Other, format!("the device command stopped: {e}")))?
        }
        Command::LedgerKey { action } => proposal::run_ledger_key(action).await,
        Command::Token { action } => proposal::run_token(action).await,
        Command::Mint { action } => proposal::run_mint(action).await,
        Command::Policy { action } => proposal::run_policy(action).await,
        Command::Pause {
            device,
            key,
            reason,
            ledger_only: true,
            profile,
        } => proposal::run_break_glass(*device, key, reason, profile).await,
        Command::Pause {
            device,
            key,
            reason,
            ledger_only: false,
            profile,
        } => proposal::run_pause(*device, key, reason, profile).await,
        Command::Resume { action } => proposal::run_resume(action).await,
        Command::Proposal { action } => proposal::run_proposal(action).await,
        Command::Rotate { action } => proposal::run_rotate(action).await,
        Command::BreakGlassAccount {
            person,
            hbar,
            profile,
        } => proposal::run_break_glass_account(person, hbar, profile).await,
        Command::Status { profile } => {
            let (store, profile) = profile::chosen(profile)?;
            let connection = connect(&store, &profile).await?;
            let status = connection.status().await?;
            proposal::deliver_break_glass(&store, &profile, &connection).await;
            say!("deployment:  {}", status.deployment);
            say!(
                "version:     {} (API {})",
                status.version,
                status.api_version
            );
            say!("instance:    {}", status.instance_id);
            say!("database:    {:?}", status.database);
            say!("uptime:      {} s", status.uptime_seconds);
            let ledger = connection.ledger().await?;
            say!("ledger:      {}", describe_ledger(&ledger));
            if ledger.configured {
                let b: gatehouse_protocol::pause::Breaker = connection.get("/v1/breaker").await?;
                say!("breaker:     {}", proposal::describe_breaker(&b));
            }
            Ok(())
        }
    }
}

/// One line about the server's ledger for `gatehouse status`.
fn describe_ledger(l: &gatehouse_protocol::LedgerStatus) -> String {
    if !l.configured {
        return "none configured".to_owned();
    }
    let mode = l.mode.as_deref().unwrap_or("network");
    let nodes = l.nodes.join(", ");
    let operator = l.operator_account.as_deref().unwrap_or("?");
    match (l.reachable, l.operator_balance_tinybars, &l.error) {
        (true, Some(t), _) => format!(
            "{mode} at {nodes}, reachable; fee payer {operator} holds {} hbar",
            gatehouse_client::ledger::hbar(t)
        ),
        (true, None, _) => format!("{mode} at {nodes}, reachable; fee payer {operator}"),
        (false, _, error) => format!(
            "{mode} at {nodes}, NOT reachable: {}",
            error.as_deref().unwrap_or("no answer")
        ),
    }
}

/// Prepares the profile's connection. A key on a device needs the device present and its PIN
/// (GATEHOUSE_DEVICE_PIN, else standard input); the device is opened off the async runtime.
async fn connect(store: &ProfileStore, profile: &Profile) -> Result<Connection, Failure> {
    let (store, owned) = (store.clone(), profile.clone());
    let opened = tokio::task::spawn_blocking(move || {
        let pin = if owned.key.is_device() {
            Some(device::pin("GATEHOUSE_DEVICE_PIN", "device PIN")?)
        } else {
            None
        };
        let opened = gatehouse_client::open(&store, &owned, pin.as_ref())?;
        if opened.device.as_ref().is_some_and(|d| d.needs_touch()) {
            eprintln!("touch the YubiKey when it blinks: this profile's key signs each new connection only after a touch");
        }
        Ok::<_, Failure>(opened)
    })
    .await
    .map_err(|e| failure(Exit::Other, format!("opening the device stopped: {e}")))??;
    Ok(opened.connection)
}

/// A secret from environment variable `variable`, else the first line of standard input
/// (prompting with `what` on a terminal). Never empty, never printed.
pub(crate) fn secret_input(variable: &str, what: &str) -> Result<Secret, Failure> {
    let secret = match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Secret::new(value),
        _ => read_passphrase(what)?,
    };
    if secret.expose().is_empty() {
        return Err(failure(
            Exit::Usage,
            format!("the {what} is empty; set {variable} or type it on standard input"),
        ));
    }
    Ok(secret)
}

/// A secret typed by the person: at a terminal, after a prompt and without echo; otherwise
/// (piped in) the first line of standard input.
pub(crate) fn read_passphrase(what: &str) -> Result<Secret, Failure> {
    let unreadable = |e: std::io::Error| Failure {
        code: Exit::Other,
        message: format!("cannot read the {what}: {e}"),
        hint: Some(format!(
            "type the {what} at a terminal, or pipe it in on standard input"
        )),
    };
    let stdin = std::io::stdin();
    let mut line = if stdin.is_terminal() {
        rpassword::prompt_password(format!("{what} (not shown as you type): "))
            .map_err(unreadable)?
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(unreadable)?;
        line
    };
    let secret = Secret::new(line.trim_end_matches(['\r', '\n']).to_owned());
    zeroize::Zeroize::zeroize(&mut line);
    Ok(secret)
}
