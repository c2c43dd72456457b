//! Reads by key ([`crate::store::DatasetStore::records_of`]): a user's records, a few
//! items', in one query through the tables' keys.

use tokio_postgres::GenericClient;

use super::catalog::require_dataset;
use super::DbResult;
use crate::store::packing::decode;
use crate::store::DatasetType;

/// The records of `keys`, the keys in the order given, each key's in load order, through
/// the tables' primary key (`user_records`) or `records_by_key`.
pub(super) async fn of_keys(
    c: &impl GenericClient,
    group_arn: &str,
    t: DatasetType,
    keys: &[String],
) -> DbResult<crate::store::Keyed> {
    let (id, columns) = require_dataset(c, group_arn, t).await?;
    let sql = if t.holds_users() {
        "SELECT key, rows FROM user_records WHERE dataset_id = $1 AND key = ANY($2)"
    } else {
        "SELECT key, vals FROM records WHERE dataset_id = $1 AND key = ANY($2) ORDER BY seq"
    };
    let rows = c.query(sql, &[&id, &keys]).await?;
    let mut by_key: std::collections::HashMap<String, Vec<Vec<String>>> =
        std::collections::HashMap::new();
    for r in &rows {
        let k: String = r.get(0);
        let found = if t.holds_users() {
            let key = super::records::key_index(t, &columns);
            decode(&k, r.get(1), columns.len(), key)?
                .into_iter()
                .map(|(_, row)| row)
                .collect()
        } else {
            vec![r.get(1)]
        };
        by_key.entry(k).or_default().extend(found);
    }
    let mut out = Vec::new();
    for k in keys {
        if let Some(rows) = by_key.remove(k) {
            out.extend(rows);
        }
    }
    Ok(crate::store::Keyed { columns, rows: out })
}
