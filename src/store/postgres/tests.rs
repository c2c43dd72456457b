//! The conformance suite on a real PostgreSQL server: `PERSONALIZE_LOCAL_TEST_POSTGRES_URL`
//! names one (`.ci/run` starts a private cluster); each test gets a database of its own.

use super::*;

/// The server to test against, if any; with `PERSONALIZE_LOCAL_TEST_REQUIRE_EXTERNAL=1` (the
/// rule of every test of the crate: any other value, or none, skips) a missing one fails
/// the test instead of skipping it.
fn server_url() -> Option<String> {
    match std::env::var("PERSONALIZE_LOCAL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("PERSONALIZE_LOCAL_TEST_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
                "PERSONALIZE_LOCAL_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipped: PERSONALIZE_LOCAL_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

#[tokio::test]
async fn conformance() {
    let Some(url) = server_url() else { return };
    let db = test_database(&url).await.unwrap();
    let store = PostgresStore::connect(&db).await.unwrap();
    crate::store::conformance::run_all(&store).await;
}

/// Several processes starting at once migrate a new database once, and a second connect
/// finds it up to date.
#[tokio::test]
async fn concurrent_connects_migrate_once() {
    let Some(url) = server_url() else { return };
    let db = test_database(&url).await.unwrap();
    let connects = (0..4).map(|_| PostgresStore::connect(&db));
    for store in futures::future::join_all(connects).await {
        store.unwrap();
    }
    let store = PostgresStore::connect(&db).await.unwrap();
    let client = store.client().await.unwrap();
    let rows = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    let all: Vec<i32> = super::migrate::MIGRATIONS.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, all, "each migration once, in order");
    assert_eq!(versions, (1..=all.len() as i32).collect::<Vec<_>>());
}

/// A server that does not answer, and a database that does not exist: errors that name the
/// host and database, never the password.
#[tokio::test]
async fn a_wrong_url_names_host_and_database() {
    let err = PostgresStore::connect("postgres://u:secret@127.0.0.1:1/nowhere?connect_timeout=2")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("127.0.0.1:1/nowhere"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    let Some(url) = server_url() else { return };
    let missing = with_dbname(&url, "no_such_database_here");
    let err = PostgresStore::connect(&missing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no_such_database_here"), "{err}");
}

/// Every session is bounded: a lock waited for 30 s at most, a statement run an hour, a
/// transaction left idle ten minutes; a bound the URL's `options` sets is kept.
#[tokio::test]
async fn sessions_are_bounded_unless_the_url_says_otherwise() {
    let Some(url) = server_url() else { return };
    let db = test_database(&url).await.unwrap();
    let show = |store: PostgresStore| async move {
        let client = store.client().await.unwrap();
        let mut out = Vec::new();
        for (name, _) in SESSION_BOUNDS {
            let row = client
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .unwrap();
            out.push(row.get::<_, String>(0));
        }
        out
    };
    let store = PostgresStore::connect(&db).await.unwrap();
    assert_eq!(show(store).await, ["30s", "1h", "10min"]);
    let sep = if db.contains('?') { '&' } else { '?' };
    let own = format!("{db}{sep}options=-c%20lock_timeout%3D2s");
    let store = PostgresStore::connect(&own).await.unwrap();
    assert_eq!(show(store).await, ["2s", "1h", "10min"]);
}

/// The purge joins many IDs by one pass over the primary key and a few by a probe each, by
/// the table's row count, which the `ANALYZE` after each bulk load keeps; unknown, probes.
/// (The conformance check run here purges both ways and checks what each removed.)
#[tokio::test]
async fn the_purge_plan_follows_the_share_of_users_listed() {
    let Some(url) = server_url() else { return };
    let db = test_database(&url).await.unwrap();
    let store = PostgresStore::connect(&db).await.unwrap();
    let client = store.client().await.unwrap();
    let probes = |sql: &str| sql.contains("enable_mergejoin = off");
    let merge = |sql: &str| sql.contains("enable_nestloop = off");
    assert!(probes(purge::plan(&**client, 1_000_000).await.unwrap()));
    crate::store::conformance::purges_of_many_and_of_few_users_agree(&store).await;
    // 400 users in Users and 400 in Interactions, one row each.
    assert!(merge(purge::plan(&**client, 101).await.unwrap()));
    assert!(probes(purge::plan(&**client, 99).await.unwrap()));
}
