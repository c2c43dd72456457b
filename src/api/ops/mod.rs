//! One file per resource; [`call`] routes an operation name to its handler.

pub mod data_deletion_job;
pub mod dataset_group;

use serde_json::Value;

use super::error::ApiError;
use super::input::Input;
use super::AppState;
use crate::job::ArnScope;

/// The result of an operation: the output shape as JSON.
pub type OpResult = Result<Value, ApiError>;

/// Runs `operation` (the part of `X-Amz-Target` after `AmazonPersonalize.`).
pub async fn call(state: &AppState, operation: &str, scope: &ArnScope, input: &Input) -> OpResult {
    match operation {
        "CreateDatasetGroup" => dataset_group::create(state, scope, input).await,
        "DescribeDatasetGroup" => dataset_group::describe(state, input).await,
        "ListDatasetGroups" => dataset_group::list(state, scope, input).await,
        "DeleteDatasetGroup" => dataset_group::delete(state, input).await,
        "CreateDataDeletionJob" => data_deletion_job::create(state, scope, input).await,
        "DescribeDataDeletionJob" => data_deletion_job::describe(state, input).await,
        "ListDataDeletionJobs" => data_deletion_job::list(state, scope, input).await,
        _ => Err(ApiError::unknown_operation(format!(
            "the operation {operation} is not supported by personalize-local"
        ))),
    }
}

/// The ARN prefix of everything in a scope, for listings limited to one account and region.
pub fn scope_prefix(scope: &ArnScope) -> String {
    format!("arn:aws:personalize:{}:{}:", scope.region, scope.account)
}

/// Tags given at creation: at most 50 per resource (the service's limit).
pub fn check_tag_count(tags: &[(String, String)]) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::too_many_tags(format!(
            "{} tags were given; a resource can have at most 50",
            tags.len()
        )));
    }
    Ok(())
}
