//! Versioned migrations, run when a store connects (and by `personalize-local migrate`):
//! under a session advisory lock, so several processes starting at once apply each one once;
//! each in its own transaction, recorded in `schema_migrations`. Applied migrations are
//! never edited.

use super::DbResult;

/// The advisory lock's key (any constant that other applications are unlikely to use).
const LOCK_KEY: i64 = 0x7065_7273_6f6e_616c; // "personal"

/// `(version, SQL)`, in order.
pub(super) const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        r#"
CREATE TABLE dataset_groups (
    arn         TEXT PRIMARY KEY,
    seq         BIGSERIAL NOT NULL,
    name        TEXT NOT NULL,
    created     DOUBLE PRECISION NOT NULL,
    role_arn    TEXT,
    kms_key_arn TEXT,
    domain      TEXT
);
CREATE TABLE schemas (
    arn     TEXT PRIMARY KEY,
    seq     BIGSERIAL NOT NULL,
    name    TEXT NOT NULL,
    body    TEXT NOT NULL,
    domain  TEXT,
    created DOUBLE PRECISION NOT NULL
);
CREATE TABLE datasets (
    id           BIGSERIAL PRIMARY KEY,
    group_arn    TEXT NOT NULL REFERENCES dataset_groups (arn),
    dataset_type TEXT NOT NULL,
    columns      TEXT[] NOT NULL,
    name         TEXT NOT NULL,
    schema_arn   TEXT,
    created      DOUBLE PRECISION NOT NULL,
    next_seq     BIGINT NOT NULL DEFAULT 0,
    UNIQUE (group_arn, dataset_type)
);
CREATE TABLE records (
    dataset_id BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    vals       TEXT[] NOT NULL,
    PRIMARY KEY (dataset_id, seq)
);
CREATE INDEX records_by_key ON records (dataset_id, key, seq);
CREATE TABLE user_records (
    dataset_id BIGINT NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    n          INTEGER NOT NULL,
    rows       BYTEA NOT NULL,
    PRIMARY KEY (dataset_id, key)
);
ALTER TABLE user_records ALTER COLUMN rows SET STORAGE EXTERNAL;
CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    seq   BIGSERIAL NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
);
CREATE TABLE jobs (
    seq            BIGSERIAL PRIMARY KEY,
    arn            TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    target_arn     TEXT NOT NULL,
    spec           TEXT NOT NULL,
    role_arn       TEXT,
    status         TEXT NOT NULL,
    num_deleted    BIGINT,
    failure_reason TEXT,
    created        DOUBLE PRECISION NOT NULL,
    updated        DOUBLE PRECISION NOT NULL,
    lease_owner    TEXT,
    lease_token    BIGINT NOT NULL DEFAULT 0,
    lease_expires  DOUBLE PRECISION
);
CREATE INDEX jobs_by_target ON jobs (kind, target_arn, seq);
CREATE INDEX jobs_by_status ON jobs (status, seq);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE event_trackers (
    seq         BIGSERIAL NOT NULL,
    arn         TEXT PRIMARY KEY,
    tracking_id TEXT NOT NULL UNIQUE,
    group_arn   TEXT NOT NULL UNIQUE REFERENCES dataset_groups (arn),
    name        TEXT NOT NULL,
    created     DOUBLE PRECISION NOT NULL
);
ALTER TABLE datasets ADD COLUMN tracking_id TEXT UNIQUE;
ALTER TABLE datasets ADD COLUMN latest_update TEXT;
CREATE TABLE put_ranges (
    dataset_id BIGINT NOT NULL,
    first      BIGINT NOT NULL,
    last       BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, first)
);
"#,
    ),
    (3, super::resources::MIGRATION_3),
    (4, super::erase::MIGRATION_4),
    (5, super::purge::MIGRATION_5),
];

/// Applies every migration the database lacks.
pub(super) async fn migrate(client: &mut tokio_postgres::Client) -> DbResult<()> {
    // Another process's migration may take longer than the session's lock timeout: this
    // one waits up to ten minutes for it, then the session's own bound applies again.
    client.batch_execute("SET lock_timeout = '10min'").await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    client.batch_execute("RESET lock_timeout").await?;
    let result = apply(client).await;
    // Released in any case; a dropped connection releases it too.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    result?;
    unlocked?;
    Ok(())
}

async fn apply(client: &mut tokio_postgres::Client) -> DbResult<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    let current: i32 = row.get(0);
    let newest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > newest {
        return Err(crate::store::StoreError::Invalid(format!(
            "the database was written by a newer personalize-local (schema {current}, this one knows {newest})"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, "migrated the PostgreSQL store");
    }
    Ok(())
}
