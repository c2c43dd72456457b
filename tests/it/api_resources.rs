//! Schemas, datasets and tags through the real `aws-sdk-personalize` client.

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use aws_sdk_personalize::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_personalize::types::{DataSource, Tag};
use aws_sdk_personalize::Client;
use personalize_local::import::import_dataset;
use personalize_local::source::S3Location;
use personalize_local::store::DatasetType;

use crate::api::{create_active_group, start, ROLE};

/// The text of `fixtures/schemas/{name}.json`.
pub fn schema_fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/schemas/{name}.json"));
    std::fs::read_to_string(path).unwrap()
}

/// Asserts that a call failed with the error `is` accepts, whose message contains `text`.
pub fn assert_err<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(
    result: Result<T, SdkError<E, R>>,
    is: impl Fn(&E) -> bool,
    text: &str,
) {
    let err = result.unwrap_err();
    let service = err
        .as_service_error()
        .unwrap_or_else(|| panic!("not a service error: {err:?}"));
    assert!(is(service), "wrong error for {text:?}: {service:?}");
    let message = service.message().unwrap_or_default();
    assert!(message.contains(text), "{message:?} lacks {text:?}");
}

/// Creates a schema from a fixture and a dataset of type `t` using it; returns the dataset ARN.
pub async fn create_dataset(c: &Client, group_arn: &str, t: &str, fixture: &str) -> String {
    let group = group_arn.rsplit('/').next().unwrap();
    let schema_arn = c
        .create_schema()
        .name(format!("{group}-{fixture}"))
        .schema(schema_fixture(fixture))
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    c.create_dataset()
        .name(format!("{group}-{fixture}"))
        .dataset_group_arn(group_arn)
        .dataset_type(t)
        .schema_arn(schema_arn)
        .send()
        .await
        .unwrap()
        .dataset_arn
        .unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().unwrap()
}

async fn tags_of(c: &Client, arn: &str) -> Vec<(String, String)> {
    c.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_are_created_listed_and_deleted() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let users = schema_fixture("users");
    let arn = c
        .create_schema()
        .name("users")
        .schema(&users)
        .domain("ECOMMERCE".into())
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:personalize:us-east-1:000000000000:schema/users"
    );
    let described = c
        .describe_schema()
        .schema_arn(&arn)
        .send()
        .await
        .unwrap()
        .schema
        .unwrap();
    assert_eq!(described.name.as_deref(), Some("users"));
    assert_eq!(described.schema.as_deref(), Some(users.as_str()));
    assert_eq!(
        described.domain.map(|d| d.as_str().to_owned()),
        Some("ECOMMERCE".into())
    );
    assert!(described.creation_date_time.is_some());

    assert_err(
        c.create_schema().name("users").schema(&users).send().await,
        |e| e.is_resource_already_exists_exception(),
        "a schema named users already exists",
    );
    let invalid = [
        (c.create_schema().schema(&users), "the required member 'name' is missing"),
        (c.create_schema().name("s"), "the required member 'schema' is missing"),
        (
            c.create_schema().name("s").schema(" ".repeat(20_001)),
            "Member must have length less than or equal to 20000",
        ),
        (c.create_schema().name("s").schema("{\"type\":"), "the schema is not valid Avro"),
        (
            c.create_schema().name("s").schema(r#"{"type":"record","name":"R","fields":[{"name":"M","type":{"type":"map","values":"string"}}]}"#),
            "the field M has an unsupported type",
        ),
        (
            c.create_schema().name("s").schema(&users).domain("RETAIL".into()),
            "Member must satisfy enum value set",
        ),
        (c.create_schema().name("-s").schema(&users), "Member must satisfy regular expression pattern"),
    ];
    for (req, text) in invalid {
        assert_err(req.send().await, |e| e.is_invalid_input_exception(), text);
    }

    let second = c
        .create_schema()
        .name("interactions")
        .schema(schema_fixture("interactions"))
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    let first_page = c.list_schemas().max_results(1).send().await.unwrap();
    let listed = first_page.schemas.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].schema_arn.as_deref(), Some(arn.as_str()));
    let token = first_page.next_token.expect("a second page");
    let second_page = c.list_schemas().next_token(token).send().await.unwrap();
    assert_eq!(
        second_page.schemas.unwrap()[0].schema_arn.as_deref(),
        Some(second.as_str())
    );
    assert_eq!(second_page.next_token, None);
    assert_err(
        c.list_schemas().next_token("forged").send().await,
        |e| e.is_invalid_next_token_exception(),
        "forged",
    );

    // In use by a dataset: refused, then allowed once the dataset is gone.
    let group_arn = create_active_group(&server, "shop").await;
    let dataset_arn = c
        .create_dataset()
        .name("shop-interactions")
        .dataset_group_arn(&group_arn)
        .dataset_type("Interactions")
        .schema_arn(&second)
        .send()
        .await
        .unwrap()
        .dataset_arn
        .unwrap();
    assert_err(
        c.delete_schema().schema_arn(&second).send().await,
        |e| e.is_resource_in_use_exception(),
        &dataset_arn,
    );
    c.delete_dataset()
        .dataset_arn(&dataset_arn)
        .send()
        .await
        .unwrap();
    c.delete_schema().schema_arn(&second).send().await.unwrap();
    assert_err(
        c.describe_schema().schema_arn(&second).send().await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );
    assert_err(
        c.delete_schema().schema_arn(&second).send().await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );
    let left = c.list_schemas().send().await.unwrap().schemas.unwrap();
    assert_eq!(left.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datasets_take_their_columns_from_the_schema() {
    let server = start(Duration::from_millis(200), true).await;
    let c = &server.client;
    let users_schema = c
        .create_schema()
        .name("users")
        .schema(schema_fixture("users"))
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    let group_arn = c
        .create_dataset_group()
        .name("shop")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    let create = |t: &str, schema: &str| {
        c.create_dataset()
            .name("shop-users")
            .dataset_group_arn(&group_arn)
            .dataset_type(t)
            .schema_arn(schema)
    };
    // The group is still being created.
    assert_err(
        create("Users", &users_schema).send().await,
        |e| e.is_resource_in_use_exception(),
        "wait until it is ACTIVE",
    );
    let group_arn = create_active_group(&server, "shop-2").await;
    let create = |t: &str, schema: &str| {
        c.create_dataset()
            .name("shop-users")
            .dataset_group_arn(&group_arn)
            .dataset_type(t)
            .schema_arn(schema)
    };
    let arn = create("users", &users_schema)
        .send()
        .await
        .unwrap()
        .dataset_arn
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:personalize:us-east-1:000000000000:dataset/shop-2/USERS"
    );
    let mut seen = Vec::new();
    let dataset = loop {
        let d = c
            .describe_dataset()
            .dataset_arn(&arn)
            .send()
            .await
            .unwrap()
            .dataset
            .unwrap();
        let status = d.status.clone().unwrap();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "ACTIVE" {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        seen.first().map(String::as_str),
        Some("CREATE PENDING"),
        "{seen:?}"
    );
    assert_eq!(dataset.name.as_deref(), Some("shop-users"));
    assert_eq!(dataset.dataset_type.as_deref(), Some("USERS"));
    assert_eq!(dataset.schema_arn.as_deref(), Some(users_schema.as_str()));
    assert_eq!(
        dataset.dataset_group_arn.as_deref(),
        Some(group_arn.as_str())
    );
    let stored = server.store.datasets(&group_arn).await.unwrap();
    assert_eq!(stored[0].columns, ["USER_ID", "AGE", "MEMBERSHIP"]);

    assert_err(
        create("Users", &users_schema).send().await,
        |e| e.is_resource_already_exists_exception(),
        "already has a dataset of type Users",
    );
    // The users schema has no ITEM_ID: it fits neither Items nor Interactions.
    assert_err(
        create("Items", &users_schema).send().await,
        |e| e.is_invalid_input_exception(),
        "needs a field ITEM_ID of type string",
    );
    assert_err(
        create("Clicks", &users_schema).send().await,
        |e| e.is_invalid_input_exception(),
        "unknown dataset type \"Clicks\"",
    );
    assert_err(
        create("Users2", &users_schema).send().await,
        |e| e.is_invalid_input_exception(),
        "at 'datasetType' failed to satisfy constraint",
    );
    let missing_schema = users_schema.replace("schema/users", "schema/nope");
    assert_err(
        create("Items", &missing_schema).send().await,
        |e| e.is_resource_not_found_exception(),
        "schema/nope does not exist",
    );
    assert_err(
        c.create_dataset()
            .name("x")
            .dataset_group_arn(group_arn.replace("shop-2", "nowhere"))
            .dataset_type("Users")
            .schema_arn(&users_schema)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        "dataset-group/nowhere does not exist",
    );
    for (req, text) in [
        (
            c.create_dataset()
                .dataset_group_arn(&group_arn)
                .dataset_type("Users")
                .schema_arn(&users_schema),
            "the required member 'name' is missing",
        ),
        (
            c.create_dataset()
                .name("x")
                .dataset_type("Users")
                .schema_arn(&users_schema),
            "the required member 'datasetGroupArn' is missing",
        ),
        (
            c.create_dataset()
                .name("x")
                .dataset_group_arn(&group_arn)
                .schema_arn(&users_schema),
            "the required member 'datasetType' is missing",
        ),
        (
            c.create_dataset()
                .name("x")
                .dataset_group_arn(&group_arn)
                .dataset_type("Users"),
            "the required member 'schemaArn' is missing",
        ),
        (
            c.create_dataset()
                .name("x")
                .dataset_group_arn(&group_arn)
                .dataset_type("Users")
                .schema_arn("schema/users"),
            "at 'schemaArn' failed to satisfy constraint",
        ),
    ] {
        assert_err(req.send().await, |e| e.is_invalid_input_exception(), text);
    }
    // A domain group takes only schemas of its domain.
    let video = c
        .create_dataset_group()
        .name("video")
        .domain("VIDEO_ON_DEMAND".into())
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    crate::api::wait_group_status(&server, &video, "ACTIVE").await;
    assert_err(
        c.create_dataset()
            .name("v")
            .dataset_group_arn(&video)
            .dataset_type("Users")
            .schema_arn(&users_schema)
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        "the schema's domain (no domain) differs from the dataset group's (VIDEO_ON_DEMAND)",
    );

    // Records loaded into it must have the schema's header; the dataset keeps them.
    server.s3.upload_tree("datasets").await;
    let location = S3Location::parse(&server.s3.location("datasets/users.csv")).unwrap();
    let report = import_dataset(
        server.store.as_ref(),
        server.s3.source(),
        &group_arn,
        DatasetType::Users,
        &location,
        &personalize_local::import::ImportOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.records,
        crate::common::fixture_rows("users.csv").len() as u64
    );
    let interactions = create_dataset(c, &group_arn, "Interactions", "interactions").await;

    // Listing: one group, or all; pages of one.
    let listed = c
        .list_datasets()
        .dataset_group_arn(&group_arn)
        .send()
        .await
        .unwrap()
        .datasets
        .unwrap();
    let arns: Vec<_> = listed
        .iter()
        .map(|d| d.dataset_arn.clone().unwrap())
        .collect();
    assert_eq!(arns, [interactions.clone(), arn.clone()]);
    assert_eq!(listed[1].dataset_type.as_deref(), Some("USERS"));
    let page = c.list_datasets().max_results(1).send().await.unwrap();
    assert_eq!(page.datasets.unwrap().len(), 1);
    let rest = c
        .list_datasets()
        .next_token(page.next_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.datasets.unwrap().len(), 1);
    let none = c
        .list_datasets()
        .dataset_group_arn(group_arn.replace("shop-2", "nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.datasets.unwrap_or_default().len(), 0);

    // Deleting a dataset takes its records at once; for the transition time it shows
    // DELETE PENDING, then DELETE IN_PROGRESS, then it is not found. Meanwhile it cannot be
    // deleted again nor made again, and its group cannot be deleted.
    c.delete_dataset().dataset_arn(&arn).send().await.unwrap();
    assert!(server
        .store
        .count_records(&group_arn, DatasetType::Users)
        .await
        .is_err());
    let d = c.describe_dataset().dataset_arn(&arn).send().await.unwrap();
    assert_eq!(d.dataset.unwrap().status.as_deref(), Some("DELETE PENDING"));
    assert_err(
        c.delete_dataset().dataset_arn(&arn).send().await,
        |e| e.is_resource_in_use_exception(),
        "is already being deleted",
    );
    assert_err(
        c.create_dataset()
            .name("users-again")
            .dataset_group_arn(&group_arn)
            .dataset_type("Users")
            .schema_arn(&users_schema)
            .send()
            .await,
        |e| e.is_resource_already_exists_exception(),
        "is being deleted",
    );
    assert_err(
        c.delete_dataset_group()
            .dataset_group_arn(&group_arn)
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "has a dataset or event tracker that is being deleted",
    );
    c.delete_dataset()
        .dataset_arn(&interactions)
        .send()
        .await
        .unwrap();
    assert_err(
        c.delete_dataset_group()
            .dataset_group_arn(&group_arn)
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "has a dataset or event tracker that is being deleted",
    );
    let mut seen: Vec<String> = Vec::new();
    loop {
        match c.describe_dataset().dataset_arn(&interactions).send().await {
            Ok(d) => {
                let status = d.dataset.unwrap().status.unwrap();
                if seen.last() != Some(&status) {
                    seen.push(status);
                }
            }
            Err(e) => {
                assert!(
                    e.as_service_error()
                        .unwrap()
                        .is_resource_not_found_exception(),
                    "{e:?}"
                );
                break;
            }
        }
        assert!(seen.len() <= 2, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen, ["DELETE PENDING", "DELETE IN_PROGRESS"]);
    assert_err(
        c.delete_dataset().dataset_arn(&arn).send().await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );
    c.delete_dataset_group()
        .dataset_group_arn(&group_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::api::wait_group_gone(&server, &group_arn).await,
        ["DELETE PENDING"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resource_takes_tags() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group_arn = c
        .create_dataset_group()
        .name("tagged")
        .tags(tag("team", "data"))
        .tags(tag("env", "ci"))
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    assert_eq!(
        tags_of(c, &group_arn).await,
        pairs(&[("team", "data"), ("env", "ci")])
    );

    c.tag_resource()
        .resource_arn(&group_arn)
        .tags(tag("env", "prod"))
        .tags(tag("owner", "me"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(c, &group_arn).await,
        pairs(&[("team", "data"), ("env", "prod"), ("owner", "me")])
    );
    c.untag_resource()
        .resource_arn(&group_arn)
        .tag_keys("team")
        .tag_keys("not-set")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(c, &group_arn).await,
        pairs(&[("env", "prod"), ("owner", "me")])
    );

    // Schemas, datasets and data deletion jobs, tagged at creation and afterwards.
    let schema_arn = c
        .create_schema()
        .name("tagged-users")
        .schema(schema_fixture("users"))
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    let dataset_arn = c
        .create_dataset()
        .name("tagged-users")
        .dataset_group_arn(&group_arn)
        .dataset_type("Users")
        .schema_arn(&schema_arn)
        .tags(tag("kind", "users"))
        .send()
        .await
        .unwrap()
        .dataset_arn
        .unwrap();
    server.s3.upload_tree("deletion-single").await;
    let job_arn = c
        .create_data_deletion_job()
        .job_name("tagged-job")
        .dataset_group_arn(&group_arn)
        .data_source(
            DataSource::builder()
                .data_location(server.s3.location("deletion-single/"))
                .build(),
        )
        .role_arn(ROLE)
        .tags(tag("ticket", "GDPR-1"))
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    c.tag_resource()
        .resource_arn(&schema_arn)
        .tags(tag("k", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(c, &schema_arn).await, pairs(&[("k", "")]));
    assert_eq!(tags_of(c, &dataset_arn).await, pairs(&[("kind", "users")]));
    assert_eq!(tags_of(c, &job_arn).await, pairs(&[("ticket", "GDPR-1")]));

    // Unknown resources, limits and reserved keys.
    for arn in [
        group_arn.replace("tagged", "nowhere"),
        dataset_arn.replace("USERS", "ITEMS"),
        "arn:aws:personalize:us-east-1:000000000000:solution/s".to_owned(),
    ] {
        assert_err(
            c.list_tags_for_resource().resource_arn(&arn).send().await,
            |e| e.is_resource_not_found_exception(),
            "does not exist",
        );
        assert_err(
            c.tag_resource()
                .resource_arn(&arn)
                .tags(tag("a", "b"))
                .send()
                .await,
            |e| e.is_resource_not_found_exception(),
            "does not exist",
        );
    }
    let many: Vec<Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_err(
        c.tag_resource()
            .resource_arn(&group_arn)
            .set_tags(Some(many))
            .send()
            .await,
        |e| e.is_too_many_tags_exception(),
        "would give it 51",
    );
    assert_eq!(
        tags_of(c, &group_arn).await.len(),
        2,
        "a refused request changes nothing"
    );
    let keys: Vec<String> = (0..51).map(|i| format!("k{i}")).collect();
    assert_err(
        c.untag_resource()
            .resource_arn(&group_arn)
            .set_tag_keys(Some(keys))
            .send()
            .await,
        |e| e.is_too_many_tag_keys_exception(),
        "at most 50 tag keys",
    );
    assert_err(
        c.tag_resource()
            .resource_arn(&group_arn)
            .tags(tag("aws:owner", "x"))
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        "reserved",
    );
    assert_err(
        c.tag_resource().resource_arn(&group_arn).send().await,
        |e| e.is_invalid_input_exception(),
        "the required member 'tags' is missing",
    );
    assert_err(
        c.tag_resource()
            .resource_arn(&group_arn)
            .tags(tag("bad#key", "x"))
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        "at 'tags.1.member.tagKey'",
    );
    assert_err(
        c.untag_resource()
            .resource_arn(&group_arn)
            .tag_keys("")
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        "at 'tagKeys.1.member'",
    );
    assert_err(
        c.untag_resource().resource_arn(&group_arn).send().await,
        |e| e.is_invalid_input_exception(),
        "the required member 'tagKeys' is missing",
    );

    // Tags go with their resource: one made again under the same name has none.
    crate::api::wait_job(c, &job_arn).await;
    c.delete_dataset()
        .dataset_arn(&dataset_arn)
        .send()
        .await
        .unwrap();
    c.delete_dataset_group()
        .dataset_group_arn(&group_arn)
        .send()
        .await
        .unwrap();
    c.create_dataset_group()
        .name("tagged")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(c, &group_arn).await, vec![]);
}

/// Asserts the error code of a call whose operation may not declare it (the Rust SDK then
/// reports it unmodeled, with the code readable).
fn assert_code<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(
    result: Result<T, SdkError<E, R>>,
    code: &str,
    text: &str,
) {
    let err = result.unwrap_err();
    assert_eq!(err.code(), Some(code), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(message.contains(text), "{message:?} lacks {text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_of_schemas_datasets_and_tags() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group_arn = create_active_group(&server, "checks").await;
    let dataset_arn = create_dataset(c, &group_arn, "Users", "users").await;
    const MISSING: &str = "is missing";
    const PATTERN: &str = "Member must satisfy regular expression pattern";
    const TOO_LONG: &str = "Member must have length less than or equal to 256";
    let long_arn = format!("{group_arn}{}", "x".repeat(256));

    for (arn, text) in [
        (None, MISSING),
        (Some("schema/x"), PATTERN),
        (Some(long_arn.as_str()), TOO_LONG),
    ] {
        assert_err(
            c.describe_schema()
                .set_schema_arn(arn.map(str::to_owned))
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
        assert_err(
            c.delete_schema()
                .set_schema_arn(arn.map(str::to_owned))
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
        assert_err(
            c.describe_dataset()
                .set_dataset_arn(arn.map(str::to_owned))
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
        assert_err(
            c.delete_dataset()
                .set_dataset_arn(arn.map(str::to_owned))
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
        assert_err(
            c.list_tags_for_resource()
                .set_resource_arn(arn.map(str::to_owned))
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
        assert_err(
            c.tag_resource()
                .set_resource_arn(arn.map(str::to_owned))
                .tags(tag("k", "v"))
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
        assert_err(
            c.untag_resource()
                .set_resource_arn(arn.map(str::to_owned))
                .tag_keys("k")
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
    }
    // Unknown but well-formed ARNs.
    let nowhere = dataset_arn.replace("checks", "nowhere");
    assert_err(
        c.describe_dataset().dataset_arn(&nowhere).send().await,
        |e| e.is_resource_not_found_exception(),
        "dataset/nowhere/USERS does not exist",
    );
    assert_err(
        c.delete_dataset().dataset_arn(&nowhere).send().await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );

    // Paging bounds and tokens of the new listings.
    for bad in [0, 101] {
        let bound = if bad == 0 {
            "greater than or equal to 1"
        } else {
            "less than or equal to 100"
        };
        assert_code(
            c.list_schemas().max_results(bad).send().await,
            "InvalidInputException",
            bound,
        );
        assert_err(
            c.list_datasets().max_results(bad).send().await,
            |e| e.is_invalid_input_exception(),
            bound,
        );
    }
    assert_err(
        c.list_datasets().next_token("forged").send().await,
        |e| e.is_invalid_next_token_exception(),
        "forged",
    );
    assert_err(
        c.list_datasets()
            .dataset_group_arn("dataset-group/checks")
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        PATTERN,
    );

    // Tag shapes: list sizes, key and value lengths, on creation and on TagResource.
    let fifty_one: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_err(
        c.create_dataset()
            .name("x")
            .dataset_group_arn(&group_arn)
            .dataset_type("Items")
            .schema_arn(dataset_arn.replace("dataset/checks/USERS", "schema/checks-users"))
            .set_tags(Some(fifty_one))
            .send()
            .await,
        |e| e.is_too_many_tags_exception(),
        "at most 50 tags",
    );
    let two_hundred_one: Vec<Tag> = (0..201).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_err(
        c.tag_resource()
            .resource_arn(&dataset_arn)
            .set_tags(Some(two_hundred_one))
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        "Member must have length less than or equal to 200",
    );
    for (t, text) in [
        (tag(&"k".repeat(129), "v"), "at 'tags.1.member.tagKey'"),
        (tag("", "v"), "at 'tags.1.member.tagKey'"),
        (tag("k", &"v".repeat(257)), "at 'tags.1.member.tagValue'"),
    ] {
        assert_err(
            c.tag_resource()
                .resource_arn(&dataset_arn)
                .tags(t)
                .send()
                .await,
            |e| e.is_invalid_input_exception(),
            text,
        );
    }
    let keys: Vec<String> = (0..201).map(|i| format!("k{i}")).collect();
    assert_err(
        c.untag_resource()
            .resource_arn(&dataset_arn)
            .set_tag_keys(Some(keys))
            .send()
            .await,
        |e| e.is_invalid_input_exception(),
        "Member must have length less than or equal to 200",
    );
    assert_eq!(
        tags_of(c, &dataset_arn).await,
        vec![],
        "refused requests changed nothing"
    );
}
