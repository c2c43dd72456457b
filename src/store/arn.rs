//! Resource names: the ARNs that key everything the store keeps, and the rule for names.

use super::DatasetType;
use crate::jobs::JobKind;

/// The account id used when none is configured, as other local AWS emulators do.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// The account and region that resource ARNs are minted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnScope {
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Default for ArnScope {
    fn default() -> Self {
        ArnScope {
            region: "us-east-1".into(),
            account: DEFAULT_ACCOUNT_ID.into(),
        }
    }
}

impl ArnScope {
    /// `arn:aws:personalize:{region}:{account}:`, the prefix of every ARN of the scope.
    pub fn prefix(&self) -> String {
        format!("arn:aws:personalize:{}:{}:", self.region, self.account)
    }

    /// `arn:aws:personalize:{region}:{account}:dataset-group/{name}`.
    pub fn dataset_group_arn(&self, name: &str) -> String {
        format!("{}dataset-group/{name}", self.prefix())
    }

    /// `arn:aws:personalize:{region}:{account}:schema/{name}`.
    pub fn schema_arn(&self, name: &str) -> String {
        format!("{}schema/{name}", self.prefix())
    }

    /// `arn:aws:personalize:{region}:{account}:event-tracker/{id}`.
    pub fn event_tracker_arn(&self, id: &str) -> String {
        format!("{}event-tracker/{id}", self.prefix())
    }

    /// `arn:aws:personalize:{region}:{account}:{data-deletion-job|dataset-import-job|dataset-export-job}/{name}`.
    pub fn job_arn(&self, kind: JobKind, name: &str) -> String {
        format!("{}{}/{name}", self.prefix(), kind.arn_resource())
    }
}

/// `arn:...:dataset/{group}/{TYPE}` for the dataset of type `t` of `group_arn`.
pub fn dataset_arn(group_arn: &str, t: DatasetType) -> String {
    let suffix = t.arn_suffix();
    match group_arn.split_once(":dataset-group/") {
        Some((head, name)) => format!("{head}:dataset/{name}/{suffix}"),
        None => format!("{group_arn}/{suffix}"),
    }
}

/// The group ARN and type a dataset ARN (`...:dataset/{group}/{TYPE}`) names.
pub fn parse_dataset_arn(arn: &str) -> Option<(String, DatasetType)> {
    let (head, rest) = arn.split_once(":dataset/")?;
    let (group, suffix) = rest.rsplit_once('/')?;
    let t = DatasetType::ALL
        .into_iter()
        .find(|t| t.arn_suffix() == suffix)?;
    Some((format!("{head}:dataset-group/{group}"), t))
}

/// The resource type an ARN names (`dataset-group`, `schema`, `dataset`,
/// `data-deletion-job`, ...), if it has the shape of a Personalize ARN.
pub fn resource_type(arn: &str) -> Option<&str> {
    arn.splitn(6, ':')
        .nth(5)
        .and_then(|resource| resource.split_once('/'))
        .map(|(kind, _)| kind)
}

/// Checks a resource name against the service's `Name` shape: 1 to 63 characters matching
/// `[a-zA-Z0-9][a-zA-Z0-9\-_]*`.
pub fn validate_name(what: &str, name: &str) -> Result<(), String> {
    let ok_first = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric());
    let ok_rest = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if name.is_empty() || name.len() > 63 || !ok_first || !ok_rest {
        return Err(format!(
            "invalid {what} {name:?}: names are 1 to 63 characters of letters, digits, '-' and '_', \
             starting with a letter or digit"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_follow_the_service() {
        let scope = ArnScope::default();
        let g = scope.dataset_group_arn("g1");
        assert_eq!(
            g,
            "arn:aws:personalize:us-east-1:000000000000:dataset-group/g1"
        );
        assert_eq!(
            dataset_arn(&g, DatasetType::Interactions),
            "arn:aws:personalize:us-east-1:000000000000:dataset/g1/INTERACTIONS"
        );
        assert_eq!(
            parse_dataset_arn(&dataset_arn(&g, DatasetType::Users)),
            Some((g.clone(), DatasetType::Users))
        );
        assert_eq!(
            scope.job_arn(JobKind::Deletion, "j"),
            "arn:aws:personalize:us-east-1:000000000000:data-deletion-job/j"
        );
        assert_eq!(
            scope.job_arn(JobKind::Import, "i"),
            "arn:aws:personalize:us-east-1:000000000000:dataset-import-job/i"
        );
        assert_eq!(resource_type(&g), Some("dataset-group"));
        assert_eq!(resource_type("arn:aws:personalize:x"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("job name", "a-b_C9").is_ok());
        for bad in ["", "-a", "a b", "a/b", &"x".repeat(64)] {
            assert!(validate_name("job name", bad).is_err(), "{bad}");
        }
    }
}
