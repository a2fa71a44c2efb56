//! Tree, proof and leaf throughput for a log of 1,000,000 leaves. Prints a table; asserts
//! nothing about speed.
//!
//! `cargo bench -p gatehouse-audit --bench tree`

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use gatehouse_audit::Hash;
use gatehouse_audit::leaf::{
    Actor, Commitment, Details, Leaf, Outcome, OutcomeKind, Tag, Timestamp,
};
use gatehouse_audit::tree::{Frontier, HashSource, Tree};

const LEAVES: u64 = 1_000_000;
const PROOFS: usize = 10_000;
const LEAF_CODEC_ROUNDS: usize = 200_000;

fn main() {
    println!(
        "{:<48} {:>9} {:>11} {:>10} {:>10} {:>14}",
        "operation", "n", "total", "p50", "p99", "rate"
    );

    // Leaf data the size of a typical encoded audit leaf; only the index bytes change.
    let mut record = [0x5au8; 256];
    let start = Instant::now();
    let mut tree = Tree::with_capacity(LEAVES as usize);
    for i in 0..LEAVES {
        record[..8].copy_from_slice(&i.to_be_bytes());
        tree.append(&record);
    }
    let elapsed = start.elapsed();
    total_row("append 1M leaves (256 B each), Tree", LEAVES, elapsed);

    let leaf_hashes: Vec<Hash> = (0..LEAVES)
        .map(|i| tree.leaf_hash(i).expect("stored"))
        .collect();
    let start = Instant::now();
    let mut frontier = Frontier::new();
    for leaf in &leaf_hashes {
        frontier.push(*leaf);
    }
    total_row("append 1M leaf hashes, Frontier", LEAVES, start.elapsed());

    let mut samples = Vec::with_capacity(PROOFS);
    for _ in 0..PROOFS {
        let start = Instant::now();
        black_box(tree.current_root());
        samples.push(start.elapsed());
    }
    row("root of 1M, stored subtrees", &mut samples);

    let start = Instant::now();
    let root = black_box(leaf_hashes.root(LEAVES).expect("stored"));
    total_row("root of 1M, from leaf hashes only", LEAVES, start.elapsed());
    assert_eq!(root, frontier.root(), "all three roots agree");
    assert_eq!(root, tree.current_root(), "all three roots agree");

    let mut rng = Rng(0x243f_6a88_85a3_08d3);
    let mut generate = Vec::with_capacity(PROOFS);
    let mut verify = Vec::with_capacity(PROOFS);
    for _ in 0..PROOFS {
        let size = LEAVES / 2 + rng.below(LEAVES / 2) + 1;
        let index = rng.below(size);
        let root = tree.root(size).expect("stored");
        let start = Instant::now();
        let proof = tree.inclusion_proof(index, size).expect("stored");
        generate.push(start.elapsed());
        let leaf = leaf_hashes[index as usize];
        let start = Instant::now();
        let verdict = proof.verify(&leaf, &root);
        verify.push(start.elapsed());
        assert!(verdict.is_ok(), "every generated proof verifies");
    }
    row("inclusion proof, generate (size 0.5M-1M)", &mut generate);
    row("inclusion proof, verify", &mut verify);

    generate.clear();
    verify.clear();
    for _ in 0..PROOFS {
        let new = rng.below(LEAVES) + 1;
        let old = rng.below(new) + 1;
        let (old_root, new_root) = (
            tree.root(old).expect("stored"),
            tree.root(new).expect("stored"),
        );
        let start = Instant::now();
        let proof = tree.consistency_proof(old, new).expect("stored");
        generate.push(start.elapsed());
        let start = Instant::now();
        let verdict = proof.verify(&old_root, &new_root);
        verify.push(start.elapsed());
        assert!(verdict.is_ok(), "every generated proof verifies");
    }
    row(
        "consistency proof, generate (any sizes <= 1M)",
        &mut generate,
    );
    row("consistency proof, verify", &mut verify);

    let leaf = sample_leaf();
    let bytes = leaf.encode().expect("small");
    let start = Instant::now();
    for _ in 0..LEAF_CODEC_ROUNDS {
        black_box(black_box(&leaf).encode().expect("small"));
    }
    total_row(
        &format!("leaf encode ({} B)", bytes.len()),
        LEAF_CODEC_ROUNDS as u64,
        start.elapsed(),
    );
    let start = Instant::now();
    for _ in 0..LEAF_CODEC_ROUNDS {
        black_box(Leaf::decode(black_box(&bytes)).expect("canonical"));
    }
    total_row(
        &format!("leaf decode ({} B)", bytes.len()),
        LEAF_CODEC_ROUNDS as u64,
        start.elapsed(),
    );
}

fn sample_leaf() -> Leaf {
    let mut commitments = BTreeMap::new();
    for (tag, value) in [
        ("client_ip", "203.0.113.9"),
        ("comment", "approved on the bridge call"),
    ] {
        let tag = Tag::new(tag).expect("valid tag");
        let (commitment, _salt) = Commitment::new(&tag, value.as_bytes(), &mut rand_core::OsRng);
        commitments.insert(tag, commitment);
    }
    Leaf {
        index: 123_456,
        time: Timestamp::now(),
        actor: Actor {
            name: "carol.officer".to_owned(),
            cert_fingerprint: [0x3c; 32],
        },
        action: "mint.approve".to_owned(),
        object: "proposal/8d0c6a2e".to_owned(),
        outcome: Outcome {
            kind: OutcomeKind::Success,
            code: None,
        },
        request_id: "01J9Z3K6Q2V8X4".to_owned(),
        details: Details::new(&serde_json::json!({
            "token": "0.0.4820431",
            "serials": [101, 102, 103],
            "approvals": 2,
            "threshold": 2
        }))
        .expect("integer-only object"),
        commitments,
    }
}

fn total_row(name: &str, n: u64, total: Duration) {
    println!(
        "{:<48} {:>9} {:>11} {:>10} {:>10} {:>12.0}/s",
        name,
        n,
        format!("{:.1?}", total),
        "",
        "",
        n as f64 / total.as_secs_f64()
    );
}

fn row(name: &str, samples: &mut [Duration]) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let total: Duration = samples.iter().sum();
    println!(
        "{:<48} {:>9} {:>11} {:>10} {:>10} {:>12.0}/s",
        name,
        samples.len(),
        format!("{:.1?}", total),
        format!("{:.1?}", pick(0.5)),
        format!("{:.1?}", pick(0.99)),
        samples.len() as f64 / total.as_secs_f64()
    );
}

/// xorshift64: reproducible sample positions without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
