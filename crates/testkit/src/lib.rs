//! Helpers for tests that use the real servers. They panic with a message saying how to
//! start a missing server: a real-server test fails, it never skips.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod accounts;
pub mod bench;
pub mod fuzz;
pub mod http;
pub mod mesh;
mod pki;
mod proxy;
mod relay;
mod server;
pub mod status;

pub use pki::TestPki;
pub use proxy::TcpProxy;
pub use relay::Relay;
pub use server::ServerProcess;

use sqlx::Connection;

/// The PostgreSQL URL tests create their databases through.
pub fn postgres_admin_url() -> String {
    std::env::var("MANDI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The MongoDB-compatible server tests use (`make up` starts one).
pub fn mongo_url() -> String {
    std::env::var("MANDI_TEST_MONGO_URL").unwrap_or_else(|_| {
        "mongodb://127.0.0.1:27017/?directConnection=true&serverMonitoringMode=poll".into()
    })
}

/// The Redis URL tests use.
pub fn redis_url() -> String {
    std::env::var("MANDI_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Creates an empty database `mandi_test_<uuid>` and returns its URL.
pub async fn fresh_database() -> String {
    let admin = postgres_admin_url();
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable at {admin} ({e}); start it with `make up`")
        });
    let name = format!("mandi_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// Checks that Redis answers, and returns its URL and a key prefix unique to this test.
pub async fn redis_with_prefix() -> (String, String) {
    let url = redis_url();
    let client = redis::Client::open(url.as_str()).expect("valid Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!("Redis is not reachable at {url} ({e}); start it with `make up`")
        });
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} does not answer PING: {e}"));
    assert_eq!(pong, "PONG");
    (
        url,
        format!("mandi:test:{}:", uuid::Uuid::now_v7().simple()),
    )
}
