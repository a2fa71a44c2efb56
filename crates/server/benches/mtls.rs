//! mTLS handshake + whoami latency over loopback: a new connection per request,
//! and one kept-alive connection. Prints a table; asserts nothing about speed.
//!
//! `cargo bench -p gatehouse-server --bench mtls` (SQLite; set DATABASE_URL to add PostgreSQL).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use gatehouse_client::connection::Connection;
use gatehouse_protocol::Role;
use gatehouse_server::testing::{Backend, TestDeployment};

const NEW_CONNECTIONS: usize = 300;
const KEPT_ALIVE: usize = 3000;

#[tokio::main]
async fn main() {
    let mut backends = vec![Backend::Sqlite];
    if std::env::var_os("DATABASE_URL").is_some() {
        backends.push(Backend::Postgres);
    }
    println!(
        "{:<10} {:<34} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "database", "scenario", "n", "p50", "p99", "mean", "req/s"
    );
    for backend in backends {
        let deployment = TestDeployment::new(backend).await;
        let alice = deployment.enrol("alice", &[Role::Officer]).await;
        let server = deployment.start().await;
        let connection = || common::connection(&deployment, &alice, server.addr);

        // Each fresh Connection has an empty pool: its first request pays TCP + TLS 1.3 handshake.
        let fresh: Vec<Connection> = (0..NEW_CONNECTIONS).map(|_| connection()).collect();
        let mut samples = Vec::with_capacity(NEW_CONNECTIONS);
        for c in &fresh {
            let start = Instant::now();
            c.whoami().await.unwrap();
            samples.push(start.elapsed());
        }
        report(backend, "new connection: handshake + whoami", &mut samples);
        drop(fresh);

        let kept = connection();
        for _ in 0..50 {
            kept.whoami().await.unwrap();
        }
        let mut samples = Vec::with_capacity(KEPT_ALIVE);
        for _ in 0..KEPT_ALIVE {
            let start = Instant::now();
            kept.whoami().await.unwrap();
            samples.push(start.elapsed());
        }
        report(backend, "kept alive (h2): whoami", &mut samples);
        server.shutdown().await.unwrap();
    }
}

fn report(backend: Backend, scenario: &str, samples: &mut [Duration]) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = samples.iter().sum();
    let mean = total / samples.len() as u32;
    println!(
        "{:<10} {:<34} {:>6} {:>10} {:>10} {:>10} {:>10.0}",
        format!("{backend:?}"),
        scenario,
        samples.len(),
        format!("{:.2?}", pick(0.50)),
        format!("{:.2?}", pick(0.99)),
        format!("{mean:.2?}"),
        samples.len() as f64 / total.as_secs_f64()
    );
}
