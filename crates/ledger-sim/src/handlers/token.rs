//! NFT tokens: TokenCreate, TokenUpdate (HIP-540 key rotation, treasury change), TokenMint, TokenBurn,
//! TokenAssociate, TokenDelete, TokenPause and TokenUnpause.

use std::collections::HashSet;

use hiero_sdk_proto::services as pb;

use super::{
    Ctx, DEFAULT_AUTO_RENEW_SECS, Effects, MAX_METADATA_BYTES, MAX_NAME_BYTES, Req, account, token,
};
use crate::Code;
use crate::ids::{self, NANOS_PER_SEC, Num};
use crate::keys;
use crate::state::{self, Nft, NftMove, Rel, State, Token, TokenKeys};

const TOKEN_TYPE_NFT: i32 = pb::TokenType::NonFungibleUnique as i32;
const SUPPLY_FINITE: i32 = pb::TokenSupplyType::Finite as i32;

fn check_text(s: &str, missing: Code, too_long: Code) -> Result<(), Code> {
    if s.is_empty() {
        return Err(missing);
    }
    if s.len() > MAX_NAME_BYTES {
        return Err(too_long);
    }
    if s.as_bytes().contains(&0) {
        return Err(Code::InvalidZeroByteInString);
    }
    Ok(())
}

/// (new key in the body, current key on the token, "never set" code, "invalid" code) for each key a
/// TokenUpdate can rotate besides the admin key.
type RoleKey<'a> = (Option<&'a pb::Key>, Option<&'a [u8]>, Code, Code);

fn role_keys<'a>(b: &'a pb::TokenUpdateTransactionBody, k: &'a TokenKeys) -> [RoleKey<'a>; 7] {
    [
        (
            b.kyc_key.as_ref(),
            k.kyc.as_deref(),
            Code::TokenHasNoKycKey,
            Code::InvalidKycKey,
        ),
        (
            b.freeze_key.as_ref(),
            k.freeze.as_deref(),
            Code::TokenHasNoFreezeKey,
            Code::InvalidFreezeKey,
        ),
        (
            b.wipe_key.as_ref(),
            k.wipe.as_deref(),
            Code::TokenHasNoWipeKey,
            Code::InvalidWipeKey,
        ),
        (
            b.supply_key.as_ref(),
            k.supply.as_deref(),
            Code::TokenHasNoSupplyKey,
            Code::InvalidSupplyKey,
        ),
        (
            b.fee_schedule_key.as_ref(),
            k.fee_schedule.as_deref(),
            Code::TokenHasNoFeeScheduleKey,
            Code::InvalidCustomFeeScheduleKey,
        ),
        (
            b.pause_key.as_ref(),
            k.pause.as_deref(),
            Code::TokenHasNoPauseKey,
            Code::InvalidPauseKey,
        ),
        (
            b.metadata_key.as_ref(),
            k.metadata.as_deref(),
            Code::TokenHasNoMetadataKey,
            Code::InvalidMetadataKey,
        ),
    ]
}

/// HIP-540: the admin key may change any key alone; a role key may change itself, and with full
/// validation (the default) the new key must sign too. The admin key changes only with the old and
/// the new admin key. A key the token was created without cannot be added. Anything besides role keys
/// and metadata needs the admin key; a token without one is immutable.
pub(super) fn token_update_requirement(
    state: &State,
    b: &pb::TokenUpdateTransactionBody,
) -> Result<Req, Code> {
    let t = token(state, b.token.as_ref())?;
    if t.paused {
        return Err(Code::TokenIsPaused);
    }
    let full_validation = b.key_verification_mode != pb::TokenKeyValidation::NoValidation as i32;
    let roles = role_keys(b, &t.keys);
    for (new, current, never_set, invalid) in &roles {
        if let Some(new) = new {
            if !keys::is_valid(new) && !keys::is_empty_list(new) {
                return Err(*invalid);
            }
            if current.is_none() {
                return Err(*never_set);
            }
        }
    }
    if let Some(k) = &b.admin_key
        && !keys::is_valid(k)
        && !keys::is_empty_list(k)
    {
        return Err(Code::InvalidAdminKey);
    }
    let other_fields = !b.name.is_empty()
        || !b.symbol.is_empty()
        || b.treasury.is_some()
        || b.admin_key.is_some()
        || b.auto_renew_account.is_some()
        || b.auto_renew_period.is_some()
        || b.memo.is_some();
    let admin = t.keys.admin.as_deref().map(Req::key);
    if other_fields && admin.is_none() {
        return Err(Code::TokenIsImmutable);
    }
    if let Some(m) = &b.metadata
        && m.len() > MAX_METADATA_BYTES
    {
        return Err(Code::MetadataTooLong);
    }

    // What the role keys alone would need: each changed key's old key, and its new key.
    let mut by_roles = Vec::new();
    for (new, current, ..) in &roles {
        if let (Some(new), Some(current)) = (new, current) {
            by_roles.push(Req::key(current));
            if full_validation && !keys::is_empty_list(new) {
                by_roles.push(Req::Key((*new).clone()));
            }
        }
    }
    if b.metadata.is_some() {
        match &t.keys.metadata {
            Some(k) => by_roles.push(Req::key(k)),
            None if admin.is_none() => return Err(Code::TokenIsImmutable),
            // Only the admin key can change the metadata of a token without a metadata key.
            None => by_roles.push(Req::Any(vec![])),
        }
    }

    let mut req = Vec::new();
    if other_fields {
        req.push(admin.clone().expect("checked above"));
    } else if !by_roles.is_empty() {
        req.push(match admin {
            Some(admin) => Req::Any(vec![admin, Req::All(by_roles)]),
            None => Req::All(by_roles),
        });
    } else if b.expiry.is_none() {
        // An update that changes nothing still needs the admin key, as Hedera's does.
        req.push(admin.ok_or(Code::TokenIsImmutable)?);
    }
    if let Some(k) = &b.admin_key
        && !keys::is_empty_list(k)
    {
        req.push(Req::Key(k.clone()));
    }
    if b.treasury.is_some() {
        let new_treasury = account(
            state,
            b.treasury.as_ref(),
            Code::InvalidTreasuryAccountForToken,
        )?;
        req.push(Req::key(&new_treasury.key));
    }
    Ok(Req::All(req))
}

pub(super) fn token_update(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::TokenUpdateTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let t = token(ctx.state, b.token.as_ref())?.clone();
    if !b.name.is_empty() {
        check_text(&b.name, Code::MissingTokenName, Code::TokenNameTooLong)?;
    }
    if !b.symbol.is_empty() {
        check_text(
            &b.symbol,
            Code::MissingTokenSymbol,
            Code::TokenSymbolTooLong,
        )?;
    }
    if b.memo.as_ref().is_some_and(|m| m.len() > MAX_NAME_BYTES) {
        return Err(Code::MemoTooLong);
    }
    if let Some(e) = &b.expiry
        && e.seconds < t.expiry_secs
    {
        return Err(Code::InvalidExpirationTime);
    }
    let mut treasury_move: Option<(Num, Num, u64)> = None;
    let mut new_assoc = None;
    if let Some(new) = ids::account_num(b.treasury.as_ref())
        && new != t.treasury
    {
        match ctx.state.rels.get(&(new, t.num)) {
            Some(rel) if rel.balance != 0 => {
                return Err(Code::TransactionRequiresZeroTokenBalances);
            }
            Some(_) => {}
            None => new_assoc = Some((new, t.num)),
        }
        let held = ctx
            .state
            .rels
            .get(&(t.treasury, t.num))
            .map_or(0, |r| r.balance);
        treasury_move = Some((t.treasury, new, held));
    }

    // Apply.
    if let Some((account, token)) = new_assoc {
        ctx.state.insert_rel(Rel {
            account,
            token,
            balance: 0,
            automatic: false,
            created: ctx.consensus,
        });
        fx.auto_associations.push((account, token));
    }
    if let Some((old, new, held)) = treasury_move {
        // NFTs the treasury holds are stored as held by "the treasury": they move with the role.
        let moved: Vec<i64> = ctx
            .state
            .nfts
            .range((t.num, i64::MIN)..=(t.num, i64::MAX))
            .filter(|(_, n)| n.owner.is_none() && !n.deleted)
            .map(|(k, _)| k.1)
            .collect();
        for serial in moved {
            if let Some(n) = ctx.state.nft_mut(t.num, serial) {
                n.modified = ctx.consensus;
            }
            fx.nft_moves.push(NftMove {
                token: t.num,
                serial,
                sender: Some(old),
                receiver: Some(new),
            });
        }
        if let Some(r) = ctx.state.rel_mut(old, t.num) {
            r.balance = 0;
        }
        if let Some(r) = ctx.state.rel_mut(new, t.num) {
            r.balance += held;
        }
        // An NFT the new treasury already owned explicitly is now "held by the treasury" too.
        let owned: Vec<i64> = ctx
            .state
            .nfts
            .range((t.num, i64::MIN)..=(t.num, i64::MAX))
            .filter(|(_, n)| n.owner == Some(new))
            .map(|(k, _)| k.1)
            .collect();
        for serial in owned {
            if let Some(n) = ctx.state.nft_mut(t.num, serial) {
                n.owner = None;
            }
        }
    }
    let consensus = ctx.consensus;
    let tm = ctx.state.token_mut(t.num).ok_or(Code::InvalidTokenId)?;
    let set = |slot: &mut Option<Vec<u8>>, new: Option<&pb::Key>| {
        if let Some(k) = new {
            *slot = if keys::is_empty_list(k) {
                None
            } else {
                Some(state::encode_key(k))
            };
        }
    };
    set(&mut tm.keys.admin, b.admin_key.as_ref());
    set(&mut tm.keys.kyc, b.kyc_key.as_ref());
    set(&mut tm.keys.freeze, b.freeze_key.as_ref());
    set(&mut tm.keys.wipe, b.wipe_key.as_ref());
    set(&mut tm.keys.supply, b.supply_key.as_ref());
    set(&mut tm.keys.fee_schedule, b.fee_schedule_key.as_ref());
    set(&mut tm.keys.pause, b.pause_key.as_ref());
    set(&mut tm.keys.metadata, b.metadata_key.as_ref());
    if !b.name.is_empty() {
        tm.name.clone_from(&b.name);
    }
    if !b.symbol.is_empty() {
        tm.symbol.clone_from(&b.symbol);
    }
    if let Some(m) = &b.memo {
        tm.memo.clone_from(m);
    }
    if let Some(m) = &b.metadata {
        tm.metadata.clone_from(m);
    }
    if let Some(e) = &b.expiry {
        tm.expiry_secs = e.seconds;
    }
    if let Some(p) = &b.auto_renew_period {
        tm.auto_renew_secs = p.seconds;
    }
    if let Some(a) = ids::account_num(b.auto_renew_account.as_ref()) {
        tm.auto_renew_account = Some(a);
    }
    if let Some((_, new, _)) = treasury_move {
        tm.treasury = new;
    }
    tm.modified = consensus;
    fx.entity = Some(ids::entity(t.num));
    Ok(())
}

pub(super) fn token_create(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::TokenCreateTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    check_text(&b.name, Code::MissingTokenName, Code::TokenNameTooLong)?;
    check_text(
        &b.symbol,
        Code::MissingTokenSymbol,
        Code::TokenSymbolTooLong,
    )?;
    if b.memo.len() > MAX_NAME_BYTES {
        return Err(Code::MemoTooLong);
    }
    if b.metadata.len() > MAX_METADATA_BYTES {
        return Err(Code::MetadataTooLong);
    }
    if b.token_type != TOKEN_TYPE_NFT {
        // Fungible tokens are not simulated (see the crate's README).
        return Err(Code::NotSupported);
    }
    if b.decimals != 0 {
        return Err(Code::InvalidTokenDecimals);
    }
    if b.initial_supply != 0 {
        return Err(Code::InvalidTokenInitialSupply);
    }
    if !b.custom_fees.is_empty() {
        return Err(Code::NotSupported);
    }
    if b.supply_type == SUPPLY_FINITE {
        if b.max_supply <= 0 {
            return Err(Code::InvalidTokenMaxSupply);
        }
    } else if b.max_supply != 0 {
        return Err(Code::InvalidTokenMaxSupply);
    }
    let checked = |k: &Option<pb::Key>, invalid: Code| -> Result<Option<Vec<u8>>, Code> {
        match k {
            Some(k) if keys::is_valid(k) => Ok(Some(state::encode_key(k))),
            Some(_) => Err(invalid),
            None => Ok(None),
        }
    };
    let token_keys = TokenKeys {
        admin: checked(&b.admin_key, Code::InvalidAdminKey)?,
        kyc: checked(&b.kyc_key, Code::InvalidKycKey)?,
        freeze: checked(&b.freeze_key, Code::InvalidFreezeKey)?,
        wipe: checked(&b.wipe_key, Code::InvalidWipeKey)?,
        supply: checked(&b.supply_key, Code::InvalidSupplyKey)?,
        fee_schedule: checked(&b.fee_schedule_key, Code::InvalidCustomFeeScheduleKey)?,
        pause: checked(&b.pause_key, Code::InvalidPauseKey)?,
        metadata: checked(&b.metadata_key, Code::InvalidMetadataKey)?,
    };
    if token_keys.supply.is_none() {
        return Err(Code::TokenHasNoSupplyKey);
    }
    if b.freeze_default && token_keys.freeze.is_none() {
        return Err(Code::TokenHasNoFreezeKey);
    }
    let treasury =
        ids::account_num(b.treasury.as_ref()).ok_or(Code::InvalidTreasuryAccountForToken)?;
    let num = ctx.state.new_num();
    let now_secs = (ctx.consensus / NANOS_PER_SEC) as i64;
    ctx.state.insert_token(Token {
        num,
        name: b.name.clone(),
        symbol: b.symbol.clone(),
        memo: b.memo.clone(),
        treasury,
        keys: token_keys,
        token_type: b.token_type,
        supply_type: b.supply_type,
        max_supply: b.max_supply,
        total_supply: 0,
        last_serial: 0,
        paused: false,
        deleted: false,
        freeze_default: b.freeze_default,
        metadata: b.metadata.clone(),
        auto_renew_account: ids::account_num(b.auto_renew_account.as_ref()),
        auto_renew_secs: b
            .auto_renew_period
            .as_ref()
            .map_or(DEFAULT_AUTO_RENEW_SECS, |d| d.seconds),
        expiry_secs: b
            .expiry
            .as_ref()
            .map_or(now_secs + DEFAULT_AUTO_RENEW_SECS, |e| e.seconds),
        created: ctx.consensus,
        modified: ctx.consensus,
    });
    ctx.state.insert_rel(Rel {
        account: treasury,
        token: num,
        balance: 0,
        automatic: false,
        created: ctx.consensus,
    });
    fx.token = Some(num);
    fx.entity = Some(ids::entity(num));
    fx.auto_associations.push((treasury, num));
    Ok(())
}

pub(super) fn token_mint(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::TokenMintTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let t = token(ctx.state, b.token.as_ref())?;
    if b.amount != 0 && !b.metadata.is_empty() {
        return Err(Code::InvalidTransactionBody);
    }
    if b.amount != 0 {
        return Err(Code::InvalidTokenMintAmount);
    }
    if b.metadata.is_empty() {
        return Err(Code::InvalidTokenMintMetadata);
    }
    let n = b.metadata.len() as u64;
    if t.supply_type == SUPPLY_FINITE && t.total_supply + n > t.max_supply as u64 {
        return Err(Code::TokenMaxSupplyReached);
    }
    let (num, treasury, first) = (t.num, t.treasury, t.last_serial + 1);
    let serials: Vec<i64> = (first..first + n as i64).collect();
    for (serial, metadata) in serials.iter().zip(&b.metadata) {
        ctx.state.insert_nft(Nft {
            token: num,
            serial: *serial,
            owner: None,
            metadata: metadata.clone(),
            created: ctx.consensus,
            modified: ctx.consensus,
            deleted: false,
        });
        fx.nft_moves.push(NftMove {
            token: num,
            serial: *serial,
            sender: None,
            receiver: Some(treasury),
        });
    }
    let tm = ctx.state.token_mut(num).ok_or(Code::InvalidTokenId)?;
    tm.last_serial += n as i64;
    tm.total_supply += n;
    tm.modified = ctx.consensus;
    fx.new_total_supply = tm.total_supply;
    if let Some(r) = ctx.state.rel_mut(treasury, num) {
        r.balance += n;
    }
    fx.serials = serials;
    fx.entity = Some(ids::entity(num));
    Ok(())
}

pub(super) fn token_burn(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::TokenBurnTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let t = token(ctx.state, b.token.as_ref())?;
    if b.amount != 0 {
        return Err(Code::InvalidTokenBurnAmount);
    }
    if b.serial_numbers.is_empty() {
        return Err(Code::InvalidTokenBurnMetadata);
    }
    let mut seen = HashSet::new();
    for s in &b.serial_numbers {
        let nft = ctx
            .state
            .nfts
            .get(&(t.num, *s))
            .filter(|n| !n.deleted)
            .ok_or(Code::InvalidNftId)?;
        if !seen.insert(*s) {
            return Err(Code::InvalidNftId);
        }
        if nft.owner.is_some() {
            return Err(Code::TreasuryMustOwnBurnedNft);
        }
    }
    let (num, treasury) = (t.num, t.treasury);
    for s in &b.serial_numbers {
        if let Some(n) = ctx.state.nft_mut(num, *s) {
            n.deleted = true;
            n.modified = ctx.consensus;
        }
        fx.nft_moves.push(NftMove {
            token: num,
            serial: *s,
            sender: Some(treasury),
            receiver: None,
        });
    }
    let count = b.serial_numbers.len() as u64;
    let tm = ctx.state.token_mut(num).ok_or(Code::InvalidTokenId)?;
    tm.total_supply -= count;
    tm.modified = ctx.consensus;
    fx.new_total_supply = tm.total_supply;
    if let Some(r) = ctx.state.rel_mut(treasury, num) {
        r.balance = r.balance.saturating_sub(count);
    }
    fx.entity = Some(ids::entity(num));
    Ok(())
}

pub(super) fn token_associate(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::TokenAssociateTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let acct = ids::account_num(b.account.as_ref()).ok_or(Code::InvalidAccountId)?;
    let mut seen = HashSet::new();
    for id in &b.tokens {
        let t = token(ctx.state, Some(id))?;
        if !seen.insert(t.num) {
            return Err(Code::TokenIdRepeatedInTokenList);
        }
        if ctx.state.rels.contains_key(&(acct, t.num)) {
            return Err(Code::TokenAlreadyAssociatedToAccount);
        }
    }
    for token in seen {
        ctx.state.insert_rel(Rel {
            account: acct,
            token,
            balance: 0,
            automatic: false,
            created: ctx.consensus,
        });
    }
    fx.entity = Some(ids::entity(acct));
    Ok(())
}

pub(super) fn token_delete(
    ctx: &mut Ctx<'_, '_>,
    b: &pb::TokenDeleteTransactionBody,
    fx: &mut Effects,
) -> Result<(), Code> {
    let num = token(ctx.state, b.token.as_ref())?.num;
    let consensus = ctx.consensus;
    let t = ctx.state.token_mut(num).ok_or(Code::InvalidTokenId)?;
    t.deleted = true;
    t.modified = consensus;
    fx.entity = Some(ids::entity(num));
    Ok(())
}

/// Pause or unpause; doing either twice is a successful no-op, as in Hedera.
pub(super) fn token_pause(
    ctx: &mut Ctx<'_, '_>,
    id: Option<&pb::TokenId>,
    pause: bool,
    fx: &mut Effects,
) -> Result<(), Code> {
    let num = token(ctx.state, id)?.num;
    let consensus = ctx.consensus;
    let t = ctx.state.token_mut(num).ok_or(Code::InvalidTokenId)?;
    if t.paused != pause {
        t.paused = pause;
        t.modified = consensus;
    }
    fx.entity = Some(ids::entity(num));
    Ok(())
}
