//! Training: what a solution version computes from the records the store holds when it
//! starts, one file per algorithm family, each a pure function over a snapshot of records
//! that knows nothing of HTTP, S3 or the store.
//!
//! | file | what it holds |
//! |---|---|
//! | [`catalog`] | the recipe catalog: every built-in recipe, its ARNs, the family that trains it |
//! | [`snapshot`] | what training reads: interactions with interned users and items |
//! | [`popularity`] | popularity and trending: one score per item |
//! | [`item_item`] | item-item cosine similarity over users' histories |
//! | [`personalization`] | items for a user, and a list ranked for a user, from item-item scores |
//! | [`metrics`] | the held-out split and the service's metrics |
//! | [`text`] | TF-IDF cosine similarity of items' textual fields |
//! | [`planted`] | interactions with planted structure, for tests and benchmarks |

pub mod catalog;
pub mod item_item;
pub mod metrics;
pub mod personalization;
pub mod planted;
pub mod popularity;
pub mod snapshot;
pub mod text;

/// The algorithm families: every recipe is trained by one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Items by how many users interacted with them.
    Popularity,
    /// Items by recency-weighted interaction counts.
    Trending,
    /// Items similar to an item: co-occurrence in users' histories, cosine-normalised.
    ItemItem,
    /// Items for a user: item-item scores summed over the user's history.
    UserPersonalization,
    /// A list of items ranked for a user by the user-personalization score.
    Ranking,
    /// Users most likely to interact with an item.
    ItemAffinity,
    /// Actions a user is most likely to take.
    NextBestAction,
    /// Items whose textual fields are most alike.
    Semantic,
}

/// One hyperparameter of a family: an integer, with the default training uses and the range
/// a solution's `algorithmHyperParameters` may set it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyperParameter {
    /// Its name in `algorithmHyperParameters`.
    pub name: &'static str,
    /// The value used when none is given.
    pub default: i64,
    /// The smallest value allowed.
    pub min: i64,
    /// The largest value allowed.
    pub max: i64,
}

const fn hp(name: &'static str, default: i64, min: i64, max: i64) -> HyperParameter {
    HyperParameter {
        name,
        default,
        min,
        max,
    }
}

/// How many similar items an item keeps, and how much of a user's history counts.
const NEIGHBOURS: HyperParameter = hp("neighbours", 100, 1, 500);
const HISTORY: HyperParameter = hp("history_length", 100, 1, 1000);
/// How fast a trending count forgets.
const HALF_LIFE: HyperParameter = hp("half_life_days", 7, 1, 365);

impl Family {
    /// The hyperparameters training of this family reads.
    pub fn hyperparameters(self) -> &'static [HyperParameter] {
        match self {
            Family::Popularity => &[],
            Family::Trending => &[HALF_LIFE],
            Family::ItemItem | Family::Semantic => &[NEIGHBOURS],
            Family::UserPersonalization
            | Family::Ranking
            | Family::ItemAffinity
            | Family::NextBestAction => &[NEIGHBOURS, HISTORY],
        }
    }

    /// The value of hyperparameter `name` in `params`, else the family's default for it (1
    /// for a name the family does not have).
    pub fn param(self, params: &std::collections::BTreeMap<String, i64>, name: &str) -> i64 {
        params.get(name).copied().unwrap_or_else(|| {
            self.hyperparameters()
                .iter()
                .find(|h| h.name == name)
                .map_or(1, |h| h.default)
        })
    }

    /// The family's name in docs/training.md and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Popularity => "popularity",
            Family::Trending => "trending",
            Family::ItemItem => "item-item",
            Family::UserPersonalization => "user-personalization",
            Family::Ranking => "ranking",
            Family::ItemAffinity => "item-affinity",
            Family::NextBestAction => "next-best-action",
            Family::Semantic => "semantic",
        }
    }
}
