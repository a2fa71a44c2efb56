//! `gatehouse audit`: sync and verify the audit trail into the local cache, search it, export
//! it, verify an exported bundle, discard the cache after an alarm.

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit::{Exit, Failure, failure};
use crate::profile::chosen;
use crate::{connect, secret_input};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditAction {
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
pub(crate) enum PlainFormat {
    Csv,
    Json,
}

/// Which entries: every given condition must hold.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FilterArgs {
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

/// Runs an audit subcommand.
pub(crate) async fn run(action: AuditAction) -> Result<(), Failure> {
    use gatehouse_client::audit::{Cache, Encryption, ExportFormat, Opener};
    if let AuditAction::VerifyBundle {
        file,
        identity,
        passphrase,
        profile,
        json,
    } = action
    {
        let sealed = std::fs::read(&file)
            .map_err(|e| failure(Exit::Other, format!("{}: {e}", file.display())))?;
        let opener = match (identity, passphrase) {
            (Some(path), _) => Opener::Identities(
                std::fs::read_to_string(&path)
                    .map_err(|e| failure(Exit::Other, format!("{}: {e}", path.display())))?,
            ),
            (None, true) => Opener::Passphrase(bundle_passphrase()?),
            (None, false) => {
                return Err(Failure {
                    code: Exit::Usage,
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
                    failure(Exit::Profile, "this profile has not pinned a log key yet; run `gatehouse audit sync` first".into())
                })?)
            }
            None => None,
        };
        let bundle = gatehouse_client::audit::open_bundle(&sealed, opener, expected.as_deref())
            .map_err(|e| match e {
                gatehouse_client::audit::BundleError::Invalid(_)
                | gatehouse_client::audit::BundleError::WrongKey { .. } => Failure {
                    code: Exit::AuditAlarm,
                    message: e.to_string(),
                    hint: Some(
                        "Do not rely on this bundle; ask its sender how it was made.".into(),
                    ),
                },
                e => failure(Exit::Other, e.to_string()),
            })?;
        if json {
            let entries: Vec<_> = bundle
                .entries
                .iter()
                .map(gatehouse_client::audit::leaf_json)
                .collect();
            say!(
                "{}",
                serde_json::to_string_pretty(&entries)
                    .map_err(|e| failure(Exit::Other, e.to_string()))?
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
                        code: Exit::Usage,
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
                    code: Exit::Usage,
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

/// The bundle passphrase: GATEHOUSE_BUNDLE_PASSPHRASE, else the first line of standard input.
fn bundle_passphrase() -> Result<age::secrecy::SecretString, Failure> {
    let secret = secret_input("GATEHOUSE_BUNDLE_PASSPHRASE", "bundle passphrase")?;
    Ok(secret.expose().to_owned().into())
}
