//! Demo activity: labelled synthetic entries appended through the real audit log, so the
//! demo and the explorer's tests have a large, varied trail to look at.
//!
//! Every entry's action starts with `demo.`, its details say `"demo": true`, and the actor
//! names are the demo deployment's people; nothing here can pass for real custody activity.
//! Entries go through [`AuditLog::append`], so they are sequenced, batched and signed exactly
//! like real ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::Fingerprint;

use std::borrow::Cow;

use crate::audit::{Action, Actor, AuditLog, Entry, Error, Personal};

/// Entries queued per transaction.
const CHUNK: u64 = 64;

const ACTORS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const ACTIONS: [&str; 8] = [
    "demo.mint.propose",
    "demo.mint.approve",
    "demo.mint.approve",
    "demo.mint.submit",
    "demo.mint.reject",
    "demo.key.rotate",
    "demo.pause",
    "demo.resume",
];

/// A cheap, fixed mixing of `i` (SplitMix64), so the same count always gives the same activity.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `i`-th demo entry.
pub fn entry(i: u64) -> Entry {
    let r = mix(i);
    let actor = ACTORS[(r % ACTORS.len() as u64) as usize];
    let action = ACTIONS[((r >> 8) % ACTIONS.len() as u64) as usize];
    let (outcome, code) = match (r >> 16) % 100 {
        0..=8 => (OutcomeKind::Denied, Some(Cow::Borrowed("QUORUM_NOT_MET"))),
        9..=11 => (OutcomeKind::Failed, Some(Cow::Borrowed("LEDGER_TIMEOUT"))),
        _ => (OutcomeKind::Success, None),
    };
    let mut digest = [0u8; 32];
    digest[..actor.len()].copy_from_slice(actor.as_bytes());
    Entry {
        actor: Actor {
            name: actor.to_owned(),
            fingerprint: Fingerprint::from_digest(digest),
        },
        action: Action::Demo(Cow::Borrowed(action)),
        object: format!("proposal/{}", i / 3),
        outcome,
        code,
        request_id: format!("demo-{i}"),
        details: serde_json::json!({ "demo": true, "serials": (r >> 24) % 10 + 1 }),
        personal: Personal::default(),
    }
}

/// Appends `count` demo entries with `concurrency` writers in flight, each queuing a chunk of
/// entries per transaction (the sequencer batches them); calls `progress(done)` now and then.
/// Returns the first error, if any.
pub async fn generate(
    log: &AuditLog,
    count: u64,
    concurrency: usize,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<(), Error> {
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(progress);
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (log, next, done, progress) =
            (log.clone(), next.clone(), done.clone(), progress.clone());
        writers.spawn(async move {
            loop {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                if start >= count {
                    return Ok::<(), Error>(());
                }
                let end = (start + CHUNK).min(count);
                log.append_all((start..end).map(entry).collect()).await?;
                let before = done.fetch_add(end - start, Ordering::Relaxed);
                let finished = before + (end - start);
                if finished / 10_000 != before / 10_000 || finished == count {
                    progress(finished);
                }
            }
        });
    }
    while let Some(joined) = writers.join_next().await {
        joined.map_err(|e| Error::Storage(format!("a demo writer stopped: {e}")))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_entries_are_labelled_and_varied() {
        let entries: Vec<Entry> = (0..1000).map(entry).collect();
        assert!(
            entries
                .iter()
                .all(|e| e.action.name().starts_with("demo.") && e.details["demo"] == true),
            "every entry says it is a demo"
        );
        let denied = entries
            .iter()
            .filter(|e| e.outcome == OutcomeKind::Denied)
            .count();
        assert!(
            (50..150).contains(&denied),
            "about one in eleven is denied: {denied}"
        );
        let actors: std::collections::HashSet<_> =
            entries.iter().map(|e| e.actor.name.as_str()).collect();
        assert_eq!(actors.len(), ACTORS.len(), "every demo person acts");
    }
}
