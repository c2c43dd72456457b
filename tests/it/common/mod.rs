//! Shared test harness: an S3 to run against (embedded, or a third-party server named by an
//! environment variable), fixture upload, a store with the fixture dataset group loaded, and
//! an independent oracle (the `csv` crate) for what a job must leave behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use futures::stream::{self, StreamExt, TryStreamExt};
use personalize_local::deletion::{self, DeletionOptions, JobReport, Progress};
use personalize_local::import::import_dataset;
use personalize_local::jobs::{Job, JobKind, JobSpec, JobStatus};
use personalize_local::source::embedded::{client_for, EmbeddedS3, Faults};
use personalize_local::source::s3::S3Source;
use personalize_local::source::{DynObjectSource, S3Location};
use personalize_local::store::postgres::{test_database, PostgresStore};
use personalize_local::store::sqlite::SqliteStore;
use personalize_local::store::ArnScope;
use personalize_local::store::{DatasetGroup, DatasetType, DynDatasetStore};

/// Where the S3 side of a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// s3s-fs in this process, on a random port.
    Embedded,
    /// moto_server, at `PERSONALIZE_LOCAL_TEST_MOTO_ENDPOINT`.
    Moto,
    /// LocalStack, at `PERSONALIZE_LOCAL_TEST_LOCALSTACK_ENDPOINT`.
    LocalStack,
    /// SeaweedFS (`weed mini`), at `PERSONALIZE_LOCAL_TEST_SEAWEEDFS_ENDPOINT`.
    SeaweedFs,
}

impl Backend {
    fn env_var(self) -> Option<&'static str> {
        match self {
            Backend::Embedded => None,
            Backend::Moto => Some("PERSONALIZE_LOCAL_TEST_MOTO_ENDPOINT"),
            Backend::LocalStack => Some("PERSONALIZE_LOCAL_TEST_LOCALSTACK_ENDPOINT"),
            Backend::SeaweedFs => Some("PERSONALIZE_LOCAL_TEST_SEAWEEDFS_ENDPOINT"),
        }
    }

    /// Third-party servers answer `NoSuchBucket` for a missing bucket; s3s-fs says `NoSuchKey`.
    pub fn reports_no_such_bucket(self) -> bool {
        self != Backend::Embedded
    }
}

/// The fixture trees uploaded by the tests.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/s3/tests")
}

/// The store an [`Env`] over a [`TestS3`] keeps its datasets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// SQLite in a temp dir.
    #[default]
    Sqlite,
    /// A fresh database on the server `PERSONALIZE_LOCAL_TEST_POSTGRES_URL` names.
    Postgres,
}

/// Whether a test whose server is not named fails instead of skipping: the one rule, here
/// and in the crate's own PostgreSQL tests, is `PERSONALIZE_LOCAL_TEST_REQUIRE_EXTERNAL=1`
/// (any other value, or none, skips).
pub fn external_required() -> bool {
    std::env::var("PERSONALIZE_LOCAL_TEST_REQUIRE_EXTERNAL").as_deref() == Ok("1")
}

/// The PostgreSQL server the tests may use; `None` (the test is skipped) when none is named,
/// unless [`external_required`], which makes it a failure.
pub fn postgres_url() -> Option<String> {
    match std::env::var("PERSONALIZE_LOCAL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if external_required() {
                panic!("PERSONALIZE_LOCAL_TEST_POSTGRES_URL is not set, but PERSONALIZE_LOCAL_TEST_REQUIRE_EXTERNAL=1");
            }
            eprintln!(
                "skipped: set PERSONALIZE_LOCAL_TEST_POSTGRES_URL to run this test on PostgreSQL"
            );
            None
        }
    }
}

/// A URL of a fresh database on the test server.
pub async fn fresh_postgres(server: &str) -> String {
    test_database(server).await.unwrap()
}

/// One test's S3: a fresh bucket on the chosen backend.
pub struct TestS3 {
    pub backend: Backend,
    /// Where an [`Env`] over it keeps its datasets.
    pub store: StoreChoice,
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub endpoint: String,
    pub embedded: Option<EmbeddedS3>,
    _root: Option<tempfile::TempDir>,
}

static BUCKETS: AtomicU64 = AtomicU64::new(0);

impl TestS3 {
    /// Starts (or connects to) the backend and creates a fresh bucket. Returns `None` when
    /// a third-party backend is not configured, unless [`external_required`], in which case a
    /// missing endpoint fails the test.
    pub async fn start(backend: Backend, tag: &str) -> Option<TestS3> {
        TestS3::start_with_faults(backend, tag, Faults::default()).await
    }

    pub async fn start_with_faults(backend: Backend, tag: &str, faults: Faults) -> Option<TestS3> {
        let (client, endpoint, embedded, root) = match backend.env_var() {
            None => {
                let root = tempfile::tempdir().unwrap();
                let s3 = EmbeddedS3::start_with_faults(root.path(), faults)
                    .await
                    .unwrap();
                (s3.client(), s3.endpoint(), Some(s3), Some(root))
            }
            Some(var) => match std::env::var(var) {
                Ok(endpoint) if !endpoint.is_empty() => {
                    (client_for(&endpoint), endpoint, None, None)
                }
                _ => {
                    if external_required() {
                        panic!("{var} is not set, but PERSONALIZE_LOCAL_TEST_REQUIRE_EXTERNAL=1: start the server and name it");
                    }
                    eprintln!("skipped: set {var} to run this test against {backend:?}");
                    return None;
                }
            },
        };
        let n = BUCKETS.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(30)
            .collect();
        let bucket = format!("pl-{tag}-{}-{n}-{nanos:x}", std::process::id());
        client.create_bucket().bucket(&bucket).send().await.unwrap();
        Some(TestS3 {
            backend,
            store: StoreChoice::Sqlite,
            client,
            bucket,
            endpoint,
            embedded,
            _root: root,
        })
    }

    pub async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    /// Uploads every file below `fixtures/s3/tests/{tree}` under the key prefix `{tree}/`.
    pub async fn upload_tree(&self, tree: &str) {
        let base = &fixtures();
        let mut files = Vec::new();
        collect_files(&base.join(tree), &mut files);
        assert!(!files.is_empty(), "fixture tree {tree} is empty");
        stream::iter(files)
            .map(|path| async move {
                let key = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                self.put(&key, std::fs::read(&path).unwrap()).await;
                Ok::<_, ()>(())
            })
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
    }

    /// `s3://{bucket}/{key}`.
    pub fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    pub fn source(&self) -> DynObjectSource {
        Arc::new(S3Source::new(self.client.clone()))
    }
}

/// Every file below `dir`, in every sub-folder.
/// A fresh temp dir holding a copy of the files of `dir` (a data dir: no sub-folders).
pub fn copy_of(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, copy.path().join(f.file_name().unwrap())).unwrap();
    }
    copy
}

pub fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The fixture datasets, parsed by the `csv` crate: the oracle the store is checked against.
pub fn fixture_rows(file: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(fixtures().join("datasets").join(file))
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// The IDs of the deletion files (`.csv`, in any case) under `fixtures/s3/tests/{tree}`,
/// parsed by the `csv` crate.
pub fn fixture_ids(tree: &str) -> HashSet<String> {
    let mut files = Vec::new();
    collect_files(&fixtures().join(tree), &mut files);
    files.retain(|f| f.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")));
    let mut ids = HashSet::new();
    for f in files {
        let mut bytes = std::fs::read(&f).unwrap();
        if bytes.starts_with(b"\xef\xbb\xbf") {
            bytes.drain(..3);
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(&bytes[..]);
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            ["USER_ID"],
            "{f:?}"
        );
        for r in reader.records() {
            ids.insert(r.unwrap()[0].to_owned());
        }
    }
    ids
}

/// A store (SQLite in a temp dir, or a fresh PostgreSQL database, as the S3's
/// [`StoreChoice`] says) holding the fixture dataset group `tests` (imported from S3).
pub struct Env {
    pub s3: TestS3,
    pub store: DynDatasetStore,
    pub group_arn: String,
    _dir: tempfile::TempDir,
}

pub const DATASETS: [(DatasetType, &str); 4] = [
    (DatasetType::Users, "users.csv"),
    (DatasetType::Interactions, "interactions.csv"),
    (DatasetType::ActionInteractions, "action_interactions.csv"),
    (DatasetType::Items, "items.csv"),
];

impl Env {
    pub async fn new(s3: TestS3) -> Env {
        s3.upload_tree("datasets").await;
        let dir = tempfile::tempdir().unwrap();
        let store: DynDatasetStore = match s3.store {
            StoreChoice::Sqlite => Arc::new(SqliteStore::open_dir(dir.path()).unwrap()),
            StoreChoice::Postgres => {
                let server = postgres_url().expect("a PostgreSQL test without a server");
                let url = fresh_postgres(&server).await;
                Arc::new(PostgresStore::connect(&url).await.unwrap())
            }
        };
        let mut env = Env {
            s3,
            store,
            group_arn: String::new(),
            _dir: dir,
        };
        env.group_arn = env.second_group("tests").await;
        env
    }

    /// Creates dataset group `name` and imports every fixture dataset into it from S3.
    pub async fn second_group(&self, name: &str) -> String {
        let group_arn = ArnScope::default().dataset_group_arn(name);
        self.store
            .create_dataset_group(
                &DatasetGroup {
                    name: name.into(),
                    dataset_group_arn: group_arn.clone(),
                    creation_date_time: 0.0,
                    ..DatasetGroup::default()
                },
                &[],
            )
            .await
            .unwrap();
        for (t, file) in DATASETS {
            let location =
                S3Location::parse(&self.s3.location(&format!("datasets/{file}"))).unwrap();
            let report = import_dataset(
                self.store.as_ref(),
                self.s3.source(),
                &group_arn,
                t,
                &location,
                &personalize_local::import::ImportOptions::default(),
            )
            .await
            .unwrap();
            assert_eq!(report.records, fixture_rows(file).len() as u64, "{t}");
        }
        group_arn
    }

    /// Runs a deletion job over `key` (relative to the bucket) with `opts`.
    pub async fn run(&self, job_name: &str, key: &str, opts: DeletionOptions) -> JobReport {
        self.run_at(job_name, &self.s3.location(key), opts).await
    }

    /// Runs a deletion job over the full `location` with `opts`.
    pub async fn run_at(&self, job_name: &str, location: &str, opts: DeletionOptions) -> JobReport {
        let spec = JobSpec::Deletion {
            dataset_group_arn: self.group_arn.clone(),
            data_location: location.to_owned(),
            dry_run: false,
        };
        let arn = ArnScope::default().job_arn(JobKind::Deletion, job_name);
        let job = Job::new(arn, job_name, spec);
        self.store.create_job(&job, &[]).await.unwrap();
        assert_eq!(
            self.store.job(&job.arn).await.unwrap().unwrap().status,
            JobStatus::Pending
        );
        let report = deletion::run_job(
            self.store.as_ref(),
            self.s3.source(),
            job,
            personalize_local::jobs::run::DEFAULT_LEASE,
            &opts,
            Arc::new(Progress::default()),
        )
        .await
        .unwrap();
        // What the store holds is what the report says.
        let stored = self.store.job(&report.job.arn).await.unwrap().unwrap();
        assert_eq!(stored, report.job);
        report
    }

    pub async fn records(&self, t: DatasetType) -> Vec<Vec<String>> {
        self.store.records(&self.group_arn, t).await.unwrap()
    }

    /// Asserts the datasets hold exactly the fixture rows minus the users in `gone`.
    pub async fn assert_remaining(&self, gone: &HashSet<String>) {
        for (t, file) in DATASETS {
            let all = fixture_rows(file);
            let want: Vec<Vec<String>> = if t.holds_users() {
                all.into_iter().filter(|r| !gone.contains(&r[0])).collect()
            } else {
                all
            };
            assert_eq!(self.records(t).await, want, "{t} after deleting {gone:?}");
        }
    }

    /// Records of the users in `gone`, per user-bearing dataset, from the fixtures.
    /// In [`DatasetType::ALL`] order, as a purge reports them.
    pub fn expected_deleted(&self, gone: &HashSet<String>) -> Vec<(DatasetType, u64)> {
        let mut counts: Vec<(DatasetType, u64)> = DATASETS
            .iter()
            .filter(|(t, _)| t.holds_users())
            .map(|(t, file)| {
                (
                    *t,
                    fixture_rows(file)
                        .iter()
                        .filter(|r| gone.contains(&r[0]))
                        .count() as u64,
                )
            })
            .collect();
        counts.sort();
        counts
    }

    /// Asserts a FAILED job whose reason is `reason`, and that nothing was deleted.
    pub async fn assert_failed_with(&self, report: &JobReport, reason: &str) {
        assert_eq!(report.job.status, JobStatus::Failed, "{:?}", report.job);
        assert_eq!(report.job.failure_reason.as_deref(), Some(reason));
        assert_eq!(report.job.num_deleted, None);
        assert!(report.counts.is_none());
        self.assert_remaining(&HashSet::new()).await;
    }
}

/// Generates one test per backend from one body: `s3_tests! { fn name(s3: TestS3) { ... } }`.
#[macro_export]
macro_rules! s3_tests {
    // Tests of a job against a store: also on PostgreSQL (embedded S3), when a server is named.
    (stores: $(fn $name:ident($s3:ident) $body:block)*) => {
        $crate::s3_tests!(@each postgres_too $(fn $name($s3) $body)*);
    };
    ($(fn $name:ident($s3:ident) $body:block)*) => {
        $crate::s3_tests!(@each s3_only $(fn $name($s3) $body)*);
    };
    (@variant postgres_too $name:ident) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::postgres_url().is_some() {
                    let mut s3 = $crate::common::TestS3::start($crate::common::Backend::Embedded, stringify!($name)).await.unwrap();
                    s3.store = $crate::common::StoreChoice::Postgres;
                    body(s3).await
                }
            }
    };
    (@variant s3_only $name:ident) => {};
    (@each $which:ident $(fn $name:ident($s3:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($s3: $crate::common::TestS3) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let s3 = $crate::common::TestS3::start($crate::common::Backend::Embedded, stringify!($name)).await.unwrap();
                body(s3).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn moto() {
                if let Some(s3) = $crate::common::TestS3::start($crate::common::Backend::Moto, stringify!($name)).await {
                    body(s3).await
                }
            }

            $crate::s3_tests!(@variant $which $name);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn localstack() {
                if let Some(s3) = $crate::common::TestS3::start($crate::common::Backend::LocalStack, stringify!($name)).await {
                    body(s3).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn seaweedfs() {
                if let Some(s3) = $crate::common::TestS3::start($crate::common::Backend::SeaweedFs, stringify!($name)).await {
                    body(s3).await
                }
            }
        }
    )*};
}
