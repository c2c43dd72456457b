//! Reads by key ([`DatasetStore::records_of`]): what the runtime API reads per request.

use std::sync::Arc;

use futures::stream::{self, StreamExt};

use super::{batch, claimed_deletion, purge_fixture, strings};
use crate::store::{DatasetStore, DatasetType, UserIds};

fn keys(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| s.to_string()).collect()
}

/// A key's records come in load order, the keys in the order asked; an unknown key has
/// none; a replaced item answers its new record; a purged user has none, before and after
/// the compaction.
pub async fn records_are_read_by_key(store: &dyn DatasetStore) {
    let f = purge_fixture(store, "conf-by-key").await;
    let arn = &f.g.dataset_group_arn;
    let t = DatasetType::Interactions;
    let got = store
        .records_of(arn, t, &keys(&["c", "a", "nobody"]))
        .await
        .unwrap();
    let want = strings(&[&["i3", "c", "13"], &["i1", "a", "10"], &["i1", "a", "12"]]);
    assert_eq!(got.rows, want);
    assert_eq!(got.columns, ["ITEM_ID", "USER_ID", "TIMESTAMP"]);
    assert_eq!(got.column("USER_ID"), Some(1));
    let got = store
        .records_of(arn, DatasetType::Users, &keys(&["d\"q,"]))
        .await;
    assert_eq!(got.unwrap().rows, strings(&[&["d\"q,", "4"]]));
    let got = store
        .records_of(arn, DatasetType::Items, &keys(&["i2", "i1"]))
        .await;
    assert_eq!(
        got.unwrap().rows,
        vec![f.items[1].clone(), f.items[0].clone()]
    );
    let batches = stream::iter(vec![Ok(batch(2, &[&["i2", "z"]]))]).boxed();
    store
        .append_records(arn, DatasetType::Items, batches)
        .await
        .unwrap();
    let got = store
        .records_of(arn, DatasetType::Items, &keys(&["i2"]))
        .await;
    assert_eq!(got.unwrap().rows, strings(&[&["i2", "z"]]));

    let commit = claimed_deletion(store, "conf-by-key-job", arn).await;
    let ids: UserIds = ["a"].into_iter().collect();
    store.purge_users(arn, Arc::new(ids), commit).await.unwrap();
    for compacted in [false, true] {
        if compacted {
            store.compact().await.unwrap();
        }
        for t in [
            DatasetType::Interactions,
            DatasetType::Users,
            DatasetType::ActionInteractions,
        ] {
            let got = store.records_of(arn, t, &keys(&["a"])).await.unwrap().rows;
            assert!(
                got.is_empty(),
                "{t} of a purged user, compacted {compacted}: {got:?}"
            );
        }
        let got = store.records_of(arn, t, &keys(&["c"])).await.unwrap().rows;
        assert_eq!(got, strings(&[&["i3", "c", "13"]]));
    }
    let missing = store
        .records_of(arn, DatasetType::Actions, &keys(&["x"]))
        .await;
    assert!(
        matches!(missing, Err(crate::store::StoreError::NotFound(_))),
        "no Actions dataset: {missing:?}"
    );
}
