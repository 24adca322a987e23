//! The [`Engine`]: configuration, storage, the in-memory registry and key ring, and the audit
//! sink, bundled so each protocol module can be written as `impl Engine` blocks.

use std::sync::{Arc, RwLock};

use warden_jose::{MasterKey, base64url_decode, base64url_encode};
use warden_types::{SigningAlg, UnixTime};
use zeroize::Zeroizing;

use crate::audit::AuditSink;
use crate::client_auth::jwks::{ClientKeyCache, JwksFetcher};
use crate::config::EngineConfig;
use crate::error::OAuthError;
use crate::keys::{self, KeyAction, KeyError, KeyRing, RotationPolicy};
use crate::model::{AuditEvent, KeyState};
use crate::registry::Registry;
use crate::secrets::SecretHasher;
use crate::store::{Store, StoreError};

/// Setting under which the master key's check value is kept.
const MASTER_KEY_CHECK: &str = "master_key_check";

/// Why the engine could not start or maintain itself.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A signing key could not be loaded or made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The configured master key is not the one the database was initialised with.
    #[error(
        "the master key does not match the one this database was initialised with; \
         set WARDEN_MASTER_KEY or --master-key-file to the original key"
    )]
    MasterKeyMismatch,
}

/// The authorization server's protocol engine.
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) master: Arc<MasterKey>,
    pub(crate) hasher: SecretHasher,
    /// HMAC key of the login, consent and logout forms' CSRF tokens.
    pub(crate) csrf_key: zeroize::Zeroizing<[u8; 32]>,
    /// Bounds concurrent argon2id computations (each takes ~19 MiB and tens of
    /// milliseconds of CPU), so a flood of login attempts queues instead of exhausting memory
    /// and the blocking thread pool.
    pub(crate) password_slots: Arc<tokio::sync::Semaphore>,
    pub(crate) fetcher: Arc<dyn JwksFetcher>,
    pub(crate) client_keys: ClientKeyCache,
    /// Encrypters of the APIs whose access tokens are encrypted.
    pub(crate) api_encrypters: crate::access_encryption::ApiEncrypterCache,
    registry: RwLock<Arc<Registry>>,
    keys: RwLock<Arc<KeyRing>>,
    /// Serialises reloads, so a slow reload that read older data can never install it over a
    /// newer one (the registry and the key ring always come from the same read).
    reload_lock: tokio::sync::Mutex<()>,
    audit: Arc<dyn AuditSink>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the engine on a store: checks the master key, loads the registry, and loads the
    /// signing keys (creating them on first start when `create_keys` is set).
    pub async fn open(
        config: EngineConfig,
        store: Arc<dyn Store>,
        master: MasterKey,
        fetcher: Arc<dyn JwksFetcher>,
        audit: Arc<dyn AuditSink>,
        now: UnixTime,
        create_keys: bool,
    ) -> Result<Self, EngineError> {
        check_master_key(store.as_ref(), &master).await?;
        let hasher = SecretHasher::new(master.derive("warden client secret pepper v1"));
        let csrf_key = zeroize::Zeroizing::new(master.derive("warden csrf v1"));
        let engine = Engine {
            config,
            store,
            master: Arc::new(master),
            hasher,
            csrf_key,
            password_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            )),
            fetcher,
            client_keys: ClientKeyCache::default(),
            api_encrypters: Default::default(),
            registry: RwLock::new(Arc::new(Registry::default())),
            keys: RwLock::new(Arc::new(KeyRing::default())),
            reload_lock: tokio::sync::Mutex::new(()),
            audit,
        };
        if create_keys {
            engine.maintain_keys(now, &[]).await?;
        }
        engine.reload().await?;
        Ok(engine)
    }

    /// Settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The current key ring.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reloads the registry and keys unconditionally.
    pub async fn reload(&self) -> Result<(), EngineError> {
        let _serial = self.reload_lock.lock().await;
        let version = self.store.registry_version().await?;
        let apis = self.store.apis().await?;
        let clients = self.store.clients().await?;
        let issuers = self.store.trusted_issuers().await?;
        let stored_keys = self.store.signing_keys().await?;
        let ring = KeyRing::load(&stored_keys, &self.master)?;
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(Registry::new(version, apis, clients).with_issuers(issuers));
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        Ok(())
    }

    /// Reloads if the database's registry version moved; returns whether it did.
    pub async fn refresh(&self) -> Result<bool, EngineError> {
        let version = self.store.registry_version().await?;
        if version == self.registry().version {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Runs key maintenance: creates missing keys, rotates due ones (and, for the algorithms
    /// in `force`, rotates now), removes retired keys whose tokens have all expired.
    /// Returns what was done.
    pub async fn maintain_keys(
        &self,
        now: UnixTime,
        force: &[SigningAlg],
    ) -> Result<Vec<KeyAction>, EngineError> {
        let policy = RotationPolicy {
            interval: self.config.key_rotation_interval,
            publish_lead: self.config.key_publish_lead,
            retire_grace: RotationPolicy::retire_grace(self.config.clock_skew),
        };
        let mut done = Vec::new();
        for alg in self.config.signing_algs.clone() {
            let mut forced = force.contains(&alg);
            // A handful of steps is always enough (create, promote, create); the bound keeps
            // a misbehaving store from looping forever.
            for _ in 0..6 {
                let stored = self.store.signing_keys().await?;
                let Some(action) = keys::plan(&stored, alg, now, &policy, forced) else {
                    break;
                };
                match &action {
                    KeyAction::Create(alg) => {
                        let key = keys::generate(*alg, &self.master, now)?;
                        match self.store.insert_signing_key(&key).await {
                            Ok(()) | Err(StoreError::Conflict) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    KeyAction::Promote { next, previous, .. } => {
                        let promoted = self
                            .store
                            .activate_signing_key(
                                next.as_str(),
                                previous.as_ref().map(|k| k.as_str()),
                                now,
                                now + policy.retire_grace,
                            )
                            .await?;
                        // One forced promotion per request, won or lost: if another
                        // instance promoted first, the key it activated must not be retired
                        // again at once by a second, freshly created key.
                        forced = false;
                        if promoted {
                            self.audit(AuditEvent {
                                at: now,
                                kind: String::from("key_rotated"),
                                actor: None,
                                source: None,
                                detail: serde_json::json!({
                                    "alg": alg.as_str(),
                                    "activated": next.as_str(),
                                    "retired": previous.as_ref().map(|k| k.as_str()),
                                }),
                            });
                        }
                    }
                }
                done.push(action);
            }
        }
        let mut retired = 0;
        let stored = self.store.signing_keys().await?;
        for alg in self.config.signing_algs.clone() {
            for (kid, state) in keys::duplicates(&stored, alg) {
                let remove_after = match state {
                    KeyState::Published => now,
                    _ => now + policy.retire_grace,
                };
                if self
                    .store
                    .retire_signing_key(kid.as_str(), state, now, remove_after)
                    .await?
                {
                    retired += 1;
                }
            }
        }
        let removed = self.store.remove_expired_signing_keys(now).await? + retired;
        if !done.is_empty() || removed > 0 {
            self.reload().await?;
        }
        Ok(done)
    }

    /// Deletes expired replay, revocation and token rows.
    /// Audit events past the retention go too.
    pub async fn prune(&self, now: UnixTime) -> Result<u64, EngineError> {
        let mut pruned = self.store.prune_expired(now).await?;
        if self.config.audit_retention > 0 {
            pruned += self
                .store
                .prune_audit_events(now - self.config.audit_retention)
                .await?;
        }
        Ok(pruned)
    }

    /// Hands an event to the audit sink.
    /// Free-text fields that came from a request (a claimed client id, a peer address) are
    /// cleaned of control characters and bounded, so no audit row can be refused by the
    /// database or forge a log line.
    pub fn audit(&self, mut event: AuditEvent) {
        event.actor = event.actor.map(|a| clean_text(&a));
        event.source = event.source.map(|s| clean_text(&s));
        self.audit.record(event);
    }

    /// Seals a client secret for `client_secret_jwt` (AAD = client id).
    pub(crate) fn seal_client_secret(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<String, OAuthError> {
        self.master
            .seal(secret.as_bytes(), client_id.as_bytes())
            .map(|s| base64url_encode(&s))
            .map_err(|_| OAuthError::server_error())
    }

    /// Opens a sealed client secret.
    pub(crate) fn open_client_secret(
        &self,
        client_id: &str,
        sealed: &str,
    ) -> Result<Zeroizing<Vec<u8>>, OAuthError> {
        let bytes = base64url_decode(sealed).map_err(|_| OAuthError::server_error())?;
        self.master.open(&bytes, client_id.as_bytes()).map_err(|_| {
            tracing::error!(
                client_id,
                "stored client secret cannot be opened with the master key"
            );
            OAuthError::server_error()
        })
    }
}

/// Replaces control characters (NUL included) and bounds the length.
fn clean_text(value: &str) -> String {
    value
        .chars()
        .take(256)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

async fn check_master_key(store: &dyn Store, master: &MasterKey) -> Result<(), EngineError> {
    let check = master.check_value();
    let stored = store.init_setting(MASTER_KEY_CHECK, &check).await?;
    if stored != check {
        return Err(EngineError::MasterKeyMismatch);
    }
    Ok(())
}
