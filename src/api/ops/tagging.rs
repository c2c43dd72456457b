//! TagResource, UntagResource, ListTagsForResource, and the tags every Create* operation takes.
//!
//! Tags are kept by the store per resource ARN. The service's rules: at most 50 tags per
//! resource, keys of 1..128 and values of 0..256 characters, and the `aws:` prefix is the
//! service's own.

use serde_json::{json, Value};

use super::OpResult;
use crate::api::error::ApiError;
use crate::api::input::{Input, ARN, TAG};
use crate::api::AppState;
use crate::jobs::JobKind;
use crate::store::arn::resource_type;
use crate::store::{dataset_by_arn, Tags};

/// At most this many tags per resource.
pub const MAX_TAGS: usize = 50;

/// Checks keys and merges repeated ones (the last value wins), keeping first-seen order.
fn merge(mut into: Tags, tags: Tags) -> Result<Tags, ApiError> {
    for (key, value) in tags {
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(ApiError::invalid_input(format!(
                "the tag key {key} uses the prefix aws:, which is reserved for AWS"
            )));
        }
        match into.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => into.push((key, value)),
        }
    }
    Ok(into)
}

fn check_count(tags: &Tags) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::too_many_tags(format!(
            "a resource can have at most {MAX_TAGS} tags; this request would give it {}",
            tags.len()
        )));
    }
    Ok(())
}

/// The optional `tags` of a Create* request, checked: `TooManyTagsException` over 50.
pub fn creation_tags(input: &Input) -> Result<Tags, ApiError> {
    let tags = merge(Vec::new(), input.tags()?)?;
    check_count(&tags)?;
    Ok(tags)
}

/// Answers `ResourceNotFoundException` unless `arn` names an existing dataset group, schema,
/// dataset, dataset import or export job, or data deletion job.
async fn require_resource(state: &AppState, arn: &str) -> Result<(), ApiError> {
    let store = &state.store;
    let job_kind = |t: &str| JobKind::ALL.into_iter().find(|k| k.arn_resource() == t);
    let exists = match resource_type(arn) {
        Some("dataset-group") => store.dataset_group(arn).await?.is_some(),
        Some("schema") => store.schema(arn).await?.is_some(),
        Some("event-tracker") => super::event_tracker::by_arn(state, arn).await?.is_some(),
        Some("dataset") => dataset_by_arn(store.as_ref(), arn).await?.is_some(),
        Some(t) => {
            store.resource(arn).await?.is_some()
                || match job_kind(t) {
                    Some(kind) => store.job(arn).await?.is_some_and(|j| j.kind() == kind),
                    None => false,
                }
        }
        None => false,
    };
    if !exists {
        return Err(ApiError::not_found(format!(
            "the resource {arn} does not exist"
        )));
    }
    Ok(())
}

/// TagResource: adds tags, replacing the values of keys already set.
pub async fn tag_resource(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("resourceArn", 0, 256, Some(&ARN))?;
    if !input.has("tags") {
        return Err(ApiError::invalid_input(
            "the required member 'tags' is missing",
        ));
    }
    let new = input.tags()?;
    require_resource(state, &arn).await?;
    let _one_writer = state.tag_writes.lock().await;
    let tags = merge(state.store.tags(&arn).await?, new)?;
    check_count(&tags)?;
    state.store.set_tags(&arn, &tags).await?;
    Ok(json!({}))
}

/// UntagResource: removes the tags with the given keys; unknown keys are ignored.
pub async fn untag_resource(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("resourceArn", 0, 256, Some(&ARN))?;
    let keys = input.req_str_list("tagKeys", 200, 1, 128, Some(&TAG))?;
    if keys.len() > MAX_TAGS {
        return Err(ApiError::too_many_tag_keys(format!(
            "at most {MAX_TAGS} tag keys can be removed at once; {} were given",
            keys.len()
        )));
    }
    require_resource(state, &arn).await?;
    let _one_writer = state.tag_writes.lock().await;
    let mut tags = state.store.tags(&arn).await?;
    tags.retain(|(k, _)| !keys.contains(k));
    state.store.set_tags(&arn, &tags).await?;
    Ok(json!({}))
}

/// ListTagsForResource.
pub async fn list_tags_for_resource(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("resourceArn", 0, 256, Some(&ARN))?;
    require_resource(state, &arn).await?;
    let tags: Vec<Value> = state
        .store
        .tags(&arn)
        .await?
        .into_iter()
        .map(|(k, v)| json!({ "tagKey": k, "tagValue": v }))
        .collect();
    Ok(json!({ "tags": tags }))
}
