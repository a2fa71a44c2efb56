//! What each transaction type requires (keys, checked in Hedera's order) and what it does.
//!
//! Every type has a `requirement` step, Hedera's pre-handle: checks that need no signature and the keys
//! that must sign, as a [`Req`]; and an `apply` step: the remaining checks, then the change. Nothing is
//! changed until every check of a transaction has passed, so a failed transaction leaves no trace but
//! its fee and its record. The same requirement serves a scheduled transaction, whose signatures are
//! the schedule's collected signatories instead of one signature map.

use std::collections::{BTreeMap, HashSet};

use hiero_sdk_proto::services::{
    self as pb, schedulable_transaction_body::Data as SData, transaction_body::Data,
};
use prost::Message as _;

use crate::Code;
use crate::ids::{self, NANOS_PER_SEC, Nanos, Num, TxId};
use crate::keys::{self, Primitive, Signatures};
use crate::state::{
    self, Account, Nft, NftMove, Rel, Schedule, ScheduleSig, State, Token, TokenKeys,
};

pub const MAX_NFT_BATCH: usize = 10;
pub const MAX_METADATA_BYTES: usize = 100;
pub const MAX_NAME_BYTES: usize = 100;
/// Short-term schedules expire after 30 minutes; long-term ones may be set up to 62 days ahead.
pub const SCHEDULE_DEFAULT_SECS: i64 = 1_800;
pub const SCHEDULE_MAX_SECS: i64 = 62 * 24 * 3_600;
const DEFAULT_AUTO_RENEW_SECS: i64 = 7_776_000;
const TOKEN_TYPE_NFT: i32 = pb::TokenType::NonFungibleUnique as i32;
const SUPPLY_FINITE: i32 = pb::TokenSupplyType::Finite as i32;

/// Keys that must have signed.
#[derive(Debug, Clone)]
pub enum Req {
    None,
    Key(pb::Key),
    All(Vec<Req>),
    Any(Vec<Req>),
}

impl Req {
    fn key(bytes: &[u8]) -> Self {
        Self::Key(state::decode_key(bytes))
    }

    fn primitives(&self, out: &mut Vec<Primitive>) {
        match self {
            Self::None => {}
            Self::Key(k) => keys::primitives(k, out),
            Self::All(rs) | Self::Any(rs) => rs.iter().for_each(|r| r.primitives(out)),
        }
    }

    fn satisfied(&self, active: &mut dyn FnMut(&Primitive) -> bool) -> bool {
        match self {
            Self::None => true,
            Self::Key(k) => keys::is_satisfied(k, active),
            Self::All(rs) => rs.iter().all(|r| r.satisfied(active)),
            Self::Any(rs) => rs.iter().any(|r| r.satisfied(active)),
        }
    }
}

/// What a handled transaction produced, for its receipt and record.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub account: Option<Num>,
    pub token: Option<Num>,
    pub schedule: Option<Num>,
    pub scheduled: Option<TxId>,
    pub serials: Vec<i64>,
    pub new_total_supply: u64,
    pub hbar: Vec<(Num, i64)>,
    pub nft_moves: Vec<NftMove>,
    pub auto_associations: Vec<(Num, Num)>,
    pub entity: Option<String>,
    /// A schedule whose signatures became sufficient: execute it right after this transaction.
    pub execute_schedule: Option<Num>,
}

/// The context one transaction is handled in.
pub struct Ctx<'s, 'g> {
    pub state: &'s mut State,
    pub payer: Num,
    pub txid: TxId,
    pub consensus: Nanos,
    pub signers: Signers<'s, 'g>,
}

/// Whose signatures count for a transaction.
#[derive(Debug)]
pub enum Signers<'s, 'g> {
    /// A direct transaction: its own signature map, verified as keys ask.
    Map(&'s mut Signatures<'g>),
    /// A schedule's inner transaction: the signatories the schedule collected.
    Collected(&'s [Primitive]),
}

impl std::fmt::Debug for Ctx<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("txid", &self.txid)
            .field("consensus", &self.consensus)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_, '_> {
    fn is_active(&mut self, p: &Primitive) -> bool {
        match &mut self.signers {
            Signers::Map(sigs) => sigs.is_active(p),
            Signers::Collected(s) => s.contains(p),
        }
    }

    fn satisfies(&mut self, req: &Req) -> bool {
        req.satisfied(&mut |p| self.is_active(p))
    }

    fn require(&mut self, req: &Req) -> Result<(), Code> {
        if self.satisfies(req) {
            Ok(())
        } else {
            Err(Code::InvalidSignature)
        }
    }
}

pub fn is_supported(data: &Data) -> bool {
    matches!(
        data,
        Data::CryptoCreateAccount(_)
            | Data::CryptoUpdateAccount(_)
            | Data::CryptoTransfer(_)
            | Data::TokenCreation(_)
            | Data::TokenUpdate(_)
            | Data::TokenMint(_)
            | Data::TokenBurn(_)
            | Data::TokenAssociate(_)
            | Data::TokenDeletion(_)
            | Data::TokenPause(_)
            | Data::TokenUnpause(_)
            | Data::ScheduleCreate(_)
            | Data::ScheduleSign(_)
            | Data::ScheduleDelete(_)
    )
}

/// The mirror node's name for a transaction type.
pub fn mirror_name(data: &Data) -> &'static str {
    match data {
        Data::CryptoCreateAccount(_) => "CRYPTOCREATEACCOUNT",
        Data::CryptoUpdateAccount(_) => "CRYPTOUPDATEACCOUNT",
        Data::CryptoTransfer(_) => "CRYPTOTRANSFER",
        Data::TokenCreation(_) => "TOKENCREATION",
        Data::TokenUpdate(_) => "TOKENUPDATE",
        Data::TokenMint(_) => "TOKENMINT",
        Data::TokenBurn(_) => "TOKENBURN",
        Data::TokenAssociate(_) => "TOKENASSOCIATE",
        Data::TokenDeletion(_) => "TOKENDELETION",
        Data::TokenPause(_) => "TOKENPAUSE",
        Data::TokenUnpause(_) => "TOKENUNPAUSE",
        Data::ScheduleCreate(_) => "SCHEDULECREATE",
        Data::ScheduleSign(_) => "SCHEDULESIGN",
        Data::ScheduleDelete(_) => "SCHEDULEDELETE",
        _ => "UNKNOWN",
    }
}

/// Every type name [`mirror_name`] can give, for validating the mirror's `transactiontype` filter.
pub const MIRROR_NAMES: &[&str] = &[
    "CRYPTOCREATEACCOUNT",
    "CRYPTOUPDATEACCOUNT",
    "CRYPTOTRANSFER",
    "TOKENCREATION",
    "TOKENUPDATE",
    "TOKENMINT",
    "TOKENBURN",
    "TOKENASSOCIATE",
    "TOKENDELETION",
    "TOKENPAUSE",
    "TOKENUNPAUSE",
    "SCHEDULECREATE",
    "SCHEDULESIGN",
    "SCHEDULEDELETE",
];

/// A fixed exchange rate (1 hbar = 12 cents), since fees are flat.
pub fn exchange_rates() -> pb::ExchangeRateSet {
    let rate = pb::ExchangeRate {
        hbar_equiv: 1,
        cent_equiv: 12,
        expiration_time: Some(pb::TimestampSeconds {
            seconds: 4_102_444_800,
        }),
    };
    pb::ExchangeRateSet {
        current_rate: Some(rate),
        next_rate: Some(rate),
    }
}

/// Handles one transaction: requirement, signatures, then apply.
pub fn handle(ctx: &mut Ctx<'_, '_>, data: &Data, fx: &mut Effects) -> Result<(), Code> {
    let req = requirement(ctx.state, ctx.consensus, data)?;
    ctx.require(&req)?;
    match data {
        Data::CryptoCreateAccount(b) => crypto_create(ctx, b, fx),
        Data::CryptoUpdateAccount(b) => crypto_update(ctx, b, fx),
        Data::CryptoTransfer(b) => crypto_transfer(ctx, b, fx),
        Data::TokenCreation(b) => token_create(ctx, b, fx),
        Data::TokenUpdate(b) => token_update(ctx, b, fx),
        Data::TokenMint(b) => token_mint(ctx, b, fx),
        Data::TokenBurn(b) => token_burn(ctx, b, fx),
        Data::TokenAssociate(b) => token_associate(ctx, b, fx),
        Data::TokenDeletion(b) => token_delete(ctx, b, fx),
        Data::TokenPause(b) => token_pause(ctx, b.token.as_ref(), true, fx),
        Data::TokenUnpause(b) => token_pause(ctx, b.token.as_ref(), false, fx),
        Data::ScheduleCreate(b) => schedule_create(ctx, b, fx),
        Data::ScheduleSign(b) => schedule_sign(ctx, b, fx),
        Data::ScheduleDelete(b) => schedule_delete(ctx, b, fx),
        _ => Err(Code::NotSupported),
    }
}

fn account<'a>(
    state: &'a State,
    id: Option<&pb::AccountId>,
    missing: Code,
) -> Result<&'a Account, Code> {
    let a = ids::account_num(id)
        .and_then(|n| state.accounts.get(&n))
        .ok_or(missing)?;
    if a.deleted {
        Err(Code::AccountDeleted)
    } else {
        Ok(a)
    }
}

fn token<'a>(state: &'a State, id: Option<&pb::TokenId>) -> Result<&'a Token, Code> {
    let t = ids::token_num(id)
        .and_then(|n| state.tokens.get(&n))
        .ok_or(Code::InvalidTokenId)?;
    if t.deleted {
        Err(Code::TokenWasDeleted)
    } else {
        Ok(t)
    }
}

/// The keys a transaction needs beyond its payer's, with the checks Hedera makes before them.
pub fn requirement(state: &State, consensus: Nanos, data: &Data) -> Result<Req, Code> {
    Ok(match data {
        Data::CryptoCreateAccount(b) => {
            let key = b.key.as_ref().ok_or(Code::KeyRequired)?;
            if !keys::is_valid(key) {
                return Err(Code::BadEncoding);
            }
            if b.receiver_sig_required {
                Req::Key(key.clone())
            } else {
                Req::None
            }
        }
        Data::CryptoUpdateAccount(b) => {
            let a = account(
                state,
                b.account_id_to_update.as_ref(),
                Code::InvalidAccountId,
            )?;
            let mut req = vec![Req::key(&a.key)];
            if let Some(k) = &b.key {
                if !keys::is_valid(k) {
                    return Err(Code::BadEncoding);
                }
                req.push(Req::Key(k.clone()));
            }
            Req::All(req)
        }
        Data::CryptoTransfer(b) => transfer_requirement(state, b)?,
        Data::TokenCreation(b) => {
            let treasury = account(
                state,
                b.treasury.as_ref(),
                Code::InvalidTreasuryAccountForToken,
            )?;
            let mut req = vec![Req::key(&treasury.key)];
            if let Some(k) = &b.admin_key {
                if !keys::is_valid(k) {
                    return Err(Code::InvalidAdminKey);
                }
                req.push(Req::Key(k.clone()));
            }
            if b.auto_renew_account.is_some() {
                let a = account(
                    state,
                    b.auto_renew_account.as_ref(),
                    Code::InvalidAutorenewAccount,
                )?;
                req.push(Req::key(&a.key));
            }
            Req::All(req)
        }
        Data::TokenUpdate(b) => token_update_requirement(state, b)?,
        Data::TokenMint(b) => {
            if b.metadata.len() > MAX_NFT_BATCH {
                return Err(Code::BatchSizeLimitExceeded);
            }
            if b.metadata.iter().any(|m| m.len() > MAX_METADATA_BYTES) {
                return Err(Code::MetadataTooLong);
            }
            let t = token(state, b.token.as_ref())?;
            if t.paused {
                return Err(Code::TokenIsPaused);
            }
            Req::key(t.keys.supply.as_deref().ok_or(Code::TokenHasNoSupplyKey)?)
        }
        Data::TokenBurn(b) => {
            if b.serial_numbers.len() > MAX_NFT_BATCH {
                return Err(Code::BatchSizeLimitExceeded);
            }
            let t = token(state, b.token.as_ref())?;
            if t.paused {
                return Err(Code::TokenIsPaused);
            }
            Req::key(t.keys.supply.as_deref().ok_or(Code::TokenHasNoSupplyKey)?)
        }
        Data::TokenAssociate(b) => {
            Req::key(&account(state, b.account.as_ref(), Code::InvalidAccountId)?.key)
        }
        Data::TokenDeletion(b) => {
            let t = token(state, b.token.as_ref())?;
            Req::key(t.keys.admin.as_deref().ok_or(Code::TokenIsImmutable)?)
        }
        Data::TokenPause(pb::TokenPauseTransactionBody { token: id })
        | Data::TokenUnpause(pb::TokenUnpauseTransactionBody { token: id }) => {
            let t = token(state, id.as_ref())?;
            Req::key(t.keys.pause.as_deref().ok_or(Code::TokenHasNoPauseKey)?)
        }
        Data::ScheduleCreate(b) => match &b.admin_key {
            Some(k) if !keys::is_valid(k) => return Err(Code::InvalidAdminKey),
            Some(k) => Req::Key(k.clone()),
            None => Req::None,
        },
        Data::ScheduleSign(b) => {
            live_schedule(state, b.schedule_id.as_ref(), consensus)?;
            Req::None
        }
        Data::ScheduleDelete(b) => {
            let s = live_schedule(state, b.schedule_id.as_ref(), consensus)?;
            Req::key(s.admin_key.as_deref().ok_or(Code::ScheduleIsImmutable)?)
        }
        _ => return Err(Code::NotSupported),
    })
}

fn live_schedule<'a>(
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

// ---------------------------------------------------------------------------------------------------
// Crypto

fn crypto_create(
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

fn crypto_update(
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

fn transfer_requirement(state: &State, b: &pb::CryptoTransferTransactionBody) -> Result<Req, Code> {
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

fn crypto_transfer(
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

// ---------------------------------------------------------------------------------------------------
// Tokens

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
fn token_update_requirement(
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

fn token_update(
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

fn token_create(
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

fn token_mint(
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

fn token_burn(
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

fn token_associate(
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

fn token_delete(
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
fn token_pause(
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

// ---------------------------------------------------------------------------------------------------
// Schedules

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

fn schedule_create(
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

fn schedule_sign(
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

fn schedule_delete(
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
