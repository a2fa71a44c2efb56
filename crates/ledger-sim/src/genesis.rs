//! Genesis: the accounts a new network starts with. A genesis file names the operator account and its
//! public key (the private key stays with the operator); without one the simulator makes a development
//! genesis, writing the operator's private key to the data directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hiero_sdk_proto::services::{self as pb, key::Key as K};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ids::{self, Nanos, Num};
use crate::ledger::NODE_ACCOUNT;
use crate::state::{self, Account, State};

/// All the hbar there is: 50 billion, in tinybars.
pub const TOTAL_TINYBARS: u64 = 50_000_000_000 * 100_000_000;
pub const DEV_KEY_FILE: &str = "dev-operator.key";
/// The first number handed to a new entity (Hedera reserves the ones below for system accounts).
pub const FIRST_USER_NUM: Num = 1001;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The operator account, e.g. "0.0.2". It holds all hbar at genesis.
    pub operator_account: String,
    /// The operator's Ed25519 public key, hex (32 bytes).
    pub operator_public_key: String,
    /// The node account; this simulator runs one node and it must be "0.0.3".
    #[serde(default = "default_node")]
    pub node_account: String,
}

fn default_node() -> String {
    ids::entity(NODE_ACCOUNT)
}

impl Genesis {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the genesis file {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid genesis file", path.display()))
    }

    /// The state this genesis describes.
    pub fn state(&self, now: Nanos) -> anyhow::Result<State> {
        let operator = ids::parse_entity(&self.operator_account)
            .filter(|n| *n != NODE_ACCOUNT && *n < FIRST_USER_NUM)
            .with_context(|| format!("operator_account {:?} must be a system account 0.0.1-0.0.1000 other than 0.0.3", self.operator_account))?;
        if ids::parse_entity(&self.node_account) != Some(NODE_ACCOUNT) {
            anyhow::bail!("node_account must be 0.0.3: the simulator runs exactly one node");
        }
        let key = hex::decode(&self.operator_public_key)
            .ok()
            .filter(|k| k.len() == 32)
            .context("operator_public_key must be 64 hex digits (an Ed25519 public key)")?;
        let key = pb::Key {
            key: Some(K::Ed25519(key)),
        };
        anyhow::ensure!(
            crate::keys::is_valid(&key),
            "operator_public_key is not a valid Ed25519 point"
        );
        let mut state = State::default();
        state.next_num = FIRST_USER_NUM;
        state.last_consensus = now;
        let mk = |num, balance| Account {
            num,
            key: state::encode_key(&key),
            balance,
            receiver_sig_required: false,
            memo: String::new(),
            max_auto_associations: 0,
            auto_renew_secs: 7_776_000,
            expiry_secs: (now / crate::ids::NANOS_PER_SEC) as i64 + 100 * 365 * 86_400,
            created: now,
            deleted: false,
        };
        state.insert_account(mk(operator, TOTAL_TINYBARS));
        state.insert_account(mk(NODE_ACCOUNT, 0));
        Ok(state)
    }
}

/// Makes a development genesis: a new Ed25519 operator key for 0.0.2, written (hex of the 32-byte
/// private key, mode 0600) to `DIR/dev-operator.key`. A key file already there (a first start that
/// stopped before genesis was stored) is used again rather than refused.
pub fn development(dir: &Path) -> anyhow::Result<(Genesis, PathBuf)> {
    let path = dir.join(DEV_KEY_FILE);
    let sk = if path.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        );
        let bytes = Zeroizing::new(hex::decode(text.trim()).ok().filter(|b| b.len() == 32).with_context(|| {
            format!("{} is not a development key (64 hex digits); remove the data directory to start afresh", path.display())
        })?);
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&bytes);
        ed25519_dalek::SigningKey::from_bytes(&seed)
    } else {
        let sk = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let secret = Zeroizing::new(hex::encode(sk.to_bytes()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(secret.as_bytes())?;
        f.sync_all()?;
        sk
    };
    let genesis = Genesis {
        operator_account: "0.0.2".into(),
        operator_public_key: hex::encode(sk.verifying_key().to_bytes()),
        node_account: default_node(),
    };
    std::fs::write(
        dir.join("genesis.json"),
        serde_json::to_vec_pretty(&genesis)?,
    )?;
    Ok((genesis, path))
}
