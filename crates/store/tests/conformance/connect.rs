//! Connecting: creating a missing database, migrating once, reconnecting.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};
use warden_store::migrate;

use crate::fixtures::{self, NOW};
use crate::harness::{Backend, Db};

/// The versions recorded in `schema_migrations`, read directly.
async fn recorded_migrations(db: &Db) -> Vec<i64> {
    match db.backend {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::new().filename(db.path.as_ref().unwrap());
            let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
            sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<i64, _>("version"))
                .collect()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<i64, _>("version"))
                .collect()
        }
    }
}

fn known_migrations(backend: Backend) -> Vec<i64> {
    let list = match backend {
        Backend::Sqlite => migrate::SQLITE,
        Backend::Postgres => migrate::POSTGRES,
    };
    list.iter().map(|m| m.version).collect()
}

pub(crate) async fn reconnect_keeps_data_and_migrations_are_idempotent(db: Db) {
    let first = db.open().await;
    first
        .insert_api(&fixtures::api("https://api.example.com/payments"))
        .await
        .unwrap();
    first
        .init_setting("issuer", "https://a.example")
        .await
        .unwrap();
    let version = first.registry_version().await.unwrap();
    drop(first);

    for _ in 0..2 {
        let again = db.open().await;
        assert_eq!(again.registry_version().await.unwrap(), version);
        assert_eq!(again.apis().await.unwrap().len(), 1);
        assert_eq!(
            again.setting("issuer").await.unwrap().as_deref(),
            Some("https://a.example")
        );
    }
    assert_eq!(recorded_migrations(&db).await, known_migrations(db.backend));
}

/// Several processes starting on a database that does not exist yet: each creates or finds
/// it, exactly one applies each migration, and all of them work afterwards.
pub(crate) async fn concurrent_first_connects_migrate_once(db: Db) {
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.open().await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(task.await.unwrap());
    }
    for (i, store) in stores.iter().enumerate() {
        store.ping().await.unwrap();
        store
            .insert_client(&fixtures::client(&format!("svc-{i}")))
            .await
            .unwrap();
    }
    assert_eq!(stores[0].clients().await.unwrap().len(), stores.len());
    assert_eq!(recorded_migrations(&db).await, known_migrations(db.backend));
}

pub(crate) async fn connect_creates_missing_database(db: Db) {
    match db.backend {
        Backend::Sqlite => {
            let path = db.path.clone().unwrap();
            assert!(!path.exists());
            let store = db.open().await;
            assert!(path.exists());
            store.ping().await.unwrap();
        }
        Backend::Postgres => {
            let (server, name) = db.postgres.clone().unwrap();
            assert!(!crate::harness::database_exists(&server, &name).await);
            let store = db.open().await;
            assert!(crate::harness::database_exists(&server, &name).await);
            store.ping().await.unwrap();
        }
    }
}

/// `sqlite::memory:` works (reads and writes share one connection) and is private to the
/// store that opened it.
pub(crate) async fn in_memory_sqlite() {
    let store = warden_store::connect("sqlite::memory:").await.unwrap();
    store
        .insert_api(&fixtures::api("https://api.example.com/payments"))
        .await
        .unwrap();
    assert_eq!(store.apis().await.unwrap().len(), 1);
    assert!(
        store
            .record_assertion_jti("svc-a", "j", NOW + 60, NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_assertion_jti("svc-a", "j", NOW + 60, NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .use_initial_access_token("x", NOW)
            .await
            .unwrap()
            .is_none()
    );

    let other = warden_store::connect("sqlite::memory:").await.unwrap();
    assert!(other.apis().await.unwrap().is_empty());
}

/// The file is left in WAL mode, which is what lets readers run beside the writer.
pub(crate) async fn sqlite_uses_wal(db: Db) {
    let store = db.open().await;
    store.ping().await.unwrap();
    let options = SqliteConnectOptions::new().filename(db.path.as_ref().unwrap());
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
}
