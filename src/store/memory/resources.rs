//! The memory store's resources of every other kind and their blobs.

use bytes::Bytes;

use super::State;
use crate::store::{Blob, JobCommit, Resource, StoreError, StoreResult, Tag};

impl State {
    pub(super) fn create_resource(&mut self, r: &Resource, tags: &[Tag]) -> StoreResult<()> {
        if self.resources.contains_key(&r.arn) {
            return Err(StoreError::AlreadyExists(r.arn.clone()));
        }
        self.resources.insert(r.arn.clone(), r.clone());
        self.add_tags(&r.arn, tags);
        Ok(())
    }

    pub(super) fn list_resources(&self, kind: &str, parent: Option<&str>) -> Vec<Resource> {
        let mut out: Vec<Resource> = self
            .resources
            .values()
            .filter(|r| r.kind == kind && parent.is_none_or(|p| r.parent.as_deref() == Some(p)))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            a.created
                .total_cmp(&b.created)
                .then_with(|| a.arn.cmp(&b.arn))
        });
        out
    }

    pub(super) fn write_resources(
        &mut self,
        resources: &[Resource],
        blobs: &[Blob],
        commit: Option<JobCommit>,
    ) -> StoreResult<()> {
        if let Some(c) = &commit {
            self.held(&c.lease)?;
        }
        for r in resources {
            self.resources.insert(r.arn.clone(), r.clone());
        }
        for b in blobs {
            self.blobs.insert(b.arn.clone(), b.bytes.clone());
        }
        if let Some(c) = commit {
            self.finish(&c.job.clone().succeeded(None), &c.lease)?;
        }
        Ok(())
    }

    pub(super) fn delete_resource(&mut self, arn: &str) -> StoreResult<()> {
        if self.resources.remove(arn).is_none() {
            return Err(StoreError::NotFound(arn.to_owned()));
        }
        self.blobs.remove(arn);
        self.tags.remove(arn);
        Ok(())
    }

    pub(super) fn blob(&self, arn: &str) -> Option<Bytes> {
        self.blobs.get(arn).cloned()
    }
}
