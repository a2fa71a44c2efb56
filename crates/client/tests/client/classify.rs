//! Error classification over real sockets and real TLS.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use gatehouse_client::connection::{Connection, Error};
use gatehouse_client::identity::FileIdentity;
use gatehouse_client::profile::{KeySource, Profile};
use gatehouse_protocol::{API_VERSION, API_VERSION_HEADER, Environment, Fingerprint, Role};
use gatehouse_server::config::Limits;
use gatehouse_server::pki::{Authority, Validity};
use gatehouse_server::testing::{Backend, PersonFiles, TestDeployment};
use sha2::{Digest, Sha256};

pub(crate) fn profile(ca: std::path::PathBuf, person: &PersonFiles, addr: SocketAddr) -> Profile {
    Profile {
        name: "t".to_owned(),
        server_url: format!("https://localhost:{}", addr.port()),
        environment: Environment::Development,
        ca_cert: ca,
        client_cert: person.cert.clone(),
        key: KeySource::File {
            path: person.key.clone(),
            encrypted: false,
        },
        mirror_url: None,
    }
}

pub(crate) fn connection(profile: &Profile) -> Connection {
    let KeySource::File { path, .. } = &profile.key else {
        unreachable!("file keys only here")
    };
    let identity = FileIdentity::load(&profile.client_cert, path, None).expect("identity");
    Connection::new(profile, Arc::new(identity)).expect("connection")
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let alice = deployment.person("alice", Validity::days_from_now(30));
    // Bind then drop to get a port that is (almost certainly) closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let err = connection(&profile(deployment.ca_cert(), &alice, addr))
        .whoami()
        .await
        .expect_err("closed port");
    assert!(
        matches!(err, Error::Unreachable { .. }),
        "a closed port is 'unreachable', got {err:?}"
    );
    assert!(
        err.hint().contains("server URL"),
        "the hint says what to check"
    );
}

#[tokio::test]
async fn server_with_a_certificate_from_another_ca_is_not_trusted_and_its_fingerprint_shown() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let alice = deployment.enrol("alice", &[Role::Officer]).await;
    let server = deployment.start().await;
    // The profile trusts a different CA than the one that issued the server's certificate.
    let other = Authority::generate("other").expect("CA");
    let wrong_ca = deployment.dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong_ca, other.cert_pem()).expect("write");
    let err = connection(&profile(wrong_ca, &alice, server.addr))
        .whoami()
        .await
        .expect_err("untrusted");
    let server_pem =
        std::fs::read(deployment.dir.path().join("pki/server.pem")).expect("server cert");
    let der = rustls::pki_types::CertificateDer::from_pem_slice(&server_pem).expect("PEM");
    let expected = Fingerprint::from_digest(Sha256::digest(&der).into());
    match err {
        Error::ServerNotTrusted {
            fingerprint,
            reason,
        } => {
            assert_eq!(
                fingerprint,
                Some(expected),
                "the fingerprint shown is the server certificate's"
            );
            assert!(!reason.is_empty(), "a reason is given");
        }
        other => panic!("expected ServerNotTrusted, got {other:?}"),
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn server_certificate_for_another_host_is_not_trusted() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    let alice = deployment.person("alice", Validity::days_from_now(30));
    // The certificate names localhost, 127.0.0.1 and ::1, not 127.0.0.2.
    deployment.config.listen = "127.0.0.2:0".parse().expect("address");
    let server = deployment.start().await;
    let mut p = profile(deployment.ca_cert(), &alice, server.addr);
    p.server_url = format!("https://127.0.0.2:{}", server.addr.port());
    let err = connection(&p).whoami().await.expect_err("name mismatch");
    assert!(
        matches!(
            err,
            Error::ServerNotTrusted {
                fingerprint: Some(_),
                ..
            }
        ),
        "got {err:?}"
    );
    server.shutdown().await.expect("shutdown");
}

/// Serves `router` with the test deployment's TLS setup, for servers that misbehave on purpose.
async fn custom_server(
    deployment: &TestDeployment,
    router: Router,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let tls = gatehouse_server::http::tls::server_config(
        &deployment.ca_cert(),
        &deployment.dir.path().join("pki/server.pem"),
        &deployment.dir.path().join("pki/server.key"),
        std::time::Duration::from_secs(3600),
        gatehouse_server::registry::Revoked::default(),
    )
    .expect("TLS config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gatehouse_server::http::serve::serve(
        listener,
        tls,
        router,
        Limits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

fn answering_with_version(version: Option<u32>) -> Router {
    Router::new().route(
        "/v1/whoami",
        get(move || async move {
            let mut response = axum::response::IntoResponse::into_response("{}");
            if let Some(v) = version {
                response.headers_mut().insert(API_VERSION_HEADER, v.into());
            }
            response
        }),
    )
}

#[tokio::test]
async fn server_api_versions_outside_the_supported_range_are_named() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let alice = deployment.person("alice", Validity::days_from_now(30));
    let (old, _stop_old) = custom_server(&deployment, answering_with_version(Some(0))).await;
    let err = connection(&profile(deployment.ca_cert(), &alice, old))
        .whoami()
        .await
        .expect_err("too old");
    assert!(
        matches!(err, Error::ServerTooOld { server: 0, .. }),
        "version 0 is too old: {err:?}"
    );
    let (new, _stop_new) =
        custom_server(&deployment, answering_with_version(Some(API_VERSION + 1))).await;
    let err = connection(&profile(deployment.ca_cert(), &alice, new))
        .whoami()
        .await
        .expect_err("too new");
    assert!(
        matches!(err, Error::ServerTooNew { .. }),
        "a newer API is named as such: {err:?}"
    );
    let (none, _stop_none) = custom_server(&deployment, answering_with_version(None)).await;
    let err = connection(&profile(deployment.ca_cert(), &alice, none))
        .whoami()
        .await
        .expect_err("no header");
    assert!(
        matches!(&err, Error::Protocol(text) if text.contains("Gatehouse server")),
        "a server without the version header is not taken for Gatehouse: {err:?}"
    );
}

use rustls::pki_types::pem::PemObject;

#[tokio::test]
async fn a_redirect_is_never_followed() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let alice = deployment.person("alice", Validity::days_from_now(30));
    let followed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = followed.clone();
    let router = Router::new()
        .route(
            "/v1/whoami",
            get(|| async {
                let mut response = axum::response::IntoResponse::into_response((
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, "/v1/elsewhere")],
                ));
                response
                    .headers_mut()
                    .insert(API_VERSION_HEADER, API_VERSION.into());
                response
            }),
        )
        .route(
            "/v1/elsewhere",
            get(move || async move {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                "{}"
            }),
        );
    let (addr, _stop) = custom_server(&deployment, router).await;
    let err = connection(&profile(deployment.ca_cert(), &alice, addr))
        .whoami()
        .await
        .expect_err("a redirect is an error");
    assert!(
        matches!(&err, Error::Redirected { status: 302, location } if location == "/v1/elsewhere"),
        "the redirect is named, with where it pointed: {err:?}"
    );
    assert!(
        err.hint().contains("server URL"),
        "says what to check: {}",
        err.hint()
    );
    assert!(
        !followed.load(std::sync::atomic::Ordering::SeqCst),
        "the redirect's target was never asked"
    );
}

#[tokio::test]
async fn a_plain_http_server_url_is_refused_before_anything_is_sent() {
    let deployment = TestDeployment::new(Backend::Sqlite).await;
    let alice = deployment.person("alice", Validity::days_from_now(30));
    let mut plain = profile(
        deployment.ca_cert(),
        &alice,
        SocketAddr::from(([127, 0, 0, 1], 9)),
    );
    plain.server_url = "http://localhost:9".to_owned();
    let KeySource::File { path, .. } = &plain.key else {
        unreachable!("file keys only here")
    };
    let identity = FileIdentity::load(&plain.client_cert, path, None).expect("identity");
    let err = Connection::new(&plain, Arc::new(identity)).expect_err("http:// is refused");
    assert!(
        matches!(&err, Error::NotHttps { url } if url == "http://localhost:9"),
        "{err:?}"
    );
    assert!(err.to_string().contains("not https://"), "{err}");
    assert!(err.hint().contains("https://"), "{}", err.hint());
}
