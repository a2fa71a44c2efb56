//! The card's touch sensor, and the finger that touches it.
//!
//! A YubiKey asked to use a key whose touch policy is "always" (or "cached", with no touch in
//! the last 15 seconds) blinks and waits for its contact to be touched. Untouched, it gives up
//! after about 15 seconds and refuses the command with `6982` (security status not satisfied);
//! a touch before the blinking starts does not count.
//!
//! The virtual card does the same through two files in its state directory: while it waits it
//! keeps `blinking` there (the LED), and a touch is a `touch` file written while it blinks
//! (`gatehouse-virtual-piv touch --state DIR`), which the card consumes. A `touch` file left
//! from before the blinking is thrown away when the blinking starts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a YubiKey blinks for a touch.
pub const YUBIKEY_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a "cached" touch counts for, on a YubiKey.
const CACHE: Duration = Duration::from_secs(15);

/// How often the sensor and the finger look at the files.
const POLL: Duration = Duration::from_millis(10);

/// A slot's touch policy, as the card records it (YubiKey's codes).
pub const POLICY_ALWAYS: u8 = 2;
/// See [`POLICY_ALWAYS`].
pub const POLICY_CACHED: u8 = 3;

fn blinking_file(state: &Path) -> PathBuf {
    state.join("blinking")
}

fn touch_file(state: &Path) -> PathBuf {
    state.join("touch")
}

/// The card's side: blinks and waits for a touch.
#[derive(Debug)]
pub struct Sensor {
    state: PathBuf,
    timeout: Duration,
    last_touch: Option<Instant>,
}

impl Sensor {
    /// A sensor whose files live in `state` and which waits `timeout` for a touch.
    pub fn new(state: &Path, timeout: Duration) -> Self {
        // Nothing blinks when the card is inserted.
        let _ = fs::remove_file(blinking_file(state));
        let _ = fs::remove_file(touch_file(state));
        Self {
            state: state.to_owned(),
            timeout,
            last_touch: None,
        }
    }

    /// Whether a key with touch policy `policy` (YubiKey's code) may be used now: `true` at
    /// once for a policy that needs no touch, or a cached touch still fresh; otherwise after
    /// blinking until touched (`true`) or until the timeout (`false`).
    pub fn allow(&mut self, policy: u8) -> bool {
        match policy {
            POLICY_ALWAYS => {}
            POLICY_CACHED if self.last_touch.is_some_and(|t| t.elapsed() < CACHE) => return true,
            POLICY_CACHED => {}
            _ => return true,
        }
        let touch = touch_file(&self.state);
        let blinking = blinking_file(&self.state);
        let _ = fs::remove_file(&touch);
        if let Err(e) = fs::write(&blinking, b"") {
            log::error!("cannot show the blinking in {}: {e}", blinking.display());
        }
        log::info!(
            "blinking for a touch (gatehouse-virtual-piv touch --state {})",
            self.state.display()
        );
        let deadline = Instant::now() + self.timeout;
        let touched = loop {
            // Removing the file is what consumes the touch: only one wait takes it.
            if fs::remove_file(&touch).is_ok() {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(POLL);
        };
        let _ = fs::remove_file(&blinking);
        if touched {
            self.last_touch = Some(Instant::now());
        } else {
            log::info!("not touched within {:?}", self.timeout);
        }
        touched
    }
}

/// The finger: waits up to `wait` for the card in `state` to blink, then touches it and waits
/// for the card to take the touch.
pub fn give(state: &Path, wait: Duration) -> io::Result<()> {
    let blinking = blinking_file(state);
    let deadline = Instant::now() + wait;
    while !blinking.exists() {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the card in {} did not blink within {wait:?}: no command waits for a touch",
                    state.display()
                ),
            ));
        }
        std::thread::sleep(POLL);
    }
    let touch = touch_file(state);
    fs::write(&touch, b"")?;
    // The card takes the touch within one poll; it may also have stopped blinking (timed out)
    // just before, and then the touch came too late.
    let deadline = Instant::now() + Duration::from_secs(2);
    while touch.exists() {
        if Instant::now() >= deadline || !blinking.exists() {
            let _ = fs::remove_file(&touch);
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the card stopped blinking before it felt the touch: too late",
            ));
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(300);

    #[test]
    fn policies_without_touch_pass_at_once() {
        let state = tempfile::tempdir().unwrap();
        let mut sensor = Sensor::new(state.path(), SHORT);
        let started = Instant::now();
        assert!(sensor.allow(1), "touch policy never");
        assert!(sensor.allow(0), "default policy (never)");
        assert!(started.elapsed() < SHORT, "and nothing waited");
    }

    #[test]
    fn untouched_times_out_and_stops_blinking() {
        let state = tempfile::tempdir().unwrap();
        let mut sensor = Sensor::new(state.path(), SHORT);
        let started = Instant::now();
        assert!(!sensor.allow(POLICY_ALWAYS), "no touch: refused");
        assert!(started.elapsed() >= SHORT, "after the whole timeout");
        assert!(!blinking_file(state.path()).exists(), "the LED is off");
        let late = give(state.path(), Duration::from_millis(50));
        assert!(late.is_err(), "touching a card that does not blink fails");
    }

    #[test]
    fn a_touch_while_blinking_counts_and_one_before_does_not() {
        let state = tempfile::tempdir().unwrap();
        // A touch written before the card blinks is thrown away.
        fs::write(touch_file(state.path()), b"").unwrap();
        let mut sensor = Sensor::new(state.path(), SHORT);
        fs::write(touch_file(state.path()), b"").unwrap();
        assert!(
            !sensor.allow(POLICY_ALWAYS),
            "an early touch does not count"
        );

        let mut sensor = Sensor::new(state.path(), Duration::from_secs(5));
        let finger = {
            let state = state.path().to_owned();
            std::thread::spawn(move || give(&state, Duration::from_secs(5)))
        };
        assert!(sensor.allow(POLICY_ALWAYS), "touched while blinking");
        finger
            .join()
            .unwrap()
            .expect("the finger saw the touch taken");
        assert!(!touch_file(state.path()).exists(), "the touch was consumed");
    }

    #[test]
    fn cached_touch_lasts_then_asks_again() {
        let state = tempfile::tempdir().unwrap();
        let mut sensor = Sensor::new(state.path(), SHORT);
        assert!(!sensor.allow(POLICY_CACHED), "cached, never touched: waits");
        sensor.last_touch = Some(Instant::now());
        assert!(sensor.allow(POLICY_CACHED), "a fresh touch is remembered");
        assert!(!sensor.allow(POLICY_ALWAYS), "but 'always' asks every time");
        sensor.last_touch = Some(Instant::now() - CACHE);
        assert!(!sensor.allow(POLICY_CACHED), "an old touch is forgotten");
    }
}
