//! Secrets typed at a terminal: the CLI turns echo off. `script` (util-linux) gives the CLI a
//! pseudo-terminal whose line discipline would echo every typed character back otherwise.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// Waits until what the terminal showed satisfies `done`, for at most 20 s.
fn wait_for(shown: &Mutex<Vec<u8>>, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = String::from_utf8_lossy(&shown.lock().expect("buffer")).into_owned();
        if done(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_pin_typed_at_a_terminal_is_not_echoed() {
    const TYPED: &str = "typed-pin-4711";
    let command = format!("{BIN} device info --software /nonexistent/dev-key.age");
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("GATEHOUSE_DEVICE_PIN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs (Debian package util-linux)");
    let shown = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 256];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                shown.lock().expect("buffer").extend_from_slice(&chunk[..n]);
            }
        })
    };
    let prompt = wait_for(&shown, |t| t.contains("device PIN"));
    assert!(
        prompt.contains("device PIN"),
        "the CLI asks for the PIN: {prompt:?}"
    );
    // Echo is a property of the terminal when the input arrives: let the prompt turn it off.
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{TYPED}\n").as_bytes())
        .expect("type the PIN");
    let finished = wait_for(&shown, |t| {
        t.contains("dev-key.age") && t.matches('\n').count() > 1
    });
    drop(stdin);
    let _ = child.wait();
    let _ = reader.join();
    let all = String::from_utf8_lossy(&shown.lock().expect("buffer")).into_owned();
    assert!(
        finished.contains("dev-key.age"),
        "the CLI went on with the PIN it read (and failed on the missing file): {all:?}"
    );
    assert!(
        !all.contains(TYPED),
        "the PIN typed at the terminal must not be shown: {all:?}"
    );
}
