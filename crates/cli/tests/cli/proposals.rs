//! A 2-of-3 mint from the command line, officers' ledger keys on SoftHSM2 tokens under the
//! production key policy: enrol, propose the token, approve it, mint, and the refusals (own
//! proposal, a server that changes a proposal after the first signature, a wrong PIN), each with
//! its exit code.

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

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");
const PIN: &str = "246810";

/// One officer: a CLI config directory with their profile, and their token.
struct Officer {
    config: PathBuf,
    hsm: Hsm,
    key: String,
}

impl Officer {
    fn run(&self, pin: &str, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("GATEHOUSE_CONFIG_DIR", &self.config)
            .env("SOFTHSM2_CONF", self.hsm.conf())
            .env("GATEHOUSE_PKCS11_MODULE", MODULE)
            .env("GATEHOUSE_DEVICE_PIN", pin)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("gatehouse runs")
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
        let hsm = Hsm::new(&format!("{name}-token"), PIN);
        let keygen = hsm.run(
            &[("GATEHOUSE_DEVICE_PIN", PIN)],
            &["keygen", "--algorithm", "ed25519", "--label", "ledger"],
        );
        assert!(keygen.status.success(), "{}", text(&keygen));
        let key = key_id(&keygen);
        officers.push(Officer { config, hsm, key });
    }
    let erin = dir.join("erin-cli");
    assert!(import(
        &erin,
        &profile_file(&dir, "erin", deployment.ca_cert(), &erin_files, port)
    ));
    let officers = std::sync::Arc::new(officers);

    // Each officer enrols the key on their token; production accepts the token's attributes.
    for i in 0..3 {
        let o = officers.clone();
        let out =
            blocking(move || o[i].run(PIN, &["ledger-key", "enrol", "--key", &o[i].key])).await;
        assert!(out.status.success(), "enrol: {}", text(&out));
        assert!(
            text(&out).contains("self-reported evidence"),
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
        let out = blocking(move || {
            o[i].run(
                PIN,
                &[
                    "proposal", "approve", &token, "--key", &o[i].key, "--mirror", &mirror,
                ],
            )
        })
        .await;
        assert!(out.status.success(), "approve the token: {}", text(&out));
        let shown = text(&out);
        for needle in [
            "CREATE TOKEN Gate (GATE)",
            "supply key: 2 of [ed25519:",
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
    let own = blocking(move || {
        o[0].run(
            PIN,
            &[
                "proposal", "approve", &id, "--key", &o[0].key, "--mirror", &m,
            ],
        )
    })
    .await;
    assert_failure(
        &own,
        15,
        "another officer must approve",
        "self-approval is refused",
    );

    // A wrong PIN signs nothing.
    let (o, id, m) = (officers.clone(), mint.clone(), mirror.clone());
    let wrong = blocking(move || {
        o[1].run(
            "000000",
            &[
                "proposal", "approve", &id, "--key", &o[1].key, "--mirror", &m,
            ],
        )
    })
    .await;
    assert_eq!(
        wrong.status.code(),
        Some(13),
        "a wrong PIN is a device failure: {}",
        text(&wrong)
    );

    // Bob and carol approve: the ledger mints.
    for i in [1, 2] {
        let (o, id, m) = (officers.clone(), mint.clone(), mirror.clone());
        let out = blocking(move || {
            o[i].run(
                PIN,
                &[
                    "proposal", "approve", &id, "--key", &o[i].key, "--mirror", &m,
                ],
            )
        })
        .await;
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
    let first = blocking(move || {
        o[1].run(
            PIN,
            &[
                "proposal", "approve", &id, "--key", &o[1].key, "--mirror", &m,
            ],
        )
    })
    .await;
    assert!(first.status.success(), "{}", text(&first));
    let shown: serde_json::Value = {
        let o = officers.clone();
        let id = tampered.clone();
        let out = blocking(move || o[2].run(PIN, &["proposal", "show", &id])).await;
        assert!(out.status.success());
        serde_json::json!(text(&out))
    };
    let token_line = shown
        .as_str()
        .unwrap_or_default()
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
    let caught = blocking(move || {
        o[2].run(
            PIN,
            &[
                "proposal", "approve", &id, "--key", &o[2].key, "--mirror", &m,
            ],
        )
    })
    .await;
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
    server.shutdown().await.expect("clean shutdown");
}
