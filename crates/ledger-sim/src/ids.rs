//! Entity ids and timestamps: conversions between the HAPI messages and the simulator's plain numbers.
//!
//! The simulator runs one shard and one realm (0.0), like a local Hedera network. Ids in any other shard
//! or realm, and account aliases, are refused with the code Hedera gives for an unknown id.

use hiero_sdk_proto::services as pb;

/// An entity number in shard 0, realm 0.
pub type Num = u64;

/// Nanoseconds since the Unix epoch: consensus times and valid-start times.
pub type Nanos = i128;

pub const NANOS_PER_SEC: Nanos = 1_000_000_000;

pub fn account_num(id: Option<&pb::AccountId>) -> Option<Num> {
    let id = id?;
    if id.shard_num != 0 || id.realm_num != 0 {
        return None;
    }
    match id.account {
        Some(pb::account_id::Account::AccountNum(n)) if n > 0 => Some(n as Num),
        _ => None,
    }
}

pub fn account_id(num: Num) -> pb::AccountId {
    pb::AccountId {
        shard_num: 0,
        realm_num: 0,
        account: Some(pb::account_id::Account::AccountNum(num as i64)),
    }
}

/// 0.0.0: the "nobody" in a mint's or burn's NFT transfer.
pub fn account_id_zero() -> pb::AccountId {
    pb::AccountId {
        shard_num: 0,
        realm_num: 0,
        account: Some(pb::account_id::Account::AccountNum(0)),
    }
}

pub fn token_num(id: Option<&pb::TokenId>) -> Option<Num> {
    let id = id?;
    (id.shard_num == 0 && id.realm_num == 0 && id.token_num > 0).then_some(id.token_num as Num)
}

pub fn token_id(num: Num) -> pb::TokenId {
    pb::TokenId {
        shard_num: 0,
        realm_num: 0,
        token_num: num as i64,
    }
}

pub fn schedule_num(id: Option<&pb::ScheduleId>) -> Option<Num> {
    let id = id?;
    (id.shard_num == 0 && id.realm_num == 0 && id.schedule_num > 0)
        .then_some(id.schedule_num as Num)
}

pub fn schedule_id(num: Num) -> pb::ScheduleId {
    pb::ScheduleId {
        shard_num: 0,
        realm_num: 0,
        schedule_num: num as i64,
    }
}

pub fn nanos(ts: &pb::Timestamp) -> Nanos {
    Nanos::from(ts.seconds) * NANOS_PER_SEC + Nanos::from(ts.nanos)
}

pub fn timestamp(n: Nanos) -> pb::Timestamp {
    pb::Timestamp {
        seconds: n.div_euclid(NANOS_PER_SEC) as i64,
        nanos: n.rem_euclid(NANOS_PER_SEC) as i32,
    }
}

/// "seconds.nanoseconds" with nine digits, the mirror node's timestamp format.
pub fn mirror_timestamp(n: Nanos) -> String {
    format!(
        "{}.{:09}",
        n.div_euclid(NANOS_PER_SEC),
        n.rem_euclid(NANOS_PER_SEC)
    )
}

/// Parses the mirror node's "seconds[.nanoseconds]" (up to nine fractional digits).
pub fn parse_mirror_timestamp(s: &str) -> Option<Nanos> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let frac_nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(Nanos::from(secs) * NANOS_PER_SEC + Nanos::from(frac_nanos))
}

/// A transaction id as the simulator keys it: payer, valid start, scheduled flag, nonce.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TxId {
    pub payer: Num,
    pub valid_start: Nanos,
    pub scheduled: bool,
    pub nonce: i32,
}

impl TxId {
    pub fn from_proto(id: &pb::TransactionId) -> Option<Self> {
        Some(Self {
            payer: account_num(id.account_id.as_ref())?,
            valid_start: nanos(id.transaction_valid_start.as_ref()?),
            scheduled: id.scheduled,
            nonce: id.nonce,
        })
    }

    pub fn to_proto(self) -> pb::TransactionId {
        pb::TransactionId {
            transaction_valid_start: Some(timestamp(self.valid_start)),
            account_id: Some(account_id(self.payer)),
            scheduled: self.scheduled,
            nonce: self.nonce,
        }
    }

    /// The mirror node's form: `0.0.2-1700000000-000000001`.
    pub fn mirror(self) -> String {
        format!(
            "0.0.{}-{}-{:09}",
            self.payer,
            self.valid_start.div_euclid(NANOS_PER_SEC),
            self.valid_start.rem_euclid(NANOS_PER_SEC)
        )
    }

    /// Reads the mirror form, or the SDK's `0.0.2@1700000000.000000001`. A `?scheduled` suffix is not
    /// part of either; the mirror takes `scheduled` as a query parameter.
    pub fn parse(s: &str) -> Option<Self> {
        let (payer, start) = if let Some((p, rest)) = s.split_once('@') {
            (p, parse_mirror_timestamp(rest)?)
        } else {
            let mut parts = s.rsplitn(3, '-');
            let nanos_part = parts.next()?;
            let secs_part = parts.next()?;
            let payer = parts.next()?;
            if nanos_part.len() != 9 {
                return None;
            }
            (
                payer,
                parse_mirror_timestamp(&format!("{secs_part}.{nanos_part}"))?,
            )
        };
        Some(Self {
            payer: parse_entity(payer)?,
            valid_start: start,
            scheduled: false,
            nonce: 0,
        })
    }
}

/// Reads `0.0.N` (or plain `N`) into N.
pub fn parse_entity(s: &str) -> Option<Num> {
    let num = match s.strip_prefix("0.0.") {
        Some(rest) => rest,
        None if !s.contains('.') => s,
        None => return None,
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse().ok().filter(|n| *n > 0)
}

pub fn entity(num: Num) -> String {
    format!("0.0.{num}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_round_trip_in_both_text_forms() {
        let id = TxId {
            payer: 1002,
            valid_start: 1_700_000_000 * NANOS_PER_SEC + 7,
            scheduled: false,
            nonce: 0,
        };
        assert_eq!(id.mirror(), "0.0.1002-1700000000-000000007");
        assert_eq!(TxId::parse(&id.mirror()), Some(id));
        assert_eq!(TxId::parse("0.0.1002@1700000000.000000007"), Some(id));
        assert_eq!(TxId::parse("0.0.1002-1700000000-7"), None);
        assert_eq!(TxId::parse("garbage"), None);
    }

    #[test]
    fn mirror_timestamps_parse_strictly() {
        assert_eq!(
            parse_mirror_timestamp("12.5"),
            Some(12 * NANOS_PER_SEC + 500_000_000)
        );
        assert_eq!(parse_mirror_timestamp("12"), Some(12 * NANOS_PER_SEC));
        assert_eq!(mirror_timestamp(12 * NANOS_PER_SEC + 5), "12.000000005");
        for bad in ["", ".5", "1.1234567890", "-1", "1e9", "1.x"] {
            assert_eq!(parse_mirror_timestamp(bad), None, "{bad}");
        }
        assert_eq!(parse_entity("0.0.42"), Some(42));
        assert_eq!(parse_entity("1.0.42"), None);
        assert_eq!(parse_entity("0.0.0"), None);
    }
}
