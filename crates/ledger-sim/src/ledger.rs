//! The ledger: ingest (precheck), consensus (handle), schedules, and the clock. One lock around the
//! state; each handled transaction is written to the store before its submitter hears OK, so an
//! acknowledged transaction survives a crash of the process.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hiero_sdk_proto::services::{self as pb, transaction_body::Data};
use prost::Message as _;
use sha2::Digest as _;

use crate::Code;
use crate::handlers::{self, Ctx, Effects, Signers};
use crate::ids::{self, NANOS_PER_SEC, Nanos, Num, TxId};
use crate::keys::Signatures;
use crate::state::{self, Record, State};
use crate::store::{Store, StoreError};

/// Hedera's limit on a signed transaction's size.
pub const MAX_TRANSACTION_BYTES: usize = 6_144;
pub const MIN_VALID_DURATION_SECS: i64 = 15;
pub const MAX_VALID_DURATION_SECS: i64 = 180;
/// A transaction must still be valid this long after it arrives (Hedera's `minValidityBufferSecs`).
pub const VALIDITY_BUFFER_SECS: i64 = 10;
pub const MAX_MEMO_BYTES: usize = 100;
/// The simulator's documented fee simplification: every transaction costs this, charged to its payer
/// and credited to the node, whatever it does.
pub const FLAT_FEE_TINYBARS: u64 = 100_000;
/// Every paid query costs this, paid by its payment transaction.
pub const QUERY_COST_TINYBARS: u64 = 10_000;
/// The node this network has, and the account its fees go to.
pub const NODE_ACCOUNT: Num = 3;

/// Wall-clock time, optionally moved forward by tests. Moving it is refused unless the simulator was
/// started with the virtual clock enabled.
#[derive(Debug)]
pub struct Clock {
    offset_nanos: AtomicI64,
    virtual_enabled: bool,
}

impl Clock {
    pub(crate) fn new(virtual_enabled: bool) -> Self {
        Self {
            offset_nanos: AtomicI64::new(0),
            virtual_enabled,
        }
    }

    /// Nanoseconds since the Unix epoch: the wall clock plus however far it was advanced.
    pub fn now(&self) -> Nanos {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as Nanos);
        wall + Nanos::from(self.offset_nanos.load(Ordering::SeqCst))
    }

    /// Moves the clock forward; refused unless the simulator was started with the virtual clock.
    /// [`Simulator::advance_clock`](crate::Simulator::advance_clock) also processes what expires.
    pub fn advance(&self, by: std::time::Duration) -> Result<(), ClockError> {
        if !self.virtual_enabled {
            return Err(ClockError::NotEnabled);
        }
        let by = i64::try_from(by.as_nanos()).map_err(|_| ClockError::TooFar)?;
        self.offset_nanos.fetch_add(by, Ordering::SeqCst);
        Ok(())
    }
}

/// Why [`Clock::advance`] refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the virtual clock is off: start the simulator with it enabled (tests only)")]
    NotEnabled,
    #[error("cannot move the clock that far in one step")]
    TooFar,
}

/// The ledger: the state and its store behind one lock, and the clock consensus times come from.
#[derive(Debug)]
pub struct Ledger {
    inner: Mutex<Inner>,
    /// Consensus times and the transaction time box are read from it.
    pub clock: Clock,
    pub(crate) ledger_id: Vec<u8>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    store: Store,
}

/// A transaction as ingest sees it after decoding.
struct Parsed {
    txid: TxId,
    body: pb::TransactionBody,
    signed: pb::SignedTransaction,
    hash: Vec<u8>,
}

impl Ledger {
    pub(crate) fn new(state: State, store: Store, clock: Clock) -> Self {
        Self {
            inner: Mutex::new(Inner { state, store }),
            clock,
            ledger_id: vec![0x03],
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock would leave no half-applied change behind (handlers validate
        // before they mutate), so the state is still the last consistent one.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the state under the lock.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock().state)
    }

    /// Submits a transaction: precheck, then (on OK) consensus and persistence. Returns the precheck
    /// code, as the node's `TransactionResponse` carries it.
    pub fn submit(&self, tx: &pb::Transaction) -> Code {
        let mut inner = self.lock();
        let now = self.clock.now();
        inner.expire_schedules(now);
        let code = match inner.ingest(tx, now) {
            Ok(()) => Code::Ok,
            Err(code) => code,
        };
        if let Err(e) = inner.persist() {
            tracing::error!(error = %e, "could not write the ledger state; refusing transactions until restart");
            return Code::PlatformNotActive;
        }
        code
    }

    /// Processes schedules that reached their expiry. Called before each transaction and by a timer.
    pub(crate) fn tick(&self) {
        let mut inner = self.lock();
        let now = self.clock.now();
        inner.expire_schedules(now);
        if let Err(e) = inner.persist() {
            tracing::error!(error = %e, "could not write the ledger state");
        }
    }

    /// Runs the payment of a paid query through ingest after checking it pays the node enough.
    pub(crate) fn pay_for_query(&self, payment: Option<&pb::Transaction>) -> Code {
        let Some(payment) = payment else {
            return Code::InsufficientTxFee;
        };
        match paid_to_node(payment) {
            Some(amount) if amount >= QUERY_COST_TINYBARS as i64 => self.submit(payment),
            Some(_) => Code::InsufficientTxFee,
            None => Code::InvalidTransaction,
        }
    }
}

/// The amount a query payment (a CryptoTransfer) credits to the node account.
fn paid_to_node(payment: &pb::Transaction) -> Option<i64> {
    let signed = pb::SignedTransaction::decode(payment.signed_transaction_bytes.as_slice()).ok()?;
    let body = pb::TransactionBody::decode(signed.body_bytes.as_slice()).ok()?;
    let Some(Data::CryptoTransfer(t)) = body.data else {
        return None;
    };
    Some(
        t.transfers
            .iter()
            .flat_map(|l| &l.account_amounts)
            .filter(|a| ids::account_num(a.account_id.as_ref()) == Some(NODE_ACCOUNT))
            .map(|a| a.amount)
            .sum(),
    )
}

impl Inner {
    fn persist(&mut self) -> Result<(), StoreError> {
        let dirty = self.state.take_dirty();
        if dirty.is_empty() {
            return Ok(());
        }
        self.store.write(&self.state, dirty)
    }

    fn ingest(&mut self, tx: &pb::Transaction, now: Nanos) -> Result<(), Code> {
        let parsed = precheck_shape(tx)?;
        let body = &parsed.body;
        let txid = parsed.txid;

        // Node, duration, memo, time box, duplicates: the order Hedera's ingest checks them in.
        if ids::account_num(body.node_account_id.as_ref()) != Some(NODE_ACCOUNT) {
            return Err(Code::InvalidNodeAccount);
        }
        let duration = body
            .transaction_valid_duration
            .as_ref()
            .map_or(0, |d| d.seconds);
        if !(MIN_VALID_DURATION_SECS..=MAX_VALID_DURATION_SECS).contains(&duration) {
            return Err(Code::InvalidTransactionDuration);
        }
        if body.memo.len() > MAX_MEMO_BYTES {
            return Err(Code::MemoTooLong);
        }
        if body.memo.as_bytes().contains(&0) {
            return Err(Code::InvalidZeroByteInString);
        }
        if txid.valid_start > now {
            return Err(Code::InvalidTransactionStart);
        }
        let expiry = txid.valid_start + Nanos::from(duration) * NANOS_PER_SEC;
        if expiry < now + Nanos::from(VALIDITY_BUFFER_SECS) * NANOS_PER_SEC {
            return Err(Code::TransactionExpired);
        }
        self.state.prune_recent(now);
        if self.state.recent.contains_key(&txid) {
            return Err(Code::DuplicateTransaction);
        }

        // The payer: exists, can pay, and signed.
        let payer = self
            .state
            .accounts
            .get(&txid.payer)
            .ok_or(Code::PayerAccountNotFound)?;
        if payer.deleted {
            return Err(Code::AccountDeleted);
        }
        let Some(data) = &body.data else {
            return Err(Code::InvalidTransactionBody);
        };
        if !handlers::is_supported(data) {
            return Err(Code::NotSupported);
        }
        if body.transaction_fee < FLAT_FEE_TINYBARS {
            return Err(Code::InsufficientTxFee);
        }
        if payer.balance < FLAT_FEE_TINYBARS {
            return Err(Code::InsufficientPayerBalance);
        }
        let mut sigs = Signatures::new(&parsed.signed.body_bytes, parsed.signed.sig_map.as_ref())?;
        if !sigs.satisfies(&state::decode_key(&payer.key)) {
            return Err(Code::InvalidSignature);
        }

        // Consensus.
        let consensus = self.state.next_consensus(now);
        self.handle(txid, &parsed, &mut sigs, consensus);
        Ok(())
    }

    /// Handles a transaction that passed precheck. Its fee is charged whatever the outcome.
    fn handle(&mut self, txid: TxId, parsed: &Parsed, sigs: &mut Signatures<'_>, consensus: Nanos) {
        let body = &parsed.body;
        let data = body.data.as_ref().expect("checked in precheck");
        let mut effects = Effects::default();
        let outcome = {
            let mut ctx = Ctx {
                state: &mut self.state,
                payer: txid.payer,
                txid,
                consensus,
                signers: Signers::Map(sigs),
            };
            handlers::handle(&mut ctx, data, &mut effects)
        };
        let status = match outcome {
            Ok(()) => Code::Success,
            Err(code) => {
                // An identical schedule's receipt still names the existing one.
                effects = Effects {
                    schedule: effects.schedule.take(),
                    scheduled: effects.scheduled.take(),
                    ..Effects::default()
                };
                code
            }
        };
        let execute = effects.execute_schedule.take();
        let record = self.charge_and_record(
            txid,
            body,
            parsed.hash.clone(),
            consensus,
            status,
            effects,
            None,
        );
        self.state.push_record(record);
        if let Some(schedule) = execute {
            self.execute_schedule(schedule, consensus);
        }
    }

    /// Charges the flat fee, then builds the record: receipt, transfers, NFT moves.
    #[allow(clippy::too_many_arguments)]
    fn charge_and_record(
        &mut self,
        txid: TxId,
        body: &pb::TransactionBody,
        hash: Vec<u8>,
        consensus: Nanos,
        status: Code,
        effects: Effects,
        schedule_ref: Option<Num>,
    ) -> Record {
        let fee = if let Some(payer) = self.state.account_mut(txid.payer) {
            let fee = FLAT_FEE_TINYBARS.min(payer.balance);
            payer.balance -= fee;
            fee
        } else {
            0
        };
        if let Some(node) = self.state.account_mut(NODE_ACCOUNT) {
            node.balance += fee;
        }
        let mut hbar: Vec<(Num, i64)> = effects.hbar.clone();
        hbar.push((txid.payer, -(fee as i64)));
        hbar.push((NODE_ACCOUNT, fee as i64));
        let mut merged: std::collections::BTreeMap<Num, i64> = std::collections::BTreeMap::new();
        for (acct, amount) in &hbar {
            *merged.entry(*acct).or_default() += amount;
        }
        merged.retain(|_, v| *v != 0);
        let transfer_list = pb::TransferList {
            account_amounts: merged
                .iter()
                .map(|(a, v)| pb::AccountAmount {
                    account_id: Some(ids::account_id(*a)),
                    amount: *v,
                    ..Default::default()
                })
                .collect(),
        };
        let mut by_token: std::collections::BTreeMap<Num, Vec<pb::NftTransfer>> =
            std::collections::BTreeMap::new();
        for m in &effects.nft_moves {
            by_token.entry(m.token).or_default().push(pb::NftTransfer {
                sender_account_id: Some(
                    m.sender.map_or_else(ids::account_id_zero, ids::account_id),
                ),
                receiver_account_id: Some(
                    m.receiver
                        .map_or_else(ids::account_id_zero, ids::account_id),
                ),
                serial_number: m.serial,
                ..Default::default()
            });
        }
        let receipt = pb::TransactionReceipt {
            status: status as i32,
            account_id: effects.account.map(ids::account_id),
            token_id: effects.token.map(ids::token_id),
            schedule_id: effects.schedule.map(ids::schedule_id),
            scheduled_transaction_id: effects.scheduled.map(TxId::to_proto),
            serial_numbers: effects.serials.clone(),
            new_total_supply: effects.new_total_supply,
            exchange_rate: Some(handlers::exchange_rates()),
            ..Default::default()
        };
        let record = pb::TransactionRecord {
            receipt: Some(receipt),
            transaction_hash: hash,
            consensus_timestamp: Some(ids::timestamp(consensus)),
            transaction_id: Some(txid.to_proto()),
            memo: body.memo.clone(),
            transaction_fee: fee,
            transfer_list: Some(transfer_list),
            token_transfer_lists: by_token
                .into_iter()
                .map(|(t, nft_transfers)| pb::TokenTransferList {
                    token: Some(ids::token_id(t)),
                    nft_transfers,
                    ..Default::default()
                })
                .collect(),
            schedule_ref: schedule_ref.map(ids::schedule_id),
            automatic_token_associations: effects
                .auto_associations
                .iter()
                .map(|(a, t)| pb::TokenAssociation {
                    account_id: Some(ids::account_id(*a)),
                    token_id: Some(ids::token_id(*t)),
                })
                .collect(),
            ..Default::default()
        };
        Record {
            txid,
            consensus,
            record,
            name: body.data.as_ref().map_or("UNKNOWN", handlers::mirror_name),
            entity: effects.entity.clone(),
            body: Some(body.clone()),
            nft_transfers: effects.nft_moves,
        }
    }

    /// Executes a schedule's inner transaction (its signatures were found sufficient), as a child of
    /// the transaction at `parent`.
    fn execute_schedule(&mut self, num: Num, parent: Nanos) {
        let Some(schedule) = self.state.schedule_mut(num) else {
            return;
        };
        let consensus_child = parent + 1;
        schedule.executed = Some(consensus_child);
        let schedule = schedule.clone();
        let consensus = self.state.next_consensus(consensus_child);
        let body = handlers::inner_body(&schedule);
        let signatories = schedule.signatories.clone();
        let mut effects = Effects::default();
        let outcome = match &body.data {
            Some(data) => {
                let mut ctx = Ctx {
                    state: &mut self.state,
                    payer: schedule.payer,
                    txid: schedule.scheduled_txid,
                    consensus,
                    signers: Signers::Collected(&signatories),
                };
                handlers::handle(&mut ctx, data, &mut effects)
            }
            None => Err(Code::InvalidTransactionBody),
        };
        let status = match outcome {
            Ok(()) => Code::Success,
            Err(code) => {
                effects = Effects::default();
                code
            }
        };
        let hash = sha2::Sha384::digest(body.encode_to_vec()).to_vec();
        effects.entity.get_or_insert_with(|| ids::entity(num));
        let record = self.charge_and_record(
            schedule.scheduled_txid,
            &body,
            hash,
            consensus,
            status,
            effects,
            Some(num),
        );
        self.state.push_record(record);
    }

    /// Schedules whose expiry has passed: a `wait_for_expiry` schedule with enough signatures executes
    /// at its expiry; any other unexecuted schedule is gone.
    fn expire_schedules(&mut self, now: Nanos) {
        let due: Vec<Num> = self
            .state
            .schedules
            .values()
            .filter(|s| {
                s.executed.is_none() && s.deleted.is_none() && !s.expired && s.expiration <= now
            })
            .map(|s| s.num)
            .collect();
        for num in due {
            let Some(schedule) = self.state.schedules.get(&num).cloned() else {
                continue;
            };
            let ready =
                schedule.wait_for_expiry && handlers::schedule_is_ready(&self.state, &schedule);
            if ready {
                let at = self
                    .state
                    .next_consensus(schedule.expiration.max(self.state.last_consensus + 1));
                self.execute_schedule(num, at);
            } else if let Some(s) = self.state.schedule_mut(num) {
                s.expired = true;
            }
        }
    }
}

/// Decodes and checks a transaction's shape: size, encoding, transaction id.
#[allow(deprecated)] // reads the deprecated fields only to refuse them
fn precheck_shape(tx: &pb::Transaction) -> Result<Parsed, Code> {
    if tx.encoded_len() > MAX_TRANSACTION_BYTES {
        return Err(Code::TransactionOversize);
    }
    // The current form is `signedTransactionBytes`. The SDK also fills the deprecated `bodyBytes` and
    // `sigMap` with the same content; they are accepted only when they match, so no reader can be
    // shown one body while the ledger handles another. The older `body`/`sigs` forms are refused.
    if tx.signed_transaction_bytes.is_empty() || tx.body.is_some() || tx.sigs.is_some() {
        return Err(Code::InvalidTransaction);
    }
    let signed = pb::SignedTransaction::decode(tx.signed_transaction_bytes.as_slice())
        .map_err(|_| Code::InvalidTransaction)?;
    if (!tx.body_bytes.is_empty() && tx.body_bytes != signed.body_bytes)
        || (tx.sig_map.is_some() && tx.sig_map != signed.sig_map)
    {
        return Err(Code::InvalidTransaction);
    }
    let body = pb::TransactionBody::decode(signed.body_bytes.as_slice())
        .map_err(|_| Code::InvalidTransactionBody)?;
    let id = body
        .transaction_id
        .as_ref()
        .ok_or(Code::InvalidTransactionId)?;
    let txid = TxId::from_proto(id).ok_or(Code::InvalidTransactionId)?;
    if txid.scheduled || txid.nonce != 0 {
        return Err(Code::TransactionIdFieldNotAllowed);
    }
    // Hedera's transaction hash: SHA-384 of the signed transaction bytes.
    let hash = sha2::Sha384::digest(&tx.signed_transaction_bytes).to_vec();
    Ok(Parsed {
        txid,
        body,
        signed,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtual_clock_moves_only_when_enabled() {
        let off = Clock::new(false);
        assert_eq!(
            off.advance(std::time::Duration::from_secs(60)),
            Err(ClockError::NotEnabled)
        );
        let on = Clock::new(true);
        let before = on.now();
        assert_eq!(on.advance(std::time::Duration::from_secs(3_600)), Ok(()));
        assert!(on.now() - before >= 3_600 * NANOS_PER_SEC);
    }
}
