//! Scheduled transactions: ScheduleCreate, ScheduleSign and ScheduleDelete, the whitelist of what may
//! be scheduled, the inner transaction a schedule executes, and when its signatures suffice.

use hiero_sdk_proto::services::{
    self as pb, schedulable_transaction_body::Data as SData, transaction_body::Data,
};
use prost::Message as _;

use super::{Ctx, Effects, MAX_NAME_BYTES, Req, Signers, account, requirement};
use crate::Code;
use crate::ids::{self, NANOS_PER_SEC, Nanos, Num, TxId};
use crate::keys::Primitive;
use crate::state::{self, Schedule, ScheduleSig, State};

/// Short-term schedules expire after 30 minutes; long-term ones may be set up to 62 days ahead.
const SCHEDULE_DEFAULT_SECS: i64 = 1_800;
const SCHEDULE_MAX_SECS: i64 = 62 * 24 * 3_600;

/// Hedera's default scheduling whitelist, restricted to the types the simulator implements. TokenPause
/// and TokenUnpause are not on it.
fn schedulable(data: &SData) -> bool {
    matches!(
        data,
        SData::CryptoCreateAccount(_)
            | SData::CryptoUpdateAccount(_)
            | SData::CryptoTransfer(_)
            | SData::TokenCreation(_)
            | SData::TokenUpdate(_)
            | SData::TokenMint(_)
            | SData::TokenBurn(_)
            | SData::TokenAssociate(_)
            | SData::TokenDeletion(_)
            | SData::ScheduleDelete(_)
    )
}

/// The inner transaction's `data`, in the form a TransactionBody carries.
fn inner_data(data: &SData) -> Option<Data> {
    Some(match data.clone() {
        SData::CryptoCreateAccount(b) => Data::CryptoCreateAccount(b),
        SData::CryptoUpdateAccount(b) => Data::CryptoUpdateAccount(b),
        SData::CryptoTransfer(b) => Data::CryptoTransfer(b),
        SData::TokenCreation(b) => Data::TokenCreation(b),
        SData::TokenUpdate(b) => Data::TokenUpdate(b),
        SData::TokenMint(b) => Data::TokenMint(b),
        SData::TokenBurn(b) => Data::TokenBurn(b),
        SData::TokenAssociate(b) => Data::TokenAssociate(b),
        SData::TokenDeletion(b) => Data::TokenDeletion(b),
        SData::ScheduleDelete(b) => Data::ScheduleDelete(b),
        SData::TokenPause(b) => Data::TokenPause(b),
        SData::TokenUnpause(b) => Data::TokenUnpause(b),
        _ => return None,
    })
}

/// The TransactionBody a schedule executes.
pub fn inner_body(s: &Schedule) -> pb::TransactionBody {
    let inner = s.body();
    pb::TransactionBody {
        transaction_id: Some(s.scheduled_txid.to_proto()),
        node_account_id: Some(ids::account_id(crate::ledger::NODE_ACCOUNT)),
        transaction_fee: inner.transaction_fee,
        transaction_valid_duration: Some(pb::Duration { seconds: 120 }),
        memo: inner.memo.clone(),
        data: inner.data.as_ref().and_then(inner_data),
        ..Default::default()
    }
}

/// What the inner transaction needs: its payer's key and its own keys.
fn schedule_requirement(state: &State, s: &Schedule, consensus: Nanos) -> Result<Req, Code> {
    let body = inner_body(s);
    let data = body.data.as_ref().ok_or(Code::InvalidTransaction)?;
    let payer = state
        .accounts
        .get(&s.payer)
        .ok_or(Code::InvalidSchedulePayerId)?;
    Ok(Req::All(vec![
        Req::key(&payer.key),
        requirement(state, consensus, data)?,
    ]))
}

pub fn schedule_is_ready(state: &State, s: &Schedule) -> bool {
    schedule_requirement(state, s, s.expiration)
        .is_ok_and(|req| req.satisfied(&mut |p| s.signatories.contains(p)))
}

/// Adds the signatures in this transaction's map that belong to keys the inner transaction needs.
/// Returns how many were new.
fn collect_signatures(ctx: &mut Ctx<'_, '_>, num: Num, req: &Req) -> usize {
    let mut wanted = Vec::new();
    req.primitives(&mut wanted);
    let Signers::Map(sigs) = &mut ctx.signers else {
        return 0;
    };
    wanted.retain(|p| sigs.is_active(p));
    let fresh: Vec<(Primitive, Vec<u8>)> = wanted
        .into_iter()
        .map(|p| {
            let sig = sigs
                .pairs()
                .iter()
                .find(|pair| p.bytes().starts_with(&pair.pub_key_prefix))
                .and_then(|pair| pair.signature.as_ref())
                .map(|s| match s {
                    pb::signature_pair::Signature::Ed25519(b)
                    | pb::signature_pair::Signature::EcdsaSecp256k1(b) => b.clone(),
                    _ => Vec::new(),
                })
                .unwrap_or_default();
            (p, sig)
        })
        .collect();
    let consensus = ctx.consensus;
    let Some(s) = ctx.state.schedule_mut(num) else {
        return 0;
    };
    let mut added = 0;
    for (p, signature) in fresh {
        if !s.signatories.contains(&p) {
            s.signatories.push(p.clone());
            s.signatures.push(ScheduleSig {
                consensus,
                key: p,
                signature,
            });
            added += 1;
        }
    }
    added
}

pub(super) fn schedule_create(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::ScheduleCreateTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let inner = b
        .scheduled_transaction_body
        .as_ref()
        .ok_or(Code::InvalidTransaction)?;
    let data = inner.data.as_ref().ok_or(Code::InvalidTransaction)?;
    if !schedulable(data) {
        return Err(Code::ScheduledTransactionNotInWhitelist);
    }
    if b.memo.len() > MAX_NAME_BYTES {
        return Err(Code::MemoTooLong);
    }
    let payer = match &b.payer_account_id {
        Some(id) => account(ctx.state, Some(id), Code::InvalidSchedulePayerId)?.num,
        None => ctx.payer,
    };
    let expiration = match &b.expiration_time {
        Some(ts) => {
            let at = ids::nanos(ts);
            if at <= ctx.consensus {
                return Err(Code::ScheduleExpirationTimeMustBeHigherThanConsensusTime);
            }
            if at > ctx.consensus + Nanos::from(SCHEDULE_MAX_SECS) * NANOS_PER_SEC {
                return Err(Code::ScheduleExpirationTimeTooFarInFuture);
            }
            at
        }
        None => ctx.consensus + Nanos::from(SCHEDULE_DEFAULT_SECS) * NANOS_PER_SEC,
    };
    let body_bytes = inner.encode_to_vec();
    let admin_key = b.admin_key.as_ref().map(state::encode_key);
    let requested_expiry = b.expiration_time.as_ref().map(ids::nanos);
    let identical = ctx.state.schedules.values().find(|s| {
        s.executed.is_none()
            && s.deleted.is_none()
            && !s.expired
            && s.expiration > ctx.consensus
            && s.body == body_bytes
            && s.memo == b.memo
            && s.admin_key == admin_key
            && s.payer == payer
            && s.wait_for_expiry == b.wait_for_expiry
            && (requested_expiry.is_none() || requested_expiry == Some(s.expiration))
    });
    if let Some(s) = identical {
        fx.schedule = Some(s.num);
        fx.scheduled = Some(s.scheduled_txid);
        return Err(Code::IdenticalScheduleAlreadyCreated);
    }
    let num = ctx.state.new_num();
    let scheduled_txid = TxId {
        scheduled: true,
        ..ctx.txid
    };
    let schedule = Schedule {
        num,
        creator: ctx.payer,
        payer,
        admin_key,
        memo: b.memo.clone(),
        body: body_bytes,
        expiration,
        wait_for_expiry: b.wait_for_expiry,
        scheduled_txid,
        signatories: Vec::new(),
        signatures: Vec::new(),
        created: ctx.consensus,
        executed: None,
        deleted: None,
        expired: false,
    };
    // The inner transaction's keys must be resolvable now (its token and accounts must exist).
    let req = schedule_requirement(ctx.state, &schedule, ctx.consensus)
        .map_err(|_| Code::UnresolvableRequiredSigners)?;
    ctx.state.insert_schedule(schedule);
    collect_signatures(ctx, num, &req);
    fx.schedule = Some(num);
    fx.scheduled = Some(scheduled_txid);
    fx.entity = Some(ids::entity(num));
    finish_if_ready(ctx, num, fx);
    Ok(())
}

fn finish_if_ready(ctx: &mut Ctx<'_, '_>, num: Num, fx: &mut Effects) {
    if let Some(s) = ctx.state.schedules.get(&num)
        && !s.wait_for_expiry
        && schedule_is_ready(ctx.state, s)
    {
        fx.execute_schedule = Some(num);
    }
}

pub(super) fn schedule_sign(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::ScheduleSignTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let s = live_schedule(ctx.state, b.schedule_id.as_ref(), ctx.consensus)?.clone();
    let req = schedule_requirement(ctx.state, &s, ctx.consensus)?;
    if collect_signatures(ctx, s.num, &req) == 0 {
        return Err(Code::NoNewValidSignatures);
    }
    fx.scheduled = Some(s.scheduled_txid);
    fx.entity = Some(ids::entity(s.num));
    finish_if_ready(ctx, s.num, fx);
    Ok(())
}

pub(super) fn schedule_delete(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::ScheduleDeleteTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let num = live_schedule(ctx.state, b.schedule_id.as_ref(), ctx.consensus)?.num;
    let consensus = ctx.consensus;
    if let Some(s) = ctx.state.schedule_mut(num) {
        s.deleted = Some(consensus);
    }
    fx.entity = Some(ids::entity(num));
    Ok(())
}

pub(super) fn live_schedule<'a>(
    state: &'a State,
    id: Option<&pb::ScheduleId>,
    now: Nanos,
) -> Result<&'a Schedule, Code> {
    let s = ids::schedule_num(id)
        .and_then(|n| state.schedules.get(&n))
        .ok_or(Code::InvalidScheduleId)?;
    if s.expired
        || (s.executed.is_none()
            && s.deleted.is_none()
            && s.expiration <= now
            && !s.wait_for_expiry)
    {
        return Err(Code::InvalidScheduleId);
    }
    if s.executed.is_some() {
        return Err(Code::ScheduleAlreadyExecuted);
    }
    if s.deleted.is_some() {
        return Err(Code::ScheduleAlreadyDeleted);
    }
    Ok(s)
}
