//! Answers to HAPI queries. Free queries (balance, receipt, version) answer at once; paid ones answer
//! their cost to COST_ANSWER and take their payment, a CryptoTransfer to the node, before ANSWER_ONLY.

use hiero_sdk_proto::services::{self as pb, query::Query as Q, response::Response as R};

use crate::Code;
use crate::ids::{self, TxId};
use crate::keys::Primitive;
use crate::ledger::{Ledger, QUERY_COST_TINYBARS};
use crate::state::{self, State};

fn header(code: Code, response_type: i32, cost: u64) -> Option<pb::ResponseHeader> {
    Some(pb::ResponseHeader {
        node_transaction_precheck_code: code as i32,
        response_type,
        cost,
        state_proof: Vec::new(),
    })
}

/// The query's header, whichever kind it is.
fn query_header(q: &Q) -> Option<&pb::QueryHeader> {
    match q {
        Q::CryptogetAccountBalance(x) => x.header.as_ref(),
        Q::CryptoGetInfo(x) => x.header.as_ref(),
        Q::TransactionGetReceipt(x) => x.header.as_ref(),
        Q::TransactionGetRecord(x) => x.header.as_ref(),
        Q::TokenGetInfo(x) => x.header.as_ref(),
        Q::TokenGetNftInfo(x) => x.header.as_ref(),
        Q::ScheduleGetInfo(x) => x.header.as_ref(),
        Q::NetworkGetVersionInfo(x) => x.header.as_ref(),
        _ => None,
    }
}

fn is_free(q: &Q) -> bool {
    matches!(
        q,
        Q::CryptogetAccountBalance(_) | Q::TransactionGetReceipt(_) | Q::NetworkGetVersionInfo(_)
    )
}

/// Builds the typed response for `q` with the given header and answer.
macro_rules! respond {
    ($variant:ident, $ty:ident, $h:expr) => {
        pb::Response { response: Some(R::$variant(pb::$ty { header: $h, ..Default::default() })) }
    };
    ($variant:ident, $ty:ident, $h:expr, { $($field:ident : $val:expr),* $(,)? }) => {
        {
            // Some responses list every field; the update fills the rest where there are more.
            #[allow(clippy::needless_update)]
            let r = pb::Response { response: Some(R::$variant(pb::$ty { header: $h, $($field: $val,)* ..Default::default() })) };
            r
        }
    };
}

/// An answer of the right response type for `q` that carries only a header: a refusal, or a cost.
/// Without a query, the type is the version-info answer.
fn header_only(q: Option<&Q>, h: Option<pb::ResponseHeader>) -> pb::Response {
    match q {
        Some(Q::CryptogetAccountBalance(_)) => {
            respond!(CryptogetAccountBalance, CryptoGetAccountBalanceResponse, h)
        }
        Some(Q::CryptoGetInfo(_)) => respond!(CryptoGetInfo, CryptoGetInfoResponse, h),
        Some(Q::TransactionGetReceipt(_)) => {
            respond!(TransactionGetReceipt, TransactionGetReceiptResponse, h)
        }
        Some(Q::TransactionGetRecord(_)) => {
            respond!(TransactionGetRecord, TransactionGetRecordResponse, h)
        }
        Some(Q::TokenGetInfo(_)) => respond!(TokenGetInfo, TokenGetInfoResponse, h),
        Some(Q::TokenGetNftInfo(_)) => respond!(TokenGetNftInfo, TokenGetNftInfoResponse, h),
        Some(Q::ScheduleGetInfo(_)) => respond!(ScheduleGetInfo, ScheduleGetInfoResponse, h),
        _ => respond!(NetworkGetVersionInfo, NetworkGetVersionInfoResponse, h),
    }
}

fn refusal(q: &Q, code: Code, response_type: i32) -> pb::Response {
    header_only(Some(q), header(code, response_type, 0))
}

pub fn answer(ledger: &Ledger, query: &pb::Query) -> pb::Response {
    let Some(q) = &query.query else {
        return header_only(None, header(Code::InvalidQueryHeader, 0, 0));
    };
    let Some(h) = query_header(q) else {
        return refusal(q, Code::NotSupported, 0);
    };
    let response_type = h.response_type;
    let answer_only = pb::ResponseType::AnswerOnly as i32;
    let cost_only = pb::ResponseType::CostAnswer as i32;
    if response_type != answer_only && response_type != cost_only {
        return refusal(q, Code::NotSupported, response_type);
    }
    let cost = if is_free(q) { 0 } else { QUERY_COST_TINYBARS };
    if response_type == cost_only {
        return header_only(Some(q), header(Code::Ok, response_type, cost));
    }
    if cost > 0 {
        let paid = ledger.pay_for_query(h.payment.as_ref());
        if paid != Code::Ok {
            return refusal(q, paid, response_type);
        }
    }
    let ledger_id = ledger.ledger_id.clone();
    ledger.read(|state| match answer_from(state, q, ledger_id) {
        Ok(r) => r,
        Err(code) => refusal(q, code, response_type),
    })
}

fn key_list(ps: &[Primitive]) -> pb::KeyList {
    pb::KeyList {
        keys: ps.iter().map(Primitive::to_key).collect(),
    }
}

fn answer_from(state: &State, q: &Q, ledger_id: Vec<u8>) -> Result<pb::Response, Code> {
    let ok = header(Code::Ok, pb::ResponseType::AnswerOnly as i32, 0);
    Ok(match q {
        Q::CryptogetAccountBalance(x) => {
            use pb::crypto_get_account_balance_query::BalanceSource as B;
            let id = match &x.balance_source {
                Some(B::AccountId(id)) => Some(id),
                _ => None,
            };
            let a = ids::account_num(id)
                .and_then(|n| state.accounts.get(&n))
                .ok_or(Code::InvalidAccountId)?;
            if a.deleted {
                return Err(Code::AccountDeleted);
            }
            respond!(CryptogetAccountBalance, CryptoGetAccountBalanceResponse, ok, {
                account_id: Some(ids::account_id(a.num)),
                balance: a.balance,
            })
        }
        Q::CryptoGetInfo(x) => {
            let a = ids::account_num(x.account_id.as_ref())
                .and_then(|n| state.accounts.get(&n))
                .ok_or(Code::InvalidAccountId)?;
            let owned = state
                .rels
                .values()
                .filter(|r| r.account == a.num)
                .map(|r| r.balance as i64)
                .sum();
            respond!(CryptoGetInfo, CryptoGetInfoResponse, ok, {
                account_info: Some(pb::crypto_get_info_response::AccountInfo {
                    account_id: Some(ids::account_id(a.num)),
                    deleted: a.deleted,
                    key: Some(state::decode_key(&a.key)),
                    balance: a.balance,
                    receiver_sig_required: a.receiver_sig_required,
                    expiration_time: Some(pb::Timestamp { seconds: a.expiry_secs, nanos: 0 }),
                    auto_renew_period: Some(pb::Duration { seconds: a.auto_renew_secs }),
                    memo: a.memo.clone(),
                    owned_nfts: owned,
                    max_automatic_token_associations: a.max_auto_associations,
                    ledger_id,
                    ..Default::default()
                }),
            })
        }
        Q::TransactionGetReceipt(x) => {
            let id = x
                .transaction_id
                .as_ref()
                .and_then(TxId::from_proto)
                .ok_or(Code::InvalidTransactionId)?;
            let r = state.recent.get(&id).ok_or(Code::ReceiptNotFound)?;
            respond!(TransactionGetReceipt, TransactionGetReceiptResponse, ok, {
                receipt: r.record.receipt.clone(),
                duplicate_transaction_receipts: Vec::new(),
                child_transaction_receipts: Vec::new(),
            })
        }
        Q::TransactionGetRecord(x) => {
            let id = x
                .transaction_id
                .as_ref()
                .and_then(TxId::from_proto)
                .ok_or(Code::InvalidTransactionId)?;
            let r = state.recent.get(&id).ok_or(Code::RecordNotFound)?;
            respond!(TransactionGetRecord, TransactionGetRecordResponse, ok, {
                transaction_record: Some(r.record.clone()),
                duplicate_transaction_records: Vec::new(),
                child_transaction_records: Vec::new(),
            })
        }
        Q::TokenGetInfo(x) => {
            let t = ids::token_num(x.token.as_ref())
                .and_then(|n| state.tokens.get(&n))
                .ok_or(Code::InvalidTokenId)?;
            let key = |k: &Option<Vec<u8>>| k.as_deref().map(state::decode_key);
            let pause_status = match (&t.keys.pause, t.paused) {
                (None, _) => pb::TokenPauseStatus::PauseNotApplicable,
                (Some(_), true) => pb::TokenPauseStatus::Paused,
                (Some(_), false) => pb::TokenPauseStatus::Unpaused,
            };
            respond!(TokenGetInfo, TokenGetInfoResponse, ok, {
                token_info: Some(pb::TokenInfo {
                    token_id: Some(ids::token_id(t.num)),
                    name: t.name.clone(),
                    symbol: t.symbol.clone(),
                    decimals: 0,
                    total_supply: t.total_supply,
                    treasury: Some(ids::account_id(t.treasury)),
                    admin_key: key(&t.keys.admin),
                    kyc_key: key(&t.keys.kyc),
                    freeze_key: key(&t.keys.freeze),
                    wipe_key: key(&t.keys.wipe),
                    supply_key: key(&t.keys.supply),
                    fee_schedule_key: key(&t.keys.fee_schedule),
                    pause_key: key(&t.keys.pause),
                    metadata_key: key(&t.keys.metadata),
                    default_freeze_status: if t.keys.freeze.is_none() {
                        pb::TokenFreezeStatus::FreezeNotApplicable as i32
                    } else if t.freeze_default {
                        pb::TokenFreezeStatus::Frozen as i32
                    } else {
                        pb::TokenFreezeStatus::Unfrozen as i32
                    },
                    default_kyc_status: if t.keys.kyc.is_none() {
                        pb::TokenKycStatus::KycNotApplicable as i32
                    } else {
                        pb::TokenKycStatus::Revoked as i32
                    },
                    deleted: t.deleted,
                    auto_renew_account: t.auto_renew_account.map(ids::account_id),
                    auto_renew_period: Some(pb::Duration { seconds: t.auto_renew_secs }),
                    expiry: Some(pb::Timestamp { seconds: t.expiry_secs, nanos: 0 }),
                    memo: t.memo.clone(),
                    token_type: t.token_type,
                    supply_type: t.supply_type,
                    max_supply: t.max_supply,
                    custom_fees: Vec::new(),
                    pause_status: pause_status as i32,
                    ledger_id,
                    metadata: t.metadata.clone(),
                }),
            })
        }
        Q::TokenGetNftInfo(x) => {
            let id = x.nft_id.as_ref().ok_or(Code::InvalidNftId)?;
            let token = ids::token_num(id.token_id.as_ref()).ok_or(Code::InvalidTokenId)?;
            if !state.tokens.contains_key(&token) {
                return Err(Code::InvalidTokenId);
            }
            let n = state
                .nfts
                .get(&(token, id.serial_number))
                .filter(|n| !n.deleted)
                .ok_or(Code::InvalidNftId)?;
            respond!(TokenGetNftInfo, TokenGetNftInfoResponse, ok, {
                nft: Some(pb::TokenNftInfo {
                    nft_id: Some(pb::NftId { token_id: Some(ids::token_id(token)), serial_number: n.serial }),
                    account_id: state.nft_owner(n).map(ids::account_id),
                    creation_time: Some(ids::timestamp(n.created)),
                    metadata: n.metadata.clone(),
                    ledger_id,
                    spender_id: None,
                }),
            })
        }
        Q::ScheduleGetInfo(x) => {
            let s = ids::schedule_num(x.schedule_id.as_ref())
                .and_then(|n| state.schedules.get(&n))
                .ok_or(Code::InvalidScheduleId)?;
            if s.expired {
                return Err(Code::InvalidScheduleId);
            }
            let data = match (s.executed, s.deleted) {
                (Some(at), _) => Some(pb::schedule_info::Data::ExecutionTime(ids::timestamp(at))),
                (_, Some(at)) => Some(pb::schedule_info::Data::DeletionTime(ids::timestamp(at))),
                _ => None,
            };
            respond!(ScheduleGetInfo, ScheduleGetInfoResponse, ok, {
                schedule_info: Some(pb::ScheduleInfo {
                    schedule_id: Some(ids::schedule_id(s.num)),
                    expiration_time: Some(ids::timestamp(s.expiration)),
                    scheduled_transaction_body: Some(s.body()),
                    memo: s.memo.clone(),
                    admin_key: s.admin_key.as_deref().map(state::decode_key),
                    signers: Some(key_list(&s.signatories)),
                    creator_account_id: Some(ids::account_id(s.creator)),
                    payer_account_id: Some(ids::account_id(s.payer)),
                    scheduled_transaction_id: Some(s.scheduled_txid.to_proto()),
                    ledger_id,
                    wait_for_expiry: s.wait_for_expiry,
                    data,
                }),
            })
        }
        Q::NetworkGetVersionInfo(_) => {
            let v = pb::SemanticVersion {
                major: 0,
                minor: 56,
                patch: 0,
                ..Default::default()
            };
            respond!(NetworkGetVersionInfo, NetworkGetVersionInfoResponse, ok, {
                hapi_proto_version: Some(v.clone()),
                hedera_services_version: Some(v),
            })
        }
        _ => return Err(Code::NotSupported),
    })
}
