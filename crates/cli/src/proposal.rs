//! `gatehouse ledger-key`, `gatehouse token`, `gatehouse mint` and `gatehouse proposal`: every
//! step of a multi-signature mint without a window.
//!
//! `proposal approve` decodes what it is asked to sign and prints every field, checks the
//! scheduled body against the ledger's own copy (from the mirror node given with `--mirror` or
//! `GATEHOUSE_MIRROR_URL`, never one the server names), and only then asks the device to sign.
//! The device PIN comes from `GATEHOUSE_DEVICE_PIN`, else standard input.

use clap::Subcommand;
use gatehouse_client::proposals::{self, Review};
use gatehouse_keys::key::Algorithm;
use gatehouse_protocol::policy::NewRule;
use gatehouse_protocol::proposal::{
    KeyRole, LedgerKey, LedgerKeyAlgorithm, LedgerKeyEnrolment, NewMint, NewOffboarding,
    NewOnboarding, NewRotation, NewToken, Proposal, Reject, RoleKey,
};

use crate::device::{DeviceArgs, ask_for_touch, device_failure, parse_id, pin};
use crate::exit::{Exit, Failure, failure};
use crate::{connect, profile};

#[derive(Debug, Subcommand)]
pub enum LedgerKeyAction {
    /// Enrol your ledger key (a key on your device) with the evidence the device gives.
    Enrol {
        #[command(flatten)]
        device: DeviceArgs,
        /// The key's id (hex, as `device info` shows it; a YubiKey's slot, e.g. 9c).
        #[arg(long)]
        key: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Stage your next ledger key for a rotation: a new key on your device, handed in with its
    /// evidence; it takes effect only through a rotation the quorum approves.
    Stage {
        #[command(flatten)]
        device: DeviceArgs,
        /// The new key's id (hex, as `device info` shows it; a YubiKey's slot, e.g. 9d).
        #[arg(long)]
        key: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// List the enrolled ledger keys, and the keys staged for the next rotation.
    List {
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RotateAction {
    /// Show the token's keys as the ledger holds them, with their holders named, and the keys
    /// staged for the next rotation: what a rotation would change.
    Show {
        /// Mirror node to read the ledger from (default: the one pinned in the profile).
        #[arg(long)]
        mirror: Option<String>,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Propose a new supply key (officers): each holder's key is the one they staged (gatehouse
    /// ledger-key stage), else the one they hold; the admin key's quorum approves it.
    Supply(RotationArgs),
    /// Propose a new pause key (responders' keys, usually 1 of them).
    Pause(RotationArgs),
    /// Propose a new admin key (officers). Hedera asks the new key itself to sign: besides the
    /// quorum's approvals, holders sign with their new key (`gatehouse proposal approve ID --new-key`).
    Admin(RotationArgs),
    /// Propose a new treasury: the server creates an account with the new key; the change moves
    /// every NFT the old treasury holds. The new key signs as for an admin rotation.
    Treasury(RotationArgs),
    /// Re-key your break-glass account in place after a pause-key rotation (responders): your
    /// device signs a CryptoUpdate of the account with its old key and your key in the new pause
    /// key (Hedera asks both); it goes straight to the ledger, the mirror confirms, and the
    /// profile's break-glass file then names the new key. The record goes to the audit log.
    BreakGlass {
        #[command(flatten)]
        device: Box<DeviceArgs>,
        /// The key your break-glass account is keyed by now (hex id; a YubiKey's slot, e.g. 9c).
        #[arg(long)]
        old_key: String,
        /// Your key in the token's new pause key.
        #[arg(long)]
        key: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Offboard an officer (--remove): remove their keys from every token key (admin, supply,
    /// pause) and their name from every policy rule in one proposal the remaining holders approve;
    /// the registry disables them once it executes. Refused when a key or rule could no longer be
    /// met. Or onboard one (--add, with --key for each token key they join): their staged key
    /// joins those keys (thresholds kept) and they become eligible in the rules checked against
    /// them, in one proposal the quorum approves; with --csr (their own device's request, so
    /// they propose it themselves), the registry gives them the certificate issued from it.
    #[command(group(clap::ArgGroup::new("who").required(true).args(["remove", "add"])))]
    Officer {
        /// The officer who leaves.
        #[arg(long)]
        remove: Option<String>,
        /// The registered officer who joins.
        #[arg(long, requires = "keys")]
        add: Option<String>,
        /// A token key they join: admin, supply (officers) or pause (responders); repeat.
        #[arg(long = "key", value_parser = parse_role, requires = "add")]
        keys: Vec<KeyRole>,
        /// Your device's certificate signing request (PEM, from `gatehouse device csr`) for the
        /// TLS certificate the registry gives you once approved.
        #[arg(long, requires = "add")]
        csr: Option<std::path::PathBuf>,
        /// Why (at most 256 bytes).
        #[arg(long)]
        reason: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
}

fn parse_role(name: &str) -> Result<KeyRole, String> {
    KeyRole::from_name(name)
        .ok_or_else(|| format!("{name:?} is no token key: admin, supply, pause or treasury"))
}

/// Who holds the new key.
#[derive(Debug, clap::Args)]
pub struct RotationArgs {
    /// Signatures the new key needs.
    #[arg(long)]
    threshold: u32,
    /// A holder of the new key; repeat for each, in order.
    #[arg(long = "holder", required = true)]
    holders: Vec<String>,
    /// Profile to use.
    #[arg(long, short)]
    profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Propose the deployment's NFT token (administrators): its admin and supply keys are the
    /// officers' threshold key, its pause key any one responder's key.
    Propose {
        /// Token name.
        #[arg(long)]
        name: String,
        /// Token symbol.
        #[arg(long)]
        symbol: String,
        /// Most NFTs that can ever exist.
        #[arg(long)]
        max_supply: u64,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MintAction {
    /// Propose minting NFTs, one per --metadata (usually an ipfs:// URI, at most 100 bytes).
    Propose {
        /// One NFT's on-chain metadata; repeat for several (at most 10).
        #[arg(long, required = true)]
        metadata: Vec<String>,
        /// The HIP-412 JSON file the metadata URI of the same position points at; repeat in the
        /// same order. The server checks it against the HIP-412 schema and recomputes its CID.
        #[arg(long)]
        document: Vec<std::path::PathBuf>,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Show the policy in force, and whether the token's memo on the ledger anchors it.
    Show {
        /// The mirror node to read the token from (or GATEHOUSE_MIRROR_URL); by default the one
        /// pinned in the profile.
        #[arg(long, env = "GATEHOUSE_MIRROR_URL")]
        mirror: Option<String>,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Propose a new rule for one kind of action (mint, policy): the current quorum approves it
    /// on the ledger with `gatehouse proposal approve`.
    Propose {
        /// The kind: mint or policy.
        kind: String,
        /// Distinct approvals needed (at least the token key's threshold).
        #[arg(long)]
        threshold: u32,
        /// An officer who may approve; repeat for each (officers with keys in the token's key).
        #[arg(long, required = true)]
        eligible: Vec<String>,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResumeAction {
    /// Propose resuming (officers, while paused); the policy's resume quorum approves it.
    Propose {
        /// What was found and fixed.
        #[arg(long)]
        reason: String,
        /// Unpause the token on the ledger only and keep the backend stopped (the breaker stays
        /// tripped): the safe order for rotating a key of a paused token; pause again afterwards.
        #[arg(long)]
        ledger_only: bool,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Carry out an approved resume (responders): your device signs the TokenUnpause.
    Unpause {
        /// The resume proposal's id.
        id: String,
        #[command(flatten)]
        device: Box<DeviceArgs>,
        /// Your ledger key's id on the device (hex; a YubiKey's slot, e.g. 9c).
        #[arg(long)]
        key: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProposalAction {
    /// List proposals, newest first.
    List {
        /// Only this status: open, executed, failed, expired, cancelled, rejected.
        #[arg(long)]
        status: Option<String>,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Show a proposal, its scheduled transaction decoded here, and who signed.
    Show {
        /// The proposal id.
        id: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Approve: decode and show what you sign, check it against the ledger, sign on your device.
    Approve {
        /// The proposal id.
        id: String,
        #[command(flatten)]
        device: DeviceArgs,
        /// Your ledger key's id on the device (hex; a YubiKey's slot, e.g. 9c).
        #[arg(long)]
        key: String,
        /// Sign an admin or treasury rotation with your new key (the one you staged) instead of
        /// approving: Hedera asks the new key itself to sign those changes. Not an approval.
        #[arg(long)]
        new_key: bool,
        /// The mirror node to read the ledger's copy from (or GATEHOUSE_MIRROR_URL); by default
        /// the one pinned in the profile (`gatehouse profile mirror`).
        #[arg(long, env = "GATEHOUSE_MIRROR_URL")]
        mirror: Option<String>,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Reject, with a reason.
    Reject {
        /// The proposal id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Cancel (the proposer or an administrator).
    Cancel {
        /// The proposal id.
        id: String,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
    /// Write the TLS certificate your onboarding gives you (checked: issued for you, the one the
    /// registry takes), to connect with your device key once it executes. Write it while it is
    /// open: once it executes, your current certificate is revoked.
    Certificate {
        /// The onboarding's id.
        id: String,
        /// Where to write it (PEM).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Profile to use.
        #[arg(long, short)]
        profile: Option<String>,
    },
}

/// How the approval records the device: its model and serial, or a token's label.
fn device_label(info: &gatehouse_keys::device::Info) -> String {
    if info.serial.is_empty() {
        info.label.clone()
    } else {
        format!("{} {}", info.model, info.serial)
    }
}

async fn connection(profile: Option<String>) -> Result<gatehouse_client::Connection, Failure> {
    let (store, profile) = profile::chosen(profile)?;
    connect(&store, &profile).await
}

/// Runs a blocking device step off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| failure(Exit::Other, format!("the device step stopped: {e}")))?
}

pub async fn run_ledger_key(action: LedgerKeyAction) -> Result<(), Failure> {
    match action {
        LedgerKeyAction::Enrol {
            device,
            key,
            profile,
        } => {
            let enrolled = hand_in(device, &key, profile, "/v1/ledger-keys").await?;
            say!(
                "enrolled {} ledger key {} ({} evidence) for {}",
                algorithm_name(enrolled.algorithm),
                enrolled.public_key,
                enrolled.evidence,
                enrolled.officer
            );
            Ok(())
        }
        LedgerKeyAction::Stage {
            device,
            key,
            profile,
        } => {
            let staged = hand_in(device, &key, profile, "/v1/ledger-keys/staged").await?;
            say!(
                "staged {} ledger key {} ({} evidence) for {}: it replaces your current key once a rotation the quorum approves takes effect",
                algorithm_name(staged.algorithm),
                staged.public_key,
                staged.evidence,
                staged.officer
            );
            Ok(())
        }
        LedgerKeyAction::List { profile } => {
            let conn = connection(profile).await?;
            let keys: Vec<LedgerKey> = conn.get("/v1/ledger-keys").await?;
            let staged: Vec<LedgerKey> = conn.get("/v1/ledger-keys/staged").await?;
            let show = |k: LedgerKey| {
                say!(
                    "{:<12} {:<14} {}  {}",
                    k.officer,
                    k.evidence,
                    k.public_key,
                    k.device.unwrap_or_default()
                );
            };
            keys.into_iter().for_each(show);
            if !staged.is_empty() {
                say!("staged for the next rotation:");
                staged.into_iter().for_each(show);
            }
            Ok(())
        }
    }
}

pub async fn run_token(action: TokenAction) -> Result<(), Failure> {
    let TokenAction::Propose {
        name,
        symbol,
        max_supply,
        profile,
    } = action;
    let proposal: Proposal = connection(profile)
        .await?
        .post(
            "/v1/proposals/token-create",
            &NewToken {
                name,
                symbol,
                max_supply,
            },
        )
        .await?;
    print_proposal(&proposal);
    Ok(())
}

pub async fn run_mint(action: MintAction) -> Result<(), Failure> {
    let MintAction::Propose {
        metadata,
        document,
        profile,
    } = action;
    let mut documents = Vec::new();
    for path in &document {
        let text = std::fs::read_to_string(path).map_err(|e| {
            failure(
                Exit::Usage,
                format!("cannot read the metadata document {}: {e}", path.display()),
            )
        })?;
        documents.push(Some(text));
    }
    let proposal: Proposal = connection(profile)
        .await?
        .post(
            "/v1/proposals/mint",
            &NewMint {
                metadata,
                documents,
            },
        )
        .await?;
    print_proposal(&proposal);
    Ok(())
}

pub async fn run_policy(action: PolicyAction) -> Result<(), Failure> {
    match action {
        PolicyAction::Show { mirror, profile } => {
            let (store, profile) = profile::chosen(profile)?;
            let mirror = mirror.or_else(|| profile.mirror_url.clone());
            let conn = connect(&store, &profile).await?;
            let current = proposals::current_policy(&conn).await?;
            say!(
                "policy:     version {} (put in force by proposal {} at {})",
                current.policy.version,
                current.proposal,
                current.applied_at.to_rfc3339()
            );
            say!(
                "token:      {} (its admin and supply keys: {} of {})",
                current.token,
                current.key_threshold,
                current.key_holders.join(", ")
            );
            print_fields(&proposals::rule_lines(&current.policy));
            say!("sha256:     {}", current.sha256);
            let Some(mirror) = mirror else {
                say!("ledger:     not checked (no mirror pinned; give --mirror)");
                return Ok(());
            };
            match proposals::policy_anchor(&mirror, &current).await? {
                proposals::Anchor::Matches => {
                    say!("ledger:     the token's memo at {mirror} anchors this policy");
                    Ok(())
                }
                proposals::Anchor::NotAnchored { memo } => {
                    say!(
                        "ledger:     the token's memo ({memo:?}) anchors no policy: the token predates anchored policies; the first policy change anchors one"
                    );
                    Ok(())
                }
                proposals::Anchor::Differs { memo } => Err(Failure {
                    code: Exit::DoNotSign,
                    message: format!(
                        "the token's memo on the ledger ({memo}) commits to another policy than the server shows: the server's policy is not the one the officers approved"
                    ),
                    hint: Some(
                        "do not approve anything under this policy; tell the other officers and compare with `gatehouse audit verify`".to_owned(),
                    ),
                }),
            }
        }
        PolicyAction::Propose {
            kind,
            threshold,
            eligible,
            profile,
        } => {
            let rule = NewRule {
                kind,
                threshold,
                eligible,
            };
            let proposal = proposals::propose_rule(&connection(profile).await?, &rule).await?;
            print_proposal(&proposal);
            Ok(())
        }
    }
}

/// One line about the breaker for `gatehouse status` and `gatehouse pause`.
pub fn describe_breaker(b: &gatehouse_protocol::pause::Breaker) -> String {
    let ledger = match b.ledger_paused {
        Some(true) => "the mirror shows the token PAUSED",
        Some(false) => "the mirror shows the token unpaused",
        None => "the mirror could not be read",
    };
    if !b.tripped {
        return format!("open (nothing is paused); {ledger}");
    }
    format!(
        "TRIPPED by {} at {}{}; the ledger answered: {}; {ledger}",
        b.by.as_deref().unwrap_or("a responder"),
        b.at.map_or_else(|| "an unknown time".to_owned(), |t| t.to_rfc3339()),
        b.reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .map_or_else(String::new, |r| format!(" ({r:?})")),
        b.ledger_status.as_deref().unwrap_or("not answered yet"),
    )
}

/// `gatehouse pause`: asks the server for the TokenPause body, shows it decoded here, signs it on
/// the device (the command is the confirmation: one motion), and sends the signature.
pub async fn run_pause(
    device: DeviceArgs,
    key: String,
    reason: String,
    profile: Option<String>,
) -> Result<(), Failure> {
    let conn = connection(profile).await?;
    let prepared = gatehouse_client::breaker::prepare_pause(&conn, &reason).await?;
    let breaker = sign_breaker_body(&conn, device, &key, prepared).await?;
    say!("paused: {}", describe_breaker(&breaker));
    Ok(())
}

/// Delivers the break-glass records waiting for `profile`'s server, saying what happened; a
/// failure leaves them queued for the next command.
pub async fn deliver_break_glass(
    store: &gatehouse_client::profile::ProfileStore,
    profile: &gatehouse_client::profile::Profile,
    conn: &gatehouse_client::Connection,
) {
    let files = gatehouse_client::breakglass::BreakGlass::of(store.dir(), &profile.name);
    match files.pending() {
        Ok(waiting) if waiting.is_empty() => {}
        Ok(waiting) => match files.deliver(conn).await {
            Ok(_) => say!(
                "delivered {} break-glass record(s) to the server's audit log",
                waiting.len()
            ),
            Err(e) => say!(
                "{} break-glass record(s) still wait for the server: {e}",
                waiting.len()
            ),
        },
        Err(e) => say!("the break-glass queue cannot be read: {e}"),
    }
}

/// `gatehouse rotate ...`.
pub async fn run_rotate(action: RotateAction) -> Result<(), Failure> {
    let (role, args) = match action {
        RotateAction::Show { mirror, profile } => return rotate_show(mirror, profile).await,
        RotateAction::BreakGlass {
            device,
            old_key,
            key,
            profile,
        } => return run_break_glass_rekey(*device, old_key, key, profile).await,
        RotateAction::Supply(args) => (KeyRole::Supply, args),
        RotateAction::Pause(args) => (KeyRole::Pause, args),
        RotateAction::Admin(args) => (KeyRole::Admin, args),
        RotateAction::Treasury(args) => (KeyRole::Treasury, args),
        RotateAction::Officer {
            remove: Some(officer),
            reason,
            profile,
            ..
        } => {
            let proposal: Proposal = connection(profile)
                .await?
                .post(
                    "/v1/proposals/offboarding",
                    &NewOffboarding { officer, reason },
                )
                .await?;
            say!("proposed offboarding {}", proposal.id);
            return next_steps(&proposal);
        }
        RotateAction::Officer {
            add,
            keys,
            csr,
            reason,
            profile,
            ..
        } => {
            let certificate_request = match csr {
                Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                    failure(
                        Exit::Usage,
                        format!(
                            "cannot read the certificate request {}: {e} (write one with gatehouse device csr)",
                            path.display()
                        ),
                    )
                })?),
                None => None,
            };
            let proposal: Proposal = connection(profile)
                .await?
                .post(
                    "/v1/proposals/onboarding",
                    &NewOnboarding {
                        officer: add.unwrap_or_default(),
                        keys,
                        reason,
                        certificate_request,
                    },
                )
                .await?;
            say!("proposed onboarding {}", proposal.id);
            if matches!(
                &proposal.payload,
                gatehouse_protocol::proposal::Payload::Onboarding {
                    certificate: Some(_),
                    ..
                }
            ) {
                say!(
                    "your certificate: write it now with gatehouse proposal certificate {} --out FILE (it gets you in once executed; your current one is then revoked)",
                    proposal.id
                );
            }
            return next_steps(&proposal);
        }
    };
    let proposal: Proposal = connection(args.profile)
        .await?
        .post(
            "/v1/proposals/rotation",
            &NewRotation {
                role,
                threshold: args.threshold,
                holders: args.holders,
            },
        )
        .await?;
    say!("proposed rotation {}", proposal.id);
    next_steps(&proposal)
}

/// What a key change proposal does, and what the officers do next.
fn next_steps(proposal: &Proposal) -> Result<(), Failure> {
    if let Some(lines) = proposals::rotation_lines(&proposal.payload) {
        print_fields(&lines);
    }
    say!(
        "approvals:   {} of {}",
        proposal.threshold,
        proposal.eligible.join(", ")
    );
    say!(
        "next: the officers run `gatehouse proposal approve {}` with their admin key; the server confirms the new key on the mirror and retires the old ones",
        proposal.id
    );
    Ok(())
}

async fn rotate_show(mirror: Option<String>, profile: Option<String>) -> Result<(), Failure> {
    let (store, profile) = profile::chosen(profile)?;
    let mirror = mirror.or_else(|| profile.mirror_url.clone()).ok_or_else(|| {
        failure(
            Exit::Usage,
            "no mirror to read the ledger from: give --mirror URL or pin one (gatehouse profile mirror)"
                .to_owned(),
        )
    })?;
    let conn = connect(&store, &profile).await?;
    let current = proposals::current_policy(&conn).await?;
    let (_, staged, names) = proposals::key_names(&conn).await?;
    let keys = proposals::token_keys(&mirror, &current.token).await?;
    let named =
        |key: Option<&gatehouse_protocol::hedera::KeyView>| proposals::holders_text(key, &names);
    say!("token:       {} (read from {mirror})", keys.token);
    say!("admin key:   {}", named(keys.admin.as_ref()));
    say!("supply key:  {}", named(keys.supply.as_ref()));
    say!("pause key:   {}", named(keys.pause.as_ref()));
    say!(
        "treasury:    {} (its key: {})",
        keys.treasury,
        named(keys.treasury_key.as_ref())
    );
    if keys.paused {
        say!(
            "paused:      yes: Hedera refuses any update of a paused token; a rotation waits until the quorum unpauses the ledger token alone (gatehouse resume propose --ledger-only)"
        );
    } else {
        say!("paused:      no");
    }
    if staged.is_empty() {
        say!("staged:      none (each new key holder runs gatehouse ledger-key stage)");
    }
    for k in staged {
        say!(
            "staged:      {} {} ({} evidence)",
            k.officer,
            k.public_key,
            k.evidence
        );
    }
    let registry: Vec<RoleKey> = conn.get("/v1/token-keys").await?;
    for k in registry {
        say!(
            "registry:    {} key {} (proposal {}; {})",
            k.role.as_str(),
            k.holders_text(),
            k.proposal,
            k.confirmed_at.map_or_else(
                || "not yet seen on the mirror".to_owned(),
                |at| format!("mirror agreed at {}", at.to_rfc3339())
            )
        );
    }
    Ok(())
}

fn algorithm_name(algorithm: LedgerKeyAlgorithm) -> &'static str {
    match algorithm {
        LedgerKeyAlgorithm::Ed25519 => "Ed25519",
        LedgerKeyAlgorithm::EcdsaSecp256k1 => "secp256k1",
    }
}

/// Reads key `key` on the device and the evidence that it was born there (an attestation where
/// the device gives one), and hands them to `path`: an enrolment or a staged key.
async fn hand_in(
    device: DeviceArgs,
    key: &str,
    profile: Option<String>,
    path: &str,
) -> Result<LedgerKey, Failure> {
    let conn = connection(profile).await?;
    let id = parse_id(key)?;
    let (public, evidence, label) = blocking(move || {
        let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
        let mut dev = device.open(&pin)?;
        let public = dev.public_key(&id).map_err(device_failure)?;
        let evidence = match dev.attestation(&id) {
            Ok(attestation) => gatehouse_keys::evidence::Evidence::Attested(attestation),
            Err(_) => dev.evidence(&id).map_err(device_failure)?,
        };
        let label = device_label(dev.info());
        Ok((public, evidence, label))
    })
    .await?;
    let algorithm = match public.algorithm() {
        Algorithm::Ed25519 => LedgerKeyAlgorithm::Ed25519,
        Algorithm::EcdsaSecp256k1 => LedgerKeyAlgorithm::EcdsaSecp256k1,
        other => {
            return Err(failure(
                Exit::Usage,
                format!("a {other} key cannot be a Hedera key: use an Ed25519 (or secp256k1) key"),
            ));
        }
    };
    let evidence = serde_json::to_value(&evidence)
        .map_err(|e| failure(Exit::Other, format!("the evidence: {e}")))?;
    Ok(conn
        .post(
            path,
            &LedgerKeyEnrolment {
                algorithm,
                public_key: hex::encode(public.as_bytes()),
                evidence,
                device: Some(label),
            },
        )
        .await?)
}

/// `gatehouse break-glass-account --for NAME`: an administrator has the server create a
/// responder's own funded account, keyed by their enrolled ledger key.
pub async fn run_break_glass_account(
    person: String,
    hbar: u32,
    profile: Option<String>,
) -> Result<(), Failure> {
    use gatehouse_protocol::pause::{BreakGlassAccount, NewBreakGlassAccount};
    let conn = connection(profile).await?;
    let made: BreakGlassAccount = conn
        .post(
            "/v1/pause/break-glass/accounts",
            &NewBreakGlassAccount { person, hbar },
        )
        .await?;
    say!(
        "account:     {} for {} ({} hbar, paid by the operator)",
        made.account,
        made.person,
        made.hbar
    );
    say!(
        "key:         {} (their enrolled ledger key)",
        made.public_key
    );
    say!("{} sets up break-glass with:", made.person);
    say!(
        "  gatehouse profile break-glass PROFILE --node {} --node-account {} --mirror {} --payer {} --token {}",
        made.node,
        made.node_account,
        made.mirror,
        made.account,
        made.token
    );
    Ok(())
}

/// `gatehouse pause --ledger-only`: break-glass. The TokenPause is built here, paid by the
/// responder's own account, shown decoded, signed on the device, sent straight to the node named
/// in the profile's break-glass file and confirmed on its mirror; the signed record is queued and
/// delivered to the server's audit log now if it answers, else by the next command that reaches
/// it (`gatehouse status`, `gatehouse pause`).
pub async fn run_break_glass(
    device: DeviceArgs,
    key: String,
    reason: String,
    profile: Option<String>,
) -> Result<(), Failure> {
    use gatehouse_client::breakglass::{self, BreakGlass};
    let (store, profile) = profile::chosen(profile)?;
    let files = BreakGlass::of(store.dir(), &profile.name);
    let ledger = files.ledger()?;
    let (bytes, view) = breakglass::pause_body(&ledger, &reason)?;
    say!(
        "break-glass: you sign, decoded here (fingerprint {}), and it goes straight to node {} ({}):",
        view.fingerprint,
        ledger.node,
        ledger.node_account
    );
    print_fields(&proposals::body_fields(&view));
    let key_id = parse_id(&key)?;
    let signed_bytes = bytes.clone();
    let addresses = ledger.clone();
    let (public_key, signature, label) = blocking(move || {
        let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
        let mut dev = device.open(&pin)?;
        let public_key = dev
            .keys()
            .map_err(device_failure)?
            .into_iter()
            .find(|k| k.id == key_id)
            .map(|k| k.public_key)
            .ok_or_else(|| failure(Exit::Device, format!("no key {key_id} on the device")))?;
        addresses.check_signer(&public_key)?;
        ask_for_touch(dev.as_mut(), &key_id)?;
        let signature = dev.sign(&key_id, &signed_bytes).map_err(device_failure)?;
        Ok((
            public_key,
            signature.as_bytes().to_vec(),
            device_label(dev.info()),
        ))
    })
    .await?;
    let (record, paused) =
        breakglass::submit(&ledger, bytes, &public_key, signature, Some(label)).await?;
    if record.ledger_status == "SUCCESS" {
        say!(
            "the ledger paused token {} (transaction {})",
            ledger.token,
            record.transaction_id
        );
    } else {
        say!(
            "the node took the pause of token {} (transaction {}): {}",
            ledger.token,
            record.transaction_id,
            record.ledger_status
        );
    }
    if paused {
        say!("the mirror {} shows the token PAUSED", ledger.mirror);
    } else {
        say!(
            "the mirror {} does not show the pause yet: check it again in a moment",
            ledger.mirror
        );
    }
    keep_and_deliver(
        &files,
        record,
        &store,
        &profile,
        "the token is paused on the ledger",
        "the backend is paused too",
    )
    .await
}

/// Keeps a signed break-glass `record` (its ledger step `done` already) beside the profile and
/// delivers it to the server's audit log now if it answers (saying `then`), else it waits for the
/// next command that reaches the server.
async fn keep_and_deliver(
    files: &gatehouse_client::breakglass::BreakGlass,
    record: impl Into<gatehouse_client::breakglass::Queued>,
    store: &gatehouse_client::profile::ProfileStore,
    profile: &gatehouse_client::profile::Profile,
    done: &str,
    then: &str,
) -> Result<(), Failure> {
    let record = record.into();
    let queued = match files.enqueue(record.clone()) {
        Ok(path) => path,
        Err(e) => {
            // The ledger took it: the record must not be lost with the file.
            say!(
                "the signed record could not be kept ({e}); give it to your security team for the audit log:"
            );
            say!(
                "{}",
                serde_json::to_string_pretty(&record).unwrap_or_default()
            );
            return Err(failure(
                Exit::Other,
                format!("{done}, but the signed record could not be kept: {e}"),
            ));
        }
    };
    let delivered = match connect(store, profile).await {
        Ok(conn) => files.deliver(&conn).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.message),
    };
    match delivered {
        Ok(_) => say!("delivered to the server's audit log: {then}"),
        Err(why) => say!(
            "the server cannot be reached ({why}): the signed record waits in {} and is delivered by the next `gatehouse status` once it answers",
            queued.display()
        ),
    }
    Ok(())
}

/// `gatehouse rotate break-glass`: after a pause-key rotation, the responder's break-glass
/// account is re-keyed in place. Their new key must be in the token's pause key on the ledger
/// (the mirror says so); the CryptoUpdate, paid by the account, is shown decoded and signed on the
/// device by the account's old key and the new key (Hedera asks both), sent straight to the node
/// in the profile's break-glass file and confirmed on its mirror; only then does the file name
/// the new key. The signed record goes to the server's audit log as break-glass pauses do.
pub async fn run_break_glass_rekey(
    device: DeviceArgs,
    old_key: String,
    key: String,
    profile: Option<String>,
) -> Result<(), Failure> {
    use gatehouse_client::breakglass::{self, BreakGlass};
    let (store, profile) = profile::chosen(profile)?;
    let files = BreakGlass::of(store.dir(), &profile.name);
    let ledger = files.ledger()?;
    let (old_id, new_id) = (parse_id(&old_key)?, parse_id(&key)?);
    if old_id == new_id {
        return Err(failure(
            Exit::Usage,
            "--old-key and --key name the same key: the account is keyed by it already".to_owned(),
        ));
    }
    let (old_public, new_public) = {
        let addresses = ledger.clone();
        let device = device.clone();
        let (old_id, new_id) = (old_id.clone(), new_id.clone());
        blocking(move || {
            let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
            let mut dev = device.open(&pin)?;
            let keys = dev.keys().map_err(device_failure)?;
            let find = |id: &gatehouse_keys::key::Id| {
                keys.iter()
                    .find(|k| k.id == *id)
                    .map(|k| k.public_key.clone())
                    .ok_or_else(|| failure(Exit::Device, format!("no key {id} on the device")))
            };
            let old = find(&old_id)?;
            addresses.check_signer(&old)?;
            Ok((old, find(&new_id)?))
        })
        .await?
    };
    breakglass::check_pause_holder(&ledger, &new_public).await?;
    let (bytes, view) = breakglass::rekey_body(&ledger, &new_public)?;
    say!(
        "break-glass re-key: both keys sign, decoded here (fingerprint {}), and it goes straight to node {} ({}):",
        view.fingerprint,
        ledger.node,
        ledger.node_account
    );
    print_fields(&proposals::body_fields(&view));
    say!(
        "why both: Hedera changes an account's key only with the old key's signature (it pays and holds the account) and the new key's"
    );
    let signed_bytes = bytes.clone();
    let (old_signature, new_signature, label) = blocking(move || {
        let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
        let mut dev = device.open(&pin)?;
        let mut sign = |id: &gatehouse_keys::key::Id| -> Result<Vec<u8>, Failure> {
            ask_for_touch(dev.as_mut(), id)?;
            Ok(dev
                .sign(id, &signed_bytes)
                .map_err(device_failure)?
                .as_bytes()
                .to_vec())
        };
        let old = sign(&old_id)?;
        let new = sign(&new_id)?;
        Ok((old, new, device_label(dev.info())))
    })
    .await?;
    let (record, rekeyed) = files
        .rekey(
            &ledger,
            bytes,
            (&old_public, old_signature),
            (&new_public, new_signature),
            Some(label),
        )
        .await?;
    say!(
        "the ledger answered: {} (transaction {})",
        record.ledger_status,
        record.transaction_id
    );
    if !rekeyed {
        return Err(failure(
            Exit::Conflict,
            format!(
                "the mirror {} does not show account {} keyed by the new key yet: the break-glass file still names the old key; check the mirror, then run this again",
                ledger.mirror, ledger.payer
            ),
        ));
    }
    say!(
        "account {} is keyed by {} now (the mirror shows it); break-glass pauses sign with key {key}",
        ledger.payer,
        breakglass::AccountKey::of(&new_public).map_or_else(String::new, |k| k.to_string())
    );
    keep_and_deliver(
        &files,
        record,
        &store,
        &profile,
        "the account is re-keyed on the ledger",
        "re-keyed",
    )
    .await
}

/// Shows a checked TokenPause or TokenUnpause body decoded, signs it on the device (PIN, touch),
/// and sends the signature.
async fn sign_breaker_body(
    conn: &gatehouse_client::Connection,
    device: DeviceArgs,
    key: &str,
    prepared: gatehouse_client::breaker::Prepared,
) -> Result<gatehouse_protocol::pause::Breaker, Failure> {
    say!(
        "you sign, decoded here (fingerprint {}):",
        prepared.body.fingerprint
    );
    print_fields(&proposals::body_fields(&prepared.body));
    let key_id = parse_id(key)?;
    let bytes = prepared.bytes.clone();
    let (signature, label) = blocking(move || {
        let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
        let mut dev = device.open(&pin)?;
        ask_for_touch(dev.as_mut(), &key_id)?;
        let signature = dev.sign(&key_id, &bytes).map_err(device_failure)?;
        Ok((signature.as_bytes().to_vec(), device_label(dev.info())))
    })
    .await?;
    Ok(gatehouse_client::breaker::send(conn, prepared, &signature, Some(label)).await?)
}

/// `gatehouse resume`: officers propose resuming; once the quorum approved (`gatehouse proposal
/// approve`), a responder's device signs the TokenUnpause.
pub async fn run_resume(action: ResumeAction) -> Result<(), Failure> {
    use gatehouse_protocol::proposal::{NewResume, Payload};
    match action {
        ResumeAction::Propose {
            reason,
            ledger_only,
            profile,
        } => {
            let p: Proposal = connection(profile)
                .await?
                .post(
                    "/v1/proposals/resume",
                    &NewResume {
                        reason,
                        ledger_only,
                    },
                )
                .await?;
            say!("proposal:   {}", p.id);
            if ledger_only {
                say!(
                    "ledger only: the token is unpaused on the ledger and the backend's breaker stays tripped; once the key is rotated, a responder pauses again (gatehouse pause)"
                );
            }
            say!(
                "resume proposed: needs {} approval(s) of: {}; until {}",
                p.threshold,
                p.eligible.join(", "),
                p.deadline.to_rfc3339()
            );
            say!(
                "next: the officers run `gatehouse proposal approve {}`; then a responder runs `gatehouse resume unpause {}`",
                p.id,
                p.id
            );
            Ok(())
        }
        ResumeAction::Unpause {
            id,
            device,
            key,
            profile,
        } => {
            let conn = connection(profile).await?;
            let prepared = gatehouse_client::breaker::prepare_unpause(&conn, &id).await?;
            let ledger_only = matches!(
                prepared.resume.as_ref().map(|p| &p.payload),
                Some(Payload::Resume {
                    ledger_only: true,
                    ..
                })
            );
            if let Some(Payload::Resume { reason, .. }) =
                prepared.resume.as_ref().map(|p| &p.payload)
            {
                say!(
                    "resume {id}: {:?}; approved by {}",
                    reason,
                    prepared
                        .resume
                        .iter()
                        .flat_map(|p| &p.approvals)
                        .map(|a| a.officer.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let breaker = sign_breaker_body(&conn, *device, &key, prepared).await?;
            if ledger_only {
                say!(
                    "the ledger unpaused the token; the backend stays stopped (ledger-only resume): rotate the key, then pause again: {}",
                    describe_breaker(&breaker)
                );
            } else if breaker.tripped {
                say!(
                    "the ledger unpaused the token; the breaker closes once the mirror shows it: {}",
                    describe_breaker(&breaker)
                );
            } else {
                say!("resumed: the token is unpaused and the breaker is closed");
            }
            Ok(())
        }
    }
}

pub async fn run_proposal(action: ProposalAction) -> Result<(), Failure> {
    match action {
        ProposalAction::List { status, profile } => {
            let path = match status {
                Some(s) => format!("/v1/proposals?status={s}"),
                None => "/v1/proposals".to_owned(),
            };
            let list: Vec<Proposal> = connection(profile).await?.get(&path).await?;
            for p in list {
                say!(
                    "{}  {:<12} {:<9} {}/{} approvals  by {}  until {}",
                    p.id,
                    p.kind.as_str(),
                    p.status.as_str(),
                    p.approvals.len(),
                    p.threshold,
                    p.proposer,
                    p.deadline.format("%Y-%m-%d %H:%M UTC")
                );
            }
            Ok(())
        }
        ProposalAction::Show { id, profile } => {
            let proposal: Proposal = connection(profile)
                .await?
                .get(&format!("/v1/proposals/{id}"))
                .await?;
            print_proposal(&proposal);
            Ok(())
        }
        ProposalAction::Approve {
            id,
            device,
            key,
            new_key,
            mirror,
            profile,
        } => {
            let (store, profile) = profile::chosen(profile)?;
            let Some(mirror) = mirror.or_else(|| profile.mirror_url.clone()) else {
                return Err(Failure {
                    code: Exit::Usage,
                    message: format!(
                        "profile {} pins no mirror node to check the ledger's copy against",
                        profile.name
                    ),
                    hint: Some(format!(
                        "pin one with `gatehouse profile mirror {} https://MIRROR`, or give --mirror",
                        profile.name
                    )),
                });
            };
            let conn = connect(&store, &profile).await?;
            let review = proposals::review_as(&conn, &id, &mirror, new_key).await?;
            print_review(&review);
            let key_id = parse_id(&key)?;
            let bytes = review.body_bytes.clone();
            let wanted = review.request.public_key.clone();
            let (signature, label) = blocking(move || {
                let pin = pin("GATEHOUSE_DEVICE_PIN", "device PIN")?;
                let mut dev = device.open(&pin)?;
                // After a rotation an officer holds keys in several slots: sign with the one the
                // ledger counts for this proposal, and say which when it is another.
                if let Some(wanted) = &wanted {
                    let found = dev
                        .keys()
                        .map_err(device_failure)?
                        .into_iter()
                        .find(|k| k.id == key_id)
                        .map(|k| proposals::ledger_hex(&k.public_key));
                    if found.as_ref() != Some(wanted) {
                        return Err(Failure {
                            code: Exit::Device,
                            message: format!(
                                "key {key} on this device is {}, but this proposal needs your key {wanted}",
                                found.as_deref().unwrap_or("not there")
                            ),
                            hint: Some(
                                "give --key the slot or id of that key (gatehouse device keys lists them; gatehouse ledger-key list shows which is yours)".to_owned(),
                            ),
                        });
                    }
                }
                ask_for_touch(dev.as_mut(), &key_id)?;
                let signature = dev.sign(&key_id, &bytes).map_err(device_failure)?;
                let label = device_label(dev.info());
                Ok((signature.as_bytes().to_vec(), label))
            })
            .await?;
            let proposal = proposals::submit(&conn, &review, &signature, Some(label)).await?;
            if new_key {
                say!(
                    "signed with your new key: {} new-key signature(s) of {} needed; status {}",
                    proposal.key_signatures.len(),
                    proposal.payload.new_key_signatures().unwrap_or(0),
                    proposal.status.as_str()
                );
            } else {
                say!(
                    "approved: {}/{} approvals; status {}",
                    proposal.approvals.len(),
                    proposal.threshold,
                    proposal.status.as_str()
                );
            }
            if let Some(outcome) = &proposal.outcome {
                say!(
                    "ledger: {}{}",
                    outcome.status,
                    if outcome.serials.is_empty() {
                        String::new()
                    } else {
                        format!("; serials {:?}", outcome.serials)
                    }
                );
            }
            Ok(())
        }
        ProposalAction::Reject {
            id,
            reason,
            profile,
        } => {
            let proposal: Proposal = connection(profile)
                .await?
                .post(&format!("/v1/proposals/{id}/reject"), &Reject { reason })
                .await?;
            say!("rejected; the proposal is {}", proposal.status.as_str());
            Ok(())
        }
        ProposalAction::Certificate { id, out, profile } => {
            let conn = connection(profile).await?;
            let proposal: Proposal = conn.get(&format!("/v1/proposals/{id}")).await?;
            let pem = proposals::onboarding_certificate(&proposal)?;
            std::fs::write(&out, pem).map_err(|e| {
                failure(Exit::Usage, format!("cannot write {}: {e}", out.display()))
            })?;
            say!("wrote the certificate to {}", out.display());
            if proposal.status == gatehouse_protocol::proposal::ProposalStatus::Open {
                say!(
                    "it gets you in once the onboarding executes (then your current certificate is revoked)"
                );
            }
            say!(
                "next: connect with it and the device key you made the request with: gatehouse profile add --name NAME --server URL --ca CA.pem --cert {} --device-key ID --piv (or --module PATH)",
                out.display()
            );
            Ok(())
        }
        ProposalAction::Cancel { id, profile } => {
            let proposal: Proposal = connection(profile)
                .await?
                .post(
                    &format!("/v1/proposals/{id}/cancel"),
                    &serde_json::json!({}),
                )
                .await?;
            say!("the proposal is {}", proposal.status.as_str());
            Ok(())
        }
    }
}

/// `  alice at 2026-… with YubiKey 5 …`: who signed, when, on what.
fn signed_line(officer: &str, at: &chrono::DateTime<chrono::Utc>, device: Option<&str>) {
    say!(
        "  {officer} at {} with {}",
        at.to_rfc3339(),
        device.unwrap_or("an unnamed device")
    );
}

fn print_proposal(p: &Proposal) {
    say!("proposal:   {}", p.id);
    say!("kind:       {}", p.kind.as_str());
    say!("status:     {}", p.status.as_str());
    say!("proposer:   {}", p.proposer);
    say!("deadline:   {}", p.deadline.to_rfc3339());
    say!(
        "approvals:  {}/{} (eligible: {})",
        p.approvals.len(),
        p.threshold,
        p.eligible.join(", ")
    );
    for a in &p.approvals {
        signed_line(&a.officer, &a.at, a.device.as_deref());
    }
    for r in &p.rejections {
        say!("  rejected by {}: {}", r.officer, r.reason);
    }
    if let Some(needed) = p.payload.new_key_signatures() {
        // Hedera applies a new admin key or treasury only once the new key has signed too.
        say!(
            "new key:    {} given, {needed} needed (holders sign with gatehouse proposal approve ID --new-key; a kept admin key signs by approving)",
            p.key_signatures.len()
        );
        for k in &p.key_signatures {
            signed_line(&k.officer, &k.at, k.device.as_deref());
        }
    }
    say!("schedule:   {}", p.schedule_id);
    match gatehouse_protocol::hedera::decode_scheduled(
        &base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &p.scheduled_body,
        )
        .unwrap_or_default(),
    ) {
        Ok(view) => {
            print_scheduled(&view);
            print_policy_change(p, &view);
            if let Some(lines) = proposals::rotation_lines(&p.payload) {
                print_fields(&lines);
            }
        }
        Err(e) => say!("scheduled:  CANNOT BE SHOWN: {e}"),
    }
    if let Some(o) = &p.outcome {
        say!(
            "outcome:    {} {:?} {}",
            o.status,
            o.serials,
            o.token.as_deref().unwrap_or("")
        );
    }
}

fn print_policy_change(p: &Proposal, view: &gatehouse_protocol::hedera::ScheduledView) {
    let Some(change) = proposals::policy_change(&p.payload, view) else {
        return;
    };
    match &change.document {
        Ok(doc) => {
            say!(
                "policy version {} (replaces {}), every rule:",
                doc.version,
                change.replaces
            );
            print_fields(&proposals::rule_lines(doc));
        }
        Err(e) => say!("policy:     CANNOT BE READ: {e}"),
    }
    if change.committed {
        say!("  the new token memo in the bytes is this document's SHA-256: it matches");
    } else {
        say!("  THE TOKEN MEMO IN THE BYTES DOES NOT COMMIT TO THIS DOCUMENT: do not sign");
    }
}

fn print_fields(fields: &[proposals::Field]) {
    for f in fields {
        say!("  {:<12} {}", format!("{}:", f.label), f.value);
    }
}

fn print_scheduled(view: &gatehouse_protocol::hedera::ScheduledView) {
    say!(
        "scheduled transaction, decoded here (fingerprint {}):",
        view.fingerprint
    );
    print_fields(&proposals::scheduled_fields(view));
}

fn print_review(review: &Review) {
    print_proposal(&review.proposal);
    say!(
        "checked against the ledger's copy at {}: identical",
        review.mirror
    );
    for item in proposals::mint_items(&review.proposal.payload, &review.scheduled) {
        match &item.document {
            Some(Ok(doc)) => say!(
                "  document[{}]: {:?}, image {} ({}); CID {}",
                item.index,
                doc.name,
                doc.image,
                doc.mime_type,
                doc.cid
            ),
            Some(Err(why)) => say!("  document[{}]: DOES NOT CHECK: {why}", item.index),
            None => {}
        }
    }
    say!(
        "you sign, decoded here (fingerprint {}):",
        review.body.fingerprint
    );
    print_fields(&proposals::body_fields(&review.body));
}
