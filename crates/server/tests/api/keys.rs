//! Step 2 of a key rotation (issue 16): each key holder stages their next ledger key, generated on
//! their own device and handed in with its evidence, which the deployment's policy judges as it
//! judges an enrolment. Under production: an attestation from a root the deployment does not
//! trust, one that certifies another key, a slot that does not ask for the PIN and a touch on
//! every signature, and a software key are refused, each saying why; an attested key and a
//! token-born (self-reported) key are taken. A newer staged key replaces the older; a key already
//! enrolled cannot be staged; the staged keys are listed apart from the enrolled ones (nothing
//! signs with them until a rotation takes effect). Every step is audited.

use ed25519_dalek::SigningKey;
use gatehouse_keys::testing::{DeviceFacts, ed25519_attestation_chain};
use gatehouse_protocol::Role;
use gatehouse_protocol::proposal::{LedgerKey, LedgerKeyAlgorithm, LedgerKeyEnrolment};
use gatehouse_server::config::KeyPolicy;
use gatehouse_server::testing::{Backend, TestDeployment};

use crate::identity::connect;
use crate::proposals::refused;

const STAGED: &str = "/v1/ledger-keys/staged";

fn offer(public_key: &[u8], evidence: serde_json::Value) -> LedgerKeyEnrolment {
    LedgerKeyEnrolment {
        algorithm: LedgerKeyAlgorithm::Ed25519,
        public_key: hex::encode(public_key),
        evidence,
        device: Some("test device".into()),
    }
}

fn token_born() -> serde_json::Value {
    serde_json::json!({
        "kind": "self-reported",
        "local": true,
        "never_extractable": true,
        "always_sensitive": true,
        "sensitive": true,
        "extractable": false,
    })
}

fn public(seed: u8) -> Vec<u8> {
    SigningKey::from_bytes(&[seed; 32])
        .verifying_key()
        .as_bytes()
        .to_vec()
}

/// A YubiKey 5.7.1's facts with PIN policy `pin` and touch policy `touch` (Yubico's codes).
fn facts(pin: u8, touch: u8) -> DeviceFacts {
    DeviceFacts {
        firmware: [5, 7, 1],
        serial: 31_415_926,
        policy: [pin, touch],
        form_factor: 3,
    }
}

async fn staging_the_next_key(backend: Backend) {
    let mut deployment = TestDeployment::new(backend).await;
    deployment.config.keys.policy = KeyPolicy::Production;
    // Two chains under roots the deployment trusts: one for a slot that asks for the PIN and a
    // touch every time (Yubico's codes 3 and 2), one for a slot that asks once and caches touches.
    let (trusted, trusted_key) = ed25519_attestation_chain("Trusted Test PIV Root", facts(3, 2));
    let (lax, lax_key) = ed25519_attestation_chain("Trusted Test PIV Root B", facts(2, 3));
    for (name, chain) in [("trusted", &trusted), ("lax", &lax)] {
        let root = deployment.dir.path().join(format!("{name}-piv-root.der"));
        std::fs::write(&root, &chain.root).expect("write the root");
        deployment.config.keys.attestation_roots.push(root);
    }
    let alice_files = deployment.enrol("alice", &[Role::Officer]).await;
    let bob_files = deployment.enrol("bob", &[Role::Officer]).await;
    let dave_files = deployment.enrol("dave", &[Role::Compliance]).await;
    let server = deployment.start().await;
    let alice = connect(&deployment, server.addr, &alice_files);
    let bob = connect(&deployment, server.addr, &bob_files);
    let dave = connect(&deployment, server.addr, &dave_files);
    let attested = |chain: &gatehouse_keys::testing::AttestationChain| {
        serde_json::to_value(gatehouse_keys::evidence::Evidence::Attested(
            chain.attestation.clone(),
        ))
        .expect("JSON")
    };

    // Alice's current key, born on her token.
    let enrolled: LedgerKey = alice
        .post("/v1/ledger-keys", &offer(&public(1), token_born()))
        .await
        .expect("alice enrols");
    assert_eq!(enrolled.evidence, "self-reported");

    // Refusals, each saying why, and nothing staged by them.
    let (stranger, stranger_key) = ed25519_attestation_chain("Unknown Root", facts(3, 2));
    for (what, request, code, needle) in [
        (
            "a software key",
            offer(&public(2), serde_json::json!({ "kind": "software" })),
            "BadRequest",
            "software key: not for production",
        ),
        (
            "an attestation from a root the deployment does not trust",
            offer(&stranger_key, attested(&stranger)),
            "BadRequest",
            "the attestation does not verify",
        ),
        (
            "an attestation of another key",
            offer(&public(3), attested(&trusted)),
            "BadRequest",
            "the attestation does not verify",
        ),
        (
            "a slot that asks for the PIN once and caches touches",
            offer(&lax_key, attested(&lax)),
            "BadRequest",
            "a ledger key must ask for the PIN on every signature (the slot's PIN policy is Once) and a touch on every signature (the slot's touch policy is Cached)",
        ),
        (
            "alice's current key",
            offer(&public(1), token_born()),
            "Conflict",
            "your current ledger key",
        ),
        (
            "a token key not reported as born on it",
            offer(
                &public(4),
                serde_json::json!({ "kind": "self-reported", "local": false, "never_extractable": true, "sensitive": true, "extractable": false }),
            ),
            "BadRequest",
            "does not report the key as generated on it",
        ),
    ] {
        let why = refused(alice.post::<_, LedgerKey>(STAGED, &request).await, code);
        assert!(why.contains(needle), "{what}: {why}");
    }
    let none: Vec<LedgerKey> = alice.get(STAGED).await.expect("the staged keys");
    assert!(none.is_empty(), "nothing refused is staged: {none:?}");

    // Taken: bob's attested key (chain to the trusted root, PIN and touch always).
    let staged: LedgerKey = bob
        .post(STAGED, &offer(&trusted_key, attested(&trusted)))
        .await
        .expect("bob stages an attested key");
    assert_eq!(
        (staged.officer.as_str(), staged.evidence.as_str()),
        ("bob", "attested")
    );
    // Alice stages a token-born key, then another: the newer replaces the older.
    let first: LedgerKey = alice
        .post(STAGED, &offer(&public(5), token_born()))
        .await
        .expect("alice stages a key");
    let second: LedgerKey = alice
        .post(STAGED, &offer(&public(6), token_born()))
        .await
        .expect("alice stages another");
    let listed: Vec<LedgerKey> = dave.get(STAGED).await.expect("anyone reads them");
    assert_eq!(
        listed
            .iter()
            .map(|k| (k.officer.as_str(), k.public_key.as_str()))
            .collect::<Vec<_>>(),
        [
            ("alice", second.public_key.as_str()),
            ("bob", staged.public_key.as_str())
        ]
    );
    // Bob cannot stage alice's key; compliance cannot stage at all.
    let why = refused(
        bob.post::<_, LedgerKey>(STAGED, &offer(&public(6), token_born()))
            .await,
        "Conflict",
    );
    assert!(why.contains("staged by alice"), "{why}");
    refused(
        dave.post::<_, LedgerKey>(STAGED, &offer(&public(7), token_born()))
            .await,
        "Forbidden",
    );
    // The enrolled keys are what they were: nothing signs with a staged key yet.
    let keys: Vec<LedgerKey> = dave.get("/v1/ledger-keys").await.expect("the keys");
    assert_eq!(
        keys.iter()
            .map(|k| (k.officer.as_str(), k.public_key.as_str()))
            .collect::<Vec<_>>(),
        [("alice", enrolled.public_key.as_str())]
    );

    let entries = crate::audit::entries_of(&server.state.db, "ledger-key.stage").await;
    let denied = entries.iter().filter(|(o, _)| o == "denied").count();
    assert_eq!(denied, 5, "every policy refusal is audited: {entries:?}");
    assert!(
        entries.iter().any(|(o, d)| o == "success"
            && d.contains(&second.public_key)
            && d.contains(&format!("\"replaces\":\"{}\"", first.public_key))),
        "the replacement names the key it replaces: {entries:?}"
    );
    server.shutdown().await.expect("clean shutdown");
}

crate::on_both_backends!(staging_the_next_key);
