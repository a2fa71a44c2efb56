//! The server's audit log (invariant 4): what is recorded, and the rules that keep the log
//! honest. Everything in this file is pure; [`log`] runs the sequencer, [`store`] holds the SQL
//! and [`api`] the read endpoints.
//!
//! A change and the entry that records it are written in one database transaction: the entry
//! goes to an outbox row ([`AuditLog::record`]), the sequencer moves outbox rows into the Merkle
//! log in batches and signs a checkpoint per batch. A change that rolls back leaves no entry; an
//! entry whose change committed is never lost, even if the process dies before sequencing it.
//!
//! The database is not trusted to tell the truth about the log: the `audit_tree` row is a cache.
//! At start and whenever this instance catches up with entries other writers added, the root it
//! recomputes from the leaves must match a stored checkpoint at that size *signed by the log key*,
//! and the size may never fall below the largest signed size this server has seen, which it keeps
//! in a file outside the database ([`HighWater`]).

pub mod api;
pub mod demo;
mod log;
mod store;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::LogVerifier;
use gatehouse_audit::leaf::{self, Details, Leaf, Outcome, OutcomeKind, Timestamp};
use gatehouse_audit::tree::Tree;
use gatehouse_protocol::Fingerprint;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use self::log::{AuditLog, Recorded, SEQUENCED_CHANNEL};

/// Most entries committed in one batch.
pub const MAX_BATCH: usize = 256;

/// Longest an attacker-supplied string (a path, an object name, a request id) may be in an
/// entry; longer ones are cut at a character boundary and marked with `…`.
pub const MAX_TEXT: usize = 256;

/// Audit failure. Any of these makes the audited action fail.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed.
    #[error("the audit log could not be written: {0}")]
    Storage(String),
    /// The stored log does not match its signed checkpoints: someone edited, forged or
    /// truncated it.
    #[error(
        "the audit log is inconsistent: {0}; the server refuses to append until an administrator investigates"
    )]
    Inconsistent(String),
    /// The entry is malformed (too large, bad details).
    #[error("the audit entry is invalid: {0}")]
    Invalid(String),
    /// The sequencer is gone (the server is shutting down).
    #[error("the audit log is closed")]
    Closed,
    /// A requested index or size is outside the log.
    #[error("{0}")]
    OutOfRange(String),
    /// The log key file is missing or unreadable.
    #[error("the audit log key cannot be used: {0}")]
    Key(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

/// What kind of thing happened. The log's `action` field is [`Action::name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A connection's certificate was refused (not registered, disabled, expired).
    IdentityRefused,
    /// A person was enrolled from a certificate signing request.
    RegistryEnrol,
    /// A registered person was given a new certificate.
    RegistryReplaceCertificate,
    /// A person's access was switched off.
    RegistryDisable,
    /// A person's access was switched back on.
    RegistryEnable,
    /// Personal data behind an entry was erased.
    AuditErase,
    /// Someone looked entries up by a personal value.
    AuditSearch,
    /// Someone read the personal data behind an entry.
    AuditReadPrivate,
    /// An outbox row could not be turned into a leaf; this entry stands in for it.
    AuditInvalidEntry,
    /// An officer enrolled their ledger key (or was refused).
    LedgerKeyEnrol,
    /// An officer staged their next ledger key for a rotation (or was refused).
    LedgerKeyStage,
    /// A rotation took effect: the registry's token key changed, staged keys went into use, keys
    /// no token key contains were retired.
    LedgerKeyRotate,
    /// The mirror was seen showing a token key as the registry holds it.
    LedgerKeyConfirm,
    /// A proposal was created (or creating one was refused).
    ProposalCreate,
    /// An officer asked for the body to sign for an approval.
    ProposalApprovalRequest,
    /// An approval signature was accepted and sent to the ledger (or refused, with the reason).
    ProposalApprove,
    /// A rotation's new key signed its schedule itself (admin and treasury rotations), or was
    /// refused.
    ProposalKeySign,
    /// An officer rejected a proposal.
    ProposalReject,
    /// The proposer or an administrator withdrew a proposal.
    ProposalCancel,
    /// The ledger executed a proposal's scheduled transaction (its outcome says how it went).
    ProposalExecute,
    /// A proposal's deadline passed before it executed.
    ProposalExpire,
    /// The ledger holds an NFT of the token that no executed proposal minted.
    LedgerUnexplainedMint,
    /// More NFTs were minted in an hour than the deployment expects.
    LedgerMintVolume,
    /// The token's memo on the ledger anchors another policy than the one in force.
    LedgerPolicyMismatch,
    /// The mirror shows one of the token's keys as another key than the registry holds.
    LedgerKeyMismatch,
    /// A responder asked for the TokenPause body to sign.
    BreakerPauseRequest,
    /// A responder's signed pause tripped the breaker (or found it tripped).
    BreakerPause,
    /// What the ledger answered to the TokenPause.
    BreakerLedgerPause,
    /// A responder's break-glass pause (sent straight to the ledger while the server was down)
    /// was delivered for the record, and tripped the breaker.
    BreakerBreakGlass,
    /// An administrator created a responder's break-glass account on the ledger.
    BreakerBreakGlassAccount,
    /// A responder's break-glass account was re-keyed in place (their old and new key signed the
    /// CryptoUpdate, sent straight to the ledger); the record was delivered.
    BreakerBreakGlassRekey,
    /// A webhook receiver took a delivery.
    WebhookDelivered,
    /// A webhook delivery failed; it is tried again later.
    WebhookFailed,
    /// A webhook delivery failed its last try.
    WebhookAbandoned,
    /// A responder asked for the TokenUnpause body of an approved resume.
    BreakerResumeRequest,
    /// What the ledger answered to a resume's TokenUnpause.
    BreakerLedgerUnpause,
    /// The mirror showed the token unpaused after a resume: the breaker closed.
    BreakerClose,
    /// The mirror shows a TokenUnpause of the token that no executed resume explains.
    LedgerUnexplainedUnpause,
    /// Labelled demo activity; the name starts with `demo.`.
    Demo(Cow<'static, str>),
}

impl Action {
    /// The name stored in the leaf, e.g. `identity.refused`.
    pub fn name(&self) -> &str {
        match self {
            Action::IdentityRefused => "identity.refused",
            Action::RegistryEnrol => "registry.enrol",
            Action::RegistryReplaceCertificate => "registry.replace-certificate",
            Action::RegistryDisable => "registry.disable",
            Action::RegistryEnable => "registry.enable",
            Action::AuditErase => "audit.erase",
            Action::AuditSearch => "audit.search",
            Action::AuditReadPrivate => "audit.read-private",
            Action::AuditInvalidEntry => "audit.invalid-entry",
            Action::LedgerKeyEnrol => "ledger-key.enrol",
            Action::LedgerKeyStage => "ledger-key.stage",
            Action::LedgerKeyRotate => "ledger-key.rotate",
            Action::LedgerKeyConfirm => "ledger-key.confirm",
            Action::ProposalCreate => "proposal.create",
            Action::ProposalApprovalRequest => "proposal.approval-request",
            Action::ProposalApprove => "proposal.approve",
            Action::ProposalKeySign => "proposal.key-sign",
            Action::ProposalReject => "proposal.reject",
            Action::ProposalCancel => "proposal.cancel",
            Action::ProposalExecute => "proposal.execute",
            Action::ProposalExpire => "proposal.expire",
            Action::LedgerUnexplainedMint => "ledger.unexplained-mint",
            Action::LedgerMintVolume => "ledger.mint-volume",
            Action::LedgerPolicyMismatch => "ledger.policy-mismatch",
            Action::LedgerKeyMismatch => "ledger.key-mismatch",
            Action::BreakerPauseRequest => "breaker.pause-request",
            Action::BreakerPause => "breaker.pause",
            Action::BreakerLedgerPause => "breaker.ledger-pause",
            Action::BreakerBreakGlass => "breaker.break-glass",
            Action::BreakerBreakGlassAccount => "breaker.break-glass-account",
            Action::BreakerBreakGlassRekey => "breaker.break-glass-rekey",
            Action::WebhookDelivered => "webhook.delivered",
            Action::WebhookFailed => "webhook.failed",
            Action::WebhookAbandoned => "webhook.abandoned",
            Action::BreakerResumeRequest => "breaker.resume-request",
            Action::BreakerLedgerUnpause => "breaker.ledger-unpause",
            Action::BreakerClose => "breaker.close",
            Action::LedgerUnexplainedUnpause => "ledger.unexplained-unpause",
            Action::Demo(name) => name,
        }
    }

    /// The action named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        const FIXED: [Action; 38] = [
            Action::IdentityRefused,
            Action::RegistryEnrol,
            Action::RegistryReplaceCertificate,
            Action::RegistryDisable,
            Action::RegistryEnable,
            Action::AuditErase,
            Action::AuditSearch,
            Action::AuditReadPrivate,
            Action::AuditInvalidEntry,
            Action::LedgerKeyEnrol,
            Action::LedgerKeyStage,
            Action::LedgerKeyRotate,
            Action::LedgerKeyConfirm,
            Action::ProposalCreate,
            Action::ProposalApprovalRequest,
            Action::ProposalApprove,
            Action::ProposalKeySign,
            Action::ProposalReject,
            Action::ProposalCancel,
            Action::ProposalExecute,
            Action::ProposalExpire,
            Action::LedgerUnexplainedMint,
            Action::LedgerMintVolume,
            Action::LedgerPolicyMismatch,
            Action::LedgerKeyMismatch,
            Action::BreakerPauseRequest,
            Action::BreakerPause,
            Action::BreakerLedgerPause,
            Action::BreakerBreakGlass,
            Action::BreakerBreakGlassAccount,
            Action::BreakerBreakGlassRekey,
            Action::WebhookDelivered,
            Action::WebhookFailed,
            Action::WebhookAbandoned,
            Action::BreakerResumeRequest,
            Action::BreakerLedgerUnpause,
            Action::BreakerClose,
            Action::LedgerUnexplainedUnpause,
        ];
        if let Some(fixed) = FIXED.into_iter().find(|a| a.name() == name) {
            return Some(fixed);
        }
        name.starts_with("demo.")
            .then(|| Action::Demo(Cow::Owned(name.to_owned())))
    }
}

/// Who did (or tried) something.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Actor {
    /// Registered name, or `"unidentified"` for a refused stranger.
    pub name: String,
    /// Their client certificate's fingerprint.
    pub fingerprint: Fingerprint,
}

impl Actor {
    /// The server itself, for what it does on its own (settling, alarms, stand-in entries).
    pub fn server() -> Self {
        Self {
            name: "gatehouse-server".to_owned(),
            fingerprint: Fingerprint::from_digest([0; 32]),
        }
    }
}

/// Personal data to commit to: (tag, value) pairs. `Debug` shows the tags only.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Personal(pub Vec<(String, String)>);

impl std::fmt::Debug for Personal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(tag, _)| format!("{tag}=[redacted]")))
            .finish()
    }
}

/// What to record.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Who.
    pub actor: Actor,
    /// What kind of action.
    pub action: Action,
    /// What it acted on.
    pub object: String,
    /// How it ended.
    pub outcome: OutcomeKind,
    /// A machine-readable reason.
    pub code: Option<Cow<'static, str>>,
    /// The request id (always made by this server).
    pub request_id: String,
    /// Structured details. No personal data here: that goes in `personal`.
    pub details: serde_json::Value,
    /// Personal data, e.g. ("client-ip", "192.0.2.7"): the leaf holds only a salted
    /// commitment; salt and value stay in the database, erasable without breaking proofs.
    pub personal: Personal,
}

/// How an entry waits in the outbox (JSON in `audit_outbox.entry`).
#[derive(Serialize, Deserialize)]
struct Queued {
    actor: Actor,
    action: String,
    object: String,
    outcome: String,
    code: Option<String>,
    request_id: String,
    details: serde_json::Value,
    personal: Personal,
}

impl Entry {
    /// Caps the free-text fields at [`MAX_TEXT`] bytes and checks the entry makes a valid leaf,
    /// so a malformed entry is refused when it is recorded and never reaches a batch.
    fn checked(mut self) -> Result<Self, Error> {
        cap(&mut self.actor.name);
        cap(&mut self.object);
        cap(&mut self.request_id);
        if let Some(code) = &mut self.code {
            cap(code.to_mut());
        }
        let mut tags = std::collections::BTreeSet::new();
        for (tag, _) in &self.personal.0 {
            leaf::Tag::new(tag).map_err(|e| Error::Invalid(e.to_string()))?;
            if !tags.insert(tag) {
                return Err(Error::Invalid(format!(
                    "personal data tag {tag:?} appears twice"
                )));
            }
        }
        Details::new(&self.details).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(self)
    }

    fn to_queued(&self) -> Queued {
        Queued {
            actor: self.actor.clone(),
            action: self.action.name().to_owned(),
            object: self.object.clone(),
            outcome: self.outcome.as_str().to_owned(),
            code: self.code.as_ref().map(|c| c.to_string()),
            request_id: self.request_id.clone(),
            details: self.details.clone(),
            personal: self.personal.clone(),
        }
    }

    fn from_queued(json: &str) -> Result<Self, Error> {
        let q: Queued = serde_json::from_str(json).map_err(|e| Error::Invalid(e.to_string()))?;
        let action = Action::from_name(&q.action)
            .ok_or_else(|| Error::Invalid(format!("unknown action {:?}", q.action)))?;
        let outcome = parse_outcome(&q.outcome)
            .ok_or_else(|| Error::Invalid(format!("unknown outcome {:?}", q.outcome)))?;
        Entry {
            actor: q.actor,
            action,
            object: q.object,
            outcome,
            code: q.code.map(Cow::Owned),
            request_id: q.request_id,
            details: q.details,
            personal: q.personal,
        }
        .checked()
    }

    /// The entry that stands in for an outbox row that could not be read, so the log says
    /// something was lost instead of failing the whole batch or dropping it silently.
    fn invalid(outbox_id: i64, error: &Error) -> Self {
        let mut reason = error.to_string();
        cap(&mut reason);
        Entry {
            actor: Actor::server(),
            action: Action::AuditInvalidEntry,
            object: format!("audit-outbox:{outbox_id}"),
            outcome: OutcomeKind::Failed,
            code: Some(Cow::Borrowed("invalid_entry")),
            request_id: String::new(),
            details: serde_json::json!({ "outbox_id": outbox_id, "error": reason }),
            personal: Personal::default(),
        }
    }
}

/// `success`, `denied` or `failed`.
pub fn parse_outcome(name: &str) -> Option<OutcomeKind> {
    [
        OutcomeKind::Success,
        OutcomeKind::Denied,
        OutcomeKind::Failed,
    ]
    .into_iter()
    .find(|o| o.as_str() == name)
}

/// Cuts `text` to at most [`MAX_TEXT`] bytes at a character boundary, marking the cut.
pub fn cap(text: &mut String) {
    if text.len() <= MAX_TEXT {
        return;
    }
    let mut end = MAX_TEXT - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
}

/// Which entries a query wants; every unset field matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Actor name.
    pub actor: Option<String>,
    /// Action, e.g. `identity.refused`.
    pub action: Option<String>,
    /// Object, e.g. `certificate:<hex>`.
    pub object: Option<String>,
    /// Outcome.
    pub outcome: Option<OutcomeKind>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
}

/// The personal data behind one commitment, as stored.
#[derive(Debug, Clone)]
pub struct Private {
    /// The commitment's tag.
    pub tag: String,
    /// The salt, unless erased.
    pub salt: Option<[u8; 32]>,
    /// The value, unless erased.
    pub value: Option<String>,
    /// When it was erased.
    pub erased_at: Option<DateTime<Utc>>,
}

/// A stored entry with its canonical leaf.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Index in the log.
    pub index: u64,
    /// The canonical leaf bytes.
    pub leaf: Vec<u8>,
}

/// The HMAC key of the personal-data search index. `Debug` never shows it.
#[derive(Clone)]
pub struct IndexKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey([redacted])")
    }
}

impl IndexKey {
    /// Derived from the log key's secret with its own label.
    pub fn derive(log_secret: &[u8; 32]) -> Self {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"gatehouse/audit-index/v1\0");
        hasher.update(log_secret);
        Self(Zeroizing::new(hasher.finalize().into()))
    }

    /// HMAC-SHA-256(key, tag || 0x00 || value): finds entries by a personal value without
    /// storing the value anywhere it cannot be erased from.
    pub fn mac(&self, tag: &str, value: &str) -> Vec<u8> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(tag.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// One `audit_entries` row: the canonical leaf and the query columns it repeats.
struct Row {
    idx: i64,
    outbox_id: i64,
    leaf: Vec<u8>,
    time: DateTime<Utc>,
    actor: String,
    action: String,
    object: String,
    outcome: &'static str,
}

/// One `audit_private` row and its search-index MAC.
struct PrivateRow {
    idx: i64,
    tag: String,
    salt: [u8; 32],
    value: String,
    mac: Vec<u8>,
}

/// A batch ready to write: canonical leaves, their hashes and the root they lead to.
struct Prepared {
    first: u64,
    rows: Vec<Row>,
    private: Vec<PrivateRow>,
    hashes: Vec<Hash>,
    size: u64,
    root: Hash,
}

/// Builds leaves for `entries` (outbox id, entry) on top of `tree`, which must equal the
/// stored tree. An entry that cannot become a leaf is replaced by [`Entry::invalid`], so one bad
/// row never fails the batch it is in.
fn prepare(
    index_key: &IndexKey,
    tree: &Tree,
    entries: Vec<(i64, Entry)>,
) -> Result<Prepared, Error> {
    let first = tree.size();
    let mut frontier = tree.frontier();
    let mut private = Vec::new();
    let mut rows = Vec::with_capacity(entries.len());
    let mut hashes = Vec::with_capacity(entries.len());
    for (offset, (outbox_id, entry)) in entries.into_iter().enumerate() {
        let index = first + offset as u64;
        let time = Timestamp::now();
        let (entry, encoded) = match encode(index_key, index, time, &entry) {
            Ok(encoded) => (entry, encoded),
            Err(error) => {
                tracing::error!(outbox_id, %error, "an audit outbox row cannot become a leaf: logging that instead");
                let stand_in = Entry::invalid(outbox_id, &error);
                let encoded = encode(index_key, index, time, &stand_in)?;
                (stand_in, encoded)
            }
        };
        let hash = Hash::leaf(&encoded.leaf);
        frontier.push(hash);
        hashes.push(hash);
        private.extend(encoded.private);
        rows.push(Row {
            idx: to_i64(index)?,
            outbox_id,
            leaf: encoded.leaf,
            time: time.to_datetime(),
            actor: entry.actor.name,
            action: entry.action.name().to_owned(),
            object: entry.object,
            outcome: entry.outcome.as_str(),
        });
    }
    Ok(Prepared {
        first,
        rows,
        private,
        hashes,
        size: frontier.size(),
        root: frontier.root(),
    })
}

/// A leaf's canonical bytes and the private rows behind its commitments.
struct Encoded {
    leaf: Vec<u8>,
    private: Vec<PrivateRow>,
}

fn encode(
    index_key: &IndexKey,
    index: u64,
    time: Timestamp,
    entry: &Entry,
) -> Result<Encoded, Error> {
    let mut commitments = std::collections::BTreeMap::new();
    let mut private = Vec::new();
    for (tag, value) in &entry.personal.0 {
        let parsed = leaf::Tag::new(tag).map_err(|e| Error::Invalid(e.to_string()))?;
        let (commitment, salt) =
            leaf::Commitment::new(&parsed, value.as_bytes(), &mut rand_core::OsRng);
        commitments.insert(parsed, commitment);
        private.push(PrivateRow {
            idx: to_i64(index)?,
            tag: tag.clone(),
            salt: *salt.as_bytes(),
            value: value.clone(),
            mac: index_key.mac(tag, value),
        });
    }
    let leaf = Leaf {
        index,
        time,
        actor: leaf::Actor {
            name: entry.actor.name.clone(),
            cert_fingerprint: *entry.actor.fingerprint.as_bytes(),
        },
        action: entry.action.name().to_owned(),
        object: entry.object.clone(),
        outcome: Outcome {
            kind: entry.outcome,
            code: entry.code.as_ref().map(|c| c.to_string()),
        },
        request_id: entry.request_id.clone(),
        details: Details::new(&entry.details).map_err(|e| Error::Invalid(e.to_string()))?,
        commitments,
    };
    let leaf = leaf.encode().map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(Encoded { leaf, private })
}

/// The recomputed `tree` must have `size` leaves and a root signed by the log key at that size.
fn check_signed(
    tree: &Tree,
    size: u64,
    checkpoint: Option<&str>,
    verifier: &LogVerifier,
) -> Result<(), Error> {
    if tree.size() != size {
        return Err(Error::Inconsistent(format!(
            "the log says it holds {size} entries but {} were seen (truncated or rewritten)",
            tree.size()
        )));
    }
    if size == 0 {
        return Ok(());
    }
    let note = checkpoint.ok_or_else(|| {
        Error::Inconsistent(format!(
            "no signed checkpoint covers the {size} stored entries (rows added outside the sequencer?)"
        ))
    })?;
    let signed = verifier.verify(note).map_err(|e| {
        Error::Inconsistent(format!(
            "the stored checkpoint at size {size} is not signed by the log key: {e}"
        ))
    })?;
    if signed.checkpoint().size() != size || signed.checkpoint().root() != tree.current_root() {
        return Err(Error::Inconsistent(format!(
            "the entries do not match the signed checkpoint at size {size} (edited or forged rows)"
        )));
    }
    Ok(())
}

/// The largest log size this server has seen signed, kept in a file outside the database, so
/// a database rolled back to an older (validly signed) state is refused.
#[derive(Debug, Clone)]
pub struct HighWater {
    path: PathBuf,
    /// The largest size this process wrote or read, so raising to a size already covered
    /// touches no file.
    known: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl HighWater {
    /// The mark kept at `path` (created on first use).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            known: Default::default(),
        }
    }

    /// The recorded size, 0 if none was recorded yet.
    pub fn get(&self) -> Result<u64, Error> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map_err(|_| {
                Error::Inconsistent(format!(
                    "the high-water mark {} is not a number; restore it or investigate",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::Storage(format!("{}: {e}", self.path.display()))),
        }
    }

    /// Refuses a log smaller than the mark.
    pub fn check(&self, size: u64) -> Result<(), Error> {
        let mark = self.get()?;
        if size < mark {
            return Err(Error::Inconsistent(format!(
                "the log holds {size} entries but {mark} were signed before (see {}): the database was rolled back",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Raises the mark to `size` (never lowers it). Written through a temporary file and a
    /// rename under a lock, so instances sharing the file and a crash mid-write are safe.
    pub fn raise(&self, size: u64) -> Result<(), Error> {
        use std::sync::atomic::Ordering;
        if size <= self.known.load(Ordering::SeqCst) {
            return Ok(());
        }
        let fail = |e: std::io::Error| Error::Storage(format!("{}: {e}", self.path.display()));
        let lock = crate::store::private_file(&self.path.with_extension("lock")).map_err(fail)?;
        lock.lock().map_err(fail)?;
        let recorded = self.get()?;
        if recorded < size {
            crate::deployment::write_file(&self.path, &format!("{size}\n"), 0o600)
                .map_err(|e| Error::Storage(e.to_string()))?;
        }
        self.known.fetch_max(recorded.max(size), Ordering::SeqCst);
        Ok(())
    }
}

/// Reads the log key from `path` (hex of the 32-byte Ed25519 secret), named `origin`.
pub fn load_key(path: &Path, origin: &str) -> Result<gatehouse_audit::checkpoint::LogKey, Error> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?,
    );
    let mut secret = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), secret.as_mut_slice())
        .map_err(|e| Error::Key(format!("{}: not a 32-byte hex key ({e})", path.display())))?;
    gatehouse_audit::checkpoint::LogKey::from_secret_bytes(origin, &secret)
        .map_err(|e| Error::Key(e.to_string()))
}

/// A new log key's secret, hex (for writing a 0600 key file).
pub fn generate_key_hex() -> Zeroizing<String> {
    let mut secret = Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, secret.as_mut_slice());
    Zeroizing::new(hex::encode(secret.as_slice()))
}

fn to_i64(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::OutOfRange(format!("{n} is beyond the log's range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_capped_at_a_character_boundary() {
        let mut text = "é".repeat(300);
        cap(&mut text);
        assert!(text.len() <= MAX_TEXT, "capped: {}", text.len());
        assert!(text.ends_with('…'), "the cut is marked");
        let mut short = "short".to_owned();
        cap(&mut short);
        assert_eq!(short, "short", "short text is untouched");
    }

    #[test]
    fn actions_round_trip_through_their_names() {
        for action in [
            Action::IdentityRefused,
            Action::RegistryReplaceCertificate,
            Action::AuditReadPrivate,
            Action::Demo(Cow::Borrowed("demo.mint.approve")),
        ] {
            assert_eq!(Action::from_name(action.name()), Some(action.clone()));
        }
        assert_eq!(
            Action::from_name("mint.approve"),
            None,
            "unknown names are refused"
        );
    }

    #[test]
    fn the_index_key_never_shows_in_debug_output() {
        let key = IndexKey::derive(&[7; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode(key.0.as_slice())), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn personal_values_never_show_in_debug_output() {
        let personal = Personal(vec![("client-ip".to_owned(), "192.0.2.7".to_owned())]);
        let shown = format!("{personal:?}");
        assert!(
            !shown.contains("192.0.2.7") && shown.contains("client-ip"),
            "{shown}"
        );
    }

    #[test]
    fn an_invalid_queued_row_is_refused_not_accepted() {
        assert!(matches!(Entry::from_queued("{}"), Err(Error::Invalid(_))));
    }

    #[test]
    fn the_high_water_mark_only_rises_and_refuses_a_smaller_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mark = HighWater::at(dir.path().join("hwm"));
        assert_eq!(mark.get().expect("no mark yet"), 0);
        mark.raise(10).expect("raise");
        mark.raise(4).expect("a lower value is ignored");
        assert_eq!(mark.get().expect("read"), 10);
        assert!(mark.check(10).is_ok() && mark.check(11).is_ok());
        let err = mark.check(9).expect_err("a rolled-back log is refused");
        assert!(err.to_string().contains("rolled back"), "{err}");
    }
}
