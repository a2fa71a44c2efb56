//! A profile whose client key lives on a device (YubiKey, PKCS#11 token): the device opened with
//! its PIN, checked against the deployment's policy, and paired with the profile's certificate
//! as the connection's TLS identity. The device work itself is `gatehouse-keys`'.

use std::sync::Arc;

use gatehouse_keys::device::Shared;
use gatehouse_keys::key;
use gatehouse_keys::policy::Policy;
use gatehouse_keys::tls::{DeviceIdentity, DeviceKey, read_chain};
use gatehouse_keys::{Error, Pin};
use gatehouse_protocol::Environment;
use rustls::sign::CertifiedKey;

use crate::identity::ClientIdentity;
use crate::profile::{KeySource, Profile};

impl ClientIdentity for DeviceIdentity {
    fn certified_key(&self) -> Arc<CertifiedKey> {
        DeviceIdentity::certified_key(self)
    }

    fn allows_resumption(&self) -> bool {
        false
    }
}

/// The client identity of a profile whose key is on a device ([`KeySource::Device`]): opens
/// the device with `pin`, checks the deployment's policy (a production profile refuses a
/// software key file), and pairs the device key with the profile's certificate chain.
///
/// Blocks (device work, and scrypt for a software key file): async callers use
/// `spawn_blocking`. A profile with a key file gives [`Error::Certificate`] saying so.
pub fn identity(profile: &Profile, pin: &Pin) -> Result<DeviceIdentity, Error> {
    let KeySource::Device { device, key } = &profile.key else {
        return Err(Error::Certificate {
            reason: format!(
                "profile {:?} keeps its key in a file, not on a device",
                profile.name
            ),
        });
    };
    let id = key.parse::<key::Id>().map_err(|e| Error::Certificate {
        reason: format!("profile {:?}: {e}", profile.name),
    })?;
    let chain = read_chain(&profile.client_cert)?;
    let opened = gatehouse_keys::open(device, pin)?;
    let policy = match profile.environment {
        Environment::Production => Policy::production(),
        Environment::Development | Environment::Staging => Policy::development(),
    };
    policy.admit(opened.info())?;
    DeviceIdentity::new(chain, DeviceKey::new(Shared::new(opened), &id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_with_a_key_file_has_no_device_identity() {
        let profile = Profile {
            name: "alice".into(),
            server_url: "https://localhost:8443".into(),
            environment: Environment::Development,
            ca_cert: "ca.pem".into(),
            client_cert: "alice.pem".into(),
            key: KeySource::File {
                path: "alice.key".into(),
                encrypted: false,
            },
            mirror_url: None,
        };
        let refused = identity(&profile, &Pin::new("123456".to_owned())).expect_err("a file key");
        assert!(
            refused.to_string().contains("keeps its key in a file"),
            "{refused}"
        );
    }
}
