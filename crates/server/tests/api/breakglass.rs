//! Break-glass: with the server down, a responder pauses the token straight on the ledger, paid by
//! their own account and signed by their key; the mirror shows it PAUSED; the signed record waits
//! in the responder's queue and reaches the audit log once the server is back, tripping the
//! breaker there too. Delivering it twice changes nothing; a record for another token, or with a
//! signature that does not verify, is refused.
//!
//! The ledger runs apart from the server here (a simulator of its own), as Hedera does: stopping
//! the server must not stop the ledger.

use ed25519_dalek::Signer as _;
use gatehouse_client::breakglass::{self, BreakGlass, DeliverError};
use gatehouse_keys::key::{Algorithm, PublicKey};
use gatehouse_protocol::Role;
use gatehouse_protocol::hedera::Action as BodyAction;
use gatehouse_protocol::pause::{BreakGlassAccount, Breaker, NewBreakGlassAccount};
use gatehouse_server::config::Ledger;
use gatehouse_server::testing::Backend;

use crate::identity::connect;
use crate::proposals::{World, refused};

const BREAK_GLASS_ACCOUNTS: &str = "/v1/pause/break-glass/accounts";

#[tokio::test]
async fn break_glass_pauses_the_ledger_with_the_server_down_and_reaches_the_audit_log_later() {
    let ledger_dir = tempfile::tempdir().expect("a directory for the ledger");
    let sim = gatehouse_ledger_sim::Simulator::start(gatehouse_ledger_sim::Config::ephemeral(
        ledger_dir.path(),
    ))
    .await
    .expect("the ledger starts");
    let network = Ledger::Network {
        nodes: [(sim.grpc_addr.to_string(), "0.0.3".to_owned())].into(),
        mirror: vec![sim.mirror_url()],
        operator_account: sim.operator_account.clone(),
        operator_key: sim.operator_key_file.clone().expect("an operator key"),
    };
    let world = World::new(
        Backend::Sqlite,
        &[
            ("alice", &[Role::Officer]),
            ("bob", &[Role::Officer]),
            ("carol", &[Role::Officer, Role::Responder]),
            ("erin", &[Role::Admin]),
        ],
        |config| config.ledger = Some(network),
    )
    .await;
    let carol_key = world.keys["carol"].clone();
    let carol_public =
        PublicKey::from_bytes(Algorithm::Ed25519, carol_key.verifying_key().as_bytes())
            .expect("a public key");

    // Carol's own account, keyed by her ledger key and funded: break-glass needs nothing else.
    // The administrator has the server create it; nobody else may, and only for a responder.
    let erin = &world.conns["erin"];
    let ask = |person: &str, hbar: u32| NewBreakGlassAccount {
        person: person.to_owned(),
        hbar,
    };
    for (who, person, hbar, code, needle) in [
        ("carol", "carol", 10, "Forbidden", "needs the admin role"),
        (
            "erin",
            "bob",
            10,
            "BadRequest",
            "bob is not a registered responder",
        ),
        ("erin", "carol", 1000, "BadRequest", "1 to 100 hbar"),
    ] {
        let why = refused(
            world.conns[who]
                .post::<_, BreakGlassAccount>(BREAK_GLASS_ACCOUNTS, &ask(person, hbar))
                .await,
            code,
        );
        assert!(why.contains(needle), "{who} for {person}: {why}");
    }
    let made: BreakGlassAccount = erin
        .post(BREAK_GLASS_ACCOUNTS, &ask("carol", 10))
        .await
        .expect("the account is created");
    assert_eq!(made.token, world.token);
    assert_eq!(made.node, sim.grpc_addr.to_string());
    assert_eq!(made.node_account, "0.0.3");
    assert_eq!(made.mirror, sim.mirror_url());
    assert_eq!(made.public_key, hex::encode(carol_public.as_bytes()));
    let payer = made.account.clone();
    let config_dir = tempfile::tempdir().expect("carol's config directory");
    let files = BreakGlass::of(config_dir.path(), "carol");
    let addresses = breakglass::Ledger {
        node: made.node.clone(),
        node_account: made.node_account.clone(),
        mirror: made.mirror.clone(),
        payer: payer.clone(),
        token: made.token.clone(),
        payer_key: None,
    };
    // Set-up reads the account's key from the mirror: the key that must sign.
    let set = files
        .set_up(addresses.clone())
        .await
        .expect("break-glass is set up");
    let recorded = set.payer_key.clone().expect("the payer's key is recorded");
    assert!(recorded.is(&carol_public), "{recorded}");
    assert_eq!(files.ledger().expect("the file"), set);
    let unfunded = files
        .set_up(breakglass::Ledger {
            payer: "0.0.999999".into(),
            ..addresses.clone()
        })
        .await
        .expect_err("an account the mirror does not know");
    assert!(
        unfunded
            .to_string()
            .contains("the mirror cannot show account 0.0.999999"),
        "{unfunded}"
    );
    assert_eq!(
        files.ledger().expect("the file"),
        set,
        "a refused set-up changes nothing"
    );

    // The server goes down.
    let World {
        deployment,
        server,
        token,
        files: people,
        ..
    } = world;
    server.shutdown().await.expect("clean shutdown");

    // Carol's device signs the TokenPause shown to her; it goes straight to the node.
    let ledger = files.ledger().expect("the addresses");
    let (bytes, view) = breakglass::pause_body(&ledger, "server down\n drill").expect("a body");
    assert!(
        matches!(&view.action, BodyAction::TokenPause { token: t } if *t == token),
        "{view:?}"
    );
    assert_eq!(view.payer, payer, "paid by carol's own account");
    // Another key than the account's: refused before anything reaches the node.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let stranger_public =
        PublicKey::from_bytes(Algorithm::Ed25519, stranger.verifying_key().as_bytes())
            .expect("a public key");
    let wrong = breakglass::submit(
        &ledger,
        bytes.clone(),
        &stranger_public,
        stranger.sign(&bytes).to_bytes().to_vec(),
        None,
    )
    .await
    .expect_err("a key that is not the payer's");
    assert!(
        matches!(wrong, breakglass::Error::WrongKey { .. }),
        "{wrong}"
    );
    // A node that cannot be reached, and a mirror that shows no pause: said, and nothing queued
    // (the responder reaches another node or responder).
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let unreachable = breakglass::submit(
        &breakglass::Ledger {
            node: format!("127.0.0.1:{dead_port}"),
            ..ledger.clone()
        },
        bytes.clone(),
        &carol_public,
        carol_key.sign(&bytes).to_bytes().to_vec(),
        None,
    )
    .await
    .expect_err("no node answered");
    assert!(
        unreachable
            .to_string()
            .contains("the mirror does not show the token paused"),
        "{unreachable}"
    );
    let signature = carol_key.sign(&bytes).to_bytes().to_vec();
    let (record, mirror_paused) = breakglass::submit(
        &ledger,
        bytes,
        &carol_public,
        signature,
        Some("test key".into()),
    )
    .await
    .expect("the ledger pauses the token");
    assert!(mirror_paused, "the mirror shows the token PAUSED");
    assert_eq!(record.ledger_status, "SUCCESS");
    let on_mirror: serde_json::Value =
        reqwest::get(format!("{}/api/v1/tokens/{token}", sim.mirror_url()))
            .await
            .expect("the mirror answers")
            .json()
            .await
            .expect("JSON");
    assert_eq!(on_mirror["pause_status"], "PAUSED");
    files.enqueue(record.clone()).expect("queued");

    // Nobody to deliver to yet: the record stays queued.
    let carol_files = people["carol"].clone();
    let dead = connect(&deployment, server_addr_gone(), &carol_files);
    assert!(matches!(
        files.deliver(&dead).await,
        Err(DeliverError::Server(_))
    ));
    assert_eq!(files.pending().expect("the queue").len(), 1);

    // The server is back: the record reaches the audit log and the backend stops too.
    let back = deployment.start().await;
    let carol = connect(&deployment, back.addr, &carol_files);
    assert_eq!(files.deliver(&carol).await.expect("delivered"), 1);
    let breaker = back
        .state
        .proposals
        .as_ref()
        .expect("proposals")
        .breaker()
        .await
        .expect("the breaker");
    assert!(breaker.tripped, "{breaker:?}");
    assert_eq!(breaker.by.as_deref(), Some("carol"));
    assert_eq!(breaker.reason.as_deref(), Some("server down drill"));
    assert_eq!(
        breaker.ledger_transaction.as_deref(),
        Some(record.transaction_id.as_str())
    );
    assert!(
        breaker
            .ledger_status
            .as_deref()
            .is_some_and(|s| s.contains("break-glass")),
        "{breaker:?}"
    );
    assert_eq!(breaker.ledger_paused, Some(true));
    assert!(
        files.pending().expect("the queue").is_empty(),
        "delivered: the queue is empty"
    );

    // Twice: harmless. Another responder's key, a tampered body: refused.
    let again: Breaker = carol
        .post("/v1/pause/break-glass", &record)
        .await
        .expect("delivering twice is harmless");
    assert_eq!((again.by, again.at), (breaker.by.clone(), breaker.at));
    let mut tampered = record.clone();
    tampered.signature =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0u8; 64]);
    refused(
        carol
            .post::<_, Breaker>("/v1/pause/break-glass", &tampered)
            .await,
        "BadRequest",
    );
    let alice = connect(&deployment, back.addr, &people["alice"]);
    refused(
        alice
            .post::<_, Breaker>("/v1/pause/break-glass", &record)
            .await,
        "Forbidden",
    );
    let entries = crate::audit::entries_of(&back.state.db, "breaker.break-glass").await;
    let successes: Vec<_> = entries.iter().filter(|(o, _)| o == "success").collect();
    assert_eq!(successes.len(), 2, "{entries:?}");
    assert!(
        successes[0].1.contains(&record.transaction_id),
        "{entries:?}"
    );
    assert!(
        successes
            .iter()
            .any(|(_, d)| d.contains("\"already_recorded\":true")),
        "the second delivery is recorded as such: {entries:?}"
    );
    assert_eq!(
        entries.iter().filter(|(o, _)| o == "denied").count(),
        1,
        "the tampered record: {entries:?}"
    );
    back.shutdown().await.expect("clean shutdown");
    sim.shutdown().await;
}

/// A loopback address where nothing listens.
fn server_addr_gone() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    addr
}
