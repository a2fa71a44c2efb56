//! The emergency pause: one responder's device signature trips the breaker and pauses the token on
//! the ledger; every state-changing request is then refused (423) with who, when and why, on every
//! instance and after a restart; pausing twice is harmless; a replayed signed pause is refused and
//! audited; a non-responder cannot pause.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use gatehouse_protocol::Role;
use gatehouse_protocol::pause::{Breaker, NewPause, PauseRequest, SignedPause};
use gatehouse_protocol::proposal::{NewMint, Proposal, ProposalStatus};
use gatehouse_server::testing::Backend;
use hiero_sdk_proto::services as pb;
use prost::Message as _;

use crate::identity::connect;
use crate::on_both_backends;
use crate::proposals::{World, approve, refused};

on_both_backends!(
    one_responder_pauses_every_change_and_a_restart_stays_paused,
    no_mint_executes_after_the_pause_is_acknowledged,
);

/// Three instances on one PostgreSQL: a pause through A reaches B's and C's consoles (the event
/// relayed by LISTEN/NOTIFY) and B and C refuse mints at once (they read the breaker on every
/// change); C killed while paused comes back paused. The propagation is printed; its target is
/// the `pause` benchmark's business, not this test's.
#[tokio::test]
async fn three_instances_on_one_postgres() {
    let world = World::new(
        Backend::Postgres,
        &[
            ("alice", &[Role::Officer]),
            ("bob", &[Role::Officer]),
            ("carol", &[Role::Officer, Role::Responder]),
            ("erin", &[Role::Admin]),
        ],
        |_| {},
    )
    .await;
    // B and C share the database and A's ledger (the simulator inside A).
    let mut config = world.deployment.config.clone();
    config.ledger = world.server.state.ledger.as_ref().and_then(|l| l.sibling());
    assert!(config.ledger.is_some(), "A runs the simulator");
    let b = gatehouse_server::start(&config).await.expect("instance B");
    let c = gatehouse_server::start(&config).await.expect("instance C");
    let on = |addr, name: &str| connect(&world.deployment, addr, &world.files[name]);
    let (alice_b, alice_c) = (on(b.addr, "alice"), on(c.addr, "alice"));
    let mut events_b = alice_b.events().await.expect("B's event stream");
    let mut events_c = alice_c.events().await.expect("C's event stream");
    // The relays LISTEN a moment after the instances start: wait until B and C hear A.
    for events in [&mut events_b, &mut events_c] {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                world
                    .server
                    .state
                    .events
                    .publish(gatehouse_protocol::proposal::Event::new("resync", None));
                let heard =
                    tokio::time::timeout(std::time::Duration::from_millis(300), events.next());
                if let Ok(Some(_)) = heard.await {
                    break;
                }
            }
        })
        .await
        .expect("the relay listens within 10 s");
    }
    let open = |conn: &gatehouse_client::Connection, uri: &'static str| {
        let conn = conn.clone();
        async move {
            conn.post::<_, Proposal>("/v1/proposals/mint", &mint(uri))
                .await
        }
    };
    let before: Proposal = open(&alice_b, "ipfs://before")
        .await
        .expect("B takes mints before");

    let started = std::time::Instant::now();
    let tripped = pause_as(&world.conns["carol"], &world.keys["carol"], "drill")
        .await
        .expect("carol pauses through A");
    assert!(tripped.tripped);
    for (name, conn) in [("B", &alice_b), ("C", &alice_c)] {
        let why = refused(open(conn, "ipfs://after").await, "Paused");
        assert!(
            why.contains("carol") && why.contains("drill"),
            "{name}: {why}"
        );
    }
    eprintln!(
        "pause through A -> B and C refuse mints: {:?} (acknowledgement included)",
        started.elapsed()
    );
    for (name, events) in [("B", &mut events_b), ("C", &mut events_c)] {
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                match events.next().await {
                    Some(Ok(e)) if e.kind == "breaker" => break e,
                    Some(_) => {}
                    None => panic!("{name}'s stream ended"),
                }
            }
        })
        .await;
        assert!(
            heard.is_ok(),
            "{name}'s consoles hear the breaker within 5 s"
        );
    }
    refused(
        approve(&alice_b, &before.id, &world.keys["alice"]).await,
        "Paused",
    );

    // C dies while paused (no clean shutdown) and comes back paused.
    drop(events_c);
    c.abort();
    let c = gatehouse_server::start(&config).await.expect("C restarts");
    let why = refused(open(&on(c.addr, "bob"), "ipfs://restarted").await, "Paused");
    assert!(why.contains("carol"), "{why}");
    for instance in [b, c, world.server] {
        instance.shutdown().await.expect("clean shutdown");
    }
}

/// Asks `ask` (with `what`) for a TokenPause or TokenUnpause body, signs it with `key`, sends the
/// signature to `send`: the breaker after it.
pub(crate) async fn sign_breaker_body(
    conn: &gatehouse_client::Connection,
    key: &ed25519_dalek::SigningKey,
    ask: &str,
    what: &impl serde::Serialize,
    send: &str,
) -> Result<Breaker, gatehouse_client::connection::Error> {
    let request: PauseRequest = conn.post(ask, what).await?;
    let body = B64.decode(&request.body).expect("base64");
    conn.post(
        send,
        &SignedPause {
            request: request.request,
            signature: B64.encode(key.sign(&body).to_bytes()),
            device: None,
        },
    )
    .await
}

/// A responder pauses with `key`, for `reason`.
pub(crate) async fn pause_as(
    conn: &gatehouse_client::Connection,
    key: &ed25519_dalek::SigningKey,
    reason: &str,
) -> Result<Breaker, gatehouse_client::connection::Error> {
    let reason = NewPause {
        reason: reason.to_owned(),
    };
    sign_breaker_body(conn, key, "/v1/pause/request", &reason, "/v1/pause").await
}

pub(crate) fn mint(uri: &str) -> NewMint {
    NewMint {
        metadata: vec![uri.to_owned()],
        documents: Vec::new(),
    }
}

async fn one_responder_pauses_every_change_and_a_restart_stays_paused(backend: Backend) {
    let world = World::new(
        backend,
        &[
            ("alice", &[Role::Officer]),
            ("bob", &[Role::Officer]),
            ("carol", &[Role::Officer, Role::Responder]),
            ("dave", &[Role::Compliance]),
            ("erin", &[Role::Admin]),
        ],
        |_| {},
    )
    .await;
    let (alice, bob, carol) = (
        &world.conns["alice"],
        &world.conns["bob"],
        &world.conns["carol"],
    );
    let (kb, kc) = (&world.keys["bob"], &world.keys["carol"]);
    let (server, deployment, token) = (world.server, world.deployment, world.token);
    let waiting: Proposal = alice
        .post("/v1/proposals/mint", &mint("ipfs://before"))
        .await
        .expect("a mint waits for approval");
    let open: Breaker = bob.get("/v1/breaker").await.expect("anyone reads it");
    assert!(!open.tripped);

    // Only a responder pauses.
    refused(
        alice
            .post::<_, PauseRequest>("/v1/pause/request", &NewPause::default())
            .await,
        "Forbidden",
    );

    // Carol's device signs the TokenPause body the server hands her: one signature.
    let request: PauseRequest = carol
        .post(
            "/v1/pause/request",
            &NewPause {
                reason: "  the supply key may have leaked\n".into(),
            },
        )
        .await
        .expect("carol asks for the body");
    let body = B64.decode(&request.body).expect("base64");
    let decoded = pb::TransactionBody::decode(body.as_slice()).expect("a transaction body");
    assert!(
        matches!(
            decoded.data,
            Some(pb::transaction_body::Data::TokenPause(_))
        ),
        "{decoded:?}"
    );
    assert_eq!(
        decoded.memo,
        "gatehouse pause the supply key may have leaked"
    );
    let signed = SignedPause {
        request: request.request.clone(),
        signature: B64.encode(kc.sign(&body).to_bytes()),
        device: Some("test key".into()),
    };
    let tripped: Breaker = carol
        .post("/v1/pause", &signed)
        .await
        .expect("carol pauses");
    assert!(tripped.tripped);
    assert_eq!(tripped.by.as_deref(), Some("carol"));
    assert_eq!(
        tripped.reason.as_deref(),
        Some("the supply key may have leaked")
    );
    assert_eq!(
        tripped.ledger_status.as_deref(),
        Some("SUCCESS"),
        "{tripped:?}"
    );
    let mirror = server.state.ledger.as_ref().expect("a ledger").mirror()[0].clone();
    let on_ledger: serde_json::Value = reqwest::get(format!("{mirror}/api/v1/tokens/{token}"))
        .await
        .expect("the mirror answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(on_ledger["pause_status"], "PAUSED", "{on_ledger}");

    // Every change is refused with who, when and why; reading still works.
    let why = refused(
        alice
            .post::<_, Proposal>("/v1/proposals/mint", &mint("ipfs://after"))
            .await,
        "Paused",
    );
    assert!(
        why.contains("carol") && why.contains("the supply key may have leaked"),
        "{why}"
    );
    refused(approve(bob, &waiting.id, kb).await, "Paused");
    let still: Proposal = bob
        .get(&format!("/v1/proposals/{}", waiting.id))
        .await
        .expect("reading is not a change");
    assert_eq!(still.status, ProposalStatus::Open);
    let _: gatehouse_protocol::audit::SearchResult = world.conns["dave"]
        .post(
            "/v1/audit/search",
            &gatehouse_protocol::audit::SearchRequest {
                tag: "client-ip".into(),
                value: "127.0.0.1".into(),
            },
        )
        .await
        .expect("compliance searches the audit log while paused");

    // A replayed signed pause is refused (and audited); pausing again is harmless.
    refused(
        carol.post::<_, Breaker>("/v1/pause", &signed).await,
        "Conflict",
    );
    let again: PauseRequest = carol
        .post("/v1/pause/request", &NewPause::default())
        .await
        .expect("a second pause request");
    let body = B64.decode(&again.body).expect("base64");
    let twice: Breaker = carol
        .post(
            "/v1/pause",
            &SignedPause {
                request: again.request,
                signature: B64.encode(kc.sign(&body).to_bytes()),
                device: None,
            },
        )
        .await
        .expect("pausing twice is harmless");
    assert_eq!(
        (twice.by, twice.at, twice.reason),
        (tripped.by, tripped.at, tripped.reason),
        "the first pause is the one recorded"
    );
    let entries: Vec<(String, String)> = crate::audit::fetch_all(
        &server.state.db,
        "SELECT action, outcome FROM audit_entries WHERE action LIKE 'breaker.%'",
    )
    .await;
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|(a, o)| a == action && o == outcome)
            .count()
    };
    assert_eq!(count("breaker.pause", "success"), 2, "{entries:?}");
    assert_eq!(
        count("breaker.pause", "denied"),
        1,
        "the replay: {entries:?}"
    );
    assert_eq!(count("breaker.ledger-pause", "success"), 2, "{entries:?}");

    // Other instances on the same database: `three_instances_on_one_postgres`.
    server.shutdown().await.expect("clean shutdown");
    let restarted = deployment.start().await;
    let alice = connect(&deployment, restarted.addr, &world.files["alice"]);
    refused(
        alice
            .post::<_, Proposal>("/v1/proposals/mint", &mint("ipfs://restarted"))
            .await,
        "Paused",
    );
    restarted.shutdown().await.expect("clean shutdown");
}

/// Approvals keep arriving while a responder pauses: each one either executed before the pause
/// was acknowledged, or is refused; none executes after.
async fn no_mint_executes_after_the_pause_is_acknowledged(backend: Backend) {
    let world = World::new(
        backend,
        &[
            ("alice", &[Role::Officer]),
            ("bob", &[Role::Officer]),
            ("carol", &[Role::Officer]),
            ("dave", &[Role::Responder]),
            ("erin", &[Role::Admin]),
        ],
        |_| {},
    )
    .await;
    let [alice, bob, carol, dave] =
        ["alice", "bob", "carol", "dave"].map(|n| world.conns[n].clone());
    let [kb, kc, kd] = ["bob", "carol", "dave"].map(|n| world.keys[n].clone());
    let server = world.server;
    // Twelve mints, each one approval short.
    let mut mints = Vec::new();
    for i in 0..12 {
        let p: Proposal = alice
            .post("/v1/proposals/mint", &mint(&format!("ipfs://race-{i}")))
            .await
            .expect("a mint");
        approve(&bob, &p.id, &kb).await.expect("bob approves");
        mints.push(p.id);
    }
    // Carol completes them one after another while dave pauses after the third.
    let (third, at_third) = tokio::sync::oneshot::channel();
    let ids = mints.clone();
    let racer = tokio::spawn(async move {
        let mut third = Some(third);
        let mut outcomes = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let result = approve(&carol, id, &kc).await;
            outcomes.push((id.clone(), result.map(|p| p.status)));
            if i == 2
                && let Some(third) = third.take()
            {
                let _ = third.send(());
            }
        }
        outcomes
    });
    at_third.await.expect("three approvals went through");
    let tripped = pause_as(&dave, &kd, "race").await.expect("dave pauses");
    let acknowledged = chrono::Utc::now();
    assert!(tripped.tripped);
    let outcomes = racer.await.expect("the approvals ran");
    let mut executed = 0;
    for (id, result) in &outcomes {
        let p: Proposal = alice
            .get(&format!("/v1/proposals/{id}"))
            .await
            .expect("the proposal");
        match (result, p.status) {
            (Ok(ProposalStatus::Executed), ProposalStatus::Executed) => {
                executed += 1;
                let at = p.outcome.expect("an outcome").at;
                assert!(
                    at <= acknowledged,
                    "{id} executed at {at}, after the pause was acknowledged at {acknowledged}"
                );
            }
            (Err(_), ProposalStatus::Open) => {}
            other => panic!("{id}: executed before the pause or refused, not {other:?}"),
        }
    }
    assert!(executed >= 3, "the three before the pause executed");
    assert!(
        outcomes.iter().any(|(_, r)| r.is_err()),
        "the last approvals came after the pause: {outcomes:?}"
    );
    server.shutdown().await.expect("clean shutdown");
}
