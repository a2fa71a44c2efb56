//! Key rotation commands, behind the console's rotation wizard: the token's keys as the registry
//! holds them next to the ledger's copy (read from the mirror pinned in the profile, holders
//! named), a new key generated on the officer's own device and staged with the device's
//! evidence, the rotation proposal, and an officer's offboarding. Approving them is the approvals
//! screen's (the officers sign with their admin keys there, after reviewing the decoded
//! TokenUpdate; a new admin or treasury key's holders sign there with it too).

use gatehouse_client::proposals::{self, TokenKeys};
use gatehouse_keys::evidence::Evidence;
use gatehouse_keys::key::{self, Algorithm};
use gatehouse_protocol::proposal::{
    KeyRole, LedgerKey, LedgerKeyAlgorithm, LedgerKeyEnrolment, NewOffboarding, NewOnboarding,
    NewRotation, Proposal, ProposalStatus, RoleKey,
};
use serde::Serialize;
use tauri::State;

use super::connection::connection_for;
use super::device::blocking;
use super::profile::store;
use super::proposals::{FieldView, ProposalSummary, me, post_proposal, time};
use super::{ErrorCode, IpcError};
use crate::Console;

/// One of the token's keys: the registry's copy, and whether the ledger holds the same.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RoleKeyView {
    /// `admin`, `supply`, `pause` or `treasury`.
    pub role: String,
    /// `2 of alice, bob, carol`, as the registry holds it.
    pub holders: String,
    /// Each holder's key.
    pub members: Vec<FieldView>,
    /// The ledger's copy, holders named (`2 of alice, bob, carol`); none when the mirror was not
    /// read.
    pub ledger: Option<String>,
    /// Whether the ledger's copy is exactly the registry's key; none when not read.
    pub agrees: Option<bool>,
    /// The proposal that set it.
    pub proposal: String,
    /// When the server saw the mirror show it, RFC 3339; none until then.
    pub confirmed_at: Option<String>,
}

/// A key staged for the next rotation.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StagedView {
    /// Whose.
    pub officer: String,
    /// The public key, hex.
    pub public_key: String,
    /// How the server judged its origin: `attested`, `self-reported` or `software`.
    pub evidence: String,
    /// The device, as reported.
    pub device: Option<String>,
}

impl From<LedgerKey> for StagedView {
    fn from(k: LedgerKey) -> Self {
        Self {
            officer: k.officer,
            public_key: k.public_key,
            evidence: k.evidence,
            device: k.device,
        }
    }
}

/// What the rotation wizard shows: the keys now, the staged keys, who may hold keys, and the
/// rotation under way.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RotationOverview {
    /// Who I am.
    pub me: String,
    /// The token.
    pub token: String,
    /// Its keys, admin, supply, pause, treasury.
    pub keys: Vec<RoleKeyView>,
    /// Why the ledger's copy could not be read (no mirror pinned, the mirror unreachable).
    pub ledger_error: Option<String>,
    /// Whether the mirror shows the token paused: Hedera refuses to change a paused token.
    pub paused: bool,
    /// Keys staged for the next rotation.
    pub staged: Vec<StagedView>,
    /// People with ledger keys in use: who can hold a new key.
    pub people: Vec<String>,
    /// The newest rotation or offboarding proposal, open or settled.
    pub rotation: Option<ProposalSummary>,
}

fn named(names: &std::collections::HashMap<String, String>, key: &RoleKey) -> Vec<FieldView> {
    key.members
        .iter()
        .map(|m| FieldView {
            label: m.officer.clone(),
            value: names
                .get(&m.public_key)
                .filter(|holder| **holder != m.officer)
                .map_or_else(
                    || m.public_key.clone(),
                    |holder| format!("{} (listed as {holder}'s)", m.public_key),
                ),
        })
        .collect()
}

fn role_views(
    keys: &[RoleKey],
    ledger: Option<&TokenKeys>,
    names: &std::collections::HashMap<String, String>,
) -> Vec<RoleKeyView> {
    keys.iter()
        .map(|k| {
            let on_ledger = ledger.map(|l| l.of(k.role));
            RoleKeyView {
                role: k.role.as_str().to_owned(),
                holders: k.holders_text(),
                members: named(names, k),
                ledger: on_ledger.map(|key| proposals::holders_text(key, names)),
                agrees: on_ledger.map(|key| {
                    key.is_some() && key.cloned() == proposals::registry_key(&k.protobuf)
                }),
                proposal: k.proposal.clone(),
                confirmed_at: k.confirmed_at.as_ref().map(time),
            }
        })
        .collect()
}

/// The token's keys (registry and ledger), the staged keys and the rotation under way.
#[tauri::command]
#[specta::specta]
pub async fn rotation_overview(
    console: State<'_, Console>,
    profile: String,
) -> Result<RotationOverview, IpcError> {
    let connection = connection_for(&console, &profile)?;
    let me = me(&connection).await?;
    let keys: Vec<RoleKey> = connection.get("/v1/token-keys").await?;
    let (in_use, staged, names) = proposals::key_names(&connection).await?;
    let current = proposals::current_policy(&connection).await?;
    let mirror = store(&console)?.get(&profile)?.mirror_url;
    let (ledger, ledger_error) = match &mirror {
        None => (
            None,
            Some(format!(
                "profile {profile} pins no mirror node, so the ledger's copy is not shown: gatehouse profile mirror {profile} https://MIRROR"
            )),
        ),
        Some(mirror) => match proposals::token_keys(mirror, &current.token).await {
            Ok(keys) => (Some(keys), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let list: Vec<Proposal> = connection.get("/v1/proposals?limit=200").await?;
    let rotation = list
        .iter()
        .filter(|p| p.kind.changes_keys())
        .max_by_key(|p| (p.status == ProposalStatus::Open, p.created_at))
        .map(|p| ProposalSummary::new(p, &me));
    let mut people: Vec<String> = in_use.iter().map(|k| k.officer.clone()).collect();
    people.extend(staged.iter().map(|k| k.officer.clone()));
    people.sort();
    people.dedup();
    Ok(RotationOverview {
        keys: role_views(&keys, ledger.as_ref(), &names),
        paused: ledger.as_ref().is_some_and(|l| l.paused),
        token: current.token,
        ledger_error,
        staged: staged.into_iter().map(StagedView::from).collect(),
        people,
        rotation,
        me,
    })
}

/// PIV slots a new ledger key may go in, in order (9c is where Gatehouse puts the first one).
const PIV_SLOTS: [u8; 3] = [0x9c, 0x9d, 0x9e];

/// Generates a new Ed25519 key on `device` (an id from the last scan) with `pin`, reads the
/// device's evidence that it was born there (a YubiKey's attestation, a token's attributes), and
/// stages it as the caller's next ledger key. A YubiKey's key goes in the first free slot of 9c,
/// 9d, 9e, asking for the PIN and a touch on every signature.
#[tauri::command]
#[specta::specta]
pub async fn rotation_stage_key(
    console: State<'_, Console>,
    profile: String,
    device: String,
    pin: String,
) -> Result<StagedView, IpcError> {
    let connection = connection_for(&console, &profile)?;
    let pin = gatehouse_keys::Pin::new(pin);
    let locator = console.devices.locate(&device)?;
    let (public, evidence, label) = blocking(move || {
        let mut opened = gatehouse_keys::open(&locator, &pin)?;
        let made = if let gatehouse_keys::device::Locator::Piv { serial } = &locator {
            let taken: Vec<key::Id> = opened.keys()?.into_iter().map(|k| k.id).collect();
            let Some(slot) = PIV_SLOTS
                .into_iter()
                .find(|s| !taken.iter().any(|id| id.as_bytes() == [*s]))
            else {
                return Err(IpcError::new(
                    ErrorCode::DeviceRefused,
                    "this YubiKey's slots 9c, 9d and 9e all hold keys",
                    "Free one whose key no token key holds any more (gatehouse rotate show names them), or use another device.",
                ));
            };
            drop(opened);
            let mut piv = gatehouse_keys::piv::Piv::open(*serial, &pin)?;
            let placement = gatehouse_keys::piv::Placement {
                slot,
                ..gatehouse_keys::piv::Placement::default_for(Algorithm::Ed25519)
            };
            let made = piv.generate_in(Algorithm::Ed25519, placement)?;
            opened = Box::new(piv);
            made
        } else {
            opened.generate(&key::Request::new(
                Algorithm::Ed25519,
                "gatehouse ledger (rotation)".to_owned(),
            ))?
        };
        let evidence = match opened.attestation(&made.id) {
            Ok(attestation) => Evidence::Attested(attestation),
            Err(_) => opened.evidence(&made.id)?,
        };
        let label = super::proposals::device_label(opened.info());
        Ok((made.public_key, evidence, label))
    })
    .await?;
    let evidence = serde_json::to_value(&evidence).map_err(|e| {
        IpcError::new(
            ErrorCode::Internal,
            format!("the device's evidence could not be written: {e}"),
            "Try again; if it persists, stage the key with gatehouse ledger-key stage.",
        )
    })?;
    let staged: LedgerKey = connection
        .post(
            "/v1/ledger-keys/staged",
            &LedgerKeyEnrolment {
                algorithm: LedgerKeyAlgorithm::Ed25519,
                public_key: hex::encode(public.as_bytes()),
                evidence,
                device: Some(label),
            },
        )
        .await?;
    Ok(staged.into())
}

/// The token key named `name` (`admin`, `supply`, `pause`, `treasury`).
fn role_named(name: &str) -> Result<KeyRole, IpcError> {
    KeyRole::from_name(name).ok_or_else(|| {
        IpcError::new(
            ErrorCode::Internal,
            format!("{name:?} is not a key of the token"),
            "Choose the admin, supply or pause key, or the treasury.",
        )
    })
}

/// Proposes replacing the `role` key (`admin`, `supply`, `pause` or `treasury`) by `threshold`
/// of `holders`' keys (each the key they staged, else the one they hold).
#[tauri::command]
#[specta::specta]
pub async fn rotation_propose(
    console: State<'_, Console>,
    profile: String,
    role: String,
    threshold: u32,
    holders: Vec<String>,
) -> Result<ProposalSummary, IpcError> {
    let role = role_named(&role)?;
    let rotation = NewRotation {
        role,
        threshold,
        holders,
    };
    post_proposal(&console, &profile, "/v1/proposals/rotation", &rotation).await
}

/// Proposes adding `officer` (registered, with a staged key) to the token keys `keys` (`admin`,
/// `supply`, `pause`; thresholds kept) and to the policy rules checked against them, for
/// `reason`. A new TLS certificate from the officer's device comes only with their own proposal
/// from the command line (`gatehouse rotate officer --add ... --csr`).
#[tauri::command]
#[specta::specta]
pub async fn rotation_onboard(
    console: State<'_, Console>,
    profile: String,
    officer: String,
    keys: Vec<String>,
    reason: String,
) -> Result<ProposalSummary, IpcError> {
    let keys = keys
        .iter()
        .map(|name| role_named(name))
        .collect::<Result<Vec<_>, _>>()?;
    let onboarding = NewOnboarding {
        officer,
        keys,
        reason,
        certificate_request: None,
    };
    post_proposal(&console, &profile, "/v1/proposals/onboarding", &onboarding).await
}

/// The label of the TLS key the console makes on a PKCS#11 token for an onboarding.
const TLS_LABEL: &str = "gatehouse tls (onboarding)";

/// What the caller's own onboarding with a device certificate gave.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct JoinedView {
    /// The onboarding proposal.
    pub proposal: ProposalSummary,
    /// The profile added for the new certificate (it gets in once the onboarding executes).
    pub profile: super::profile::ProfileSummary,
    /// The certificate's SHA-256, as the approvers see it.
    pub fingerprint: String,
}

/// Proposes the caller's own onboarding into the token keys `keys` (thresholds kept), for
/// `reason`, with their TLS certificate moved onto `device` (an id from the last scan, opened
/// with `pin`): a P-256 key is made on it (a YubiKey's in slot 9a, the PIV authentication slot;
/// a P-256 key there, or on a token one labelled as this command labels them, is used again),
/// the device writes the certificate request, the deployment CA issues the certificate with the
/// proposal (each approver sees its fingerprint), and it is checked here (issued to the caller,
/// hashing to that fingerprint) and kept in a new profile `new_profile` beside this one, whose
/// handshakes the device key signs. That profile gets in once the quorum approves; this one stops
/// then (the registry revokes its certificate).
#[tauri::command]
#[specta::specta]
#[allow(clippy::too_many_arguments)]
pub async fn rotation_join(
    console: State<'_, Console>,
    profile: String,
    keys: Vec<String>,
    reason: String,
    device: String,
    pin: String,
    new_profile: String,
) -> Result<JoinedView, IpcError> {
    let keys = keys
        .iter()
        .map(|name| role_named(name))
        .collect::<Result<Vec<_>, _>>()?;
    let store = store(&console)?;
    let current = store.get(&profile)?;
    if store.get(&new_profile).is_ok() {
        return Err(gatehouse_client::profile::Error::Duplicate(new_profile).into());
    }
    let connection = connection_for(&console, &profile)?;
    let officer = me(&connection).await?;
    let name = officer.clone();
    let pin = gatehouse_keys::Pin::new(pin);
    let locator = console.devices.locate(&device)?;
    let on_device = locator.clone();
    let (request, key_id) = blocking(move || {
        let mut opened = gatehouse_keys::open(&on_device, &pin)?;
        // A TLS key made here before (an earlier try the server refused) is used again rather
        // than leaving one more unused key, or a full slot, behind.
        let placement = gatehouse_keys::piv::Placement::default_for(Algorithm::EcdsaP256);
        let piv = matches!(on_device, gatehouse_keys::device::Locator::Piv { .. });
        let earlier = opened.keys()?.into_iter().find(|k| {
            k.algorithm() == Algorithm::EcdsaP256
                && if piv {
                    k.id.as_bytes() == [placement.slot]
                } else {
                    k.label == TLS_LABEL
                }
        });
        let made = match (earlier, &on_device) {
            (Some(key), _) => key,
            (None, gatehouse_keys::device::Locator::Piv { serial }) => {
                drop(opened);
                let mut piv = gatehouse_keys::piv::Piv::open(*serial, &pin)?;
                let made = piv.generate_in(Algorithm::EcdsaP256, placement)?;
                opened = Box::new(piv);
                made
            }
            (None, _) => opened.generate(&key::Request::new(
                Algorithm::EcdsaP256,
                TLS_LABEL.to_owned(),
            ))?,
        };
        let request = gatehouse_keys::tls::certificate_request(opened.as_mut(), &made.id, &name)
            .map_err(|e| {
                IpcError::new(
                    ErrorCode::DeviceRefused,
                    format!("the device could not sign the certificate request: {e}"),
                    "Nothing was proposed. Check the device and its PIN, then try again.",
                )
            })?;
        Ok((request, hex::encode(made.id.as_bytes())))
    })
    .await?;
    let onboarding = NewOnboarding {
        officer,
        keys,
        reason,
        certificate_request: Some(request),
    };
    let proposal: Proposal = connection
        .post("/v1/proposals/onboarding", &onboarding)
        .await?;
    let pem = proposals::onboarding_certificate(&proposal)?;
    let fingerprint = match &proposal.payload {
        gatehouse_protocol::proposal::Payload::Onboarding {
            certificate: Some(c),
            ..
        } => c.fingerprint.to_string(),
        _ => String::new(),
    };
    // The onboarding stands whatever happens here: a certificate that cannot be kept is said, with
    // how to write it again from the proposal.
    let added = store
        .add_device_certificate(&current, &new_profile, &pem, locator, &key_id)
        .map_err(|e| {
            IpcError::new(
                ErrorCode::Io,
                format!(
                    "onboarding {} was proposed, but its certificate could not be kept in profile {new_profile}: {e}",
                    proposal.id
                ),
                format!(
                    "Write it with gatehouse proposal certificate {} --out FILE while the onboarding is open, then gatehouse profile add --name {new_profile} --cert FILE --device-key {key_id} with this device.",
                    proposal.id
                ),
            )
        })?;
    Ok(JoinedView {
        proposal: ProposalSummary::new(&proposal, &onboarding.officer),
        profile: super::profile::ProfileSummary::from(&added),
        fingerprint,
    })
}

/// Proposes removing `officer` from every token key they hold and every policy rule, for
/// `reason`; the server refuses (saying what to do first) when a key or rule could no longer
/// reach its threshold.
#[tauri::command]
#[specta::specta]
pub async fn rotation_offboard(
    console: State<'_, Console>,
    profile: String,
    officer: String,
    reason: String,
) -> Result<ProposalSummary, IpcError> {
    let offboarding = NewOffboarding { officer, reason };
    post_proposal(
        &console,
        &profile,
        "/v1/proposals/offboarding",
        &offboarding,
    )
    .await
}
