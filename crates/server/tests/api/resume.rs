//! Resuming after an emergency pause: a quorum of officers approves (statements no ledger
//! executes), a responder's device signs the TokenUnpause, and the breaker closes once the mirror
//! shows the token unpaused. Fewer approvals are refused; an unpause around the server raises an
//! alarm and leaves the breaker tripped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use gatehouse_client::Connection;
use gatehouse_protocol::Role;
use gatehouse_protocol::pause::{Breaker, NewUnpause};
use gatehouse_protocol::proposal::{
    ApprovalRequest, NewResume, Payload, Proposal, ProposalKind, ProposalStatus,
};
use gatehouse_server::testing::Backend;
use hiero_sdk_proto::services as pb;
use prost::Message as _;

use crate::on_both_backends;
use crate::pause::{mint, pause_as, sign_breaker_body};
use crate::proposals::{World, approve, around_the_server, reconciler, refused};

on_both_backends!(a_quorum_resumes_and_an_unpause_around_it_raises_an_alarm);

/// A responder carries out resume `proposal` with `key`.
async fn unpause(
    conn: &Connection,
    key: &SigningKey,
    proposal: &str,
) -> Result<Breaker, gatehouse_client::connection::Error> {
    let what = NewUnpause {
        proposal: proposal.to_owned(),
    };
    sign_breaker_body(conn, key, "/v1/resume/request", &what, "/v1/resume").await
}

fn resume(reason: &str) -> NewResume {
    NewResume {
        reason: reason.to_owned(),
        ledger_only: false,
    }
}

async fn a_quorum_resumes_and_an_unpause_around_it_raises_an_alarm(backend: Backend) {
    let world = World::new(
        backend,
        &[
            ("alice", &[Role::Officer]),
            ("bob", &[Role::Officer]),
            ("carol", &[Role::Officer, Role::Responder]),
            ("dave", &[Role::Responder]),
            ("erin", &[Role::Admin]),
        ],
        |_| {},
    )
    .await;
    let [alice, bob, carol, dave] =
        ["alice", "bob", "carol", "dave"].map(|n| world.conns[n].clone());
    let [kb, kc, kd] = ["bob", "carol", "dave"].map(|n| world.keys[n].clone());
    let (server, token) = (world.server, world.token);

    // Nothing to resume while the breaker is open.
    let why = refused(
        alice
            .post::<_, Proposal>("/v1/proposals/resume", &resume("all clear"))
            .await,
        "Conflict",
    );
    assert!(why.contains("not tripped"), "{why}");

    pause_as(&dave, &kd, "supply key leak")
        .await
        .expect("dave pauses");

    // Officers propose; a responder alone cannot, and a reason is needed.
    refused(
        dave.post::<_, Proposal>("/v1/proposals/resume", &resume("x"))
            .await,
        "Forbidden",
    );
    refused(
        alice
            .post::<_, Proposal>("/v1/proposals/resume", &resume("  "))
            .await,
        "BadRequest",
    );
    let proposal: Proposal = alice
        .post(
            "/v1/proposals/resume",
            &resume("keys rotated, leak contained"),
        )
        .await
        .expect("an officer proposes to resume while paused");
    assert_eq!(proposal.kind, ProposalKind::Resume);
    assert_eq!(proposal.threshold, 2, "the policy's resume rule: 2 of 3");
    match &proposal.payload {
        Payload::Resume {
            token: t,
            paused_by,
            ..
        } => {
            assert_eq!(t, &token);
            assert_eq!(paused_by.as_deref(), Some("dave"));
        }
        other => panic!("a resume payload, not {other:?}"),
    }
    refused(
        bob.post::<_, Proposal>("/v1/proposals/resume", &resume("again"))
            .await,
        "Conflict",
    );

    // Unpausing with fewer approvals than the rule asks is refused, before and after the first.
    let why = refused(unpause(&dave, &kd, &proposal.id).await, "Conflict");
    assert!(why.contains("0 of the 2"), "{why}");
    let after_one = approve(&bob, &proposal.id, &kb)
        .await
        .expect("bob approves while paused");
    assert_eq!(after_one.status, ProposalStatus::Open);
    assert!(
        !after_one.approvals[0].relayed,
        "an approval is a statement"
    );
    let why = refused(unpause(&dave, &kd, &proposal.id).await, "Conflict");
    assert!(why.contains("1 of the 2"), "{why}");

    // Carol is an officer and a responder: her key can unpause alone. Her approval body is the
    // TokenUnpause paid by 0.0.0, which no ledger executes.
    let request: ApprovalRequest = carol
        .post(
            &format!("/v1/proposals/{}/approval-request", proposal.id),
            &serde_json::json!({}),
        )
        .await
        .expect("carol asks for her approval body");
    let body = B64.decode(&request.body).expect("base64");
    let decoded = pb::TransactionBody::decode(body.as_slice()).expect("a body");
    assert!(
        matches!(
            decoded.data,
            Some(pb::transaction_body::Data::TokenUnpause(_))
        ),
        "{decoded:?}"
    );
    let payer = decoded
        .transaction_id
        .as_ref()
        .and_then(|t| t.account_id.as_ref())
        .expect("a payer");
    assert_eq!(gatehouse_server::ledger::hapi::account_text(payer), "0.0.0");
    let signature = kc.sign(&body).to_bytes().to_vec();
    let hapi = server
        .state
        .ledger
        .as_ref()
        .expect("a ledger")
        .hapi()
        .clone();
    let pair = gatehouse_server::ledger::hapi::signature_pair(
        &gatehouse_keys::key::PublicKey::from_bytes(
            gatehouse_keys::key::Algorithm::Ed25519,
            kc.verifying_key().as_bytes(),
        )
        .expect("a key"),
        signature.clone(),
    )
    .expect("a pair");
    let sent = hapi
        .execute(&decoded, hapi.transaction(body.clone(), vec![pair]))
        .await;
    let refused_by_ledger = sent
        .expect_err("an approval body must not execute")
        .to_string();
    assert!(
        ["InvalidTransactionId", "Payer"]
            .iter()
            .any(|why| refused_by_ledger.contains(why)),
        "refused for its payer: {refused_by_ledger}"
    );
    let approved: Proposal = carol
        .post(
            &format!("/v1/proposals/{}/approvals", proposal.id),
            &gatehouse_protocol::proposal::SignedApproval {
                request: request.request,
                signature: B64.encode(&signature),
                device: None,
            },
        )
        .await
        .expect("carol approves");
    assert_eq!(approved.approvals.len(), 2);
    assert_eq!(
        approved.status,
        ProposalStatus::Open,
        "a responder carries it out"
    );
    refused(
        alice
            .post::<_, Proposal>("/v1/proposals/mint", &mint("ipfs://early"))
            .await,
        "Paused",
    );

    // Only a responder carries it out; then the token is unpaused and the breaker closes.
    refused(unpause(&bob, &kb, &proposal.id).await, "Forbidden");
    let closed = unpause(&dave, &kd, &proposal.id)
        .await
        .expect("dave unpauses");
    assert!(!closed.tripped, "{closed:?}");
    assert_eq!(closed.ledger_paused, Some(false), "{closed:?}");
    assert_eq!(closed.resume.as_deref(), Some(proposal.id.as_str()));
    let done: Proposal = alice
        .get(&format!("/v1/proposals/{}", proposal.id))
        .await
        .expect("the proposal");
    assert_eq!(done.status, ProposalStatus::Executed);
    let unpaused_by = done
        .outcome
        .and_then(|o| o.transaction_id)
        .expect("the TokenUnpause is recorded");
    let _: Proposal = alice
        .post("/v1/proposals/mint", &mint("ipfs://after"))
        .await
        .expect("minting is back");

    // A second pause, undone on the ledger by dave's key alone: an alarm, and still tripped.
    pause_as(&dave, &kd, "again")
        .await
        .expect("dave pauses again");
    let reconciler = reconciler(&server, 1000);
    assert_eq!(
        reconciler.run_once().await.expect("reconciles"),
        0,
        "the approved resume's unpause ({unpaused_by}) is explained"
    );
    let token_id = {
        let (shard_num, realm_num, token_num) =
            gatehouse_server::ledger::hapi::parse_entity(&token).expect("a token id");
        pb::TokenId {
            shard_num,
            realm_num,
            token_num,
        }
    };
    around_the_server(
        &server,
        pb::transaction_body::Data::TokenUnpause(pb::TokenUnpauseTransactionBody {
            token: Some(token_id),
        }),
        &[&kd],
    )
    .await
    .expect("dave's key unpauses on the ledger");
    assert_eq!(reconciler.run_once().await.expect("reconciles"), 1);
    assert_eq!(reconciler.run_once().await.expect("reconciles"), 0, "once");
    let engine = server.state.proposals.as_ref().expect("an engine");
    assert!(!engine.close_when_unpaused().await.expect("checks"));
    let b: Breaker = bob.get("/v1/breaker").await.expect("the breaker");
    assert!(b.tripped, "an unexplained unpause does not resume: {b:?}");
    assert_eq!(b.ledger_paused, Some(false));
    let entries: Vec<(String, String)> = crate::audit::fetch_all(
        &server.state.db,
        "SELECT action, outcome FROM audit_entries WHERE action IN ('ledger.unexplained-unpause', 'breaker.close', 'breaker.ledger-unpause')",
    )
    .await;
    for action in [
        "ledger.unexplained-unpause",
        "breaker.close",
        "breaker.ledger-unpause",
    ] {
        assert_eq!(
            entries.iter().filter(|(a, _)| a == action).count(),
            1,
            "{action}: {entries:?}"
        );
    }
    server.shutdown().await.expect("clean shutdown");
}
