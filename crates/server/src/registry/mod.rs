//! The officer registry: who may connect and with which roles, keyed by the SHA-256 of their
//! client certificate (invariant 5). Every change commits together with its audit entry.

pub mod api;
pub mod enrol;
pub mod store;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::{Fingerprint, Role};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use sha2::{Digest, Sha256};

use crate::audit::{self, Action, AuditLog, Personal};
use crate::store::Db;

/// One officer registry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    /// SHA-256 of the officer's client certificate.
    pub fingerprint: Fingerprint,
    /// Registered name.
    pub name: String,
    /// Granted roles, sorted and without duplicates.
    pub roles: Vec<Role>,
    /// An administrator switched access off.
    pub disabled: bool,
    /// When the entry was created.
    pub created_at: DateTime<Utc>,
    /// SHA-256 of the certificate's public key (SubjectPublicKeyInfo), where recorded.
    pub public_key: Option<Fingerprint>,
}

/// A certificate as the registry keys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate {
    /// SHA-256 of the DER certificate.
    pub fingerprint: Fingerprint,
    /// SHA-256 of its SubjectPublicKeyInfo: the same key in two certificates has one value.
    pub public_key: Fingerprint,
}

impl Certificate {
    /// From a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let (_, parsed) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::Certificate(e.to_string()))?;
        Ok(Self {
            fingerprint: Fingerprint::from_digest(Sha256::digest(der).into()),
            public_key: Fingerprint::from_digest(Sha256::digest(parsed.public_key().raw).into()),
        })
    }

    /// From the first certificate in a PEM text.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| Error::Certificate(e.to_string()))?;
        Self::from_der(&der)
    }
}

/// A registry change that did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No entry by that name.
    #[error("no registry entry named {0:?}; see `registry list`")]
    NotFound(String),
    /// The name is taken.
    #[error(
        "{0:?} is registered already; pass --replace to give them this certificate instead (their old one stops working)"
    )]
    NameTaken(String),
    /// The certificate could not be read.
    #[error("the certificate cannot be read: {0}")]
    Certificate(String),
    /// Storage refused (a duplicate certificate or public key, a database failure).
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The change could not be audited, so it was not made.
    #[error("the change was not made because it could not be audited: {0}")]
    Audit(#[from] audit::Error),
    /// The step the caller asked to run before commit failed, so nothing was changed.
    #[error("{0}")]
    Before(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(crate::store::Error::Sqlx(e))
    }
}

/// Who asks for a registry change, as the audit log records them.
#[derive(Debug, Clone)]
pub struct ChangedBy {
    /// The actor.
    pub actor: audit::Actor,
    /// The request (or command) id.
    pub request_id: String,
}

impl ChangedBy {
    /// An operator at this machine's command line (`gatehouse-server registry ...`).
    pub fn local_operator() -> Self {
        let operator = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
        Self {
            actor: audit::Actor {
                name: format!("local:{operator}"),
                fingerprint: Fingerprint::from_digest([0; 32]),
            },
            request_id: format!("cli-{}", std::process::id()),
        }
    }
}

/// Registry changes, each committed with its audit entry.
#[derive(Debug, Clone)]
pub struct Registry {
    db: Db,
    audit: AuditLog,
}

impl Registry {
    /// Over `db`, auditing to `audit`.
    pub fn new(db: Db, audit: AuditLog) -> Self {
        Self { db, audit }
    }

    /// Registers `certificate` under `name` with `roles`, running `before_commit` (e.g. writing
    /// the certificate file) inside the transaction: if anything fails, nothing is registered
    /// and nothing is logged as done.
    pub async fn enrol(
        &self,
        by: &ChangedBy,
        certificate: &Certificate,
        name: &str,
        roles: &[Role],
        before_commit: impl FnOnce() -> Result<(), String>,
    ) -> Result<Officer, Error> {
        let mut tx = self.db.begin().await?;
        if store::by_name(&mut tx, name).await?.is_some() {
            return Err(Error::NameTaken(name.to_owned()));
        }
        let officer = store::insert(&mut tx, certificate, name, roles).await?;
        let roles: Vec<_> = officer.roles.iter().map(|r| r.as_str()).collect();
        let entry = change(
            by,
            Action::RegistryEnrol,
            &certificate.fingerprint,
            serde_json::json!({ "name": name, "roles": roles, "public_key": certificate.public_key.to_hex() }),
        );
        let recorded = self.audit.record(&mut tx, entry).await?;
        before_commit().map_err(Error::Before)?;
        tx.commit().await?;
        self.audit.sequenced(recorded).await?;
        Ok(officer)
    }

    /// Gives the registered `name` a new certificate and revokes the old one, keeping roles.
    pub async fn replace_certificate(
        &self,
        by: &ChangedBy,
        certificate: &Certificate,
        name: &str,
        before_commit: impl FnOnce() -> Result<(), String>,
    ) -> Result<Officer, Error> {
        let mut tx = self.db.begin().await?;
        let old = store::by_name(&mut tx, name)
            .await?
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        store::replace_certificate(&mut tx, &old, certificate).await?;
        let entry = change(
            by,
            Action::RegistryReplaceCertificate,
            &certificate.fingerprint,
            serde_json::json!({
                "name": name,
                "replaces": old.fingerprint.to_hex(),
                "public_key": certificate.public_key.to_hex(),
            }),
        );
        let recorded = self.audit.record(&mut tx, entry).await?;
        before_commit().map_err(Error::Before)?;
        tx.commit().await?;
        self.audit.sequenced(recorded).await?;
        Ok(Officer {
            fingerprint: certificate.fingerprint,
            public_key: Some(certificate.public_key),
            ..old
        })
    }

    /// Switches `name`'s access off (or back on).
    pub async fn set_disabled(
        &self,
        by: &ChangedBy,
        name: &str,
        disabled: bool,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let officer = store::by_name(&mut tx, name)
            .await?
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        store::set_disabled(&mut tx, name, disabled).await?;
        let action = if disabled {
            Action::RegistryDisable
        } else {
            Action::RegistryEnable
        };
        let entry = change(
            by,
            action,
            &officer.fingerprint,
            serde_json::json!({ "name": name }),
        );
        let recorded = self.audit.record(&mut tx, entry).await?;
        tx.commit().await?;
        self.audit.sequenced(recorded).await?;
        Ok(())
    }
}

fn change(
    by: &ChangedBy,
    action: Action,
    fingerprint: &Fingerprint,
    details: serde_json::Value,
) -> audit::Entry {
    audit::Entry {
        actor: by.actor.clone(),
        action,
        object: format!("officer:{fingerprint}"),
        outcome: OutcomeKind::Success,
        code: None::<Cow<'static, str>>,
        request_id: by.request_id.clone(),
        details,
        personal: Personal::default(),
    }
}

/// The revoked certificates the TLS verifier refuses, refreshed from the database.
#[derive(Debug, Clone, Default)]
pub struct Revoked(Arc<RwLock<HashSet<Fingerprint>>>);

impl Revoked {
    /// Whether `fingerprint` is revoked.
    pub fn contains(&self, fingerprint: &Fingerprint) -> bool {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(fingerprint)
    }

    /// Replaces the list with what the database holds.
    pub async fn refresh(&self, db: &Db) -> Result<(), crate::store::Error> {
        let list: HashSet<Fingerprint> = store::revoked(db).await?.into_iter().collect();
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = list;
        Ok(())
    }

    /// Refreshes every `period` until `closed` is set (instances learn of revocations made
    /// elsewhere within one period).
    pub async fn keep_fresh(
        self,
        db: Db,
        period: std::time::Duration,
        mut closed: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                _ = closed.changed() => return,
            }
            if let Err(error) = self.refresh(&db).await {
                tracing::warn!(%error, "the revocation list could not be refreshed; keeping the last one");
            }
        }
    }
}
