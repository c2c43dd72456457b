//! The awsJson1_1 API and the restJson1 events and runtime APIs on arbitrary requests: a
//! sequence of calls, each an operation (known or not, or an events or runtime path) and a body that is either arbitrary bytes or JSON built from the model's member
//! names and values that name real resources, sent through the router to a server whose
//! store holds a group, a schema and a dataset.
//!
//! Checks: no panic; no 5xx (a memory store never fails, so every refusal is the client's);
//! every answer is JSON (but the events API's empty success), an error one carrying `__type` and `message` and the same code in
//! `x-amzn-ErrorType`; and the seeded resources survive anything but a call that deletes.

#![no_main]

use std::sync::{Arc, LazyLock};

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use personalize_local::api::{router, ApiConfig, AppState};
use personalize_local::source::memory::MemorySource;
use personalize_local::store::memory::MemoryStore;
use serde_json::{json, Map, Value};
use tower::ServiceExt;

/// awsJson1_1 operations by name; the events API's (restJson1) by path.
const OPERATIONS: [&str; 74] = [
    "CreateDatasetGroup",
    "DescribeDatasetGroup",
    "ListDatasetGroups",
    "DeleteDatasetGroup",
    "CreateSchema",
    "DescribeSchema",
    "ListSchemas",
    "DeleteSchema",
    "CreateDataset",
    "DescribeDataset",
    "ListDatasets",
    "DeleteDataset",
    "CreateDataDeletionJob",
    "DescribeDataDeletionJob",
    "ListDataDeletionJobs",
    "CreateDatasetImportJob",
    "DescribeDatasetImportJob",
    "ListDatasetImportJobs",
    "CreateDatasetExportJob",
    "DescribeDatasetExportJob",
    "ListDatasetExportJobs",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "CreateEventTracker",
    "DescribeEventTracker",
    "ListEventTrackers",
    "DeleteEventTracker",
    "UpdateDataset",
    "CreateSolution",
    "DescribeSolution",
    "ListSolutions",
    "UpdateSolution",
    "DeleteSolution",
    "CreateSolutionVersion",
    "DescribeSolutionVersion",
    "ListSolutionVersions",
    "GetSolutionMetrics",
    "StopSolutionVersionCreation",
    "ListRecipes",
    "DescribeRecipe",
    "DescribeAlgorithm",
    "DescribeFeatureTransformation",
    "CreateCampaign",
    "DescribeCampaign",
    "ListCampaigns",
    "UpdateCampaign",
    "DeleteCampaign",
    "CreateFilter",
    "DescribeFilter",
    "ListFilters",
    "DeleteFilter",
    "CreateRecommender",
    "DescribeRecommender",
    "ListRecommenders",
    "UpdateRecommender",
    "StartRecommender",
    "StopRecommender",
    "DeleteRecommender",
    "CreateBatchInferenceJob",
    "DescribeBatchInferenceJob",
    "ListBatchInferenceJobs",
    "CreateBatchSegmentJob",
    "DescribeBatchSegmentJob",
    "ListBatchSegmentJobs",
    "/events",
    "/users",
    "/items",
    "/actions",
    "/action-interactions",
    "/recommendations",
    "/personalize-ranking",
    "/action-recommendations",
    "NoSuchOperation",
];

const MEMBERS: [&str; 82] = [
    "name",
    "roleArn",
    "kmsKeyArn",
    "domain",
    "schema",
    "schemaArn",
    "datasetGroupArn",
    "datasetArn",
    "datasetType",
    "dataSource",
    "dataLocation",
    "jobName",
    "jobOutput",
    "s3DataDestination",
    "path",
    "importMode",
    "ingestionMode",
    "publishAttributionMetricsToS3",
    "resourceArn",
    "tags",
    "tagKey",
    "tagValue",
    "tagKeys",
    "maxResults",
    "nextToken",
    "dataDeletionJobArn",
    "datasetImportJobArn",
    "eventTrackerArn",
    "trackingId",
    "userId",
    "sessionId",
    "eventList",
    "eventType",
    "sentAt",
    "itemId",
    "eventValue",
    "impression",
    "properties",
    "users",
    "items",
    "actions",
    "actionInteractions",
    "actionId",
    "timestamp",
    "solutionArn",
    "solutionVersionArn",
    "recipeArn",
    "trainingMode",
    "solutionConfig",
    "performAutoML",
    "performAutoTraining",
    "algorithmHyperParameters",
    "eventValueThreshold",
    "solutionUpdateConfig",
    "autoTrainingConfig",
    "schedulingExpression",
    "algorithmArn",
    "featureTransformationArn",
    "campaignArn",
    "campaignConfig",
    "minProvisionedTPS",
    "syncWithLatestSolutionVersion",
    "enableMetadataWithRecommendations",
    "itemExplorationConfig",
    "rankingInfluence",
    "filterArn",
    "filterExpression",
    "filterValues",
    "recommenderArn",
    "recommenderConfig",
    "numResults",
    "inputList",
    "context",
    "promotions",
    "percentPromotedItems",
    "metadataColumns",
    "batchInferenceJobArn",
    "batchSegmentJobArn",
    "jobInput",
    "s3DataSource",
    "batchInferenceJobMode",
    "batchInferenceJobConfig",
];

const WORDS: [&str; 35] = [
    "g",
    "fuzz",
    "Interactions",
    "Users",
    "Items",
    "Actions",
    "ECOMMERCE",
    "VIDEO_ON_DEMAND",
    "FULL",
    "INCREMENTAL",
    "BULK",
    "PUT",
    "ALL",
    "s3://bucket/users.csv",
    "s3://bucket/folder/",
    "s3://bucket/out/",
    "arn:aws:iam::000000000000:role/r",
    "arn:aws:kms:us-east-1:000000000000:key/k",
    "arn:aws:personalize:eu-west-1:000000000000:dataset-group/g",
    "{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"USER_ID\", \"type\": \"string\"}]}",
    "",
    "x",
    "{\"numberOfRatings\": 3, \"itemId\": \"i\"}",
    "click",
    "arn:aws:personalize:::recipe/aws-user-personalization-v2",
    "arn:aws:personalize:::recipe/aws-sims",
    "rate(3 days)",
    "UPDATE",
    "neighbours",
    "INCLUDE ItemID WHERE Items.CATEGORY IN ($C)",
    "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"click\")",
    "EXCLUDE ItemID WHERE Items.PRICE > 3 IF CurrentUser.AGE < 30 | INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE",
    "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you",
    "\"a\",\"b\"",
    "ITEMS",
];

#[derive(Debug, Arbitrary)]
enum Text {
    /// A word of the model's.
    Word(u8),
    /// A seeded resource's ARN, or one a call of this input created.
    Known(u8),
    Free(String),
}

#[derive(Debug, Arbitrary)]
enum Val {
    Text(Text),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    List(Vec<Val>),
    Object(Vec<(u8, Val)>),
}

#[derive(Debug, Arbitrary)]
enum Payload {
    Raw(Vec<u8>),
    Members(Vec<(u8, Val)>),
}

#[derive(Debug, Arbitrary)]
struct Call {
    operation: u8,
    payload: Payload,
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

fn value(v: &Val, known: &[String], depth: usize) -> Value {
    match v {
        Val::Text(Text::Word(i)) => json!(WORDS[*i as usize % WORDS.len()]),
        Val::Text(Text::Known(i)) => json!(known[*i as usize % known.len()]),
        Val::Text(Text::Free(s)) => json!(s),
        Val::Int(n) => json!(n),
        Val::Float(f) => json!(f),
        Val::Bool(b) => json!(b),
        Val::Null => Value::Null,
        _ if depth > 4 => Value::Null,
        Val::List(items) => {
            Value::Array(items.iter().map(|i| value(i, known, depth + 1)).collect())
        }
        Val::Object(members) => object(members, known, depth + 1),
    }
}

fn object(members: &[(u8, Val)], known: &[String], depth: usize) -> Value {
    let mut map = Map::new();
    for (name, v) in members {
        map.insert(
            MEMBERS[*name as usize % MEMBERS.len()].to_owned(),
            value(v, known, depth),
        );
    }
    Value::Object(map)
}

/// Sends one call; checks the answer's shape and returns its status and JSON.
async fn send(app: &axum::Router, operation: &str, body: Vec<u8>) -> (u16, Value) {
    let request = match operation.strip_prefix('/') {
        Some(_) => Request::post(operation)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json"),
        None => Request::post("/")
            .header("host", "127.0.0.1")
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("AmazonPersonalize.{operation}")),
    }
    .body(Body::from(body))
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    assert!(status < 500, "{operation} answered {status}");
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    // The events API answers success with an empty body; every other answer is JSON.
    let answer: Value = if bytes.is_empty() && status == 200 && operation.starts_with('/') {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("every answer is JSON")
    };
    if status != 200 {
        let code = answer["__type"].as_str().expect("an error has __type");
        assert!(answer["message"].is_string(), "an error has a message");
        assert_eq!(error_type.as_deref(), Some(code));
    }
    (status, answer)
}

async fn seeded() -> (axum::Router, Vec<String>) {
    let state = AppState::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MemorySource::default()),
        ApiConfig::default(),
    );
    let app = router(state);
    let (_, group) = send(&app, "CreateDatasetGroup", br#"{"name": "g"}"#.to_vec()).await;
    let group = group["datasetGroupArn"].as_str().unwrap().to_owned();
    let schema_text = json!({
        "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"}
        ],
        "version": "1.0"
    });
    let body = json!({"name": "s", "schema": schema_text.to_string()});
    let (_, schema) = send(&app, "CreateSchema", body.to_string().into_bytes()).await;
    let schema = schema["schemaArn"].as_str().unwrap().to_owned();
    let body = json!({"name": "d", "datasetGroupArn": group, "datasetType": "Interactions", "schemaArn": schema});
    let (status, dataset) = send(&app, "CreateDataset", body.to_string().into_bytes()).await;
    // The group is CREATE PENDING for its transition time; the dataset may wait for it.
    let dataset = match status {
        200 => dataset["datasetArn"].as_str().unwrap().to_owned(),
        _ => format!(
            "{}/INTERACTIONS",
            group.replace(":dataset-group/", ":dataset/")
        ),
    };
    (app, vec![group, schema, dataset])
}

fuzz_target!(|calls: Vec<Call>| {
    RUNTIME.block_on(async {
        let (app, mut known) = seeded().await;
        let group = known[0].clone();
        let mut deleted = false;
        for call in calls.iter().take(16) {
            let operation = OPERATIONS[call.operation as usize % OPERATIONS.len()];
            let body = match &call.payload {
                Payload::Raw(bytes) => bytes.clone(),
                Payload::Members(members) => object(members, &known, 0).to_string().into_bytes(),
            };
            let (status, answer) = send(&app, operation, body).await;
            deleted |= operation.starts_with("Delete") && status == 200;
            if let Some(members) = answer.as_object() {
                for (name, v) in members {
                    if name.ends_with("Arn") || name == "trackingId" {
                        if let Some(arn) = v.as_str() {
                            known.push(arn.to_owned());
                        }
                    }
                }
            }
        }
        if !deleted {
            let body = json!({ "datasetGroupArn": group }).to_string().into_bytes();
            let (status, _) = send(&app, "DescribeDatasetGroup", body).await;
            assert_eq!(status, 200, "the seeded group is still there");
        }
    });
});
