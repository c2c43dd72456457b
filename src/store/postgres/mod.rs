//! The shared store: PostgreSQL, for several API processes and workers on several machines.
//!
//! One database holds everything: the catalog (`dataset_groups`, `schemas`, `datasets`,
//! `tags`), the records of user-bearing datasets in `user_records`, ONE row per user with
//! the user's records packed in a `bytea` (the format of `store::packing`: a purge deletes
//! one row per user, not one per record), those of Items and Actions in `records`, one row
//! each (keys in byte order with the `C` collation in both), and the job queue (`jobs`),
//! claimed with `FOR UPDATE SKIP LOCKED`. Loads and purges stream through
//! `COPY ... FROM STDIN (FORMAT binary)`, so memory stays bounded whatever the input's size.
//! Connections come from a pool (`deadpool-postgres` over `tokio-postgres`); the URL takes
//! the libpq forms (`postgres://user:pass@host:port/db?application_name=...`, or
//! `host=... dbname=...`). TLS is not offered yet: `sslmode=require` is refused.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | connecting, the pool, errors, the [`DatasetStore`] impl |
//! | `migrate.rs` | versioned migrations under an advisory lock |
//! | `catalog.rs` | groups, schemas, datasets, tags |
//! | `records.rs` | loads through `COPY`, counts, reads and streamed scans |
//! | `lookups.rs` | reads by key (a user's records, a few items'), for the runtime API |
//! | `purge.rs` | the purge: IDs copied into a temporary table, one delete per dataset |
//! | `erase.rs` | the compaction: tables that lost records rewritten, the log cleared |
//! | `jobs.rs` | the job queue: claims, leases, the fencing check |

mod catalog;
mod erase;
mod jobs;
mod lookups;
mod migrate;
mod purge;
mod records;
mod resources;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::stream::BoxStream;
use tokio_postgres::NoTls;

use super::{
    Blob, Claim, Compacted, Dataset, DatasetAttrs, DatasetGroup, DatasetStore, DatasetType,
    EventTracker, Ingestion, JobCommit, Keyed, LoadMode, PurgeCounts, Resource, RowBatch, Schema,
    StoreError, StoreResult, Tag, Tags, UserIds,
};
use crate::jobs::model::{Job, JobKind, Lease};

/// Connections in the pool.
const POOL_SIZE: usize = 16;

/// How long a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for a connection of the pool.
const POOL_WAIT: Duration = Duration::from_secs(60);

/// Every session's bounds, unless the URL's `options` set them (`options=-c lock_timeout=5s`):
/// no statement waits for a lock more than 30 s (a purge blocked by another session's lock
/// ends its job `FAILED`, the database's error named, instead of staying `IN_PROGRESS` while
/// its heartbeat renews the lease), none runs more than an hour, and no transaction left
/// idle by a client that stopped holds its locks more than ten minutes.
const SESSION_BOUNDS: [(&str, &str); 3] = [
    ("lock_timeout", "30s"),
    ("statement_timeout", "1h"),
    ("idle_in_transaction_session_timeout", "10min"),
];

/// The URL's `options` with [`SESSION_BOUNDS`] added where it does not set them.
fn bounded_options(options: Option<&str>) -> String {
    let mut out = options.unwrap_or("").to_owned();
    for (name, value) in SESSION_BOUNDS {
        if !out.contains(name) {
            out += &format!(" -c {name}={value}");
        }
    }
    out.trim().to_owned()
}

/// True when `url` names a PostgreSQL store rather than a folder.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A dataset store in a PostgreSQL database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// `host:port/dbname`, for messages (never the password).
    name: Arc<str>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.name)
            .finish()
    }
}

type DbResult<T> = Result<T, StoreError>;

pub(super) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend {
        store: "postgres",
        source: Box::new(e),
    }
}

/// A database error in the server's own words (`tokio_postgres` says only "db error").
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DbMessage(String);

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => backend(DbMessage(format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            ))),
            None => backend(e),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        backend(e)
    }
}

/// `host:port/dbname` of a PostgreSQL URL, for messages (never the password); `None` if it
/// does not parse.
pub fn describe_url(url: &str) -> Option<String> {
    tokio_postgres::Config::from_str(url)
        .ok()
        .map(|c| describe(&c))
}

/// `host:port/dbname` of a parsed configuration.
fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

impl PostgresStore {
    /// Connects to the database `url` names, checks that it answers, and brings its schema
    /// up to date. The error names the host and database, never the password.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("invalid PostgreSQL URL: {e}")))?;
        let name: Arc<str> = describe(&config).into();
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(StoreError::Invalid(format!(
                "PostgreSQL at {name}: sslmode=require is not supported yet (no TLS)"
            )));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("personalize-local");
        }
        let options = bounded_options(config.get_options());
        config.options(&options);
        // A server that vanishes (a host down, a cable cut) is noticed by the keepalives.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(backend)?;
        let store = PostgresStore { pool, name };
        let mut client = store.pool.get().await.map_err(|e| {
            StoreError::Invalid(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                store.name
            ))
        })?;
        migrate::migrate(&mut client).await.map_err(|e| {
            StoreError::Invalid(format!("cannot migrate PostgreSQL at {}: {e}", store.name))
        })?;
        Ok(store)
    }

    /// `host:port/dbname`.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn client(&self) -> DbResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }
}

#[async_trait]
impl DatasetStore for PostgresStore {
    async fn create_dataset_group(&self, group: &DatasetGroup, tags: &[Tag]) -> StoreResult<()> {
        catalog::create_group(&mut self.client().await?, group, tags).await
    }

    async fn dataset_group(&self, arn: &str) -> StoreResult<Option<DatasetGroup>> {
        catalog::group(&**self.client().await?, arn).await
    }

    async fn list_dataset_groups(&self) -> StoreResult<Vec<DatasetGroup>> {
        catalog::groups(&**self.client().await?).await
    }

    async fn delete_dataset_group(&self, arn: &str) -> StoreResult<()> {
        catalog::delete_group(&mut self.client().await?, arn).await
    }

    async fn create_dataset(&self, dataset: &Dataset, tags: &[Tag]) -> StoreResult<()> {
        super::validate_columns(dataset.dataset_type, &dataset.columns)
            .map_err(StoreError::Invalid)?;
        catalog::create_dataset(&mut self.client().await?, dataset, tags).await
    }

    async fn datasets(&self, group_arn: &str) -> StoreResult<Vec<Dataset>> {
        catalog::datasets(&**self.client().await?, group_arn).await
    }

    async fn delete_dataset(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<()> {
        catalog::delete_dataset(&mut self.client().await?, group_arn, dataset_type).await
    }

    async fn update_dataset(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        columns: &[String],
        attrs: &DatasetAttrs,
    ) -> StoreResult<()> {
        super::validate_columns(dataset_type, columns).map_err(StoreError::Invalid)?;
        let mut client = self.client().await?;
        catalog::update_dataset(&mut client, group_arn, dataset_type, columns, attrs).await
    }

    async fn create_schema(&self, schema: &Schema) -> StoreResult<()> {
        catalog::create_schema(&**self.client().await?, schema).await
    }

    async fn schema(&self, arn: &str) -> StoreResult<Option<Schema>> {
        catalog::schema(&**self.client().await?, arn).await
    }

    async fn list_schemas(&self) -> StoreResult<Vec<Schema>> {
        catalog::schemas(&**self.client().await?).await
    }

    async fn delete_schema(&self, arn: &str) -> StoreResult<()> {
        catalog::delete_schema(&mut self.client().await?, arn).await
    }

    async fn tags(&self, arn: &str) -> StoreResult<Tags> {
        catalog::tags(&**self.client().await?, arn).await
    }

    async fn set_tags(&self, arn: &str, tags: &Tags) -> StoreResult<()> {
        catalog::set_tags(&mut self.client().await?, arn, tags).await
    }

    async fn create_event_tracker(&self, tracker: &EventTracker, tags: &[Tag]) -> StoreResult<()> {
        catalog::create_event_tracker(&mut self.client().await?, tracker, tags).await
    }

    async fn event_trackers(&self) -> StoreResult<Vec<EventTracker>> {
        catalog::event_trackers(&**self.client().await?).await
    }

    async fn delete_event_tracker(&self, arn: &str) -> StoreResult<()> {
        catalog::delete_event_tracker(&mut self.client().await?, arn).await
    }

    async fn load_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        mode: LoadMode,
        batches: BoxStream<'static, StoreResult<RowBatch>>,
        commit: Option<JobCommit>,
    ) -> StoreResult<u64> {
        let mut client = self.client().await?;
        records::load(&mut client, group_arn, dataset_type, mode, batches, commit).await
    }

    async fn count_records(&self, group_arn: &str, dataset_type: DatasetType) -> StoreResult<u64> {
        records::count(&**self.client().await?, group_arn, dataset_type).await
    }

    async fn records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
    ) -> StoreResult<Vec<Vec<String>>> {
        records::all(&**self.client().await?, group_arn, dataset_type).await
    }

    async fn records_of(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        keys: &[String],
    ) -> StoreResult<Keyed> {
        lookups::of_keys(&**self.client().await?, group_arn, dataset_type, keys).await
    }

    fn scan_records(
        &self,
        group_arn: &str,
        dataset_type: DatasetType,
        batch_rows: usize,
        which: Ingestion,
    ) -> BoxStream<'static, StoreResult<RowBatch>> {
        records::scan(
            self.pool.clone(),
            group_arn,
            dataset_type,
            batch_rows,
            which,
        )
    }

    async fn purge_users(
        &self,
        group_arn: &str,
        ids: Arc<UserIds>,
        commit: JobCommit,
    ) -> StoreResult<(PurgeCounts, Job)> {
        purge::purge(&mut self.client().await?, group_arn, &ids, commit).await
    }

    async fn create_resource(&self, resource: &Resource, tags: &[Tag]) -> StoreResult<()> {
        resources::create(&mut self.client().await?, resource, tags).await
    }

    async fn resource(&self, arn: &str) -> StoreResult<Option<Resource>> {
        resources::get(&**self.client().await?, arn).await
    }

    async fn list_resources(&self, kind: &str, parent: Option<&str>) -> StoreResult<Vec<Resource>> {
        resources::list(&**self.client().await?, kind, parent).await
    }

    async fn write_resources(
        &self,
        resources: &[Resource],
        blobs: &[Blob],
        commit: Option<JobCommit>,
    ) -> StoreResult<()> {
        resources::write(&mut self.client().await?, resources, blobs, commit.as_ref()).await
    }

    async fn delete_resource(&self, arn: &str) -> StoreResult<()> {
        resources::delete(&mut self.client().await?, arn).await
    }

    async fn blob(&self, arn: &str) -> StoreResult<Option<bytes::Bytes>> {
        resources::blob(&**self.client().await?, arn).await
    }

    async fn create_job(&self, job: &Job, tags: &[Tag]) -> StoreResult<()> {
        jobs::create(&mut self.client().await?, job, tags).await
    }

    async fn job(&self, arn: &str) -> StoreResult<Option<Job>> {
        jobs::get(&**self.client().await?, arn).await
    }

    async fn list_jobs(&self, kind: JobKind, target_arn: Option<&str>) -> StoreResult<Vec<Job>> {
        jobs::list(&**self.client().await?, kind, target_arn).await
    }

    async fn update_job(&self, job: &Job) -> StoreResult<()> {
        jobs::update(&**self.client().await?, job).await
    }

    async fn claim(
        &self,
        which: Claim<'_>,
        worker: &str,
        lease_for: Duration,
    ) -> StoreResult<Option<(Job, Lease)>> {
        jobs::claim(&**self.client().await?, which, worker, lease_for).await
    }

    async fn renew(&self, lease: &Lease, lease_for: Duration) -> StoreResult<Lease> {
        jobs::renew(&**self.client().await?, lease, lease_for).await
    }

    async fn finish(&self, job: &Job, lease: &Lease) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        jobs::check_held(&*tx, lease).await?;
        jobs::write_final(&*tx, job, lease).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(
            "TRUNCATE event_trackers, put_ranges, records, user_records, datasets, dataset_groups, schemas, tags, jobs, resources, blobs RESTART IDENTITY",
        )
        .await?;
        // The truncated files go at the next checkpoint; the log still holds the rows.
        erase::note(&*tx, erase::LOG_ONLY, 0, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn compact(&self) -> StoreResult<Compacted> {
        erase::compact(&mut self.client().await?).await
    }
}

/// `url` with its database name replaced by `db`.
#[doc(hidden)]
pub fn with_dbname(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// For tests: creates a fresh, empty database on the server `url` names and returns the URL
/// of it. The databases are left for the throw-away test cluster to drop.
#[doc(hidden)]
pub async fn test_database(url: &str) -> StoreResult<String> {
    let config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("invalid PostgreSQL URL: {e}")))?;
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    let name = format!("pl_test_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(with_dbname(url, &name))
}
