//! People who log in: creation and management (the `warden user` CLI), and password login
//! with throttling.
//!
//! Passwords are hashed with argon2id ([`crate::password`]); that is deliberately slow, so
//! every hash and verification runs on tokio's blocking pool, never on the async workers.
//!
//! Throttling (RFC 6819 §5.1.4.2.3 online guessing; OWASP authentication guidance): failed
//! logins are counted per account and per client address in the database (so every instance
//! sees them). Past a threshold each further attempt must wait an exponentially growing delay
//! since the previous failure, capped low for accounts so an attacker can slow a user down but
//! never lock them out for good, and higher for an address that is guessing across accounts.
//! While throttled, the password is not even checked.

use warden_types::{SecretString, UnixTime};

use crate::admin::AdminError;
use crate::engine::Engine;
use crate::model::{AuditEvent, User};
use crate::password;
use crate::secrets::random_id;
use crate::store::StoreError;

/// Failures within this window count together.
pub const FAILURE_WINDOW: i64 = 15 * 60;
/// Failures on one account before delays start.
pub const ACCOUNT_FREE_FAILURES: u32 = 5;
/// Longest delay an account can be held to (seconds).
pub const ACCOUNT_MAX_DELAY: i64 = 60;
/// Failures from one address before delays start.
pub const ADDRESS_FREE_FAILURES: u32 = 20;
/// Longest delay an address can be held to (seconds).
pub const ADDRESS_MAX_DELAY: i64 = 15 * 60;

/// Input of `warden user create`.
#[derive(Debug)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Full name.
    pub name: Option<String>,
    /// The password.
    pub password: SecretString,
}

/// What a login attempt came to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The password was right.
    Success(User),
    /// Wrong user or password (one answer for both).
    Failed,
    /// Too many failures: try again after this many seconds.
    Throttled(i64),
}

/// Normalises a username or email for storage and lookup.
pub fn normalize_login(value: &str) -> String {
    value.trim().to_lowercase()
}

fn validate_username(name: &str) -> Result<(), AdminError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(String::from(
            "username must be 1-64 letters, digits or . _ - @ +",
        )))
    }
}

fn validate_email(email: &str) -> Result<(), AdminError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(String::from(
            "email address is invalid",
        )))
    }
}

/// Runs a password hash off the async workers.
async fn hash_blocking(password: SecretString) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || password::hash_password(password.expose()))
        .await
        .map_err(|_| AdminError::Store(String::from("password hashing task failed")))?
        .map_err(|e| AdminError::Invalid(e.to_string()))
}

fn delay(failures: u32, free: u32, max: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let exp = (failures - free).min(20);
    (1_i64 << exp).min(max)
}

impl Engine {
    /// Creates a user with a fresh opaque `sub`.
    pub async fn create_user(&self, new: NewUser, now: UnixTime) -> Result<User, AdminError> {
        let username = normalize_login(&new.username);
        validate_username(&username)?;
        let email = normalize_login(&new.email);
        validate_email(&email)?;
        if let Some(name) = &new.name
            && (name.len() > 200 || name.chars().any(char::is_control))
        {
            return Err(AdminError::Invalid(String::from("name is invalid")));
        }
        password::check_password_policy(new.password.expose())
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let password_hash = hash_blocking(new.password).await?;
        let user = User {
            sub: random_id(),
            username,
            email,
            email_verified: false,
            name: new.name,
            password_hash,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(AdminError::Exists(String::from(
                    "a user with this username or email",
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.audit_admin(now, "user_created", &user.sub);
        Ok(user)
    }

    /// Finds a user by sub, username or email.
    pub async fn find_user(&self, key: &str) -> Result<User, AdminError> {
        if let Some(u) = self.store.user(key).await? {
            return Ok(u);
        }
        let norm = normalize_login(key);
        if let Some(u) = self.store.user_by_username(&norm).await? {
            return Ok(u);
        }
        if let Some(u) = self.store.user_by_email(&norm).await? {
            return Ok(u);
        }
        Err(AdminError::NotFound(String::from("user")))
    }

    /// Every user.
    pub async fn list_users(&self) -> Result<Vec<User>, AdminError> {
        Ok(self.store.users().await?)
    }

    /// Sets a new password; existing sessions and refresh tokens of the user end.
    pub async fn set_user_password(
        &self,
        key: &str,
        new_password: SecretString,
        now: UnixTime,
    ) -> Result<User, AdminError> {
        let mut user = self.find_user(key).await?;
        password::check_password_policy(new_password.expose())
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        user.password_hash = hash_blocking(new_password).await?;
        user.updated_at = now;
        self.store.update_user(&user).await?;
        self.end_user_sessions(&user.sub).await?;
        self.audit_admin(now, "user_password_set", &user.sub);
        Ok(user)
    }

    /// Disables (or re-enables) a user; disabling ends its sessions and refresh tokens.
    pub async fn set_user_disabled(
        &self,
        key: &str,
        disabled: bool,
        now: UnixTime,
    ) -> Result<User, AdminError> {
        let mut user = self.find_user(key).await?;
        user.disabled = disabled;
        user.updated_at = now;
        self.store.update_user(&user).await?;
        if disabled {
            self.end_user_sessions(&user.sub).await?;
        }
        let kind = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        self.audit_admin(now, kind, &user.sub);
        Ok(user)
    }

    /// Deletes a user with its sessions, consents, codes and refresh tokens.
    pub async fn delete_user(&self, key: &str, now: UnixTime) -> Result<User, AdminError> {
        let user = self.find_user(key).await?;
        if !self.store.delete_user(&user.sub).await? {
            return Err(AdminError::NotFound(String::from("user")));
        }
        self.audit_admin(now, "user_deleted", &user.sub);
        Ok(user)
    }

    async fn end_user_sessions(&self, sub: &str) -> Result<(), StoreError> {
        self.store.delete_user_sessions(sub).await?;
        self.store.revoke_user_refresh_tokens(sub, None).await?;
        Ok(())
    }

    fn audit_admin(&self, now: UnixTime, kind: &str, sub: &str) {
        self.audit(AuditEvent {
            at: now,
            kind: kind.to_owned(),
            actor: Some(String::from("admin")),
            source: None,
            detail: serde_json::json!({ "sub": sub }),
        });
    }

    /// Checks a username (or email) and password, with throttling per account and per
    /// client address. The answer for an unknown user and a wrong password is the same, and
    /// takes the same time.
    pub async fn login(
        &self,
        login: &str,
        password: SecretString,
        source: Option<&str>,
        now: UnixTime,
    ) -> Result<LoginOutcome, StoreError> {
        let norm = normalize_login(login);
        if norm.is_empty() || norm.len() > 254 {
            return Ok(LoginOutcome::Failed);
        }
        let account_key = format!("acct:{norm}");
        let address_key = source.map(|s| format!("ip:{s}"));
        // Throttle before any password work.
        let mut wait = 0;
        let account_before = self
            .store
            .login_failures(&account_key, now, FAILURE_WINDOW)
            .await?;
        if let Some(f) = account_before {
            let d = delay(f.count, ACCOUNT_FREE_FAILURES, ACCOUNT_MAX_DELAY);
            wait = wait.max(f.last_failure + d - now);
        }
        if let Some(key) = &address_key
            && let Some(f) = self.store.login_failures(key, now, FAILURE_WINDOW).await?
        {
            let d = delay(f.count, ADDRESS_FREE_FAILURES, ADDRESS_MAX_DELAY);
            wait = wait.max(f.last_failure + d - now);
        }
        if wait > 0 {
            self.audit(AuditEvent {
                at: now,
                kind: String::from("login_throttled"),
                actor: None,
                source: source.map(str::to_owned),
                detail: serde_json::json!({ "retry_after": wait }),
            });
            return Ok(LoginOutcome::Throttled(wait));
        }
        // Count the attempt as a failure *before* checking the password (a success clears
        // it), so parallel attempts cannot all pass the check above: past the free
        // allowance, an attempt that finds others counted since it looked is refused unseen.
        let before = account_before.map_or(0, |f| f.count);
        let counted = self
            .store
            .record_login_failure(&account_key, now, FAILURE_WINDOW)
            .await?;
        if counted.count > ACCOUNT_FREE_FAILURES && counted.count > before.saturating_add(1) {
            let wait = delay(counted.count, ACCOUNT_FREE_FAILURES, ACCOUNT_MAX_DELAY);
            self.audit(AuditEvent {
                at: now,
                kind: String::from("login_throttled"),
                actor: None,
                source: source.map(str::to_owned),
                detail: serde_json::json!({ "retry_after": wait, "concurrent": true }),
            });
            return Ok(LoginOutcome::Throttled(wait));
        }
        let mut user = self.store.user_by_username(&norm).await?;
        if user.is_none() && norm.contains('@') {
            user = self.store.user_by_email(&norm).await?;
        }
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let Ok(_permit) = self.password_slots.clone().acquire_owned().await else {
            return Ok(LoginOutcome::Failed);
        };
        let ok = tokio::task::spawn_blocking(move || match phc {
            Some(phc) => password::verify_password(password.expose(), &phc).unwrap_or(false),
            None => {
                password::dummy_verify(password.expose());
                false
            }
        })
        .await
        .unwrap_or(false);
        match user {
            Some(user) if ok && !user.disabled => {
                self.store.clear_login_failures(&account_key).await?;
                self.audit(AuditEvent {
                    at: now,
                    kind: String::from("login_succeeded"),
                    actor: Some(user.sub.clone()),
                    source: source.map(str::to_owned),
                    detail: serde_json::json!({}),
                });
                Ok(LoginOutcome::Success(user))
            }
            user => {
                // The account failure was counted before the check.
                if let Some(key) = &address_key {
                    self.store
                        .record_login_failure(key, now, FAILURE_WINDOW)
                        .await?;
                }
                self.audit(AuditEvent {
                    at: now,
                    kind: String::from("login_failed"),
                    actor: user.map(|u| u.sub),
                    source: source.map(str::to_owned),
                    detail: serde_json::json!({}),
                });
                Ok(LoginOutcome::Failed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        assert_eq!(delay(4, 5, 60), 0);
        assert_eq!(delay(5, 5, 60), 1);
        assert_eq!(delay(8, 5, 60), 8);
        assert_eq!(delay(50, 5, 60), 60);
        assert_eq!(delay(u32::MAX, 20, 900), 900);
    }

    #[test]
    fn usernames_and_emails_are_checked() {
        assert!(validate_username("alice.smith").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("<script>").is_err());
        assert!(validate_email("a@example.com").is_ok());
        assert!(validate_email("a@localhost").is_err());
        assert!(validate_email("a b@example.com").is_err());
    }
}
