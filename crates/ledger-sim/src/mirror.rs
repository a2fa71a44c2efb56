//! A subset of the mirror node's REST API (`/api/v1`), with the mirror node's field names and error
//! shape. Entities are read from the ledger's state; transactions from its SQLite store (a read-only
//! connection per request), so the history survives restarts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hiero_sdk_proto::services as pb;
use prost::Message as _;
use serde_json::{Value, json};

use crate::ids::{self, Nanos, Num, TxId};
use crate::keys;
use crate::ledger::Ledger;
use crate::state::{self, NftMove};
use crate::store;

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone)]
struct Mirror {
    ledger: Arc<Ledger>,
    dir: PathBuf,
}

pub fn router(ledger: Arc<Ledger>, dir: PathBuf) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/tokens/{id}", get(token))
        .route("/api/v1/tokens/{id}/nfts", get(nfts))
        .route("/api/v1/tokens/{id}/nfts/{serial}", get(nft))
        .route("/api/v1/transactions", get(transactions))
        .route("/api/v1/transactions/{id}", get(transaction))
        .route("/api/v1/schedules/{id}", get(schedule))
        .route("/api/v1/accounts/{id}", get(account))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "Not found: this simulator serves a subset of /api/v1 (see its README)",
            )
        })
        .with_state(Mirror { ledger, dir })
}

/// A refused request, answered with the mirror node's error body:
/// `{"_status":{"messages":[{"message":...}]}}`.
#[derive(Debug)]
struct Reject(StatusCode, String);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({ "_status": { "messages": [{ "message": self.1 }] } })),
        )
            .into_response()
    }
}

fn error(status: StatusCode, message: &str) -> Reject {
    Reject(status, message.to_owned())
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found").into_response()
}

fn invalid(param: &str) -> Reject {
    error(
        StatusCode::BAD_REQUEST,
        &format!("Invalid parameter: {param}"),
    )
}

/// Query parameters in order; a parameter may repeat (`timestamp=gt:..&timestamp=lt:..`).
fn params(raw: Option<String>) -> Result<Vec<(String, String)>, Reject> {
    let raw = raw.unwrap_or_default();
    let mut out = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| percent_decode(s).ok_or_else(|| invalid(k));
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn limit(params: &[(String, String)]) -> Result<usize, Reject> {
    match params.iter().rev().find(|(k, _)| k == "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid("limit")),
    }
}

fn descending(params: &[(String, String)]) -> Result<bool, Reject> {
    match params
        .iter()
        .rev()
        .find(|(k, _)| k == "order")
        .map(|(_, v)| v.as_str())
    {
        None | Some("desc") => Ok(true),
        Some("asc") => Ok(false),
        Some(_) => Err(invalid("order")),
    }
}

/// `op:value` (or a bare value, meaning `eq`).
fn operator(v: &str) -> (&str, &str) {
    match v.split_once(':') {
        Some((op @ ("eq" | "gt" | "gte" | "lt" | "lte" | "ne"), rest)) => (op, rest),
        _ => ("eq", v),
    }
}

fn sql_op(op: &str) -> &'static str {
    match op {
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        "lte" => "<=",
        "ne" => "!=",
        _ => "=",
    }
}

/// The mirror node's JSON for a key: a single key by type, anything else as its protobuf.
pub fn key_json(bytes: Option<&[u8]>) -> Value {
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    let key = state::decode_key(bytes);
    match keys::primitive(&key) {
        Some(p) => json!({ "_type": p.mirror_type(), "key": hex::encode(p.bytes()) }),
        None => json!({ "_type": "ProtobufEncoded", "key": hex::encode(key.encode_to_vec()) }),
    }
}

fn ts(n: Nanos) -> Value {
    Value::String(ids::mirror_timestamp(n))
}

fn opt_ts(n: Option<Nanos>) -> Value {
    n.map_or(Value::Null, ts)
}

async fn token(State(m): State<Mirror>, Path(id): Path<String>) -> Response {
    let Some(num) = ids::parse_entity(&id) else {
        return invalid("token.id").into_response();
    };
    let found = m.ledger.read(|s| {
        let t = s.tokens.get(&num)?;
        let k = |b: &Option<Vec<u8>>| key_json(b.as_deref());
        Some(json!({
            "token_id": ids::entity(t.num),
            "name": t.name,
            "symbol": t.symbol,
            "memo": t.memo,
            "type": if t.token_type == pb::TokenType::NonFungibleUnique as i32 { "NON_FUNGIBLE_UNIQUE" } else { "FUNGIBLE_COMMON" },
            "supply_type": if t.supply_type == pb::TokenSupplyType::Finite as i32 { "FINITE" } else { "INFINITE" },
            "decimals": "0",
            "initial_supply": "0",
            "total_supply": t.total_supply.to_string(),
            "max_supply": t.max_supply.to_string(),
            "treasury_account_id": ids::entity(t.treasury),
            "admin_key": k(&t.keys.admin),
            "kyc_key": k(&t.keys.kyc),
            "freeze_key": k(&t.keys.freeze),
            "wipe_key": k(&t.keys.wipe),
            "supply_key": k(&t.keys.supply),
            "fee_schedule_key": k(&t.keys.fee_schedule),
            "pause_key": k(&t.keys.pause),
            "metadata_key": k(&t.keys.metadata),
            "pause_status": match (&t.keys.pause, t.paused) {
                (None, _) => "NOT_APPLICABLE",
                (Some(_), true) => "PAUSED",
                (Some(_), false) => "UNPAUSED",
            },
            "freeze_default": t.freeze_default,
            "deleted": t.deleted,
            "metadata": B64.encode(&t.metadata),
            "auto_renew_account": t.auto_renew_account.map(ids::entity),
            "auto_renew_period": t.auto_renew_secs,
            "expiry_timestamp": i128::from(t.expiry_secs) * ids::NANOS_PER_SEC,
            "created_timestamp": ts(t.created),
            "modified_timestamp": ts(t.modified),
            "custom_fees": { "created_timestamp": ts(t.created), "fixed_fees": [], "royalty_fees": [] },
        }))
    });
    found.map_or_else(not_found, |v| Json(v).into_response())
}

fn nft_json(s: &state::State, n: &state::Nft) -> Value {
    json!({
        "token_id": ids::entity(n.token),
        "serial_number": n.serial,
        "account_id": if n.deleted { None } else { s.nft_owner(n).map(ids::entity) },
        "metadata": B64.encode(&n.metadata),
        "deleted": n.deleted,
        "created_timestamp": ts(n.created),
        "modified_timestamp": ts(n.modified),
        "spender": null,
        "delegating_spender": null,
    })
}

async fn nfts(
    State(m): State<Mirror>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(num) = ids::parse_entity(&id) else {
        return invalid("token.id").into_response();
    };
    let params = match params(raw) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let (limit, desc) = match (limit(&params), descending(&params)) {
        (Ok(l), Ok(d)) => (l, d),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let mut serial_filters: Vec<(String, i64)> = Vec::new();
    let mut account_filter = None;
    for (k, v) in &params {
        match k.as_str() {
            "serialnumber" => {
                let (op, val) = operator(v);
                let Ok(n) = val.parse::<i64>() else {
                    return invalid("serialnumber").into_response();
                };
                serial_filters.push((op.to_owned(), n));
            }
            "account.id" => match ids::parse_entity(v) {
                Some(a) => account_filter = Some(a),
                None => return invalid("account.id").into_response(),
            },
            "limit" | "order" => {}
            other => return invalid(other).into_response(),
        }
    }
    let body = m.ledger.read(|s| {
        if !s.tokens.contains_key(&num) {
            return None;
        }
        let mut all: Vec<&state::Nft> = s
            .nfts
            .range((num, i64::MIN)..=(num, i64::MAX))
            .map(|(_, n)| n)
            .filter(|n| {
                serial_filters
                    .iter()
                    .all(|(op, v)| compare(op, n.serial, *v))
            })
            .filter(|n| {
                account_filter.is_none() || (!n.deleted && s.nft_owner(n) == account_filter)
            })
            .collect();
        if desc {
            all.reverse();
        }
        let page: Vec<Value> = all.iter().take(limit).map(|n| nft_json(s, n)).collect();
        let next = (all.len() > limit).then(|| {
            let last = all[limit - 1].serial;
            let mut q = format!(
                "limit={limit}&order={}&serialnumber={}:{last}",
                if desc { "desc" } else { "asc" },
                if desc { "lt" } else { "gt" }
            );
            if let Some(a) = account_filter {
                q.push_str(&format!("&account.id={}", ids::entity(a)));
            }
            format!("/api/v1/tokens/{}/nfts?{q}", ids::entity(num))
        });
        Some(json!({ "nfts": page, "links": { "next": next } }))
    });
    body.map_or_else(not_found, |v| Json(v).into_response())
}

fn compare<T: PartialOrd>(op: &str, a: T, b: T) -> bool {
    match op {
        "gt" => a > b,
        "gte" => a >= b,
        "lt" => a < b,
        "lte" => a <= b,
        "ne" => a != b,
        _ => a == b,
    }
}

async fn nft(State(m): State<Mirror>, Path((id, serial)): Path<(String, String)>) -> Response {
    let Some(num) = ids::parse_entity(&id) else {
        return invalid("token.id").into_response();
    };
    let Ok(serial) = serial.parse::<i64>() else {
        return invalid("serialnumber").into_response();
    };
    m.ledger
        .read(|s| s.nfts.get(&(num, serial)).map(|n| nft_json(s, n)))
        .map_or_else(not_found, |v| Json(v).into_response())
}

async fn schedule(State(m): State<Mirror>, Path(id): Path<String>) -> Response {
    let Some(num) = ids::parse_entity(&id) else {
        return invalid("schedule.id").into_response();
    };
    let found = m.ledger.read(|st| {
        let s = st.schedules.get(&num)?;
        Some(json!({
            "schedule_id": ids::entity(s.num),
            "admin_key": key_json(s.admin_key.as_deref()),
            "consensus_timestamp": ts(s.created),
            "creator_account_id": ids::entity(s.creator),
            "payer_account_id": ids::entity(s.payer),
            "deleted": s.deleted.is_some(),
            "executed_timestamp": opt_ts(s.executed),
            "expiration_time": ts(s.expiration),
            "memo": s.memo,
            "wait_for_expiry": s.wait_for_expiry,
            "transaction_body": B64.encode(&s.body),
            "signatures": s.signatures.iter().map(|sig| json!({
                "consensus_timestamp": ts(sig.consensus),
                "public_key_prefix": B64.encode(sig.key.bytes()),
                "signature": B64.encode(&sig.signature),
                "type": sig.key.mirror_type(),
            })).collect::<Vec<_>>(),
        }))
    });
    found.map_or_else(not_found, |v| Json(v).into_response())
}

/// Filters for the transactions list.
#[derive(Debug, Default)]
struct TxFilter {
    types: Vec<String>,
    result: Option<bool>,
    account: Option<Num>,
    timestamps: Vec<(String, Nanos)>,
    txid: Option<TxId>,
    scheduled: Option<bool>,
}

fn tx_filter(params: &[(String, String)]) -> Result<TxFilter, Reject> {
    let mut f = TxFilter::default();
    for (k, v) in params {
        match k.as_str() {
            "transactiontype" => {
                let t = v.to_ascii_uppercase();
                if !crate::handlers::MIRROR_NAMES.contains(&t.as_str()) {
                    return Err(invalid("transactiontype"));
                }
                f.types.push(t);
            }
            "result" => {
                f.result = Some(match v.as_str() {
                    "success" => true,
                    "fail" => false,
                    _ => return Err(invalid("result")),
                })
            }
            "account.id" => {
                f.account =
                    Some(ids::parse_entity(operator(v).1).ok_or_else(|| invalid("account.id"))?)
            }
            "timestamp" => {
                let (op, val) = operator(v);
                f.timestamps.push((
                    op.to_owned(),
                    ids::parse_mirror_timestamp(val).ok_or_else(|| invalid("timestamp"))?,
                ));
            }
            "scheduled" => {
                f.scheduled = Some(match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid("scheduled")),
                })
            }
            "limit" | "order" | "nonce" => {}
            other => return Err(invalid(other)),
        }
    }
    Ok(f)
}

/// Runs the transactions query on a read-only connection; returns the rows as mirror JSON.
fn query_transactions(
    dir: &std::path::Path,
    f: &TxFilter,
    limit: usize,
    desc: bool,
) -> Result<Vec<(Nanos, Value)>, store::StoreError> {
    let conn = store::open_connection(dir)?;
    let mut sql = String::from(
        "SELECT t.consensus_ns, t.record, t.body, t.name, t.entity, t.nft_moves, t.result FROM transactions t",
    );
    let mut wheres: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(a) = f.account {
        sql.push_str(" JOIN transaction_accounts a ON a.consensus_ns = t.consensus_ns");
        wheres.push(format!("a.account = ?{}", args.len() + 1));
        args.push(Box::new(a as i64));
    }
    if !f.types.is_empty() {
        let marks: Vec<String> = f
            .types
            .iter()
            .map(|t| {
                args.push(Box::new(t.clone()));
                format!("?{}", args.len())
            })
            .collect();
        wheres.push(format!("t.name IN ({})", marks.join(",")));
    }
    match f.result {
        Some(true) => wheres.push("t.result = 'SUCCESS'".into()),
        Some(false) => wheres.push("t.result != 'SUCCESS'".into()),
        None => {}
    }
    for (op, at) in &f.timestamps {
        args.push(Box::new(store::ns_key(*at)));
        wheres.push(format!("t.consensus_ns {} ?{}", sql_op(op), args.len()));
    }
    if let Some(id) = f.txid {
        args.push(Box::new(id.mirror()));
        wheres.push(format!("t.txid = ?{}", args.len()));
    }
    if let Some(s) = f.scheduled {
        wheres.push(format!("t.scheduled = {}", i32::from(s)));
    }
    if !wheres.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&wheres.join(" AND "));
    }
    sql.push_str(if desc {
        " ORDER BY t.consensus_ns DESC"
    } else {
        " ORDER BY t.consensus_ns ASC"
    });
    sql.push_str(&format!(" LIMIT {}", limit + 1));
    let mut stmt = conn.prepare(&sql)?;
    let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(AsRef::as_ref).collect();
    let rows = stmt.query_map(params.as_slice(), |row| {
        let result: String = row.get(6)?;
        Ok((store::row_to_record(row)?, result))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (record, result) = row?;
        let record = record?;
        out.push((record.consensus, transaction_json(&record, &result)));
    }
    Ok(out)
}

fn transaction_json(r: &state::Record, result: &str) -> Value {
    let body = r.body.clone().unwrap_or_default();
    let rec = &r.record;
    let transfers: Vec<Value> = rec
        .transfer_list
        .iter()
        .flat_map(|l| &l.account_amounts)
        .map(|a| {
            json!({
                "account": ids::account_num(a.account_id.as_ref()).map(ids::entity),
                "amount": a.amount,
                "is_approval": false,
            })
        })
        .collect();
    let nft_transfers: Vec<Value> = r
        .nft_transfers
        .iter()
        .map(|m: &NftMove| {
            json!({
                "token_id": ids::entity(m.token),
                "serial_number": m.serial,
                "sender_account_id": m.sender.map(ids::entity),
                "receiver_account_id": m.receiver.map(ids::entity),
                "is_approval": false,
            })
        })
        .collect();
    json!({
        "consensus_timestamp": ts(r.consensus),
        "transaction_id": r.txid.mirror(),
        "valid_start_timestamp": ts(r.txid.valid_start),
        "valid_duration_seconds": body.transaction_valid_duration.map(|d| d.seconds.to_string()),
        "max_fee": body.transaction_fee.to_string(),
        "charged_tx_fee": rec.transaction_fee,
        "name": r.name,
        "result": result,
        "scheduled": r.txid.scheduled,
        "nonce": r.txid.nonce,
        "entity_id": r.entity,
        "memo_base64": B64.encode(rec.memo.as_bytes()),
        "node": ids::entity(crate::ledger::NODE_ACCOUNT),
        "transaction_hash": B64.encode(&rec.transaction_hash),
        "parent_consensus_timestamp": null,
        "bytes": null,
        "transfers": transfers,
        "token_transfers": [],
        "nft_transfers": nft_transfers,
        "staking_reward_transfers": [],
    })
}

async fn run_query(
    m: &Mirror,
    f: TxFilter,
    limit: usize,
    desc: bool,
) -> Result<Vec<(Nanos, Value)>, Reject> {
    let dir = m.dir.clone();
    match tokio::task::spawn_blocking(move || query_transactions(&dir, &f, limit, desc)).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "mirror query failed");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the ledger database could not be read; see the simulator's log",
            ))
        }
        Err(_) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the query task failed",
        )),
    }
}

async fn transactions(State(m): State<Mirror>, RawQuery(raw): RawQuery) -> Response {
    let params = match params(raw) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let (limit, desc, filter) = match (limit(&params), descending(&params), tx_filter(&params)) {
        (Ok(l), Ok(d), Ok(f)) => (l, d, f),
        (Err(r), ..) | (_, Err(r), _) | (.., Err(r)) => return r.into_response(),
    };
    let mut rows = match run_query(&m, filter, limit, desc).await {
        Ok(rows) => rows,
        Err(r) => return r.into_response(),
    };
    let next = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        let last = rows.last().map_or(0, |r| r.0);
        let mut kept: Vec<String> = params
            .iter()
            .filter(|(k, v)| {
                k != "limit"
                    && k != "order"
                    && !(k == "timestamp" && is_bound_on_paging_side(v, desc))
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        kept.push(format!("limit={limit}"));
        kept.push(format!("order={}", if desc { "desc" } else { "asc" }));
        kept.push(format!(
            "timestamp={}:{}",
            if desc { "lt" } else { "gt" },
            ids::mirror_timestamp(last)
        ));
        format!("/api/v1/transactions?{}", kept.join("&"))
    });
    let list: Vec<Value> = rows.into_iter().map(|r| r.1).collect();
    Json(json!({ "transactions": list, "links": { "next": next } })).into_response()
}

/// Whether a timestamp filter bounds the side the next page moves towards (it is replaced).
fn is_bound_on_paging_side(v: &str, desc: bool) -> bool {
    let (op, _) = operator(v);
    if desc {
        matches!(op, "lt" | "lte")
    } else {
        matches!(op, "gt" | "gte")
    }
}

async fn transaction(
    State(m): State<Mirror>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(txid) = TxId::parse(&id) else {
        return invalid("transactionId").into_response();
    };
    let params = match params(raw) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let mut filter = TxFilter {
        txid: Some(txid),
        ..TxFilter::default()
    };
    for (k, v) in &params {
        match (k.as_str(), v.as_str()) {
            ("scheduled", "true") => filter.scheduled = Some(true),
            ("scheduled", "false") => filter.scheduled = Some(false),
            ("nonce", n) if n.parse::<i32>().is_ok() => {}
            (other, _) => return invalid(other).into_response(),
        }
    }
    match run_query(&m, filter, MAX_LIMIT, false).await {
        Ok(rows) if rows.is_empty() => not_found(),
        Ok(rows) => {
            Json(json!({ "transactions": rows.into_iter().map(|r| r.1).collect::<Vec<_>>() }))
                .into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn account(State(m): State<Mirror>, Path(id): Path<String>) -> Response {
    let Some(num) = ids::parse_entity(&id) else {
        return invalid("account.id").into_response();
    };
    let now = m.ledger.clock.now();
    let found = m.ledger.read(|s| {
        let a = s.accounts.get(&num)?;
        let mut tokens: HashMap<Num, u64> = HashMap::new();
        for r in s.rels.values().filter(|r| r.account == num) {
            tokens.insert(r.token, r.balance);
        }
        let mut tokens: Vec<(Num, u64)> = tokens.into_iter().collect();
        tokens.sort_unstable();
        Some(json!({
            "account": ids::entity(a.num),
            "alias": null,
            "auto_renew_period": a.auto_renew_secs,
            "balance": {
                "balance": a.balance,
                "timestamp": ts(now),
                "tokens": tokens.iter().map(|(t, b)| json!({ "token_id": ids::entity(*t), "balance": b })).collect::<Vec<_>>(),
            },
            "created_timestamp": ts(a.created),
            "deleted": a.deleted,
            "ethereum_nonce": 0,
            "evm_address": format!("0x{:040x}", a.num),
            "expiry_timestamp": ts(i128::from(a.expiry_secs.min(i64::MAX / 4)) * ids::NANOS_PER_SEC),
            "key": key_json(Some(&a.key)),
            "max_automatic_token_associations": a.max_auto_associations,
            "memo": a.memo,
            "receiver_sig_required": a.receiver_sig_required,
        }))
    });
    let Some(mut body) = found else {
        return not_found();
    };
    let filter = TxFilter {
        account: Some(num),
        ..TxFilter::default()
    };
    match run_query(&m, filter, DEFAULT_LIMIT, true).await {
        Ok(mut rows) => {
            let more = rows.len() > DEFAULT_LIMIT;
            rows.truncate(DEFAULT_LIMIT);
            let next = more.then(|| {
                let last = rows.last().map_or(0, |r| r.0);
                format!(
                    "/api/v1/transactions?account.id={}&timestamp=lt:{}",
                    ids::entity(num),
                    ids::mirror_timestamp(last)
                )
            });
            body["transactions"] = Value::Array(rows.into_iter().map(|r| r.1).collect());
            body["links"] = json!({ "next": next });
            Json(body).into_response()
        }
        Err(r) => r.into_response(),
    }
}
