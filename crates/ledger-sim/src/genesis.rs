//! Genesis: the accounts a new network starts with. A genesis file names the operator account and its
//! public key (the private key stays with the operator); without one the simulator makes a development
//! genesis, writing the operator's private key to the data directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hiero_sdk_proto::services::{self as pb, key::Key as K};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::Error;
use crate::ids::{self, Nanos, Num};
use crate::ledger::NODE_ACCOUNT;
use crate::state::{self, Account, State};

/// All the hbar there is: 50 billion, in tinybars.
pub const TOTAL_TINYBARS: u64 = 50_000_000_000 * 100_000_000;
pub const DEV_KEY_FILE: &str = "dev-operator.key";
/// Where a development genesis is recorded, so a restart knows the operator account.
pub const GENESIS_FILE: &str = "genesis.json";
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
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::GenesisUnreadable {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| Error::GenesisInvalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The state this genesis describes, or why it describes none.
    pub fn state(&self, now: Nanos) -> Result<State, String> {
        let operator = ids::parse_entity(&self.operator_account)
            .filter(|n| *n != NODE_ACCOUNT && *n < FIRST_USER_NUM)
            .ok_or_else(|| {
                format!(
                    "operator_account {:?} must be a system account 0.0.1-0.0.1000 other than 0.0.3",
                    self.operator_account
                )
            })?;
        if ids::parse_entity(&self.node_account) != Some(NODE_ACCOUNT) {
            return Err("node_account must be 0.0.3: the simulator runs exactly one node".into());
        }
        let key = hex::decode(&self.operator_public_key)
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or("operator_public_key must be 64 hex digits (an Ed25519 public key)")?;
        let key = pb::Key {
            key: Some(K::Ed25519(key)),
        };
        if !crate::keys::is_valid(&key) {
            return Err("operator_public_key is not a valid Ed25519 point".into());
        }
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
pub fn development(dir: &Path) -> Result<(Genesis, PathBuf), Error> {
    let path = dir.join(DEV_KEY_FILE);
    let data_dir = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::DataDir { path, source }
    };
    let sk = if path.exists() {
        let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(data_dir(&path))?);
        let bytes = Zeroizing::new(
            hex::decode(text.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| Error::DevKeyInvalid { path: path.clone() })?,
        );
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
        let mut f = opts.open(&path).map_err(data_dir(&path))?;
        f.write_all(secret.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(data_dir(&path))?;
        sk
    };
    let genesis = Genesis {
        operator_account: "0.0.2".into(),
        operator_public_key: hex::encode(sk.verifying_key().to_bytes()),
        node_account: default_node(),
    };
    let file = dir.join(GENESIS_FILE);
    serde_json::to_vec_pretty(&genesis)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(&file, json))
        .map_err(data_dir(&file))?;
    Ok((genesis, path))
}
