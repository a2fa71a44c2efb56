//! `gatehouse`: the command-line client. Manages connection profiles and asks
//! the server who you are and how it is.
//!
//! Exit codes: 0 ok, 1 other failure, 2 usage, 3 unreachable, 4 server not
//! trusted, 5 client certificate rejected, 6 not registered, 7 disabled,
//! 8 certificate expired or not yet valid, 9 server version unsupported,
//! 10 profile problem, 11 keyring unavailable, 12 audit verification alarm, 13 device failure
//! (wrong PIN, PIN locked, no such device or key, module not loadable).

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

mod device;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gatehouse_client::profile::{self, KeySource, NewProfile, Profile, ProfileStore};
use gatehouse_client::secret::{Secret, SecretStore};
use gatehouse_client::{Connection, Error, OpenError};
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
    /// Hardware and software key devices: list, inspect, generate, test, change the PIN.
    Device {
        #[command(subcommand)]
        action: device::DeviceAction,
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
    /// Search the verified local cache, newest first. Works offline.
    Search {
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Most entries to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Export the selected entries: an age-encrypted bundle with proofs (default), or plain
    /// CSV/JSON with --plaintext.
    Export {
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Where to write (refuses to overwrite an existing file).
        #[arg(long, short)]
        output: PathBuf,
        /// Encrypt to this age X25519 recipient (age1…); repeat for several.
        #[arg(long = "recipient", short = 'r')]
        recipients: Vec<String>,
        /// Encrypt to a passphrase read from GATEHOUSE_BUNDLE_PASSPHRASE or standard input.
        #[arg(long, conflicts_with = "recipients")]
        passphrase: bool,
        /// Write unencrypted CSV or JSON without proofs. Anyone who gets the file can read it.
        #[arg(long, value_enum, conflicts_with_all = ["recipients", "passphrase"])]
        plaintext: Option<PlainFormat>,
    },
    /// Verify an exported bundle offline and list its entries.
    VerifyBundle {
        /// The bundle file.
        file: PathBuf,
        /// Decrypt with this age identity file (AGE-SECRET-KEY-1… lines).
        #[arg(long, short)]
        identity: Option<PathBuf>,
        /// Decrypt with a passphrase read from GATEHOUSE_BUNDLE_PASSPHRASE or standard input.
        #[arg(long, conflicts_with = "identity")]
        passphrase: bool,
        /// Require the bundle to be signed by this profile's pinned log key.
        #[arg(long, short)]
        profile: Option<String>,
        /// Print the entries as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget the local cache and its pinned log key, after an alarm was resolved out of band.
    Discard {
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
        /// Confirm: the next sync pins whatever key the server presents.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PlainFormat {
    Csv,
    Json,
}

/// Which entries: every given condition must hold.
#[derive(Debug, Clone, clap::Args)]
struct FilterArgs {
    /// Words that must all appear (prefixes of words in actor, action, object, outcome, details).
    words: Vec<String>,
    /// Only this actor.
    #[arg(long)]
    actor: Option<String>,
    /// Only this action, e.g. `identity.refused`.
    #[arg(long)]
    action: Option<String>,
    /// Only this outcome: success, denied or failed.
    #[arg(long)]
    outcome: Option<String>,
    /// Only objects starting with this.
    #[arg(long)]
    object: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only entries before this time (RFC 3339).
    #[arg(long)]
    until: Option<chrono::DateTime<chrono::Utc>>,
}

impl FilterArgs {
    fn filter(&self) -> gatehouse_client::audit::Filter {
        gatehouse_client::audit::Filter {
            text: (!self.words.is_empty()).then(|| self.words.join(" ")),
            since_ms: self.since.map(|t| t.timestamp_millis()),
            until_ms: self.until.map(|t| t.timestamp_millis()),
            actor: self.actor.clone(),
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            object: self.object.clone(),
        }
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.words.is_empty() {
            parts.push(format!("words {:?}", self.words.join(" ")));
        }
        for (name, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("object prefix", &self.object),
        ] {
            if let Some(v) = value {
                parts.push(format!("{name} {v:?}"));
            }
        }
        if let Some(t) = self.since {
            parts.push(format!("since {}", t.to_rfc3339()));
        }
        if let Some(t) = self.until {
            parts.push(format!("until {}", t.to_rfc3339()));
        }
        if parts.is_empty() {
            "all entries".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, Subcommand)]
enum ProfileAction {
    /// Add a profile from a certificate and a key file, or a key on a device (--device-key).
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
        #[arg(
            long,
            required_unless_present = "device_key",
            conflicts_with = "device_key"
        )]
        key: Option<PathBuf>,
        /// The id of your key on a device (as `gatehouse device info` shows it; a YubiKey slot
        /// such as 9a). Name the device as for `gatehouse device`: --piv [--serial N], or
        /// --module PATH [--serial S | --token LABEL]. Its PIN is asked for at each connection.
        #[arg(long)]
        device_key: Option<String>,
        #[command(flatten)]
        device: device::DeviceArgs,
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

pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
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
            OpenError::Device(e) => device::device_failure(e),
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
            Error::CaCertificate { .. } | Error::NotHttps { .. } => 10,
            Error::ClientKeyUnavailable { .. } | Error::ClientKeyNotTouched { .. } => {
                device::EXIT_DEVICE
            }
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

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Profile { action } => {
            let store = ProfileStore::open_default(SecretStore::native())?;
            profile_command(&store, action)
        }
        Command::Whoami { profile } => {
            let (store, profile) = chosen(profile)?;
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
        Command::Audit { action } => audit_command(action).await,
        Command::Device { action } => {
            // Device calls block (PKCS#11 is synchronous): keep them off the async runtime.
            tokio::task::spawn_blocking(move || device::run(action))
                .await
                .map_err(|e| failure(1, format!("the device command stopped: {e}")))?
        }
        Command::Status { profile } => {
            let (store, profile) = chosen(profile)?;
            let connection = connect(&store, &profile).await?;
            let status = connection.status().await?;
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

async fn audit_command(action: AuditAction) -> Result<(), Failure> {
    use gatehouse_client::audit::{Cache, Encryption, ExportFormat, Opener};
    if let AuditAction::VerifyBundle {
        file,
        identity,
        passphrase,
        profile,
        json,
    } = action
    {
        let sealed =
            std::fs::read(&file).map_err(|e| failure(1, format!("{}: {e}", file.display())))?;
        let opener = match (identity, passphrase) {
            (Some(path), _) => Opener::Identities(
                std::fs::read_to_string(&path)
                    .map_err(|e| failure(1, format!("{}: {e}", path.display())))?,
            ),
            (None, true) => Opener::Passphrase(bundle_passphrase()?),
            (None, false) => {
                return Err(Failure {
                    code: 2,
                    message: "say how to decrypt the bundle".into(),
                    hint: Some("pass --identity FILE or --passphrase".into()),
                });
            }
        };
        let expected = match profile {
            Some(name) => {
                let (store, profile) = chosen(Some(name))?;
                let cache = Cache::open(&store.audit_cache(&profile)).await?;
                Some(cache.pinned().await?.ok_or_else(|| {
                    failure(10, "this profile has not pinned a log key yet; run `gatehouse audit sync` first".into())
                })?)
            }
            None => None,
        };
        let bundle = gatehouse_client::audit::open_bundle(&sealed, opener, expected.as_deref())
            .map_err(|e| match e {
                gatehouse_client::audit::BundleError::Invalid(_)
                | gatehouse_client::audit::BundleError::WrongKey { .. } => Failure {
                    code: 12,
                    message: e.to_string(),
                    hint: Some(
                        "Do not rely on this bundle; ask its sender how it was made.".into(),
                    ),
                },
                e => failure(1, e.to_string()),
            })?;
        if json {
            let entries: Vec<_> = bundle
                .entries
                .iter()
                .map(gatehouse_client::audit::leaf_json)
                .collect();
            say!(
                "{}",
                serde_json::to_string_pretty(&entries).map_err(|e| failure(1, e.to_string()))?
            );
        } else {
            for leaf in &bundle.entries {
                print_leaf(leaf);
            }
        }
        eprintln!(
            "verified {} entries against {}'s signed checkpoint of size {} (root {})",
            bundle.entries.len(),
            bundle.origin,
            bundle.tree_size,
            bundle.root
        );
        eprintln!(
            "selection: {}; exported {}",
            bundle.selection, bundle.exported_at
        );
        if expected.is_some() {
            eprintln!("signed by the log key this profile pinned");
        } else {
            eprintln!(
                "log key: {}\ncompare it with your own (`gatehouse audit verify-bundle --profile NAME` checks it for you)",
                bundle.verifier
            );
        }
        return Ok(());
    }
    let profile = match &action {
        AuditAction::Sync { profile }
        | AuditAction::Verify { profile }
        | AuditAction::Search { profile, .. }
        | AuditAction::Export { profile, .. }
        | AuditAction::Discard { profile, .. } => profile.clone(),
        AuditAction::VerifyBundle { .. } => None,
    };
    let (store, profile) = chosen(profile)?;
    let cache = Cache::open(&store.audit_cache(&profile)).await?;
    match action {
        AuditAction::Sync { .. } => {
            let connection = connect(&store, &profile).await?;
            let synced = cache
                .sync(&connection, |p| {
                    eprint!("\rsyncing audit log: {}/{}", p.fetched, p.total)
                })
                .await;
            eprintln!();
            let synced = synced?;
            if synced.pinned_now {
                say!(
                    "pinned the log key at first use: {}",
                    cache.pinned().await?.unwrap_or_default()
                );
            }
            say!(
                "verified {} entries ({} new)",
                synced.to,
                synced.to - synced.from
            );
        }
        AuditAction::Search { filter, limit, .. } => {
            let page = cache.page(&filter.filter(), 0, limit).await?;
            for row in &page.rows {
                let time = row
                    .time_ms
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                say!(
                    "{:>8}  {time}  {:<16} {:<20} {:<8} {}",
                    row.index,
                    row.actor,
                    row.action,
                    row.outcome,
                    row.object
                );
            }
            eprintln!("{} of {} matching entries", page.rows.len(), page.total);
        }
        AuditAction::Verify { .. } => {
            let size = cache.verify().await?;
            say!("verified {size} cached entries against the signed checkpoint");
        }
        AuditAction::Export {
            filter,
            output,
            recipients,
            passphrase,
            plaintext,
            ..
        } => {
            let format = match (plaintext, passphrase) {
                (Some(PlainFormat::Csv), _) => ExportFormat::Csv,
                (Some(PlainFormat::Json), _) => ExportFormat::Json,
                (None, true) => ExportFormat::Bundle(Encryption::passphrase(bundle_passphrase()?)?),
                (None, false) if recipients.is_empty() => {
                    return Err(Failure {
                        code: 2,
                        message: "say who may read the export".into(),
                        hint: Some(
                            "pass --recipient age1… (repeatable) or --passphrase; --plaintext csv|json writes an unencrypted file".into(),
                        ),
                    });
                }
                (None, false) => ExportFormat::Bundle(Encryption::Recipients(recipients)),
            };
            if plaintext.is_some() {
                eprintln!(
                    "WARNING: writing an UNENCRYPTED export without proofs; anyone who gets {} can read it, and nobody can verify it",
                    output.display()
                );
            }
            let count = cache
                .export_file(&filter.filter(), &filter.describe(), format, &output)
                .await?;
            say!("exported {count} entries to {}", output.display());
        }
        AuditAction::Discard { yes, .. } => {
            if !yes {
                return Err(Failure {
                    code: 2,
                    message: "discarding forgets the pinned log key and every verified entry"
                        .into(),
                    hint: Some(
                        "confirm you checked the new key out of band, then pass --yes".into(),
                    ),
                });
            }
            cache.discard().await?;
            say!(
                "discarded the audit cache of {}; the next sync pins the key then presented",
                profile.name
            );
        }
        AuditAction::VerifyBundle { .. } => {}
    }
    Ok(())
}

fn print_leaf(leaf: &gatehouse_audit::leaf::Leaf) {
    say!(
        "{:>8}  {}  {:<16} {:<20} {:<8} {}",
        leaf.index,
        leaf.time,
        leaf.actor.name,
        leaf.action,
        leaf.outcome.kind.as_str(),
        leaf.object
    );
}

fn failure(code: u8, message: String) -> Failure {
    Failure {
        code,
        message,
        hint: None,
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
        let opened = gatehouse_client::open_with_pin(&store, &owned, pin.as_ref())?;
        if opened.device.as_ref().is_some_and(|d| d.needs_touch()) {
            eprintln!("touch the YubiKey when it blinks: this profile's key signs each new connection only after a touch");
        }
        Ok::<_, Failure>(opened)
    })
    .await
    .map_err(|e| failure(1, format!("opening the device stopped: {e}")))??;
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
            2,
            format!("the {what} is empty; set {variable} or type it on standard input"),
        ));
    }
    Ok(secret)
}

/// The bundle passphrase: GATEHOUSE_BUNDLE_PASSPHRASE, else the first line of standard input.
fn bundle_passphrase() -> Result<age::secrecy::SecretString, Failure> {
    let secret = secret_input("GATEHOUSE_BUNDLE_PASSPHRASE", "bundle passphrase")?;
    Ok(secret.expose().to_owned().into())
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

fn profile_command(store: &ProfileStore, action: ProfileAction) -> Result<(), Failure> {
    match action {
        ProfileAction::Add {
            name,
            server,
            ca,
            cert,
            key,
            device_key,
            device,
            environment,
            passphrase_stdin,
        } => {
            let key_passphrase = if passphrase_stdin {
                Some(read_passphrase("key passphrase")?)
            } else {
                None
            };
            let key = match (key, device_key) {
                (Some(path), _) => KeySource::File {
                    path,
                    encrypted: false,
                },
                (None, Some(id)) => KeySource::Device {
                    device: device.locator()?,
                    key: id.to_ascii_lowercase(),
                },
                (None, None) => {
                    return Err(failure(2, "give --key FILE or --device-key ID".to_owned()));
                }
            };
            let profile = Profile {
                name,
                server_url: server,
                environment,
                ca_cert: ca,
                client_cert: cert,
                key,
            };
            let added = store.add(NewProfile {
                profile,
                key_passphrase,
            })?;
            say!("added profile {} ({})", added.name, added.server_url);
        }
        ProfileAction::Import { file, name, server } => {
            let added = store.import(&file, name.as_deref(), server.as_deref())?;
            say!("imported profile {} ({})", added.name, added.server_url);
        }
        ProfileAction::List => {
            for p in store.list()? {
                say!("{:<16} {:<12} {}", p.name, p.environment, p.server_url);
            }
        }
        ProfileAction::Show { name } => {
            let p = store.get(&name)?;
            say!("name:        {}", p.name);
            say!("server:      {}", p.server_url);
            say!("environment: {}", p.environment);
            say!("CA:          {}", p.ca_cert.display());
            say!("certificate: {}", p.client_cert.display());
            say!("key:         {}", p.key.describe());
        }
        ProfileAction::Remove { name } => {
            store.remove(&name)?;
            say!("removed profile {name}");
        }
    }
    Ok(())
}

/// A secret typed by the person: at a terminal, after a prompt and without echo; otherwise
/// (piped in) the first line of standard input.
pub(crate) fn read_passphrase(what: &str) -> Result<Secret, Failure> {
    let unreadable = |e: std::io::Error| Failure {
        code: 1,
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
