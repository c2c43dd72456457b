//! A solution version's model loaded for answering (its items indexed by ID), and a small
//! cache of them: versions never change once trained, so a loaded model is good until it is
//! evicted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::jobs::{JobKind, JobSpec, JobStatus};
use crate::model::format::Model;
use crate::store::{DatasetStore, StoreError, StoreResult};
use crate::train::catalog::{self, Recipe};

/// A trained model, ready to answer.
#[derive(Debug)]
pub struct Deployed {
    /// The solution version it is.
    pub version_arn: String,
    /// The dataset group it was trained on: histories and metadata are read from it.
    pub group_arn: String,
    /// Its recipe (its type decides which requests it answers).
    pub recipe: &'static Recipe,
    /// The model.
    pub model: Model,
    index: HashMap<String, u32>,
}

impl Deployed {
    /// Indexes `model`'s items.
    pub fn new(version_arn: &str, group_arn: &str, recipe: &'static Recipe, model: Model) -> Self {
        let index = model
            .items
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        Deployed {
            version_arn: version_arn.to_owned(),
            group_arn: group_arn.to_owned(),
            recipe,
            model,
            index,
        }
    }

    /// The index of the item (or action) `id`, if the model knows it.
    pub fn item(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// The ID of item `i`.
    pub fn id(&self, i: u32) -> &str {
        &self.model.items[i as usize]
    }

    /// The model's hyperparameter `name`, or `default`.
    pub fn param(&self, name: &str, default: i64) -> i64 {
        self.model.params.get(name).copied().unwrap_or(default)
    }
}

/// How many models stay loaded.
const CAPACITY: usize = 16;

/// The models loaded lately, by version ARN, the newest last.
#[derive(Debug, Default)]
pub struct Models {
    loaded: Mutex<Vec<Arc<Deployed>>>,
}

impl Models {
    /// The model of the ACTIVE solution version `arn`: from the cache, or read from the store
    /// and decoded. `None` when there is no such version or it is not ACTIVE.
    pub async fn get(
        &self,
        store: &dyn DatasetStore,
        arn: &str,
    ) -> StoreResult<Option<Arc<Deployed>>> {
        if let Some(d) = self.lock().iter().find(|d| d.version_arn == arn) {
            return Ok(Some(d.clone()));
        }
        let Some(job) = store.job(arn).await? else {
            return Ok(None);
        };
        let JobSpec::Training { solution, .. } = &job.spec else {
            return Ok(None);
        };
        if job.kind() != JobKind::Training || job.status != JobStatus::Succeeded {
            return Ok(None);
        }
        let corrupt = |why: String| StoreError::Invalid(format!("the model of {arn}: {why}"));
        let recipe_arn = solution["recipeArn"].as_str().unwrap_or_default();
        let recipe = catalog::recipe(recipe_arn)
            .ok_or_else(|| corrupt(format!("no recipe {recipe_arn}")))?;
        let group = solution["datasetGroupArn"].as_str().unwrap_or_default();
        let Some(bytes) = store.blob(arn).await? else {
            return Ok(None);
        };
        let model = Model::decode(&bytes).map_err(corrupt)?;
        let d = Arc::new(Deployed::new(arn, group, recipe, model));
        let mut loaded = self.lock();
        loaded.retain(|x| x.version_arn != arn);
        if loaded.len() == CAPACITY {
            loaded.remove(0);
        }
        loaded.push(d.clone());
        Ok(Some(d))
    }

    /// Forgets every model (after a reset, or when versions are deleted).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Deployed>>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}
