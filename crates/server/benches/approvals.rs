//! Approvals: how fast the server checks approval signatures, and how long the ledger takes from
//! the last signature to the executed mint. Prints a table; asserts nothing about speed.
//!
//! * signature checks/s: the server's check of an officer's signature over a ScheduleSign body
//!   (Ed25519 and secp256k1), single core;
//! * spent-set inserts/s on SQLite (one transaction each, as an approval does);
//! * last signature -> executed mint, over mutual TLS with the in-process ledger simulator:
//!   the officer's submit until the server answers with the proposal executed (it has sent the
//!   ScheduleSign, the ledger executed the mint, the receipt was read and the outcome recorded).
//!
//! `cargo bench -p gatehouse-server --bench approvals` (`APPROVALS_BENCH_MINTS`, default 40).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::time::Instant;

use ed25519_dalek::Signer as _;
use gatehouse_keys::key::{Algorithm, PublicKey, Signature};
use gatehouse_protocol::proposal::{NewMint, Proposal, ProposalStatus};
use gatehouse_server::testing::{Backend, TestDeployment};

fn row(scenario: &str, n: usize, result: String, extra: String) {
    println!("{scenario:<46} {n:>8} {result:>14} {extra:>20}");
}

/// A ScheduleSign body of the size the server hands out.
fn body() -> Vec<u8> {
    use hiero_sdk_proto::services as pb;
    use prost::Message as _;
    let account = |n| pb::AccountId {
        shard_num: 0,
        realm_num: 0,
        account: Some(pb::account_id::Account::AccountNum(n)),
    };
    pb::TransactionBody {
        transaction_id: Some(pb::TransactionId {
            transaction_valid_start: Some(pb::Timestamp {
                seconds: 1_700_000_000,
                nanos: 1,
            }),
            account_id: Some(account(2)),
            scheduled: false,
            nonce: 0,
        }),
        node_account_id: Some(account(3)),
        transaction_fee: 2_000_000_000,
        transaction_valid_duration: Some(pb::Duration { seconds: 180 }),
        memo: "gatehouse approval 5b1c1d2e-0000-4000-8000-000000000000".into(),
        data: Some(pb::transaction_body::Data::ScheduleSign(
            pb::ScheduleSignTransactionBody {
                schedule_id: Some(pb::ScheduleId {
                    shard_num: 0,
                    realm_num: 0,
                    schedule_num: 1004,
                }),
            },
        )),
        ..Default::default()
    }
    .encode_to_vec()
}

fn verification() {
    const N: usize = 5_000;
    let message = body();
    let ed = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let ed_public =
        PublicKey::from_bytes(Algorithm::Ed25519, ed.verifying_key().as_bytes()).unwrap();
    let ed_sig = Signature::from_bytes(Algorithm::Ed25519, &ed.sign(&message).to_bytes()).unwrap();
    let k = k256::ecdsa::SigningKey::from_slice(&[6; 32]).unwrap();
    let k_public = PublicKey::from_bytes(
        Algorithm::EcdsaSecp256k1,
        k.verifying_key().to_encoded_point(false).as_bytes(),
    )
    .unwrap();
    let digest = Algorithm::EcdsaSecp256k1.prepare(&message);
    let (k_sig, _): (k256::ecdsa::Signature, _) =
        k256::ecdsa::signature::hazmat::PrehashSigner::sign_prehash(&k, &digest).unwrap();
    let k_sig = Signature::from_bytes(Algorithm::EcdsaSecp256k1, &k_sig.to_bytes()).unwrap();
    for (name, key, sig) in [
        ("signature checks, Ed25519", &ed_public, &ed_sig),
        ("signature checks, ECDSA secp256k1", &k_public, &k_sig),
    ] {
        let start = Instant::now();
        for _ in 0..N {
            key.verify(&message, sig).unwrap();
        }
        let took = start.elapsed();
        row(
            name,
            N,
            format!("{:.0}/s", N as f64 / took.as_secs_f64()),
            format!("{} bytes", message.len()),
        );
    }
}

async fn spent_set() {
    const N: usize = 2_000;
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let server = deployment.start().await;
    let start = Instant::now();
    for i in 0..N {
        let mut tx = server.state.db.begin().await.unwrap();
        let hash = format!("{:064x}", i);
        assert!(
            gatehouse_server::proposals::store::spend(&mut tx, &hash, "p", "o")
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
    }
    row(
        "spent-set inserts (SQLite, one tx each)",
        N,
        format!("{:.0}/s", N as f64 / start.elapsed().as_secs_f64()),
        String::new(),
    );
    server.shutdown().await.unwrap();
}

async fn last_signature_to_execution(mints: usize) {
    let common::TokenWorld {
        server,
        conns,
        keys,
        // Held to the end: its directory holds the database and the ledger.
        deployment: _deployment,
        files: _,
    } = common::TokenWorld::new(Backend::Sqlite).await;
    let approve = common::approve;
    let mut first = Vec::new();
    let mut last = Vec::new();
    for i in 0..mints {
        let proposal: Proposal = conns[2]
            .post(
                "/v1/proposals/mint",
                &NewMint {
                    documents: Vec::new(),
                    metadata: (0..10).map(|j| format!("ipfs://bench-{i}-{j}")).collect(),
                },
            )
            .await
            .unwrap();
        let (_, took) = approve(&conns[0], &proposal.id, &keys[0]).await;
        first.push(took);
        let (done, took) = approve(&conns[1], &proposal.id, &keys[1]).await;
        assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
        last.push(took);
    }
    for (name, samples) in [
        ("first signature -> accepted (1 of 2)", &mut first),
        ("last signature -> mint executed (10 NFTs)", &mut last),
    ] {
        let p50 = common::percentile(samples, 0.50);
        let p99 = common::percentile(samples, 0.99);
        row(
            name,
            samples.len(),
            format!("p50 {:.1} ms", p50.as_secs_f64() * 1e3),
            format!("p99 {:.1} ms", p99.as_secs_f64() * 1e3),
        );
    }
    server.shutdown().await.unwrap();
}

#[tokio::main]
async fn main() {
    let mints: usize = std::env::var("APPROVALS_BENCH_MINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    println!("{:<46} {:>8} {:>14} {:>20}", "scenario", "n", "result", "");
    verification();
    spent_set().await;
    last_signature_to_execution(mints).await;
}
