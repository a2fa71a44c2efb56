//! Sustained NFT mints through `hiero-sdk` against the simulator, signature checks on: every mint is
//! signed by the payer and 2 of the 3 keys of a ThresholdKey supply key, and the simulator verifies all
//! three. Prints mints/s and the latency of `execute` (the node's precheck answer, which in the
//! simulator includes consensus and the durable write).
//!
//! `cargo bench -p gatehouse-ledger-sim --bench throughput` (GATEHOUSE_BENCH_MINTS, default 6000;
//! GATEHOUSE_BENCH_WORKERS, default 32).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_ledger_sim::{Config, Simulator};
use hiero_sdk::{
    AccountId, Client, KeyList, PrivateKey, Status, TokenCreateTransaction, TokenMintTransaction,
    TokenSupplyType, TokenType, TransactionReceiptQuery,
};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mints = env("GATEHOUSE_BENCH_MINTS", 6_000);
    let workers = env("GATEHOUSE_BENCH_WORKERS", 32);
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(Config::ephemeral(dir.path()))
        .await
        .unwrap();
    let key_hex = std::fs::read_to_string(sim.operator_key_file.as_ref().unwrap()).unwrap();
    let operator_key =
        PrivateKey::from_bytes_ed25519(&hex::decode(key_hex.trim()).unwrap()).unwrap();
    let operator: AccountId = sim.operator_account.parse().unwrap();
    let client = Client::for_network(HashMap::from([(
        sim.grpc_addr.to_string(),
        AccountId::new(0, 0, 3),
    )]))
    .unwrap();
    client.set_operator(operator, operator_key);

    let supply: Vec<PrivateKey> = (0..3).map(|_| PrivateKey::generate_ed25519()).collect();
    let threshold = KeyList {
        keys: supply.iter().map(|k| k.public_key().into()).collect(),
        threshold: Some(2),
    };
    let mut create = TokenCreateTransaction::new();
    create
        .name("Bench")
        .symbol("BNC")
        .token_type(TokenType::NonFungibleUnique)
        .token_supply_type(TokenSupplyType::Infinite)
        .treasury_account_id(operator)
        .supply_key(threshold);
    let token = create
        .execute(&client)
        .await
        .unwrap()
        .get_receipt(&client)
        .await
        .unwrap()
        .token_id
        .unwrap();

    let supply = Arc::new(supply);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, supply) = (client.clone(), Arc::clone(&supply));
        let count = mints / workers + usize::from(w < mints % workers);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            let mut ids = Vec::with_capacity(count);
            for i in 0..count {
                let mut tx = TokenMintTransaction::new();
                tx.token_id(token)
                    .metadata([format!("ipfs://bench/{w}/{i}").into_bytes()]);
                tx.freeze_with(&client)
                    .unwrap()
                    .sign(supply[i % 3].clone())
                    .sign(supply[(i + 1) % 3].clone());
                let t = Instant::now();
                let response = tx.execute(&client).await.unwrap();
                latencies.push(t.elapsed());
                ids.push(response.transaction_id);
            }
            (latencies, ids)
        }));
    }
    let mut latencies = Vec::new();
    let mut ids = Vec::new();
    for t in tasks {
        let (l, i) = t.await.unwrap();
        latencies.extend(l);
        ids.extend(i);
    }
    let elapsed = started.elapsed();

    // Every mint succeeded: check each receipt (not timed).
    for id in ids.iter().step_by(1) {
        let r = TransactionReceiptQuery::new()
            .transaction_id(*id)
            .execute(&client)
            .await
            .unwrap();
        assert_eq!(r.status, Status::Success);
    }
    latencies.sort_unstable();
    println!();
    println!(
        "| Ledger simulator, NFT mints through hiero-sdk (2-of-3 ThresholdKey + payer, all verified) | |"
    );
    println!("|---|---|");
    println!("| mints | {} |", latencies.len());
    println!("| concurrent SDK workers | {workers} |");
    println!("| elapsed | {:.2} s |", elapsed.as_secs_f64());
    println!(
        "| sustained mints/s | {:.0} |",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| precheck (execute) p50 | {:.2} ms |",
        pct(&latencies, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "| precheck (execute) p99 | {:.2} ms |",
        pct(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!("| receipts checked | {} (all SUCCESS) |", ids.len());
    sim.shutdown().await;
}
