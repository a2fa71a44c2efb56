//! The simulator driven through `hiero-sdk` as a real client: the rules the console and server rely
//! on, each answered with Hedera's own response code.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::hiero::{
    self, AccountCreateTransaction, Hbar, NftId, PrivateKey, ScheduleCreateTransaction,
    ScheduleInfoQuery, ScheduleSignTransaction, Status, TokenAssociateTransaction,
    TokenCreateTransaction, TokenId, TokenInfoQuery, TokenMintTransaction, TokenNftInfoQuery,
    TokenPauseTransaction, TokenSupplyType, TokenType, TokenUnpauseTransaction,
    TokenUpdateTransaction, TransferTransaction,
};
use common::{Net, keys, precheck_status, threshold};

/// An NFT token: treasury the operator, admin key `admin`, the given supply key, and a pause key.
async fn nft_token(
    net: &Net,
    admin: &PrivateKey,
    supply: impl Into<hiero::Key>,
    pause: &PrivateKey,
) -> TokenId {
    let mut tx = TokenCreateTransaction::new();
    tx.name("Gatehouse Test")
        .symbol("GHT")
        .token_type(TokenType::NonFungibleUnique)
        .token_supply_type(TokenSupplyType::Finite)
        .max_supply(100)
        .treasury_account_id(net.operator)
        .admin_key(admin.public_key())
        .supply_key(supply)
        .pause_key(pause.public_key());
    submit!(net, tx, admin).token_id.unwrap()
}

async fn mint(
    net: &Net,
    token: TokenId,
    metadata: Vec<Vec<u8>>,
    signers: &[&PrivateKey],
) -> (Status, Vec<i64>) {
    let mut tx = TokenMintTransaction::new();
    tx.token_id(token)
        .metadata(metadata)
        .freeze_with(&net.client)
        .unwrap();
    for k in signers {
        tx.sign((*k).clone());
    }
    let receipt = net.receipt(&tx.execute(&net.client).await.unwrap()).await;
    (receipt.status, receipt.serials)
}

#[tokio::test]
async fn threshold_supply_key_mint_rules_and_the_mirror() {
    let net = common::start().await;
    let k = keys(3);
    let (admin, pause) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let token = nft_token(&net, &admin, threshold(2, &k), &pause).await;

    // 2 of 3 signatures mint; the serials appear on the mirror.
    let (status, serials) = mint(
        &net,
        token,
        vec![b"ipfs://a".to_vec(), b"ipfs://b".to_vec()],
        &[&k[0], &k[2]],
    )
    .await;
    assert_eq!((status, serials.clone()), (Status::Success, vec![1, 2]));
    let nfts = net.mirror(&format!("/api/v1/tokens/{token}/nfts")).await;
    let mut got: Vec<u64> = nfts["nfts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["serial_number"].as_u64().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, vec![1, 2]);
    assert_eq!(nfts["nfts"][0]["account_id"], net.operator.to_string());

    // 1 of 3 is not enough.
    assert_eq!(
        mint(&net, token, vec![b"x".to_vec()], &[&k[1]]).await.0,
        Status::InvalidSignature
    );
    // The same key twice is still one signature.
    assert_eq!(
        mint(&net, token, vec![b"x".to_vec()], &[&k[1], &k[1]])
            .await
            .0,
        Status::InvalidSignature
    );
    // 11 items in one mint, 101-byte metadata.
    let eleven = (0..11)
        .map(|i| format!("ipfs://{i}").into_bytes())
        .collect();
    assert_eq!(
        mint(&net, token, eleven, &[&k[0], &k[1]]).await.0,
        Status::BatchSizeLimitExceeded
    );
    assert_eq!(
        mint(&net, token, vec![vec![b'm'; 101]], &[&k[0], &k[1]])
            .await
            .0,
        Status::MetadataTooLong
    );
    assert_eq!(
        mint(&net, token, vec![vec![b'm'; 100]], &[&k[0], &k[1]]).await,
        (Status::Success, vec![3])
    );

    // Paused: mint and any update fail; pausing twice is a no-op; unpause restores.
    for _ in 0..2 {
        let mut p = TokenPauseTransaction::new();
        p.token_id(token);
        assert_eq!(submit!(net, p, pause).status, Status::Success);
    }
    assert_eq!(
        mint(&net, token, vec![b"p".to_vec()], &[&k[0], &k[1]])
            .await
            .0,
        Status::TokenIsPaused
    );
    let mut u = TokenUpdateTransaction::new();
    u.token_id(token).token_name("Renamed");
    assert_eq!(submit!(net, u, admin).status, Status::TokenIsPaused);
    let info = TokenInfoQuery::new()
        .token_id(token)
        .execute(&net.client)
        .await
        .unwrap();
    assert_eq!(info.pause_status, Some(true));
    assert_eq!(info.total_supply, 3);
    let mut up = TokenUnpauseTransaction::new();
    up.token_id(token);
    assert_eq!(submit!(net, up, pause).status, Status::Success);
    assert_eq!(
        mint(&net, token, vec![b"q".to_vec()], &[&k[1], &k[2]]).await,
        (Status::Success, vec![4])
    );

    // The mirror: the token, one NFT, and the mint transactions with their results.
    let t = net.mirror(&format!("/api/v1/tokens/{token}")).await;
    assert_eq!(t["type"], "NON_FUNGIBLE_UNIQUE");
    assert_eq!(t["total_supply"], "4");
    assert_eq!(t["pause_status"], "UNPAUSED");
    assert_eq!(t["treasury_account_id"], net.operator.to_string());
    assert_eq!(t["supply_key"]["_type"], "ProtobufEncoded");
    let one = net.mirror(&format!("/api/v1/tokens/{token}/nfts/3")).await;
    assert_eq!(one["metadata"], base64_of(&[b'm'; 100]));
    let mints = net
        .mirror("/api/v1/transactions?transactiontype=TOKENMINT&order=asc")
        .await;
    let results: Vec<&str> = mints["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "SUCCESS",
            "INVALID_SIGNATURE",
            "INVALID_SIGNATURE",
            "BATCH_SIZE_LIMIT_EXCEEDED",
            "METADATA_TOO_LONG",
            "SUCCESS",
            "TOKEN_IS_PAUSED",
            "SUCCESS"
        ]
    );
    net.sim.shutdown().await;
}

fn base64_of(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    // A tiny independent encoder, so the test does not check the mirror with the mirror's own code.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                let _ = out.write_char('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn time_box_duplicates_and_size() {
    let net = common::start().await;
    let now = net.sim.ledger.clock.now();
    let at = |offset_secs: i64| hiero::TransactionId {
        account_id: net.operator,
        valid_start: time::OffsetDateTime::from_unix_timestamp_nanos(
            now + i128::from(offset_secs) * 1_000_000_000,
        )
        .unwrap(),
        nonce: None,
        scheduled: false,
    };
    let transfer = |id: hiero::TransactionId| {
        let mut t = TransferTransaction::new();
        t.hbar_transfer(net.operator, Hbar::from_tinybars(-1))
            .hbar_transfer(hiero::AccountId::new(0, 0, 3), Hbar::from_tinybars(1))
            .transaction_id(id); // an explicit id is never regenerated by the SDK
        t
    };

    // Started 200 s ago with a 120 s window: expired.
    let err = transfer(at(-200)).execute(&net.client).await.unwrap_err();
    assert_eq!(precheck_status(err), Status::TransactionExpired);
    // Starts a minute from now.
    let err = transfer(at(60)).execute(&net.client).await.unwrap_err();
    assert_eq!(precheck_status(err), Status::InvalidTransactionStart);
    // A valid duration outside 15..180 s.
    let mut long = transfer(at(-1));
    long.transaction_valid_duration(time::Duration::seconds(181));
    assert_eq!(
        precheck_status(long.execute(&net.client).await.unwrap_err()),
        Status::InvalidTransactionDuration
    );

    // The same transaction twice.
    let mut once = transfer(at(-1));
    once.freeze_with(&net.client).unwrap();
    let bytes = once.to_bytes().unwrap();
    let first = once.execute(&net.client).await.unwrap();
    assert_eq!(net.status(&first).await, Status::Success);
    let mut again = hiero::AnyTransaction::from_bytes(&bytes).unwrap();
    assert_eq!(
        precheck_status(again.execute(&net.client).await.unwrap_err()),
        Status::DuplicateTransaction
    );

    // Over 6,144 bytes once signed (70 extra signatures of ~100 bytes each).
    let mut big = transfer(at(-2));
    big.freeze_with(&net.client).unwrap();
    for _ in 0..70 {
        big.sign(PrivateKey::generate_ed25519());
    }
    assert_eq!(
        precheck_status(big.execute(&net.client).await.unwrap_err()),
        Status::TransactionOversize
    );

    // Signed by someone other than the payer.
    let stranger = PrivateKey::generate_ed25519();
    let other = common::client_for(&net.sim, net.operator, stranger);
    let err = transfer(at(-3)).execute(&other).await.unwrap_err();
    assert_eq!(precheck_status(err), Status::InvalidSignature);
    net.sim.shutdown().await;
}

#[tokio::test]
async fn supply_key_rotation_follows_hip_540() {
    let net = common::start().await;
    let (admin, pause, old) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let token = nft_token(&net, &admin, old.public_key(), &pause).await;
    let rotate = |new: &PrivateKey| {
        let mut u = TokenUpdateTransaction::new();
        u.token_id(token).supply_key(new.public_key());
        u
    };

    // The old supply key alone cannot rotate itself (full validation: the new key must sign).
    let new1 = PrivateKey::generate_ed25519();
    assert_eq!(
        submit!(net, rotate(&new1), old).status,
        Status::InvalidSignature
    );
    // The new key alone cannot either.
    assert_eq!(
        submit!(net, rotate(&new1), new1).status,
        Status::InvalidSignature
    );
    // Old and new together can.
    assert_eq!(
        submit!(net, rotate(&new1), old, new1).status,
        Status::Success
    );
    assert_eq!(
        mint(&net, token, vec![b"a".to_vec()], &[&old]).await.0,
        Status::InvalidSignature
    );
    assert_eq!(
        mint(&net, token, vec![b"a".to_vec()], &[&new1]).await.0,
        Status::Success
    );
    // The admin key alone can.
    let new2 = PrivateKey::generate_ed25519();
    assert_eq!(submit!(net, rotate(&new2), admin).status, Status::Success);
    let info = TokenInfoQuery::new()
        .token_id(token)
        .execute(&net.client)
        .await
        .unwrap();
    assert_eq!(info.supply_key, Some(new2.public_key().into()));

    // A key the token was created without cannot be added.
    let mut wipe = TokenUpdateTransaction::new();
    wipe.token_id(token)
        .wipe_key(PrivateKey::generate_ed25519().public_key());
    assert_eq!(submit!(net, wipe, admin).status, Status::TokenHasNoWipeKey);

    // The admin key changes only with the old and the new admin key.
    let admin2 = PrivateKey::generate_ed25519();
    let change_admin = || {
        let mut u = TokenUpdateTransaction::new();
        u.token_id(token).admin_key(admin2.public_key());
        u
    };
    assert_eq!(
        submit!(net, change_admin(), admin).status,
        Status::InvalidSignature
    );
    assert_eq!(
        submit!(net, change_admin(), admin, admin2).status,
        Status::Success
    );
    net.sim.shutdown().await;
}

async fn new_account(net: &Net, key: &PrivateKey, hbar: i64) -> hiero::AccountId {
    let mut tx = AccountCreateTransaction::new();
    tx.set_key_without_alias(key.public_key())
        .initial_balance(Hbar::new(hbar));
    submit!(net, tx).account_id.unwrap()
}

#[tokio::test]
async fn treasury_change_moves_nfts_and_needs_a_zero_balance() {
    let net = common::start().await;
    let (admin, pause, supply) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let token = nft_token(&net, &admin, supply.public_key(), &pause).await;
    let metadata = (0..3).map(|i| vec![i]).collect();
    assert_eq!(
        mint(&net, token, metadata, &[&supply]).await.0,
        Status::Success
    );

    let (kb, kc) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let b = new_account(&net, &kb, 10).await;
    let c = new_account(&net, &kc, 10).await;

    // Without the new treasury's signature: refused.
    let new_treasury = |account| {
        let mut u = TokenUpdateTransaction::new();
        u.token_id(token).treasury_account_id(account);
        u
    };
    assert_eq!(
        submit!(net, new_treasury(b), admin).status,
        Status::InvalidSignature
    );
    // Admin and new treasury: the NFTs move.
    assert_eq!(
        submit!(net, new_treasury(b), admin, kb).status,
        Status::Success
    );
    for serial in 1..=3 {
        let nft = TokenNftInfoQuery::new()
            .nft_id(NftId {
                token_id: token,
                serial,
            })
            .execute(&net.client)
            .await
            .unwrap();
        assert_eq!(nft.account_id, b, "serial {serial}");
    }
    let nfts = net.mirror(&format!("/api/v1/tokens/{token}/nfts")).await;
    assert!(
        nfts["nfts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["account_id"] == b.to_string())
    );

    // C takes serial 1 from B, so C holds the token and cannot become treasury.
    let mut a = TokenAssociateTransaction::new();
    a.account_id(c).token_ids([token]);
    assert_eq!(submit!(net, a, kc).status, Status::Success);
    let serial_1_to_c = || {
        let mut t = TransferTransaction::new();
        t.nft_transfer(
            NftId {
                token_id: token,
                serial: 1,
            },
            b,
            c,
        );
        t
    };
    assert_eq!(submit!(net, serial_1_to_c(), kb).status, Status::Success);
    assert_eq!(
        submit!(net, new_treasury(c), admin, kc).status,
        Status::TransactionRequiresZeroTokenBalances
    );
    // And B cannot send serial 1 again.
    assert_eq!(
        submit!(net, serial_1_to_c(), kb).status,
        Status::SenderDoesNotOwnNftSerialNo
    );
    net.sim.shutdown().await;
}

#[tokio::test]
async fn scheduled_mint_collects_signatures_then_executes() {
    let net = common::start().await;
    let k = keys(3);
    let (admin, pause) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let token = nft_token(&net, &admin, threshold(2, &k), &pause).await;

    let scheduled_mint = || {
        let mut m = TokenMintTransaction::new();
        m.token_id(token).metadata([b"ipfs://scheduled".to_vec()]);
        m
    };
    let mut create = ScheduleCreateTransaction::new();
    create
        .scheduled_transaction(scheduled_mint())
        .schedule_memo("mint 1");
    let receipt = submit!(net, create);
    assert_eq!(receipt.status, Status::Success);
    let schedule = receipt.schedule_id.unwrap();
    let scheduled_txid = receipt.scheduled_transaction_id.unwrap();

    // The identical schedule again is refused and names the first.
    let mut again = ScheduleCreateTransaction::new();
    again
        .scheduled_transaction(scheduled_mint())
        .schedule_memo("mint 1");
    let receipt = submit!(net, again);
    assert_eq!(receipt.status, Status::IdenticalScheduleAlreadyCreated);
    assert_eq!(receipt.schedule_id, Some(schedule));

    let sign = || {
        let mut s = ScheduleSignTransaction::new();
        s.schedule_id(schedule);
        s
    };
    // First officer: collected, not yet executed.
    assert_eq!(submit!(net, sign(), k[0]).status, Status::Success);
    let info = ScheduleInfoQuery::new()
        .schedule_id(schedule)
        .execute(&net.client)
        .await
        .unwrap();
    assert!(info.executed_at.is_none());
    // The same signature again adds nothing.
    assert_eq!(
        submit!(net, sign(), k[0]).status,
        Status::NoNewValidSignatures
    );
    // Second officer: the mint executes.
    assert_eq!(submit!(net, sign(), k[2]).status, Status::Success);
    let inner = hiero::TransactionReceiptQuery::new()
        .transaction_id(scheduled_txid)
        .execute(&net.client)
        .await
        .unwrap();
    assert_eq!((inner.status, inner.serials), (Status::Success, vec![1]));
    let info = ScheduleInfoQuery::new()
        .schedule_id(schedule)
        .execute(&net.client)
        .await
        .unwrap();
    assert!(info.executed_at.is_some());
    assert_eq!(
        submit!(net, sign(), k[1]).status,
        Status::ScheduleAlreadyExecuted
    );

    // The mirror shows the schedule with its signatures, and the scheduled mint.
    let s = net.mirror(&format!("/api/v1/schedules/{schedule}")).await;
    assert!(s["executed_timestamp"].is_string());
    assert!(s["signatures"].as_array().unwrap().len() >= 3, "{s}");
    let txs = net
        .mirror(&format!(
            "/api/v1/transactions/{}",
            mirror_txid(&scheduled_txid)
        ))
        .await;
    let scheduled: Vec<_> = txs["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scheduled"] == true)
        .collect();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0]["name"], "TOKENMINT");
    assert_eq!(scheduled[0]["result"], "SUCCESS");
    net.sim.shutdown().await;
}

fn mirror_txid(id: &hiero::TransactionId) -> String {
    let ns = id.valid_start.unix_timestamp_nanos();
    format!(
        "{}-{}-{:09}",
        id.account_id,
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}

#[tokio::test]
async fn pause_cannot_be_scheduled_and_schedules_expire() {
    let net = common::start().await;
    let k = keys(3);
    let (admin, pause) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let token = nft_token(&net, &admin, threshold(2, &k), &pause).await;

    let mut p = TokenPauseTransaction::new();
    p.token_id(token);
    let mut create = ScheduleCreateTransaction::new();
    create.scheduled_transaction(p);
    assert_eq!(
        submit!(net, create).status,
        Status::ScheduledTransactionNotInWhitelist
    );

    // Too far ahead: more than 62 days.
    let now = net.sim.ledger.clock.now();
    let at = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp_nanos(now + i128::from(secs) * 1_000_000_000)
            .unwrap()
    };
    let mint = || {
        let mut m = TokenMintTransaction::new();
        m.token_id(token).metadata([b"x".to_vec()]);
        m
    };
    let mut far = ScheduleCreateTransaction::new();
    far.scheduled_transaction(mint())
        .expiration_time(at(63 * 86_400));
    assert_eq!(
        submit!(net, far).status,
        Status::ScheduleExpirationTimeTooFarInFuture
    );

    // A short-term schedule that gathers one signature, then 30 minutes pass: it is gone.
    let mut short = ScheduleCreateTransaction::new();
    short.scheduled_transaction(mint()).schedule_memo("short");
    let short_id = submit!(net, short).schedule_id.unwrap();

    // A long-term schedule (wait for expiry, one hour) with both signatures: it waits, then executes.
    let mut long = ScheduleCreateTransaction::new();
    long.scheduled_transaction(mint())
        .schedule_memo("long")
        .wait_for_expiry(true)
        .expiration_time(at(3_600));
    let long_id = submit!(net, long, k[0], k[1]).schedule_id.unwrap();
    let info = ScheduleInfoQuery::new()
        .schedule_id(long_id)
        .execute(&net.client)
        .await
        .unwrap();
    assert!(
        info.executed_at.is_none(),
        "a wait-for-expiry schedule waits"
    );

    net.advance(1_801).await;
    let mut s = ScheduleSignTransaction::new();
    s.schedule_id(short_id).transaction_id(net.txid());
    assert_eq!(submit!(net, s, k[0]).status, Status::InvalidScheduleId);
    let mut q = ScheduleInfoQuery::new();
    q.schedule_id(long_id).payment_transaction_id(net.txid());
    assert!(q.execute(&net.client).await.unwrap().executed_at.is_none());

    net.advance(1_800).await;
    let mut q = ScheduleInfoQuery::new();
    q.schedule_id(long_id).payment_transaction_id(net.txid());
    assert!(
        q.execute(&net.client).await.unwrap().executed_at.is_some(),
        "executed at its expiry"
    );
    let t = net.mirror(&format!("/api/v1/tokens/{token}")).await;
    assert_eq!(t["total_supply"], "1");
    net.sim.shutdown().await;
}

#[tokio::test]
async fn a_restart_keeps_all_state() {
    let net = common::start().await;
    let (admin, pause, supply) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let token = nft_token(&net, &admin, supply.public_key(), &pause).await;
    assert_eq!(
        mint(&net, token, vec![b"before".to_vec()], &[&supply])
            .await
            .0,
        Status::Success
    );
    let before = net.mirror("/api/v1/transactions?order=desc&limit=1").await["transactions"][0]["consensus_timestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    let common::Net {
        sim,
        dir,
        operator,
        operator_key,
        ..
    } = net;
    sim.shutdown().await;

    let net = common::start_in(dir).await;
    assert_eq!(
        (net.operator, net.operator_key.to_string()),
        (operator, operator_key.to_string())
    );
    let info = TokenInfoQuery::new()
        .token_id(token)
        .execute(&net.client)
        .await
        .unwrap();
    assert_eq!(
        (info.total_supply, info.name.as_str()),
        (1, "Gatehouse Test")
    );
    assert_eq!(
        mint(&net, token, vec![b"after".to_vec()], &[&supply]).await,
        (Status::Success, vec![2])
    );
    let after = net.mirror("/api/v1/transactions?order=desc&limit=1").await["transactions"][0]["consensus_timestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    let parse = |s: &str| -> (u64, u64) {
        let (a, b) = s.split_once('.').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    assert!(parse(&after) > parse(&before), "{after} after {before}");
    let nft = TokenNftInfoQuery::new()
        .nft_id(NftId {
            token_id: token,
            serial: 1,
        })
        .execute(&net.client)
        .await
        .unwrap();
    assert_eq!(nft.metadata, b"before");
    net.sim.shutdown().await;
}

#[tokio::test]
async fn accounts_records_and_mirror_paging() {
    let net = common::start().await;
    let (k_old, k_new) = (
        PrivateKey::generate_ed25519(),
        PrivateKey::generate_ed25519(),
    );
    let account = new_account(&net, &k_old, 5).await;

    // getAccountInfo through the SDK (a paid query: its payment is a real transfer to the node).
    let info = hiero::AccountInfoQuery::new()
        .account_id(account)
        .execute(&net.client)
        .await
        .unwrap();
    assert_eq!(info.key, k_old.public_key().into());
    assert_eq!(info.balance, Hbar::new(5));

    // A key change needs the old and the new key.
    let update = || {
        let mut u = hiero::AccountUpdateTransaction::new();
        u.account_id(account).key(k_new.public_key());
        u
    };
    assert_eq!(
        submit!(net, update(), k_old).status,
        Status::InvalidSignature
    );
    assert_eq!(
        submit!(net, update(), k_new).status,
        Status::InvalidSignature
    );
    assert_eq!(submit!(net, update(), k_old, k_new).status, Status::Success);

    // The record of a transfer: consensus time, the hbar moved and the flat fee.
    let mut t = TransferTransaction::new();
    t.hbar_transfer(account, Hbar::from_tinybars(-300))
        .hbar_transfer(net.operator, Hbar::from_tinybars(300));
    t.freeze_with(&net.client).unwrap().sign(k_new.clone());
    let response = t.execute(&net.client).await.unwrap();
    let record = response.get_record(&net.client).await.unwrap();
    assert_eq!(record.receipt.status, Status::Success);
    let moved: i64 = record
        .transfers
        .iter()
        .filter(|x| x.account_id == account)
        .map(|x| x.amount.to_tinybars())
        .sum();
    assert_eq!(moved, -300);
    assert_eq!(record.transaction_fee, Hbar::from_tinybars(100_000));
    // Moving more than the account holds.
    let mut t = TransferTransaction::new();
    t.hbar_transfer(account, Hbar::new(-100))
        .hbar_transfer(net.operator, Hbar::new(100));
    assert_eq!(
        submit!(net, t, k_new).status,
        Status::InsufficientAccountBalance
    );

    // The mirror: the account, filters, and paging through links.next until the end.
    let a = net.mirror(&format!("/api/v1/accounts/{account}")).await;
    assert_eq!(
        a["key"]["key"],
        hex::encode(k_new.public_key().to_bytes_raw())
    );
    // As on the mirror node, account.id matches the accounts that sent or received hbar or NFTs (the
    // payer always does, through the fee): the failed transactions here were paid by the operator.
    let fails = net
        .mirror(&format!(
            "/api/v1/transactions?account.id={}&result=fail",
            net.operator
        ))
        .await;
    let names: Vec<&str> = fails["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "INSUFFICIENT_ACCOUNT_BALANCE",
            "INVALID_SIGNATURE",
            "INVALID_SIGNATURE"
        ]
    );
    let mine = net
        .mirror(&format!("/api/v1/transactions?account.id={account}"))
        .await;
    let names: Vec<&str> = mine["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CRYPTOTRANSFER", "CRYPTOCREATEACCOUNT"]);
    let all = net.mirror("/api/v1/transactions?order=asc&limit=100").await["transactions"]
        .as_array()
        .unwrap()
        .len();
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/transactions?order=asc&limit=2".to_owned());
    while let Some(path) = next {
        let page = net.mirror(&path).await;
        seen.extend(
            page["transactions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["consensus_timestamp"].as_str().unwrap().to_owned()),
        );
        next = page["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), all);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "pages are in order without repeats"
    );
    let one = net
        .mirror(&format!("/api/v1/transactions?timestamp={}", seen[1]))
        .await;
    assert_eq!(
        one["transactions"][0]["consensus_timestamp"],
        seen[1].as_str()
    );
    // Bad parameters are refused the mirror node's way.
    for bad in [
        "limit=0",
        "limit=101",
        "order=sideways",
        "transactiontype=NOPE",
        "timestamp=gt:abc",
        "account.id=x",
        "bogus=1",
    ] {
        let (status, body) = net
            .mirror_status(&format!("/api/v1/transactions?{bad}"))
            .await;
        assert_eq!(status, 400, "{bad}");
        assert!(
            body["_status"]["messages"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid parameter"),
            "{bad}: {body}"
        );
    }
    assert_eq!(net.mirror_status("/api/v1/tokens/0.0.999999").await.0, 404);
    net.sim.shutdown().await;
}
