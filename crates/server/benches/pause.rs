//! Pause propagation with three instances on one PostgreSQL: from a responder sending the signed
//! pause to instance A until instances B and C both refuse mints (423), and until the consoles on
//! B and C hear the breaker (the event relayed by LISTEN/NOTIFY). Prints a table; asserts nothing
//! about speed. The goal is p99 <= 50 ms on loopback.
//!
//! `DATABASE_URL=postgres://... cargo bench -p gatehouse-server --bench pause`
//! (`PAUSE_BENCH_TRIALS`, default 100).
//!
//! How a trial runs: alice's pause request is prepared and signed first (the device's part, not
//! timed). Pollers on B and C then send a malformed mint in a loop, 2 ms apart (while open the
//! server refuses it unread, so nothing is written; once tripped, the breaker refuses every mint
//! before its body is read) and note the first 423. The clock starts when the signed pause leaves. Between
//! trials the breaker row is reset in the database directly: resuming by quorum is not what is
//! measured. The token stays paused on the ledger after the first trial; later TokenPauses are
//! answered by the ledger as it will, which changes nothing here (the breaker trips first).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use gatehouse_client::connection::Connection;
use gatehouse_protocol::ErrorCode;
use gatehouse_protocol::pause::{Breaker, NewPause, PauseRequest, SignedPause};
use gatehouse_protocol::proposal::Proposal;
use gatehouse_server::testing::Backend;

/// The pause between a poller's mints: a console's pace, far above it, without flooding the
/// instances (every refusal is counted for the audit log's summaries).
const POLL: Duration = Duration::from_millis(2);

/// Sends mints to `conn` until one is refused because the deployment is paused: when.
async fn first_refusal(conn: Connection) -> Instant {
    // Not a mint body: the breaker refuses every mint before the body is read; while open, the
    // server refuses this one as malformed, without writing (or waiting for) anything. With
    // PAUSE_BENCH_AUDITED_POLLS=1, a mint without metadata instead: refused for its content and
    // audited, so each poll waits for its audit entry (another instance's sequencer may log it).
    let malformed = if std::env::var_os("PAUSE_BENCH_AUDITED_POLLS").is_some() {
        serde_json::json!({ "metadata": [], "documents": [] })
    } else {
        serde_json::json!({ "bench": "not a mint" })
    };
    loop {
        match conn
            .post::<_, Proposal>("/v1/proposals/mint", &malformed)
            .await
        {
            Err(gatehouse_client::Error::Refused {
                code: ErrorCode::Paused,
                ..
            }) => return Instant::now(),
            Ok(p) => panic!("a malformed mint was accepted: {p:?}"),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// Waits on `events` for the next `breaker` event: when.
async fn breaker_heard(events: &mut gatehouse_client::connection::EventStream) -> Instant {
    loop {
        match events.next().await {
            Some(Ok(e)) if e.kind == "breaker" => return Instant::now(),
            Some(_) => {}
            None => panic!("the event stream ended"),
        }
    }
}

/// Reads whatever `events` already holds (the previous trial's second breaker event).
async fn drain(events: &mut gatehouse_client::connection::EventStream) {
    while tokio::time::timeout(Duration::from_millis(100), events.next())
        .await
        .is_ok()
    {}
}

fn row(scenario: &str, samples: &mut [Duration]) {
    let p50 = common::percentile(samples, 0.50);
    let p99 = common::percentile(samples, 0.99);
    let max = common::percentile(samples, 1.0);
    println!(
        "{scenario:<52} {:>6} {:>10.1} {:>10.1} {:>10.1}",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    if std::env::var_os("DATABASE_URL").is_none() {
        eprintln!(
            "the pause benchmark runs three instances on one PostgreSQL: set DATABASE_URL to a server where it may create a database"
        );
        std::process::exit(2);
    }
    let trials: usize = std::env::var("PAUSE_BENCH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let world = common::TokenWorld::new(Backend::Postgres).await;
    let mut config = world.deployment.config.clone();
    config.ledger = world.server.state.ledger.as_ref().and_then(|l| l.sibling());
    let b = gatehouse_server::start(&config).await.unwrap();
    let c = gatehouse_server::start(&config).await.unwrap();
    let alice = world.person("alice");
    let on_b = common::connection(&world.deployment, &alice, b.addr);
    let on_c = common::connection(&world.deployment, &alice, c.addr);
    let mut events = [on_b.events().await.unwrap(), on_c.events().await.unwrap()];
    let reset = sqlx::PgPool::connect(&config.database_url()).await.unwrap();
    // The relays LISTEN a moment after the instances start.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (mut refused, mut heard, mut acknowledged) = (Vec::new(), Vec::new(), Vec::new());
    for trial in 0..trials {
        let request: PauseRequest = world.conns[0]
            .post(
                "/v1/pause/request",
                &NewPause {
                    reason: format!("bench {trial}"),
                },
            )
            .await
            .unwrap();
        let signed = SignedPause {
            signature: B64.encode(
                world.keys[0]
                    .sign(&B64.decode(&request.body).unwrap())
                    .to_bytes(),
            ),
            request: request.request,
            device: None,
        };
        for stream in &mut events {
            drain(stream).await;
        }
        let pollers = [
            tokio::spawn(first_refusal(on_b.clone())),
            tokio::spawn(first_refusal(on_c.clone())),
        ];
        let [events_b, events_c] = &mut events;
        let started = Instant::now();
        let (ack, heard_b, heard_c) = tokio::join!(
            async {
                let breaker: Breaker = world.conns[0].post("/v1/pause", &signed).await.unwrap();
                assert!(breaker.tripped);
                Instant::now()
            },
            breaker_heard(events_b),
            breaker_heard(events_c),
        );
        let mut last = started;
        for poller in pollers {
            last = last.max(poller.await.unwrap());
        }
        refused.push(last - started);
        heard.push(heard_b.max(heard_c) - started);
        acknowledged.push(ack - started);
        sqlx::query(
            "UPDATE breaker SET tripped = FALSE, tripped_by = NULL, tripped_at = NULL, reason = NULL WHERE id = 1",
        )
        .execute(&reset)
        .await
        .unwrap();
    }
    println!(
        "{:<52} {:>6} {:>10} {:>10} {:>10}",
        "3 instances, one PostgreSQL, loopback", "n", "p50 ms", "p99 ms", "max ms"
    );
    row(
        "pause sent -> B and C both refuse mints (423)",
        &mut refused,
    );
    row(
        "pause sent -> consoles on B and C hear it (NOTIFY)",
        &mut heard,
    );
    row(
        "pause sent -> A acknowledges (breaker + ledger)",
        &mut acknowledged,
    );
    reset.close().await;
    for instance in [b, c, world.server] {
        instance.shutdown().await.unwrap();
    }
}
