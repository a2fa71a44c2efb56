//! The trussed platform the card runs on: the core backend plus the two extension backends
//! `piv-authenticator` needs (trussed-staging for chunked I/O, key wrapping and HPKE;
//! trussed-auth-backend for the PIN and PUK), file-backed storage, and a random number
//! generator seeded from the operating system.
//!
//! `trussed::virt::with_platform` seeds its generator with a constant (for reproducible unit
//! tests), so two cards, or one card started twice, would generate the same keys. This module
//! builds its own [`Platform`] to avoid that.

use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng as _;
use trussed::backend::BackendId;
use trussed::serde_extensions::{ExtensionDispatch, ExtensionId, ExtensionImpl};
use trussed::service::ServiceResources;
use trussed::types::Context;
use trussed::virt::{self, Runner, StorageConfig, StoreConfig, UserInterface};
use trussed_auth::AuthExtension;
use trussed_auth_backend::{AuthBackend, AuthContext, FilesystemLayout};
use trussed_chunked::ChunkedExtension;
use trussed_core::Error;
use trussed_core::api::{Reply, Request, reply, request};
use trussed_core::types::Location;
use trussed_hpke::HpkeExtension;
use trussed_staging::{StagingBackend, StagingContext};
use trussed_wrap_key_to_file::WrapKeyToFileExtension;

/// The platform: storage, user interface and an OS-seeded generator.
pub struct Platform<'a> {
    rng: ChaCha8Rng,
    store: virt::Store<'a>,
    ui: UserInterface,
}

impl<'a> trussed::platform::Platform for Platform<'a> {
    type R = ChaCha8Rng;
    type S = virt::Store<'a>;
    type UI = UserInterface;

    fn rng(&mut self) -> &mut Self::R {
        &mut self.rng
    }

    fn store(&self) -> Self::S {
        self.store
    }

    fn user_interface(&mut self) -> &mut Self::UI {
        &mut self.ui
    }
}

/// The backends a client can reach.
#[derive(Debug)]
pub enum Backends {
    Staging,
    Auth,
}

/// The extensions, numbered for the wire between client and service.
#[derive(Debug, Clone, Copy)]
pub enum Extensions {
    Chunked = 0,
    WrapKeyToFile = 1,
    Hpke = 2,
    Auth = 3,
}

impl From<Extensions> for u8 {
    fn from(id: Extensions) -> u8 {
        id as u8
    }
}

impl TryFrom<u8> for Extensions {
    type Error = Error;
    fn try_from(id: u8) -> Result<Self, Error> {
        Ok(match id {
            0 => Self::Chunked,
            1 => Self::WrapKeyToFile,
            2 => Self::Hpke,
            3 => Self::Auth,
            _ => return Err(Error::FunctionNotSupported),
        })
    }
}

macro_rules! extension_ids {
    ($($extension:ty => $id:ident),*) => {$(
        impl ExtensionId<$extension> for Dispatcher {
            type Id = Extensions;
            const ID: Extensions = Extensions::$id;
        }
    )*};
}
extension_ids!(
    ChunkedExtension => Chunked,
    WrapKeyToFileExtension => WrapKeyToFile,
    HpkeExtension => Hpke,
    AuthExtension => Auth
);

/// Routes each request to its backend.
pub struct Dispatcher {
    staging: StagingBackend,
    auth: AuthBackend,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self {
            staging: StagingBackend::new(),
            auth: AuthBackend::new(Location::Internal, FilesystemLayout::V0),
        }
    }
}

/// Per-client state of both extension backends.
#[derive(Default)]
pub struct DispatchContext {
    staging: StagingContext,
    auth: AuthContext,
}

impl ExtensionDispatch for Dispatcher {
    type BackendId = Backends;
    type Context = DispatchContext;
    type ExtensionId = Extensions;

    fn core_request<P: trussed::Platform>(
        &mut self,
        backend: &Backends,
        ctx: &mut Context<DispatchContext>,
        request: &Request,
        resources: &mut ServiceResources<P>,
    ) -> Result<Reply, Error> {
        use trussed::backend::Backend as _;
        match backend {
            Backends::Staging => {
                self.staging
                    .request(&mut ctx.core, &mut ctx.backends.staging, request, resources)
            }
            Backends::Auth => Err(Error::RequestNotAvailable),
        }
    }

    fn extension_request<P: trussed::Platform>(
        &mut self,
        _backend: &Backends,
        extension: &Extensions,
        ctx: &mut Context<DispatchContext>,
        request: &request::SerdeExtension,
        resources: &mut ServiceResources<P>,
    ) -> Result<reply::SerdeExtension, Error> {
        let core = &mut ctx.core;
        let staging = &mut ctx.backends.staging;
        match extension {
            Extensions::Chunked => ExtensionImpl::<ChunkedExtension>::extension_request_serialized(
                &mut self.staging,
                core,
                staging,
                request,
                resources,
            ),
            Extensions::WrapKeyToFile => {
                ExtensionImpl::<WrapKeyToFileExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    staging,
                    request,
                    resources,
                )
            }
            Extensions::Hpke => ExtensionImpl::<HpkeExtension>::extension_request_serialized(
                &mut self.staging,
                core,
                staging,
                request,
                resources,
            ),
            Extensions::Auth => ExtensionImpl::<AuthExtension>::extension_request_serialized(
                &mut self.auth,
                core,
                &mut ctx.backends.auth,
                request,
                resources,
            ),
        }
    }
}

/// A client of the platform's service.
pub type Client<'a> = virt::Client<'a, Dispatcher>;

/// The backends every request tries, in order.
const BACKENDS: &[BackendId<Backends>] = &[
    BackendId::Custom(Backends::Auth),
    BackendId::Custom(Backends::Staging),
    BackendId::Core,
];

/// Runs `f` with a client of a platform whose three filesystems live in `dir` (created and
/// formatted on first use, kept across runs).
pub fn with_client<R>(dir: &Path, f: impl FnOnce(Client<'_>) -> R) -> R {
    let mut store = StoreConfig {
        internal: StorageConfig::filesystem(dir.join("internal.littlefs")),
        external: StorageConfig::filesystem(dir.join("external.littlefs")),
        volatile: StorageConfig::ram(),
    };
    store.with_store(|store| {
        let platform = Platform {
            rng: ChaCha8Rng::from_entropy(),
            store,
            ui: UserInterface::new(),
        };
        // Declared before the runner, which borrows it, so that it is dropped after it.
        let channel = trussed::pipe::TrussedChannel::new();
        let mut runner = Runner::new();
        let (requester, responder) = channel.split().expect("a new channel splits once");
        runner.add_endpoint(responder, "piv", BACKENDS);
        let client = Client::new(requester, runner.syscall(), None);
        runner.run(platform, Dispatcher::default(), || f(client))
    })
}
