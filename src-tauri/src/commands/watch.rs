//! Keeps a connected console up to date with the server's proposals.
//!
//! While a connection is live, a task follows the server's event stream (`GET /v1/events`, over
//! the same mutual TLS). On every event, and each time the stream is (re)opened, it reads the
//! proposals again, tells the webview ([`PROPOSALS_EVENT`]) so an open approvals screen refreshes,
//! and raises one desktop notification for each proposal that now waits for this officer and was
//! never announced before. Announced proposals are remembered on disk per profile
//! ([`Announced`]), written before the notification is shown, so neither a new event nor a
//! restart of the console announces a proposal twice. Break-glass records the CLI queued while the
//! server was down are delivered each time the stream opens. An emergency pause is announced the same
//! way, once per pause, to everyone connected: on every `breaker` event (and when the stream
//! opens) the breaker is read, and a tripped one never announced before raises a notification.
//!
//! When the stream drops, the task retries with backoff (1 s doubling to 30 s) and says so in the
//! event (`live: false`): the approvals screen then polls on its own.
//!
//! Test-only way out: in debug builds, `GATEHOUSE_E2E_NOTIFICATIONS` names a file each
//! notification is appended to as a JSON line (as well as being shown), for the WebDriver suite,
//! which cannot see the desktop's notifications. Release builds ignore it.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gatehouse_protocol::pause::Breaker;
use gatehouse_protocol::proposal::{Payload, Proposal};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime};
use tauri_plugin_notification::NotificationExt;

use super::proposals::{needs, waits_for};

/// The webview event: the proposals of `profile` may have changed.
pub const PROPOSALS_EVENT: &str = "gatehouse:proposals";

/// The variable naming the file notifications are also written to, in debug builds.
pub const E2E_NOTIFICATIONS_ENV: &str = "GATEHOUSE_E2E_NOTIFICATIONS";

/// The payload of [`PROPOSALS_EVENT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalsChanged {
    /// The profile whose proposals changed.
    pub profile: String,
    /// Whether the server's events arrive; when not, the screen polls.
    pub live: bool,
}

/// Where the watcher's news goes: the webview and the desktop, or a test's record.
pub trait Sink: Send + Sync + 'static {
    /// The proposals of a profile may have changed.
    fn changed(&self, change: ProposalsChanged);
    /// One desktop notification.
    fn notify(&self, title: &str, body: &str);
}

/// The running console: Tauri events and the notification plugin.
pub(crate) struct AppSink<R: Runtime> {
    app: AppHandle<R>,
    record: Option<PathBuf>,
}

impl<R: Runtime> AppSink<R> {
    /// Emits on `app`; in debug builds also records notifications where
    /// `GATEHOUSE_E2E_NOTIFICATIONS` says.
    pub fn new(app: AppHandle<R>) -> Self {
        let record = cfg!(debug_assertions)
            .then(|| std::env::var_os(E2E_NOTIFICATIONS_ENV).map(PathBuf::from))
            .flatten();
        Self { app, record }
    }
}

/// A notification as the test record holds it.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    title: String,
    body: String,
}

impl<R: Runtime> Sink for AppSink<R> {
    fn changed(&self, change: ProposalsChanged) {
        if let Err(error) = self.app.emit(PROPOSALS_EVENT, change) {
            tracing::warn!(%error, "could not tell the window about new proposals");
        }
    }

    fn notify(&self, title: &str, body: &str) {
        if let Some(path) = &self.record {
            let line = serde_json::json!(Recorded {
                title: title.to_owned(),
                body: body.to_owned()
            });
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(error) = written {
                tracing::warn!(%error, path = %path.display(), "could not record a notification");
            }
        }
        // No notification service (a bare X server, a locked-down desktop) is not a failure of
        // the approval itself: the approvals screen shows the proposal either way.
        if let Err(error) = self
            .app
            .notification()
            .builder()
            .title(title)
            .body(body)
            .show()
        {
            tracing::warn!(%error, "the desktop notification could not be shown");
        }
    }
}

/// The proposals already announced to one profile's officer, newest last, kept on disk.
#[derive(Debug)]
pub struct Announced {
    path: PathBuf,
    ids: VecDeque<String>,
}

impl Announced {
    /// How many ids are remembered; the server lists at most 200 proposals.
    const KEEP: usize = 1000;

    /// Where `profile`'s record lives in the profile store directory `dir`.
    pub fn path(dir: &Path, profile: &str) -> PathBuf {
        dir.join("announced").join(format!("{profile}.json"))
    }

    /// Reads the record; a missing one is empty, an unreadable one is reported and started anew
    /// (at worst a waiting proposal is announced once more).
    pub fn load(path: PathBuf) -> Self {
        let ids = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, path = %path.display(), "the record of announced proposals is unreadable; starting a new one");
                VecDeque::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => VecDeque::new(),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "could not read the record of announced proposals");
                VecDeque::new()
            }
        };
        Self { path, ids }
    }

    /// Whether the pause tripped at `at` was never announced; it is recorded as announced (on
    /// disk first).
    pub fn first_pause(&mut self, at: &str) -> bool {
        let key = format!("breaker:{at}");
        if self.ids.contains(&key) {
            return false;
        }
        self.remember([key]);
        true
    }

    fn remember(&mut self, keys: impl IntoIterator<Item = String>) {
        self.ids.extend(keys);
        while self.ids.len() > Self::KEEP {
            self.ids.pop_front();
        }
        if let Err(error) = self.save() {
            tracing::warn!(%error, path = %self.path.display(), "could not record announced proposals");
        }
    }

    /// The proposals among `waiting` never announced before, now recorded as announced (on disk
    /// first, so a crash after cannot announce them again).
    pub fn fresh<'a>(
        &mut self,
        waiting: impl IntoIterator<Item = &'a Proposal>,
    ) -> Vec<&'a Proposal> {
        let fresh: Vec<&Proposal> = waiting
            .into_iter()
            .filter(|p| !self.ids.contains(&p.id))
            .collect();
        if fresh.is_empty() {
            return fresh;
        }
        self.remember(fresh.iter().map(|p| p.id.clone()));
        fresh
    }

    fn save(&self) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut file, &self.ids)?;
        file.as_file().sync_all()?;
        file.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

/// The notification for a proposal that waits for me.
pub fn announcement(p: &Proposal) -> (String, String) {
    let what = match &p.payload {
        Payload::Mint {
            token, metadata, ..
        } => {
            let n = metadata.len();
            format!("mint {n} NFT{} of {token}", if n == 1 { "" } else { "s" })
        }
        Payload::TokenCreate { name, symbol, .. } => format!("create the token {name} ({symbol})"),
        Payload::Rotation { token, role, .. } => {
            format!("rotate the {} key of {token}", role.as_str())
        }
        Payload::Offboarding { token, officer, .. } => {
            format!("remove {officer} from every key of {token}")
        }
        Payload::Onboarding {
            token,
            officer,
            after,
            ..
        } => {
            let keys: Vec<&str> = after.iter().map(|k| k.role.as_str()).collect();
            format!("add {officer} to the {} key(s) of {token}", keys.join(", "))
        }
        _ => format!("do something this console does not know ({:?})", p.kind),
    };
    (
        "Gatehouse: your approval is needed".to_owned(),
        format!(
            "{} proposes to {what}. {} of {} approvals needed by {}. Open Approvals to review and sign.",
            p.proposer,
            p.threshold,
            p.eligible.len(),
            p.deadline.format("%Y-%m-%d %H:%M UTC"),
        ),
    )
}

/// The notification for a rotation that waits for my new key's signature.
pub fn new_key_announcement(p: &Proposal) -> (String, String) {
    let role = match &p.payload {
        Payload::Rotation { role, .. } => role.as_str(),
        _ => "",
    };
    (
        "Gatehouse: your new key must sign".to_owned(),
        format!(
            "{} proposes a new {role} key that you hold. Hedera applies it only when the new key signs too: open Approvals and choose Sign with my new key, by {}.",
            p.proposer,
            p.deadline.format("%Y-%m-%d %H:%M UTC"),
        ),
    )
}

/// Announces what newly waits for `me` among `proposals`.
pub fn announce(sink: &dyn Sink, announced: &mut Announced, proposals: &[Proposal], me: &str) {
    for p in announced.fresh(proposals.iter().filter(|p| needs(p, me))) {
        let (title, body) = if waits_for(p, me) {
            announcement(p)
        } else {
            new_key_announcement(p)
        };
        sink.notify(&title, &body);
    }
}

/// Announces a tripped breaker to everyone, once per pause.
pub fn announce_breaker(sink: &dyn Sink, announced: &mut Announced, breaker: &Breaker) {
    let Some(at) = breaker.at.filter(|_| breaker.tripped) else {
        return;
    };
    if !announced.first_pause(&at.to_rfc3339()) {
        return;
    }
    let reason = breaker
        .reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map_or_else(String::new, |r| format!(": \"{r}\""));
    sink.notify(
        "Gatehouse: EMERGENCY PAUSE",
        &format!(
            "{} paused everything at {}{reason}. Nothing changes until a quorum of officers resumes it.",
            breaker.by.as_deref().unwrap_or("A responder"),
            at.format("%Y-%m-%d %H:%M:%S UTC"),
        ),
    );
}

/// Retry delays: 1 s doubling to 30 s, back to 1 s once the stream is up.
#[derive(Debug, Default)]
struct Backoff(u32);

impl Backoff {
    fn next(&mut self) -> Duration {
        let delay = Duration::from_secs(1 << self.0.min(5)).min(Duration::from_secs(30));
        self.0 = self.0.saturating_add(1);
        delay
    }
}

/// What the watcher follows.
pub(crate) struct Watched {
    /// The profile.
    pub profile: String,
    /// Its live connection.
    pub connection: Arc<gatehouse_client::Connection>,
    /// Where its announced proposals are remembered.
    pub announced: PathBuf,
    /// Set while the event stream is open.
    pub live: Arc<AtomicBool>,
    /// Break-glass records the CLI queued while the server was down, delivered when it answers.
    pub break_glass: gatehouse_client::breakglass::BreakGlass,
}

/// Reads the proposals, announces what newly waits for me, and tells the window.
struct Refresh<'a> {
    sink: &'a dyn Sink,
    connection: &'a gatehouse_client::Connection,
    me: &'a str,
    profile: &'a str,
}

impl Refresh<'_> {
    /// Reads the breaker and announces a new pause.
    async fn breaker(&self, announced: &mut Announced) {
        match self.connection.get::<Breaker>("/v1/breaker").await {
            Ok(breaker) => announce_breaker(self.sink, announced, &breaker),
            Err(error) => tracing::warn!(%error, "could not read the breaker"),
        }
    }

    async fn run(&self, announced: &mut Announced, live: bool) {
        match self
            .connection
            .get::<Vec<Proposal>>("/v1/proposals?limit=200")
            .await
        {
            Ok(proposals) => announce(self.sink, announced, &proposals, self.me),
            Err(error) => tracing::warn!(%error, "could not read the proposals"),
        }
        self.sink.changed(ProposalsChanged {
            profile: self.profile.to_owned(),
            live,
        });
    }
}

/// Follows the server's events until aborted (the live connection owns the task).
pub(crate) async fn watch(sink: Arc<dyn Sink>, watched: Watched) {
    let Watched {
        profile,
        connection,
        announced,
        live,
        break_glass,
    } = watched;
    let mut announced = Announced::load(announced);
    let mut backoff = Backoff::default();
    let me = loop {
        match connection.whoami().await {
            Ok(me) => break me.name,
            Err(error) => {
                tracing::warn!(%error, "the event watcher could not ask who we are");
                tokio::time::sleep(backoff.next()).await;
            }
        }
    };
    let refresh = Refresh {
        sink: sink.as_ref(),
        connection: &connection,
        me: &me,
        profile: &profile,
    };
    loop {
        match connection.events().await {
            Ok(mut stream) => {
                live.store(true, Ordering::SeqCst);
                backoff = Backoff::default();
                // Anything that happened while the stream was down is read now, and break-glass
                // records queued meanwhile go to the audit log.
                match break_glass.deliver(&connection).await {
                    Ok(0) => {}
                    Ok(delivered) => {
                        tracing::info!(delivered, "queued break-glass records delivered")
                    }
                    Err(error) => {
                        tracing::warn!(%error, "queued break-glass records could not be delivered yet")
                    }
                }
                refresh.breaker(&mut announced).await;
                refresh.run(&mut announced, true).await;
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(event) => {
                            if event.kind == "breaker" {
                                refresh.breaker(&mut announced).await;
                            }
                            refresh.run(&mut announced, true).await;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "the server's event stream broke");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not open the server's event stream"),
        }
        live.store(false, Ordering::SeqCst);
        refresh.run(&mut announced, false).await;
        tokio::time::sleep(backoff.next()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Record(Mutex<Vec<String>>);

    impl Sink for Record {
        fn changed(&self, _: ProposalsChanged) {}
        fn notify(&self, _: &str, body: &str) {
            self.0.lock().expect("not poisoned").push(body.to_owned());
        }
    }

    fn proposal(id: &str) -> Proposal {
        Proposal {
            id: id.into(),
            ..Proposal::open_mint_for_tests()
        }
    }

    #[test]
    fn each_proposal_waiting_for_me_is_announced_once_even_after_a_restart() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = Announced::path(dir.path(), "bob");
        let sink = Record::default();
        let (a, b) = (proposal("a"), proposal("b"));

        let mut announced = Announced::load(path.clone());
        announce(&sink, &mut announced, std::slice::from_ref(&a), "bob");
        announce(&sink, &mut announced, &[a.clone(), b.clone()], "bob");
        assert_eq!(
            sink.0.lock().expect("not poisoned").len(),
            2,
            "a once, then b once"
        );

        // A restarted console reads the record: nothing is announced again.
        let mut announced = Announced::load(path);
        announce(&sink, &mut announced, &[a, b], "bob");
        assert_eq!(sink.0.lock().expect("not poisoned").len(), 2);
    }

    #[test]
    fn proposals_that_do_not_wait_for_me_are_not_announced() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sink = Record::default();
        let mut announced = Announced::load(Announced::path(dir.path(), "alice"));
        // alice proposed it; dave may not sign it.
        announce(&sink, &mut announced, &[proposal("a")], "alice");
        announce(&sink, &mut announced, &[proposal("a")], "dave");
        assert!(sink.0.lock().expect("not poisoned").is_empty());
        // bob may: it names the proposer, what, the quorum and the deadline.
        announce(&sink, &mut announced, &[proposal("a")], "bob");
        let shown = sink.0.lock().expect("not poisoned").clone();
        assert_eq!(shown.len(), 1);
        assert!(
            shown[0].starts_with("alice proposes to mint 1 NFT of 0.0.9. 2 of 3 approvals"),
            "{}",
            shown[0]
        );
    }

    #[test]
    fn an_unreadable_record_starts_anew_and_a_long_one_keeps_the_newest() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = Announced::path(dir.path(), "bob");
        std::fs::create_dir_all(dir.path().join("announced")).expect("a directory");
        std::fs::write(&path, b"not json").expect("written");
        let sink = Record::default();
        let mut announced = Announced::load(path.clone());
        let many: Vec<Proposal> = (0..Announced::KEEP + 5)
            .map(|i| proposal(&i.to_string()))
            .collect();
        announce(&sink, &mut announced, &many, "bob");
        assert_eq!(
            sink.0.lock().expect("not poisoned").len(),
            Announced::KEEP + 5
        );
        let kept = Announced::load(path);
        assert_eq!(kept.ids.len(), Announced::KEEP);
        assert_eq!(kept.ids.back().map(String::as_str), Some("1004"));
        assert_eq!(kept.ids.front().map(String::as_str), Some("5"));
    }

    #[test]
    fn a_pause_is_announced_to_everyone_once() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = Announced::path(dir.path(), "dave");
        let sink = Record::default();
        let open = Breaker {
            tripped: false,
            by: None,
            at: None,
            reason: None,
            ledger_status: None,
            ledger_transaction: None,
            ledger_paused: Some(false),
            resume: None,
        };
        let tripped = Breaker {
            tripped: true,
            by: Some("carol".into()),
            at: chrono::DateTime::from_timestamp(1_700_000_000, 0),
            reason: Some("keys leaked".into()),
            ..open.clone()
        };
        let mut announced = Announced::load(path.clone());
        announce_breaker(&sink, &mut announced, &open);
        assert!(
            sink.0.lock().expect("not poisoned").is_empty(),
            "nothing while open"
        );
        announce_breaker(&sink, &mut announced, &tripped);
        announce_breaker(&sink, &mut announced, &tripped);
        let mut restarted = Announced::load(path);
        announce_breaker(&sink, &mut restarted, &tripped);
        let shown = sink.0.lock().expect("not poisoned").clone();
        assert_eq!(shown.len(), 1, "once, even after a restart: {shown:?}");
        assert_eq!(
            shown[0],
            "carol paused everything at 2023-11-14 22:13:20 UTC: \"keys leaked\". Nothing changes until a quorum of officers resumes it."
        );
        // A later pause is news again.
        let again = Breaker {
            at: chrono::DateTime::from_timestamp(1_700_000_600, 0),
            ..tripped
        };
        announce_breaker(&sink, &mut restarted, &again);
        assert_eq!(sink.0.lock().expect("not poisoned").len(), 2);
    }

    #[test]
    fn retries_back_off_to_thirty_seconds() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..8).map(|_| b.next().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
