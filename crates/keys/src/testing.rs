//! Test support (feature `test-support`): a private SoftHSM2 token directory per process.
//!
//! SoftHSM2 reads its configuration from `SOFTHSM2_CONF` once, at `C_Initialize`, and a process
//! initialises a module once. Setting an environment variable inside a running Rust 2024 program
//! is `unsafe` (other threads may read the environment), and this workspace forbids `unsafe`.
//! So a test or bench binary with its own `main` calls [`rerun_in_softhsm_sandbox`] first: the
//! process starts itself again with `SOFTHSM2_CONF` pointing at a fresh temporary token
//! directory, waits, passes on the exit code and removes the directory. Tests inside share
//! that one directory (and one `C_Initialize`), and keep apart by using distinct token labels.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use crate::device::Locator;
use crate::pin::Pin;
use crate::pkcs11::{Module, Selector, Token};

/// Where Debian's `softhsm2` package installs the module.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The SO PIN of tokens made by [`token`].
pub const SO_PIN: &str = "so-pin-1234";

/// The user PIN of tokens made by [`token`].
pub const USER_PIN: &str = "user-pin-1234";

/// Set (to the sandbox directory) in the process started inside the sandbox.
const SANDBOX: &str = "GATEHOUSE_SOFTHSM_SANDBOX";

/// The SoftHSM2 module: `GATEHOUSE_SOFTHSM_MODULE` if set, else Debian's path.
pub fn softhsm_module() -> PathBuf {
    std::env::var_os("GATEHOUSE_SOFTHSM_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SOFTHSM_MODULE))
}

/// Inside the sandbox: `None`, carry on. Outside: runs this program again, with the same
/// arguments, inside a fresh sandbox and returns its exit code for `main` to return.
pub fn rerun_in_softhsm_sandbox() -> Option<ExitCode> {
    if std::env::var_os(SANDBOX).is_some() {
        return None;
    }
    let directory = tempfile::Builder::new()
        .prefix("gatehouse-softhsm-")
        .tempdir()
        .expect("a temporary directory for SoftHSM2 tokens can be created");
    let tokens = directory.path().join("tokens");
    std::fs::create_dir(&tokens).expect("the token directory can be created");
    let config = directory.path().join("softhsm2.conf");
    std::fs::write(
        &config,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .expect("the SoftHSM2 configuration can be written");
    let program = std::env::current_exe().expect("the running program's path is known");
    let status = Command::new(program)
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &config)
        .env(SANDBOX, directory.path())
        .status()
        .expect("the program can start itself again inside the SoftHSM2 sandbox");
    Some(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// The sandbox's SoftHSM2 module. Panics outside the sandbox, where it would touch the
/// machine's real token directory.
pub fn softhsm() -> Arc<Module> {
    assert!(
        std::env::var_os(SANDBOX).is_some(),
        "SoftHSM2 tests must run inside rerun_in_softhsm_sandbox(), not against the machine's tokens"
    );
    Module::load(softhsm_module()).expect("the SoftHSM2 module loads (apt-get install softhsm2)")
}

/// A fresh token labelled `label` (unique per test), opened with [`USER_PIN`].
pub fn token(label: &str) -> Token {
    let module = softhsm();
    module
        .initialise_token(label, &Pin::new(SO_PIN), &Pin::new(USER_PIN))
        .expect("SoftHSM2 initialises a token");
    module
        .open(&Selector::Label(label.to_owned()), &Pin::new(USER_PIN))
        .expect("the new token opens with its user PIN")
}

/// The locator of the token labelled `label` in the sandbox's module.
pub fn locator(label: &str) -> Locator {
    Locator::Pkcs11 {
        module: softhsm_module(),
        serial: String::new(),
        label: label.to_owned(),
    }
}
