//! The recipe catalog through the Rust SDK: ListRecipes (all, by domain, paged),
//! DescribeRecipe, DescribeAlgorithm and DescribeFeatureTransformation, and their errors.

use std::time::Duration;

use aws_sdk_personalize::types::Domain;

use crate::api::start;

#[tokio::test]
async fn the_recipe_catalog_lists_and_describes() {
    let server = start(Duration::ZERO, false).await;
    let c = &server.client;
    let all = c.list_recipes().send().await.unwrap();
    let names: Vec<&str> = all.recipes().iter().filter_map(|r| r.name()).collect();
    assert_eq!(names.len(), 25, "{names:?}");
    for name in [
        "aws-user-personalization-v2",
        "aws-popularity-count",
        "aws-trending-now",
        "aws-similar-items",
        "aws-personalized-ranking-v2",
        "aws-item-affinity",
        "aws-next-best-action",
        "aws-semantic-similarity",
        "aws-ecomm-recommended-for-you",
        "aws-vod-top-picks",
    ] {
        assert!(names.contains(&name), "{name} is missing from {names:?}");
    }
    let ecommerce = c
        .list_recipes()
        .domain(Domain::Ecommerce)
        .send()
        .await
        .unwrap();
    assert_eq!(ecommerce.recipes().len(), 5);
    assert!(ecommerce
        .recipes()
        .iter()
        .all(|r| r.domain() == Some(&Domain::Ecommerce)));

    // Pages of 10 give every recipe once.
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_recipes()
            .max_results(10)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        paged.extend(
            page.recipes()
                .iter()
                .filter_map(|r| r.name().map(str::to_owned)),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, names);

    let recipe = c
        .describe_recipe()
        .recipe_arn("arn:aws:personalize:::recipe/aws-user-personalization-v2")
        .send()
        .await
        .unwrap()
        .recipe
        .unwrap();
    assert_eq!(recipe.recipe_type(), Some("USER_PERSONALIZATION"));
    assert_eq!(recipe.status(), Some("ACTIVE"));
    let algorithm = c
        .describe_algorithm()
        .algorithm_arn(recipe.algorithm_arn().unwrap())
        .send()
        .await
        .unwrap()
        .algorithm
        .unwrap();
    assert_eq!(algorithm.name(), Some("aws-user-personalization-v2"));
    let defaults = algorithm.default_hyper_parameters().unwrap();
    assert_eq!(defaults.get("neighbours").map(String::as_str), Some("100"));
    let ft = c
        .describe_feature_transformation()
        .feature_transformation_arn(recipe.feature_transformation_arn().unwrap())
        .send()
        .await
        .unwrap()
        .feature_transformation
        .unwrap();
    assert_eq!(ft.status(), Some("ACTIVE"));

    let err = c
        .describe_recipe()
        .recipe_arn("arn:aws:personalize:::recipe/aws-nothing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error()
            .map(|e| e.is_resource_not_found_exception()),
        Some(true),
        "{err:?}"
    );
    let err = c
        .list_recipes()
        .recipe_provider("SOMEONE".into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.as_service_error()
            .map(|e| e.is_invalid_input_exception()),
        Some(true),
        "{err:?}"
    );
}
