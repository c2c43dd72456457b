//! The Personalize API through the real `aws-sdk-personalize` client, against the server on
//! a random port.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::types::DataSource;
use aws_sdk_personalize::Client;
use personalize_local::api::{ApiConfig, AppState};
use personalize_local::import::import_dataset;
use personalize_local::source::S3Location;
use personalize_local::store::sqlite::SqliteStore;
use personalize_local::store::{DatasetType, DynDatasetStore};
use tokio::net::TcpListener;

use crate::common::{fixture_ids, fixture_rows, Backend, TestS3};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/PersonalizeRole";

pub struct Server {
    pub client: Client,
    pub endpoint: String,
    pub store: DynDatasetStore,
    pub s3: TestS3,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn client(endpoint: &str) -> Client {
    let conf = aws_sdk_personalize::config::Builder::new()
        .behavior_version(aws_sdk_personalize::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_personalize::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_personalize::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    Client::from_conf(conf)
}

/// Starts the API (with the job worker unless `worker` is false) over a fresh SQLite store
/// and an embedded S3.
pub async fn start(transition: Duration, worker: bool) -> Server {
    let config = ApiConfig {
        transition,
        ..ApiConfig::default()
    };
    start_with(config, worker).await
}

/// [`start`] with any configuration.
pub async fn start_with(config: ApiConfig, worker: bool) -> Server {
    let worker = worker.then(personalize_local::worker::WorkerConfig::default);
    start_with_worker(config, worker).await
}

/// [`start_with`], the worker (if any) configured as given.
pub async fn start_with_worker(
    config: ApiConfig,
    worker: Option<personalize_local::worker::WorkerConfig>,
) -> Server {
    let s3 = TestS3::start(Backend::Embedded, "api").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: DynDatasetStore = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
    let state = AppState::new(store.clone(), s3.source(), config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    if worker.is_some() {
        tokio::spawn(personalize_local::server::run(
            listener, state, worker, shutdown,
        ));
    } else {
        let app = personalize_local::api::router(state);
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        });
    }
    Server {
        client: client(&endpoint),
        endpoint,
        store,
        s3,
        stop: Some(stop),
        _dir: dir,
    }
}

pub async fn create_active_group(server: &Server, name: &str) -> String {
    let arn = server
        .client
        .create_dataset_group()
        .name(name)
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    wait_group_status(server, &arn, "ACTIVE").await;
    arn
}

/// An ACTIVE group `name` with a Users dataset (through the API) holding the fixture users
/// (through the library's import), and the fixture trees `datasets` and `deletion-nested` in
/// S3; the group's ARN.
pub async fn group_with_users(server: &Server, name: &str) -> String {
    let group = create_active_group(server, name).await;
    crate::api_resources::create_dataset(&server.client, &group, "Users", "users").await;
    server.s3.upload_tree("datasets").await;
    server.s3.upload_tree("deletion-nested").await;
    let location = S3Location::parse(&server.s3.location("datasets/users.csv")).unwrap();
    import_dataset(
        server.store.as_ref(),
        server.s3.source(),
        &group,
        DatasetType::Users,
        &location,
        &personalize_local::import::ImportOptions::default(),
    )
    .await
    .unwrap();
    group
}

pub async fn wait_group_status(server: &Server, arn: &str, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..200 {
        let g = server
            .client
            .describe_dataset_group()
            .dataset_group_arn(arn)
            .send()
            .await
            .unwrap();
        let status = g.dataset_group.unwrap().status.unwrap();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == want {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{arn} never became {want}; saw {seen:?}");
}

/// Polls a group being deleted until Describe answers ResourceNotFoundException; the
/// statuses seen before.
pub async fn wait_group_gone(server: &Server, arn: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..200 {
        match server
            .client
            .describe_dataset_group()
            .dataset_group_arn(arn)
            .send()
            .await
        {
            Ok(g) => {
                let status = g.dataset_group.unwrap().status.unwrap();
                if seen.last() != Some(&status) {
                    seen.push(status);
                }
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return seen;
            }
            Err(e) => panic!("{e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{arn} is still there; saw {seen:?}");
}

/// A data deletion job of `group` reading `location`, polled until it ends.
pub async fn deletion(
    client: &Client,
    name: &str,
    group: &str,
    location: &str,
) -> aws_sdk_personalize::types::DataDeletionJob {
    let arn = client
        .create_data_deletion_job()
        .job_name(name)
        .dataset_group_arn(group)
        .data_source(
            aws_sdk_personalize::types::DataSource::builder()
                .data_location(location)
                .build(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    wait_job(client, &arn).await
}

/// Polls a job until it is COMPLETED or FAILED.
pub async fn wait_job(client: &Client, arn: &str) -> aws_sdk_personalize::types::DataDeletionJob {
    let mut last = None;
    for _ in 0..500 {
        let job = client
            .describe_data_deletion_job()
            .data_deletion_job_arn(arn)
            .send()
            .await
            .unwrap()
            .data_deletion_job
            .unwrap();
        if matches!(job.status.as_deref(), Some("COMPLETED") | Some("FAILED")) {
            return job;
        }
        last = job.status;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {arn} did not finish; it stayed {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_group_lifecycle() {
    let server = start(Duration::from_millis(600), true).await;
    let c = &server.client;
    let out = c
        .create_dataset_group()
        .name("shop")
        .domain("ECOMMERCE".into())
        .send()
        .await
        .unwrap();
    let arn = out.dataset_group_arn.unwrap();
    assert_eq!(
        arn,
        "arn:aws:personalize:us-east-1:000000000000:dataset-group/shop"
    );
    assert_eq!(
        out.domain.map(|d| d.as_str().to_owned()),
        Some("ECOMMERCE".into())
    );
    let seen = wait_group_status(&server, &arn, "ACTIVE").await;
    assert_eq!(seen, ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]);
    let g = c
        .describe_dataset_group()
        .dataset_group_arn(&arn)
        .send()
        .await
        .unwrap()
        .dataset_group
        .unwrap();
    assert_eq!(g.name.as_deref(), Some("shop"));
    assert!(g.creation_date_time.unwrap().secs() > 1_700_000_000);
    assert!(g.last_updated_date_time.unwrap() > g.creation_date_time.unwrap());

    let err = c
        .create_dataset_group()
        .name("shop")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_already_exists_exception(),
        "{err:?}"
    );

    for name in ["a1", "a2", "a3"] {
        c.create_dataset_group().name(name).send().await.unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_dataset_groups()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.dataset_groups().len() <= 2);
        names.extend(
            page.dataset_groups()
                .iter()
                .map(|g| g.name.clone().unwrap()),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["shop", "a1", "a2", "a3"]);

    c.delete_dataset_group()
        .dataset_group_arn(&arn)
        .send()
        .await
        .unwrap();
    // Deleting takes the transition time (600 ms here), as on AWS: DELETE PENDING, then not
    // found. Its name is not free until then, nor can it be deleted twice.
    let again = c.create_dataset_group().name("shop").send().await;
    let e = again.unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_resource_already_exists_exception(),
        "{e:?}"
    );
    let twice = c
        .delete_dataset_group()
        .dataset_group_arn(&arn)
        .send()
        .await;
    let e = twice.unwrap_err();
    assert!(
        e.as_service_error().unwrap().is_resource_in_use_exception(),
        "{e:?}"
    );
    let seen = wait_group_gone(&server, &arn).await;
    assert_eq!(seen, ["DELETE PENDING"]);
    let err = c
        .describe_dataset_group()
        .dataset_group_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{err:?}"
    );
    let err = c
        .delete_dataset_group()
        .dataset_group_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{err:?}"
    );
}

/// A group whose KMS key its role cannot use (not in `--kms-keys`) goes through its
/// creation and ends CREATE FAILED with a reason naming the key and the role, as on AWS; it
/// takes no dataset, and it can be deleted. A known key ends ACTIVE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_kms_key_is_unknown_ends_create_failed() {
    let known = "arn:aws:kms:us-east-1:000000000000:key/known";
    let unknown = "arn:aws:kms:us-east-1:000000000000:key/unknown";
    let role = "arn:aws:iam::000000000000:role/personalize";
    let config = ApiConfig {
        transition: Duration::from_millis(300),
        kms_keys: Some(vec![known.to_owned()]),
        ..ApiConfig::default()
    };
    let server = start_with(config, false).await;
    let c = &server.client;
    let create = |name: &'static str, key: &'static str| async move {
        c.create_dataset_group()
            .name(name)
            .role_arn(role)
            .kms_key_arn(key)
            .send()
            .await
            .unwrap()
            .dataset_group_arn
            .unwrap()
    };
    let good = create("good", known).await;
    assert_eq!(
        wait_group_status(&server, &good, "ACTIVE")
            .await
            .last()
            .unwrap(),
        "ACTIVE"
    );
    let bad = create("bad", unknown).await;
    let seen = wait_group_status(&server, &bad, "CREATE FAILED").await;
    assert_eq!(
        seen,
        ["CREATE PENDING", "CREATE IN_PROGRESS", "CREATE FAILED"]
    );
    let g = c
        .describe_dataset_group()
        .dataset_group_arn(&bad)
        .send()
        .await
        .unwrap();
    let why = g.dataset_group.unwrap().failure_reason.unwrap();
    assert!(why.contains(unknown) && why.contains(role), "{why}");
    let listed = c.list_dataset_groups().send().await.unwrap();
    let summary = listed
        .dataset_groups()
        .iter()
        .find(|g| g.dataset_group_arn() == Some(bad.as_str()))
        .unwrap();
    assert_eq!(summary.status(), Some("CREATE FAILED"));
    assert_eq!(summary.failure_reason(), Some(why.as_str()));
    let good_summary = listed
        .dataset_groups()
        .iter()
        .find(|g| g.dataset_group_arn() == Some(good.as_str()))
        .unwrap();
    assert_eq!(good_summary.failure_reason(), None);

    let schema = c
        .create_schema()
        .name("users")
        .schema(crate::api_resources::schema_fixture("users"))
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    let err = c
        .create_dataset()
        .name("users")
        .dataset_group_arn(&bad)
        .dataset_type("Users")
        .schema_arn(&schema)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_in_use_exception(),
        "{err:?}"
    );
    c.delete_dataset_group()
        .dataset_group_arn(&bad)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_group_validation_errors_are_typed() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let kms = "arn:aws:kms:us-east-1:123456789012:key/abc";
    let invalid = [
        (
            c.create_dataset_group(),
            "the required member 'name' is missing",
        ),
        (
            c.create_dataset_group().name("bad name!"),
            "Member must satisfy regular expression pattern",
        ),
        (
            c.create_dataset_group().name("x".repeat(64)),
            "Member must have length less than or equal to 63",
        ),
        (
            c.create_dataset_group().name("g").role_arn(ROLE),
            "only allowed together with a kmsKeyArn",
        ),
        (
            c.create_dataset_group().name("g").kms_key_arn(kms),
            "needs a roleArn",
        ),
        (
            c.create_dataset_group()
                .name("g")
                .role_arn("arn:aws:iam::1:role/x")
                .kms_key_arn(kms),
            "at 'roleArn'",
        ),
        (
            c.create_dataset_group().name("g").domain("RETAIL".into()),
            "Member must satisfy enum value set",
        ),
    ];
    for (req, message) in invalid {
        let err = req.send().await.unwrap_err();
        let service = err.as_service_error().unwrap();
        assert!(service.is_invalid_input_exception(), "{message}: {err:?}");
        assert!(
            service.message().unwrap().contains(message),
            "{:?} lacks {message}",
            service.message()
        );
    }
    let tags: Vec<_> = (0..51)
        .map(|i| {
            aws_sdk_personalize::types::Tag::builder()
                .tag_key(format!("k{i}"))
                .tag_value("v")
                .build()
                .unwrap()
        })
        .collect();
    let err = c
        .create_dataset_group()
        .name("g")
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_too_many_tags_exception(),
        "{err:?}"
    );

    let err = c
        .describe_dataset_group()
        .dataset_group_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().unwrap().is_invalid_input_exception(),
        "{err:?}"
    );
    let err = c
        .list_dataset_groups()
        .next_token("forged")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_invalid_next_token_exception(),
        "{err:?}"
    );
    // ListDatasetGroups declares no InvalidInputException: the code is still readable.
    for bad in [0, 101] {
        let err = c
            .list_dataset_groups()
            .max_results(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidInputException"), "{err:?}");
    }
    // A role with a key is fine and both are kept.
    let arn = c
        .create_dataset_group()
        .name("keyed")
        .role_arn(ROLE)
        .kms_key_arn(kms)
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let g = c
        .describe_dataset_group()
        .dataset_group_arn(arn)
        .send()
        .await
        .unwrap()
        .dataset_group
        .unwrap();
    assert_eq!(
        (g.role_arn.as_deref(), g.kms_key_arn.as_deref()),
        (Some(ROLE), Some(kms))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_job_through_the_api() {
    let server = start(Duration::from_millis(100), true).await;
    let c = &server.client;
    let group_arn = create_active_group(&server, "gdpr").await;
    // Schemas and datasets through the API; records through the library's import.
    for (t, fixture) in [("Users", "users"), ("Interactions", "interactions")] {
        crate::api_resources::create_dataset(c, &group_arn, t, fixture).await;
    }
    server.s3.upload_tree("datasets").await;
    server.s3.upload_tree("deletion-nested").await;
    server.s3.upload_tree("bad-header").await;
    for (t, file) in [
        (DatasetType::Users, "users.csv"),
        (DatasetType::Interactions, "interactions.csv"),
    ] {
        let location = S3Location::parse(&server.s3.location(&format!("datasets/{file}"))).unwrap();
        import_dataset(
            server.store.as_ref(),
            server.s3.source(),
            &group_arn,
            t,
            &location,
            &personalize_local::import::ImportOptions::default(),
        )
        .await
        .unwrap();
    }
    // A group with datasets cannot be deleted.
    let err = c
        .delete_dataset_group()
        .dataset_group_arn(&group_arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_in_use_exception(),
        "{err:?}"
    );

    let gone = fixture_ids("deletion-nested");
    let expected: usize = ["users.csv", "interactions.csv"]
        .iter()
        .map(|f| {
            fixture_rows(f)
                .iter()
                .filter(|r| gone.contains(&r[0]))
                .count()
        })
        .sum();
    let location = server.s3.location("deletion-nested/");
    let job_arn = c
        .create_data_deletion_job()
        .job_name("forget-them")
        .dataset_group_arn(&group_arn)
        .data_source(DataSource::builder().data_location(&location).build())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    assert_eq!(
        job_arn,
        "arn:aws:personalize:us-east-1:000000000000:data-deletion-job/forget-them"
    );
    let job = wait_job(&server.client, &job_arn).await;
    assert_eq!(
        job.status.as_deref(),
        Some("COMPLETED"),
        "{:?}",
        job.failure_reason
    );
    assert_eq!(job.num_deleted, Some(expected as i32));
    assert_eq!(job.role_arn.as_deref(), Some(ROLE));
    assert_eq!(
        job.data_source.unwrap().data_location.as_deref(),
        Some(location.as_str())
    );
    assert_eq!(job.failure_reason, None);
    let users = server
        .store
        .records(&group_arn, DatasetType::Users)
        .await
        .unwrap();
    assert!(users.iter().all(|r| !gone.contains(&r[0])));
    assert_eq!(
        users.len(),
        fixture_rows("users.csv")
            .iter()
            .filter(|r| !gone.contains(&r[0]))
            .count()
    );

    let err = c
        .create_data_deletion_job()
        .job_name("forget-them")
        .dataset_group_arn(&group_arn)
        .data_source(DataSource::builder().data_location(&location).build())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_already_exists_exception(),
        "{err:?}"
    );

    // A bad file: FAILED with object and line, nothing deleted.
    let before = server
        .store
        .count_records(&group_arn, DatasetType::Interactions)
        .await
        .unwrap();
    let bad_arn = c
        .create_data_deletion_job()
        .job_name("bad-input")
        .dataset_group_arn(&group_arn)
        .data_source(
            DataSource::builder()
                .data_location(server.s3.location("bad-header/"))
                .build(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    let bad = wait_job(&server.client, &bad_arn).await;
    assert_eq!(bad.status.as_deref(), Some("FAILED"));
    assert_eq!(
        bad.failure_reason.as_deref(),
        Some(
            format!(
                "{} line 1: expected the header USER_ID, found \"ID\"",
                server.s3.location("bad-header/users.csv")
            )
            .as_str()
        )
    );
    assert_eq!(bad.num_deleted, None);
    assert_eq!(
        server
            .store
            .count_records(&group_arn, DatasetType::Interactions)
            .await
            .unwrap(),
        before
    );

    // Listed newest first; summaries carry no numDeleted.
    let list = c
        .list_data_deletion_jobs()
        .dataset_group_arn(&group_arn)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = list
        .data_deletion_jobs()
        .iter()
        .map(|j| j.job_name.clone().unwrap())
        .collect();
    assert_eq!(names, ["bad-input", "forget-them"]);
    assert_eq!(
        list.data_deletion_jobs()[0].failure_reason,
        bad.failure_reason
    );
    let page = c
        .list_data_deletion_jobs()
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.data_deletion_jobs().len(), 1);
    let rest = c
        .list_data_deletion_jobs()
        .max_results(1)
        .set_next_token(page.next_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.data_deletion_jobs()[0].job_name.as_deref(),
        Some("forget-them")
    );
    assert_eq!(rest.next_token, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_job_preconditions() {
    // No worker: jobs stay PENDING, so the per-group limit can be reached.
    let server = start(Duration::from_millis(300), false).await;
    let c = &server.client;
    let create = |name: &str, group: &str| {
        c.create_data_deletion_job()
            .job_name(name)
            .dataset_group_arn(group)
            .data_source(
                DataSource::builder()
                    .data_location("s3://b/requests/")
                    .build(),
            )
            .role_arn(ROLE)
    };
    let missing = "arn:aws:personalize:us-east-1:000000000000:dataset-group/nope";
    let err = create("j0", missing).send().await.unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{err:?}"
    );

    let group = c
        .create_dataset_group()
        .name("young")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let err = create("j0", &group).send().await.unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_in_use_exception(),
        "{err:?}"
    );
    wait_group_status(&server, &group, "ACTIVE").await;
    for i in 1..=5 {
        create(&format!("j{i}"), &group).send().await.unwrap();
    }
    let err = create("j6", &group).send().await.unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_limit_exceeded_exception(),
        "{err:?}"
    );

    let invalid = [
        (create("", &group), "at 'jobName'"),
        (create("j7", &group).role_arn("not-a-role"), "at 'roleArn'"),
        (
            c.create_data_deletion_job()
                .job_name("j7")
                .dataset_group_arn(&group)
                .role_arn(ROLE),
            "'dataSource' is missing",
        ),
        (
            create("j7", &group)
                .data_source(DataSource::builder().data_location("ftp://x").build()),
            "at 'dataSource.dataLocation'",
        ),
    ];
    for (req, message) in invalid {
        let err = req.send().await.unwrap_err();
        let service = err.as_service_error().unwrap();
        assert!(service.is_invalid_input_exception(), "{message}: {err:?}");
        assert!(
            service.message().unwrap().contains(message),
            "{:?} lacks {message}",
            service.message()
        );
    }
    let err = c
        .describe_data_deletion_job()
        .data_deletion_job_arn("arn:aws:personalize:us-east-1:000000000000:data-deletion-job/none")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{err:?}"
    );
}

/// Raw HTTP, for what no SDK sends.
pub(crate) async fn raw(endpoint: &str, target: Option<&str>, body: &str) -> (u16, String, String) {
    raw_request(endpoint, "POST", "/", target, body).await
}

async fn raw_request(
    endpoint: &str,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let target = target
        .map(|t| format!("X-Amz-Target: {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n{target}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    let status = resp[9..12].parse().unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_errors_for_unknown_operations_and_bad_json() {
    let server = start(Duration::ZERO, true).await;
    let (status, head, body) = raw(
        &server.endpoint,
        Some("AmazonPersonalize.DescribeNothingAtAll"),
        "{}",
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        head.contains("x-amzn-errortype: unknownoperationexception"),
        "{head}"
    );
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "UnknownOperationException");

    let (status, head, body) = raw(
        &server.endpoint,
        Some("AmazonPersonalize.CreateDatasetGroup"),
        "{not json",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: serializationexception"),
        "{head}"
    );
    assert!(
        body.contains("\"__type\":\"SerializationException\""),
        "{body}"
    );

    // Header and body carry the same code.
    let (status, head, body) = raw(
        &server.endpoint,
        Some("AmazonPersonalize.CreateDatasetGroup"),
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: invalidinputexception"),
        "{head}"
    );
    assert!(
        head.contains("content-type: application/x-amz-json-1.1"),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "InvalidInputException");

    let (status, _, _) = raw(&server.endpoint, None, "{}").await;
    assert_eq!(status, 404);

    let huge = format!(
        "{{\"name\": \"{}\"}}",
        "x".repeat(personalize_local::api::MAX_BODY_BYTES)
    );
    let (status, head, _) = raw(
        &server.endpoint,
        Some("AmazonPersonalize.CreateDatasetGroup"),
        &huge,
    )
    .await;
    assert_eq!(status, 413);
    assert!(
        head.contains("x-amzn-errortype: requestentitytoolargeexception"),
        "{head}"
    );

    // A body far over the limit is read to its end first: the client finishes sending (no
    // broken pipe) and reads its 413, and the connection closes after it.
    let far = "x".repeat(16 * personalize_local::api::MAX_BODY_BYTES);
    let (status, head, _) = raw(
        &server.endpoint,
        Some("AmazonPersonalize.CreateDatasetGroup"),
        &far,
    )
    .await;
    assert_eq!(status, 413);
    assert!(head.contains("connection: close"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arns_take_the_region_of_the_request_signature() {
    let server = start(Duration::ZERO, true).await;
    let conf = server
        .client
        .config()
        .to_builder()
        .region(aws_sdk_personalize::config::Region::new("eu-west-1"))
        .build();
    let eu = Client::from_conf(conf);
    let arn = eu
        .create_dataset_group()
        .name("eu")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:personalize:eu-west-1:000000000000:dataset-group/eu"
    );
    // Listings are per region: us-east-1 does not see it.
    assert!(server
        .client
        .list_dataset_groups()
        .send()
        .await
        .unwrap()
        .dataset_groups()
        .is_empty());
    assert_eq!(
        eu.list_dataset_groups()
            .send()
            .await
            .unwrap()
            .dataset_groups()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reset() {
    let server = start(Duration::ZERO, true).await;
    let (status, _, body) = raw_request(&server.endpoint, "GET", "/health", None, "").await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));

    let arn = create_active_group(&server, "before-reset").await;
    let (status, _, _) = raw_request(
        &server.endpoint,
        "POST",
        personalize_local::api::RESET_PATH,
        None,
        "",
    )
    .await;
    assert_eq!(status, 200);
    let err = server
        .client
        .describe_dataset_group()
        .dataset_group_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{err:?}"
    );
    assert!(server
        .client
        .list_dataset_groups()
        .send()
        .await
        .unwrap()
        .dataset_groups()
        .is_empty());
    // The name is free again.
    server
        .client
        .create_dataset_group()
        .name("before-reset")
        .send()
        .await
        .unwrap();
}

/// A data deletion job's status now.
pub async fn wait_job_status(client: &Client, arn: &str) -> String {
    client
        .describe_data_deletion_job()
        .data_deletion_job_arn(arn)
        .send()
        .await
        .unwrap()
        .data_deletion_job
        .unwrap()
        .status
        .unwrap_or_default()
}
