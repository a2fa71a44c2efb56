//! The approval policy: anchored in the token's memo on the ledger, changed only by a proposal the
//! current quorum executes there, held to the token's threshold key, and binding the next
//! proposals, including a mint threshold above the key's (endorsements, then the ledger).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gatehouse_protocol::Role;
use gatehouse_protocol::hedera::{ScheduledAction, decode_scheduled};
use gatehouse_protocol::policy::{self, CurrentPolicy, NewRule, PolicyDocument, Rule};
use gatehouse_protocol::proposal::{
    NewMint, NewToken, Payload, Proposal, ProposalKind, ProposalStatus,
};
use gatehouse_server::config::{KeyPolicy, Ledger};
use gatehouse_server::testing::{Backend, TestDeployment};
use hiero_sdk_proto::services as pb;

use crate::identity::connect;
use crate::on_both_backends;
use crate::proposals::{approve, around_the_server, enrol, key, reconciler, refused};

on_both_backends!(a_policy_change_needs_the_quorum_on_the_ledger_and_binds_the_next_mints);

fn rule(kind: &str, threshold: u32, eligible: &[&str]) -> NewRule {
    NewRule {
        kind: kind.into(),
        threshold,
        eligible: eligible.iter().map(|e| (*e).to_owned()).collect(),
    }
}

async fn token_memo(mirror: &str, token: &str) -> String {
    let json: serde_json::Value = reqwest::get(format!("{mirror}/api/v1/tokens/{token}"))
        .await
        .expect("the mirror answers")
        .json()
        .await
        .expect("JSON");
    json["memo"].as_str().expect("a memo").to_owned()
}

async fn a_policy_change_needs_the_quorum_on_the_ledger_and_binds_the_next_mints(backend: Backend) {
    let mut deployment = TestDeployment::new(backend).await;
    deployment.config.ledger = Some(Ledger::Simulator {
        data_dir: "ledger".into(),
    });
    deployment.config.keys.policy = KeyPolicy::Development;
    let names = ["alice", "bob", "carol", "dave"];
    let mut files = Vec::new();
    for name in names {
        let roles: &[Role] = if name == "carol" {
            &[Role::Officer, Role::Responder]
        } else {
            &[Role::Officer]
        };
        files.push(deployment.enrol(name, roles).await);
    }
    let erin_files = deployment.enrol("erin", &[Role::Admin]).await;
    let server = deployment.start().await;
    let conns: Vec<_> = files
        .iter()
        .map(|f| connect(&deployment, server.addr, f))
        .collect();
    let [alice, bob, carol, dave] = [&conns[0], &conns[1], &conns[2], &conns[3]];
    let erin = connect(&deployment, server.addr, &erin_files);
    let (ka, kb, kc, kd) = (key(1), key(2), key(3), key(4));
    for (conn, k) in [(alice, &ka), (bob, &kb), (carol, &kc), (dave, &kd)] {
        enrol(conn, k).await.expect("an officer enrols");
    }

    // No token, no policy.
    refused(alice.get::<CurrentPolicy>("/v1/policy").await, "Conflict");
    let creation: Proposal = erin
        .post(
            "/v1/proposals/token-create",
            &NewToken {
                name: "Vault".into(),
                symbol: "VLT".into(),
                max_supply: 100,
            },
        )
        .await
        .expect("the token is proposed");
    approve(alice, &creation.id, &ka).await.expect("alice");
    let created = approve(bob, &creation.id, &kb).await.expect("bob");
    assert_eq!(created.status, ProposalStatus::Executed, "{created:?}");
    let token = created.outcome.and_then(|o| o.token).expect("a token");
    let mirror = server.state.ledger.as_ref().expect("a ledger").mirror()[0].clone();

    // The first policy: every kind 2 of the four key holders, anchored by the token's memo.
    let first: CurrentPolicy = dave.get("/v1/policy").await.expect("anyone reads it");
    let everyone: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(first.policy, PolicyDocument::initial(2, &everyone));
    assert_eq!(
        (first.key_threshold, first.token.as_str()),
        (2, token.as_str())
    );
    assert_eq!(first.proposal, creation.id);
    assert_eq!(
        token_memo(&mirror, &token).await,
        policy::commitment(&first.document),
        "the ledger anchors the policy the server shows"
    );

    // Rules the ledger would not carry out are refused, naming the field.
    for (bad, needle) in [
        (rule("mint", 1, &["alice", "bob"]), "threshold:"),
        (rule("mint", 2, &["alice", "mallory"]), "eligible: mallory"),
        (rule("burn", 2, &["alice", "bob"]), "kind:"),
        (rule("mint", 5, &names), "could never be reached"),
        (rule("mint", 2, &names), "nothing would change"),
    ] {
        let message = refused(
            alice
                .post::<_, Proposal>("/v1/proposals/policy", &bad)
                .await,
            "BadRequest",
        );
        assert!(message.contains(needle), "{needle}: {message}");
    }
    refused(
        erin.post::<_, Proposal>("/v1/proposals/policy", &rule("mint", 3, &names))
            .await,
        "Forbidden",
    );

    // Alice proposes: mints need 3 of the four. The ledger body is a TokenUpdate of the memo to
    // the new document's commitment; the document is the whole policy, one version later.
    let change: Proposal = alice
        .post("/v1/proposals/policy", &rule("mint", 3, &names))
        .await
        .expect("alice proposes the change");
    assert_eq!(change.kind, ProposalKind::Policy);
    assert_eq!((change.threshold, change.eligible.len()), (2, 4));
    let Payload::Policy {
        document, replaces, ..
    } = &change.payload
    else {
        panic!("a policy change: {:?}", change.payload)
    };
    assert_eq!(*replaces, 1);
    let next = PolicyDocument::parse(document).expect("a policy document");
    assert_eq!(next.version, 2);
    assert_eq!(next.rule("mint"), Some(&Rule::new(3, everyone.clone())));
    assert_eq!(next.rule("policy"), first.policy.rule("policy"));
    let body = B64.decode(&change.scheduled_body).expect("base64");
    let view = decode_scheduled(&body).expect("decodes");
    let ScheduledAction::TokenUpdate {
        token: updated,
        memo,
        admin_key,
        supply_key,
        ..
    } = view.action
    else {
        panic!("a token update: {:?}", view.action)
    };
    assert_eq!(updated, token);
    assert_eq!(memo, Some(policy::commitment(document)));
    assert_eq!((admin_key, supply_key), (None, None), "it changes no key");
    refused(
        bob.post::<_, Proposal>("/v1/proposals/policy", &rule("policy", 3, &names))
            .await,
        "Conflict",
    );

    // The quorum decides on the ledger: the proposer cannot approve; one approval changes nothing.
    refused(approve(alice, &change.id, &ka).await, "Forbidden");
    let one = approve(bob, &change.id, &kb).await.expect("bob approves");
    assert_eq!(one.status, ProposalStatus::Open);
    let still: CurrentPolicy = dave.get("/v1/policy").await.expect("policy");
    assert_eq!(still.policy.version, 1, "one approval changes nothing");
    assert_eq!(
        token_memo(&mirror, &token).await,
        policy::commitment(&first.document)
    );
    let done = approve(carol, &change.id, &kc)
        .await
        .expect("carol approves");
    assert_eq!(done.status, ProposalStatus::Executed, "{done:?}");
    let second: CurrentPolicy = dave.get("/v1/policy").await.expect("policy");
    assert_eq!(second.policy, next);
    assert_eq!(second.proposal, change.id);
    assert_eq!(
        token_memo(&mirror, &token).await,
        policy::commitment(&second.document),
        "the ledger anchors the new policy"
    );

    // The next mint needs 3 of the four, though the supply key needs 2: bob's approval is an
    // endorsement the server keeps; carol's goes to the ledger, which still lacks one; dave's
    // executes it.
    let mint: Proposal = alice
        .post(
            "/v1/proposals/mint",
            &NewMint {
                metadata: vec!["ipfs://policy-bound".into()],
                documents: Vec::new(),
            },
        )
        .await
        .expect("alice proposes a mint");
    assert_eq!((mint.threshold, mint.eligible.len()), (3, 4));
    let after_bob = approve(bob, &mint.id, &kb).await.expect("bob endorses");
    assert_eq!(after_bob.status, ProposalStatus::Open);
    assert!(
        !after_bob.approvals[0].relayed,
        "the first is an endorsement"
    );
    let after_carol = approve(carol, &mint.id, &kc).await.expect("carol approves");
    assert_eq!(
        after_carol.status,
        ProposalStatus::Open,
        "two approvals do not mint under a 3-of-4 rule"
    );
    let schedule: serde_json::Value =
        reqwest::get(format!("{mirror}/api/v1/schedules/{}", mint.schedule_id))
            .await
            .expect("the mirror answers")
            .json()
            .await
            .expect("JSON");
    assert!(schedule["executed_timestamp"].is_null(), "{schedule}");
    let minted = approve(dave, &mint.id, &kd).await.expect("dave approves");
    assert_eq!(minted.status, ProposalStatus::Executed, "{minted:?}");
    assert_eq!(
        minted
            .approvals
            .iter()
            .map(|a| (a.officer.as_str(), a.relayed))
            .collect::<Vec<_>>(),
        [("bob", false), ("carol", true), ("dave", true)]
    );
    assert_eq!(minted.outcome.expect("an outcome").serials, [1]);

    // Two officers change the memo on the ledger directly, around the server (as a cancelled
    // change's schedule could still be signed): reconciliation raises an alarm, once.
    let reconciler = reconciler(&server, 1000);
    assert_eq!(
        reconciler.run_once().await.expect("reconciles"),
        0,
        "the anchor matches"
    );
    let rogue = policy::commitment("a policy nobody proposed");
    let token_pb = pb::TokenId {
        shard_num: 0,
        realm_num: 0,
        token_num: token
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number"),
    };
    let update = pb::transaction_body::Data::TokenUpdate(pb::TokenUpdateTransactionBody {
        token: Some(token_pb),
        memo: Some(rogue.clone()),
        ..Default::default()
    });
    around_the_server(&server, update, &[&ka, &kb])
        .await
        .expect("two officers' keys update the memo on the ledger directly");
    assert_eq!(
        reconciler.run_once().await.expect("reconciles"),
        1,
        "one alarm"
    );
    assert_eq!(
        reconciler.run_once().await.expect("reconciles"),
        0,
        "raised once"
    );
    let alarms: Vec<gatehouse_protocol::proposal::Alarm> =
        dave.get("/v1/alarms").await.expect("the alarms");
    let alarm = alarms
        .iter()
        .find(|a| a.kind == "policy-mismatch")
        .expect("a policy alarm");
    assert_eq!(Some(alarm.subject.as_str()), policy::committed_hash(&rogue));
    assert!(
        alarm.message.contains("approve nothing"),
        "{}",
        alarm.message
    );
}
