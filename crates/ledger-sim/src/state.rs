//! The ledger's state: accounts, tokens, NFTs, token relationships, schedules, and the recent
//! transactions that receipts, records and duplicate detection need. Everything that changes is marked
//! dirty so the store writes exactly the changed rows with the transaction's record.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use hiero_sdk_proto::services as pb;
use prost::Message as _;
use serde::{Deserialize, Serialize};

use crate::ids::{Nanos, Num, TxId};

/// A key as Hedera stores it: the protobuf `Key` message, encoded.
pub type KeyBytes = Vec<u8>;

pub fn encode_key(key: &pb::Key) -> KeyBytes {
    key.encode_to_vec()
}

/// Keys in the state were validated before they were stored, so decoding cannot fail on data the
/// simulator wrote; a damaged store yields an empty key, which nothing satisfies.
pub fn decode_key(bytes: &[u8]) -> pb::Key {
    pb::Key::decode(bytes).unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub num: Num,
    pub key: KeyBytes,
    pub balance: u64,
    pub receiver_sig_required: bool,
    pub memo: String,
    pub max_auto_associations: i32,
    pub auto_renew_secs: i64,
    pub expiry_secs: i64,
    pub created: Nanos,
    pub deleted: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenKeys {
    pub admin: Option<KeyBytes>,
    pub kyc: Option<KeyBytes>,
    pub freeze: Option<KeyBytes>,
    pub wipe: Option<KeyBytes>,
    pub supply: Option<KeyBytes>,
    pub fee_schedule: Option<KeyBytes>,
    pub pause: Option<KeyBytes>,
    pub metadata: Option<KeyBytes>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub num: Num,
    pub name: String,
    pub symbol: String,
    pub memo: String,
    pub treasury: Num,
    pub keys: TokenKeys,
    pub token_type: i32,
    pub supply_type: i32,
    pub max_supply: i64,
    pub total_supply: u64,
    /// The last serial number handed out; serials are never reused, even after a burn.
    pub last_serial: i64,
    pub paused: bool,
    pub deleted: bool,
    pub freeze_default: bool,
    pub metadata: Vec<u8>,
    pub auto_renew_account: Option<Num>,
    pub auto_renew_secs: i64,
    pub expiry_secs: i64,
    pub created: Nanos,
    pub modified: Nanos,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Nft {
    pub token: Num,
    pub serial: i64,
    /// The owner; `None` while the token's treasury (whoever that is now) holds it, as in Hedera.
    pub owner: Option<Num>,
    pub metadata: Vec<u8>,
    pub created: Nanos,
    pub modified: Nanos,
    pub deleted: bool,
}

/// An account's association with a token and its balance (NFTs held).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rel {
    pub account: Num,
    pub token: Num,
    pub balance: u64,
    pub automatic: bool,
    pub created: Nanos,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleSig {
    pub consensus: Nanos,
    pub key: crate::keys::Primitive,
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    pub num: Num,
    pub creator: Num,
    pub payer: Num,
    pub admin_key: Option<KeyBytes>,
    pub memo: String,
    /// The `SchedulableTransactionBody`, encoded.
    pub body: Vec<u8>,
    pub expiration: Nanos,
    pub wait_for_expiry: bool,
    /// The id the inner transaction executes under: the ScheduleCreate's id with `scheduled` set.
    pub scheduled_txid: TxId,
    pub signatories: Vec<crate::keys::Primitive>,
    pub signatures: Vec<ScheduleSig>,
    pub created: Nanos,
    pub executed: Option<Nanos>,
    pub deleted: Option<Nanos>,
    /// Expired without executing; Hedera removes such schedules, and the simulator answers for them
    /// as Hedera does for an id it no longer knows.
    pub expired: bool,
}

impl Schedule {
    pub fn body(&self) -> pb::SchedulableTransactionBody {
        pb::SchedulableTransactionBody::decode(self.body.as_slice()).unwrap_or_default()
    }
}

/// A handled transaction: what receipts, records and the mirror serve.
#[derive(Debug, Clone)]
pub struct Record {
    pub txid: TxId,
    pub consensus: Nanos,
    pub record: pb::TransactionRecord,
    /// The mirror node's name for the type, e.g. `TOKENMINT`.
    pub name: &'static str,
    /// The entity the transaction created or acted on, for the mirror's `entity_id`.
    pub entity: Option<String>,
    pub body: Option<pb::TransactionBody>,
    pub nft_transfers: Vec<NftMove>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NftMove {
    pub token: Num,
    pub serial: i64,
    pub sender: Option<Num>,
    pub receiver: Option<Num>,
}

impl Record {
    pub fn status(&self) -> i32 {
        self.record.receipt.as_ref().map_or(0, |r| r.status)
    }

    /// Accounts that sent or received hbar (the payer always does, through the fee) or NFTs: what
    /// the mirror's `account.id` filter matches.
    pub fn accounts(&self) -> Vec<Num> {
        let hbar = self
            .record
            .transfer_list
            .iter()
            .flat_map(|l| &l.account_amounts);
        let mut accounts: Vec<Num> = hbar
            .filter_map(|a| crate::ids::account_num(a.account_id.as_ref()))
            .collect();
        for m in &self.nft_transfers {
            accounts.extend(m.sender.iter().chain(m.receiver.iter()));
        }
        accounts.sort_unstable();
        accounts.dedup();
        accounts
    }
}

#[derive(Debug, Default)]
pub struct Dirty {
    pub accounts: BTreeSet<Num>,
    pub tokens: BTreeSet<Num>,
    pub nfts: BTreeSet<(Num, i64)>,
    pub rels: BTreeSet<(Num, Num)>,
    pub schedules: BTreeSet<Num>,
    pub records: Vec<Record>,
}

impl Dirty {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.tokens.is_empty()
            && self.nfts.is_empty()
            && self.rels.is_empty()
            && self.schedules.is_empty()
            && self.records.is_empty()
    }
}

/// How long Hedera keeps receipts and remembers transaction ids (the maximum valid duration).
pub const RECENT_WINDOW_NANOS: Nanos = 180 * crate::ids::NANOS_PER_SEC;

#[derive(Debug, Default)]
pub struct State {
    pub accounts: BTreeMap<Num, Account>,
    pub tokens: BTreeMap<Num, Token>,
    pub nfts: BTreeMap<(Num, i64), Nft>,
    pub rels: BTreeMap<(Num, Num), Rel>,
    pub schedules: BTreeMap<Num, Schedule>,
    /// The next entity number (accounts, tokens and schedules share one sequence, as in Hedera).
    pub next_num: Num,
    pub last_consensus: Nanos,
    /// Records of the last three minutes, by transaction id (receipts, records, duplicates).
    pub recent: HashMap<TxId, Record>,
    recent_order: VecDeque<(Nanos, TxId)>,
    pub dirty: Dirty,
}

impl State {
    pub fn new_num(&mut self) -> Num {
        let n = self.next_num;
        self.next_num += 1;
        n
    }

    /// The next consensus time: `now`, or 1 ns after the last one if the clock has not moved on.
    pub fn next_consensus(&mut self, now: Nanos) -> Nanos {
        self.last_consensus = now.max(self.last_consensus + 1);
        self.last_consensus
    }

    pub fn account_mut(&mut self, num: Num) -> Option<&mut Account> {
        self.dirty.accounts.insert(num);
        self.accounts.get_mut(&num)
    }

    pub fn token_mut(&mut self, num: Num) -> Option<&mut Token> {
        self.dirty.tokens.insert(num);
        self.tokens.get_mut(&num)
    }

    pub fn nft_mut(&mut self, token: Num, serial: i64) -> Option<&mut Nft> {
        self.dirty.nfts.insert((token, serial));
        self.nfts.get_mut(&(token, serial))
    }

    pub fn rel_mut(&mut self, account: Num, token: Num) -> Option<&mut Rel> {
        self.dirty.rels.insert((account, token));
        self.rels.get_mut(&(account, token))
    }

    pub fn schedule_mut(&mut self, num: Num) -> Option<&mut Schedule> {
        self.dirty.schedules.insert(num);
        self.schedules.get_mut(&num)
    }

    pub fn insert_account(&mut self, a: Account) {
        self.dirty.accounts.insert(a.num);
        self.accounts.insert(a.num, a);
    }

    pub fn insert_token(&mut self, t: Token) {
        self.dirty.tokens.insert(t.num);
        self.tokens.insert(t.num, t);
    }

    pub fn insert_nft(&mut self, n: Nft) {
        self.dirty.nfts.insert((n.token, n.serial));
        self.nfts.insert((n.token, n.serial), n);
    }

    pub fn insert_rel(&mut self, r: Rel) {
        self.dirty.rels.insert((r.account, r.token));
        self.rels.insert((r.account, r.token), r);
    }

    pub fn insert_schedule(&mut self, s: Schedule) {
        self.dirty.schedules.insert(s.num);
        self.schedules.insert(s.num, s);
    }

    /// Adds a handled transaction to the recent set and to the records to persist.
    pub fn push_record(&mut self, record: Record) {
        self.recent_order.push_back((record.consensus, record.txid));
        self.recent.insert(record.txid, record.clone());
        self.dirty.records.push(record);
    }

    /// Restores a recent record at start-up, without marking it for writing.
    pub fn restore_recent(&mut self, record: Record) {
        self.recent_order.push_back((record.consensus, record.txid));
        self.recent.insert(record.txid, record);
    }

    /// Forgets records older than the window, as Hedera forgets receipts after three minutes.
    pub fn prune_recent(&mut self, now: Nanos) {
        while let Some(&(at, id)) = self.recent_order.front() {
            if at + RECENT_WINDOW_NANOS >= now {
                break;
            }
            self.recent_order.pop_front();
            if self.recent.get(&id).is_some_and(|r| r.consensus == at) {
                self.recent.remove(&id);
            }
        }
    }

    pub fn take_dirty(&mut self) -> Dirty {
        std::mem::take(&mut self.dirty)
    }

    /// Who holds an NFT now: its owner, or the token's current treasury.
    pub fn nft_owner(&self, nft: &Nft) -> Option<Num> {
        nft.owner
            .or_else(|| self.tokens.get(&nft.token).map(|t| t.treasury))
    }
}
