//! The storage conformance suite: every case is written once against `Arc<dyn Store>` and run
//! on a fresh SQLite database (always) and a fresh PostgreSQL database (when
//! `WARDEN_TEST_POSTGRES_URL` names a server, e.g. `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Each test gets its own database, so tests run in parallel and in any order:
//! - SQLite: `warden.db` in a fresh temporary directory, removed afterwards.
//! - PostgreSQL: a database `warden_t_<random>` on the same server, created by the store's own
//!   `connect` (which is thereby tested on every run) and dropped afterwards.
//!
//! Modules: [`harness`] (databases), [`fixtures`] (records), then one module per area of the
//! trait. Cases take one store, two stores on the same database (two "processes"), or the
//! database itself when they are about connecting and migrating.

// The cases are plain async functions called from the generated tests, so clippy's
// allow-*-in-tests settings do not reach them; failing loudly is what a test should do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;
mod harness;

mod connect;
mod keys;
mod misc;
mod people;
mod registry;
mod replay;
mod tokens;

/// Generates one `#[tokio::test]` per case for a backend.
macro_rules! suite {
    (
        backend: $backend:expr,
        store: [$($store_mod:ident :: $store_case:ident),* $(,)?],
        instances: [$($inst_mod:ident :: $inst_case:ident),* $(,)?],
        database: [$($db_mod:ident :: $db_case:ident),* $(,)?] $(,)?
    ) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $store_case() {
                crate::harness::with_db($backend, |db| async move {
                    crate::$store_mod::$store_case(db.open().await).await
                })
                .await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $inst_case() {
                crate::harness::with_db($backend, |db| async move {
                    let first = db.open().await;
                    let second = db.open().await;
                    crate::$inst_mod::$inst_case(first, second).await
                })
                .await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $db_case() {
                crate::harness::with_db($backend, crate::$db_mod::$db_case).await;
            }
        )*
    };
}

/// Every case, for one backend.
macro_rules! all_cases {
    ($backend:expr) => {
        suite! {
            backend: $backend,
            store: [
                registry::fresh_database_answers,
                registry::api_crud,
                registry::api_conflict_and_misses_leave_version_alone,
                registry::client_crud_round_trips_every_field,
                registry::client_conflict_and_misses_leave_version_alone,
                registry::trusted_issuer_crud_round_trips_every_field,
                registry::trusted_issuer_conflict_and_misses_leave_version_alone,
                keys::key_insert_and_list,
                keys::key_rotation_is_compare_and_set,
                keys::first_activation_without_previous,
                keys::concurrent_rotations_promote_one_key,
                keys::remove_expired_keys,
                replay::assertion_jti_replay,
                replay::assertion_jti_reuse_after_expiry,
                replay::concurrent_assertion_jti_one_winner,
                replay::revoked_jtis,
                tokens::opaque_token_round_trip,
                tokens::opaque_token_revocation,
                tokens::reusable_initial_access_token,
                tokens::single_use_initial_access_token,
                tokens::concurrent_single_use_one_winner,
                misc::audit_append_and_list,
                misc::audit_retention_prunes_old_events,
                misc::settings_keep_first_value,
                misc::prune_removes_only_expired_rows,
                people::user_insert_conflicts_and_lookups,
                people::user_update_and_list_order,
                people::delete_user_cascades,
                people::sessions_expire_and_track_clients,
                people::delete_user_sessions_returns_them,
                people::concurrent_session_clients_all_kept,
                people::consent_is_upserted,
                people::code_is_redeemed_once,
                people::concurrent_code_redemption_one_fresh,
                people::refresh_token_is_used_once,
                people::refresh_tokens_are_revoked_by_family_and_user,
                people::concurrent_refresh_use_one_fresh,
                people::pending_request_is_taken_once,
                people::concurrent_pending_take_one_winner,
                people::login_failures_count_within_a_window,
                people::prune_removes_expired_people_rows,
            ],
            instances: [
                replay::instances_share_the_replay_set,
                tokens::instances_share_single_use_tokens,
                keys::instances_rotate_once,
                registry::instances_see_registry_changes,
                people::instances_add_session_clients,
                people::instances_redeem_a_code_once,
                people::instances_use_a_refresh_token_once,
                people::instances_take_a_pending_request_once,
                people::instances_count_every_login_failure,
            ],
            database: [
                connect::reconnect_keeps_data_and_migrations_are_idempotent,
                connect::concurrent_first_connects_migrate_once,
                connect::connect_creates_missing_database,
            ],
        }
    };
}

mod sqlite {
    all_cases!(crate::harness::Backend::Sqlite);

    #[tokio::test]
    async fn in_memory_database() {
        crate::connect::in_memory_sqlite().await;
    }

    #[tokio::test]
    async fn file_is_in_wal_mode() {
        crate::harness::with_db(
            crate::harness::Backend::Sqlite,
            crate::connect::sqlite_uses_wal,
        )
        .await;
    }
}

mod postgres {
    all_cases!(crate::harness::Backend::Postgres);
}
