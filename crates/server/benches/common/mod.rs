//! What the benchmarks share: a client connection for one of a test deployment's people.

use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse_client::connection::Connection;
use gatehouse_client::identity::FileIdentity;
use gatehouse_client::profile::{KeySource, Profile};
use gatehouse_protocol::Environment;
use gatehouse_server::testing::{PersonFiles, TestDeployment};

/// A new connection (empty pool: its first request pays the handshake) as `person`.
pub fn connection(
    deployment: &TestDeployment,
    person: &PersonFiles,
    addr: SocketAddr,
) -> Connection {
    let profile = Profile {
        name: "bench".to_owned(),
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
    let identity = Arc::new(FileIdentity::load(&person.cert, &person.key, None).expect("identity"));
    Connection::new(&profile, identity).expect("connection")
}
