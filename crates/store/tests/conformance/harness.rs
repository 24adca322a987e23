//! Fresh databases for each test, and their cleanup.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use warden_core::store::Store;

/// Environment variable naming a PostgreSQL server (any database on it) for the suite.
pub(crate) const POSTGRES_URL_VAR: &str = "WARDEN_TEST_POSTGRES_URL";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A test's database: it does not exist until the first `connect`.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) backend: Backend,
    pub(crate) url: String,
    /// SQLite: the database file.
    pub(crate) path: Option<std::path::PathBuf>,
    /// PostgreSQL: the server URL from the environment and this test's database name.
    pub(crate) postgres: Option<(String, String)>,
}

impl Db {
    /// A new store on this database (another "process", as far as the database can tell).
    pub(crate) async fn open(&self) -> Arc<dyn Store> {
        warden_store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to the {:?} test database: {e}", self.backend))
    }
}

/// Runs `case` on a fresh database of `backend` and removes the database afterwards, even when
/// the case panics. PostgreSQL tests pass without running when no server is configured.
pub(crate) async fn with_db<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().join("warden.db");
            let db = Db {
                backend,
                // An absolute path gives the `sqlite:///abs/path.db` form.
                url: format!("sqlite://{}", path.display()),
                path: Some(path),
                postgres: None,
            };
            let outcome = tokio::spawn(case(db)).await;
            drop(dir);
            rethrow(outcome);
        }
        Backend::Postgres => {
            let Ok(server) = std::env::var(POSTGRES_URL_VAR) else {
                eprintln!("{POSTGRES_URL_VAR} is not set; skipping the PostgreSQL run");
                return;
            };
            let name = unique_database_name();
            let db = Db {
                backend,
                url: url_with_database(&server, &name),
                path: None,
                postgres: Some((server.clone(), name.clone())),
            };
            let outcome = tokio::spawn(case(db)).await;
            drop_database(&server, &name).await;
            rethrow(outcome);
        }
    }
}

fn rethrow(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// `warden_t_<pid>_<counter>_<random>`: unique across parallel tests and runs.
fn unique_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().build_hasher().finish();
    format!(
        "warden_t_{}_{}_{random:016x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `server` with its path replaced by `/name`.
pub(crate) fn url_with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("WARDEN_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A connection to the database the environment URL names (not the test's database).
pub(crate) async fn admin_connection(server: &str) -> PgConnection {
    let options = PgConnectOptions::from_str(server).expect("WARDEN_TEST_POSTGRES_URL parses");
    PgConnection::connect_with(&options)
        .await
        .expect("connect to WARDEN_TEST_POSTGRES_URL")
}

/// Whether a database exists on the server.
pub(crate) async fn database_exists(server: &str, name: &str) -> bool {
    let mut conn = admin_connection(server).await;
    let row = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await
        .expect("query pg_database");
    row.is_some()
}

/// Best-effort removal of a test database; `FORCE` ends the pools' leftover connections.
async fn drop_database(server: &str, name: &str) {
    let mut conn = admin_connection(server).await;
    let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    if let Err(e) = sqlx::raw_sql(&statement).execute(&mut conn).await {
        eprintln!("could not drop test database {name}: {e}");
    }
}
