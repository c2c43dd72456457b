//! Recommenders on a domain dataset group through the real Rust SDKs: each use case trains
//! its own model from the events it needs (too few of them fail it with a reason), answers
//! GetRecommendations by `recommenderArn`, stops and starts, updates, retrains on its
//! period, and is deleted.

use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::types::{Domain, RecommenderConfig};
use aws_sdk_personalize::Client;
use futures::StreamExt;
use personalize_local::api::ApiConfig;
use personalize_local::model::auto::AutoTraining;
use personalize_local::source::S3Location;
use personalize_local::store::DatasetType;
use personalize_local::worker::WorkerConfig;

use crate::api::{start_with_worker, wait_group_status, Server};
use crate::runtime::{runtime_client, PLANTED};

const ECOMMERCE_INTERACTIONS: &str = r#"{"type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema", "fields": [
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"}
  ], "version": "1.0"}"#;

/// An ECOMMERCE group whose interactions are the planted ones as `View` events, and a few
/// `Purchase` events (too few for the purchase use cases).
async fn ecommerce_group(server: &Server) -> String {
    let c = &server.client;
    let group = c
        .create_dataset_group()
        .name("shop")
        .domain(Domain::Ecommerce)
        .send()
        .await
        .unwrap()
        .dataset_group_arn
        .unwrap();
    wait_group_status(server, &group, "ACTIVE").await;
    let schema = c
        .create_schema()
        .name("shop-interactions")
        .domain(Domain::Ecommerce)
        .schema(ECOMMERCE_INTERACTIONS)
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    c.create_dataset()
        .name("shop-interactions")
        .dataset_group_arn(&group)
        .dataset_type("Interactions")
        .schema_arn(schema)
        .send()
        .await
        .unwrap();
    let mut csv = String::from("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n");
    for (u, i, t) in PLANTED.rows() {
        csv += &format!("{u},{i},{t},View\n");
    }
    for k in 0..50 {
        csv += &format!("u{k},i{k},1800000000,Purchase\n");
    }
    server.s3.put("shop/interactions.csv", csv).await;
    let location = S3Location::parse(&server.s3.location("shop/interactions.csv")).unwrap();
    personalize_local::import::import_dataset(
        server.store.as_ref(),
        server.s3.source(),
        &group,
        DatasetType::Interactions,
        &location,
        &personalize_local::import::ImportOptions::default(),
    )
    .await
    .unwrap();
    group
}

async fn create(c: &Client, group: &str, name: &str, use_case: &str) -> String {
    c.create_recommender()
        .name(name)
        .dataset_group_arn(group)
        .recipe_arn(format!("arn:aws:personalize:::recipe/{use_case}"))
        .recommender_config(
            RecommenderConfig::builder()
                .enable_metadata_with_recommendations(false)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .recommender_arn
        .unwrap()
}

async fn wait(c: &Client, arn: &str, done: &[&str]) -> aws_sdk_personalize::types::Recommender {
    for _ in 0..1500 {
        let r = c
            .describe_recommender()
            .recommender_arn(arn)
            .send()
            .await
            .unwrap();
        let r = r.recommender.unwrap();
        if done.contains(&r.status().unwrap()) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the recommender {arn} did not reach {done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommenders_train_their_use_case_and_answer() {
    let worker = WorkerConfig {
        auto_training: Some(AutoTraining {
            check: Duration::from_millis(200),
            period: Some(Duration::from_secs(2)),
        }),
        ..WorkerConfig::default()
    };
    let config = ApiConfig {
        transition: Duration::from_millis(100),
        ..ApiConfig::default()
    };
    let server = start_with_worker(config, Some(worker)).await;
    let c = &server.client;
    let r = runtime_client(&server.endpoint);
    let group = ecommerce_group(&server).await;

    let for_you = create(c, &group, "for-you", "aws-ecomm-recommended-for-you").await;
    let viewed = create(c, &group, "viewed", "aws-ecomm-popular-items-by-views").await;
    let also = create(
        c,
        &group,
        "also",
        "aws-ecomm-customers-who-viewed-x-also-viewed",
    )
    .await;
    let bought = create(c, &group, "bought", "aws-ecomm-popular-items-by-purchases").await;
    for arn in [&for_you, &viewed, &also] {
        let d = wait(c, arn, &["ACTIVE", "CREATE FAILED"]).await;
        assert_eq!(
            d.status(),
            Some("ACTIVE"),
            "{arn}: {:?}",
            d.failure_reason()
        );
        assert!(d.model_metrics().unwrap().contains_key("coverage"), "{d:?}");
    }
    // 50 purchases are too few for a purchase use case.
    let d = wait(c, &bought, &["ACTIVE", "CREATE FAILED"]).await;
    assert_eq!(d.status(), Some("CREATE FAILED"));
    let why = d.failure_reason().unwrap();
    assert!(
        why.contains("50 interactions of event type Purchase") && why.contains("at least 1000"),
        "{why}"
    );

    // Each answers by its use case.
    let mine = r
        .get_recommendations()
        .recommender_arn(&for_you)
        .user_id("u2")
        .num_results(10)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = mine
        .item_list()
        .iter()
        .map(|i| i.item_id().unwrap())
        .collect();
    let own = ids
        .iter()
        .filter(|i| i[1..].parse::<usize>().unwrap() % 6 == 2)
        .count();
    assert!(own >= 6, "u2's group first: {ids:?}");
    let popular = r
        .get_recommendations()
        .recommender_arn(&viewed)
        .num_results(5)
        .send()
        .await
        .unwrap();
    assert_eq!(
        popular.item_list().len(),
        5,
        "no user needed for the most viewed"
    );
    let like = r
        .get_recommendations()
        .recommender_arn(&also)
        .item_id("i8")
        .num_results(5)
        .send()
        .await
        .unwrap();
    let like: Vec<&str> = like
        .item_list()
        .iter()
        .map(|i| i.item_id().unwrap())
        .collect();
    assert!(
        like.iter()
            .filter(|i| i[1..].parse::<usize>().unwrap() % 6 == 2)
            .count()
            >= 3,
        "{like:?}"
    );
    let missing = r
        .get_recommendations()
        .recommender_arn(&also)
        .send()
        .await
        .unwrap_err();
    assert!(missing.message().unwrap().contains("itemId is required"));
    let failed = r
        .get_recommendations()
        .recommender_arn(&bought)
        .send()
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Some("InvalidInputException"));

    // Use cases of another domain, and custom groups, are refused.
    let vod = c
        .create_recommender()
        .name("vod")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-vod-top-picks")
        .send()
        .await
        .unwrap_err();
    assert_eq!(vod.code(), Some("InvalidInputException"));
    let listed = c
        .list_recommenders()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.recommenders().len(), 4);

    // Stopped: INACTIVE, no answers, no retraining; started again: ACTIVE.
    c.stop_recommender()
        .recommender_arn(&viewed)
        .send()
        .await
        .unwrap();
    let d = c
        .describe_recommender()
        .recommender_arn(&viewed)
        .send()
        .await
        .unwrap();
    assert_eq!(d.recommender.unwrap().status(), Some("STOP PENDING"));
    wait(c, &viewed, &["INACTIVE"]).await;
    let stopped = r
        .get_recommendations()
        .recommender_arn(&viewed)
        .send()
        .await
        .unwrap_err();
    assert!(
        stopped.message().unwrap().contains("INACTIVE"),
        "{:?}",
        stopped.message()
    );
    let store = server.store.clone();
    let models = |arn: String| {
        let store = store.clone();
        async move {
            let kind = personalize_local::jobs::JobKind::Training;
            store.list_jobs(kind, Some(&arn)).await.unwrap().len()
        }
    };
    // New views arrive: the running ones retrain on their (shortened) period, the stopped
    // one does not.
    let (viewed_before, for_you_before) =
        (models(viewed.clone()).await, models(for_you.clone()).await);
    let mut more = personalize_local::store::RowBatch::new(4);
    for k in 0..20 {
        more.push_row([format!("new{k}").as_str(), "i1", "1900000000", "View"]);
    }
    server
        .store
        .append_records(
            &group,
            DatasetType::Interactions,
            futures::stream::iter(vec![Ok(more)]).boxed(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(models(viewed.clone()).await, viewed_before);
    assert!(
        models(for_you.clone()).await > for_you_before,
        "for-you retrained"
    );
    wait(c, &for_you, &["ACTIVE"]).await;
    c.start_recommender()
        .recommender_arn(&viewed)
        .send()
        .await
        .unwrap();
    wait(c, &viewed, &["ACTIVE"]).await;
    r.get_recommendations()
        .recommender_arn(&viewed)
        .send()
        .await
        .unwrap();
    let again = c
        .start_recommender()
        .recommender_arn(&viewed)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ResourceInUseException"));

    // An update shows as latestRecommenderUpdate.
    c.update_recommender()
        .recommender_arn(&also)
        .recommender_config(
            RecommenderConfig::builder()
                .min_recommendation_requests_per_second(3)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = wait(c, &also, &["ACTIVE"]).await;
    let u = d.latest_recommender_update().unwrap();
    assert_eq!(
        u.recommender_config()
            .unwrap()
            .min_recommendation_requests_per_second(),
        Some(3)
    );
    assert_eq!(
        d.recommender_config()
            .unwrap()
            .min_recommendation_requests_per_second(),
        Some(3)
    );

    // A group with recommenders is not deleted; a deleted recommender answers no more.
    let busy = c
        .delete_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Some("ResourceInUseException"));
    for arn in [&for_you, &viewed, &also, &bought] {
        c.delete_recommender()
            .recommender_arn(arn)
            .send()
            .await
            .unwrap();
    }
    let gone = r
        .get_recommendations()
        .recommender_arn(&also)
        .item_id("i1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}
