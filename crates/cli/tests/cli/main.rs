//! The `gatehouse` binary: profiles on disk, whoami against a live server, the audit trail, and
//! devices, with an exit code per failure.

mod audit;
mod device;
mod piv;
mod proposals;
mod terminal;

/// A command's standard output and error, together, for assertions and their messages.
fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that a command failed with exit `code` and said `needle`; `why` says what is being
/// shown.
#[track_caller]
fn assert_failure(out: &std::process::Output, code: i32, needle: &str, why: &str) {
    assert_eq!(out.status.code(), Some(code), "{why}: {}", text(out));
    assert!(
        text(out).contains(needle),
        "{why}, saying {needle:?}: {}",
        text(out)
    );
}
