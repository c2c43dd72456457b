//! One file per resource; [`call`] routes an operation name to its handler.

pub mod batch_job;
pub mod campaign;
pub mod data_deletion_job;
pub mod dataset;
pub mod dataset_export_job;
pub mod dataset_group;
pub mod dataset_import_job;
pub mod event_tracker;
pub mod filter;
pub mod jobs;
pub mod metric_attribution;
pub mod recipe;
pub mod recommender;
pub mod schema;
pub mod solution;
pub mod solution_version;
pub mod tagging;

use serde_json::Value;

use super::error::ApiError;
use super::input::Input;
use super::AppState;
use crate::jobs::{now_epoch, JobKind};
use crate::store::arn::resource_type;
use crate::store::ArnScope;

/// The result of an operation: the output shape as JSON.
pub type OpResult = Result<Value, ApiError>;

/// Runs `operation` (the part of `X-Amz-Target` after `AmazonPersonalize.`).
pub async fn call(state: &AppState, operation: &str, scope: &ArnScope, input: &Input) -> OpResult {
    in_scope(scope, input)?;
    match operation {
        "CreateDatasetGroup" => dataset_group::create(state, scope, input).await,
        "DescribeDatasetGroup" => dataset_group::describe(state, input).await,
        "ListDatasetGroups" => dataset_group::list(state, scope, input).await,
        "DeleteDatasetGroup" => dataset_group::delete(state, input).await,
        "CreateSchema" => schema::create(state, scope, input).await,
        "DescribeSchema" => schema::describe(state, input).await,
        "ListSchemas" => schema::list(state, scope, input).await,
        "DeleteSchema" => schema::delete(state, input).await,
        "CreateDataset" => dataset::create(state, input).await,
        "DescribeDataset" => dataset::describe(state, input).await,
        "ListDatasets" => dataset::list(state, scope, input).await,
        "DeleteDataset" => dataset::delete(state, input).await,
        "UpdateDataset" => dataset::update(state, input).await,
        "CreateDataDeletionJob" => data_deletion_job::create(state, scope, input).await,
        "DescribeDataDeletionJob" => data_deletion_job::describe(state, input).await,
        "ListDataDeletionJobs" => data_deletion_job::list(state, scope, input).await,
        "CreateDatasetImportJob" => dataset_import_job::create(state, scope, input).await,
        "DescribeDatasetImportJob" => dataset_import_job::describe(state, input).await,
        "ListDatasetImportJobs" => dataset_import_job::list(state, scope, input).await,
        "CreateDatasetExportJob" => dataset_export_job::create(state, scope, input).await,
        "DescribeDatasetExportJob" => dataset_export_job::describe(state, input).await,
        "ListDatasetExportJobs" => dataset_export_job::list(state, scope, input).await,
        "CreateEventTracker" => event_tracker::create(state, scope, input).await,
        "DescribeEventTracker" => event_tracker::describe(state, input).await,
        "ListEventTrackers" => event_tracker::list(state, scope, input).await,
        "DeleteEventTracker" => event_tracker::delete(state, input).await,
        "CreateSolution" => solution::create(state, scope, input).await,
        "DescribeSolution" => solution::describe(state, input).await,
        "ListSolutions" => solution::list(state, scope, input).await,
        "UpdateSolution" => solution::update(state, input).await,
        "DeleteSolution" => solution::delete(state, input).await,
        "CreateSolutionVersion" => solution_version::create(state, input).await,
        "DescribeSolutionVersion" => solution_version::describe(state, input).await,
        "ListSolutionVersions" => solution_version::list(state, scope, input).await,
        "GetSolutionMetrics" => solution_version::metrics(state, input).await,
        "StopSolutionVersionCreation" => solution_version::stop(state, input).await,
        "CreateCampaign" => campaign::create(state, scope, input).await,
        "DescribeCampaign" => campaign::describe(state, input).await,
        "ListCampaigns" => campaign::list(state, scope, input).await,
        "UpdateCampaign" => campaign::update(state, input).await,
        "DeleteCampaign" => campaign::delete(state, input).await,
        "CreateFilter" => filter::create(state, scope, input).await,
        "DescribeFilter" => filter::describe(state, input).await,
        "ListFilters" => filter::list(state, scope, input).await,
        "DeleteFilter" => filter::delete(state, input).await,
        "CreateRecommender" => recommender::create(state, scope, input).await,
        "DescribeRecommender" => recommender::describe(state, input).await,
        "ListRecommenders" => recommender::list(state, scope, input).await,
        "UpdateRecommender" => recommender::update(state, input).await,
        "StartRecommender" => recommender::start_or_stop(state, input, false).await,
        "StopRecommender" => recommender::start_or_stop(state, input, true).await,
        "DeleteRecommender" => recommender::delete(state, input).await,
        "CreateBatchInferenceJob" => batch_job::create_inference(state, scope, input).await,
        "DescribeBatchInferenceJob" => {
            batch_job::describe(state, input, JobKind::BatchInference).await
        }
        "ListBatchInferenceJobs" => {
            batch_job::list(state, scope, input, JobKind::BatchInference).await
        }
        "CreateBatchSegmentJob" => batch_job::create_segment(state, scope, input).await,
        "DescribeBatchSegmentJob" => batch_job::describe(state, input, JobKind::BatchSegment).await,
        "ListBatchSegmentJobs" => batch_job::list(state, scope, input, JobKind::BatchSegment).await,
        "CreateMetricAttribution" => metric_attribution::create(state, scope, input).await,
        "DescribeMetricAttribution" => metric_attribution::describe(state, input).await,
        "ListMetricAttributions" => metric_attribution::list(state, scope, input).await,
        "ListMetricAttributionMetrics" => metric_attribution::list_metrics(state, input).await,
        "UpdateMetricAttribution" => metric_attribution::update(state, input).await,
        "DeleteMetricAttribution" => metric_attribution::delete(state, input).await,
        "ListRecipes" => recipe::list(input).await,
        "DescribeRecipe" => recipe::describe(input).await,
        "DescribeAlgorithm" => recipe::describe_algorithm(input).await,
        "DescribeFeatureTransformation" => recipe::describe_feature_transformation(input).await,
        "TagResource" => tagging::tag_resource(state, input).await,
        "UntagResource" => tagging::untag_resource(state, input).await,
        "ListTagsForResource" => tagging::list_tags_for_resource(state, input).await,
        _ => Err(ApiError::unknown_operation(format!(
            "the operation {operation} is not supported by personalize-local"
        ))),
    }
}

/// The members that name Personalize resources by ARN.
const ARN_MEMBERS: [&str; 16] = [
    "datasetGroupArn",
    "metricAttributionArn",
    "batchInferenceJobArn",
    "batchSegmentJobArn",
    "recommenderArn",
    "campaignArn",
    "filterArn",
    "solutionArn",
    "solutionVersionArn",
    "datasetArn",
    "schemaArn",
    "dataDeletionJobArn",
    "datasetImportJobArn",
    "datasetExportJobArn",
    "eventTrackerArn",
    "resourceArn",
];

/// Refuses ARNs of another region or account than the request's, as AWS does: a region's
/// endpoint finds only that region's resources of the caller's account, whatever the store
/// holds under other ARNs (`ResourceNotFoundException`, before anything is read or written).
pub(crate) fn in_scope(scope: &ArnScope, input: &Input) -> Result<(), ApiError> {
    let prefix = scope.prefix();
    for member in ARN_MEMBERS {
        let Some(arn) = input.raw_str(member) else {
            continue;
        };
        if arn.starts_with("arn:aws:personalize:") && !arn.starts_with(&prefix) {
            let kind = resource_type(arn).unwrap_or("resource").replace('-', " ");
            return Err(ApiError::not_found(format!(
                "the {kind} {arn} does not exist"
            )));
        }
    }
    Ok(())
}

/// `ACTIVE`: the status a group or dataset must have before it may be used.
pub const ACTIVE: &str = "ACTIVE";

/// The status of a resource created at `created` (epoch seconds), and when it last changed.
/// It is derived from the resource's age: `CREATE PENDING` for the first half of the
/// configured transition time, `CREATE IN_PROGRESS` for the second, then `ACTIVE`, so a poller
/// sees every step, and a restart changes nothing.
pub fn lifecycle(state: &AppState, created: f64) -> (&'static str, f64) {
    let t = state.config.transition.as_secs_f64();
    let elapsed = now_epoch() - created;
    if t <= 0.0 || elapsed >= t {
        (ACTIVE, created + t.max(0.0))
    } else if elapsed >= t / 2.0 {
        ("CREATE IN_PROGRESS", created + t / 2.0)
    } else {
        ("CREATE PENDING", created)
    }
}
