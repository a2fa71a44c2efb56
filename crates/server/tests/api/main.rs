//! gatehouse-server over real sockets and real mutual TLS, on SQLite and PostgreSQL.

mod audit;
mod breakglass;
mod cli;
mod identity;
mod keys;
mod ledger;
mod mint_requests;
mod pause;
mod policy;
mod proposals;
mod resume;
mod rotation;
mod security;
mod service;
mod webhooks;

/// Runs an async test body once per database backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(gatehouse_server::testing::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(gatehouse_server::testing::Backend::Postgres).await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;
