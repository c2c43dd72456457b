//! Resources of every kind the store does not model itself (solutions, solution versions,
//! campaigns, filters, ...): one record per ARN with its kind, its parent and its status, and
//! blobs (trained models) by ARN. The store keeps them without knowing what they are; the
//! layers above give the kinds their meaning. One small part of the contract for every new
//! kind, held to the conformance suite once.

use bytes::Bytes;
use serde_json::Value;

/// One resource's record.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its ARN: the store's key.
    pub arn: String,
    /// What it is (`solution`, `solution-version`, ...): listings are by kind.
    pub kind: String,
    /// The resource it belongs to (a solution's dataset group, a version's solution), which
    /// listings may filter by.
    pub parent: Option<String>,
    /// Its status, as the API shows it.
    pub status: String,
    /// Everything else, as the layer that owns the kind writes it.
    pub body: Value,
    /// Epoch seconds; listings are oldest first.
    pub created: f64,
}

/// A blob to store under an ARN (a trained model under its solution version's).
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// The ARN it belongs to; deleting that resource deletes it.
    pub arn: String,
    /// Its bytes.
    pub bytes: Bytes,
}
