//! Why the simulator could not start.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::store::StoreError;

/// Why [`Simulator::start`](crate::Simulator::start) failed. Each message says what failed and what
/// to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data directory, or a file the simulator keeps in it (the development key, `genesis.json`),
    /// could not be created, read or written.
    #[error(
        "the data directory is not usable ({}: {source}); give a data directory this user can create and write",
        .path.display()
    )]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The genesis file named in [`Config::genesis`](crate::Config::genesis) could not be read.
    #[error("cannot read the genesis file {}: {source}; check the path", .path.display())]
    GenesisUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The genesis file was read but does not describe a network the simulator can run.
    #[error(
        "the genesis file {} is invalid: {reason}; correct it, or start without a genesis file to get a development genesis",
        .path.display()
    )]
    GenesisInvalid { path: PathBuf, reason: String },
    /// The development operator key an earlier start left in the data directory is not a key.
    #[error(
        "{} is not a development key (64 hex digits); remove the data directory to start afresh",
        .path.display()
    )]
    DevKeyInvalid { path: PathBuf },
    /// A service could not listen on its address.
    #[error(
        "cannot listen for the {service} on {addr}: {source}; choose another address (port 0 lets the system pick one) or stop what is using it"
    )]
    Bind {
        /// "gRPC API" or "mirror REST API".
        service: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The ledger database in the data directory could not be opened, read or written.
    #[error(
        "the ledger database in {} failed: {source}; check that the directory is writable and the disk has room, or start afresh from an empty data directory if the database is damaged",
        .dir.display()
    )]
    Store {
        dir: PathBuf,
        #[source]
        source: StoreError,
    },
    /// Start-up stopped before it finished: it panicked, or the runtime is shutting down.
    #[error("starting the simulator was interrupted ({reason}); see the log for a panic")]
    Interrupted { reason: String },
}
