//! PKCS#11 devices through `cryptoki`: any module path, any token.
//!
//! One module is initialised once per process ([`Module::load`] keeps a process-wide registry
//! keyed by the module's canonical path), because `C_Initialize` is per process and a second
//! call fails. A [`Token`] owns one read-write session; a `cryptoki` session may move between
//! threads but not be shared by them, so a `Token` is `Send` and not `Sync`: share it through
//! [`crate::device::Shared`].
//!
//! Quirks handled (found with SoftHSM2 2.6 and read from the specification):
//! - Login state belongs to the token and the whole process, not the session: a second
//!   [`Module::open`] of a logged-in token logs out and in again, so its PIN is really checked.
//! - SoftHSM2 has no `CKM_ECDSA_SHA256`: P-256 hashes on the host and signs with `CKM_ECDSA`
//!   (which returns `r || s`); `CKM_ECDSA_SHA256` is used only where `CKM_ECDSA` is missing.
//! - `CKA_EC_POINT` is a DER OCTET STRING around the point; some modules return the raw point.
//!   Both are accepted.
//! - After `C_InitToken`, SoftHSM2 moves the token to a new slot: it is found again by label.
//! - Ed25519 curve parameters: the OID (1.3.101.112) is tried first, then the PKCS#11 3.0 curve
//!   name ("edwards25519"); modules accept one or the other.
//! - Modules that reject optional template attributes (`CKA_SIGN`, `CKA_VERIFY`, ...) get a
//!   second try without them. The protections (`CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE`,
//!   `CKA_EXTRACTABLE` false) are never dropped, and are read back: a module that ignores them
//!   gets its key destroyed and an error.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::{Slot, TokenInfo};

use crate::device::{self, Device, Locator};
use crate::error::Error;
use crate::evidence::{Attestation, Attributes, Evidence};
use crate::key::{self, Algorithm, PublicKey, Signature};
use crate::pin::{self, Pin};

/// `CKA_EC_PARAMS` for P-256: the DER OID 1.2.840.10045.3.1.7.
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `CKA_EC_PARAMS` for secp256k1: the DER OID 1.3.132.0.10.
const SECP256K1_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
/// `CKA_EC_PARAMS` for Ed25519: the DER OID 1.3.101.112.
const ED25519_OID_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `CKA_EC_PARAMS` for Ed25519: the PKCS#11 3.0 curve name as a DER PrintableString.
const ED25519_NAME_PARAMS: &[u8] = b"\x13\x0cedwards25519";

static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();

/// A loaded and initialised PKCS#11 module (shared library).
pub struct Module {
    path: PathBuf,
    context: Pkcs11,
    library: String,
    // Serialises token initialisation: two at once could both pick the same free slot.
    admin: Mutex<()>,
}

/// Which token of a module to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The token with this serial number.
    Serial(String),
    /// The token with this label (it must be the only one).
    Label(String),
}

impl Selector {
    fn matches(&self, info: &TokenInfo) -> bool {
        match self {
            Selector::Serial(serial) => info.serial_number() == serial,
            Selector::Label(label) => info.label() == label,
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Serial(serial) => write!(f, "serial number {serial}"),
            Selector::Label(label) => write!(f, "label \"{label}\""),
        }
    }
}

impl Module {
    /// The module at `path`, loaded and `C_Initialize`d on first use in this process and shared
    /// afterwards (two paths to the same file, e.g. through a symlink, share one context).
    pub fn load(path: impl AsRef<Path>) -> Result<Arc<Module>, Error> {
        let given = path.as_ref();
        let module_error = |reason: String| Error::Module {
            path: given.display().to_string(),
            reason,
        };
        let canonical = std::fs::canonicalize(given).map_err(|e| module_error(e.to_string()))?;
        let mut modules = MODULES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(module) = modules.get(&canonical) {
            return Ok(module.clone());
        }
        let context = Pkcs11::new(&canonical).map_err(|e| module_error(e.to_string()))?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Already initialised by other code in this process: the context is usable as is.
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(module_error(format!("C_Initialize failed: {e}"))),
        }
        let library = context
            .get_library_info()
            .map(|info| {
                format!(
                    "{} {}",
                    info.manufacturer_id().trim(),
                    info.library_description().trim()
                )
            })
            .unwrap_or_default();
        tracing::debug!(module = %canonical.display(), %library, "PKCS#11 module initialised");
        let module = Arc::new(Module {
            path: canonical.clone(),
            context,
            library,
            admin: Mutex::new(()),
        });
        modules.insert(canonical, module.clone());
        Ok(module)
    }

    /// The module's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every initialised token the module reports.
    pub fn tokens(&self) -> Result<Vec<device::Info>, Error> {
        let mut tokens = Vec::new();
        for slot in self.initialised_slots()? {
            match self.context.get_token_info(slot) {
                Ok(info) => tokens.push(self.describe(&info)),
                // Removed between the two calls: it is simply not there.
                Err(CkError::Pkcs11(RvError::TokenNotPresent | RvError::SlotIdInvalid, _)) => {}
                Err(e) => return Err(classify(&self.to_string(), "read token information", e)),
            }
        }
        Ok(tokens)
    }

    /// Opens the token `selector` names and logs the user in with `pin`.
    pub fn open(self: &Arc<Self>, selector: &Selector, pin: &Pin) -> Result<Token, Error> {
        let (slot, info) = self.find(selector)?;
        let name = token_name(&info);
        if info.user_pin_locked() {
            return Err(Error::PinLocked { device: name });
        }
        let session = self
            .context
            .open_rw_session(slot)
            .map_err(|e| classify(&name, "open a session", e))?;
        self.log_in(slot, &session, &name, pin)?;
        let mechanisms = self
            .context
            .get_mechanism_list(slot)
            .map(|list| Mechanisms::from_list(&list))
            .map_err(|e| classify(&name, "list mechanisms", e))?;
        tracing::debug!(token = %name, ?mechanisms, "PKCS#11 token opened");
        Ok(Token {
            module: self.clone(),
            slot,
            session,
            info: self.describe(&info),
            name,
            mechanisms,
            handles: HashMap::new(),
        })
    }

    /// Initialises a token in the first free slot and sets its user PIN: an administrator's
    /// action (it needs the SO PIN), used to set up SoftHSM2 tokens.
    ///
    /// Labels are 1 to 32 bytes and must be unique in the module, because the token is found
    /// again by label afterwards (SoftHSM2 moves it to a new slot).
    pub fn initialise_token(
        &self,
        label: &str,
        so_pin: &Pin,
        user_pin: &Pin,
    ) -> Result<device::Info, Error> {
        let me = self.to_string();
        if label.is_empty() || label.len() > 32 {
            return Err(Error::Unsupported {
                device: me,
                what: format!("initialise a token labelled \"{label}\""),
                reason: "a PKCS#11 token label is 1 to 32 bytes; choose another".to_owned(),
            });
        }
        let _admin = self.admin.lock().unwrap_or_else(PoisonError::into_inner);
        let selector = Selector::Label(label.to_owned());
        if self.find(&selector).is_ok() {
            return Err(Error::Unsupported {
                device: me,
                what: format!("initialise a second token labelled \"{label}\""),
                reason: "labels must be unique in a module; choose another".to_owned(),
            });
        }
        let slots = self
            .context
            .get_slots_with_token()
            .map_err(|e| classify(&me, "list slots", e))?;
        let free = slots
            .into_iter()
            .find(|slot| {
                self.context
                    .get_token_info(*slot)
                    .is_ok_and(|info| !info.token_initialized())
            })
            .ok_or_else(|| Error::DeviceNotFound {
                wanted: format!("free slot in {me}"),
                advice: "insert a blank token (SoftHSM2 always offers one free slot)".to_owned(),
            })?;
        self.context
            .init_token(free, &so_pin.auth(), label)
            .map_err(|e| classify(&me, "initialise a token", e))?;
        let (slot, info) = self.find(&selector)?;
        let name = token_name(&info);
        let session = self
            .context
            .open_rw_session(slot)
            .map_err(|e| classify(&name, "open a session", e))?;
        session
            .login(UserType::So, Some(&so_pin.auth()))
            .map_err(|e| classify(&name, "log in as security officer", e))?;
        session
            .init_pin(&user_pin.auth())
            .map_err(|e| classify(&name, "set the user PIN", e))?;
        session
            .logout()
            .map_err(|e| classify(&name, "log out", e))?;
        tracing::info!(token = %name, "PKCS#11 token initialised");
        Ok(self.describe(&info))
    }

    fn initialised_slots(&self) -> Result<Vec<Slot>, Error> {
        self.context
            .get_slots_with_initialized_token()
            .map_err(|e| classify(&self.to_string(), "list tokens", e))
    }

    fn find(&self, selector: &Selector) -> Result<(Slot, TokenInfo), Error> {
        let mut found = Vec::new();
        for slot in self.initialised_slots()? {
            if let Ok(info) = self.context.get_token_info(slot)
                && selector.matches(&info)
            {
                found.push((slot, info));
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::DeviceNotFound {
                wanted: format!("PKCS#11 token with {selector} in {}", self.path.display()),
                advice: "insert the token, or list the module's tokens to see their labels and serial numbers"
                    .to_owned(),
            }),
            n => Err(Error::DeviceNotFound {
                wanted: format!(
                    "single PKCS#11 token with {selector} in {} ({n} have it)",
                    self.path.display()
                ),
                advice: "open the token by its serial number instead".to_owned(),
            }),
        }
    }

    fn describe(&self, info: &TokenInfo) -> device::Info {
        device::Info {
            locator: Locator::Pkcs11 {
                module: self.path.clone(),
                serial: info.serial_number().to_owned(),
                label: info.label().to_owned(),
            },
            label: info.label().to_owned(),
            manufacturer: info.manufacturer_id().to_owned(),
            model: info.model().to_owned(),
            serial: info.serial_number().to_owned(),
        }
    }

    fn log_in(&self, slot: Slot, session: &Session, name: &str, pin: &Pin) -> Result<(), Error> {
        let auth = pin.auth();
        let mut result = session.login(UserType::User, Some(&auth));
        if let Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) = result {
            // Login state is per token and process: another handle here is logged in. Log out
            // and in again so this PIN is checked; a wrong PIN then logs that handle out too,
            // which fails closed.
            tracing::debug!(token = %name, "token already logged in by this process; logging in again");
            let _ = session.logout();
            result = session.login(UserType::User, Some(&auth));
        }
        match result {
            Ok(()) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                Err(self.wrong_pin(slot, name))
            }
            Err(e) => Err(classify(name, "log in", e)),
        }
    }

    fn wrong_pin(&self, slot: Slot, name: &str) -> Error {
        let status = self
            .context
            .get_token_info(slot)
            .map(|info| pin::Status::from_token(&info))
            .unwrap_or(pin::Status::NoWarning);
        tracing::info!(token = %name, %status, "wrong PIN");
        match status {
            pin::Status::Locked => Error::PinLocked {
                device: name.to_owned(),
            },
            status => Error::PinIncorrect {
                device: name.to_owned(),
                status,
            },
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PKCS#11 module {}", self.path.display())
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("path", &self.path)
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

/// A PKCS#11 token, opened and logged in.
pub struct Token {
    module: Arc<Module>,
    slot: Slot,
    session: Session,
    info: device::Info,
    name: String,
    mechanisms: Mechanisms,
    // Object handles stay valid for the session's life; looking a key up costs two calls.
    handles: HashMap<key::Id, (ObjectHandle, Algorithm)>,
}

impl Token {
    /// Logs out now. Every later operation fails with [`Error::LoggedOut`] until the token is
    /// opened again; other handles to the same token in this process are logged out too.
    pub fn log_out(&mut self) -> Result<(), Error> {
        self.handles.clear();
        self.session
            .logout()
            .map_err(|e| classify(&self.name, "log out", e))
    }

    /// The module this token belongs to.
    pub fn module(&self) -> &Arc<Module> {
        &self.module
    }

    fn failure(&self, operation: &'static str, error: CkError) -> Error {
        match error {
            CkError::Pkcs11(RvError::PinIncorrect, _) => {
                self.module.wrong_pin(self.slot, &self.name)
            }
            error => classify(&self.name, operation, error),
        }
    }

    /// Runs `call` with the key's handle. A stale handle (`CKR_OBJECT_HANDLE_INVALID`) is how
    /// SoftHSM2 answers when the login ended or the token was deleted: find out which and say
    /// so; if neither, the key is looked up again and `call` retried once.
    fn with_key<T>(
        &mut self,
        id: &key::Id,
        operation: &'static str,
        call: impl Fn(&Session, ObjectHandle, Algorithm) -> Result<T, CkError>,
    ) -> Result<T, Error> {
        let mut retried = false;
        loop {
            let (handle, algorithm) = self.private_key(id)?;
            match call(&self.session, handle, algorithm) {
                Ok(value) => return Ok(value),
                Err(CkError::Pkcs11(
                    RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid,
                    _,
                )) if !retried => {
                    self.handles.remove(id);
                    if let Some(lost) = self.lost() {
                        return Err(lost);
                    }
                    retried = true;
                }
                Err(e) => return Err(self.failure(operation, e)),
            }
        }
    }

    /// Why the token's objects vanished, if the token or the login is gone.
    fn lost(&mut self) -> Option<Error> {
        // Objects already went missing, so any failure to answer here means the token went
        // away (SoftHSM2 answers CKR_GENERAL_ERROR for a deleted token).
        let device = self.name.clone();
        let gone = |reason: String| Error::DeviceGone {
            device: device.clone(),
            reason,
        };
        match self.session.get_session_info() {
            Err(e) => {
                self.handles.clear();
                return Some(gone(format!(
                    "the session no longer answers: {}",
                    short(&e)
                )));
            }
            Ok(info) => match info.session_state() {
                SessionState::RwUser | SessionState::RoUser => {}
                _ => {
                    self.handles.clear();
                    return Some(Error::LoggedOut {
                        device: self.name.clone(),
                    });
                }
            },
        }
        let present = self.module.context.get_token_info(self.slot);
        let reason = match present {
            Err(e) => format!("the token no longer answers: {}", short(&e)),
            Ok(info) if !info.token_initialized() => "the token was deleted or reset".to_owned(),
            Ok(info) if info.serial_number() != self.info.serial => {
                format!(
                    "another token (serial {}) is in its slot",
                    info.serial_number()
                )
            }
            Ok(_) => return None,
        };
        self.handles.clear();
        Some(gone(reason))
    }

    fn private_key(&mut self, id: &key::Id) -> Result<(ObjectHandle, Algorithm), Error> {
        if let Some(found) = self.handles.get(id) {
            return Ok(*found);
        }
        let handles = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(id.as_bytes().to_vec()),
            ])
            .map_err(|e| self.failure("find a key", e))?;
        let handle = match handles.as_slice() {
            [handle] => *handle,
            [] => {
                // Private keys vanish from view when the login ends or the token goes.
                if let Some(lost) = self.lost() {
                    return Err(lost);
                }
                return Err(Error::KeyNotFound {
                    device: self.name.clone(),
                    id: id.to_string(),
                });
            }
            many => {
                return Err(Error::Device {
                    device: self.name.clone(),
                    operation: "find a key",
                    reason: format!("{} private keys share id {id}", many.len()),
                });
            }
        };
        let (_, _, algorithm) =
            self.describe_private(handle)?
                .ok_or_else(|| Error::Unsupported {
                    device: self.name.clone(),
                    what: format!("use key {id}"),
                    reason: "it is neither Ed25519, P-256 nor secp256k1".to_owned(),
                })?;
        self.handles.insert(id.clone(), (handle, algorithm));
        Ok((handle, algorithm))
    }

    /// The id, label and algorithm of a private key; `None` for key types this crate ignores.
    fn describe_private(
        &self,
        handle: ObjectHandle,
    ) -> Result<Option<(key::Id, String, Algorithm)>, Error> {
        let values = self
            .session
            .get_attributes(
                handle,
                &[
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                ],
            )
            .map_err(|e| self.failure("read key attributes", e))?;
        let (mut id, mut label, mut key_type, mut params) = (None, String::new(), None, None);
        for value in values {
            match value {
                Attribute::Id(bytes) => id = Some(key::Id::from_bytes(bytes)),
                Attribute::Label(bytes) => label = String::from_utf8_lossy(&bytes).into_owned(),
                Attribute::KeyType(kind) => key_type = Some(kind),
                Attribute::EcParams(bytes) => params = Some(bytes),
                _ => {}
            }
        }
        let algorithm = match (key_type, params.as_deref()) {
            (Some(KeyType::EC), Some(P256_PARAMS)) => Algorithm::EcdsaP256,
            (Some(KeyType::EC), Some(SECP256K1_PARAMS)) => Algorithm::EcdsaSecp256k1,
            (Some(KeyType::EC_EDWARDS), None | Some(ED25519_OID_PARAMS | ED25519_NAME_PARAMS)) => {
                Algorithm::Ed25519
            }
            _ => return Ok(None),
        };
        Ok(id.map(|id| (id, label, algorithm)))
    }

    fn public_key_of(
        &self,
        id: &key::Id,
        algorithm: Algorithm,
        private: ObjectHandle,
    ) -> Result<PublicKey, Error> {
        let publics = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Id(id.as_bytes().to_vec()),
            ])
            .map_err(|e| self.failure("find a public key", e))?;
        // Without a public key object, some modules still put the point on the private key.
        let holder = publics.first().copied().unwrap_or(private);
        self.public_point(holder, algorithm)
    }

    fn public_point(&self, handle: ObjectHandle, algorithm: Algorithm) -> Result<PublicKey, Error> {
        let malformed = |reason: String| Error::Malformed {
            device: self.name.clone(),
            what: "public key",
            reason,
        };
        let raw = self
            .session
            .get_attributes(handle, &[AttributeType::EcPoint])
            .map_err(|e| self.failure("read a public key", e))?
            .into_iter()
            .find_map(|value| match value {
                Attribute::EcPoint(point) => Some(point),
                _ => None,
            })
            .ok_or_else(|| malformed("the key has no CKA_EC_POINT".to_owned()))?;
        let point = ec_point(algorithm, &raw).ok_or_else(|| {
            malformed(format!(
                "CKA_EC_POINT is neither a {algorithm} point nor a DER OCTET STRING around one ({} bytes)",
                raw.len()
            ))
        })?;
        PublicKey::from_bytes(algorithm, point).map_err(|e| malformed(e.to_string()))
    }

    fn attributes(&self, handle: ObjectHandle) -> Result<Attributes, Error> {
        self.session
            .get_attributes(handle, &ORIGIN_ATTRIBUTES)
            .map(origin)
            .map_err(|e| self.failure("read key attributes", e))
    }

    fn unsupported(&self, what: String, reason: &str) -> Error {
        Error::Unsupported {
            device: self.name.clone(),
            what,
            reason: reason.to_owned(),
        }
    }
}

impl Device for Token {
    fn info(&self) -> &device::Info {
        &self.info
    }

    fn keys(&mut self) -> Result<Vec<key::Info>, Error> {
        let handles = self
            .session
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .map_err(|e| self.failure("list keys", e))?;
        // Private keys vanish from view when the login ends or the token goes: an empty list
        // must not hide that.
        if handles.is_empty()
            && let Some(lost) = self.lost()
        {
            return Err(lost);
        }
        let mut keys = Vec::with_capacity(handles.len());
        for handle in handles {
            let Some((id, label, algorithm)) = self.describe_private(handle)? else {
                continue;
            };
            match self.public_key_of(&id, algorithm, handle) {
                Ok(public_key) => {
                    self.handles.insert(id.clone(), (handle, algorithm));
                    keys.push(key::Info {
                        id,
                        label,
                        public_key,
                    });
                }
                Err(error) => {
                    tracing::warn!(token = %self.name, key = %id, %error, "skipping a key without a usable public key");
                }
            }
        }
        Ok(keys)
    }

    fn key(&mut self, id: &key::Id) -> Result<key::Info, Error> {
        let values = self.with_key(id, "read key attributes", |session, handle, _| {
            session.get_attributes(handle, &[AttributeType::Label])
        })?;
        let label = values
            .into_iter()
            .find_map(|value| match value {
                Attribute::Label(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
                _ => None,
            })
            .unwrap_or_default();
        let (handle, algorithm) = self.private_key(id)?;
        Ok(key::Info {
            id: id.clone(),
            label,
            public_key: self.public_key_of(id, algorithm, handle)?,
        })
    }

    fn generate(&mut self, request: &key::Request) -> Result<key::Info, Error> {
        let algorithm = request.algorithm;
        let what = format!("generate {algorithm} keys");
        let m = self.mechanisms;
        let (mechanism, candidates): (Mechanism<'_>, &[&[u8]]) = match algorithm {
            Algorithm::Ed25519 if m.edwards_keygen && m.eddsa => (
                Mechanism::EccEdwardsKeyPairGen,
                &[ED25519_OID_PARAMS, ED25519_NAME_PARAMS],
            ),
            Algorithm::EcdsaP256 if m.ec_keygen && (m.ecdsa || m.ecdsa_sha256) => {
                (Mechanism::EccKeyPairGen, &[P256_PARAMS])
            }
            Algorithm::EcdsaSecp256k1 if m.ec_keygen && m.ecdsa => {
                (Mechanism::EccKeyPairGen, &[SECP256K1_PARAMS])
            }
            Algorithm::Ed25519 => {
                return Err(self.unsupported(
                    what,
                    "the module lacks CKM_EC_EDWARDS_KEY_PAIR_GEN or CKM_EDDSA; use a device with Ed25519, or an ECDSA key",
                ));
            }
            Algorithm::EcdsaP256 | Algorithm::EcdsaSecp256k1 => {
                return Err(self.unsupported(
                    what,
                    "the module lacks CKM_EC_KEY_PAIR_GEN or CKM_ECDSA; use another device or algorithm",
                ));
            }
        };
        let id = key::Id::random();
        let mut last_refusal = None;
        let mut pair = None;
        'params: for params in candidates {
            for with_optional in [true, false] {
                let (public, private) = templates(&id, &request.label, params, with_optional);
                match self
                    .session
                    .generate_key_pair(&mechanism, &public, &private)
                {
                    Ok(generated) => {
                        pair = Some(generated);
                        break 'params;
                    }
                    Err(CkError::Pkcs11(rv, _)) if template_refusal(rv) => {
                        tracing::debug!(token = %self.name, ?rv, with_optional, params = %hex::encode(params), "key generation refused; retrying");
                        last_refusal = Some(rv);
                    }
                    Err(e) => return Err(self.failure("generate a key", e)),
                }
            }
        }
        let Some((public, private)) = pair else {
            return Err(self.unsupported(
                what,
                &format!(
                    "the module refused every template and curve encoding (last answer {}); use another algorithm or a device that supports it",
                    last_refusal.map(|rv| format!("{rv:?}")).unwrap_or_default()
                ),
            ));
        };
        let attributes = self.attributes(private)?;
        if attributes.sensitive != Some(true) || attributes.extractable != Some(false) {
            let _ = self.session.destroy_object(private);
            let _ = self.session.destroy_object(public);
            return Err(Error::KeyNotProtected {
                device: self.name.clone(),
                detail: format!(
                    "with CKA_SENSITIVE {:?} and CKA_EXTRACTABLE {:?}",
                    attributes.sensitive, attributes.extractable
                ),
            });
        }
        let public_key = self.public_point(public, algorithm)?;
        self.handles.insert(id.clone(), (private, algorithm));
        tracing::info!(token = %self.name, key = %id, %algorithm, label = %request.label, "key generated on the token");
        Ok(key::Info {
            id,
            label: request.label.clone(),
            public_key,
        })
    }

    fn sign(&mut self, id: &key::Id, message: &[u8]) -> Result<Signature, Error> {
        let (_, algorithm) = self.private_key(id)?;
        let m = self.mechanisms;
        let (mechanism, data) = match algorithm {
            Algorithm::Ed25519 => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                message.to_vec(),
            ),
            // Hash on the host: SoftHSM2 (and others) lack CKM_ECDSA_SHA256.
            Algorithm::EcdsaP256 | Algorithm::EcdsaSecp256k1 if m.ecdsa => {
                (Mechanism::Ecdsa, algorithm.prepare(message))
            }
            Algorithm::EcdsaP256 if m.ecdsa_sha256 => (Mechanism::EcdsaSha256, message.to_vec()),
            Algorithm::EcdsaP256 | Algorithm::EcdsaSecp256k1 => {
                return Err(self.unsupported(
                    format!("sign with {algorithm} keys"),
                    "the module offers neither CKM_ECDSA nor CKM_ECDSA_SHA256",
                ));
            }
        };
        let raw = self.with_key(id, "sign", |session, handle, _| {
            session.sign(&mechanism, handle, &data)
        })?;
        Signature::from_bytes(algorithm, &raw).map_err(|e| Error::Malformed {
            device: self.name.clone(),
            what: "signature",
            reason: e.to_string(),
        })
    }

    fn evidence(&mut self, id: &key::Id) -> Result<Evidence, Error> {
        let values = self.with_key(id, "read key attributes", |session, handle, _| {
            session.get_attributes(handle, &ORIGIN_ATTRIBUTES)
        })?;
        Ok(Evidence::SelfReported(origin(values)))
    }

    fn attestation(&mut self, _id: &key::Id) -> Result<Attestation, Error> {
        Err(Error::AttestationUnavailable {
            device: self.name.clone(),
            reason: "not available: self-reported attributes only (PKCS#11 has no attestation; read them with evidence())"
                .to_owned(),
        })
    }

    fn pin_status(&mut self) -> Result<pin::Status, Error> {
        self.module
            .context
            .get_token_info(self.slot)
            .map(|info| pin::Status::from_token(&info))
            .map_err(|e| self.failure("read the PIN status", e))
    }

    fn change_pin(&mut self, old: &Pin, new: &Pin) -> Result<(), Error> {
        match self.session.set_pin(&old.auth(), &new.auth()) {
            Ok(()) => {
                tracing::info!(token = %self.name, "user PIN changed");
                Ok(())
            }
            Err(CkError::Pkcs11(rv @ (RvError::PinLenRange | RvError::PinInvalid), _)) => {
                let (min, max) = self
                    .module
                    .context
                    .get_token_info(self.slot)
                    .map(|info| (info.min_pin_length(), info.max_pin_length()))
                    .unwrap_or((0, 0));
                Err(Error::PinRejected {
                    device: self.name.clone(),
                    reason: format!("{rv:?}"),
                    min,
                    max,
                })
            }
            Err(e) => Err(self.failure("change the PIN", e)),
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("slot", &self.slot)
            .field("module", &self.module.path)
            .field("mechanisms", &self.mechanisms)
            .finish_non_exhaustive()
    }
}

/// The mechanisms this crate uses, as the token lists them.
#[derive(Debug, Clone, Copy, Default)]
struct Mechanisms {
    ec_keygen: bool,
    edwards_keygen: bool,
    ecdsa: bool,
    ecdsa_sha256: bool,
    eddsa: bool,
}

impl Mechanisms {
    fn from_list(list: &[MechanismType]) -> Self {
        Self {
            ec_keygen: list.contains(&MechanismType::ECC_KEY_PAIR_GEN),
            edwards_keygen: list.contains(&MechanismType::ECC_EDWARDS_KEY_PAIR_GEN),
            ecdsa: list.contains(&MechanismType::ECDSA),
            ecdsa_sha256: list.contains(&MechanismType::ECDSA_SHA256),
            eddsa: list.contains(&MechanismType::EDDSA),
        }
    }
}

/// The attributes that tell where a private key was born.
const ORIGIN_ATTRIBUTES: [AttributeType; 5] = [
    AttributeType::Local,
    AttributeType::NeverExtractable,
    AttributeType::AlwaysSensitive,
    AttributeType::Sensitive,
    AttributeType::Extractable,
];

fn origin(values: Vec<Attribute>) -> Attributes {
    let mut attributes = Attributes::default();
    for value in values {
        match value {
            Attribute::Local(v) => attributes.local = Some(v),
            Attribute::NeverExtractable(v) => attributes.never_extractable = Some(v),
            Attribute::AlwaysSensitive(v) => attributes.always_sensitive = Some(v),
            Attribute::Sensitive(v) => attributes.sensitive = Some(v),
            Attribute::Extractable(v) => attributes.extractable = Some(v),
            _ => {}
        }
    }
    attributes
}

fn token_name(info: &TokenInfo) -> String {
    format!("PKCS#11 token \"{}\"", info.label())
}

/// Public and private key templates. The protections are always present; `with_optional` adds
/// the usage flags some modules reject.
fn templates(
    id: &key::Id,
    label: &str,
    params: &[u8],
    with_optional: bool,
) -> (Vec<Attribute>, Vec<Attribute>) {
    let mut public = vec![
        Attribute::Token(true),
        Attribute::Id(id.as_bytes().to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::EcParams(params.to_vec()),
    ];
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Id(id.as_bytes().to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if with_optional {
        public.extend([Attribute::Verify(true), Attribute::Private(false)]);
        private.extend([Attribute::Sign(true), Attribute::Derive(false)]);
    }
    (public, private)
}

/// Whether a key generation refusal may be about the template or the curve encoding, so that
/// another template or encoding is worth a try.
fn template_refusal(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::AttributeTypeInvalid
            | RvError::AttributeValueInvalid
            | RvError::AttributeReadOnly
            | RvError::TemplateInconsistent
            | RvError::TemplateIncomplete
            | RvError::DomainParamsInvalid
            | RvError::CurveNotSupported
    )
}

/// The point inside `CKA_EC_POINT`: a DER OCTET STRING around it (the standard), or the raw
/// point (some modules). The algorithm's point length tells the two apart.
fn ec_point(algorithm: Algorithm, raw: &[u8]) -> Option<&[u8]> {
    let lengths: &[usize] = match algorithm {
        Algorithm::Ed25519 => &[32],
        Algorithm::EcdsaP256 | Algorithm::EcdsaSecp256k1 => &[65, 33],
    };
    if lengths.contains(&raw.len()) {
        return Some(raw);
    }
    let inner = match raw {
        [0x04, len, rest @ ..] if *len < 0x80 && rest.len() == usize::from(*len) => rest,
        [0x04, 0x81, len, rest @ ..] if rest.len() == usize::from(*len) => rest,
        _ => return None,
    };
    lengths.contains(&inner.len()).then_some(inner)
}

/// A `cryptoki` failure in a few words: "C_Sign returned DeviceRemoved" rather than the
/// specification's paragraph.
fn short(error: &CkError) -> String {
    match error {
        CkError::Pkcs11(rv, function) => format!("C_{function:?} returned {rv:?}"),
        other => other.to_string(),
    }
}

/// Words a `cryptoki` failure for people: a removed device, a logout, a lock, an unsupported
/// mechanism, or anything else with the function and return value.
fn classify(device: &str, operation: &'static str, error: CkError) -> Error {
    let device = device.to_owned();
    match error {
        CkError::Pkcs11(rv, function) => {
            let reason = format!("C_{function:?} returned {rv:?}");
            match rv {
                RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::SlotIdInvalid => Error::DeviceGone { device, reason },
                RvError::UserNotLoggedIn => Error::LoggedOut { device },
                RvError::PinLocked => Error::PinLocked { device },
                RvError::PinIncorrect => Error::PinIncorrect {
                    device,
                    status: pin::Status::NoWarning,
                },
                RvError::MechanismInvalid
                | RvError::MechanismParamInvalid
                | RvError::CurveNotSupported
                | RvError::DomainParamsInvalid
                | RvError::FunctionNotSupported
                | RvError::KeyTypeInconsistent => Error::Unsupported {
                    device,
                    what: operation.to_owned(),
                    reason: format!("{reason}; use another algorithm or a device that supports it"),
                },
                _ => Error::Device {
                    device,
                    operation,
                    reason,
                },
            }
        }
        other => Error::Device {
            device,
            operation,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_are_unwrapped_from_der_or_taken_raw() {
        let point = [0x04u8; 65];
        let mut der = vec![0x04, 65];
        der.extend_from_slice(&point);
        assert_eq!(
            ec_point(Algorithm::EcdsaP256, &der),
            Some(&point[..]),
            "SoftHSM2's DER OCTET STRING is unwrapped"
        );
        assert_eq!(
            ec_point(Algorithm::EcdsaP256, &point),
            Some(&point[..]),
            "a raw 65-byte point is taken as is (its 0x04 prefix is not a DER tag here)"
        );
        let ed = [9u8; 32];
        let mut ed_der = vec![0x04, 32];
        ed_der.extend_from_slice(&ed);
        assert_eq!(
            ec_point(Algorithm::Ed25519, &ed_der),
            Some(&ed[..]),
            "Ed25519 points come wrapped too"
        );
        assert_eq!(
            ec_point(Algorithm::Ed25519, &der),
            None,
            "a P-256 point is not an Ed25519 key"
        );
        assert_eq!(
            ec_point(Algorithm::EcdsaP256, &der[..40]),
            None,
            "a truncated value is refused"
        );
    }

    #[test]
    fn refusals_worth_another_template_are_told_apart() {
        assert!(
            template_refusal(RvError::AttributeTypeInvalid),
            "a rejected optional attribute is retried without it"
        );
        assert!(
            template_refusal(RvError::DomainParamsInvalid),
            "a rejected curve encoding is retried with the other encoding"
        );
        assert!(
            !template_refusal(RvError::UserNotLoggedIn),
            "a logout is not fixed by another template"
        );
    }

    #[test]
    fn failures_are_classified_for_people() {
        let gone = classify(
            "PKCS#11 token \"a\"",
            "sign",
            CkError::Pkcs11(RvError::DeviceRemoved, cryptoki::context::Function::Sign),
        );
        assert!(
            matches!(gone, Error::DeviceGone { .. }),
            "a removed device is reported as gone, got {gone:?}"
        );
        assert!(
            gone.to_string().contains("open it again with its PIN"),
            "and the message says what to do: {gone}"
        );
        let unsupported = classify(
            "PKCS#11 token \"a\"",
            "generate a key",
            CkError::Pkcs11(
                RvError::CurveNotSupported,
                cryptoki::context::Function::GenerateKeyPair,
            ),
        );
        assert!(
            matches!(unsupported, Error::Unsupported { .. }),
            "an unknown curve is unsupported, got {unsupported:?}"
        );
    }
}
