//! Audit log throughput and the explorer's client-side costs. Prints a table; asserts nothing
//! about speed.
//!
//! * appends/s through the sequencer (group commit, one signed checkpoint per batch), SQLite,
//!   and PostgreSQL when `DATABASE_URL` is set;
//! * the console's sync of the whole log over loopback mutual TLS with full verification;
//! * offline re-verification of the synced cache;
//! * filtered, full-text and deep-offset queries over the cache (p50/p95), and the timeline.
//!
//! `cargo bench -p gatehouse-server --bench audit` (`AUDIT_BENCH_ENTRIES`, default 1,000,000).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use gatehouse_client::audit::{Bucket, Cache, Filter};
use gatehouse_protocol::Role;
use gatehouse_server::testing::{Backend, TestDeployment};

const WRITERS: usize = 512;
const QUERY_RUNS: usize = 40;

#[tokio::main]
async fn main() {
    let entries: u64 = std::env::var("AUDIT_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "{:<10} {:<44} {:>10} {:>12} {:>12}",
        "database", "scenario", "n", "result", "p95"
    );

    if std::env::var_os("DATABASE_URL").is_some() {
        let deployment = TestDeployment::new(Backend::Postgres).await;
        let server = deployment.start().await;
        let n = (entries / 5).max(1000);
        let start = Instant::now();
        gatehouse_server::audit::demo::generate(&server.state.audit, n, WRITERS, |_| {})
            .await
            .unwrap();
        row(
            "Postgres",
            "append (512 writers, batched)",
            n,
            rate(n, start.elapsed()),
            "",
        );
        server.shutdown().await.unwrap();
    }

    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let server = deployment.start().await;
    let start = Instant::now();
    gatehouse_server::audit::demo::generate(&server.state.audit, entries, WRITERS, |_| {})
        .await
        .unwrap();
    row(
        "Sqlite",
        "append (512 writers, batched)",
        entries,
        rate(entries, start.elapsed()),
        "",
    );

    let connection = common::connection(&deployment, &dave, server.addr);
    let path = deployment.dir.path().join("bench-cache/audit.db");
    let cache = Cache::open(&path).await.unwrap();
    let start = Instant::now();
    let synced = cache.sync(&connection, |_| {}).await.unwrap();
    let took = start.elapsed();
    row(
        "Sqlite",
        "console sync + full verification (loopback)",
        synced.to,
        format!("{:.2} s", took.as_secs_f64()),
        "",
    );
    server.shutdown().await.unwrap();

    // A fresh handle, as after a restart: nothing verified in memory.
    let cache = Cache::open(&path).await.unwrap();
    let start = Instant::now();
    let size = cache.verify().await.unwrap();
    row(
        "cache",
        "offline re-verification",
        size,
        format!("{:.2} s", start.elapsed().as_secs_f64()),
        "",
    );
    let start = Instant::now();
    cache.page(&Filter::default(), 0, 100).await.unwrap();
    row(
        "cache",
        "explorer index build (first query after open)",
        size,
        format!("{:.2} s", start.elapsed().as_secs_f64()),
        "",
    );

    let queries: [(&str, Filter, u64); 6] = [
        ("first page, no filter", Filter::default(), 0),
        ("page in the middle, no filter", Filter::default(), size / 2),
        (
            "full text \"approve\"",
            Filter {
                text: Some("approve".into()),
                ..Filter::default()
            },
            0,
        ),
        (
            "action + outcome filter",
            Filter {
                action: Some("demo.mint.reject".into()),
                outcome: Some("denied".into()),
                ..Filter::default()
            },
            0,
        ),
        (
            "actor + full text \"rotate\"",
            Filter {
                actor: Some("carol".into()),
                text: Some("rotate".into()),
                ..Filter::default()
            },
            0,
        ),
        (
            "object prefix \"proposal/1234\"",
            Filter {
                object: Some("proposal/1234".into()),
                ..Filter::default()
            },
            0,
        ),
    ];
    for (name, filter, offset) in queries {
        let mut samples = Vec::with_capacity(QUERY_RUNS);
        let mut total = 0;
        for run in 0..QUERY_RUNS {
            // A bound past every entry makes each run a new filter with the same matches, so
            // every sample evaluates the filter (and its full-text query) afresh.
            let filter = Filter {
                until_ms: Some(i64::MAX - run as i64),
                ..filter.clone()
            };
            let start = Instant::now();
            total = cache.page(&filter, offset, 100).await.unwrap().total;
            samples.push(start.elapsed());
        }
        let (p50, p95) = percentiles(&mut samples);
        row(
            "cache",
            &format!("page of 100: {name}"),
            total,
            format!("{p50:.2?}"),
            &format!("{p95:.2?}"),
        );
    }
    let mut samples = Vec::new();
    for run in 0..10 {
        let filter = Filter {
            until_ms: Some(i64::MAX - run),
            ..Filter::default()
        };
        let start = Instant::now();
        cache.timeline(&filter, Bucket::Hour).await.unwrap();
        samples.push(start.elapsed());
    }
    let (p50, p95) = percentiles(&mut samples);
    row(
        "cache",
        "timeline by hour, all entries",
        size,
        format!("{p50:.2?}"),
        &format!("{p95:.2?}"),
    );
}

fn rate(n: u64, took: Duration) -> String {
    format!("{:.0}/s", n as f64 / took.as_secs_f64())
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (pick(0.50), pick(0.95))
}

fn row(db: &str, scenario: &str, n: u64, result: String, p95: &str) {
    println!("{db:<10} {scenario:<44} {n:>10} {result:>12} {p95:>12}");
}
