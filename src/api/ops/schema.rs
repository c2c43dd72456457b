//! CreateSchema, DescribeSchema, ListSchemas, DeleteSchema. Schemas belong to the account and
//! region, not to a group, and have no status.

use serde_json::json;

use super::OpResult;
use crate::api::dto::{self, Shape};
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN, NAME};
use crate::api::AppState;
use crate::jobs::now_epoch;
use crate::store::schema::Fields;
use crate::store::ArnScope;
use crate::store::{Schema, StoreError};

/// Finds a schema by ARN or answers `ResourceNotFoundException`.
pub async fn find(state: &AppState, arn: &str) -> Result<Schema, ApiError> {
    state
        .store
        .schema(arn)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("the schema {arn} does not exist")))
}

/// CreateSchema: the Avro record must parse and hold only the field types Personalize uses;
/// whether it fits a dataset type is checked when a dataset uses it.
pub async fn create(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let name = input.req_str("name", 1, 63, Some(&NAME))?;
    let avro = input.req_str("schema", 0, 20_000, None)?;
    let domain = input.opt_enum("domain", &["ECOMMERCE", "VIDEO_ON_DEMAND"])?;
    Fields::parse(&avro).map_err(ApiError::invalid_input)?;
    let schema = Schema {
        schema_arn: scope.schema_arn(&name),
        name: name.clone(),
        schema: avro,
        domain,
        creation_date_time: now_epoch(),
    };
    match state.store.create_schema(&schema).await {
        Ok(()) => Ok(json!({ "schemaArn": schema.schema_arn })),
        Err(StoreError::AlreadyExists(_)) => Err(ApiError::already_exists(format!(
            "a schema named {name} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// DescribeSchema.
pub async fn describe(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("schemaArn", 0, 256, Some(&ARN))?;
    let schema = find(state, &arn).await?;
    Ok(json!({ "schema": dto::schema(&schema, Shape::Describe) }))
}

/// ListSchemas: the schemas of the request's account and region, oldest first.
pub async fn list(state: &AppState, scope: &ArnScope, input: &Input) -> OpResult {
    let page = Page::from_input(input)?;
    let prefix = scope.prefix();
    let schemas: Vec<Schema> = state
        .store
        .list_schemas()
        .await?
        .into_iter()
        .filter(|s| s.schema_arn.starts_with(&prefix))
        .collect();
    Ok(page.answer(schemas, "schemas", |s| dto::schema(s, Shape::Summary)))
}

/// DeleteSchema: refused while a dataset uses the schema.
pub async fn delete(state: &AppState, input: &Input) -> OpResult {
    let arn = input.req_str("schemaArn", 0, 256, Some(&ARN))?;
    match state.store.delete_schema(&arn).await {
        Ok(()) => Ok(json!({})),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found(format!(
            "the schema {arn} does not exist"
        ))),
        Err(StoreError::InUse(message)) => Err(ApiError::in_use(message)),
        Err(e) => Err(e.into()),
    }
}
