//! [`StoreError`]: what every backend's failures map onto.

/// A store error. Backends keep their own error types and map them onto these variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The named thing exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The named thing is still used by something that must go first.
    #[error("{0}")]
    InUse(String),
    /// The request does not fit what is stored (e.g. columns that differ from the dataset's).
    #[error("{0}")]
    Invalid(String),
    /// The worker's lease on the named job expired or was taken over by another claim:
    /// nothing was written.
    #[error("the lease on {0} is no longer held")]
    LeaseLost(String),
    /// The backend failed.
    #[error("{store} store error: {source}")]
    Backend {
        /// The backend's name.
        store: &'static str,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;
