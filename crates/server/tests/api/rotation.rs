//! Key rotation on the ledger simulator: the registry's token keys, the rotation proposal and its
//! refusals, the quorum's approvals, execution, the mirror's confirmation, retirement, and what
//! the old and new keys can do afterwards.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use gatehouse_protocol::Role;
use gatehouse_protocol::hedera::{KeyView, ScheduledAction, decode_scheduled};
use gatehouse_protocol::policy::{CurrentPolicy, NewRule};
use gatehouse_protocol::proposal::{
    ApprovalRequest, KeyRole, LedgerKey, LedgerKeyAlgorithm, LedgerKeyEnrolment, NewMint,
    NewOffboarding, NewOnboarding, NewRotation, Payload, Proposal, ProposalKind, ProposalStatus,
    RoleKey, SignedApproval,
};
use gatehouse_server::testing::Backend;
use hiero_sdk_proto::services as pb;

use crate::on_both_backends;
use crate::proposals::{World, approve, around_the_server, key, reconciler, refused};

on_both_backends!(
    a_supply_rotation_replaces_the_keys_that_mint_and_every_refusal_holds,
    an_offboarding_removes_an_officer_everywhere_or_says_what_would_break,
    admin_and_treasury_rotations_take_the_new_keys_signatures_and_move_the_nfts,
    a_new_officer_joins_the_admin_key_only_through_the_quorum,
    an_officer_joins_her_keys_and_gets_her_device_certificate_in_one_proposal,
);

const OFFICER: &[Role] = &[Role::Officer];

async fn stage(
    conn: &gatehouse_client::Connection,
    key: &SigningKey,
) -> Result<LedgerKey, gatehouse_client::connection::Error> {
    conn.post(
        "/v1/ledger-keys/staged",
        &LedgerKeyEnrolment {
            algorithm: LedgerKeyAlgorithm::Ed25519,
            public_key: hex::encode(key.verifying_key().as_bytes()),
            evidence: serde_json::json!({ "kind": "software" }),
            device: Some("new test key".into()),
        },
    )
    .await
}

fn rotation(role: KeyRole, threshold: u32, holders: &[&str]) -> NewRotation {
    NewRotation {
        role,
        threshold,
        holders: holders.iter().map(|h| (*h).to_owned()).collect(),
    }
}

async fn propose(
    conn: &gatehouse_client::Connection,
    new: &NewRotation,
) -> Result<Proposal, gatehouse_client::connection::Error> {
    conn.post("/v1/proposals/rotation", new).await
}

/// Proposes minting one NFT with `metadata`.
async fn propose_mint(conn: &gatehouse_client::Connection, metadata: &str) -> Proposal {
    conn.post(
        "/v1/proposals/mint",
        &NewMint {
            metadata: vec![metadata.to_owned()],
            documents: Vec::new(),
        },
    )
    .await
    .expect("a mint is proposed")
}

async fn token_keys(conn: &gatehouse_client::Connection) -> Vec<RoleKey> {
    conn.get("/v1/token-keys").await.expect("the token's keys")
}

fn role(keys: &[RoleKey], role: KeyRole) -> RoleKey {
    keys.iter()
        .find(|k| k.role == role)
        .cloned()
        .expect("the role's key")
}

fn hex_of(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

fn token_id(token: &str) -> pb::TokenId {
    pb::TokenId {
        shard_num: 0,
        realm_num: 0,
        token_num: token
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a token number"),
    }
}

/// The mirror's record at `path` (`tokens/0.0.5`, `accounts/0.0.9`).
async fn mirror_get(mirror: &str, path: &str) -> serde_json::Value {
    reqwest::get(format!("{mirror}/api/v1/{path}"))
        .await
        .expect("the mirror answers")
        .json()
        .await
        .expect("JSON")
}

fn mint_data(token: &str, item: &str) -> pb::transaction_body::Data {
    pb::transaction_body::Data::TokenMint(pb::TokenMintTransactionBody {
        token: Some(token_id(token)),
        amount: 0,
        metadata: vec![item.as_bytes().to_vec()],
    })
}

/// The token's world: erin administers; alice, bob, carol and dave are officers (their keys make
/// the admin and supply keys, 2 of 4); carol and frank are responders (the pause key, 1 of 2);
/// gina is compliance.
async fn world(backend: Backend) -> World {
    World::new(
        backend,
        &[
            ("erin", &[Role::Admin]),
            ("alice", OFFICER),
            ("bob", OFFICER),
            ("carol", &[Role::Officer, Role::Responder]),
            ("dave", OFFICER),
            ("frank", &[Role::Responder]),
            ("gina", &[Role::Compliance]),
        ],
        |_| {},
    )
    .await
}

async fn a_supply_rotation_replaces_the_keys_that_mint_and_every_refusal_holds(backend: Backend) {
    let world = world(backend).await;
    let (alice, bob, carol, frank) = (
        &world.conns["alice"],
        &world.conns["bob"],
        &world.conns["carol"],
        &world.conns["frank"],
    );
    let server = &world.server;
    let mirror = server.state.ledger.as_ref().expect("a ledger").mirror()[0].clone();
    let old = |name: &str| world.keys[name].clone();

    // The registry's keys, read from the token's creation: admin, supply and treasury 2 of the
    // four officers; pause 1 of the two responders.
    let before = token_keys(&world.conns["gina"]).await;
    assert_eq!(
        before.iter().map(|k| k.role).collect::<Vec<_>>(),
        KeyRole::ALL.to_vec()
    );
    let supply = role(&before, KeyRole::Supply);
    assert_eq!(supply.holders_text(), "2 of alice, bob, carol, dave");
    assert_eq!(supply.members[0].public_key, hex_of(&old("alice")));
    assert_eq!(
        role(&before, KeyRole::Pause).holders_text(),
        "1 of carol, frank"
    );
    assert_eq!(
        role(&before, KeyRole::Treasury).protobuf,
        role(&before, KeyRole::Admin).protobuf
    );

    // Refusals before anything reaches the ledger, each naming what to do.
    let everyone = ["alice", "bob", "carol", "dave"];
    for (bad, code, needle) in [
        (
            rotation(KeyRole::Supply, 5, &everyone),
            "BadRequest",
            "threshold:",
        ),
        (
            rotation(KeyRole::Supply, 0, &everyone),
            "BadRequest",
            "threshold:",
        ),
        (rotation(KeyRole::Supply, 1, &[]), "BadRequest", "holders:"),
        (
            rotation(KeyRole::Supply, 1, &["alice", "alice"]),
            "BadRequest",
            "named twice",
        ),
        (
            rotation(KeyRole::Supply, 1, &["alice", "mallory"]),
            "BadRequest",
            "mallory is not registered",
        ),
        (
            rotation(KeyRole::Supply, 1, &["alice", "frank"]),
            "BadRequest",
            "frank is not a registered officer",
        ),
        (
            rotation(KeyRole::Supply, 2, &everyone),
            "BadRequest",
            "nothing would change",
        ),
        (
            rotation(KeyRole::Admin, 2, &everyone),
            "BadRequest",
            "nothing would change",
        ),
    ] {
        let message = refused(propose(alice, &bad).await, code);
        assert!(message.contains(needle), "{needle}: {message}");
    }
    refused(
        propose(
            &world.conns["gina"],
            &rotation(KeyRole::Supply, 2, &everyone),
        )
        .await,
        "Forbidden",
    );

    // Alice and bob generate new keys (in memory here; on devices in the CLI test) and stage them.
    let (new_alice, new_bob) = (key(11), key(12));
    stage(alice, &new_alice).await.expect("alice stages");
    stage(bob, &new_bob).await.expect("bob stages");

    // Dropping dave would leave the mint rule (2 of all four) naming someone the ledger would
    // not count; an open mint would lose its signatures.
    let message = refused(
        propose(
            alice,
            &rotation(KeyRole::Supply, 2, &["alice", "bob", "carol"]),
        )
        .await,
        "Conflict",
    );
    assert!(
        message.contains("mint rule") && message.contains("dave"),
        "{message}"
    );
    let mint = propose_mint(alice, "ipfs://before-rotation").await;
    let next = rotation(KeyRole::Supply, 2, &everyone);
    let message = refused(propose(alice, &next).await, "Conflict");
    assert!(message.contains("mint proposal(s) are open"), "{message}");
    let _: Proposal = alice
        .post(
            &format!("/v1/proposals/{}/cancel", mint.id),
            &serde_json::json!({}),
        )
        .await
        .expect("alice cancels her mint");

    // A paused token cannot be updated: the server says so and gives the safe order, instead of
    // the ledger's code.
    let paused = around_the_server(
        server,
        pb::transaction_body::Data::TokenPause(pb::TokenPauseTransactionBody {
            token: Some(token_id(&world.token)),
        }),
        &[&old("frank")],
    )
    .await
    .expect("frank's pause key pauses the token");
    assert_eq!(paused.status, pb::ResponseCodeEnum::Success as i32);
    let message = refused(propose(alice, &next).await, "Conflict");
    assert!(
        message.contains("paused on the ledger")
            && message.contains("TOKEN_IS_PAUSED")
            && message.contains("safe order")
            && !message.contains("UNRESOLVABLE"),
        "{message}"
    );
    around_the_server(
        server,
        pb::transaction_body::Data::TokenUnpause(pb::TokenUnpauseTransactionBody {
            token: Some(token_id(&world.token)),
        }),
        &[&old("frank")],
    )
    .await
    .expect("frank unpauses it");

    // The proposal: a TokenUpdate that sets the supply key and nothing else, to 2 of the new keys
    // of alice and bob and the current keys of carol and dave; the admin key's quorum approves.
    let proposal: Proposal = propose(alice, &next)
        .await
        .expect("alice proposes the rotation");
    assert_eq!(proposal.kind, ProposalKind::Rotation);
    assert_eq!(proposal.threshold, 2);
    let Payload::Rotation {
        holders,
        before: was,
        ..
    } = &proposal.payload
    else {
        panic!("a rotation: {:?}", proposal.payload)
    };
    assert_eq!(was, &supply);
    let shown: Vec<(&str, bool)> = holders
        .iter()
        .map(|h| (h.officer.as_str(), h.staged))
        .collect();
    assert_eq!(
        shown,
        [
            ("alice", true),
            ("bob", true),
            ("carol", false),
            ("dave", false)
        ]
    );
    let body = B64.decode(&proposal.scheduled_body).expect("base64");
    let view = decode_scheduled(&body).expect("decodes");
    let ScheduledAction::TokenUpdate { supply_key, .. } = &view.action else {
        panic!("a token update: {:?}", view.action)
    };
    let Some(KeyView::Threshold { threshold: 2, keys }) = supply_key else {
        panic!("a 2-of key: {supply_key:?}")
    };
    assert_eq!(
        keys[..2],
        [
            KeyView::Ed25519 {
                key: hex_of(&new_alice)
            },
            KeyView::Ed25519 {
                key: hex_of(&new_bob)
            }
        ]
    );
    gatehouse_client::proposals::check_payload(&proposal.payload, &view)
        .expect("the console accepts what the bytes do");
    let mut lied = proposal.payload.clone();
    if let Payload::Rotation { holders, .. } = &mut lied {
        holders.swap(0, 1);
    }
    assert!(
        gatehouse_client::proposals::check_payload(&lied, &view).is_err(),
        "holders the bytes do not hold are caught"
    );

    // A staged key the open rotation names cannot be swapped; another rotation waits.
    let message = refused(stage(alice, &key(21)).await, "Conflict");
    assert!(message.contains(&proposal.id), "{message}");
    refused(
        propose(bob, &rotation(KeyRole::Pause, 1, &["carol"])).await,
        "Conflict",
    );

    // The approval request names the key the ledger counts: bob's admin key, still his old one.
    let request: ApprovalRequest = bob
        .post(
            &format!("/v1/proposals/{}/approval-request", proposal.id),
            &serde_json::json!({}),
        )
        .await
        .expect("a body to sign");
    assert_eq!(request.public_key, Some(hex_of(&old("bob"))));
    let signed = old("bob").sign(&B64.decode(&request.body).expect("base64"));
    let one: Proposal = bob
        .post(
            &format!("/v1/proposals/{}/approvals", proposal.id),
            &SignedApproval {
                request: request.request,
                signature: B64.encode(signed.to_bytes()),
                device: None,
            },
        )
        .await
        .expect("bob approves");
    // Too few approvals: the proposer cannot approve, one is not enough, nothing changed.
    assert_eq!(one.status, ProposalStatus::Open);
    refused(
        approve(alice, &proposal.id, &old("alice")).await,
        "Forbidden",
    );
    assert_eq!(role(&token_keys(alice).await, KeyRole::Supply), supply);
    let done = approve(carol, &proposal.id, &old("carol"))
        .await
        .expect("carol approves");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");

    // The registry holds the new key, the mirror was seen showing it, the staged keys are in use.
    let after = role(&token_keys(alice).await, KeyRole::Supply);
    assert_eq!(after.proposal, proposal.id);
    assert_eq!(after.members[0].public_key, hex_of(&new_alice));
    assert!(after.confirmed_at.is_some(), "the mirror shows the new key");
    let on_mirror = mirror_get(&mirror, &format!("tokens/{}", world.token)).await;
    assert_eq!(
        on_mirror["supply_key"]["key"].as_str(),
        Some(after.protobuf.as_str())
    );
    let staged: Vec<LedgerKey> = alice.get("/v1/ledger-keys/staged").await.expect("staged");
    assert!(staged.is_empty(), "{staged:?}");
    let in_use: Vec<LedgerKey> = alice.get("/v1/ledger-keys").await.expect("keys");
    let alices: Vec<&str> = in_use
        .iter()
        .filter(|k| k.officer == "alice")
        .map(|k| k.public_key.as_str())
        .collect();
    assert_eq!(
        alices.len(),
        2,
        "alice's old key stays in the admin key, her new one is in the supply key: {alices:?}"
    );

    // The old supply keys can no longer mint on the ledger; the new ones can.
    let refused_old = around_the_server(
        server,
        mint_data(&world.token, "ipfs://old-keys"),
        &[&old("alice"), &old("bob")],
    )
    .await
    .expect_err("the old keys no longer mint");
    assert!(
        format!("{refused_old:?}").contains("InvalidSignature"),
        "{refused_old:?}"
    );
    let mint = propose_mint(alice, "ipfs://after-rotation").await;
    let request: ApprovalRequest = bob
        .post(
            &format!("/v1/proposals/{}/approval-request", mint.id),
            &serde_json::json!({}),
        )
        .await
        .expect("a body to sign");
    assert_eq!(
        request.public_key,
        Some(hex_of(&new_bob)),
        "a mint needs bob's supply key"
    );
    let with_old = old("bob").sign(&B64.decode(&request.body).expect("base64"));
    let message = refused(
        bob.post::<_, Proposal>(
            &format!("/v1/proposals/{}/approvals", mint.id),
            &SignedApproval {
                request: request.request,
                signature: B64.encode(with_old.to_bytes()),
                device: None,
            },
        )
        .await,
        "BadRequest",
    );
    assert!(message.contains("does not verify"), "{message}");
    approve(bob, &mint.id, &new_bob)
        .await
        .expect("bob approves with his new key");
    let minted = approve(carol, &mint.id, &old("carol"))
        .await
        .expect("carol approves");
    assert_eq!(minted.status, ProposalStatus::Executed, "{minted:?}");

    // Rotating the pause key to carol alone: frank's key is in no token key any more, so it is
    // retired, and he can no longer ask for a pause.
    let pause: Proposal = propose(carol, &rotation(KeyRole::Pause, 1, &["carol"]))
        .await
        .expect("carol proposes a new pause key");
    approve(alice, &pause.id, &old("alice"))
        .await
        .expect("alice");
    let done = approve(&world.conns["dave"], &pause.id, &old("dave"))
        .await
        .expect("dave");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    assert_eq!(
        role(&token_keys(alice).await, KeyRole::Pause).holders_text(),
        "1 of carol"
    );
    let in_use: Vec<LedgerKey> = alice.get("/v1/ledger-keys").await.expect("keys");
    assert!(in_use.iter().all(|k| k.officer != "frank"), "{in_use:?}");
    let executed = crate::audit::entries_of(&server.state.db, "proposal.execute").await;
    let (_, last) = executed.last().expect("an execution");
    let last: serde_json::Value = serde_json::from_str(last).expect("JSON details");
    assert_eq!(last["keys"]["retired"][0]["officer"], "frank", "{last}");
    let confirmed = crate::audit::entries_of(&server.state.db, "ledger-key.confirm").await;
    assert!(
        confirmed.len() >= 2,
        "each rotation confirmed on the mirror: {confirmed:?}"
    );
    let frank_request = frank
        .post::<_, serde_json::Value>(
            "/v1/pause/request",
            &serde_json::json!({ "reason": "test" }),
        )
        .await;
    let message = refused(frank_request, "Conflict");
    assert!(
        message.contains("no ledger key"),
        "frank's key was retired: {message}"
    );

    // Carol's newest key goes into the supply key only; a break-glass account made for her now is
    // keyed by her key in the pause key, the one whose signature pauses (re-creating the account
    // is how a responder follows a pause rotation).
    let carol_next = key(23);
    stage(carol, &carol_next).await.expect("carol stages a key");
    let supply_now = role(&token_keys(alice).await, KeyRole::Supply);
    let holders: Vec<&str> = supply_now
        .members
        .iter()
        .map(|m| m.officer.as_str())
        .collect();
    let next: Proposal = propose(
        alice,
        &rotation(KeyRole::Supply, supply_now.threshold, &holders),
    )
    .await
    .expect("the supply key with carol's new key");
    approve(bob, &next.id, &old("bob")).await.expect("bob");
    let done = approve(&world.conns["dave"], &next.id, &old("dave"))
        .await
        .expect("dave");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    let made: gatehouse_protocol::pause::BreakGlassAccount = world.conns["erin"]
        .post(
            "/v1/pause/break-glass/accounts",
            &gatehouse_protocol::pause::NewBreakGlassAccount {
                person: "carol".to_owned(),
                hbar: 5,
            },
        )
        .await
        .expect("a break-glass account for carol");
    assert_eq!(
        made.public_key,
        hex_of(&old("carol")),
        "her pause key, not her newest"
    );
    // The pause key rotates to her newest key, and her account follows in place.
    let pause: Proposal = propose(alice, &rotation(KeyRole::Pause, 1, &["carol"]))
        .await
        .expect("the pause key with carol's newest key");
    approve(bob, &pause.id, &old("bob")).await.expect("bob");
    let done = approve(&world.conns["dave"], &pause.id, &old("dave"))
        .await
        .expect("dave");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    rekey_break_glass(&world, &made, &old("carol"), &carol_next).await;

    // A key changed around Gatehouse (the admin quorum signing a TokenUpdate directly) is caught.
    let rogue = around_the_server(
        server,
        pb::transaction_body::Data::TokenUpdate(pb::TokenUpdateTransactionBody {
            token: Some(token_id(&world.token)),
            supply_key: Some(pb::Key {
                key: Some(pb::key::Key::Ed25519(
                    key(99).verifying_key().as_bytes().to_vec(),
                )),
            }),
            ..Default::default()
        }),
        &[&old("alice"), &old("bob")],
    )
    .await
    .expect("the admin quorum can change the supply key on the ledger");
    assert_eq!(rogue.status, pb::ResponseCodeEnum::Success as i32);
    let raised = reconciler(server, 100).run_once().await.expect("a round");
    assert!(raised >= 1, "raised {raised}");
    let alarms: Vec<gatehouse_protocol::proposal::Alarm> =
        alice.get("/v1/alarms").await.expect("alarms");
    assert!(
        alarms
            .iter()
            .any(|a| a.kind == "key-mismatch" && a.message.contains("supply key")),
        "{alarms:?}"
    );
}

/// Carol's break-glass account `made` (keyed by `old`) is re-keyed in place to `next`, her key in
/// the token's new pause key: refused for a key outside the pause key and by the ledger without
/// the new key's signature; done with both; the mirror shows it and her file names it; the record
/// reaches the audit log (twice is harmless), and records that do not hold are refused.
async fn rekey_break_glass(
    world: &World,
    made: &gatehouse_protocol::pause::BreakGlassAccount,
    old: &SigningKey,
    next: &SigningKey,
) {
    use gatehouse_client::breakglass::{self, BreakGlass, Error};
    use gatehouse_keys::key::{Algorithm, PublicKey};
    use gatehouse_protocol::hedera::Action;
    use gatehouse_protocol::pause::{BreakGlassRekey, BreakGlassRekeyed};
    let public = |k: &SigningKey| {
        PublicKey::from_bytes(Algorithm::Ed25519, k.verifying_key().as_bytes()).expect("a key")
    };
    let (old_public, next_public) = (public(old), public(next));
    let dir = tempfile::tempdir().expect("carol's config directory");
    let files = BreakGlass::of(dir.path(), "carol");
    let ledger = files
        .set_up(breakglass::Ledger {
            node: made.node.clone(),
            node_account: made.node_account.clone(),
            mirror: made.mirror.clone(),
            payer: made.account.clone(),
            token: made.token.clone(),
            payer_key: None,
        })
        .await
        .expect("break-glass is set up");
    assert!(
        ledger.payer_key.as_ref().is_some_and(|k| k.is(&old_public)),
        "{ledger:?}"
    );
    let outside = breakglass::check_pause_holder(&ledger, &old_public)
        .await
        .expect_err("her old key left the pause key");
    assert!(matches!(outside, Error::NotPauseKey { .. }), "{outside}");
    breakglass::check_pause_holder(&ledger, &next_public)
        .await
        .expect("her newest key is in the pause key");

    let (bytes, view) = breakglass::rekey_body(&ledger, &next_public).expect("a body");
    assert_eq!(view.payer, made.account, "the account pays for itself");
    assert_eq!(
        view.action,
        Action::AccountKey {
            account: made.account.clone(),
            key: Some(KeyView::Ed25519 { key: hex_of(next) }),
            other_changes: Vec::new(),
        }
    );
    // Hedera asks the new key too: a wrong signature in its place and the ledger refuses.
    let stranger = key(77);
    let refused_rekey = files
        .rekey(
            &ledger,
            bytes.clone(),
            (&old_public, old.sign(&bytes).to_bytes().to_vec()),
            (&next_public, stranger.sign(&bytes).to_bytes().to_vec()),
            None,
        )
        .await
        .expect_err("the new key's signature is missing");
    assert!(
        matches!(&refused_rekey, Error::Rekey(why) if why.contains("InvalidSignature")),
        "{refused_rekey}"
    );
    assert!(
        files.ledger().expect("the file").payer_key == ledger.payer_key,
        "a refused re-key changes nothing"
    );
    let (bytes, _) = breakglass::rekey_body(&ledger, &next_public).expect("a body");
    let (record, rekeyed) = files
        .rekey(
            &ledger,
            bytes.clone(),
            (&old_public, old.sign(&bytes).to_bytes().to_vec()),
            (&next_public, next.sign(&bytes).to_bytes().to_vec()),
            Some("test keys".into()),
        )
        .await
        .expect("both keys sign: the ledger re-keys the account");
    assert!(rekeyed && record.ledger_status == "SUCCESS", "{record:?}");
    let now = files.ledger().expect("the file");
    assert!(
        now.payer_key.as_ref().is_some_and(|k| k.is(&next_public)),
        "the file names the new key: {now:?}"
    );
    now.check_signer(&next_public)
        .expect("break-glass pauses sign with the new key");

    // The record reaches the audit log through the break-glass queue.
    let carol = &world.conns["carol"];
    files.enqueue(record.clone()).expect("queued");
    assert_eq!(files.deliver(carol).await.expect("delivered"), 1);
    assert!(files.pending().expect("the queue").is_empty());
    let again: BreakGlassRekeyed = carol
        .post("/v1/pause/break-glass/rekeyed", &record)
        .await
        .expect("twice is harmless");
    assert_eq!(again.account, made.account);
    assert_eq!(again.public_key, hex_of(next));
    assert_eq!(again.mirror_rekeyed_now, Some(true));
    assert!(again.already_recorded);
    let post = |record: BreakGlassRekey| async move {
        carol
            .post::<_, BreakGlassRekeyed>("/v1/pause/break-glass/rekeyed", &record)
            .await
    };
    let bad_old = BreakGlassRekey {
        old_signature: B64.encode([0u8; 64]),
        ..record.clone()
    };
    let why = refused(post(bad_old).await, "BadRequest");
    assert!(why.contains("the old key's signature"), "{why}");
    let not_hers = BreakGlassRekey {
        old_key: hex_of(&stranger),
        old_signature: B64.encode(stranger.sign(&bytes).to_bytes()),
        ..record.clone()
    };
    let why = refused(post(not_hers).await, "BadRequest");
    assert!(
        why.contains("is not one of your registered ledger keys"),
        "{why}"
    );
    let frank = world.conns["frank"]
        .post::<_, BreakGlassRekeyed>("/v1/pause/break-glass/rekeyed", &record)
        .await;
    refused(frank, "Conflict");
    let entries =
        crate::audit::entries_of(&world.server.state.db, "breaker.break-glass-rekey").await;
    let successes: Vec<_> = entries.iter().filter(|(o, _)| o == "success").collect();
    assert_eq!(successes.len(), 2, "{entries:?}");
    assert!(
        successes[0].1.contains(&record.transaction_id) && successes[0].1.contains(&hex_of(old)),
        "the old and new keys are recorded: {entries:?}"
    );
    assert_eq!(
        entries.iter().filter(|(o, _)| o == "denied").count(),
        3,
        "{entries:?}"
    );
}

fn offboard(officer: &str) -> NewOffboarding {
    NewOffboarding {
        officer: officer.to_owned(),
        reason: format!("{officer} left"),
    }
}

/// Alice proposes the mint rule `threshold` of `eligible`; bob, carol and dave approve it until
/// it executes.
async fn mint_rule(world: &World, threshold: u32, eligible: &[&str]) {
    let change: Proposal = world.conns["alice"]
        .post(
            "/v1/proposals/policy",
            &NewRule {
                kind: "mint".into(),
                threshold,
                eligible: eligible.iter().map(|e| (*e).to_owned()).collect(),
            },
        )
        .await
        .expect("a policy change is proposed");
    let mut status = change.status;
    for who in ["bob", "carol", "dave"] {
        if status == ProposalStatus::Executed {
            break;
        }
        status = approve(&world.conns[who], &change.id, &world.keys[who])
            .await
            .expect("an officer approves")
            .status;
    }
    assert_eq!(status, ProposalStatus::Executed);
}

async fn an_offboarding_removes_an_officer_everywhere_or_says_what_would_break(backend: Backend) {
    let world = world(backend).await;
    let (alice, bob) = (&world.conns["alice"], &world.conns["bob"]);
    let server = &world.server;
    let mirror = server.state.ledger.as_ref().expect("a ledger").mirror()[0].clone();
    let post = |who: &str, new: NewOffboarding| {
        let conn = world.conns[who].clone();
        async move {
            conn.post::<_, Proposal>("/v1/proposals/offboarding", &new)
                .await
        }
    };

    // Nothing to remove, no reason: refused before anything reaches the ledger.
    let message = refused(post("alice", offboard("erin")).await, "BadRequest");
    assert!(message.contains("nothing to remove"), "{message}");
    let message = refused(
        post(
            "alice",
            NewOffboarding {
                officer: "dave".into(),
                reason: " ".into(),
            },
        )
        .await,
        "BadRequest",
    );
    assert!(message.contains("reason"), "{message}");

    // Frank, a responder, leaves: the pause key becomes 1 of carol; his key is retired and he is
    // disabled once the remaining holders executed it on the ledger.
    let frank = post("alice", offboard("frank")).await.expect("proposed");
    assert_eq!(frank.kind, ProposalKind::Offboarding);
    let body = B64.decode(&frank.scheduled_body).expect("base64");
    let view = decode_scheduled(&body).expect("decodes");
    gatehouse_client::proposals::check_payload(&frank.payload, &view)
        .expect("the console accepts what the bytes do");
    approve(bob, &frank.id, &world.keys["bob"])
        .await
        .expect("bob");
    let done = approve(&world.conns["carol"], &frank.id, &world.keys["carol"])
        .await
        .expect("carol");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    assert_eq!(
        role(&token_keys(alice).await, KeyRole::Pause).holders_text(),
        "1 of carol"
    );
    let gone = world.conns["frank"]
        .get::<Vec<RoleKey>>("/v1/token-keys")
        .await
        .expect_err("frank is disabled");
    assert!(format!("{gone}").contains("disabled"), "{gone}");

    // Carol is now the pause key's only holder: removing her would leave it unable to sign.
    let message = refused(post("alice", offboard("carol")).await, "Conflict");
    assert!(
        message.contains("the pause key needs 1 signature(s) and only 0 holder(s) would remain"),
        "{message}"
    );

    // A mint rule asking 3 of alice, bob and dave: without dave it could never be met.
    mint_rule(&world, 3, &["alice", "bob", "dave"]).await;
    let message = refused(post("alice", offboard("dave")).await, "Conflict");
    assert!(
        message.contains("the mint rule asks 3 approvals and only 2 officer(s) would remain"),
        "{message}"
    );
    mint_rule(&world, 2, &["alice", "bob", "carol", "dave"]).await;

    // Dave leaves: admin and supply keys become 2 of alice, bob, carol and every rule drops him,
    // in one TokenUpdate (admin key, supply key, memo) the remaining holders execute.
    let proposal = post("alice", offboard("dave")).await.expect("proposed");
    assert!(
        !proposal.eligible.contains(&"dave".to_owned()),
        "{:?}",
        proposal.eligible
    );
    let body = B64.decode(&proposal.scheduled_body).expect("base64");
    let view = decode_scheduled(&body).expect("decodes");
    let ScheduledAction::TokenUpdate {
        admin_key,
        supply_key,
        pause_key,
        memo,
        ..
    } = &view.action
    else {
        panic!("a token update: {:?}", view.action)
    };
    assert!(admin_key.is_some() && supply_key.is_some() && memo.is_some());
    assert!(pause_key.is_none(), "dave holds no pause key");
    gatehouse_client::proposals::check_payload(&proposal.payload, &view)
        .expect("the console accepts what the bytes do");
    let mut lied = proposal.payload.clone();
    if let Payload::Offboarding { after, .. } = &mut lied {
        after[0].members.pop();
    }
    assert!(
        gatehouse_client::proposals::check_payload(&lied, &view).is_err(),
        "keys after that are not the keys before without dave are caught"
    );
    approve(bob, &proposal.id, &world.keys["bob"])
        .await
        .expect("bob");
    let done = approve(&world.conns["carol"], &proposal.id, &world.keys["carol"])
        .await
        .expect("carol");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    let keys = token_keys(alice).await;
    for r in [KeyRole::Admin, KeyRole::Supply] {
        let key = role(&keys, r);
        assert_eq!(key.holders_text(), "2 of alice, bob, carol", "{r:?}");
        assert!(
            key.confirmed_at.is_some(),
            "the mirror shows the new {r:?} key"
        );
    }
    let policy: CurrentPolicy = alice.get("/v1/policy").await.expect("policy");
    assert!(
        policy
            .policy
            .rules
            .values()
            .all(|r| !r.eligible.contains(&"dave".to_owned())),
        "{policy:?}"
    );
    assert_eq!(
        mirror_get(&mirror, &format!("tokens/{}", world.token)).await["memo"].as_str(),
        Some(gatehouse_protocol::policy::commitment(&policy.document).as_str()),
        "the ledger anchors the policy without dave"
    );
    // Dave's key no longer counts on the ledger: with alice's alone, no mint.
    let alone = around_the_server(
        server,
        mint_data(&world.token, "ipfs://dave-and-alice"),
        &[&world.keys["alice"], &world.keys["dave"]],
    )
    .await
    .expect_err("dave's signature no longer counts");
    assert!(
        format!("{alone:?}").contains("InvalidSignature"),
        "{alone:?}"
    );
    let executed = crate::audit::entries_of(&server.state.db, "proposal.execute").await;
    let (_, last) = executed.last().expect("an execution");
    let last: serde_json::Value = serde_json::from_str(last).expect("JSON details");
    assert_eq!(last["keys"]["offboarded"], "dave", "{last}");
    assert_eq!(last["keys"]["still_in"][0], "treasury", "{last}");
}

/// Asks for the body to sign with the caller's new key in rotation `id`, signs it with `key`.
async fn sign_new_key(
    conn: &gatehouse_client::Connection,
    id: &str,
    key: &SigningKey,
) -> Result<Proposal, gatehouse_client::connection::Error> {
    let request: ApprovalRequest = conn
        .post(
            &format!("/v1/proposals/{id}/key-signature-request"),
            &serde_json::json!({}),
        )
        .await?;
    let signature = key.sign(&B64.decode(&request.body).expect("base64"));
    conn.post(
        &format!("/v1/proposals/{id}/key-signatures"),
        &SignedApproval {
            request: request.request,
            signature: B64.encode(signature.to_bytes()),
            device: Some("new test key".into()),
        },
    )
    .await
}

fn nfts_of(account: &serde_json::Value, token: &str) -> u64 {
    account["balance"]["tokens"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["token_id"] == token))
        .and_then(|t| t["balance"].as_u64())
        .unwrap_or(0)
}

async fn admin_and_treasury_rotations_take_the_new_keys_signatures_and_move_the_nfts(
    backend: Backend,
) {
    let world = world(backend).await;
    let (alice, bob, carol) = (
        &world.conns["alice"],
        &world.conns["bob"],
        &world.conns["carol"],
    );
    let server = &world.server;
    let mirror = server.state.ledger.as_ref().expect("a ledger").mirror()[0].clone();
    let old = |name: &str| world.keys[name].clone();
    let everyone = ["alice", "bob", "carol", "dave"];

    // Two NFTs in the treasury first.
    let mint: Proposal = alice
        .post(
            "/v1/proposals/mint",
            &NewMint {
                metadata: vec!["ipfs://one".into(), "ipfs://two".into()],
                documents: Vec::new(),
            },
        )
        .await
        .expect("a mint");
    approve(bob, &mint.id, &old("bob")).await.expect("bob");
    let minted = approve(carol, &mint.id, &old("carol"))
        .await
        .expect("carol");
    assert_eq!(minted.status, ProposalStatus::Executed, "{minted:?}");

    // A new admin key asking 3 would outgrow the policy rule (2): refused, saying what to do.
    let (new_alice, new_bob) = (key(31), key(32));
    stage(alice, &new_alice).await.expect("alice stages");
    stage(bob, &new_bob).await.expect("bob stages");
    let message = refused(
        propose(alice, &rotation(KeyRole::Admin, 3, &everyone)).await,
        "Conflict",
    );
    assert!(message.contains("policy rule asks 2"), "{message}");

    // The admin rotation: the bytes set the admin key only, to 2 of the new keys.
    let admin: Proposal = propose(alice, &rotation(KeyRole::Admin, 2, &everyone))
        .await
        .expect("alice proposes a new admin key");
    let view =
        decode_scheduled(&B64.decode(&admin.scheduled_body).expect("base64")).expect("decodes");
    let ScheduledAction::TokenUpdate { admin_key, .. } = &view.action else {
        panic!("a token update: {:?}", view.action)
    };
    assert!(
        matches!(admin_key, Some(KeyView::Threshold { threshold: 2, .. })),
        "{admin_key:?}"
    );
    gatehouse_client::proposals::check_payload(&admin.payload, &view)
        .expect("the console accepts what the bytes do");
    assert_eq!(admin.payload.new_key_signatures(), Some(2));

    // Only the new key's holders sign with it, once; a mint asks no such signature.
    let message = refused(
        world.conns["dave"]
            .post::<_, ApprovalRequest>(
                &format!("/v1/proposals/{}/key-signature-request", mint.id),
                &serde_json::json!({}),
            )
            .await,
        "Conflict",
    );
    assert!(
        message.contains("only admin- and treasury-key rotations"),
        "{message}"
    );
    refused(
        sign_new_key(alice, &admin.id, &old("alice")).await,
        "BadRequest",
    );
    let signed = sign_new_key(alice, &admin.id, &new_alice)
        .await
        .expect("alice signs with her new key");
    assert_eq!(
        signed.status,
        ProposalStatus::Open,
        "the old quorum has not approved"
    );
    assert_eq!(signed.key_signatures.len(), 1);
    assert_eq!(signed.key_signatures[0].public_key, hex_of(&new_alice));
    let message = refused(sign_new_key(alice, &admin.id, &new_alice).await, "Conflict");
    assert!(
        message.contains("signed this rotation already"),
        "{message}"
    );
    // Carol keeps her admin key: she signs by approving, never around the policy's count.
    let Payload::Rotation { holders, .. } = &admin.payload else {
        panic!("a rotation")
    };
    assert!(holders[2].approves && !holders[0].approves, "{holders:?}");
    let message = refused(
        sign_new_key(carol, &admin.id, &old("carol")).await,
        "Conflict",
    );
    assert!(
        message.contains("approve the rotation instead"),
        "{message}"
    );

    // The old quorum approves: bob's old key, then carol's (whose key is in the new key too, so
    // the new key has two signatures and the ledger executes).
    let one = approve(bob, &admin.id, &old("bob"))
        .await
        .expect("bob approves");
    assert_eq!(one.status, ProposalStatus::Open, "too few approvals");
    let done = approve(carol, &admin.id, &old("carol"))
        .await
        .expect("carol approves");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    let signers: Vec<&str> = done
        .key_signatures
        .iter()
        .map(|s| s.officer.as_str())
        .collect();
    assert_eq!(
        signers,
        ["alice", "carol"],
        "carol's approval carried her key in the new key; bob's old key is not in it"
    );
    let keys_now = token_keys(alice).await;
    let admin_now = role(&keys_now, KeyRole::Admin);
    assert_eq!(admin_now.members[0].public_key, hex_of(&new_alice));
    assert!(
        admin_now.confirmed_at.is_some(),
        "the mirror shows the new admin key"
    );
    assert_eq!(
        mirror_get(&mirror, &format!("tokens/{}", world.token)).await["admin_key"]["key"].as_str(),
        Some(admin_now.protobuf.as_str())
    );

    // The old admin keys no longer change the token; the new ones do.
    let touch = || {
        pb::transaction_body::Data::TokenUpdate(pb::TokenUpdateTransactionBody {
            token: Some(token_id(&world.token)),
            ..Default::default()
        })
    };
    let refused_old = around_the_server(server, touch(), &[&old("alice"), &old("bob")])
        .await
        .expect_err("the old admin keys are out");
    assert!(
        format!("{refused_old:?}").contains("InvalidSignature"),
        "{refused_old:?}"
    );
    let fine = around_the_server(server, touch(), &[&new_alice, &new_bob])
        .await
        .expect("the new admin keys sign");
    assert_eq!(fine.status, pb::ResponseCodeEnum::Success as i32);

    // Alice keeps her (new) admin key and proposes: her signature can never come, so a new
    // treasury key that needs every holder is refused, saying what to do.
    let message = refused(
        propose(alice, &rotation(KeyRole::Treasury, 4, &everyone)).await,
        "BadRequest",
    );
    assert!(
        message.contains("you keep your admin key in it"),
        "{message}"
    );

    // The treasury: a new account with the officers' newest keys; the two NFTs move with it.
    let treasury: Proposal = propose(alice, &rotation(KeyRole::Treasury, 2, &everyone))
        .await
        .expect("alice proposes a new treasury");
    let Payload::Rotation {
        treasury: Some(moved),
        holders,
        ..
    } = &treasury.payload
    else {
        panic!("a treasury move: {:?}", treasury.payload)
    };
    assert_eq!(moved.nfts, 2);
    assert_ne!(moved.from, moved.to);
    assert_eq!(
        holders[0].public_key,
        hex_of(&new_alice),
        "her newest key, unstaged"
    );
    let view =
        decode_scheduled(&B64.decode(&treasury.scheduled_body).expect("base64")).expect("decodes");
    gatehouse_client::proposals::check_payload(&treasury.payload, &view)
        .expect("the console accepts what the bytes do");
    let mut lied = treasury.payload.clone();
    if let Payload::Rotation {
        treasury: Some(m), ..
    } = &mut lied
    {
        m.to = moved.from.clone();
    }
    assert!(gatehouse_client::proposals::check_payload(&lied, &view).is_err());
    // Bob's and carol's admin keys are in the new treasury key too: their approvals carry it.
    approve(bob, &treasury.id, &new_bob)
        .await
        .expect("bob approves");
    let done = approve(carol, &treasury.id, &old("carol"))
        .await
        .expect("carol approves");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    assert_eq!(
        done.key_signatures.len(),
        2,
        "both approvals carried a key of the new treasury's: {:?}",
        done.key_signatures
    );
    let on_mirror = mirror_get(&mirror, &format!("tokens/{}", world.token)).await;
    assert_eq!(
        on_mirror["treasury_account_id"].as_str(),
        Some(moved.to.as_str())
    );
    assert_eq!(
        nfts_of(
            &mirror_get(&mirror, &format!("accounts/{}", moved.to)).await,
            &world.token
        ),
        2
    );
    assert_eq!(
        nfts_of(
            &mirror_get(&mirror, &format!("accounts/{}", moved.from)).await,
            &world.token
        ),
        0
    );
    assert!(
        role(&token_keys(alice).await, KeyRole::Treasury)
            .confirmed_at
            .is_some(),
        "the mirror shows the new treasury key on the account the token names"
    );
    let confirmed = crate::audit::entries_of(&server.state.db, "ledger-key.confirm").await;
    let (_, last) = confirmed.last().expect("a confirmation");
    let last: serde_json::Value = serde_json::from_str(last).expect("JSON");
    assert_eq!(last["role"], "treasury", "{last}");
    assert_eq!(last["nfts_held"], 2, "{last}");
    // Alice's old key is in no token key now except supply (unchanged): it stays in use there.
    let key_signs = crate::audit::entries_of(&server.state.db, "proposal.key-sign").await;
    assert!(
        !key_signs.is_empty(),
        "the new key's signature is in the audit log"
    );
}

/// Onboarding: an administrator registers hana, which gives her no say (the ledger knows no key
/// of hers); she stages a key from her device and an admin rotation the quorum approves adds it,
/// her new key signing the change too.
async fn a_new_officer_joins_the_admin_key_only_through_the_quorum(backend: Backend) {
    let world = world(backend).await;
    let (alice, bob, carol) = (
        &world.conns["alice"],
        &world.conns["bob"],
        &world.conns["carol"],
    );
    let old = |name: &str| world.keys[name].clone();
    let files = world.deployment.enrol("hana", OFFICER).await;
    let hana = crate::identity::connect(&world.deployment, world.server.addr, &files);
    let hana_key = key(41);
    stage(&hana, &hana_key)
        .await
        .expect("hana stages a key from her device");

    let everyone = ["alice", "bob", "carol", "dave", "hana"];
    let joining: Proposal = propose(alice, &rotation(KeyRole::Admin, 2, &everyone))
        .await
        .expect("alice proposes hana into the admin key");
    assert!(
        !joining.eligible.contains(&"hana".to_owned()),
        "registered is not trusted: {:?}",
        joining.eligible
    );
    refused(approve(&hana, &joining.id, &hana_key).await, "Forbidden");
    let signed = sign_new_key(&hana, &joining.id, &hana_key)
        .await
        .expect("hana's new key signs the change that adds it");
    assert_eq!(signed.status, ProposalStatus::Open, "no approval yet");
    approve(bob, &joining.id, &old("bob"))
        .await
        .expect("bob approves");
    let done = approve(carol, &joining.id, &old("carol"))
        .await
        .expect("carol approves");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    let admin = role(&token_keys(alice).await, KeyRole::Admin);
    assert_eq!(admin.holders_text(), "2 of alice, bob, carol, dave, hana");
    assert_eq!(admin.members[4].public_key, hex_of(&hana_key));
    assert!(admin.confirmed_at.is_some(), "the mirror shows it");
}

fn onboarding(officer: &str, keys: &[KeyRole], request: Option<&str>) -> NewOnboarding {
    NewOnboarding {
        officer: officer.to_owned(),
        keys: keys.to_vec(),
        reason: "joins the signing team".to_owned(),
        certificate_request: request.map(str::to_owned),
    }
}

/// Onboarding in one proposal: hana is registered (no say), stages a key, and proposes herself
/// into the admin and supply keys with her device's certificate request. The quorum approves;
/// the keys and the rules checked against them now hold her, the registry knows her by the new
/// certificate only, and her approval of a mint counts. Each refusal says what to do.
async fn an_officer_joins_her_keys_and_gets_her_device_certificate_in_one_proposal(
    backend: Backend,
) {
    let world = world(backend).await;
    let (alice, bob, carol) = (
        &world.conns["alice"],
        &world.conns["bob"],
        &world.conns["carol"],
    );
    let old = |name: &str| world.keys[name].clone();
    let files = world.deployment.enrol("hana", OFFICER).await;
    let hana = crate::identity::connect(&world.deployment, world.server.addr, &files);
    let both = [KeyRole::Admin, KeyRole::Supply];
    let message = refused(
        hana.post::<_, Proposal>("/v1/proposals/onboarding", &onboarding("hana", &both, None))
            .await,
        "BadRequest",
    );
    assert!(message.contains("gatehouse ledger-key stage"), "{message}");
    let hana_key = key(42);
    stage(&hana, &hana_key).await.expect("hana stages a key");

    // Her device's key for TLS, and its certificate signing request.
    let device = rcgen::KeyPair::generate().expect("a P-256 key");
    let request = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .serialize_request(&device)
        .expect("a request")
        .pem()
        .expect("PEM");
    for (who, new, code, needle) in [
        (
            alice,
            onboarding("hana", &both, Some(&request)),
            "BadRequest",
            "only hana sends",
        ),
        (
            alice,
            onboarding("hana", &[KeyRole::Treasury], None),
            "BadRequest",
            "gatehouse rotate treasury",
        ),
        (
            alice,
            onboarding("hana", &[KeyRole::Pause], None),
            "BadRequest",
            "not a registered responder",
        ),
        (
            alice,
            onboarding("hana", &[], None),
            "BadRequest",
            "name the token keys",
        ),
        (
            alice,
            onboarding("zoe", &both, None),
            "BadRequest",
            "registry enrol",
        ),
        (
            alice,
            onboarding("bob", &[KeyRole::Supply], None),
            "BadRequest",
            "holds the supply key already",
        ),
        (
            &hana,
            onboarding("hana", &both, Some("not a request")),
            "BadRequest",
            "gatehouse device csr",
        ),
    ] {
        let message = refused(
            who.post::<_, Proposal>("/v1/proposals/onboarding", &new)
                .await,
            code,
        );
        assert!(message.contains(needle), "{needle:?} in {message}");
    }

    let joining: Proposal = hana
        .post(
            "/v1/proposals/onboarding",
            &onboarding("hana", &both, Some(&request)),
        )
        .await
        .expect("hana proposes herself into the admin and supply keys");
    assert_eq!(joining.kind, ProposalKind::Onboarding);
    assert!(
        !joining.eligible.contains(&"hana".to_owned()),
        "{:?}",
        joining.eligible
    );
    let Payload::Onboarding {
        key: joins,
        after,
        document,
        certificate,
        ..
    } = &joining.payload
    else {
        panic!("an onboarding payload: {:?}", joining.payload);
    };
    assert_eq!(joins.public_key, hex_of(&hana_key));
    assert!(joins.staged);
    let message = refused(stage(&hana, &key(43)).await, "Conflict");
    assert!(
        message.contains(&format!("open onboarding {}", joining.id)),
        "the key the quorum reviews cannot be swapped: {message}"
    );
    let texts: Vec<String> = after.iter().map(RoleKey::holders_text).collect();
    assert_eq!(
        texts,
        [
            "2 of alice, bob, carol, dave, hana",
            "2 of alice, bob, carol, dave, hana"
        ]
    );
    let document = gatehouse_protocol::policy::PolicyDocument::parse(
        document.as_deref().expect("the rules change"),
    )
    .expect("a policy document");
    for kind in ["mint", "policy"] {
        let rule = document.rule(kind).expect("the rule");
        assert!(
            rule.eligible.contains(&"hana".to_owned()),
            "{kind}: {rule:?}"
        );
    }
    let issued = certificate
        .clone()
        .expect("the certificate issued from her request");
    assert_eq!(issued.replaces, files.fingerprint.to_hex());

    // What her approvers' consoles check: the bytes, and the certificate.
    let (_, scheduled) = gatehouse_client::proposals::scheduled(&joining).expect("decodes");
    gatehouse_client::proposals::check_payload(&joining.payload, &scheduled)
        .expect("the bytes set exactly the keys and memo listed");
    let mut lied = joining.payload.clone();
    if let Payload::Onboarding {
        certificate: Some(c),
        ..
    } = &mut lied
    {
        c.fingerprint = files.fingerprint.to_hex();
    }
    let err = gatehouse_client::proposals::check_payload(&lied, &scheduled)
        .expect_err("another fingerprint than the certificate's is caught");
    assert!(err.to_string().contains("SHA-256"), "{err}");
    let mut lied = joining.payload.clone();
    if let Payload::Onboarding { after, .. } = &mut lied {
        after[1].members.pop();
    }
    gatehouse_client::proposals::check_payload(&lied, &scheduled)
        .expect_err("a key after without her is caught");

    // The new certificate grants nothing before the quorum approves.
    let dir = tempfile::tempdir().expect("temp dir");
    let new_files = gatehouse_server::testing::PersonFiles {
        cert: dir.path().join("hana-device.pem"),
        key: dir.path().join("hana-device.key"),
        fingerprint: files.fingerprint,
    };
    std::fs::write(&new_files.cert, &issued.pem).expect("write cert");
    std::fs::write(&new_files.key, device.serialize_pem()).expect("write key");
    let device_conn = crate::identity::connect(&world.deployment, world.server.addr, &new_files);
    let err = device_conn.whoami().await.expect_err("not registered yet");
    assert!(
        matches!(err, gatehouse_client::Error::NotRegistered { .. }),
        "{err}"
    );

    approve(bob, &joining.id, &old("bob"))
        .await
        .expect("bob approves");
    let done = approve(carol, &joining.id, &old("carol"))
        .await
        .expect("carol approves");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");

    let keys = token_keys(alice).await;
    for r in both {
        let k = role(&keys, r);
        assert_eq!(k.holders_text(), "2 of alice, bob, carol, dave, hana");
        assert!(
            k.confirmed_at.is_some(),
            "the mirror shows the {} key",
            r.as_str()
        );
    }
    assert_eq!(
        role(&keys, KeyRole::Pause).holders_text(),
        "1 of carol, frank",
        "the pause key was not asked for"
    );
    let policy: CurrentPolicy = alice.get("/v1/policy").await.expect("policy");
    assert!(
        policy
            .policy
            .rule("mint")
            .expect("mint rule")
            .eligible
            .contains(&"hana".to_owned()),
        "{policy:?}"
    );
    let me = device_conn
        .whoami()
        .await
        .expect("her device certificate gets in");
    assert_eq!(me.fingerprint.to_hex(), issued.fingerprint);
    // Her old certificate: no longer registered, and revoked (refused in the handshake once the
    // revocation list is refreshed).
    let err = hana.whoami().await.expect_err("the old certificate is out");
    assert!(
        matches!(
            err,
            gatehouse_client::Error::NotRegistered { .. }
                | gatehouse_client::Error::ClientCertRejected { .. }
        ),
        "{err}"
    );
    let written = gatehouse_client::proposals::onboarding_certificate(&done)
        .expect("the executed onboarding's certificate");
    assert_eq!(written, issued.pem);

    // Her approval counts now.
    let mint = propose_mint(alice, "ipfs://hana-approves").await;
    assert!(
        mint.eligible.contains(&"hana".to_owned()),
        "{:?}",
        mint.eligible
    );
    approve(&device_conn, &mint.id, &hana_key)
        .await
        .expect("hana approves the mint with her key");
}
