//! Proposals' SQL. Reads go to the pool; every change runs in the caller's transaction, with its
//! audit entry.

use chrono::{DateTime, Utc};
use gatehouse_protocol::proposal::{
    Approval, KeySignature, Outcome, Payload, Proposal, ProposalKind, ProposalStatus, Rejection,
};

use crate::store::{Db, Error, Tx, on_pool, on_tx};

type Row = (
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

const COLUMNS: &str = "id, kind, status, proposer, created_at, deadline, threshold, eligible, payload, \
                       schedule_id, scheduled_txid, scheduled_body, outcome";

fn corrupt(id: &str, reason: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        fingerprint: format!("proposal {id}"),
        reason: reason.to_string(),
    }
}

fn from_row(row: Row) -> Result<Proposal, Error> {
    let (
        id,
        kind,
        status,
        proposer,
        created_at,
        deadline,
        threshold,
        eligible,
        payload,
        schedule_id,
        txid,
        body,
        outcome,
    ) = row;
    let kind =
        ProposalKind::from_name(&kind).ok_or_else(|| corrupt(&id, format!("kind {kind:?}")))?;
    let status = ProposalStatus::from_name(&status)
        .ok_or_else(|| corrupt(&id, format!("status {status:?}")))?;
    let eligible: Vec<String> = serde_json::from_str(&eligible).map_err(|e| corrupt(&id, e))?;
    let payload: Payload = serde_json::from_str(&payload).map_err(|e| corrupt(&id, e))?;
    let outcome: Option<Outcome> = outcome
        .map(|o| serde_json::from_str(&o))
        .transpose()
        .map_err(|e| corrupt(&id, e))?;
    Ok(Proposal {
        threshold: u32::try_from(threshold).map_err(|e| corrupt(&id, e))?,
        id,
        kind,
        status,
        proposer,
        created_at,
        deadline,
        eligible,
        payload,
        schedule_id,
        scheduled_transaction_id: txid,
        scheduled_body: body,
        approvals: Vec::new(),
        rejections: Vec::new(),
        key_signatures: Vec::new(),
        outcome,
    })
}

/// An approval as stored: officer, when, device, transaction id, relayed.
type ApprovalRow = (String, DateTime<Utc>, Option<String>, String, bool);

/// A new-key signature as stored: officer, when, device, transaction id, public key.
type KeySignatureRow = (String, DateTime<Utc>, Option<String>, String, String);

/// Adds the approvals and rejections of `proposals`.
async fn with_votes(db: &Db, mut proposals: Vec<Proposal>) -> Result<Vec<Proposal>, Error> {
    for p in &mut proposals {
        let approvals: Vec<ApprovalRow> = on_pool!(db, pool => {
            sqlx::query_as("SELECT officer, at, device, transaction_id, relayed FROM approvals WHERE proposal = $1 ORDER BY at, officer")
                .bind(&p.id)
                .fetch_all(pool)
                .await?
        });
        p.approvals = approvals
            .into_iter()
            .map(|(officer, at, device, transaction_id, relayed)| Approval {
                officer,
                at,
                device,
                transaction_id,
                relayed,
            })
            .collect();
        let rejections: Vec<(String, DateTime<Utc>, String)> = on_pool!(db, pool => {
            sqlx::query_as("SELECT officer, at, reason FROM rejections WHERE proposal = $1 ORDER BY at, officer")
                .bind(&p.id)
                .fetch_all(pool)
                .await?
        });
        p.rejections = rejections
            .into_iter()
            .map(|(officer, at, reason)| Rejection {
                officer,
                at,
                reason,
            })
            .collect();
        if p.payload.new_key_signatures().is_some() {
            let signatures: Vec<KeySignatureRow> = on_pool!(db, pool => {
                sqlx::query_as("SELECT officer, at, device, transaction_id, public_key FROM key_signatures WHERE proposal = $1 ORDER BY at, officer")
                    .bind(&p.id)
                    .fetch_all(pool)
                    .await?
            });
            p.key_signatures = signatures
                .into_iter()
                .map(
                    |(officer, at, device, transaction_id, public_key)| KeySignature {
                        officer,
                        public_key,
                        at,
                        device,
                        transaction_id,
                    },
                )
                .collect();
        }
    }
    Ok(proposals)
}

/// The proposal `id`, with its votes.
pub async fn get(db: &Db, id: &str) -> Result<Option<Proposal>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM proposals WHERE id = $1");
    let row: Option<Row> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
    let Some(row) = row else { return Ok(None) };
    Ok(with_votes(db, vec![from_row(row)?]).await?.pop())
}

/// Proposals, newest first, optionally only those with `status`; at most `limit`.
pub async fn list(
    db: &Db,
    status: Option<ProposalStatus>,
    limit: u32,
) -> Result<Vec<Proposal>, Error> {
    let rows: Vec<Row> = match status {
        Some(status) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM proposals WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2"
            );
            on_pool!(db, pool => sqlx::query_as(&sql).bind(status.as_str()).bind(i64::from(limit)).fetch_all(pool).await?)
        }
        None => {
            let sql =
                format!("SELECT {COLUMNS} FROM proposals ORDER BY created_at DESC, id LIMIT $1");
            on_pool!(db, pool => sqlx::query_as(&sql).bind(i64::from(limit)).fetch_all(pool).await?)
        }
    };
    let proposals = rows
        .into_iter()
        .map(from_row)
        .collect::<Result<Vec<_>, _>>()?;
    with_votes(db, proposals).await
}

/// Adds a new proposal.
pub async fn insert(tx: &mut Tx, p: &Proposal) -> Result<(), Error> {
    let sql = format!(
        "INSERT INTO proposals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    let eligible = serde_json::to_string(&p.eligible).map_err(|e| corrupt(&p.id, e))?;
    let payload = serde_json::to_string(&p.payload).map_err(|e| corrupt(&p.id, e))?;
    on_tx!(tx, conn => {
        sqlx::query(&sql)
            .bind(&p.id)
            .bind(p.kind.as_str())
            .bind(p.status.as_str())
            .bind(&p.proposer)
            .bind(p.created_at)
            .bind(p.deadline)
            .bind(i64::from(p.threshold))
            .bind(eligible)
            .bind(payload)
            .bind(&p.schedule_id)
            .bind(&p.scheduled_transaction_id)
            .bind(&p.scheduled_body)
            .bind(None::<String>)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Moves an open proposal to `status` with `outcome`. Returns false if it was not open (another
/// instance finished it first).
pub async fn finish(
    tx: &mut Tx,
    id: &str,
    status: ProposalStatus,
    outcome: Option<&Outcome>,
) -> Result<bool, Error> {
    const SQL: &str =
        "UPDATE proposals SET status = $1, outcome = $2 WHERE id = $3 AND status = 'open'";
    let outcome = outcome
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| corrupt(id, e))?;
    let done = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(status.as_str()).bind(outcome).bind(id).execute(&mut *conn).await?.rows_affected()
    });
    Ok(done == 1)
}

/// Records an approval request: the body handed to `officer` to sign, with the new key of theirs
/// it is for when it is a rotation's key signature (`None`: an approval).
pub async fn insert_request(
    tx: &mut Tx,
    id: &str,
    proposal: &str,
    officer: &str,
    body: &str,
    expires_at: DateTime<Utc>,
    signing_key: Option<&str>,
) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO approval_requests (id, proposal, officer, body, expires_at, created_at, signing_key) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(id)
            .bind(proposal)
            .bind(officer)
            .bind(body)
            .bind(expires_at)
            .bind(Utc::now())
            .bind(signing_key)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Takes (deletes and returns) `officer`'s approval request `id` for `proposal` made for
/// `signing_key` (`None`: an approval): a request is answered once, and only as what it was asked
/// for. Returns its body and expiry.
pub async fn take_request(
    tx: &mut Tx,
    id: &str,
    proposal: &str,
    officer: &str,
    signing_key: Option<&str>,
) -> Result<Option<(String, DateTime<Utc>)>, Error> {
    const SELECT: &str = "SELECT body, expires_at FROM approval_requests WHERE id = $1 AND proposal = $2 AND officer = $3 AND signing_key IS NOT DISTINCT FROM $4";
    const DELETE: &str = "DELETE FROM approval_requests WHERE id = $1";
    let row: Option<(String, DateTime<Utc>)> = on_tx!(tx, conn => {
        sqlx::query_as(SELECT).bind(id).bind(proposal).bind(officer).bind(signing_key).fetch_optional(&mut *conn).await?
    });
    if row.is_some() {
        on_tx!(tx, conn => sqlx::query(DELETE).bind(id).execute(&mut *conn).await?.rows_affected());
    }
    Ok(row)
}

/// Adds a signature's hash to the spent set. `Ok(false)` if it is there already.
pub async fn spend(
    tx: &mut Tx,
    signature_sha256: &str,
    proposal: &str,
    officer: &str,
) -> Result<bool, Error> {
    // ON CONFLICT, not a unique violation caught afterwards: on PostgreSQL a failed INSERT aborts
    // the transaction, and a caller that goes on (a break-glass record delivered twice is audited
    // in the same transaction) would then fail to write anything.
    const SQL: &str = "INSERT INTO spent_signatures (signature, proposal, officer, at) VALUES ($1, $2, $3, $4) ON CONFLICT (signature) DO NOTHING";
    let rows = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(signature_sha256)
            .bind(proposal)
            .bind(officer)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(rows == 1)
}

/// Records an approval the ledger accepted.
pub async fn insert_approval(tx: &mut Tx, proposal: &str, a: &Approval) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO approvals (proposal, officer, at, device, transaction_id, relayed) VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(proposal)
            .bind(&a.officer)
            .bind(a.at)
            .bind(&a.device)
            .bind(&a.transaction_id)
            .bind(a.relayed)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// An insert's outcome: `Ok(false)` when the row was there already (a unique key refused it).
fn inserted(result: Result<(), sqlx::Error>) -> Result<bool, Error> {
    match result {
        Ok(()) => Ok(true),
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(false),
        Err(e) => Err(Error::Sqlx(e)),
    }
}

/// Records a rotation's new key signing its schedule; `Ok(false)` if that key signed already.
pub async fn insert_key_signature(
    tx: &mut Tx,
    proposal: &str,
    s: &KeySignature,
) -> Result<bool, Error> {
    const SQL: &str = "INSERT INTO key_signatures (proposal, officer, public_key, at, device, transaction_id) VALUES ($1, $2, $3, $4, $5, $6)";
    let result = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(proposal)
            .bind(&s.officer)
            .bind(&s.public_key)
            .bind(s.at)
            .bind(&s.device)
            .bind(&s.transaction_id)
            .execute(&mut *conn)
            .await
            .map(drop)
    });
    inserted(result)
}

/// Moves the token's treasury to `account` (a treasury rotation executed).
pub async fn set_treasury(tx: &mut Tx, account: &str) -> Result<(), Error> {
    const SQL: &str = "UPDATE token SET treasury = $1 WHERE id = 1";
    on_tx!(tx, conn => sqlx::query(SQL).bind(account).execute(&mut *conn).await?.rows_affected());
    Ok(())
}

/// Records a rejection; `Ok(false)` if the officer rejected it already.
pub async fn insert_rejection(tx: &mut Tx, proposal: &str, r: &Rejection) -> Result<bool, Error> {
    const SQL: &str =
        "INSERT INTO rejections (proposal, officer, at, reason) VALUES ($1, $2, $3, $4)";
    let result = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(proposal)
            .bind(&r.officer)
            .bind(r.at)
            .bind(&r.reason)
            .execute(&mut *conn)
            .await
            .map(drop)
    });
    inserted(result)
}

/// The deployment's token: (token id, treasury account, creating proposal).
pub async fn token(db: &Db) -> Result<Option<(String, String, String)>, Error> {
    const SQL: &str = "SELECT token_id, treasury, proposal FROM token WHERE id = 1";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?))
}

/// Records the token its creation proposal made.
pub async fn set_token(
    tx: &mut Tx,
    token_id: &str,
    treasury: &str,
    proposal: &str,
) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO token (id, token_id, treasury, proposal, created_at) VALUES (1, $1, $2, $3, $4)";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(token_id)
            .bind(treasury)
            .bind(proposal)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Locks the open proposal `id` until `tx` ends (a no-op write: other instances approving it wait),
/// so approvals counted in `tx` stay counted. `Ok(false)` if it is not open.
pub async fn lock_open(tx: &mut Tx, id: &str) -> Result<bool, Error> {
    const SQL: &str = "UPDATE proposals SET status = status WHERE id = $1 AND status = 'open'";
    let locked =
        on_tx!(tx, conn => sqlx::query(SQL).bind(id).execute(&mut *conn).await?.rows_affected());
    Ok(locked == 1)
}

/// How many approvals `proposal` has, read in the transaction.
pub async fn count_approvals(tx: &mut Tx, proposal: &str) -> Result<u32, Error> {
    const SQL: &str = "SELECT COUNT(*) FROM approvals WHERE proposal = $1";
    let (n,): (i64,) =
        on_tx!(tx, conn => sqlx::query_as(SQL).bind(proposal).fetch_one(&mut *conn).await?);
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A recorded policy: (version, document, sha256, proposal, applied at).
pub type PolicyRow = (i64, String, String, String, DateTime<Utc>);

/// The newest policy.
pub async fn policy(db: &Db) -> Result<Option<PolicyRow>, Error> {
    const SQL: &str = "SELECT version, document, sha256, proposal, applied_at FROM policies ORDER BY version DESC LIMIT 1";
    Ok(on_pool!(db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?))
}

/// Records a policy put in force by `proposal`; a version recorded already (by another instance)
/// is left as it is.
pub async fn insert_policy(
    tx: &mut Tx,
    version: u32,
    document: &str,
    sha256: &str,
    proposal: &str,
) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO policies (version, document, sha256, proposal, applied_at) \
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(i64::from(version))
            .bind(document)
            .bind(sha256)
            .bind(proposal)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// A TokenPause or TokenUnpause body handed to a responder to sign.
#[derive(Debug, Clone)]
pub struct PauseRequest {
    /// The responder.
    pub responder: String,
    /// Their reason (a pause's) or the resume's.
    pub reason: String,
    /// The body, base64.
    pub body: String,
    /// When the ledger stops taking it.
    pub expires_at: DateTime<Utc>,
    /// The resume proposal an unpause carries out; `None` for a pause.
    pub proposal: Option<String>,
}

/// Records pause request `id`.
pub async fn insert_pause_request(tx: &mut Tx, id: &str, r: &PauseRequest) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO pause_requests (id, responder, reason, body, expires_at, proposal) \
                       VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(id)
            .bind(&r.responder)
            .bind(&r.reason)
            .bind(&r.body)
            .bind(r.expires_at)
            .bind(r.proposal.as_deref())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Takes (deletes and returns) `responder`'s pause request `id`: a request is answered once.
pub async fn take_pause_request(
    tx: &mut Tx,
    id: &str,
    responder: &str,
) -> Result<Option<PauseRequest>, Error> {
    const SELECT: &str = "SELECT responder, reason, body, expires_at, proposal FROM pause_requests WHERE id = $1 AND responder = $2";
    const DELETE: &str = "DELETE FROM pause_requests WHERE id = $1";
    type Row = (String, String, String, DateTime<Utc>, Option<String>);
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(SELECT).bind(id).bind(responder).fetch_optional(&mut *conn).await?
    });
    if row.is_some() {
        on_tx!(tx, conn => sqlx::query(DELETE).bind(id).execute(&mut *conn).await?.rows_affected());
    }
    Ok(row.map(
        |(responder, reason, body, expires_at, proposal)| PauseRequest {
            responder,
            reason,
            body,
            expires_at,
            proposal,
        },
    ))
}
