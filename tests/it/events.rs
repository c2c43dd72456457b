//! Event trackers, the Personalize Events API (restJson1) and UpdateDataset through the real
//! `aws-sdk-personalize` and `aws-sdk-personalizeevents` clients, on one server port.

use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::types::{DataSource, Tag};
use aws_sdk_personalizeevents::primitives::DateTime;
use aws_sdk_personalizeevents::types::{Action, ActionInteraction, Event, Item, User};
use personalize_local::store::DatasetType;

use crate::api::{create_active_group, start, Server, ROLE};
use crate::api_resources::{assert_err, create_dataset};

/// An Interactions schema with optional fields the events fill.
const EVENTS_SCHEMA: &str = r#"{"type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema", "fields": [
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"},
    {"name": "EVENT_VALUE", "type": ["null", "float"]},
    {"name": "IMPRESSION", "type": ["null", "string"]},
    {"name": "NUMBER_OF_RATINGS", "type": ["null", "int"]}
  ], "version": "1.0"}"#;

pub fn events_client(endpoint: &str) -> aws_sdk_personalizeevents::Client {
    use aws_sdk_personalizeevents::config;
    let conf = config::Builder::new()
        .behavior_version(config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(config::Region::new("us-east-1"))
        .credentials_provider(config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    aws_sdk_personalizeevents::Client::from_conf(conf)
}

/// A group with the events Interactions dataset and an event tracker: (group, tracking ID).
async fn tracked_group(server: &Server, name: &str) -> (String, String) {
    let c = &server.client;
    let group = create_active_group(server, name).await;
    let schema = c
        .create_schema()
        .name(format!("{name}-events"))
        .schema(EVENTS_SCHEMA)
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    c.create_dataset()
        .name(format!("{name}-interactions"))
        .dataset_group_arn(&group)
        .dataset_type("Interactions")
        .schema_arn(schema)
        .send()
        .await
        .unwrap();
    let tracker = c
        .create_event_tracker()
        .name(format!("{name}-tracker"))
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    (group, tracker.tracking_id.unwrap())
}

fn event(kind: &str, item: &str, at: i64) -> Event {
    Event::builder()
        .event_type(kind)
        .item_id(item)
        .sent_at(DateTime::from_secs(at))
        .build()
        .unwrap()
}

async fn sorted_records(server: &Server, group: &str, t: DatasetType) -> Vec<Vec<String>> {
    let mut rows = server.store.records(group, t).await.unwrap();
    rows.sort();
    rows
}

/// Trackers: one per ACTIVE group, described, listed, tagged, and in the group's way until
/// they are deleted and gone.
#[tokio::test]
async fn event_trackers_through_the_sdk() {
    let server = start(Duration::from_millis(600), false).await;
    let c = &server.client;
    let early = c
        .create_dataset_group()
        .name("tracked-early")
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    assert_err(
        c.create_event_tracker()
            .name("too-soon")
            .dataset_group_arn(&early)
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "wait until it is ACTIVE",
    );
    let group = create_active_group(&server, "tracked").await;
    let created = c
        .create_event_tracker()
        .name("clicks")
        .dataset_group_arn(&group)
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("web")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = created.event_tracker_arn.unwrap();
    let tracking_id = created.tracking_id.unwrap();
    assert!(
        arn.starts_with("arn:aws:personalize:us-east-1:000000000000:event-tracker/"),
        "{arn}"
    );
    assert_eq!(tracking_id.len(), 36, "a UUID: {tracking_id}");
    assert_err(
        c.create_event_tracker()
            .name("second")
            .dataset_group_arn(&group)
            .send()
            .await,
        |e| e.is_resource_already_exists_exception(),
        "at most one",
    );
    let mut statuses = Vec::new();
    let tracker = loop {
        let t = c
            .describe_event_tracker()
            .event_tracker_arn(&arn)
            .send()
            .await
            .unwrap()
            .event_tracker
            .unwrap();
        let status = t.status.clone().unwrap();
        if statuses.last() != Some(&status) {
            statuses.push(status.clone());
        }
        if status == "ACTIVE" {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(statuses, ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]);
    assert_eq!(tracker.name.as_deref(), Some("clicks"));
    assert_eq!(tracker.account_id.as_deref(), Some("000000000000"));
    assert_eq!(tracker.tracking_id.as_deref(), Some(tracking_id.as_str()));
    assert_eq!(tracker.dataset_group_arn.as_deref(), Some(group.as_str()));

    // Listed per group and in pages; summaries carry neither tracking ID nor group.
    let other = create_active_group(&server, "tracked-other").await;
    c.create_event_tracker()
        .name("views")
        .dataset_group_arn(&other)
        .send()
        .await
        .unwrap();
    let first = c.list_event_trackers().max_results(1).send().await.unwrap();
    assert_eq!(first.event_trackers().len(), 1);
    assert_eq!(first.event_trackers()[0].name.as_deref(), Some("clicks"));
    let second = c
        .list_event_trackers()
        .next_token(first.next_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.event_trackers()[0].name.as_deref(), Some("views"));
    assert_eq!(second.next_token, None);
    let of_group = c
        .list_event_trackers()
        .dataset_group_arn(&other)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = of_group.event_trackers().iter().map(|t| t.name()).collect();
    assert_eq!(names, [Some("views")]);

    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].tag_value(), "web");

    // The group waits for its tracker, also while the tracker is being deleted.
    assert_err(
        c.delete_dataset_group()
            .dataset_group_arn(&group)
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "event tracker",
    );
    c.delete_event_tracker()
        .event_tracker_arn(&arn)
        .send()
        .await
        .unwrap();
    let deleting = c
        .describe_event_tracker()
        .event_tracker_arn(&arn)
        .send()
        .await
        .unwrap()
        .event_tracker
        .unwrap();
    assert_eq!(deleting.status.as_deref(), Some("DELETE PENDING"));
    assert_err(
        c.delete_dataset_group()
            .dataset_group_arn(&group)
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "being deleted",
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_err(
        c.describe_event_tracker()
            .event_tracker_arn(&arn)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );
    c.delete_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
}

/// PutEvents appends to the tracker's Interactions dataset; every rule of the model is
/// checked, with the model's error and status.
#[tokio::test]
async fn put_events_through_the_sdk() {
    let server = start(Duration::ZERO, false).await;
    let events = events_client(&server.endpoint);
    let (group, tracking_id) = tracked_group(&server, "events").await;

    let rated = Event::builder()
        .event_type("rating")
        .item_id("i2")
        .sent_at(DateTime::from_secs_f64(1_700_000_100.75))
        .event_value(4.5)
        .impression("i1")
        .impression("i2")
        .properties(r#"{"numberOfRatings": 12}"#)
        .build()
        .unwrap();
    events
        .put_events()
        .tracking_id(&tracking_id)
        .user_id("u1")
        .session_id("s1")
        .event_list(event("click", "i1", 1_700_000_000))
        .event_list(rated)
        .send()
        .await
        .unwrap();
    // Without a user, the session is the user.
    events
        .put_events()
        .tracking_id(&tracking_id)
        .session_id("anonymous-7")
        .event_list(event("view", "i3", 1_700_000_200))
        .send()
        .await
        .unwrap();
    let row = |v: [&str; 7]| v.map(str::to_owned).to_vec();
    assert_eq!(
        sorted_records(&server, &group, DatasetType::Interactions).await,
        vec![
            row(["anonymous-7", "i3", "1700000200", "view", "", "", ""]),
            row(["u1", "i1", "1700000000", "click", "", "", ""]),
            row(["u1", "i2", "1700000100", "rating", "4.5", "i1|i2", "12"]),
        ]
    );
    let dataset_arn = format!(
        "{}/INTERACTIONS",
        group.replace(":dataset-group/", ":dataset/")
    );
    let described = server
        .client
        .describe_dataset()
        .dataset_arn(&dataset_arn)
        .send()
        .await
        .unwrap()
        .dataset
        .unwrap();
    assert_eq!(described.tracking_id.as_deref(), Some(tracking_id.as_str()));

    // Errors, each with its code and status; nothing is written.
    let put = |e: Event| {
        events
            .put_events()
            .tracking_id(&tracking_id)
            .user_id("u9")
            .session_id("s9")
            .event_list(e)
            .send()
    };
    let cases = [
        (
            Event::builder()
                .event_type("click")
                .item_id("i1")
                .sent_at(DateTime::from_secs(1))
                .properties(r#"{"shoeSize": 42}"#)
                .build()
                .unwrap(),
            "eventList.1.member",
        ),
        (
            Event::builder()
                .event_type("click")
                .item_id("i1")
                .sent_at(DateTime::from_secs(1))
                .properties(r#"{"userId": "someone-else"}"#)
                .build()
                .unwrap(),
            "\"userId\"",
        ),
        (
            Event::builder()
                .event_type("click")
                .item_id("i1")
                .sent_at(DateTime::from_secs(1))
                .properties(format!(r#"{{"numberOfRatings": "{}"}}"#, "9".repeat(1100)))
                .build()
                .unwrap(),
            "length less than or equal to 1024",
        ),
        (
            Event::builder()
                .event_type("click")
                .item_id("i1")
                .sent_at(DateTime::from_secs(1))
                .properties(r#"{"numberOfRatings": "many"}"#)
                .build()
                .unwrap(),
            "NUMBER_OF_RATINGS",
        ),
        (
            // ITEM_ID is required by the schema.
            Event::builder()
                .event_type("click")
                .sent_at(DateTime::from_secs(1))
                .build()
                .unwrap(),
            "ITEM_ID",
        ),
        (
            Event::builder()
                .event_type("click")
                .item_id("i1")
                .sent_at(DateTime::from_secs(1))
                .recommendation_id("r".repeat(41))
                .build()
                .unwrap(),
            "eventList.1.member.recommendationId",
        ),
    ];
    for (bad, text) in cases {
        let err = put(bad).await.unwrap_err();
        assert_eq!(err.code(), Some("InvalidInputException"), "{err:?}");
        assert!(err.message().unwrap_or("").contains(text), "{err:?}");
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);
    }
    let eleven = (0..11).fold(
        events
            .put_events()
            .tracking_id(&tracking_id)
            .session_id("s"),
        |b, i| b.event_list(event("click", &format!("i{i}"), 1)),
    );
    let err = eleven.send().await.unwrap_err();
    assert!(
        err.message()
            .unwrap_or("")
            .contains("less than or equal to 10"),
        "{err:?}"
    );
    let err = events
        .put_events()
        .tracking_id("no-such-tracker")
        .session_id("s")
        .event_list(event("click", "i1", 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"), "{err:?}");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    assert_eq!(
        server
            .store
            .count_records(&group, DatasetType::Interactions)
            .await
            .unwrap(),
        3
    );
}

/// PutUsers, PutItems and PutActions insert or replace by ID; PutActionInteractions appends
/// to the Action_Interactions dataset its own tracking ID names.
#[tokio::test]
async fn put_users_items_actions_and_action_interactions() {
    let server = start(Duration::ZERO, false).await;
    let c = &server.client;
    let events = events_client(&server.endpoint);
    let group = create_active_group(&server, "metadata").await;
    let users = create_dataset(c, &group, "Users", "users").await;
    let items = create_dataset(c, &group, "Items", "items").await;
    let action_interactions =
        create_dataset(c, &group, "Action_Interactions", "action_interactions").await;

    let user = |id: &str, props: &str| User::builder().user_id(id).properties(props).build();
    events
        .put_users()
        .dataset_arn(&users)
        .users(user("u1", r#"{"age": 30, "membership": "gold"}"#).unwrap())
        .users(user("u2", r#"{"MEMBERSHIP": "free"}"#).unwrap())
        .send()
        .await
        .unwrap();
    events
        .put_users()
        .dataset_arn(&users)
        .users(user("u1", r#"{"age": 31, "membership": "gold"}"#).unwrap())
        .send()
        .await
        .unwrap();
    let row = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        sorted_records(&server, &group, DatasetType::Users).await,
        vec![row(&["u1", "31", "gold"]), row(&["u2", "", "free"])]
    );
    // MEMBERSHIP is required.
    let err = events
        .put_users()
        .dataset_arn(&users)
        .users(user("u3", r#"{"age": 1}"#).unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidInputException"));
    assert!(err
        .message()
        .unwrap()
        .contains("users.1.member: the field MEMBERSHIP"));
    // Users go to a Users dataset only.
    let err = events
        .put_users()
        .dataset_arn(&items)
        .users(user("u3", r#"{"membership": "x"}"#).unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidInputException"), "{err:?}");
    let err = events
        .put_users()
        .dataset_arn(users.replace("metadata", "no-such-group"))
        .users(user("u3", r#"{"membership": "x"}"#).unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"), "{err:?}");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);

    events
        .put_items()
        .dataset_arn(&items)
        .items(
            Item::builder()
                .item_id("i1")
                .properties(r#"{"category": "shoes", "creationTimestamp": 1700000000}"#)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted_records(&server, &group, DatasetType::Items).await,
        vec![row(&["i1", "shoes", "1700000000"])]
    );

    // PutActions needs an Actions dataset: the group has none.
    let actions = items.replace("/ITEMS", "/ACTIONS");
    let err = events
        .put_actions()
        .dataset_arn(&actions)
        .actions(Action::builder().action_id("a1").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"), "{err:?}");
    let schema = c
        .create_schema()
        .name("metadata-actions")
        .schema(
            r#"{"type": "record", "name": "Actions", "namespace": "com.amazonaws.personalize.schema",
                "fields": [{"name": "ACTION_ID", "type": "string"}, {"name": "VALUE", "type": ["null", "int"]}],
                "version": "1.0"}"#,
        )
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    let created = c
        .create_dataset()
        .name("metadata-actions")
        .dataset_group_arn(&group)
        .dataset_type("Actions")
        .schema_arn(schema)
        .send()
        .await
        .unwrap()
        .dataset_arn
        .unwrap();
    assert_eq!(created, actions);
    for value in ["1", "2"] {
        events
            .put_actions()
            .dataset_arn(&actions)
            .actions(
                Action::builder()
                    .action_id("a1")
                    .properties(format!(r#"{{"value": {value}}}"#))
                    .build()
                    .unwrap(),
            )
            .actions(
                Action::builder()
                    .action_id(format!("a{value}0"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        sorted_records(&server, &group, DatasetType::Actions).await,
        vec![row(&["a1", "2"]), row(&["a10", ""]), row(&["a20", ""])]
    );

    let tracking_id = c
        .describe_dataset()
        .dataset_arn(&action_interactions)
        .send()
        .await
        .unwrap()
        .dataset
        .unwrap()
        .tracking_id
        .expect("an Action_Interactions dataset has a tracking ID");
    events
        .put_action_interactions()
        .tracking_id(&tracking_id)
        .action_interactions(
            ActionInteraction::builder()
                .action_id("a1")
                .user_id("u1")
                .session_id("s1")
                .timestamp(DateTime::from_secs(1_700_000_300))
                .event_type("Taken")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sorted_records(&server, &group, DatasetType::ActionInteractions).await,
        vec![row(&["u1", "a1", "1700000300", "Taken"])]
    );
}

/// Records put one by one are exported by `ingestionMode` apart from imported ones, and a
/// deletion job purges both: `numDeleted` counts them all.
#[tokio::test]
async fn exports_tell_puts_apart_and_deletion_purges_both() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let events = events_client(&server.endpoint);
    let group = create_active_group(&server, "mixed").await;
    let dataset = create_dataset(c, &group, "Interactions", "interactions").await;
    let tracking_id = c
        .create_event_tracker()
        .name("mixed-tracker")
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap()
        .tracking_id
        .unwrap();
    // Bulk: three users, two records each.
    server
        .s3
        .put(
            "mixed/bulk.csv",
            "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1,view\nu1,i2,2,view\nu2,i1,3,view\nu2,i3,4,view\nu3,i1,5,view\nu3,i2,6,view\n",
        )
        .await;
    let import = c
        .create_dataset_import_job()
        .job_name("mixed-bulk")
        .dataset_arn(&dataset)
        .data_source(
            DataSource::builder()
                .data_location(server.s3.location("mixed/bulk.csv"))
                .build(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    assert_eq!(crate::processes::wait_import(c, &import).await, "ACTIVE");
    // Put: u1 and u4 click.
    for (user, n) in [("u1", 3), ("u4", 2)] {
        let mut put = events
            .put_events()
            .tracking_id(&tracking_id)
            .user_id(user)
            .session_id(format!("{user}-session"));
        for i in 0..n {
            put = put.event_list(event("click", &format!("p{i}"), 100 + i));
        }
        put.send().await.unwrap();
    }

    let mut lines = Vec::new();
    for mode in ["PUT", "BULK", "ALL"] {
        let name = format!("mixed-{}", mode.to_lowercase());
        let job =
            crate::api_jobs::export(c, &name, &dataset, &server.s3.location("mixed/out/"), mode)
                .await;
        assert_eq!(job.status.as_deref(), Some("ACTIVE"), "{job:?}");
        let body = crate::api_jobs::get(&server, &format!("mixed/out/{name}.csv")).await;
        let mut rows: Vec<String> = body.lines().skip(1).map(str::to_owned).collect();
        rows.sort();
        lines.push(rows);
    }
    let clicks = |user: &str, n: i64| -> Vec<String> {
        (0..n)
            .map(|i| format!("{user},p{i},{},click", 100 + i))
            .collect()
    };
    let mut puts = clicks("u1", 3);
    puts.extend(clicks("u4", 2));
    assert_eq!(lines[0], puts);
    assert_eq!(lines[1].len(), 6);
    assert!(lines[1].iter().all(|l| l.ends_with(",view")));
    assert_eq!(lines[2].len(), 11);

    // Deleting u1 (2 bulk + 3 put) and u4 (2 put): 7 records.
    server.s3.put("mixed/forget.csv", "USER_ID\nu1\nu4\n").await;
    let job = c
        .create_data_deletion_job()
        .job_name("mixed-forget")
        .dataset_group_arn(&group)
        .data_source(
            DataSource::builder()
                .data_location(server.s3.location("mixed/forget.csv"))
                .build(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    let job = crate::api::wait_job(c, &job).await;
    assert_eq!(job.status.as_deref(), Some("COMPLETED"), "{job:?}");
    assert_eq!(job.num_deleted, Some(7));
    let left = server
        .store
        .records(&group, DatasetType::Interactions)
        .await
        .unwrap();
    assert_eq!(left.len(), 4);
    assert!(
        left.iter().all(|r| r[0] == "u2" || r[0] == "u3"),
        "{left:?}"
    );
}

/// UpdateDataset replaces a schema with a compatible one (records keep their values by
/// field name, null in an added field), and ends CREATE FAILED, naming the field, for one
/// that does not fit; DescribeDataset shows it as `latestDatasetUpdate`.
#[tokio::test]
async fn update_dataset_replaces_a_compatible_schema() {
    let server = start(Duration::from_millis(300), false).await;
    let c = &server.client;
    let events = events_client(&server.endpoint);
    let group = create_active_group(&server, "updates").await;
    let users = create_dataset(c, &group, "Users", "users").await;
    let describe = || async {
        c.describe_dataset()
            .dataset_arn(&users)
            .send()
            .await
            .unwrap()
            .dataset
            .unwrap()
    };
    while describe().await.status.as_deref() != Some("ACTIVE") {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    events
        .put_users()
        .dataset_arn(&users)
        .users(
            User::builder()
                .user_id("u1")
                .properties(r#"{"age": 30, "membership": "gold"}"#)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let schema = |name: &str, fields: &str| {
        let body = format!(
            r#"{{"type": "record", "name": "Users", "namespace": "com.amazonaws.personalize.schema", "fields": [{fields}], "version": "1.0"}}"#
        );
        let name = name.to_owned();
        async move {
            c.create_schema()
                .name(name)
                .schema(body)
                .send()
                .await
                .unwrap()
                .schema_arn
                .unwrap()
        }
    };
    let v2 = schema(
        "users-v2",
        r#"{"name": "USER_ID", "type": "string"}, {"name": "MEMBERSHIP", "type": "string"},
           {"name": "AGE", "type": ["int", "null"]}, {"name": "CITY", "type": ["null", "string"]}"#,
    )
    .await;
    let out = c
        .update_dataset()
        .dataset_arn(&users)
        .schema_arn(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(out.dataset_arn.as_deref(), Some(users.as_str()));
    assert_err(
        c.update_dataset()
            .dataset_arn(&users)
            .schema_arn(&v2)
            .send()
            .await,
        |e| e.is_resource_in_use_exception(),
        "wait until it ends",
    );
    let mut statuses = Vec::new();
    let done = loop {
        let d = describe().await;
        let latest = d.latest_dataset_update.clone().unwrap();
        let status = latest.status.clone().unwrap();
        if statuses.last() != Some(&status) {
            statuses.push(status.clone());
        }
        if status == "ACTIVE" {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(statuses, ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]);
    assert_eq!(done.schema_arn.as_deref(), Some(v2.as_str()));
    let latest = done.latest_dataset_update.unwrap();
    assert_eq!(latest.schema_arn.as_deref(), Some(v2.as_str()));
    assert_eq!(latest.failure_reason, None);
    let row = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        sorted_records(&server, &group, DatasetType::Users).await,
        vec![row(&["u1", "gold", "30", ""])]
    );
    // The added field takes values from then on.
    events
        .put_users()
        .dataset_arn(&users)
        .users(
            User::builder()
                .user_id("u2")
                .properties(r#"{"membership": "free", "city": "Lyon"}"#)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // Schemas that do not fit: the update fails, naming the field; nothing changes.
    for (name, fields, field) in [
        (
            "users-v3",
            r#"{"name": "USER_ID", "type": "string"}, {"name": "MEMBERSHIP", "type": "string"},
               {"name": "AGE", "type": ["int", "null"]}"#,
            "CITY",
        ),
        (
            "users-v4",
            r#"{"name": "USER_ID", "type": "string"}, {"name": "MEMBERSHIP", "type": "string"},
               {"name": "AGE", "type": ["long", "null"]}, {"name": "CITY", "type": ["null", "string"]}"#,
            "AGE",
        ),
        (
            "users-v5",
            r#"{"name": "USER_ID", "type": "string"}, {"name": "MEMBERSHIP", "type": "string"},
               {"name": "AGE", "type": ["int", "null"]}, {"name": "CITY", "type": ["null", "string"]},
               {"name": "SHOE_SIZE", "type": "int"}"#,
            "SHOE_SIZE",
        ),
    ] {
        let bad = schema(name, fields).await;
        c.update_dataset()
            .dataset_arn(&users)
            .schema_arn(&bad)
            .send()
            .await
            .unwrap();
        let failed = loop {
            let d = describe().await;
            let latest = d.latest_dataset_update.clone().unwrap();
            if latest.status.as_deref() == Some("CREATE FAILED") {
                break d;
            }
            assert_ne!(latest.status.as_deref(), Some("ACTIVE"), "{latest:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let reason = failed
            .latest_dataset_update
            .unwrap()
            .failure_reason
            .unwrap();
        assert!(reason.contains(field) && reason.contains(&bad), "{reason}");
        assert_eq!(failed.schema_arn.as_deref(), Some(v2.as_str()));
    }
    assert_eq!(
        sorted_records(&server, &group, DatasetType::Users).await,
        vec![
            row(&["u1", "gold", "30", ""]),
            row(&["u2", "free", "", "Lyon"])
        ]
    );
    assert_err(
        c.update_dataset()
            .dataset_arn(&users)
            .schema_arn(v2.replace("users-v2", "no-such-schema"))
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        "does not exist",
    );
}
