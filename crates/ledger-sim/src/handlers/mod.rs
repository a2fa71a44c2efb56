//! What each transaction type requires (keys, checked in Hedera's order) and what it does.
//!
//! Every type has a `requirement` step, Hedera's pre-handle: checks that need no signature and the keys
//! that must sign, as a [`Req`]; and an `apply` step: the remaining checks, then the change. Nothing is
//! changed until every check of a transaction has passed, so a failed transaction leaves no trace but
//! its fee and its record. The same requirement serves a scheduled transaction, whose signatures are
//! the schedule's collected signatories instead of one signature map.
//!
//! The transaction types live by service: [`crypto`] (accounts and transfers),
//! [`token`](mod@token) (NFT tokens) and [`schedule`] (scheduled transactions). This module holds
//! what they share: the dispatch ([`handle`]), the pre-handle [`requirement`] of every type, and the
//! [`Req`] / [`Ctx`] machinery that checks signatures.

mod crypto;
mod schedule;
mod token;

use hiero_sdk_proto::services::{self as pb, transaction_body::Data};

use crate::Code;
use crate::ids::{self, Nanos, Num, TxId};
use crate::keys::{self, Primitive, Signatures};
use crate::state::{self, Account, NftMove, State, Token};

use crypto::{crypto_create, crypto_transfer, crypto_update, transfer_requirement};
pub use schedule::{inner_body, schedule_is_ready};
use schedule::{live_schedule, schedule_create, schedule_delete, schedule_sign};
use token::{
    token_associate, token_burn, token_create, token_delete, token_mint, token_pause, token_update,
    token_update_requirement,
};

pub const MAX_NFT_BATCH: usize = 10;
pub const MAX_METADATA_BYTES: usize = 100;
pub const MAX_NAME_BYTES: usize = 100;
const DEFAULT_AUTO_RENEW_SECS: i64 = 7_776_000;

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
