//! ARNs are resolved within the request's region and account: a client of another region
//! (or, with `--account-per-access-key`, of another account) finds none of the resources of
//! this one through any operation that takes an ARN, and changes nothing.

use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::types::{DataSource, DatasetExportJobOutput, S3DataConfig, Tag};
use aws_sdk_personalize::Client;
use personalize_local::api::ApiConfig;

use crate::api::{start_with, Server, ROLE};

/// A client of the server signing with `access_key` in `region`.
fn client_as(server: &Server, region: &str, access_key: &str) -> Client {
    let conf = server
        .client
        .config()
        .to_builder()
        .region(aws_sdk_personalize::config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_personalize::config::Credentials::new(
            access_key, "test", None, None, "tests",
        ))
        .build();
    Client::from_conf(conf)
}

/// One resource of every kind, made by `c`.
struct Arns {
    group: String,
    schema: String,
    dataset: String,
    deletion: String,
    import: String,
    export: String,
    tracker: String,
    tracking_id: String,
    solution: String,
    version: String,
    filter: String,
}

async fn resources(c: &Client) -> Arns {
    let group = c
        .create_dataset_group()
        .name("iso")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let dataset = crate::api_resources::create_dataset(c, &group, "Users", "users").await;
    let schema = c
        .describe_dataset()
        .dataset_arn(&dataset)
        .send()
        .await
        .unwrap()
        .dataset
        .unwrap()
        .schema_arn
        .unwrap();
    let source = || {
        DataSource::builder()
            .data_location("s3://nowhere/x.csv")
            .build()
    };
    let deletion = c
        .create_data_deletion_job()
        .job_name("iso-delete")
        .dataset_group_arn(&group)
        .data_source(source())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    let import = c
        .create_dataset_import_job()
        .job_name("iso-import")
        .dataset_arn(&dataset)
        .data_source(source())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    let output = DatasetExportJobOutput::builder()
        .s3_data_destination(
            S3DataConfig::builder()
                .path("s3://nowhere/out/")
                .build()
                .unwrap(),
        )
        .build();
    let export = c
        .create_dataset_export_job()
        .job_name("iso-export")
        .dataset_arn(&dataset)
        .role_arn(ROLE)
        .job_output(output)
        .send()
        .await
        .unwrap()
        .dataset_export_job_arn
        .unwrap();
    let tracker = c
        .create_event_tracker()
        .name("iso-tracker")
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    let solution = c
        .create_solution()
        .name("iso-solution")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-user-personalization-v2")
        .send()
        .await
        .unwrap()
        .solution_arn
        .unwrap();
    let version = c
        .create_solution_version()
        .solution_arn(&solution)
        .send()
        .await
        .unwrap()
        .solution_version_arn
        .unwrap();
    let filter = c
        .create_filter()
        .name("iso-filter")
        .dataset_group_arn(&group)
        .filter_expression("EXCLUDE UserID WHERE Users.AGE < 3")
        .send()
        .await
        .unwrap()
        .filter_arn
        .unwrap();
    let tag = Tag::builder().tag_key("k").tag_value("v").build().unwrap();
    c.tag_resource()
        .resource_arn(&group)
        .tags(tag)
        .send()
        .await
        .unwrap();
    Arns {
        group,
        schema,
        dataset,
        deletion,
        import,
        export,
        tracker: tracker.event_tracker_arn.unwrap(),
        tracking_id: tracker.tracking_id.unwrap(),
        solution,
        version,
        filter,
    }
}

macro_rules! not_found {
    ($what:expr, $call:expr) => {{
        let err = $call
            .send()
            .await
            .err()
            .unwrap_or_else(|| panic!("{} succeeded from outside", $what));
        assert_eq!(
            err.code(),
            Some("ResourceNotFoundException"),
            "{}: {err:?}",
            $what
        );
    }};
}

/// Every operation that takes an ARN (or a tracking ID), called by `other` (and `events`,
/// of the same region and account) on `arns`: each one not found.
async fn none_found_from(other: &Client, events: &aws_sdk_personalizeevents::Client, a: &Arns) {
    let source = || {
        DataSource::builder()
            .data_location("s3://nowhere/y.csv")
            .build()
    };
    let tag = || Tag::builder().tag_key("x").tag_value("y").build().unwrap();
    let output = || {
        DatasetExportJobOutput::builder()
            .s3_data_destination(
                S3DataConfig::builder()
                    .path("s3://nowhere/o/")
                    .build()
                    .unwrap(),
            )
            .build()
    };
    not_found!(
        "DescribeDatasetGroup",
        other.describe_dataset_group().dataset_group_arn(&a.group)
    );
    not_found!(
        "DescribeSchema",
        other.describe_schema().schema_arn(&a.schema)
    );
    not_found!(
        "DescribeDataset",
        other.describe_dataset().dataset_arn(&a.dataset)
    );
    not_found!(
        "ListDatasets",
        other.list_datasets().dataset_group_arn(&a.group)
    );
    not_found!(
        "CreateDataset",
        other
            .create_dataset()
            .name("intruder")
            .dataset_group_arn(&a.group)
            .dataset_type("Items")
            .schema_arn(&a.schema)
    );
    not_found!(
        "CreateDataDeletionJob",
        other
            .create_data_deletion_job()
            .job_name("intruder")
            .dataset_group_arn(&a.group)
            .data_source(source())
            .role_arn(ROLE)
    );
    not_found!(
        "DescribeDataDeletionJob",
        other
            .describe_data_deletion_job()
            .data_deletion_job_arn(&a.deletion)
    );
    not_found!(
        "ListDataDeletionJobs",
        other.list_data_deletion_jobs().dataset_group_arn(&a.group)
    );
    not_found!(
        "CreateDatasetImportJob",
        other
            .create_dataset_import_job()
            .job_name("intruder")
            .dataset_arn(&a.dataset)
            .data_source(source())
            .role_arn(ROLE)
    );
    not_found!(
        "DescribeDatasetImportJob",
        other
            .describe_dataset_import_job()
            .dataset_import_job_arn(&a.import)
    );
    not_found!(
        "ListDatasetImportJobs",
        other.list_dataset_import_jobs().dataset_arn(&a.dataset)
    );
    not_found!(
        "CreateDatasetExportJob",
        other
            .create_dataset_export_job()
            .job_name("intruder")
            .dataset_arn(&a.dataset)
            .role_arn(ROLE)
            .job_output(output())
    );
    not_found!(
        "DescribeDatasetExportJob",
        other
            .describe_dataset_export_job()
            .dataset_export_job_arn(&a.export)
    );
    not_found!(
        "ListDatasetExportJobs",
        other.list_dataset_export_jobs().dataset_arn(&a.dataset)
    );
    not_found!(
        "TagResource",
        other.tag_resource().resource_arn(&a.group).tags(tag())
    );
    not_found!(
        "UntagResource",
        other.untag_resource().resource_arn(&a.group).tag_keys("k")
    );
    not_found!(
        "ListTagsForResource",
        other.list_tags_for_resource().resource_arn(&a.group)
    );
    not_found!(
        "UpdateDataset",
        other
            .update_dataset()
            .dataset_arn(&a.dataset)
            .schema_arn(&a.schema)
    );
    not_found!(
        "CreateEventTracker",
        other
            .create_event_tracker()
            .name("intruder")
            .dataset_group_arn(&a.group)
    );
    not_found!(
        "DescribeEventTracker",
        other.describe_event_tracker().event_tracker_arn(&a.tracker)
    );
    not_found!(
        "ListEventTrackers",
        other.list_event_trackers().dataset_group_arn(&a.group)
    );
    not_found!(
        "ListTagsForResource of a tracker",
        other.list_tags_for_resource().resource_arn(&a.tracker)
    );
    not_found!(
        "DeleteEventTracker",
        other.delete_event_tracker().event_tracker_arn(&a.tracker)
    );
    use aws_sdk_personalizeevents::primitives::DateTime;
    use aws_sdk_personalizeevents::types::{Event, User};
    let event = Event::builder()
        .event_type("click")
        .sent_at(DateTime::from_secs(1))
        .build()
        .unwrap();
    not_found!(
        "PutEvents",
        events
            .put_events()
            .tracking_id(&a.tracking_id)
            .session_id("s")
            .event_list(event)
    );
    not_found!(
        "PutUsers",
        events
            .put_users()
            .dataset_arn(&a.dataset)
            .users(User::builder().user_id("u").build().unwrap())
    );
    not_found!(
        "DescribeSolution",
        other.describe_solution().solution_arn(&a.solution)
    );
    not_found!(
        "ListSolutions",
        other.list_solutions().dataset_group_arn(&a.group)
    );
    not_found!(
        "CreateSolution",
        other
            .create_solution()
            .name("x")
            .dataset_group_arn(&a.group)
            .recipe_arn("arn:aws:personalize:::recipe/aws-sims")
    );
    not_found!(
        "CreateSolutionVersion",
        other.create_solution_version().solution_arn(&a.solution)
    );
    not_found!(
        "DescribeSolutionVersion",
        other
            .describe_solution_version()
            .solution_version_arn(&a.version)
    );
    not_found!(
        "ListSolutionVersions",
        other.list_solution_versions().solution_arn(&a.solution)
    );
    not_found!(
        "GetSolutionMetrics",
        other
            .get_solution_metrics()
            .solution_version_arn(&a.version)
    );
    not_found!(
        "StopSolutionVersionCreation",
        other
            .stop_solution_version_creation()
            .solution_version_arn(&a.version)
    );
    not_found!(
        "ListTagsForResource of a solution",
        other.list_tags_for_resource().resource_arn(&a.solution)
    );
    not_found!(
        "DescribeFilter",
        other.describe_filter().filter_arn(&a.filter)
    );
    not_found!(
        "ListFilters",
        other.list_filters().dataset_group_arn(&a.group)
    );
    not_found!(
        "CreateFilter",
        other
            .create_filter()
            .name("x")
            .dataset_group_arn(&a.group)
            .filter_expression("EXCLUDE UserID WHERE Users.AGE < 3")
    );
    not_found!("DeleteFilter", other.delete_filter().filter_arn(&a.filter));
    not_found!(
        "CreateCampaign",
        other
            .create_campaign()
            .name("x")
            .solution_version_arn(&a.version)
    );
    not_found!(
        "ListCampaigns",
        other.list_campaigns().solution_arn(&a.solution)
    );
    not_found!(
        "CreateRecommender",
        other
            .create_recommender()
            .name("x")
            .dataset_group_arn(&a.group)
            .recipe_arn("arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you")
    );
    not_found!(
        "ListRecommenders",
        other.list_recommenders().dataset_group_arn(&a.group)
    );
    not_found!(
        "DeleteSolution",
        other.delete_solution().solution_arn(&a.solution)
    );
    not_found!(
        "DeleteDataset",
        other.delete_dataset().dataset_arn(&a.dataset)
    );
    not_found!("DeleteSchema", other.delete_schema().schema_arn(&a.schema));
    not_found!(
        "DeleteDatasetGroup",
        other.delete_dataset_group().dataset_group_arn(&a.group)
    );
    // Listings of the whole account and region see nothing either.
    let groups = other.list_dataset_groups().send().await.unwrap();
    assert!(groups.dataset_groups().is_empty());
    let schemas = other.list_schemas().send().await.unwrap();
    assert!(schemas.schemas().is_empty());
    let jobs = other.list_data_deletion_jobs().send().await.unwrap();
    assert!(jobs.data_deletion_jobs().is_empty());
    let trackers = other.list_event_trackers().send().await.unwrap();
    assert!(trackers.event_trackers().is_empty());
    let solutions = other.list_solutions().send().await.unwrap();
    assert!(solutions.solutions().is_empty());
    let versions = other.list_solution_versions().send().await.unwrap();
    assert!(versions.solution_versions().is_empty());
    let filters = other.list_filters().send().await.unwrap();
    assert!(filters.filters().is_empty());
}

/// Nothing of `a` changed: every resource is there, with its one tag, and no job was added.
async fn all_there(owner: &Client, a: &Arns) {
    owner
        .describe_filter()
        .filter_arn(&a.filter)
        .send()
        .await
        .unwrap();
    owner
        .describe_solution()
        .solution_arn(&a.solution)
        .send()
        .await
        .unwrap();
    owner
        .describe_solution_version()
        .solution_version_arn(&a.version)
        .send()
        .await
        .unwrap();
    owner
        .describe_dataset_group()
        .dataset_group_arn(&a.group)
        .send()
        .await
        .unwrap();
    owner
        .describe_schema()
        .schema_arn(&a.schema)
        .send()
        .await
        .unwrap();
    owner
        .describe_dataset()
        .dataset_arn(&a.dataset)
        .send()
        .await
        .unwrap();
    let datasets = owner
        .list_datasets()
        .dataset_group_arn(&a.group)
        .send()
        .await
        .unwrap();
    assert_eq!(datasets.datasets().len(), 1);
    let tags = owner
        .list_tags_for_resource()
        .resource_arn(&a.group)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    let jobs = owner
        .list_data_deletion_jobs()
        .dataset_group_arn(&a.group)
        .send()
        .await
        .unwrap();
    assert_eq!(jobs.data_deletion_jobs().len(), 1);
    let imports = owner
        .list_dataset_import_jobs()
        .dataset_arn(&a.dataset)
        .send()
        .await
        .unwrap();
    assert_eq!(imports.dataset_import_jobs().len(), 1);
    let exports = owner
        .list_dataset_export_jobs()
        .dataset_arn(&a.dataset)
        .send()
        .await
        .unwrap();
    assert_eq!(exports.dataset_export_jobs().len(), 1);
    owner
        .describe_event_tracker()
        .event_tracker_arn(&a.tracker)
        .send()
        .await
        .unwrap();
}

/// An events client of the server signing with `access_key` in `region`.
fn events_as(server: &Server, region: &str, access_key: &str) -> aws_sdk_personalizeevents::Client {
    use aws_sdk_personalizeevents::config;
    let conf = crate::events::events_client(&server.endpoint)
        .config()
        .to_builder()
        .region(config::Region::new(region.to_owned()))
        .credentials_provider(config::Credentials::new(
            access_key, "test", None, None, "tests",
        ))
        .build();
    aws_sdk_personalizeevents::Client::from_conf(conf)
}

fn config(account_per_access_key: bool) -> ApiConfig {
    ApiConfig {
        transition: Duration::ZERO,
        account_per_access_key,
        ..ApiConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_region_finds_nothing_through_any_arn() {
    let server = start_with(config(false), false).await;
    let arns = resources(&server.client).await;
    assert!(arns
        .group
        .starts_with("arn:aws:personalize:us-east-1:000000000000:"));
    let eu = client_as(&server, "eu-west-1", "test");
    none_found_from(&eu, &events_as(&server, "eu-west-1", "test"), &arns).await;
    all_there(&server.client, &arns).await;
    // And the other way round: a group of eu-west-1 is not found from us-east-1.
    let eu_group = eu.create_dataset_group().name("iso").send().await.unwrap();
    let eu_group = eu_group.dataset_group_arn.unwrap();
    assert!(eu_group.starts_with("arn:aws:personalize:eu-west-1:"));
    let err = server
        .client
        .delete_dataset_group()
        .dataset_group_arn(&eu_group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_account_per_access_key_another_account_finds_nothing() {
    let server = start_with(config(true), false).await;
    // A 12-digit key names the account; any other key is in --account-id.
    let mine = client_as(&server, "us-east-1", "111111111111");
    let arns = resources(&mine).await;
    assert!(arns
        .group
        .starts_with("arn:aws:personalize:us-east-1:111111111111:"));
    for (who, other) in [
        (
            "222222222222",
            client_as(&server, "us-east-1", "222222222222"),
        ),
        ("test", server.client.clone()),
    ] {
        eprintln!("as {who}");
        none_found_from(&other, &events_as(&server, "us-east-1", who), &arns).await;
    }
    all_there(&mine, &arns).await;
    // Without the flag every key is the one configured account.
    let shared = start_with(config(false), false).await;
    let arn = client_as(&shared, "us-east-1", "111111111111")
        .create_dataset_group()
        .name("shared")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    assert!(arn.starts_with("arn:aws:personalize:us-east-1:000000000000:"));
    shared
        .client
        .describe_dataset_group()
        .dataset_group_arn(&arn)
        .send()
        .await
        .unwrap();
}
