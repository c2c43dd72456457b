//! The recipe catalog: every built-in recipe of the service, custom and domain (ECOMMERCE,
//! VIDEO_ON_DEMAND use cases), with its ARN, its algorithm and feature transformation, and
//! the algorithm [`Family`] that trains it here. Data only; the API answers ListRecipes,
//! DescribeRecipe, DescribeAlgorithm and DescribeFeatureTransformation from it.

use super::Family;

/// The prefix of every built-in ARN (they have no region or account).
pub const BUILT_IN: &str = "arn:aws:personalize:::";

/// When the catalog's entries say they were created and last updated (epoch seconds):
/// built-ins do not change.
pub const CATALOG_TIME: f64 = 1_543_622_400.0;

/// One recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipe {
    /// `aws-user-personalization-v2`, ...
    pub name: &'static str,
    /// `USER_PERSONALIZATION`, `RELATED_ITEMS`, `PERSONALIZED_RANKING`, `POPULAR_ITEMS`,
    /// `USER_SEGMENTATION` or `PERSONALIZED_ACTIONS`.
    pub recipe_type: &'static str,
    /// The algorithm's name (its ARN is `arn:aws:personalize:::algorithm/<name>`).
    pub algorithm: &'static str,
    /// The feature transformation's name.
    pub feature_transformation: &'static str,
    /// `ECOMMERCE` or `VIDEO_ON_DEMAND` for a domain use case.
    pub domain: Option<&'static str>,
    /// The event type a domain use case needs at least 1000 of (`View`, `Purchase`, `Watch`).
    pub required_event_type: Option<&'static str>,
    /// What trains it here.
    pub family: Family,
    /// The catalog's description.
    pub description: &'static str,
}

impl Recipe {
    /// `arn:aws:personalize:::recipe/<name>`.
    pub fn arn(&self) -> String {
        format!("{BUILT_IN}recipe/{}", self.name)
    }

    /// `arn:aws:personalize:::algorithm/<name>`.
    pub fn algorithm_arn(&self) -> String {
        format!("{BUILT_IN}algorithm/{}", self.algorithm)
    }

    /// `arn:aws:personalize:::feature-transformation/<name>`.
    pub fn feature_transformation_arn(&self) -> String {
        format!(
            "{BUILT_IN}feature-transformation/{}",
            self.feature_transformation
        )
    }
}

const fn custom(
    name: &'static str,
    recipe_type: &'static str,
    algorithm: &'static str,
    feature_transformation: &'static str,
    family: Family,
    description: &'static str,
) -> Recipe {
    Recipe {
        name,
        recipe_type,
        algorithm,
        feature_transformation,
        domain: None,
        required_event_type: None,
        family,
        description,
    }
}

const fn use_case(
    name: &'static str,
    domain: &'static str,
    recipe_type: &'static str,
    required_event_type: Option<&'static str>,
    family: Family,
    description: &'static str,
) -> Recipe {
    Recipe {
        name,
        recipe_type,
        algorithm: name,
        feature_transformation: "JSON-percentile-filtering",
        domain: Some(domain),
        required_event_type,
        family,
        description,
    }
}

const PCT: &str = "JSON-percentile-filtering";

/// Every recipe, custom ones first, in the order ListRecipes gives them.
pub const RECIPES: [Recipe; 25] = [
    custom("aws-user-personalization-v2", "USER_PERSONALIZATION", "aws-user-personalization-v2", PCT, Family::UserPersonalization,
        "Recommends items for a user from the user's own history: items that users with the same items interacted with, scored by item-item similarity; popular items for a user with no history."),
    custom("aws-user-personalization", "USER_PERSONALIZATION", "aws-user-personalization", PCT, Family::UserPersonalization,
        "Recommends items for a user from the user's own history: items that users with the same items interacted with, scored by item-item similarity; popular items for a user with no history."),
    custom("aws-popularity-count", "USER_PERSONALIZATION", "aws-popularity-count", "sims", Family::Popularity,
        "Recommends the items with the most interactions (counted once per user and item)."),
    custom("aws-trending-now", "USER_PERSONALIZATION", "aws-trending-now-custom", PCT, Family::Trending,
        "Recommends the items whose interactions grow fastest: counts weighted by recency."),
    custom("aws-personalized-ranking-v2", "PERSONALIZED_RANKING", "aws-personalized-ranking-v2", PCT, Family::Ranking,
        "Ranks a list of items for a user by the user-personalization score of each."),
    custom("aws-personalized-ranking", "PERSONALIZED_RANKING", "aws-personalized-ranking", PCT, Family::Ranking,
        "Ranks a list of items for a user by the user-personalization score of each."),
    custom("aws-similar-items", "RELATED_ITEMS", "aws-similar-items", PCT, Family::ItemItem,
        "Recommends items similar to an item: co-occurrence in users' histories, cosine-normalised; item metadata for items without interactions."),
    custom("aws-sims", "RELATED_ITEMS", "aws-sims", "sims", Family::ItemItem,
        "Recommends items similar to an item: co-occurrence in users' histories, cosine-normalised."),
    custom("aws-semantic-similarity", "RELATED_ITEMS", "aws-semantic-similarity", PCT, Family::Semantic,
        "Recommends items whose textual fields are most alike (TF-IDF cosine over the Items dataset's text)."),
    custom("aws-next-best-action", "PERSONALIZED_ACTIONS", "aws-next-best-action", PCT, Family::NextBestAction,
        "Recommends the actions a user is most likely to take, from the user's and every user's action interactions."),
    custom("aws-item-affinity", "USER_SEGMENTATION", "aws-item-affinity", PCT, Family::ItemAffinity,
        "Finds the users most likely to interact with an item, by their histories' similarity to it."),
    custom("aws-item-attribute-affinity", "USER_SEGMENTATION", "aws-item-attribute-affinity", PCT, Family::ItemAffinity,
        "Finds the users most likely to interact with items of given attributes."),
    custom("aws-hrnn", "USER_PERSONALIZATION", "aws-hrnn", PCT, Family::UserPersonalization,
        "Legacy: trained here as aws-user-personalization."),
    custom("aws-hrnn-metadata", "USER_PERSONALIZATION", "aws-hrnn-metadata", PCT, Family::UserPersonalization,
        "Legacy: trained here as aws-user-personalization."),
    custom("aws-hrnn-coldstart", "USER_PERSONALIZATION", "aws-hrnn-coldstart", "featurize_coldstart", Family::UserPersonalization,
        "Legacy: trained here as aws-user-personalization."),
    use_case("aws-ecomm-popular-items-by-views", "ECOMMERCE", "USER_PERSONALIZATION", Some("View"), Family::Popularity,
        "Most viewed: the items viewed most."),
    use_case("aws-ecomm-popular-items-by-purchases", "ECOMMERCE", "USER_PERSONALIZATION", Some("Purchase"), Family::Popularity,
        "Best sellers: the items bought most."),
    use_case("aws-ecomm-frequently-bought-together", "ECOMMERCE", "RELATED_ITEMS", Some("Purchase"), Family::ItemItem,
        "Frequently bought together: items bought by the users who bought an item."),
    use_case("aws-ecomm-customers-who-viewed-x-also-viewed", "ECOMMERCE", "RELATED_ITEMS", Some("View"), Family::ItemItem,
        "Customers who viewed X also viewed: items viewed by the users who viewed an item."),
    use_case("aws-ecomm-recommended-for-you", "ECOMMERCE", "USER_PERSONALIZATION", None, Family::UserPersonalization,
        "Recommended for you: items for a user from the user's history."),
    use_case("aws-vod-because-you-watched-x", "VIDEO_ON_DEMAND", "RELATED_ITEMS", Some("Watch"), Family::ItemItem,
        "Because you watched X: items watched by the users who watched an item."),
    use_case("aws-vod-more-like-x", "VIDEO_ON_DEMAND", "RELATED_ITEMS", None, Family::ItemItem,
        "More like X: items similar to an item."),
    use_case("aws-vod-most-popular", "VIDEO_ON_DEMAND", "USER_PERSONALIZATION", Some("Watch"), Family::Popularity,
        "Most popular: the items watched most."),
    use_case("aws-vod-trending-now", "VIDEO_ON_DEMAND", "USER_PERSONALIZATION", None, Family::Trending,
        "Trending now: the items whose watches grow fastest."),
    use_case("aws-vod-top-picks", "VIDEO_ON_DEMAND", "USER_PERSONALIZATION", None, Family::UserPersonalization,
        "Top picks for you: items for a user from the user's history."),
];

/// Every recipe, in the order ListRecipes gives them.
pub fn all() -> impl Iterator<Item = &'static Recipe> {
    RECIPES.iter()
}

/// The recipe with this ARN.
pub fn recipe(arn: &str) -> Option<&'static Recipe> {
    all().find(|r| r.arn() == arn)
}

/// The recipe whose algorithm has this ARN.
pub fn by_algorithm(arn: &str) -> Option<&'static Recipe> {
    all().find(|r| r.algorithm_arn() == arn)
}

/// Whether a feature transformation with this ARN exists.
pub fn feature_transformation(arn: &str) -> Option<&'static str> {
    all()
        .find(|r| r.feature_transformation_arn() == arn)
        .map(|r| r.feature_transformation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_is_listed_once_with_arns_that_resolve() {
        let names: Vec<&str> = all().map(|r| r.name).collect();
        assert_eq!(names.len(), 25);
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        for r in all() {
            assert_eq!(recipe(&r.arn()), Some(r));
            assert!(by_algorithm(&r.algorithm_arn()).is_some());
            assert!(feature_transformation(&r.feature_transformation_arn()).is_some());
        }
        assert_eq!(
            all()
                .filter(|r| r.domain == Some("VIDEO_ON_DEMAND"))
                .count(),
            5
        );
        assert_eq!(all().filter(|r| r.domain == Some("ECOMMERCE")).count(), 5);
        assert!(recipe("arn:aws:personalize:::recipe/aws-nothing").is_none());
    }
}
