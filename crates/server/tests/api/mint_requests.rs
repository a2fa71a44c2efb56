//! The service API: the game or app backend (registry role `service`) requests mints over mutual
//! TLS; each request becomes a proposal officers approve like any other. Bad input is refused
//! naming the field and audited; a service over its rate gets 429 and the first refusal of the
//! minute is audited.

use gatehouse_protocol::Role;
use gatehouse_protocol::proposal::{ApprovalRequest, NewMint, Proposal, ProposalStatus};
use gatehouse_server::testing::{Backend, TestDeployment};

use crate::on_both_backends;
use crate::proposals::{World, approve, refused};

on_both_backends!(
    services_request_mints_within_their_rate_and_bad_input_names_the_field,
    every_instance_draws_on_one_budget_per_service,
);

/// A HIP-412 document and the `ipfs://` URI of its raw CID.
fn item(name: &str) -> (String, String) {
    let document =
        format!(r#"{{"name":"{name}","image":"ipfs://bafkreiimage","type":"image/png"}}"#);
    let uri = format!(
        "ipfs://{}",
        gatehouse_protocol::hip412::raw_cid(document.as_bytes())
    );
    (uri, document)
}

fn request(items: &[(String, String)]) -> NewMint {
    NewMint {
        metadata: items.iter().map(|(uri, _)| uri.clone()).collect(),
        documents: items.iter().map(|(_, d)| Some(d.clone())).collect(),
    }
}

async fn services_request_mints_within_their_rate_and_bad_input_names_the_field(backend: Backend) {
    let world = World::new(
        backend,
        &[
            ("alice", &[Role::Officer]),
            ("bob", &[Role::Officer]),
            ("carol", &[Role::Officer, Role::Responder]),
            ("erin", &[Role::Admin]),
            ("shop", &[Role::Service]),
            ("flood", &[Role::Service]),
        ],
        |config| config.proposals.service_requests_per_minute = 6,
    )
    .await;
    let [alice, carol, shop, flood] =
        ["alice", "carol", "shop", "flood"].map(|n| world.conns[n].clone());
    let [ka, kc] = ["alice", "carol"].map(|n| world.keys[n].clone());
    let server = world.server;
    // Each side keeps to its own door.
    let valid = request(&[item("Sword #1")]);
    refused(
        alice.post::<_, Proposal>("/v1/mint-requests", &valid).await,
        "Forbidden",
    );
    refused(
        shop.post::<_, Proposal>("/v1/proposals/mint", &valid).await,
        "Forbidden",
    );

    // A valid request becomes a proposal the officers approve; the service is not one of them.
    let proposal: Proposal = shop
        .post("/v1/mint-requests", &valid)
        .await
        .expect("a valid request is accepted");
    assert_eq!(proposal.proposer, "shop");
    assert_eq!(proposal.status, ProposalStatus::Open);
    assert_eq!(proposal.eligible, ["alice", "bob", "carol"]);
    refused(
        shop.post::<_, ApprovalRequest>(
            &format!("/v1/proposals/{}/approval-request", proposal.id),
            &serde_json::json!({}),
        )
        .await,
        "Forbidden",
    );
    approve(&carol, &proposal.id, &kc).await.expect("carol");
    let minted = approve(&alice, &proposal.id, &ka).await.expect("alice");
    assert_eq!(minted.status, ProposalStatus::Executed, "{minted:?}");
    assert_eq!(minted.outcome.expect("an outcome").serials.len(), 1);

    // Bad input: a 400 naming the field.
    let (uri, _) = item("Shield");
    let cases = [
        (
            NewMint {
                metadata: vec![uri.clone()],
                documents: Vec::new(),
            },
            "documents[0]",
            "HIP-412 JSON document",
        ),
        (
            NewMint {
                metadata: vec![uri],
                documents: vec![Some(r#"{"name":"no image"}"#.to_owned())],
            },
            "documents[0]",
            "HIP-412",
        ),
        (
            NewMint {
                metadata: vec!["x".repeat(101)],
                documents: vec![Some(item("Long").1)],
            },
            "metadata[0]",
            "100 bytes",
        ),
        (
            request(
                &(0..11)
                    .map(|i| item(&format!("Gem #{i}")))
                    .collect::<Vec<_>>(),
            ),
            "metadata",
            "at most 10",
        ),
    ];
    for (bad, field, says) in cases {
        let why = refused(
            shop.post::<_, Proposal>("/v1/mint-requests", &bad).await,
            "BadRequest",
        );
        assert!(why.contains(field) && why.contains(says), "{why}");
    }

    let empty = NewMint {
        metadata: Vec::new(),
        documents: Vec::new(),
    };
    // Over the rate: six requests a minute, then 429 saying when to send again. Another
    // service's budget is its own (shop has sent 5 above and may still send).
    for _ in 0..6 {
        refused(
            flood.post::<_, Proposal>("/v1/mint-requests", &empty).await,
            "BadRequest",
        );
    }
    for _ in 0..3 {
        let why = refused(
            flood.post::<_, Proposal>("/v1/mint-requests", &valid).await,
            "RateLimited",
        );
        assert!(why.contains("send it again in"), "{why}");
    }
    refused(
        shop.post::<_, Proposal>("/v1/mint-requests", &empty).await,
        "BadRequest",
    );

    // In the audit log: each bad request, and the first rate refusal of the minute only.
    let entries: Vec<(String, String, String)> = crate::audit::fetch_all(
        &server.state.db,
        "SELECT action, outcome, actor FROM audit_entries",
    )
    .await;
    let count = |actor: &str, outcome: &str| {
        entries
            .iter()
            .filter(|(a, o, who)| a == "proposal.create" && o == outcome && who == actor)
            .count()
    };
    assert_eq!(count("shop", "success"), 1, "{entries:?}");
    assert_eq!(
        count("shop", "failed"),
        5,
        "four bad requests and one empty: {entries:?}"
    );
    assert_eq!(count("flood", "failed"), 6, "{entries:?}");
    assert_eq!(
        count("flood", "denied"),
        1,
        "one rate refusal audited: {entries:?}"
    );
    server.shutdown().await.expect("clean shutdown");
}

/// The budget lives in the database: two instances (two limiters on one database), checking at
/// the same time, let through exactly the service's budget between them, and then tell it when to
/// send again; another service's budget is untouched.
async fn every_instance_draws_on_one_budget_per_service(backend: Backend) {
    use gatehouse_server::proposals::service::ServiceRate;
    let deployment = TestDeployment::new(backend).await;
    let server = deployment.start().await;
    let db = server.state.db.clone();
    let (a, b) = (ServiceRate::new(6), ServiceRate::new(6));
    let checks = (0..10).map(|i| {
        let (db, rate) = (db.clone(), if i % 2 == 0 { a } else { b });
        tokio::spawn(async move { rate.check(&db, "flood").await.expect("the store answers") })
    });
    let mut passed = 0;
    let mut audited = 0;
    for check in checks {
        match check.await.expect("the check runs") {
            Ok(()) => passed += 1,
            Err(limited) => {
                audited += usize::from(limited.audit);
                assert!(
                    limited.refusal.to_string().contains("send it again in"),
                    "{}",
                    limited.refusal
                );
            }
        }
    }
    assert_eq!(
        passed, 6,
        "six a minute across both instances, not six each"
    );
    assert_eq!(
        audited, 1,
        "the first refusal of the minute is audited, once"
    );
    assert!(
        b.check(&db, "shop")
            .await
            .expect("the store answers")
            .is_ok(),
        "another service has its own budget"
    );
    server.shutdown().await.expect("clean shutdown");
}
