//! ListRecipes, DescribeRecipe, DescribeAlgorithm, DescribeFeatureTransformation: the
//! built-in catalog ([`crate::train::catalog`]), the same in every region and account.

use serde_json::{json, Value};

use super::OpResult;
use crate::api::error::ApiError;
use crate::api::input::{Input, Page, ARN};
use crate::train::catalog::{self, Recipe, CATALOG_TIME};

/// The domains a recipe may belong to.
const DOMAINS: [&str; 2] = ["ECOMMERCE", "VIDEO_ON_DEMAND"];

fn summary(r: &&Recipe) -> Value {
    let mut v = json!({
        "name": r.name,
        "recipeArn": r.arn(),
        "status": "ACTIVE",
        "creationDateTime": CATALOG_TIME,
        "lastUpdatedDateTime": CATALOG_TIME,
    });
    if let Some(d) = r.domain {
        v["domain"] = json!(d);
    }
    v
}

/// ListRecipes: every recipe, or a domain's use cases.
pub async fn list(input: &Input) -> OpResult {
    input.opt_enum("recipeProvider", &["SERVICE"])?;
    let domain = input.opt_enum("domain", &DOMAINS)?;
    let page = Page::from_input(input)?;
    let recipes: Vec<&Recipe> = catalog::all()
        .filter(|r| domain.is_none() || r.domain == domain.as_deref())
        .collect();
    Ok(page.answer(recipes, "recipes", summary))
}

fn not_found(what: &str, arn: &str) -> ApiError {
    ApiError::not_found(format!("the {what} {arn} does not exist"))
}

/// DescribeRecipe.
pub async fn describe(input: &Input) -> OpResult {
    let arn = input.req_str("recipeArn", 0, 256, Some(&ARN))?;
    let r = catalog::recipe(&arn).ok_or_else(|| not_found("recipe", &arn))?;
    Ok(json!({ "recipe": {
        "name": r.name,
        "recipeArn": r.arn(),
        "algorithmArn": r.algorithm_arn(),
        "featureTransformationArn": r.feature_transformation_arn(),
        "status": "ACTIVE",
        "description": r.description,
        "creationDateTime": CATALOG_TIME,
        "recipeType": r.recipe_type,
        "lastUpdatedDateTime": CATALOG_TIME,
    }}))
}

/// DescribeAlgorithm: the algorithm of a recipe, with the hyperparameters its family trains
/// with here.
pub async fn describe_algorithm(input: &Input) -> OpResult {
    let arn = input.req_str("algorithmArn", 0, 256, Some(&ARN))?;
    let r = catalog::by_algorithm(&arn).ok_or_else(|| not_found("algorithm", &arn))?;
    let defaults: serde_json::Map<String, Value> = r
        .family
        .hyperparameters()
        .iter()
        .map(|h| (h.name.to_owned(), json!(h.default.to_string())))
        .collect();
    let ranges: Vec<Value> = r
        .family
        .hyperparameters()
        .iter()
        .map(
            |h| json!({ "name": h.name, "minValue": h.min, "maxValue": h.max, "isTunable": false }),
        )
        .collect();
    Ok(json!({ "algorithm": {
        "name": r.algorithm,
        "algorithmArn": r.algorithm_arn(),
        "algorithmImage": {
            "name": r.family.as_str(),
            "dockerURI": format!("personalize-local/{}", r.family.as_str()),
        },
        "defaultHyperParameters": defaults,
        "defaultHyperParameterRanges": {
            "integerHyperParameterRanges": ranges,
            "continuousHyperParameterRanges": [],
            "categoricalHyperParameterRanges": [],
        },
        "defaultResourceConfig": {},
        "trainingInputMode": "File",
        "creationDateTime": CATALOG_TIME,
        "lastUpdatedDateTime": CATALOG_TIME,
    }}))
}

/// DescribeFeatureTransformation.
pub async fn describe_feature_transformation(input: &Input) -> OpResult {
    let arn = input.req_str("featureTransformationArn", 0, 256, Some(&ARN))?;
    let name = catalog::feature_transformation(&arn)
        .ok_or_else(|| not_found("feature transformation", &arn))?;
    Ok(json!({ "featureTransformation": {
        "name": name,
        "featureTransformationArn": arn,
        "defaultParameters": {},
        "creationDateTime": CATALOG_TIME,
        "lastUpdatedDateTime": CATALOG_TIME,
        "status": "ACTIVE",
    }}))
}
