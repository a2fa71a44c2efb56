//! Accounts and hbar: CryptoCreate, CryptoUpdate and CryptoTransfer (hbar and NFTs).

use std::collections::{BTreeMap, HashSet};

use hiero_sdk_proto::services as pb;

use super::{Ctx, DEFAULT_AUTO_RENEW_SECS, Effects, MAX_NAME_BYTES, Req, account, token};
use crate::Code;
use crate::ids::{self, NANOS_PER_SEC, Num};
use crate::state::{self, Account, NftMove, Rel, State};

pub(super) fn crypto_create(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::CryptoCreateTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    if b.memo.len() > MAX_NAME_BYTES {
        return Err(Code::MemoTooLong);
    }
    if !b.alias.is_empty() {
        return Err(Code::NotSupported);
    }
    if b.max_automatic_token_associations < -1 {
        return Err(Code::InvalidMaxAutoAssociations);
    }
    let payer_balance = ctx.state.accounts.get(&ctx.payer).map_or(0, |a| a.balance);
    if payer_balance
        < b.initial_balance
            .saturating_add(crate::ledger::FLAT_FEE_TINYBARS)
    {
        return Err(Code::InsufficientPayerBalance);
    }
    let key = b.key.as_ref().ok_or(Code::KeyRequired)?;
    let num = ctx.state.new_num();
    if let Some(p) = ctx.state.account_mut(ctx.payer) {
        p.balance -= b.initial_balance;
    }
    ctx.state.insert_account(Account {
        num,
        key: state::encode_key(key),
        balance: b.initial_balance,
        receiver_sig_required: b.receiver_sig_required,
        memo: b.memo.clone(),
        max_auto_associations: b.max_automatic_token_associations,
        auto_renew_secs: b
            .auto_renew_period
            .as_ref()
            .map_or(DEFAULT_AUTO_RENEW_SECS, |d| d.seconds),
        expiry_secs: (ctx.consensus / NANOS_PER_SEC) as i64 + DEFAULT_AUTO_RENEW_SECS,
        created: ctx.consensus,
        deleted: false,
    });
    fx.account = Some(num);
    fx.entity = Some(ids::entity(num));
    if b.initial_balance > 0 {
        fx.hbar.extend([
            (ctx.payer, -(b.initial_balance as i64)),
            (num, b.initial_balance as i64),
        ]);
    }
    Ok(())
}

pub(super) fn crypto_update(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::CryptoUpdateTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    use pb::crypto_update_transaction_body::ReceiverSigRequiredField as R;
    if b.memo.as_ref().is_some_and(|m| m.len() > MAX_NAME_BYTES) {
        return Err(Code::MemoTooLong);
    }
    if b.max_automatic_token_associations.is_some_and(|m| m < -1) {
        return Err(Code::InvalidMaxAutoAssociations);
    }
    let num = ids::account_num(b.account_id_to_update.as_ref()).ok_or(Code::InvalidAccountId)?;
    let a = ctx.state.account_mut(num).ok_or(Code::InvalidAccountId)?;
    if let Some(k) = &b.key {
        a.key = state::encode_key(k);
    }
    if let Some(m) = &b.memo {
        a.memo.clone_from(m);
    }
    if let Some(R::ReceiverSigRequired(v) | R::ReceiverSigRequiredWrapper(v)) =
        b.receiver_sig_required_field
    {
        a.receiver_sig_required = v;
    }
    if let Some(m) = b.max_automatic_token_associations {
        a.max_auto_associations = m;
    }
    fx.entity = Some(ids::entity(num));
    Ok(())
}

pub(super) fn transfer_requirement(
    state: &State,
    b: &pb::CryptoTransferTransactionBody,
) -> Result<Req, Code> {
    let mut req = Vec::new();
    let amounts = b
        .transfers
        .as_ref()
        .map(|t| t.account_amounts.as_slice())
        .unwrap_or_default();
    let mut seen = HashSet::new();
    let mut sum: i128 = 0;
    for aa in amounts {
        if aa.is_approval {
            return Err(Code::NotSupported);
        }
        let a = account(state, aa.account_id.as_ref(), Code::InvalidAccountId)?;
        if !seen.insert(a.num) {
            return Err(Code::AccountRepeatedInAccountAmounts);
        }
        sum += i128::from(aa.amount);
        if aa.amount < 0 || (aa.amount > 0 && a.receiver_sig_required) {
            req.push(Req::key(&a.key));
        }
    }
    if sum != 0 {
        return Err(Code::InvalidAccountAmounts);
    }
    for list in &b.token_transfers {
        token(state, list.token.as_ref())?;
        if !list.transfers.is_empty() {
            // Fungible tokens are not simulated.
            return Err(Code::NotSupported);
        }
        for nft in &list.nft_transfers {
            if nft.is_approval {
                return Err(Code::NotSupported);
            }
            let sender = account(
                state,
                nft.sender_account_id.as_ref(),
                Code::InvalidAccountId,
            )?;
            let receiver = account(
                state,
                nft.receiver_account_id.as_ref(),
                Code::InvalidAccountId,
            )?;
            if sender.num == receiver.num {
                return Err(Code::AccountRepeatedInAccountAmounts);
            }
            req.push(Req::key(&sender.key));
            if receiver.receiver_sig_required {
                req.push(Req::key(&receiver.key));
            }
        }
    }
    Ok(Req::All(req))
}

pub(super) fn crypto_transfer(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::CryptoTransferTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let state = &*ctx.state;
    let amounts = b
        .transfers
        .as_ref()
        .map(|t| t.account_amounts.as_slice())
        .unwrap_or_default();
    let mut hbar = Vec::new();
    for aa in amounts {
        let num = ids::account_num(aa.account_id.as_ref()).ok_or(Code::InvalidAccountId)?;
        let balance = state.accounts.get(&num).map_or(0, |a| a.balance);
        let mut available = balance;
        if num == ctx.payer {
            available = available.saturating_sub(crate::ledger::FLAT_FEE_TINYBARS);
        }
        if aa.amount < 0 && available < aa.amount.unsigned_abs() {
            return Err(Code::InsufficientAccountBalance);
        }
        hbar.push((num, aa.amount));
    }
    // NFT moves, checked in order against the ownership they leave behind.
    let mut owners: BTreeMap<(Num, i64), Num> = BTreeMap::new();
    let mut moves = Vec::new();
    let mut new_assoc: Vec<(Num, Num)> = Vec::new();
    let mut auto_used: BTreeMap<Num, i32> = BTreeMap::new();
    for list in &b.token_transfers {
        let t = token(state, list.token.as_ref())?;
        if t.paused {
            return Err(Code::TokenIsPaused);
        }
        for n in &list.nft_transfers {
            let sender =
                ids::account_num(n.sender_account_id.as_ref()).ok_or(Code::InvalidAccountId)?;
            let receiver =
                ids::account_num(n.receiver_account_id.as_ref()).ok_or(Code::InvalidAccountId)?;
            let nft = state
                .nfts
                .get(&(t.num, n.serial_number))
                .filter(|n| !n.deleted)
                .ok_or(Code::InvalidNftId)?;
            let owner = owners
                .get(&(t.num, n.serial_number))
                .copied()
                .or_else(|| state.nft_owner(nft));
            if owner != Some(sender) {
                return Err(Code::SenderDoesNotOwnNftSerialNo);
            }
            if !state.rels.contains_key(&(receiver, t.num))
                && !new_assoc.contains(&(receiver, t.num))
            {
                let r = state
                    .accounts
                    .get(&receiver)
                    .ok_or(Code::InvalidAccountId)?;
                let existing = state
                    .rels
                    .values()
                    .filter(|rel| rel.account == receiver && rel.automatic)
                    .count() as i32;
                let used = auto_used.entry(receiver).or_insert(existing);
                if r.max_auto_associations == -1 || *used < r.max_auto_associations {
                    *used += 1;
                    new_assoc.push((receiver, t.num));
                } else {
                    return Err(Code::TokenNotAssociatedToAccount);
                }
            }
            owners.insert((t.num, n.serial_number), receiver);
            moves.push(NftMove {
                token: t.num,
                serial: n.serial_number,
                sender: Some(sender),
                receiver: Some(receiver),
            });
        }
    }
    // Apply.
    for (num, amount) in &hbar {
        if let Some(a) = ctx.state.account_mut(*num) {
            a.balance = a.balance.saturating_add_signed(*amount);
        }
    }
    for &(account, token) in &new_assoc {
        ctx.state.insert_rel(Rel {
            account,
            token,
            balance: 0,
            automatic: true,
            created: ctx.consensus,
        });
    }
    for m in &moves {
        let treasury = ctx.state.tokens.get(&m.token).map(|t| t.treasury);
        let receiver = m.receiver.unwrap_or_default();
        if let Some(nft) = ctx.state.nft_mut(m.token, m.serial) {
            nft.owner = if Some(receiver) == treasury {
                None
            } else {
                Some(receiver)
            };
            nft.modified = ctx.consensus;
        }
        if let Some(r) = ctx.state.rel_mut(m.sender.unwrap_or_default(), m.token) {
            r.balance = r.balance.saturating_sub(1);
        }
        if let Some(r) = ctx.state.rel_mut(receiver, m.token) {
            r.balance += 1;
        }
    }
    fx.hbar.extend(hbar);
    fx.nft_moves = moves;
    fx.auto_associations = new_assoc;
    Ok(())
}
