//! CreateBatchInferenceJob, DescribeBatchInferenceJob, ListBatchInferenceJobs,
//! CreateBatchSegmentJob, DescribeBatchSegmentJob, ListBatchSegmentJobs. Jobs are run by the
//! worker ([`crate::worker`]) through [`crate::batch::run`]; their statuses are `PENDING`,
//! `IN PROGRESS`, then `ACTIVE` or `CREATE FAILED`.

use serde_json::{json, Map};

use super::{filter, jobs, solution, solution_version, tagging, OpResult};
use crate::api::error::ApiError;
use crate::api::input::{Input, ARN, NAME, ROLE_ARN, S3_LOCATION};
use crate::api::AppState;
use crate::jobs::{Job, JobKind, JobSpec, JobStatus};
use crate::store::ArnScope;
use crate::train::catalog;

/// `member.s3DataSource.path` or `member.s3DataDestination.path`, required.
fn path(input: &Input, member: &str, inner: &str) -> Result<String, ApiError> {
    let missing =
        |m: &str| ApiError::invalid_input(format!("the required member '{m}' is missing"));
    let outer = input.opt_object(member)?.ok_or_else(|| missing(member))?;
    let inner_obj = outer
        .opt_object(inner)?
        .ok_or_else(|| missing(&format!("{member}.{inner}")))?;
    inner_obj
        .opt_str("path", 0, 256, Some(&S3_LOCATION))?
        .ok_or_else(|| missing(&format!("{member}.{inner}.path")))
}

async fn create(state: &AppState, scope: &ArnScope, input: &Input, kind: JobKind) -> OpResult {
    let job_name = input.req_str("jobName", 1, 63, Some(&NAME))?;
    let version = input.req_str("solutionVersionArn", 0, 256, Some(&ARN))?;
    let role_arn = input.req_str("roleArn", 0, 256, Some(&ROLE_ARN))?;
    let filter_arn = input.opt_str("filterArn", 0, 256, Some(&ARN))?;
    let max = if kind == JobKind::BatchSegment {
        5_000_000
    } else {
        500
    };
    let num_results = input.opt_int("numResults", 1, max)?;
    let input_path = path(input, "jobInput", "s3DataSource")?;
    let output_path = path(input, "jobOutput", "s3DataDestination")?;
    let mode = match kind {
        JobKind::BatchInference => Some(
            input
                .opt_enum(
                    "batchInferenceJobMode",
                    &["BATCH_INFERENCE", "THEME_GENERATION"],
                )?
                .unwrap_or_else(|| "BATCH_INFERENCE".to_owned()),
        ),
        _ => None,
    };
    if mode.as_deref() == Some("THEME_GENERATION") {
        return Err(ApiError::invalid_input(
            "batchInferenceJobMode THEME_GENERATION (themes written by a generative model) is not offered by personalize-local",
        ));
    }
    let tags = tagging::creation_tags(input)?;
    let job = solution_version::find(state, &version).await?;
    if job.status != JobStatus::Succeeded {
        return Err(ApiError::in_use(format!(
            "the solution version {version} is {}; a batch job needs it ACTIVE",
            job.service_status()
        )));
    }
    let sol = solution::find(state, job.spec.target_arn()).await?;
    let recipe = catalog::recipe(sol.body["recipeArn"].as_str().unwrap_or_default())
        .ok_or_else(|| ApiError::invalid_input("the solution's recipe is unknown"))?;
    let segments = recipe.recipe_type == "USER_SEGMENTATION";
    let allowed = match kind {
        JobKind::BatchSegment => segments,
        _ => {
            !segments
                && recipe.recipe_type != "PERSONALIZED_ACTIONS"
                && recipe.name != "aws-trending-now"
        }
    };
    if !allowed {
        return Err(ApiError::invalid_input(format!(
            "a {} cannot use a version of {} ({})",
            kind.describe(),
            recipe.name,
            recipe.recipe_type
        )));
    }
    if let Some(f) = &filter_arn {
        let f = filter::find(state, f).await?;
        if f.body["datasetGroupArn"] != sol.body["datasetGroupArn"] {
            return Err(ApiError::invalid_input(format!(
                "the filter {} belongs to another dataset group than the solution's",
                f.arn
            )));
        }
    }
    let mut request = Map::new();
    request.insert(
        "jobInput".into(),
        json!({ "s3DataSource": { "path": input_path } }),
    );
    request.insert(
        "jobOutput".into(),
        json!({ "s3DataDestination": { "path": output_path } }),
    );
    if let Some(f) = filter_arn {
        request.insert("filterArn".into(), json!(f));
    }
    if let Some(n) = num_results {
        request.insert("numResults".into(), json!(n));
    }
    if let Some(m) = mode {
        request.insert("batchInferenceJobMode".into(), json!(m));
    }
    if let Some(c) = input
        .raw("batchInferenceJobConfig")
        .filter(|_| kind == JobKind::BatchInference)
    {
        request.insert("batchInferenceJobConfig".into(), c.clone());
    }
    let spec = JobSpec::Batch {
        kind,
        solution_version_arn: version,
        request: request.into(),
    };
    let mut job = Job::new(scope.job_arn(kind, &job_name), &job_name, spec);
    job.role_arn = Some(role_arn);
    jobs::create(state, job, tags).await
}

/// CreateBatchInferenceJob.
pub async fn create_inference(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    create(state, scope, input, JobKind::BatchInference).await
}

/// CreateBatchSegmentJob.
pub async fn create_segment(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    create(state, scope, input, JobKind::BatchSegment).await
}

/// DescribeBatchInferenceJob, DescribeBatchSegmentJob.
pub async fn describe(state: &AppState, input: &Input, kind: JobKind) -> OpResult {
    jobs::describe(state, kind, input).await
}

/// ListBatchInferenceJobs, ListBatchSegmentJobs: newest first, of one solution version or of
/// the account and region.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input, kind: JobKind) -> OpResult {
    jobs::list(state, scope, kind, "solutionVersionArn", input).await
}
