//! Checks of the catalog: groups, datasets, schemas and tags.

use super::*;

/// Creating and reading groups and datasets, and the errors for duplicates and orphans.
pub async fn groups_and_datasets(store: &dyn DatasetStore) {
    let g = group("conf-groups");
    assert_eq!(
        store.dataset_group(&g.dataset_group_arn).await.unwrap(),
        None
    );
    store.create_dataset_group(&g, &[]).await.unwrap();
    assert_eq!(
        store.dataset_group(&g.dataset_group_arn).await.unwrap(),
        Some(g.clone())
    );
    assert!(matches!(
        store.create_dataset_group(&g, &[]).await,
        Err(StoreError::AlreadyExists(_))
    ));

    let users = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    let inter = dataset(
        &g,
        DatasetType::Interactions,
        &["USER_ID", "ITEM_ID", "TIMESTAMP"],
    );
    store.create_dataset(&users, &[]).await.unwrap();
    store.create_dataset(&inter, &[]).await.unwrap();
    assert!(matches!(
        store.create_dataset(&users, &[]).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let orphan = dataset(&group("conf-missing"), DatasetType::Users, &["USER_ID"]);
    assert!(matches!(
        store.create_dataset(&orphan, &[]).await,
        Err(StoreError::NotFound(_))
    ));
    let keyless = dataset(&g, DatasetType::Items, &["NAME"]);
    assert!(matches!(
        store.create_dataset(&keyless, &[]).await,
        Err(StoreError::Invalid(_))
    ));
    // Listed in the fixed type order, whatever the creation order.
    assert_eq!(
        store.datasets(&g.dataset_group_arn).await.unwrap(),
        vec![inter.clone(), users.clone()]
    );
    assert_eq!(
        store
            .count_records(&g.dataset_group_arn, DatasetType::Users)
            .await
            .unwrap(),
        0
    );
    assert!(matches!(
        store
            .count_records(&g.dataset_group_arn, DatasetType::Items)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// Groups are listed oldest first, keep their attributes, and go only once they are empty.
pub async fn groups_are_listed_and_deleted(store: &dyn DatasetStore) {
    let mut a = group("conf-list-a");
    a.attrs.domain = Some("VIDEO_ON_DEMAND".into());
    a.attrs.role_arn = Some("arn:aws:iam::000000000000:role/r".into());
    let mut b = group("conf-list-b");
    b.creation_date_time += 1.0;
    store.create_dataset_group(&a, &[]).await.unwrap();
    store.create_dataset_group(&b, &[]).await.unwrap();
    let listed = store.list_dataset_groups().await.unwrap();
    let pos = |g: &DatasetGroup| listed.iter().position(|x| x == g).unwrap();
    assert!(pos(&a) < pos(&b), "{listed:?}");

    store
        .create_dataset(&dataset(&a, DatasetType::Users, &["USER_ID", "AGE"]), &[])
        .await
        .unwrap();
    let err = store
        .delete_dataset_group(&a.dataset_group_arn)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InUse(_)), "{err:?}");
    assert_eq!(
        store.dataset_group(&a.dataset_group_arn).await.unwrap(),
        Some(a.clone())
    );

    store
        .set_tags(&b.dataset_group_arn, &vec![("team".into(), "data".into())])
        .await
        .unwrap();
    store
        .delete_dataset_group(&b.dataset_group_arn)
        .await
        .unwrap();
    assert_eq!(
        store.dataset_group(&b.dataset_group_arn).await.unwrap(),
        None
    );
    assert_eq!(store.tags(&b.dataset_group_arn).await.unwrap(), vec![]);
    assert!(!store.list_dataset_groups().await.unwrap().contains(&b));
    let err = store
        .delete_dataset_group(&b.dataset_group_arn)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// Schemas are kept as given, listed oldest first, and deleted only while no dataset uses them.
pub async fn schemas_are_listed_and_deleted_once_unused(store: &dyn DatasetStore) {
    let a = schema("conf-schema-a");
    let mut b = schema("conf-schema-b");
    b.domain = None;
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), None);
    store.create_schema(&a).await.unwrap();
    store.create_schema(&b).await.unwrap();
    assert!(matches!(
        store.create_schema(&a).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), Some(a.clone()));
    let listed = store.list_schemas().await.unwrap();
    let pos = |s: &Schema| listed.iter().position(|x| x == s).unwrap();
    assert!(pos(&a) < pos(&b), "{listed:?}");

    let g = group("conf-schema-user");
    store.create_dataset_group(&g, &[]).await.unwrap();
    let mut users = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    users.attrs.schema_arn = Some(a.schema_arn.clone());
    store.create_dataset(&users, &[]).await.unwrap();
    assert_eq!(
        store.datasets(&g.dataset_group_arn).await.unwrap(),
        vec![users.clone()]
    );
    let mut orphan = dataset(&g, DatasetType::Items, &["ITEM_ID", "PRICE"]);
    orphan.attrs.schema_arn = Some(schema("conf-schema-missing").schema_arn);
    assert!(matches!(
        store.create_dataset(&orphan, &[]).await,
        Err(StoreError::NotFound(_))
    ));

    let err = store.delete_schema(&a.schema_arn).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::InUse(m) if m.contains(&users.arn())),
        "{err:?}"
    );
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), Some(a.clone()));
    store
        .delete_dataset(&g.dataset_group_arn, DatasetType::Users)
        .await
        .unwrap();
    store
        .set_tags(&a.schema_arn, &vec![("k".into(), "v".into())])
        .await
        .unwrap();
    store.delete_schema(&a.schema_arn).await.unwrap();
    assert_eq!(store.schema(&a.schema_arn).await.unwrap(), None);
    assert_eq!(store.tags(&a.schema_arn).await.unwrap(), vec![]);
    assert!(matches!(
        store.delete_schema(&a.schema_arn).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!store.list_schemas().await.unwrap().contains(&a));
}

/// Deleting a dataset takes its records and tags, leaves the group's other datasets alone,
/// and lets a dataset of the same type be created again, empty.
pub async fn datasets_are_deleted_with_their_records(store: &dyn DatasetStore) {
    let g = group("conf-dataset-delete");
    store.create_dataset_group(&g, &[]).await.unwrap();
    let users = dataset(&g, DatasetType::Users, &["USER_ID", "AGE"]);
    let items = dataset(&g, DatasetType::Items, &["ITEM_ID", "PRICE"]);
    store.create_dataset(&users, &[]).await.unwrap();
    store.create_dataset(&items, &[]).await.unwrap();
    load(
        store,
        &g,
        DatasetType::Users,
        2,
        &[&["u1", "30"], &["u2", "40"]],
    )
    .await;
    load(store, &g, DatasetType::Items, 2, &[&["i1", "9.5"]]).await;
    store
        .set_tags(&users.arn(), &vec![("k".into(), "v".into())])
        .await
        .unwrap();

    store
        .delete_dataset(&g.dataset_group_arn, DatasetType::Users)
        .await
        .unwrap();
    assert_eq!(
        store.datasets(&g.dataset_group_arn).await.unwrap(),
        vec![items.clone()]
    );
    assert_eq!(store.tags(&users.arn()).await.unwrap(), vec![]);
    assert_eq!(
        store
            .records(&g.dataset_group_arn, DatasetType::Items)
            .await
            .unwrap(),
        vec![vec!["i1".to_string(), "9.5".to_string()]]
    );
    assert!(matches!(
        store
            .delete_dataset(&g.dataset_group_arn, DatasetType::Users)
            .await,
        Err(StoreError::NotFound(_))
    ));
    store.create_dataset(&users, &[]).await.unwrap();
    assert_eq!(
        store
            .count_records(&g.dataset_group_arn, DatasetType::Users)
            .await
            .unwrap(),
        0
    );
}

/// Tags are kept per ARN, in the order set, and replaced as a whole.
pub async fn tags_belong_to_one_resource(store: &dyn DatasetStore) {
    let a = group("conf-tags-a").dataset_group_arn;
    let b = group("conf-tags-b").dataset_group_arn;
    assert_eq!(store.tags(&a).await.unwrap(), vec![]);
    let tags = vec![
        ("zeta".to_string(), "1".to_string()),
        ("alpha".to_string(), "".to_string()),
    ];
    store.set_tags(&a, &tags).await.unwrap();
    store
        .set_tags(&b, &vec![("other".into(), "x".into())])
        .await
        .unwrap();
    assert_eq!(store.tags(&a).await.unwrap(), tags);
    store
        .set_tags(&a, &vec![("alpha".into(), "2".into())])
        .await
        .unwrap();
    assert_eq!(
        store.tags(&a).await.unwrap(),
        vec![("alpha".to_string(), "2".to_string())]
    );
    store.set_tags(&a, &vec![]).await.unwrap();
    assert_eq!(store.tags(&a).await.unwrap(), vec![]);
    assert_eq!(
        store.tags(&b).await.unwrap(),
        vec![("other".to_string(), "x".to_string())]
    );
}

/// A group has at most one event tracker; a tracker keeps its group, and the group its
/// tracker, until the tracker is deleted.
pub async fn event_trackers_are_one_per_group(store: &dyn DatasetStore) {
    let g = group("conf-trackers");
    let other = group("conf-trackers-b");
    let tracker = |name: &str, g: &DatasetGroup, n: u32| EventTracker {
        name: name.to_owned(),
        event_tracker_arn: format!(
            "arn:aws:personalize:us-east-1:000000000000:event-tracker/{n:08x}"
        ),
        tracking_id: format!("0000000{n}-aaaa-bbbb-cccc-dddddddddddd"),
        dataset_group_arn: g.dataset_group_arn.clone(),
        creation_date_time: 1_700_000_000.0 + f64::from(n),
    };
    let t1 = tracker("t1", &g, 1);
    assert!(matches!(
        store.create_event_tracker(&t1, &[]).await,
        Err(StoreError::NotFound(_))
    ));
    store.create_dataset_group(&g, &[]).await.unwrap();
    store.create_dataset_group(&other, &[]).await.unwrap();
    store.create_event_tracker(&t1, &[]).await.unwrap();
    // A second one for the group, or one reusing an ARN or a tracking ID, is refused.
    for taken in [
        tracker("t2", &g, 2),
        EventTracker {
            dataset_group_arn: other.dataset_group_arn.clone(),
            ..t1.clone()
        },
        EventTracker {
            event_tracker_arn: tracker("x", &other, 3).event_tracker_arn,
            dataset_group_arn: other.dataset_group_arn.clone(),
            ..t1.clone()
        },
    ] {
        assert!(matches!(
            store.create_event_tracker(&taken, &[]).await,
            Err(StoreError::AlreadyExists(_))
        ));
    }
    let t3 = tracker("t3", &other, 3);
    store.create_event_tracker(&t3, &[]).await.unwrap();
    assert_eq!(
        store.event_trackers().await.unwrap(),
        vec![t1.clone(), t3.clone()]
    );
    store
        .set_tags(&t1.event_tracker_arn, &vec![("k".into(), "v".into())])
        .await
        .unwrap();
    assert!(matches!(
        store.delete_dataset_group(&g.dataset_group_arn).await,
        Err(StoreError::InUse(_))
    ));
    store
        .delete_event_tracker(&t1.event_tracker_arn)
        .await
        .unwrap();
    assert!(matches!(
        store.delete_event_tracker(&t1.event_tracker_arn).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.tags(&t1.event_tracker_arn).await.unwrap(), vec![]);
    assert_eq!(store.event_trackers().await.unwrap(), vec![t3]);
    store
        .delete_dataset_group(&g.dataset_group_arn)
        .await
        .unwrap();
    // The group may have a new one once the old is gone.
    store.create_dataset_group(&g, &[]).await.unwrap();
    store
        .create_event_tracker(&tracker("t4", &g, 4), &[])
        .await
        .unwrap();
}

/// A schema replacement moves every record's values to their new columns, nulls the new
/// ones, keeps the attributes given, and changes nothing when it would drop a column.
pub async fn updates_remap_records_by_column_name(store: &dyn DatasetStore) {
    let g = group("conf-update");
    store.create_dataset_group(&g, &[]).await.unwrap();
    let arn = g.dataset_group_arn.as_str();
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (t, old, new, rows, moved) in [
        (
            DatasetType::Users,
            &["USER_ID", "AGE"][..],
            &["AGE", "USER_ID", "CITY"][..],
            &[&["u1", "30"][..], &["u2", ""]][..],
            &[&["30", "u1", ""][..], &["", "u2", ""]][..],
        ),
        (
            DatasetType::Items,
            &["ITEM_ID", "NAME"],
            &["NAME", "PRICE", "ITEM_ID"],
            &[&["i1", "shoe"][..], &["i2", "hat"]],
            &[&["shoe", "", "i1"][..], &["hat", "", "i2"]],
        ),
    ] {
        let d = dataset(&g, t, old);
        store.create_dataset(&d, &[]).await.unwrap();
        load(store, &g, t, old.len(), rows).await;
        let mut attrs = d.attrs.clone();
        attrs.schema_arn = Some("arn:aws:personalize:us-east-1:000000000000:schema/new".into());
        attrs.latest_update = Some(DatasetUpdate {
            schema_arn: attrs.schema_arn.clone().unwrap(),
            failure_reason: None,
            creation_date_time: 1_700_000_002.0,
        });
        // Dropping a column is refused, and changes nothing.
        assert!(matches!(
            store.update_dataset(arn, t, &cols(&new[1..]), &attrs).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.records(arn, t).await.unwrap(), strings(rows));
        store
            .update_dataset(arn, t, &cols(new), &attrs)
            .await
            .unwrap();
        let now = store.datasets(arn).await.unwrap();
        let now = now.iter().find(|x| x.dataset_type == t).unwrap();
        assert_eq!((&now.columns, &now.attrs), (&cols(new), &attrs));
        assert_eq!(store.records(arn, t).await.unwrap(), strings(moved));
        // Loads and scans go on with the new columns; an id loaded again is still replaced.
        let again: Vec<&str> = new
            .iter()
            .map(|c| {
                if *c == t.key_column() {
                    if t == DatasetType::Users {
                        "u1"
                    } else {
                        "i1"
                    }
                } else {
                    "x"
                }
            })
            .collect();
        let batches = stream::iter(vec![Ok(batch(new.len(), &[&again]))]).boxed();
        store
            .load_records(arn, t, LoadMode::Put, batches, None)
            .await
            .unwrap();
        assert_eq!(store.count_records(arn, t).await.unwrap(), 2);
        let scanned: Vec<RowBatch> = store
            .scan_records(arn, t, 10, Ingestion::Put)
            .map(|b| b.unwrap())
            .collect()
            .await;
        let put: Vec<Vec<String>> = scanned
            .iter()
            .flat_map(|b| (0..b.rows()).map(move |i| b.row(i).map(str::to_owned).collect()))
            .collect();
        assert_eq!(
            put,
            vec![again.iter().map(|s| s.to_string()).collect::<Vec<_>>()]
        );
    }
    assert!(matches!(
        store
            .update_dataset(
                arn,
                DatasetType::Actions,
                &cols(&["ACTION_ID"]),
                &DatasetAttrs::default()
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
}
