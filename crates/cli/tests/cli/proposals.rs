//! A 2-of-3 mint from the command line under the production key policy: alice's and bob's
//! ledger keys on SoftHSM2 tokens (self-reported), carol's in slot 9c of the virtual PIV card
//! (attested, PIN and touch on every signature). Enrol, propose the token, approve it, mint, and
//! the refusals (own proposal, a server that changes a proposal after the first signature, a wrong
//! PIN), each with its exit code.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use gatehouse_protocol::Role;
use gatehouse_server::store::Db;
use gatehouse_server::testing::{Backend, TestDeployment};
use hiero_sdk_proto::services as pb;
use prost::Message as _;

use crate::audit::{import, profile_file};
use crate::device::{Hsm, MODULE, key_id};
use crate::{assert_failure, text};
use gatehouse_keys::testing::{PIV_PIN, VirtualCard};

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");
const PIN: &str = "246810";

/// One officer: a CLI config directory with their profile, and their device.
struct Officer {
    config: PathBuf,
    device: Device,
    key: String,
}

enum Device {
    Token(Hsm),
    Card(u32),
}

impl Officer {
    /// The officer's device PIN.
    fn pin(&self) -> &'static str {
        match self.device {
            Device::Token(_) => PIN,
            Device::Card(_) => PIV_PIN,
        }
    }

    /// `gatehouse ARGS`, with the device options appended where `device` is true.
    fn command(&self, pin: &str, args: &[&str], device: bool) -> Output {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("GATEHOUSE_CONFIG_DIR", &self.config)
            .env("GATEHOUSE_DEVICE_PIN", pin)
            .env_remove("GATEHOUSE_PKCS11_MODULE")
            .stdin(std::process::Stdio::null());
        match &self.device {
            Device::Token(hsm) => {
                command.env("SOFTHSM2_CONF", hsm.conf());
                if device {
                    command.args(["--module", MODULE]);
                }
            }
            Device::Card(serial) => {
                if device {
                    command.args(["--piv", "--serial", &serial.to_string()]);
                }
            }
        }
        command.output().expect("gatehouse runs")
    }

    /// A command that needs no device.
    fn run(&self, pin: &str, args: &[&str]) -> Output {
        self.command(pin, args, false)
    }

    /// Approves proposal `id` on the officer's device, reading the ledger's copy from `mirror`
    /// (empty: the one pinned in the profile).
    fn approve(&self, pin: &str, id: &str, mirror: &str) -> Output {
        self.approve_with(pin, id, mirror, &self.key)
    }

    /// Approves proposal `id` with the key `key` on the officer's device (another than their
    /// first, e.g. after a rotation), reading the ledger's copy from `mirror` as `approve` does.
    fn approve_with(&self, pin: &str, id: &str, mirror: &str, key: &str) -> Output {
        let mut args = vec!["proposal", "approve", id, "--key", key];
        if !mirror.is_empty() {
            args.extend(["--mirror", mirror]);
        }
        self.command(pin, &args, true)
    }
}

fn gatehouse(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("GATEHOUSE_CONFIG_DIR", config)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("gatehouse runs")
}

/// Checks that `out` says each of `needles`.
#[track_caller]
fn says(out: &Output, needles: &[&str]) {
    for needle in needles {
        assert!(text(out).contains(needle), "{needle}: {}", text(out));
    }
}

/// The id in `proposed rotation <id>` in `gatehouse rotate`'s output.
fn rotation_id(out: &Output) -> String {
    text(out)
        .lines()
        .find_map(|l| l.strip_prefix("proposed rotation "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("the rotation's id is printed: {}", text(out)))
}

/// The id `proposal:   <id>` in a command's output.
fn proposal_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("proposal:"))
        .map(|id| id.trim().to_owned())
        .unwrap_or_else(|| panic!("the proposal id is printed: {}", text(out)))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

/// Runs `f` on the blocking pool; with a card, touches it once meanwhile and checks it felt it.
async fn on_card<T: Send + 'static>(
    card: Option<&VirtualCard>,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    match card {
        Some(card) => touched(card, 1, f).await,
        None => blocking(f).await,
    }
}

/// Runs `f` on the blocking pool, touching `card` `times` times meanwhile (each as it blinks),
/// and checks it felt each one.
async fn touched<T: Send + 'static>(
    card: &VirtualCard,
    times: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let running = tokio::task::spawn_blocking(f);
    for _ in 0..times {
        // Waited for off the runtime: the server the command talks to runs on it.
        let touch = card.touch(std::time::Duration::from_millis(200));
        blocking(move || touch.join())
            .await
            .expect("the touch thread")
            .expect("the card felt the touch");
    }
    running.await.expect("join")
}

async fn execute(db: &Db, sql: String) {
    match db {
        Db::Sqlite(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn officers_mint_two_of_three_from_the_command_line_with_keys_on_tokens() {
    let mut deployment = TestDeployment::new(Backend::Sqlite).await;
    deployment.config.ledger = Some(gatehouse_server::config::Ledger::Simulator {
        data_dir: "ledger".into(),
    });
    deployment.config.keys.policy = gatehouse_server::config::KeyPolicy::Production;
    // Carol's YubiKey is the virtual card: the server trusts its test attestation root.
    let card = VirtualCard::insert();
    let root = deployment.dir.path().join("virtual-piv-root.der");
    std::fs::write(&root, card.attestation_root()).expect("write the card's root");
    deployment.config.keys.attestation_roots = vec![root];
    let people = [
        ("alice", vec![Role::Officer]),
        ("bob", vec![Role::Officer]),
        ("carol", vec![Role::Officer, Role::Responder]),
    ];
    let mut files = Vec::new();
    for (name, roles) in &people {
        files.push(deployment.enrol(name, roles).await);
    }
    let erin_files = deployment.enrol("erin", &[Role::Admin]).await;
    let server = deployment.start().await;
    let port = server.addr.port();
    let dir = deployment.dir.path().to_owned();
    let mirror = server.state.ledger.as_ref().expect("a ledger").mirror()[0].clone();

    let mut officers = Vec::new();
    for ((name, _), person) in people.iter().zip(&files) {
        let config = dir.join(format!("{name}-cli"));
        let file = profile_file(&dir, name, deployment.ca_cert(), person, port);
        assert!(import(&config, &file), "{name}'s profile imports");
        let officer = if *name == "carol" {
            let mut officer = Officer {
                config,
                device: Device::Card(card.serial),
                key: "9c".to_owned(),
            };
            // Ed25519 in 9c: PIN and touch on every signature, as Gatehouse makes approval keys.
            let keygen = officer.command(
                PIV_PIN,
                &["device", "keygen", "--algorithm", "ed25519", "--slot", "9c"],
                true,
            );
            assert!(
                keygen.status.success() && text(&keygen).contains("touch always"),
                "{}",
                text(&keygen)
            );
            officer.key = "9c".to_owned();
            officer
        } else {
            let hsm = Hsm::new(&format!("{name}-token"), PIN);
            let keygen = hsm.run(
                &[("GATEHOUSE_DEVICE_PIN", PIN)],
                &["keygen", "--algorithm", "ed25519", "--label", "ledger"],
            );
            assert!(keygen.status.success(), "{}", text(&keygen));
            let key = key_id(&keygen);
            Officer {
                config,
                device: Device::Token(hsm),
                key,
            }
        };
        officers.push(officer);
    }
    let erin = dir.join("erin-cli");
    assert!(import(
        &erin,
        &profile_file(&dir, "erin", deployment.ca_cert(), &erin_files, port)
    ));
    let officers = std::sync::Arc::new(officers);

    // Each officer enrols their key; production accepts the tokens' attributes (self-reported)
    // and the card's attestation (verified against its root).
    for (i, evidence) in [(0, "self-reported"), (1, "self-reported"), (2, "attested")] {
        let o = officers.clone();
        let out = blocking(move || {
            o[i].command(
                o[i].pin(),
                &["ledger-key", "enrol", "--key", &o[i].key],
                true,
            )
        })
        .await;
        assert!(out.status.success(), "enrol: {}", text(&out));
        assert!(
            text(&out).contains(&format!("({evidence} evidence)")),
            "{}",
            text(&out)
        );
    }

    // The administrator proposes the token; alice and bob approve it on their tokens.
    let out = blocking({
        let erin = erin.clone();
        move || {
            gatehouse(
                &erin,
                &[
                    "token",
                    "propose",
                    "--name",
                    "Gate",
                    "--symbol",
                    "GATE",
                    "--max-supply",
                    "100",
                ],
            )
        }
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let token = proposal_id(&out);
    for i in 0..2 {
        let (o, token, mirror) = (officers.clone(), token.clone(), mirror.clone());
        let out = blocking(move || o[i].approve(o[i].pin(), &token, &mirror)).await;
        assert!(out.status.success(), "approve the token: {}", text(&out));
        let shown = text(&out);
        for needle in [
            "CREATE TOKEN Gate (GATE)",
            "supply key:  2 of [ed25519:",
            "SIGN SCHEDULE",
            "identical",
        ] {
            assert!(
                shown.contains(needle),
                "the decoded body shows {needle:?}: {shown}"
            );
        }
    }

    // Alice proposes a mint; she cannot approve it herself.
    let o = officers.clone();
    let out = blocking(move || {
        o[0].run(
            PIN,
            &[
                "mint",
                "propose",
                "--metadata",
                "ipfs://bafy-one",
                "--metadata",
                "ipfs://bafy-two",
            ],
        )
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let mint = proposal_id(&out);
    let (o, id, m) = (officers.clone(), mint.clone(), mirror.clone());
    let own = blocking(move || o[0].approve(o[0].pin(), &id, &m)).await;
    assert_failure(
        &own,
        15,
        "another officer must approve",
        "self-approval is refused",
    );

    // A wrong PIN signs nothing.
    let (o, id, m) = (officers.clone(), mint.clone(), mirror.clone());
    let wrong = blocking(move || o[1].approve("000000", &id, &m)).await;
    assert_eq!(
        wrong.status.code(),
        Some(13),
        "a wrong PIN is a device failure: {}",
        text(&wrong)
    );

    // Bob pins the mirror in his profile (plain HTTP to another host is refused), after which
    // approving needs no --mirror; without a pinned mirror it is refused before anything is
    // signed.
    let unpinned = blocking({
        let (o, id) = (officers.clone(), mint.clone());
        move || o[1].approve(o[1].pin(), &id, "")
    })
    .await;
    assert_failure(
        &unpinned,
        2,
        "pins no mirror node",
        "no mirror, no approval",
    );
    let plain = gatehouse(
        &officers[1].config,
        &["profile", "mirror", "bob", "http://mirror.example"],
    );
    assert!(
        !plain.status.success() && text(&plain).contains("https://"),
        "{}",
        text(&plain)
    );
    let pinned = gatehouse(&officers[1].config, &["profile", "mirror", "bob", &mirror]);
    assert!(pinned.status.success(), "{}", text(&pinned));

    // Bob and carol approve: the ledger mints. Carol's card signs after her touch.
    for i in [1, 2] {
        let m = if i == 1 {
            String::new()
        } else {
            mirror.clone()
        };
        let (o, id) = (officers.clone(), mint.clone());
        let out = on_card((i == 2).then_some(&card), move || {
            o[i].approve(o[i].pin(), &id, &m)
        })
        .await;
        if i == 2 {
            assert!(text(&out).contains("touch the YubiKey"), "{}", text(&out));
        }
        assert!(out.status.success(), "approve the mint: {}", text(&out));
        assert!(
            text(&out).contains("metadata[1]: ipfs://bafy-two"),
            "{}",
            text(&out)
        );
        if i == 2 {
            assert!(
                text(&out).contains("status executed") && text(&out).contains("serials [1, 2]"),
                "{}",
                text(&out)
            );
        }
    }

    // A server that changes a proposal after the first signature is caught before anyone signs.
    let o = officers.clone();
    let out =
        blocking(move || o[0].run(PIN, &["mint", "propose", "--metadata", "ipfs://honest"])).await;
    let tampered = proposal_id(&out);
    let (o, id, m) = (officers.clone(), tampered.clone(), mirror.clone());
    let first = blocking(move || o[1].approve(o[1].pin(), &id, &m)).await;
    assert!(first.status.success(), "{}", text(&first));
    let o = officers.clone();
    let id = tampered.clone();
    let shown = blocking(move || o[2].run(PIN, &["proposal", "show", &id])).await;
    assert!(shown.status.success(), "{}", text(&shown));
    let token_line = String::from_utf8_lossy(&shown.stdout)
        .lines()
        .find(|l| l.contains("NFT(s) of token"))
        .unwrap_or_default()
        .to_owned();
    let token_num: i64 = token_line
        .rsplit('.')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .expect("the token number is shown");
    let forged = pb::SchedulableTransactionBody {
        transaction_fee: 2_000_000_000,
        memo: format!("gatehouse proposal {tampered}"),
        data: Some(pb::schedulable_transaction_body::Data::TokenMint(
            pb::TokenMintTransactionBody {
                token: Some(pb::TokenId {
                    shard_num: 0,
                    realm_num: 0,
                    token_num,
                }),
                amount: 0,
                metadata: vec![b"ipfs://rogue".to_vec()],
            },
        )),
        ..Default::default()
    };
    let forged = base64::engine::general_purpose::STANDARD.encode(forged.encode_to_vec());
    let payload = serde_json::json!({ "kind": "mint", "token": format!("0.0.{token_num}"), "metadata": ["ipfs://rogue"] });
    execute(
        &server.state.db,
        format!("UPDATE proposals SET scheduled_body = '{forged}', payload = '{payload}' WHERE id = '{tampered}'"),
    )
    .await;
    let (o, id, m) = (officers.clone(), tampered.clone(), mirror.clone());
    let caught = blocking(move || o[2].approve(o[2].pin(), &id, &m)).await;
    assert_failure(
        &caught,
        19,
        "the server may have changed the proposal",
        "the ledger's copy differs",
    );
    assert!(
        text(&caught).contains("Nothing was signed"),
        "{}",
        text(&caught)
    );

    let o = officers.clone();
    let list = blocking(move || o[2].run(PIN, &["proposal", "list", "--status", "executed"])).await;
    assert!(list.status.success(), "{}", text(&list));
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).lines().count(),
        2,
        "the token and the mint: {}",
        text(&list)
    );

    // The policy: shown with its anchor on the ledger; a change goes through the quorum, each
    // officer seeing the decoded TokenUpdate and the document its memo commits to.
    let o = officers.clone();
    let m = mirror.clone();
    let shown = blocking(move || o[0].run(PIN, &["policy", "show", "--mirror", &m])).await;
    assert!(shown.status.success(), "{}", text(&shown));
    says(
        &shown,
        &[
            "version 1",
            "mint:",
            "2 of alice, bob, carol",
            "anchors this policy",
        ],
    );
    let o = officers.clone();
    let low = blocking(move || {
        o[0].run(
            PIN,
            &[
                "policy",
                "propose",
                "mint",
                "--threshold",
                "1",
                "--eligible",
                "alice",
                "--eligible",
                "bob",
            ],
        )
    })
    .await;
    assert_failure(&low, 17, "threshold:", "a rule under the key's threshold");
    for out in mint_rule(&officers, &card, &mirror, &["alice", "bob"]).await {
        says(
            &out,
            &[
                "UPDATE TOKEN",
                "new token memo:",
                "policy version 2 (replaces 1)",
                "2 of alice, bob\n",
                "it matches",
            ],
        );
    }
    let o = officers.clone();
    let m = mirror.clone();
    let shown = blocking(move || o[2].run(PIN, &["policy", "show", "--mirror", &m])).await;
    assert!(shown.status.success(), "{}", text(&shown));
    says(
        &shown,
        &["version 2", "2 of alice, bob\n", "anchors this policy"],
    );

    // The emergency pause from a terminal: carol's card signs the TokenPause (PIN and touch);
    // every change is then refused (exit 20), and `status` shows the breaker.
    let o = officers.clone();
    let paused = on_card(Some(&card), move || {
        o[2].command(
            o[2].pin(),
            &["pause", "--reason", "drill", "--key", &o[2].key],
            true,
        )
    })
    .await;
    assert!(paused.status.success(), "{}", text(&paused));
    says(
        &paused,
        &[
            "PAUSE TOKEN 0.0.",
            "paused: TRIPPED by carol",
            "(\"drill\")",
            "the ledger answered: SUCCESS",
        ],
    );
    let o = officers.clone();
    let refused =
        blocking(move || o[0].run(PIN, &["mint", "propose", "--metadata", "ipfs://late"])).await;
    assert_failure(&refused, 20, "paused", "a mint while paused");
    let o = officers.clone();
    let status = blocking(move || o[1].run(PIN, &["status"])).await;
    assert!(
        text(&status).contains("breaker:     TRIPPED by carol"),
        "{}",
        text(&status)
    );
    assert!(
        text(&status).contains("the mirror shows the token PAUSED"),
        "{}",
        text(&status)
    );

    // Resuming: alice proposes, bob and carol approve on their devices (a statement no ledger
    // executes), then carol's card signs the TokenUnpause and the breaker closes.
    let o = officers.clone();
    let out =
        blocking(move || o[0].run(PIN, &["resume", "propose", "--reason", "drill over"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let resume = proposal_id(&out);
    let (o, id) = (officers.clone(), resume.clone());
    let early = blocking(move || {
        o[2].command(
            o[2].pin(),
            &["resume", "unpause", &id, "--key", &o[2].key],
            true,
        )
    })
    .await;
    assert_failure(&early, 16, "0 of the 2 approvals", "an unapproved resume");
    for i in [1, 2] {
        let (o, id, m) = (officers.clone(), resume.clone(), mirror.clone());
        let out = on_card((i == 2).then_some(&card), move || {
            o[i].approve(o[i].pin(), &id, &m)
        })
        .await;
        assert!(out.status.success(), "approve the resume: {}", text(&out));
        assert!(
            text(&out).contains("APPROVE UNPAUSING TOKEN 0.0."),
            "{}",
            text(&out)
        );
    }
    let (o, id) = (officers.clone(), resume.clone());
    let resumed = on_card(Some(&card), move || {
        o[2].command(
            o[2].pin(),
            &["resume", "unpause", &id, "--key", &o[2].key],
            true,
        )
    })
    .await;
    assert!(resumed.status.success(), "{}", text(&resumed));
    says(
        &resumed,
        &["UNPAUSE TOKEN 0.0.", "resumed: the token is unpaused"],
    );
    let o = officers.clone();
    let status = blocking(move || o[1].run(PIN, &["status"])).await;
    assert!(
        text(&status)
            .contains("breaker:     open (nothing is paused); the mirror shows the token unpaused"),
        "{}",
        text(&status)
    );

    // Break-glass: erin has the server create carol's own funded account (keyed by her card's
    // ledger key) and carol sets it up with the command printed. With her server unreachable,
    // her card signs a TokenPause straight to the ledger; the mirror shows it PAUSED; the signed
    // record waits, and `gatehouse status` delivers it once the server answers: it trips there.
    let made = blocking({
        let erin = erin.clone();
        move || {
            gatehouse(
                &erin,
                &["break-glass-account", "--for", "carol", "--hbar", "5"],
            )
        }
    })
    .await;
    assert!(made.status.success(), "{}", text(&made));
    let stdout = String::from_utf8_lossy(&made.stdout).into_owned();
    let set_up: Vec<String> = stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("gatehouse profile break-glass PROFILE ")
        })
        .unwrap_or_else(|| panic!("the set-up command is printed: {stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let o = officers.clone();
    let out = blocking(move || {
        let mut args = vec!["profile", "break-glass", "carol"];
        args.extend(set_up.iter().map(String::as_str));
        o[2].run(PIN, &args)
    })
    .await;
    assert!(
        out.status.success() && text(&out).contains("signed by:   the device key ED25519"),
        "{}",
        text(&out)
    );
    let profiles = officers[2].config.join("profiles.json");
    let reachable = std::fs::read_to_string(&profiles).expect("carol's profiles");
    let dead = TcpListener::bind("127.0.0.1:0").expect("a port");
    let dead_port = dead.local_addr().expect("its address").port();
    drop(dead);
    std::fs::write(
        &profiles,
        reachable.replace(
            &format!("https://localhost:{port}"),
            &format!("https://localhost:{dead_port}"),
        ),
    )
    .expect("carol's server moves out of reach");
    let o = officers.clone();
    let broke = on_card(Some(&card), move || {
        o[2].command(
            o[2].pin(),
            &[
                "pause",
                "--ledger-only",
                "--reason",
                "server down",
                "--key",
                &o[2].key,
            ],
            true,
        )
    })
    .await;
    assert!(broke.status.success(), "{}", text(&broke));
    says(
        &broke,
        &[
            "break-glass: you sign",
            "PAUSE TOKEN 0.0.",
            "the ledger paused token 0.0.",
            "shows the token PAUSED",
            "the server cannot be reached (cannot reach the server at",
            "the signed record waits in",
        ],
    );
    let breaker = server
        .state
        .proposals
        .as_ref()
        .expect("proposals")
        .breaker()
        .await
        .expect("the breaker");
    assert!(!breaker.tripped, "the server has not heard of it yet");
    assert_eq!(breaker.ledger_paused, Some(true), "the ledger is paused");
    std::fs::write(&profiles, &reachable).expect("carol's server is back");
    let o = officers.clone();
    let status = blocking(move || o[2].run(PIN, &["status"])).await;
    says(
        &status,
        &[
            "delivered 1 break-glass record(s) to the server's audit log",
            "breaker:     TRIPPED by carol",
        ],
    );

    // Staging the next key for a rotation, even while paused (it changes nothing until a
    // rotation the quorum approves): a key in a slot that never asks for a touch is refused under
    // production; one made as Gatehouse makes ledger keys (PIN and touch always) is taken, attested.
    for (slot, policy) in [("9d", "never"), ("9e", "always")] {
        let o = officers.clone();
        let keygen = blocking(move || {
            o[2].command(
                PIV_PIN,
                &[
                    "device",
                    "keygen",
                    "--algorithm",
                    "ed25519",
                    "--slot",
                    slot,
                    "--touch-policy",
                    policy,
                ],
                true,
            )
        })
        .await;
        assert!(keygen.status.success(), "{}", text(&keygen));
    }
    let o = officers.clone();
    let lax =
        blocking(move || o[2].command(PIV_PIN, &["ledger-key", "stage", "--key", "9d"], true))
            .await;
    assert_failure(
        &lax,
        17,
        "a touch on every signature (the slot's touch policy is Never)",
        "a ledger key that never asks for a touch",
    );
    let o = officers.clone();
    let staged =
        blocking(move || o[2].command(PIV_PIN, &["ledger-key", "stage", "--key", "9e"], true))
            .await;
    assert!(
        staged.status.success() && text(&staged).contains("(attested evidence) for carol"),
        "{}",
        text(&staged)
    );
    let o = officers.clone();
    let listed = blocking(move || o[0].run(PIN, &["ledger-key", "list"])).await;
    let listed = text(&listed);
    let (enrolled, staged) = listed
        .split_once("staged for the next rotation:")
        .unwrap_or_else(|| panic!("the staged keys are listed apart: {listed}"));
    assert_eq!(
        enrolled.lines().filter(|l| l.starts_with("carol")).count(),
        1,
        "{listed}"
    );
    assert!(
        staged.trim_start().starts_with("carol        attested"),
        "{listed}"
    );

    // What a rotation would change: the ledger's keys, their holders named, and the staged key.
    let (o, m) = (officers.clone(), mirror.clone());
    let shown = blocking(move || o[0].run(PIN, &["rotate", "show", "--mirror", &m])).await;
    assert!(shown.status.success(), "{}", text(&shown));
    says(
        &shown,
        &[
            "admin key:   2 of alice, bob, carol\n",
            "supply key:  2 of alice, bob, carol\n",
            "pause key:   1 of carol\n",
            "(its key: 2 of alice, bob, carol)",
            "paused:      yes: Hedera refuses any update of a paused token",
            "staged:      carol ",
        ],
    );

    // The rotation ceremony, in the safe order for a paused token. The server refuses to rotate
    // while the ledger token is paused (Hedera refuses any change to it) and says what to do.
    let rotate = [
        "rotate",
        "supply",
        "--threshold",
        "2",
        "--holder",
        "alice",
        "--holder",
        "bob",
        "--holder",
        "carol",
    ];
    let o = officers.clone();
    let paused = blocking(move || o[0].run(PIN, &rotate)).await;
    assert_failure(
        &paused,
        16,
        "The safe order",
        "a rotation of a paused token",
    );
    // The mint left open earlier would lose its signatures: alice cancels it (allowed while the
    // breaker is tripped: it only takes away what could happen).
    let (o, id) = (officers.clone(), tampered.clone());
    let cancelled = blocking(move || o[0].run(PIN, &["proposal", "cancel", &id])).await;
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    // The quorum unpauses the ledger token alone; the backend stays stopped.
    resume_by_quorum(&officers, &card, &mirror, "rotate the supply key", true).await;
    let o = officers.clone();
    let status = blocking(move || o[1].run(PIN, &["status"])).await;
    assert!(
        text(&status).contains("breaker:     TRIPPED by carol"),
        "the breaker stays tripped: {}",
        text(&status)
    );

    // Alice proposes: carol's staged card key (attested) replaces her supply key.
    let o = officers.clone();
    let out = blocking(move || o[0].run(PIN, &rotate)).await;
    assert!(out.status.success(), "{}", text(&out));
    says(
        &out,
        &[
            "Now:         2 of alice, bob, carol\n",
            "After:       2 of alice, bob, carol (new key)\n",
            "carol:       new key ",
            "(attested evidence)",
        ],
    );
    let rotation = rotation_id(&out);

    // Bob approves on his token, seeing the new supply key decoded; carol must sign with her
    // admin key (9c), and the CLI says so before anything is signed when she offers the new one.
    let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
    let out = blocking(move || o[1].approve(o[1].pin(), &id, &m)).await;
    assert!(out.status.success(), "bob approves: {}", text(&out));
    says(&out, &["supply key:", "carol:       new key "]);
    let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
    let wrong = blocking(move || {
        o[2].command(
            PIV_PIN,
            &["proposal", "approve", &id, "--key", "9e", "--mirror", &m],
            true,
        )
    })
    .await;
    assert_failure(
        &wrong,
        13,
        "this proposal needs your key",
        "the new key cannot approve a rotation yet",
    );
    let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
    let done = on_card(Some(&card), move || o[2].approve(o[2].pin(), &id, &m)).await;
    assert!(
        done.status.success() && text(&done).contains("status executed"),
        "carol's approval executes it: {}",
        text(&done)
    );

    // The ledger holds the new supply key; the registry names it and the mirror agreed.
    let (o, m) = (officers.clone(), mirror.clone());
    let shown = blocking(move || o[0].run(PIN, &["rotate", "show", "--mirror", &m])).await;
    says(
        &shown,
        &[
            "supply key:  2 of alice, bob, carol\n",
            "registry:    supply key 2 of alice, bob, carol (proposal ",
            "mirror agreed at",
            "staged:      none",
        ],
    );

    // Carol pauses the ledger again; then the quorum resumes fully and the breaker closes.
    let o = officers.clone();
    let again = on_card(Some(&card), move || {
        o[2].command(
            o[2].pin(),
            &["pause", "--reason", "rotated", "--key", &o[2].key],
            true,
        )
    })
    .await;
    assert!(
        again.status.success() && text(&again).contains("the ledger answered: SUCCESS"),
        "{}",
        text(&again)
    );
    resume_by_quorum(&officers, &card, &mirror, "supply key rotated", false).await;

    // Mints go back to alice, bob and carol (the quorum changes the rule), and now need carol's
    // new key: her old one is refused before signing, the new one (9e, PIN and touch) counts,
    // and with bob's the ledger mints.
    mint_rule(&officers, &card, &mirror, &["alice", "bob", "carol"]).await;
    let o = officers.clone();
    let out = blocking(move || {
        o[0].run(
            PIN,
            &["mint", "propose", "--metadata", "ipfs://bafy-rotated"],
        )
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let mint = proposal_id(&out);
    let (o, id, m) = (officers.clone(), mint.clone(), mirror.clone());
    let old = blocking(move || o[2].approve(o[2].pin(), &id, &m)).await;
    assert_failure(
        &old,
        13,
        "this proposal needs your key",
        "the old supply key cannot mint",
    );
    let (o, id, m) = (officers.clone(), mint.clone(), mirror.clone());
    let new = on_card(Some(&card), move || {
        o[2].command(
            PIV_PIN,
            &["proposal", "approve", &id, "--key", "9e", "--mirror", &m],
            true,
        )
    })
    .await;
    assert!(
        new.status.success(),
        "carol approves with her new key: {}",
        text(&new)
    );
    let (o, id, m) = (officers.clone(), mint.clone(), mirror.clone());
    let minted = blocking(move || o[1].approve(o[1].pin(), &id, &m)).await;
    assert!(
        minted.status.success() && text(&minted).contains("status executed"),
        "{}",
        text(&minted)
    );

    // Offboarding carol would leave the pause key (1 of carol) with nobody to sign it: refused,
    // saying what to do first.
    let o = officers.clone();
    let leaving = blocking(move || {
        o[0].run(
            PIN,
            &[
                "rotate", "officer", "--remove", "carol", "--reason", "leaves",
            ],
        )
    })
    .await;
    assert_failure(
        &leaving,
        16,
        "the pause key needs 1 signature(s) and only 0 holder(s) would remain",
        "an offboarding that leaves a key unable to sign",
    );

    // The admin key: bob stages a new key on his token. Alice keeps her admin key and proposes,
    // so a new key needing all three could never be signed (she does not approve her own): refused.
    let Device::Token(bob_hsm) = &officers[1].device else {
        panic!("bob keeps his keys on a SoftHSM2 token")
    };
    let keygen = bob_hsm.run(
        &[("GATEHOUSE_DEVICE_PIN", PIN)],
        &["keygen", "--algorithm", "ed25519", "--label", "ledger-next"],
    );
    assert!(keygen.status.success(), "{}", text(&keygen));
    let bob_new = key_id(&keygen);
    let bob_new_key = bob_new.clone();
    let bob_again = bob_new.clone();
    let (o, k) = (officers.clone(), bob_new.clone());
    let staged =
        blocking(move || o[1].command(PIN, &["ledger-key", "stage", "--key", &k], true)).await;
    assert!(staged.status.success(), "{}", text(&staged));
    let admin = |threshold: &'static str| {
        let o = officers.clone();
        blocking(move || {
            o[0].run(
                PIN,
                &[
                    "rotate",
                    "admin",
                    "--threshold",
                    threshold,
                    "--holder",
                    "alice",
                    "--holder",
                    "bob",
                    "--holder",
                    "carol",
                ],
            )
        })
    };
    assert_failure(
        &admin("3").await,
        17,
        "you keep your admin key in it and do not approve your own proposal",
        "a new admin key its proposer's kept key would have to sign",
    );
    let out = admin("2").await;
    assert!(out.status.success(), "{}", text(&out));
    let rotation = rotation_id(&out);
    // Bob approves with his admin key and carol with hers (her key is in the new key, so her
    // approval carries it); the ledger then waits for bob's new key, which signs with --new-key.
    let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
    let out = blocking(move || o[1].approve(o[1].pin(), &id, &m)).await;
    assert!(out.status.success(), "bob approves: {}", text(&out));
    let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
    let out = on_card(Some(&card), move || o[2].approve(o[2].pin(), &id, &m)).await;
    assert!(
        out.status.success() && text(&out).contains("status open"),
        "carol approves; the new key has not signed enough: {}",
        text(&out)
    );
    // Bob signs with --new-key: his old key is refused before anything is signed, the new one
    // completes the new key.
    let sign_new = |key: String| {
        let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
        blocking(move || {
            o[1].command(
                PIN,
                &[
                    "proposal",
                    "approve",
                    &id,
                    "--new-key",
                    "--key",
                    &key,
                    "--mirror",
                    &m,
                ],
                true,
            )
        })
    };
    assert_failure(
        &sign_new(officers[1].key.clone()).await,
        13,
        "this proposal needs your key",
        "the old key offered as the new one",
    );
    let signed = sign_new(bob_new).await;
    assert!(
        signed.status.success()
            && text(&signed).contains(
                "signed with your new key: 2 new-key signature(s) of 2 needed; status executed"
            ),
        "bob's new key completes it: {}",
        text(&signed)
    );
    let (o, id) = (officers.clone(), rotation.clone());
    let shown = text(&blocking(move || o[0].run(PIN, &["proposal", "show", &id])).await);
    assert!(
        shown.contains("signs for the new key by approving"),
        "{shown}"
    );
    // The lines under "new key:" are the new key's signatures (the approvals are listed above).
    let signatures = shown
        .split_once("new key:    2 given, 2 needed")
        .and_then(|(_, rest)| rest.split_once("schedule:"))
        .map(|(listed, _)| listed.to_owned())
        .unwrap_or_else(|| panic!("the new key's signatures are listed: {shown}"));
    for who in ["\n  carol at ", "\n  bob at "] {
        assert!(signatures.contains(who), "{who}: {signatures}");
    }
    let (o, m) = (officers.clone(), mirror.clone());
    let shown = blocking(move || o[0].run(PIN, &["rotate", "show", "--mirror", &m])).await;
    assert!(
        text(&shown).contains("admin key:   2 of alice, bob, carol\n")
            && text(&shown).contains(&format!(
                "registry:    admin key 2 of alice, bob, carol (proposal {rotation}; mirror agreed at"
            )),
        "{}",
        text(&shown)
    );

    // Onboarding: hana is registered (no say). On her token she makes a ledger key, stages it,
    // makes a TLS key and its certificate request, and proposes herself into the admin and
    // supply keys. Alice and bob (with his new admin key) approve; she then connects with the
    // certificate issued from her token's request, the key never leaving it.
    let hana_files = deployment.enrol("hana", &[Role::Officer]).await;
    let hana_config = dir.join("hana-cli");
    assert!(import(
        &hana_config,
        &profile_file(&dir, "hana", deployment.ca_cert(), &hana_files, port)
    ));
    let hana_hsm = Hsm::new("hana-token", PIN);
    let make = |algorithm: &str, label: &str| {
        let keygen = hana_hsm.run(
            &[("GATEHOUSE_DEVICE_PIN", PIN)],
            &["keygen", "--algorithm", algorithm, "--label", label],
        );
        assert!(keygen.status.success(), "{}", text(&keygen));
        key_id(&keygen)
    };
    let hana_ledger = make("ed25519", "ledger");
    let hana_tls = make("p256", "tls");
    let hana = std::sync::Arc::new(Officer {
        config: hana_config,
        device: Device::Token(hana_hsm),
        key: hana_ledger.clone(),
    });
    let csr = dir.join("hana.csr");
    let csr_text = csr.to_str().expect("utf-8").to_owned();
    let h = hana.clone();
    let (k, c) = (hana_ledger.clone(), csr_text.clone());
    let tls = hana_tls.clone();
    let prepared = blocking(move || {
        let staged = h.command(PIN, &["ledger-key", "stage", "--key", &k], true);
        let request = h.command(
            PIN,
            &[
                "device", "csr", "--key", &tls, "--name", "hana", "--out", &c,
            ],
            true,
        );
        (staged, request)
    })
    .await;
    assert!(prepared.0.status.success(), "{}", text(&prepared.0));
    assert!(prepared.1.status.success(), "{}", text(&prepared.1));
    let h = hana.clone();
    let proposed = blocking(move || {
        h.run(
            PIN,
            &[
                "rotate",
                "officer",
                "--add",
                "hana",
                "--key",
                "admin",
                "--key",
                "supply",
                "--csr",
                &csr_text,
                "--reason",
                "joins the signing team",
            ],
        )
    })
    .await;
    let shown = text(&proposed);
    assert!(proposed.status.success(), "{shown}");
    for needle in [
        "admin key",
        "2 of alice, bob, carol -> 2 of alice, bob, carol, hana",
        "a new TLS certificate for hana from their device's request",
        "(self-reported evidence)",
    ] {
        assert!(shown.contains(needle), "{needle:?}: {shown}");
    }
    let onboarding = shown
        .lines()
        .find_map(|l| l.strip_prefix("proposed onboarding "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("the onboarding's id is printed: {shown}"));
    // She writes the certificate while her current one still gets her in, and a profile with it
    // and the key on her token; it is refused until the quorum approves.
    let cert = dir.join("hana-device.pem");
    let (h, id, c, ca) = (
        hana.clone(),
        onboarding.clone(),
        cert.clone(),
        deployment.ca_cert(),
    );
    let url = format!("https://localhost:{port}");
    let tls = hana_tls.clone();
    let early = blocking(move || {
        let written = h.run(
            PIN,
            &[
                "proposal",
                "certificate",
                &id,
                "--out",
                c.to_str().expect("utf-8"),
            ],
        );
        let added = h.command(
            PIN,
            &[
                "profile",
                "add",
                "--name",
                "hana-device",
                "--server",
                &url,
                "--ca",
                ca.to_str().expect("utf-8"),
                "--cert",
                c.to_str().expect("utf-8"),
                "--device-key",
                &tls,
            ],
            true,
        );
        let me = h.run(PIN, &["whoami", "--profile", "hana-device"]);
        (written, added, me)
    })
    .await;
    assert!(
        early.0.status.success()
            && text(&early.0).contains("it gets you in once the onboarding executes"),
        "{}",
        text(&early.0)
    );
    assert!(early.1.status.success(), "{}", text(&early.1));
    assert_failure(
        &early.2,
        6,
        "is not registered with this deployment",
        "the new certificate grants nothing before the quorum approves",
    );
    let (o, id, m) = (officers.clone(), onboarding.clone(), mirror.clone());
    let out = blocking(move || o[0].approve(o[0].pin(), &id, &m)).await;
    assert!(out.status.success(), "alice approves: {}", text(&out));
    assert!(
        text(&out).contains("a new TLS certificate for hana"),
        "alice sees the certificate she approves: {}",
        text(&out)
    );
    let (o, id, m) = (officers.clone(), onboarding.clone(), mirror.clone());
    let out = blocking(move || o[1].approve_with(PIN, &id, &m, &bob_new_key)).await;
    assert!(
        out.status.success() && text(&out).contains("status executed"),
        "bob approves with his new admin key: {}",
        text(&out)
    );
    let h = hana.clone();
    let connected = blocking(move || {
        let me = h.run(PIN, &["whoami", "--profile", "hana-device"]);
        let old = h.run(PIN, &["whoami", "--profile", "hana"]);
        (me, old)
    })
    .await;
    assert!(
        connected.0.status.success() && text(&connected.0).contains("name:        hana"),
        "hana connects with the key on her token: {}",
        text(&connected.0)
    );
    assert!(
        !connected.1.status.success(),
        "her old certificate no longer gets in: {}",
        text(&connected.1)
    );

    // The pause key rotates to carol's newest key (9e); her break-glass account, keyed by her
    // old key (9c), follows in place: a key outside the pause key is refused before anything is
    // signed; both keys sign the CryptoUpdate on the card (two touches), the mirror shows it, the
    // record reaches the audit log, and a break-glass pause signed by 9e is taken by the ledger.
    let o = officers.clone();
    let out = blocking(move || {
        o[0].run(
            PIN,
            &["rotate", "pause", "--threshold", "1", "--holder", "carol"],
        )
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let rotation = rotation_id(&out);
    let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
    let out = blocking(move || o[1].approve_with(PIN, &id, &m, &bob_again)).await;
    assert!(out.status.success(), "bob approves: {}", text(&out));
    let (o, id, m) = (officers.clone(), rotation.clone(), mirror.clone());
    let done = on_card(Some(&card), move || o[2].approve(o[2].pin(), &id, &m)).await;
    assert!(
        done.status.success() && text(&done).contains("status executed"),
        "{}",
        text(&done)
    );
    let rekey = |new: &'static str| {
        let o = officers.clone();
        move || {
            o[2].command(
                PIV_PIN,
                &[
                    "rotate",
                    "break-glass",
                    "--old-key",
                    &o[2].key,
                    "--key",
                    new,
                ],
                true,
            )
        }
    };
    assert_failure(
        &blocking(rekey("9d")).await,
        13,
        "is not in the pause key of token",
        "a break-glass account re-keyed to a key outside the pause key",
    );
    let rekeyed = touched(&card, 2, rekey("9e")).await;
    says(
        &rekeyed,
        &[
            "break-glass re-key: both keys sign",
            "SET THE KEY OF ACCOUNT 0.0.",
            "the ledger answered: SUCCESS",
            "is keyed by ED25519 ",
            "delivered to the server's audit log: re-keyed",
        ],
    );
    let o = officers.clone();
    let broke = on_card(Some(&card), move || {
        o[2].command(
            PIV_PIN,
            &[
                "pause",
                "--ledger-only",
                "--reason",
                "after re-key",
                "--key",
                "9e",
            ],
            true,
        )
    })
    .await;
    assert!(
        broke.status.success() && text(&broke).contains("the ledger paused token 0.0."),
        "{}",
        text(&broke)
    );
    server.shutdown().await.expect("clean shutdown");
}

/// Alice proposes the mint rule 2 of `eligible`; bob and carol (on the card) approve it. Their
/// approvals' output.
async fn mint_rule(
    officers: &std::sync::Arc<Vec<Officer>>,
    card: &VirtualCard,
    mirror: &str,
    eligible: &[&'static str],
) -> Vec<Output> {
    let mut args = vec!["policy", "propose", "mint", "--threshold", "2"];
    for officer in eligible {
        args.extend(["--eligible", officer]);
    }
    let o = officers.clone();
    let out = blocking(move || o[0].run(PIN, &args)).await;
    assert!(out.status.success(), "{}", text(&out));
    let change = proposal_id(&out);
    let mut approvals = Vec::new();
    for i in [1, 2] {
        let (o, id, m) = (officers.clone(), change.clone(), mirror.to_owned());
        let out = on_card((i == 2).then_some(card), move || {
            o[i].approve(o[i].pin(), &id, &m)
        })
        .await;
        assert!(out.status.success(), "approve the policy: {}", text(&out));
        approvals.push(out);
    }
    approvals
}

/// Resumes after a pause (the ledger token only, with `ledger_only`): alice proposes, bob and
/// carol approve (carol on the card), carol's card signs the TokenUnpause.
async fn resume_by_quorum(
    officers: &std::sync::Arc<Vec<Officer>>,
    card: &VirtualCard,
    mirror: &str,
    reason: &'static str,
    ledger_only: bool,
) {
    let o = officers.clone();
    let out = blocking(move || {
        let mut args = vec!["resume", "propose", "--reason", reason];
        if ledger_only {
            args.push("--ledger-only");
        }
        o[0].run(PIN, &args)
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let resume = proposal_id(&out);
    for i in [1, 2] {
        let (o, id, m) = (officers.clone(), resume.clone(), mirror.to_owned());
        let out = on_card((i == 2).then_some(card), move || {
            o[i].approve(o[i].pin(), &id, &m)
        })
        .await;
        assert!(out.status.success(), "approve the resume: {}", text(&out));
    }
    let (o, id) = (officers.clone(), resume.clone());
    let resumed = on_card(Some(card), move || {
        o[2].command(
            o[2].pin(),
            &["resume", "unpause", &id, "--key", &o[2].key],
            true,
        )
    })
    .await;
    let said = if ledger_only {
        "the backend stays stopped"
    } else {
        "resumed: the token is unpaused and the breaker is closed"
    };
    assert!(
        resumed.status.success() && text(&resumed).contains(said),
        "{said}: {}",
        text(&resumed)
    );
}
