//! Export: a self-verifying bundle of selected entries, encrypted with age, and plain CSV/JSON
//! for other tooling.
//!
//! A bundle holds the entries' canonical leaves, each entry's inclusion proof, the signed
//! checkpoint they are proven against, and the log's verifier key. Anyone holding a recipient
//! key (or the passphrase) can check it offline with `gatehouse audit verify-bundle`, and should
//! compare the verifier key with the one their own console pinned.

use std::io::{Read, Write};
use std::str::FromStr;

use age::secrecy::SecretString;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::LogVerifier;
use gatehouse_audit::leaf::Leaf;
use gatehouse_audit::proof::verify_inclusion;
use serde::{Deserialize, Serialize};

use super::{Cache, Error, Filter};

/// The bundle format this code writes and reads.
pub const FORMAT: &str = "gatehouse-audit-bundle/1";

/// How a bundle is protected.
pub enum Encryption {
    /// To these age X25519 recipients (`age1…`).
    Recipients(Vec<String>),
    /// To a passphrase (age scrypt).
    Passphrase(SecretString),
}

/// The shortest passphrase a bundle is encrypted to, in characters (the CLI and the console).
pub const MIN_PASSPHRASE_CHARS: usize = 12;

impl Encryption {
    /// Encryption to `passphrase`, refused when it is shorter than [`MIN_PASSPHRASE_CHARS`].
    pub fn passphrase(passphrase: SecretString) -> Result<Self, Error> {
        use age::secrecy::ExposeSecret;
        if passphrase.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(Error::Query(format!(
                "the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters, or encrypt to the recipients' age keys instead"
            )));
        }
        Ok(Encryption::Passphrase(passphrase))
    }
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encryption::Recipients(r) => f.debug_tuple("Recipients").field(r).finish(),
            Encryption::Passphrase(_) => f.write_str("Passphrase([redacted])"),
        }
    }
}

/// What to write.
#[derive(Debug)]
pub enum ExportFormat {
    /// An encrypted, verifiable bundle.
    Bundle(Encryption),
    /// Plain CSV of the decoded entries: no proofs, not encrypted.
    Csv,
    /// Plain JSON of the decoded entries: no proofs, not encrypted.
    Json,
}

/// Why a bundle cannot be made or trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// No usable recipient or passphrase.
    #[error("{0}")]
    Recipients(String),
    /// It could not be decrypted with what was given.
    #[error(
        "the bundle could not be decrypted: {0}; check you were given the right identity file or passphrase"
    )]
    Decrypt(String),
    /// It decrypted but is not a bundle this version reads.
    #[error("not a Gatehouse audit bundle: {0}")]
    Format(String),
    /// Its contents do not verify: the signature, a proof or an entry is wrong.
    #[error("ALARM: the bundle does not verify: {0}; do not rely on it")]
    Invalid(String),
    /// It verifies, but against a different log key than the one expected.
    #[error(
        "ALARM: the bundle is signed by log key {found}, not the expected {expected}; it is not from the log you trust"
    )]
    WrongKey {
        /// The key expected (pinned).
        expected: String,
        /// The key the bundle carries.
        found: String,
    },
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
}

/// The bundle's JSON body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// When it was made, RFC 3339 UTC.
    pub exported_at: String,
    /// What was selected, for the reader.
    pub selection: String,
    /// The log's verifier key (signed-note form).
    pub verifier: String,
    /// The signed checkpoint the proofs are against.
    pub checkpoint: String,
    /// The entries with their proofs.
    pub entries: Vec<BundleEntry>,
}

/// One exported entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleEntry {
    /// Position in the log.
    pub index: u64,
    /// The canonical leaf, base64.
    pub leaf: String,
    /// The inclusion proof's hashes, base64, leaf to root.
    pub proof: Vec<String>,
}

/// A bundle that verified.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// The verifier key it is signed with.
    pub verifier: String,
    /// The checkpoint's origin (the deployment).
    pub origin: String,
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// What was selected.
    pub selection: String,
    /// When it was made.
    pub exported_at: String,
    /// The entries, decoded, in log order.
    pub entries: Vec<Leaf>,
}

impl Cache {
    /// Writes the entries matching `filter` in `format` to a new file at `path`, readable by its
    /// owner only (0600); returns how many. An existing file is never overwritten, and a failed
    /// export leaves no file behind.
    pub async fn export_file(
        &self,
        filter: &Filter,
        selection: &str,
        format: ExportFormat,
        path: &std::path::Path,
    ) -> Result<u64, Error> {
        let file = crate::private::create_new_file(path).map_err(|e| Error::ExportFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut writer = std::io::BufWriter::new(file);
        let mut result = self.export(filter, selection, format, &mut writer).await;
        if let Ok(count) = result {
            result = writer
                .flush()
                .map(|()| count)
                .map_err(|e| Error::Cache(format!("writing the export: {e}")));
        }
        drop(writer);
        if result.is_err() {
            // Never leave half an export behind.
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// Writes the entries matching `filter` to `out` in `format`; returns how many.
    /// Everything is verified against the cache's checkpoint first.
    pub async fn export(
        &self,
        filter: &Filter,
        selection: &str,
        format: ExportFormat,
        out: &mut (dyn Write + Send),
    ) -> Result<u64, Error> {
        let indices = self.matching(filter).await?;
        let (note, verifier, proven) = self.proofs(&indices).await?;
        let count = proven.len() as u64;
        let io = |e: std::io::Error| Error::Cache(format!("writing the export: {e}"));
        match format {
            ExportFormat::Bundle(encryption) => {
                let bundle = Bundle {
                    format: FORMAT.into(),
                    exported_at: chrono::Utc::now()
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    selection: selection.into(),
                    verifier,
                    checkpoint: note,
                    entries: proven
                        .into_iter()
                        .map(|(index, leaf, path)| BundleEntry {
                            index,
                            leaf: STANDARD.encode(leaf),
                            proof: path.iter().map(Hash::to_string).collect(),
                        })
                        .collect(),
                };
                let json = serde_json::to_vec(&bundle).map_err(|e| Error::Cache(e.to_string()))?;
                seal(&json, encryption, out).map_err(|e| Error::Query(e.to_string()))?;
            }
            ExportFormat::Csv => {
                writeln!(
                    out,
                    "index,time,actor,actor_cert_sha256,action,object,outcome,outcome_code,request_id,details"
                )
                .map_err(io)?;
                for (index, bytes, _) in proven {
                    let leaf = decoded(index, &bytes)?;
                    let fields = [
                        index.to_string(),
                        leaf.time.to_string(),
                        leaf.actor.name.clone(),
                        hex::encode(leaf.actor.cert_fingerprint),
                        leaf.action.clone(),
                        leaf.object.clone(),
                        leaf.outcome.kind.as_str().to_owned(),
                        leaf.outcome.code.clone().unwrap_or_default(),
                        leaf.request_id.clone(),
                        leaf.details.as_str().to_owned(),
                    ];
                    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                    writeln!(out, "{}", line.join(",")).map_err(io)?;
                }
            }
            ExportFormat::Json => {
                let rows = proven
                    .into_iter()
                    .map(|(index, bytes, _)| decoded(index, &bytes).map(|l| leaf_json(&l)))
                    .collect::<Result<Vec<_>, _>>()?;
                serde_json::to_writer_pretty(&mut *out, &rows)
                    .map_err(|e| Error::Cache(e.to_string()))?;
                writeln!(out).map_err(io)?;
            }
        }
        out.flush().map_err(io)?;
        Ok(count)
    }
}

/// An entry as plain JSON (export and the CLI).
pub fn leaf_json(leaf: &Leaf) -> serde_json::Value {
    serde_json::json!({
        "index": leaf.index,
        "time": leaf.time.to_string(),
        "actor": leaf.actor.name,
        "actor_cert_sha256": hex::encode(leaf.actor.cert_fingerprint),
        "action": leaf.action,
        "object": leaf.object,
        "outcome": leaf.outcome.kind.as_str(),
        "outcome_code": leaf.outcome.code,
        "request_id": leaf.request_id,
        "details": leaf.details.to_value(),
        "commitments": leaf.commitments.keys().map(|t| t.as_str()).collect::<Vec<_>>(),
    })
}

fn decoded(index: u64, bytes: &[u8]) -> Result<Leaf, Error> {
    Leaf::decode(bytes).map_err(|e| {
        Error::Query(format!(
            "entry {index} is in the log but does not decode ({e}); export it as a bundle instead"
        ))
    })
}

/// RFC 4180 quoting, and a leading `'` for cells a spreadsheet would run as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn seal(plain: &[u8], encryption: Encryption, out: &mut dyn Write) -> Result<(), BundleError> {
    let encryptor = match encryption {
        Encryption::Passphrase(passphrase) => age::Encryptor::with_user_passphrase(passphrase),
        Encryption::Recipients(keys) => {
            if keys.is_empty() {
                return Err(BundleError::Recipients(
                    "name at least one recipient (an age1… key) or use a passphrase".into(),
                ));
            }
            let recipients = keys
                .iter()
                .map(|k| {
                    age::x25519::Recipient::from_str(k.trim()).map_err(|e| {
                        BundleError::Recipients(format!(
                            "{k:?} is not an age X25519 recipient (age1…): {e}"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| BundleError::Recipients(e.to_string()))?
        }
    };
    let io = |e: std::io::Error| BundleError::Io(format!("writing the bundle: {e}"));
    let armored =
        age::armor::ArmoredWriter::wrap_output(out, age::armor::Format::AsciiArmor).map_err(io)?;
    let mut writer = encryptor.wrap_output(armored).map_err(io)?;
    writer.write_all(plain).map_err(io)?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(io)?;
    Ok(())
}

/// How to open a bundle.
pub enum Opener {
    /// With the X25519 identities (`AGE-SECRET-KEY-1…` lines) of an identity file's text.
    Identities(String),
    /// With a passphrase.
    Passphrase(SecretString),
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Opener::Identities(_) => "Identities([redacted])",
            Opener::Passphrase(_) => "Passphrase([redacted])",
        })
    }
}

/// Decrypts and verifies a bundle offline. With `expected_verifier` (the reader's pinned log
/// key), a bundle signed by another key is refused.
pub fn open_bundle(
    sealed: &[u8],
    opener: Opener,
    expected_verifier: Option<&str>,
) -> Result<VerifiedBundle, BundleError> {
    verify_bundle(&decrypt_bundle(sealed, opener)?, expected_verifier)
}

/// Decrypts a bundle without verifying it: only for looking inside one that does not verify.
pub fn decrypt_bundle(sealed: &[u8], opener: Opener) -> Result<Bundle, BundleError> {
    let decrypt = |e: &dyn std::fmt::Display| BundleError::Decrypt(e.to_string());
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(sealed))
        .map_err(|e| decrypt(&e))?;
    let mut plain = Vec::new();
    let mut reader = match opener {
        Opener::Passphrase(passphrase) => {
            let identity = age::scrypt::Identity::new(passphrase);
            decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
        }
        Opener::Identities(text) => {
            let identities = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| {
                    age::x25519::Identity::from_str(l).map_err(|_| {
                        BundleError::Decrypt(
                            "the identity file has a line that is not an AGE-SECRET-KEY-1… key"
                                .into(),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if identities.is_empty() {
                return Err(BundleError::Decrypt(
                    "the identity file holds no AGE-SECRET-KEY-1… key".into(),
                ));
            }
            decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        }
    }
    .map_err(|e| decrypt(&e))?;
    reader.read_to_end(&mut plain).map_err(|e| decrypt(&e))?;
    serde_json::from_slice(&plain).map_err(|e| BundleError::Format(e.to_string()))
}

/// Verifies a decrypted bundle: signature, every proof, every leaf.
pub fn verify_bundle(
    bundle: &Bundle,
    expected_verifier: Option<&str>,
) -> Result<VerifiedBundle, BundleError> {
    let invalid = |m: String| BundleError::Invalid(m);
    if bundle.format != FORMAT {
        return Err(BundleError::Format(format!(
            "format {:?}, this version reads {FORMAT:?}",
            bundle.format
        )));
    }
    if let Some(expected) = expected_verifier
        && expected != bundle.verifier
    {
        return Err(BundleError::WrongKey {
            expected: expected.into(),
            found: bundle.verifier.clone(),
        });
    }
    let verifier = LogVerifier::from_str(&bundle.verifier)
        .map_err(|e| invalid(format!("its log key is unusable: {e}")))?;
    let checkpoint = verifier
        .verify(&bundle.checkpoint)
        .map_err(|e| invalid(format!("its checkpoint: {e}")))?
        .into_checkpoint();
    let mut entries = Vec::with_capacity(bundle.entries.len());
    let mut previous: Option<u64> = None;
    for entry in &bundle.entries {
        if previous.is_some_and(|p| p >= entry.index) {
            return Err(invalid(format!(
                "entry {} is out of order or repeated",
                entry.index
            )));
        }
        previous = Some(entry.index);
        let bytes = STANDARD
            .decode(&entry.leaf)
            .map_err(|e| invalid(format!("entry {} is not base64: {e}", entry.index)))?;
        let path = entry
            .proof
            .iter()
            .map(|h| Hash::from_str(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("entry {}'s proof: {e}", entry.index)))?;
        verify_inclusion(
            entry.index,
            checkpoint.size(),
            &Hash::leaf(&bytes),
            &path,
            &checkpoint.root(),
        )
        .map_err(|e| {
            invalid(format!(
                "entry {} is not in the signed log: {e}",
                entry.index
            ))
        })?;
        let leaf = Leaf::decode(&bytes)
            .map_err(|e| invalid(format!("entry {} does not decode: {e}", entry.index)))?;
        if leaf.index != entry.index {
            return Err(invalid(format!(
                "entry {} says it is entry {}",
                entry.index, leaf.index
            )));
        }
        entries.push(leaf);
    }
    Ok(VerifiedBundle {
        verifier: bundle.verifier.clone(),
        origin: checkpoint.origin().to_owned(),
        tree_size: checkpoint.size(),
        root: checkpoint.root(),
        selection: bundle.selection.clone(),
        exported_at: bundle.exported_at.clone(),
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::{Encryption, MIN_PASSPHRASE_CHARS, csv_field};

    #[test]
    fn a_bundle_passphrase_has_at_least_twelve_characters() {
        assert_eq!(MIN_PASSPHRASE_CHARS, 12);
        let short = Encryption::passphrase("elevenchars".to_owned().into());
        assert!(
            matches!(&short, Err(super::Error::Query(m)) if m.contains("at least 12")),
            "{short:?}"
        );
        assert!(
            Encryption::passphrase("ünïcödé-twelv".to_owned().into()).is_ok(),
            "characters count, not bytes"
        );
        assert!(Encryption::passphrase("twelve chars".to_owned().into()).is_ok());
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\"",
            "a cell a spreadsheet would evaluate is made text"
        );
        assert_eq!(csv_field("-1"), "'-1");
    }
}
