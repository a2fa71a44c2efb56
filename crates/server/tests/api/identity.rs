//! Who gets in: the TLS layer and the registry check, seen from a real client.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use std::time::Duration;

use gatehouse_client::connection::{Connection, Error};
use gatehouse_client::identity::FileIdentity;
use gatehouse_client::profile::{KeySource, Profile};
use gatehouse_protocol::{Environment, Role};
use gatehouse_server::pki::Validity;
use gatehouse_server::testing::{Backend, PersonFiles, TestDeployment};

use crate::on_both_backends;

on_both_backends!(
    registered_person_learns_name_and_roles,
    unregistered_certificate_gets_403_with_reason,
    disabled_entry_gets_403_and_reenabling_restores_access,
    expired_certificate_is_refused_with_its_expiry,
    not_yet_valid_certificate_is_refused,
    certificate_from_another_ca_is_refused_in_the_handshake,
    connection_without_client_certificate_is_refused,
);

pub(crate) fn connect(
    deployment: &TestDeployment,
    addr: std::net::SocketAddr,
    person: &PersonFiles,
) -> Connection {
    let profile = Profile {
        name: "test".to_owned(),
        server_url: format!("https://localhost:{}", addr.port()),
        environment: Environment::Development,
        ca_cert: deployment.ca_cert(),
        client_cert: person.cert.clone(),
        key: KeySource::File {
            path: person.key.clone(),
            encrypted: false,
        },
        mirror_url: None,
    };
    let identity = FileIdentity::load(&person.cert, &person.key, None).expect("identity loads");
    Connection::new(&profile, Arc::new(identity)).expect("connection prepares")
}

async fn registered_person_learns_name_and_roles(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let carol = deployment
        .enrol("carol", &[Role::Responder, Role::Officer])
        .await;
    let server = deployment.start().await;
    let me = connect(&deployment, server.addr, &carol)
        .whoami()
        .await
        .expect("a registered person gets in");
    assert_eq!(me.name, "carol", "the name comes from the registry");
    assert_eq!(
        me.roles,
        vec![Role::Officer, Role::Responder],
        "roles come from the registry, sorted"
    );
    assert_eq!(
        me.fingerprint, carol.fingerprint,
        "the server saw the certificate we presented"
    );
    assert!(
        me.not_after > chrono::Utc::now(),
        "the expiry reported is the certificate's, in the future"
    );
    server.shutdown().await.expect("clean shutdown");
}

async fn unregistered_certificate_gets_403_with_reason(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let mallory = deployment.person("mallory", Validity::days_from_now(30));
    let server = deployment.start().await;
    let err = connect(&deployment, server.addr, &mallory)
        .whoami()
        .await
        .expect_err("must be refused");
    match err {
        Error::NotRegistered {
            message,
            fingerprint,
        } => {
            assert_eq!(
                fingerprint, mallory.fingerprint,
                "the client reports its own fingerprint for the admin"
            );
            assert!(
                message.contains("not registered"),
                "the server says why: {message}"
            );
            assert!(
                message.contains(&mallory.fingerprint.to_hex()),
                "and names the certificate: {message}"
            );
        }
        other => panic!("expected NotRegistered, got {other:?}"),
    }
    server.shutdown().await.expect("clean shutdown");
}

async fn disabled_entry_gets_403_and_reenabling_restores_access(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let bob = deployment.enrol("bob", &[Role::Officer]).await;
    let server = deployment.start().await;
    let connection = connect(&deployment, server.addr, &bob);
    connection.whoami().await.expect("enabled first");
    let registry = gatehouse_server::registry::Registry::new(
        server.state.db.clone(),
        server.state.audit.clone(),
    );
    let by = gatehouse_server::registry::ChangedBy::local_operator();
    registry
        .set_disabled(&by, "bob", true)
        .await
        .expect("bob exists and is disabled");
    let err = connection
        .whoami()
        .await
        .expect_err("disabled must be refused on the next request");
    assert!(
        matches!(&err, Error::Disabled { message } if message.contains("disabled")),
        "got {err:?}"
    );
    registry
        .set_disabled(&by, "bob", false)
        .await
        .expect("re-enabled");
    connection
        .whoami()
        .await
        .expect("re-enabled access works again");
    server.shutdown().await.expect("clean shutdown");
}

async fn expired_certificate_is_refused_with_its_expiry(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let now = time::OffsetDateTime::now_utc();
    let validity = Validity {
        not_before: now - Duration::from_secs(86_400 * 10),
        not_after: now - Duration::from_secs(3600),
    };
    let old = deployment.person("olga", validity);
    deployment.register(&old, "olga", &[Role::Officer]).await;
    let server = deployment.start().await;
    let err = connect(&deployment, server.addr, &old)
        .whoami()
        .await
        .expect_err("expired must be refused");
    match err {
        Error::CertificateExpired { not_after } => {
            let expected = validity.not_after.unix_timestamp();
            assert_eq!(
                not_after.timestamp(),
                expected,
                "the error carries the certificate's expiry"
            );
        }
        other => panic!("expected CertificateExpired, got {other:?}"),
    }
    server.shutdown().await.expect("clean shutdown");
}

async fn not_yet_valid_certificate_is_refused(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let now = time::OffsetDateTime::now_utc();
    let validity = Validity {
        not_before: now + Duration::from_secs(86_400),
        not_after: now + Duration::from_secs(86_400 * 30),
    };
    let early = deployment.person("early", validity);
    deployment.register(&early, "early", &[Role::Officer]).await;
    let server = deployment.start().await;
    let err = connect(&deployment, server.addr, &early)
        .whoami()
        .await
        .expect_err("must be refused");
    assert!(
        matches!(err, Error::CertificateNotYetValid { .. }),
        "got {err:?}"
    );
    server.shutdown().await.expect("clean shutdown");
}

async fn certificate_from_another_ca_is_refused_in_the_handshake(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let stranger = deployment.stranger("eve");
    let server = deployment.start().await;
    let err = connect(&deployment, server.addr, &stranger)
        .whoami()
        .await
        .expect_err("must be refused");
    assert!(
        matches!(err, Error::ClientCertRejected { .. }),
        "a foreign CA's certificate is rejected: {err:?}"
    );
    server.shutdown().await.expect("clean shutdown");
}

async fn connection_without_client_certificate_is_refused(backend: Backend) {
    let deployment = TestDeployment::new(backend).await;
    let server = deployment.start().await;
    // A TLS client that trusts the deployment CA but has no client certificate.
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        rustls::pki_types::CertificateDer::pem_file_iter(deployment.ca_cert()).expect("CA file")
    {
        roots.add(cert.expect("CA parses")).expect("CA accepted");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("TLS 1.3")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .http1_only()
        .build()
        .expect("client");
    let result = client
        .get(format!(
            "https://localhost:{}/v1/whoami",
            server.addr.port()
        ))
        .send()
        .await;
    let err = result.expect_err("no certificate, no answer: the handshake must fail");
    let text = format!("{err:?}");
    assert!(
        text.contains("CertificateRequired"),
        "the server's alert says a certificate is required: {text}"
    );
    server.shutdown().await.expect("clean shutdown");
}
