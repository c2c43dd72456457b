//! Every operation of the `personalize`, `personalize-runtime` and `personalize-events`
//! models, called through the real Rust SDKs with an empty request: each is answered by this
//! server, with a result or a modeled client error, never `UnknownOperationException` and
//! never a server error. The same check runs through boto3 in `.ci/smoke_serving.py`.

use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_personalize::error::{ProvideErrorMetadata, SdkError};

use crate::api::{client, raw, start};
use crate::events::events_client;
use crate::runtime::runtime_client;

/// What the server said to one empty request: `None` when answered with a result or a
/// modeled client error, otherwise what is wrong.
fn wrong<O, E: ProvideErrorMetadata + Debug>(
    op: &str,
    r: Result<O, SdkError<E>>,
) -> Option<String> {
    let e = match r {
        Ok(_) => return None,
        Err(e) => e,
    };
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned);
    match (status, code) {
        (Some(s), Some(c)) if s < 500 && c != "UnknownOperationException" => None,
        (s, c) => Some(format!("{op}: status {s:?}, code {c:?}: {e:?}")),
    }
}

/// Calls each named operation of `client` with an empty request; pushes what is wrong.
macro_rules! each {
    ($client:expr, $wrong:expr, $count:expr, [$($op:ident),* $(,)?]) => {{
        $(
            $count += 1;
            if let Some(w) = wrong(stringify!($op), $client.$op().send().await) {
                $wrong.push(w);
            }
        )*
    }};
}

#[tokio::test]
async fn every_operation_of_the_three_models_is_answered() {
    let server = start(Duration::ZERO, false).await;
    let p = client(&server.endpoint);
    let r = runtime_client(&server.endpoint);
    let e = events_client(&server.endpoint);
    let mut bad: Vec<String> = Vec::new();
    let mut count = 0;
    each!(
        p,
        bad,
        count,
        [
            create_batch_inference_job,
            create_batch_segment_job,
            create_campaign,
            create_data_deletion_job,
            create_dataset,
            create_dataset_export_job,
            create_dataset_group,
            create_dataset_import_job,
            create_event_tracker,
            create_filter,
            create_metric_attribution,
            create_recommender,
            create_schema,
            create_solution,
            create_solution_version,
            delete_campaign,
            delete_dataset,
            delete_dataset_group,
            delete_event_tracker,
            delete_filter,
            delete_metric_attribution,
            delete_recommender,
            delete_schema,
            delete_solution,
            describe_algorithm,
            describe_batch_inference_job,
            describe_batch_segment_job,
            describe_campaign,
            describe_data_deletion_job,
            describe_dataset,
            describe_dataset_export_job,
            describe_dataset_group,
            describe_dataset_import_job,
            describe_event_tracker,
            describe_feature_transformation,
            describe_filter,
            describe_metric_attribution,
            describe_recipe,
            describe_recommender,
            describe_schema,
            describe_solution,
            describe_solution_version,
            get_solution_metrics,
            list_batch_inference_jobs,
            list_batch_segment_jobs,
            list_campaigns,
            list_data_deletion_jobs,
            list_dataset_export_jobs,
            list_dataset_groups,
            list_dataset_import_jobs,
            list_datasets,
            list_event_trackers,
            list_filters,
            list_metric_attribution_metrics,
            list_metric_attributions,
            list_recipes,
            list_recommenders,
            list_schemas,
            list_solution_versions,
            list_solutions,
            list_tags_for_resource,
            start_recommender,
            stop_recommender,
            stop_solution_version_creation,
            tag_resource,
            untag_resource,
            update_campaign,
            update_dataset,
            update_metric_attribution,
            update_recommender,
            update_solution,
        ]
    );
    each!(
        r,
        bad,
        count,
        [
            get_action_recommendations,
            get_personalized_ranking,
            get_recommendations,
        ]
    );
    each!(
        e,
        bad,
        count,
        [
            put_action_interactions,
            put_actions,
            put_events,
            put_items,
            put_users,
        ]
    );
    assert_eq!(count, 79, "the three models' operations");
    assert!(
        bad.is_empty(),
        "{} of {count} operations:\n{}",
        bad.len(),
        bad.join("\n")
    );

    // What the check looks for exists: an operation no model has is refused as unknown.
    let (status, _, body) = raw(
        &server.endpoint,
        Some("AmazonPersonalize.DescribeNothing"),
        "{}",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("UnknownOperationException"), "{body}");
}
