//! Filters through the real Rust SDKs: CreateFilter parses and checks the expression (a bad
//! one says what and where), and GetRecommendations, GetPersonalizedRanking and promotions
//! apply it to what the model ranks, reading the items', the user's and the interactions'
//! records as they are.

use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::Client;
use futures::StreamExt;
use personalize_local::source::S3Location;
use personalize_local::store::DatasetType;

use crate::api::{start, Server};
use crate::api_resources::create_dataset;
use crate::runtime::{campaign, runtime_client, trained, PLANTED};
use crate::training::group_with_interactions;

/// Loads `csv` into the group's dataset of type `t` (created from the schema `fixture`).
pub(crate) async fn load(server: &Server, group: &str, t: DatasetType, fixture: &str, csv: String) {
    create_dataset(&server.client, group, &t.to_string(), fixture).await;
    let object = format!("filters/{fixture}.csv");
    server.s3.put(&object, csv).await;
    let location = S3Location::parse(&server.s3.location(&object)).unwrap();
    personalize_local::import::import_dataset(
        server.store.as_ref(),
        server.s3.source(),
        group,
        t,
        &location,
        &personalize_local::import::ImportOptions::default(),
    )
    .await
    .unwrap();
}

async fn create_filter(c: &Client, group: &str, name: &str, expression: &str) -> String {
    let arn = c
        .create_filter()
        .name(name)
        .dataset_group_arn(group)
        .filter_expression(expression)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{expression}: {:?}", e.into_service_error()))
        .filter_arn
        .unwrap();
    for _ in 0..500 {
        let f = c.describe_filter().filter_arn(&arn).send().await.unwrap();
        if f.filter.unwrap().status() == Some("ACTIVE") {
            return arn;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the filter {arn} did not become ACTIVE");
}

fn ids_of(
    out: &aws_sdk_personalizeruntime::operation::get_recommendations::GetRecommendationsOutput,
) -> Vec<String> {
    out.item_list()
        .iter()
        .map(|i| i.item_id().unwrap().to_owned())
        .collect()
}

fn group_of(id: &str) -> usize {
    id.trim_start_matches(['u', 'i']).parse::<usize>().unwrap() % PLANTED.groups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_are_parsed_checked_and_applied() {
    let server = start(Duration::from_millis(40), true).await;
    let c = &server.client;
    let r = runtime_client(&server.endpoint);
    let group = group_with_interactions(&server, "filters", PLANTED.rows()).await;
    // Items: CATEGORY names the planted group, CREATION_TIMESTAMP is the item's number.
    let mut items = String::from("ITEM_ID,CATEGORY,CREATION_TIMESTAMP\n");
    for i in 0..PLANTED.items {
        items += &format!("i{i},g{},{i}\n", i % PLANTED.groups);
    }
    load(&server, &group, DatasetType::Items, "items", items).await;
    let mut users = String::from("USER_ID,AGE,MEMBERSHIP\n");
    for u in 0..PLANTED.users {
        users += &format!("u{u},{},basic\n", 10 + u % 60);
    }
    load(&server, &group, DatasetType::Users, "users", users).await;

    // Bad expressions are refused, saying what and where.
    for (expression, says) in [
        ("INCLUDE ItemID Items.CATEGORY IN (\"g1\")", "expected WHERE, found \"Items.CATEGORY\" (at position 16)"),
        ("INCLUDE ItemID WHERE Items.COLOR IN (\"red\")", "the Items dataset has no field COLOR"),
        ("EXCLUDE ItemID WHERE Items.CATEGORY NOT IN ($C)", "NOT IN takes no parameter"),
        (
            "INCLUDE ItemID WHERE Items.CATEGORY IN (\"g1\") AND Interactions.EVENT_TYPE IN (\"click\")",
            "chain them with |",
        ),
        ("EXCLUDE ActionID WHERE Actions.VALUE > 3", "no Actions dataset"),
    ] {
        let err = c
            .create_filter()
            .name("bad")
            .dataset_group_arn(&group)
            .filter_expression(expression)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidInputException"), "{expression}");
        assert!(err.message().unwrap().contains(says), "{expression}: {:?}", err.message());
    }

    let by_category = create_filter(
        c,
        &group,
        "by-category",
        "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
    )
    .await;
    let unclicked = create_filter(
        c,
        &group,
        "unclicked",
        "EXCLUDE itemId WHERE INTERACTIONS.event_type in (\"CLICK\")",
    )
    .await;
    let cheap_for_young = create_filter(
        c,
        &group,
        "cheap-for-young",
        "EXCLUDE ItemID WHERE Items.CREATION_TIMESTAMP >= 6 IF CurrentUser.AGE < 30",
    )
    .await;
    let like_current = create_filter(
        c,
        &group,
        "like-current",
        "INCLUDE ItemID WHERE Items.CATEGORY IN CurrentItem.CATEGORY",
    )
    .await;
    let listed = c
        .list_filters()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.filters().len(), 4);
    let d = c
        .describe_filter()
        .filter_arn(&by_category)
        .send()
        .await
        .unwrap()
        .filter
        .unwrap();
    assert_eq!(
        d.filter_expression(),
        Some("INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    );

    let up = trained(c, &group, "filters-up", "aws-user-personalization-v2").await;
    let pop = trained(c, &group, "filters-pop", "aws-popularity-count").await;
    let sims = trained(c, &group, "filters-sims", "aws-sims").await;
    let up = campaign(c, "filters-up", &up, None).await;
    let pop = campaign(c, "filters-pop", &pop, None).await;
    let sims = campaign(c, "filters-sims", &sims, None).await;

    let ask = |campaign: &str, user: &str, filter: Option<&str>, values: &[(&str, &str)]| {
        let mut q = r
            .get_recommendations()
            .campaign_arn(campaign)
            .user_id(user)
            .num_results(10);
        if let Some(f) = filter {
            q = q.filter_arn(f);
        }
        for (k, v) in values {
            q = q.filter_values(*k, *v);
        }
        q
    };
    let ids = |out: &aws_sdk_personalizeruntime::operation::get_recommendations::GetRecommendationsOutput| {
        out.item_list().iter().map(|i| i.item_id().unwrap().to_owned()).collect::<Vec<_>>()
    };

    // u0 is of group 0; asked for group 2's items, it gets 10 of them.
    let out = ask(&up, "u0", Some(&by_category), &[("CATEGORY", "\"g2\"")])
        .send()
        .await
        .unwrap();
    let got = ids(&out);
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|i| group_of(i) == 2), "{got:?}");
    let two = ask(
        &up,
        "u0",
        Some(&by_category),
        &[("CATEGORY", "\"g2\",\"g3\"")],
    )
    .send()
    .await
    .unwrap();
    assert!(ids(&two).iter().all(|i| [2, 3].contains(&group_of(i))));
    // An INCLUDE parameter is required.
    let err = ask(&up, "u0", Some(&by_category), &[])
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidInputException"));
    assert!(
        err.message().unwrap().contains("lacks CATEGORY"),
        "{:?}",
        err.message()
    );

    // Popularity recommends what the user clicked; the interaction filter takes it out,
    // reading the user's records as they are now.
    let mine: Vec<String> = server
        .store
        .records_of(&group, DatasetType::Interactions, &["u5".to_string()])
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    let plain = ids(&ask(&pop, "u5", None, &[]).send().await.unwrap());
    assert!(plain.iter().any(|i| mine.contains(i)), "{plain:?} {mine:?}");
    let filtered = ids(&ask(&pop, "u5", Some(&unclicked), &[]).send().await.unwrap());
    assert_eq!(filtered.len(), 10);
    assert!(!filtered.iter().any(|i| mine.contains(i)), "{filtered:?}");

    // IF: young users (u5 is 15) lose items numbered 6 and up; older ones (u45 is 55) not.
    let young = ids(&ask(&pop, "u5", Some(&cheap_for_young), &[])
        .send()
        .await
        .unwrap());
    let mut numbers: Vec<usize> = young.iter().map(|i| i[1..].parse().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, [0, 1, 2, 3, 4, 5], "{young:?}");
    let old = ids(&ask(&pop, "u45", Some(&cheap_for_young), &[])
        .send()
        .await
        .unwrap());
    assert_eq!(old, ids(&ask(&pop, "u45", None, &[]).send().await.unwrap()));
    assert!(
        old.iter().any(|i| i[1..].parse::<usize>().unwrap() >= 6),
        "{old:?}"
    );

    // CurrentItem: items of the same category as the request's item.
    let related = r
        .get_recommendations()
        .campaign_arn(&sims)
        .item_id("i7")
        .filter_arn(&like_current)
        .send()
        .await
        .unwrap();
    assert_eq!(
        related.item_list().len(),
        19,
        "the other 19 items of group 1"
    );
    assert!(related
        .item_list()
        .iter()
        .all(|i| group_of(i.item_id().unwrap()) == 1));
    let err = ask(&up, "u0", Some(&like_current), &[])
        .send()
        .await
        .unwrap_err();
    assert!(
        err.message().unwrap().contains("CurrentItem"),
        "{:?}",
        err.message()
    );

    // An item added after training (no interactions, so not in the model) is answered by
    // its category: the known items of g4, the more popular first.
    let mut cold = personalize_local::store::RowBatch::new(3);
    cold.push_row(["new-item", "g4", "999"]);
    server
        .store
        .append_records(
            &group,
            DatasetType::Items,
            futures::stream::iter(vec![Ok(cold)]).boxed(),
        )
        .await
        .unwrap();
    let like = r
        .get_recommendations()
        .campaign_arn(&sims)
        .item_id("new-item")
        .num_results(10)
        .send()
        .await
        .unwrap();
    let like: Vec<&str> = like
        .item_list()
        .iter()
        .map(|i| i.item_id().unwrap())
        .collect();
    assert_eq!(like.len(), 10);
    assert!(like.iter().all(|i| group_of(i) == 4), "{like:?}");
    let unknown = r
        .get_recommendations()
        .campaign_arn(&sims)
        .item_id("no-record")
        .num_results(10)
        .send()
        .await
        .unwrap();
    let popular = ids_of(&ask(&pop, "nobody", None, &[]).send().await.unwrap());
    let unknown: Vec<String> = unknown
        .item_list()
        .iter()
        .map(|i| i.item_id().unwrap().to_owned())
        .collect();
    assert_eq!(unknown, popular, "no record: the popular items");

    // A promotion: 30% of 10 answers are group 3's items, named, spread through the list.
    let promoted = ask(&up, "u0", None, &[])
        .promotions(
            aws_sdk_personalizeruntime::types::Promotion::builder()
                .name("g3-week")
                .percent_promoted_items(30)
                .filter_arn(&by_category)
                .filter_values("CATEGORY", "\"g3\"")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let list = promoted.item_list();
    assert_eq!(list.len(), 10);
    let at: Vec<usize> = (0..10)
        .filter(|&k| list[k].promotion_name() == Some("g3-week"))
        .collect();
    assert_eq!(at, vec![0, 4, 7], "{list:?}");
    assert!(at
        .iter()
        .all(|&k| group_of(list[k].item_id().unwrap()) == 3));

    // Metadata, where the campaign enables it.
    let pop_version = c
        .describe_campaign()
        .campaign_arn(&pop)
        .send()
        .await
        .unwrap()
        .campaign
        .unwrap()
        .solution_version_arn
        .unwrap();
    let with_meta = campaign(
        c,
        "filters-meta",
        &pop_version,
        Some(
            aws_sdk_personalize::types::CampaignConfig::builder()
                .enable_metadata_with_recommendations(true)
                .build(),
        ),
    )
    .await;
    let out = r
        .get_recommendations()
        .campaign_arn(&with_meta)
        .user_id("u1")
        .num_results(5)
        .metadata_columns("ITEMS", vec!["CATEGORY".to_string()])
        .send()
        .await
        .unwrap();
    for i in out.item_list() {
        let want = format!("g{}", group_of(i.item_id().unwrap()));
        assert_eq!(i.metadata().unwrap()["CATEGORY"], want, "{i:?}");
    }
    let refused = r
        .get_recommendations()
        .campaign_arn(&pop)
        .user_id("u1")
        .metadata_columns("ITEMS", vec!["CATEGORY".to_string()])
        .send()
        .await
        .unwrap_err();
    assert!(refused
        .message()
        .unwrap()
        .contains("enableMetadataWithRecommendations"));

    // A filter in use by nothing is deleted; a group with filters cannot be.
    let busy = c
        .delete_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Some("ResourceInUseException"));
    c.delete_filter()
        .filter_arn(&unclicked)
        .send()
        .await
        .unwrap();
    let gone = ask(&pop, "u5", Some(&unclicked), &[])
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}
