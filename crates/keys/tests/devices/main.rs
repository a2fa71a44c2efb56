//! The devices for real: SoftHSM2 tokens in a private token directory, the software key file,
//! and mutual TLS 1.3 with the client key on a token.
//!
//! A custom harness (libtest-mimic, same command line and output as libtest): the binary first
//! starts itself again inside a SoftHSM2 sandbox (`gatehouse_keys::testing`), because SoftHSM2
//! reads `SOFTHSM2_CONF` at `C_Initialize` and setting it in-process would need `unsafe`. Tests
//! share that one module context and keep apart by token label.

mod piv;
mod softhsm;
mod software;
mod tls;

use std::process::ExitCode;

use libtest_mimic::{Arguments, Trial};

fn main() -> ExitCode {
    if let Some(code) = gatehouse_keys::testing::rerun_in_softhsm_sandbox() {
        return code;
    }
    let arguments = Arguments::from_args();
    let trial = |&(name, test): &Test| {
        Trial::test(name, move || {
            test();
            Ok(())
        })
    };
    let trials = [softhsm::TESTS, software::TESTS, tls::TESTS, piv::TESTS]
        .into_iter()
        .flatten()
        .map(trial)
        // Physical-device tests run only when asked for (--ignored).
        .chain(piv::PHYSICAL.iter().map(|t| trial(t).with_ignored_flag(true)))
        .collect();
    libtest_mimic::run(&arguments, trials).exit_code()
}

/// A test: its name and its body (which panics to fail).
pub type Test = (&'static str, fn());
