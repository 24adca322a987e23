//! Signing keys: the key ring the hot path signs with, and the lifecycle of DESIGN.md —
//! *published* (in the JWKS, not yet signing) → *active* (signing) → *retired* (in the JWKS,
//! verify-only, until every token it signed has expired) → removed.
//!
//! Rotation decisions are a pure function ([`plan`]) over the stored keys and `now`; the engine
//! carries them out with compare-and-set store calls so several instances on one database
//! agree on one active key per algorithm.

use std::collections::HashMap;
use std::sync::Arc;

use warden_jose::{MasterKey, SigningKey, VerifyingKey, base64url_decode, base64url_encode};
use warden_types::jwk::JwkSet;
use warden_types::{Kid, SigningAlg, UnixTime};

use crate::model::{KeyState, MAX_ACCESS_TOKEN_LIFETIME, StoredKey};

/// Why a key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The sealed private key did not open: wrong master key or corrupted row.
    #[error("signing key {0} cannot be decrypted with the configured master key")]
    Unseal(String),
    /// Key material was rejected by the crypto library.
    #[error("signing key {kid}: {reason}")]
    Invalid {
        /// Key id.
        kid: String,
        /// What was wrong.
        reason: String,
    },
}

/// The keys an instance signs and verifies with, and the JWKS it serves.
#[derive(Debug, Default)]
pub struct KeyRing {
    active: HashMap<SigningAlg, Arc<SigningKey>>,
    verifiers: HashMap<String, (SigningAlg, Arc<VerifyingKey>)>,
    jwks_json: Arc<str>,
}

impl KeyRing {
    /// Builds the ring from stored keys: active keys are unsealed for signing; every key
    /// (published, active, retired) is published and usable for verification.
    pub fn load(stored: &[StoredKey], master: &MasterKey) -> Result<Self, KeyError> {
        let mut ring = KeyRing::default();
        let mut jwks = JwkSet::default();
        // If two instances raced at bootstrap, several keys may be active for one algorithm:
        // every instance picks the same one (latest activation, then kid).
        let mut chosen: HashMap<SigningAlg, &StoredKey> = HashMap::new();
        for key in stored.iter().filter(|k| k.state == KeyState::Active) {
            let better = match chosen.get(&key.alg) {
                None => true,
                Some(cur) => {
                    (key.activated_at, key.kid.as_str()) > (cur.activated_at, cur.kid.as_str())
                }
            };
            if better {
                chosen.insert(key.alg, key);
            }
        }
        for key in chosen.values() {
            let signing = unseal(key, master)?;
            ring.active.insert(key.alg, Arc::new(signing));
        }
        for key in stored {
            let verifying =
                VerifyingKey::from_jwk(&key.public_jwk).map_err(|e| KeyError::Invalid {
                    kid: key.kid.to_string(),
                    reason: e.to_string(),
                })?;
            ring.verifiers
                .insert(key.kid.as_str().to_owned(), (key.alg, Arc::new(verifying)));
            jwks.keys.push(key.public_jwk.clone());
        }
        ring.jwks_json = serde_json::to_string(&jwks)
            .unwrap_or_else(|_| String::from("{\"keys\":[]}"))
            .into();
        Ok(ring)
    }

    /// The key that signs tokens of `alg` now.
    pub fn active(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.active.get(&alg)
    }

    /// A published key by kid, with its algorithm.
    pub fn verifier(&self, kid: &str) -> Option<&(SigningAlg, Arc<VerifyingKey>)> {
        self.verifiers.get(kid)
    }

    /// The JWKS document, serialized once per reload.
    pub fn jwks_json(&self) -> Arc<str> {
        self.jwks_json.clone()
    }
}

/// Opens a stored key's private part.
pub fn unseal(key: &StoredKey, master: &MasterKey) -> Result<SigningKey, KeyError> {
    let sealed = base64url_decode(&key.sealed_private_key)
        .map_err(|_| KeyError::Unseal(key.kid.to_string()))?;
    let der = master
        .open(&sealed, key.kid.as_str().as_bytes())
        .map_err(|_| KeyError::Unseal(key.kid.to_string()))?;
    SigningKey::from_pkcs8(key.alg, key.kid.clone(), &der).map_err(|e| KeyError::Invalid {
        kid: key.kid.to_string(),
        reason: e.to_string(),
    })
}

/// Generates a key and seals it for storage, in state `published`.
pub fn generate(alg: SigningAlg, master: &MasterKey, now: UnixTime) -> Result<StoredKey, KeyError> {
    let invalid = |reason: String| KeyError::Invalid {
        kid: String::from("(new)"),
        reason,
    };
    // The kid is the RFC 7638 thumbprint, which needs the public key: generate under a
    // temporary id, then rebuild under the thumbprint.
    let temp = SigningKey::generate(alg, Kid::new("new")).map_err(|e| invalid(e.to_string()))?;
    let thumbprint =
        warden_jose::jwk_thumbprint(&temp.public_jwk()).map_err(|e| invalid(e.to_string()))?;
    let kid = Kid::new(thumbprint);
    let key = SigningKey::from_pkcs8(alg, kid.clone(), temp.pkcs8_der())
        .map_err(|e| invalid(e.to_string()))?;
    let sealed = master
        .seal(key.pkcs8_der(), kid.as_str().as_bytes())
        .map_err(|e| invalid(e.to_string()))?;
    Ok(StoredKey {
        kid,
        alg,
        state: KeyState::Published,
        sealed_private_key: base64url_encode(&sealed),
        public_jwk: key.public_jwk(),
        created_at: now,
        activated_at: None,
        retired_at: None,
        remove_after: None,
    })
}

/// When keys rotate.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// An active key signs for this long.
    pub interval: i64,
    /// A published key waits at least this long before it signs (longer than JWKS caches).
    pub publish_lead: i64,
    /// A retired key stays published this long after it stops signing: the longest token
    /// lifetime plus leeway, so every token it signed can still be verified.
    pub retire_grace: i64,
}

impl RotationPolicy {
    /// The grace for retired keys: no API may issue tokens living longer than
    /// [`MAX_ACCESS_TOKEN_LIFETIME`], plus the clock skew.
    pub fn retire_grace(skew: i64) -> i64 {
        MAX_ACCESS_TOKEN_LIFETIME + skew
    }
}

/// One step of key maintenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Generate and publish a key for `alg`.
    Create(SigningAlg),
    /// `next` starts signing; `previous`, if any, retires.
    Promote {
        /// Algorithm.
        alg: SigningAlg,
        /// Published key to activate.
        next: Kid,
        /// Active key to retire.
        previous: Option<Kid>,
    },
}

/// Decides the next maintenance steps for one algorithm. Apply the result and call again
/// until it returns nothing (a promotion is followed by creating the new next key).
/// `force` rotates now, as `warden keys rotate` does.
pub fn plan(
    keys: &[StoredKey],
    alg: SigningAlg,
    now: UnixTime,
    policy: &RotationPolicy,
    force: bool,
) -> Option<KeyAction> {
    let of_alg = keys.iter().filter(|k| k.alg == alg);
    let active = of_alg
        .clone()
        .filter(|k| k.state == KeyState::Active)
        .max_by_key(|k| (k.activated_at, k.kid.as_str().to_owned()));
    let next = of_alg
        .filter(|k| k.state == KeyState::Published)
        .max_by_key(|k| (k.created_at, k.kid.as_str().to_owned()));
    match (active, next) {
        // Nothing signs yet (first start): nobody can have cached anything, activate at once.
        (None, Some(next)) => Some(KeyAction::Promote {
            alg,
            next: next.kid.clone(),
            previous: None,
        }),
        (None, None) | (Some(_), None) => Some(KeyAction::Create(alg)),
        (Some(active), Some(next)) => {
            let due = active.activated_at.unwrap_or(active.created_at) + policy.interval <= now;
            let next_ready = next.created_at + policy.publish_lead <= now;
            (force || (due && next_ready)).then(|| KeyAction::Promote {
                alg,
                next: next.kid.clone(),
                previous: Some(active.kid.clone()),
            })
        }
    }
}

/// Keys of `alg` that must not stay in their state: every active key but the one that signs
/// (latest activation, then kid — the choice [`KeyRing::load`] makes), and every published key
/// but the newest. Two instances bootstrapping or creating a successor at the same moment
/// leave such duplicates; they are retired (the extra active ones after the usual grace, since
/// they may have signed tokens; the extra published ones at once, since they signed nothing).
pub fn duplicates(keys: &[StoredKey], alg: SigningAlg) -> Vec<(Kid, KeyState)> {
    let of_alg = || keys.iter().filter(move |k| k.alg == alg);
    let chosen_active = of_alg()
        .filter(|k| k.state == KeyState::Active)
        .max_by_key(|k| (k.activated_at, k.kid.as_str().to_owned()))
        .map(|k| k.kid.clone());
    let chosen_next = of_alg()
        .filter(|k| k.state == KeyState::Published)
        .max_by_key(|k| (k.created_at, k.kid.as_str().to_owned()))
        .map(|k| k.kid.clone());
    of_alg()
        .filter(|k| match k.state {
            KeyState::Active => Some(&k.kid) != chosen_active.as_ref(),
            KeyState::Published => Some(&k.kid) != chosen_next.as_ref(),
            KeyState::Retired => false,
        })
        .map(|k| (k.kid.clone(), k.state))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_types::jwk::Jwk;

    fn key(kid: &str, state: KeyState, created: i64, activated: Option<i64>) -> StoredKey {
        StoredKey {
            kid: Kid::new(kid),
            alg: SigningAlg::ES256,
            state,
            sealed_private_key: String::new(),
            public_jwk: Jwk {
                kty: "EC".into(),
                kid: None,
                use_: None,
                alg: None,
                key_ops: None,
                n: None,
                e: None,
                crv: None,
                x: None,
                y: None,
                x5c: None,
                d: None,
                k: None,
            },
            created_at: created,
            activated_at: activated,
            retired_at: None,
            remove_after: None,
        }
    }

    const POLICY: RotationPolicy = RotationPolicy {
        interval: 1000,
        publish_lead: 100,
        retire_grace: 3700,
    };

    #[test]
    fn bootstrap_creates_then_activates() {
        assert_eq!(
            plan(&[], SigningAlg::ES256, 0, &POLICY, false),
            Some(KeyAction::Create(SigningAlg::ES256))
        );
        let keys = [key("a", KeyState::Published, 0, None)];
        assert!(matches!(
            plan(&keys, SigningAlg::ES256, 0, &POLICY, false),
            Some(KeyAction::Promote { previous: None, .. })
        ));
    }

    #[test]
    fn active_key_gets_a_published_successor() {
        let keys = [key("a", KeyState::Active, 0, Some(0))];
        assert_eq!(
            plan(&keys, SigningAlg::ES256, 1, &POLICY, false),
            Some(KeyAction::Create(SigningAlg::ES256))
        );
    }

    #[test]
    fn rotation_waits_for_interval_and_publish_lead() {
        let keys = [
            key("a", KeyState::Active, 0, Some(0)),
            key("b", KeyState::Published, 950, None),
        ];
        // Interval not reached.
        assert_eq!(plan(&keys, SigningAlg::ES256, 999, &POLICY, false), None);
        // Interval reached but b published only 50 s ago: resource servers may not have it.
        assert_eq!(plan(&keys, SigningAlg::ES256, 1000, &POLICY, false), None);
        assert_eq!(
            plan(&keys, SigningAlg::ES256, 1050, &POLICY, false),
            Some(KeyAction::Promote {
                alg: SigningAlg::ES256,
                next: Kid::new("b"),
                previous: Some(Kid::new("a")),
            })
        );
        // Forced rotation does not wait.
        assert!(plan(&keys, SigningAlg::ES256, 960, &POLICY, true).is_some());
    }

    #[test]
    fn duplicates_after_a_bootstrap_race() {
        let keys = [
            key("a", KeyState::Active, 0, Some(5)),
            key("b", KeyState::Active, 0, Some(6)),
            key("c", KeyState::Published, 7, None),
            key("d", KeyState::Published, 8, None),
        ];
        assert_eq!(
            duplicates(&keys, SigningAlg::ES256),
            vec![
                (Kid::new("a"), KeyState::Active),
                (Kid::new("c"), KeyState::Published)
            ]
        );
        assert!(duplicates(&keys[1..2], SigningAlg::ES256).is_empty());
    }

    #[test]
    fn other_algorithms_are_ignored() {
        let keys = [key("a", KeyState::Active, 0, Some(0))];
        assert_eq!(
            plan(&keys, SigningAlg::RS256, 1, &POLICY, false),
            Some(KeyAction::Create(SigningAlg::RS256))
        );
    }
}
