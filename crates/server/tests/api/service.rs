//! What a registered caller sees: status, OpenAPI, errors, protocol details.

use gatehouse_protocol::{API_VERSION, DatabaseBackend, Role};
use gatehouse_server::testing::{Backend, TestDeployment};

use crate::identity::connect;
use crate::on_both_backends;

on_both_backends!(
    status_names_the_backend_and_instance,
    openapi_document_describes_the_endpoints,
    unknown_path_is_a_json_404
);

async fn status_names_the_backend_and_instance(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let dave = deployment.enrol("dave", &[Role::Compliance]).await;
    let server = deployment.start().await;
    let status = connect(&deployment, server.addr, &dave)
        .status()
        .await
        .expect("status answers");
    let expected = match backend {
        Backend::Sqlite => DatabaseBackend::Sqlite,
        Backend::Postgres => DatabaseBackend::Postgres,
    };
    assert_eq!(
        status.database, expected,
        "status reports the configured backend"
    );
    assert_eq!(
        status.api_version, API_VERSION,
        "status reports the API version"
    );
    assert_eq!(status.deployment, "test", "status names the deployment");
    assert_eq!(
        status.instance_id, server.state.instance_id,
        "status names this instance"
    );
    server.shutdown().await.expect("clean shutdown");
}

async fn openapi_document_describes_the_endpoints(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let erin = deployment.enrol("erin", &[Role::Admin]).await;
    let server = deployment.start().await;
    let doc: serde_json::Value = connect(&deployment, server.addr, &erin)
        .get("/v1/openapi.json")
        .await
        .expect("document served");
    for path in [
        "/v1/whoami",
        "/v1/status",
        "/v1/ledger",
        "/v1/openapi.json",
        "/v1/audit/checkpoint",
        "/v1/audit/entries/{index}",
    ] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "the document describes GET {path}"
        );
    }
    assert!(
        doc["components"]["schemas"]["WhoAmI"].is_object(),
        "schemas come from the code"
    );
    server.shutdown().await.expect("clean shutdown");
}

async fn unknown_path_is_a_json_404(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let erin = deployment.enrol("erin", &[Role::Admin]).await;
    let server = deployment.start().await;
    let err = connect(&deployment, server.addr, &erin)
        .get::<serde_json::Value>("/v1/nothing-here")
        .await
        .expect_err("no such endpoint");
    assert!(
        matches!(
            err,
            gatehouse_client::Error::Refused {
                code: gatehouse_protocol::ErrorCode::NotFound,
                ..
            }
        ),
        "the client sees the server's not_found code: {err:?}"
    );
    server.shutdown().await.expect("clean shutdown");
}
