//! Webhooks: a pause reaches the configured receiver, HMAC-signed over its timestamp and body; a
//! receiver that fails is tried again after a backoff; every try is audited.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use gatehouse_protocol::Role;
use gatehouse_server::testing::Backend;
use gatehouse_server::webhooks::{Webhook, signature};

use crate::on_both_backends;
use crate::pause::pause_as;
use crate::proposals::World;

on_both_backends!(a_pause_reaches_the_webhook_signed_retried_and_audited);

const SECRET: &str = "9f2c6a0e4b7d13c85e1a7f3b2d9c4e60";

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver that refuses the first delivery (HTTP 500) and takes the others.
async fn receiver() -> (std::net::SocketAddr, Received) {
    let received: Received = Arc::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let mut all = kept.lock().expect("not poisoned");
                all.push((headers, body));
                if all.len() == 1 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

async fn a_pause_reaches_the_webhook_signed_retried_and_audited(backend: Backend) {
    let (addr, received) = receiver().await;
    let world = World::new(
        backend,
        &[
            ("alice", &[Role::Officer]),
            ("bob", &[Role::Officer]),
            ("carol", &[Role::Officer, Role::Responder]),
            ("erin", &[Role::Admin]),
        ],
        |config| {
            std::fs::write(config.data_dir.join("ops.secret"), SECRET).expect("the secret");
            config.webhooks = vec![Webhook {
                name: "ops".into(),
                url: format!("http://127.0.0.1:{}/hook", addr.port()),
                secret_file: "ops.secret".into(),
            }];
        },
    )
    .await;
    pause_as(&world.conns["carol"], &world.keys["carol"], "webhook drill")
        .await
        .expect("carol pauses");

    // The first try fails (500); the retry a second later is taken.
    tokio::time::timeout(Duration::from_secs(15), async {
        while received.lock().expect("not poisoned").len() < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the delivery is retried and taken within 15 s");
    let deliveries = received.lock().expect("not poisoned").clone();
    assert_eq!(deliveries.len(), 2, "no more tries once it was taken");
    for (headers, body) in &deliveries {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(
            header("x-gatehouse-signature"),
            signature(
                SECRET.as_bytes(),
                &header("x-gatehouse-timestamp"),
                body.as_bytes()
            ),
            "signed over the timestamp and the body"
        );
        assert_ne!(
            header("x-gatehouse-signature"),
            signature(
                b"another secret, not the hook's",
                &header("x-gatehouse-timestamp"),
                body.as_bytes()
            ),
        );
        assert_eq!(header("x-gatehouse-event"), "breaker.tripped");
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["event"], "breaker.tripped");
        assert_eq!(json["data"]["by"], "carol");
        assert_eq!(json["data"]["reason"], "webhook drill");
    }
    assert_eq!(
        deliveries[0].0.get("x-gatehouse-delivery"),
        deliveries[1].0.get("x-gatehouse-delivery"),
        "the same delivery, tried twice"
    );

    let audited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let rows: Vec<(String, String)> = crate::audit::fetch_all(
                &world.server.state.db,
                "SELECT action, outcome FROM audit_entries WHERE action LIKE 'webhook.%' ORDER BY idx",
            )
            .await;
            if rows.len() >= 2 {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("both tries are audited");
    assert_eq!(
        audited,
        [
            ("webhook.failed".to_owned(), "failed".to_owned()),
            ("webhook.delivered".to_owned(), "success".to_owned()),
        ]
    );
    world.server.shutdown().await.expect("clean shutdown");
}
