//! Campaigns and the personalize-runtime API through the real Rust SDKs
//! (`aws-sdk-personalize`, `aws-sdk-personalizeruntime`) on one server port: answers that
//! follow the planted structure of the records, a ranked list, a user deleted by a data
//! deletion job, updates, `$LATEST`, and the errors.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_personalize::types::CampaignConfig;
use aws_sdk_personalize::Client;
use aws_sdk_personalizeruntime::error::ProvideErrorMetadata;
use personalize_local::train::planted::Planted;

use crate::api::{deletion, start, Server};
use crate::training::{group_with_interactions, solution, train};

pub fn runtime_client(endpoint: &str) -> aws_sdk_personalizeruntime::Client {
    use aws_sdk_personalizeruntime::config;
    let conf = config::Builder::new()
        .behavior_version(config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(config::Region::new("us-east-1"))
        .credentials_provider(config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    aws_sdk_personalizeruntime::Client::from_conf(conf)
}

pub(crate) const PLANTED: Planted = Planted {
    users: 600,
    items: 120,
    groups: 6,
    per_user: 10,
    affinity: 0.85,
    seed: 7,
};

/// A new solution, polled until ACTIVE.
async fn active_solution(c: &Client, group: &str, name: &str, recipe: &str) -> String {
    let s = solution(c, group, name, recipe).await;
    for _ in 0..500 {
        let d = c.describe_solution().solution_arn(&s).send().await.unwrap();
        if d.solution.unwrap().status() == Some("ACTIVE") {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the solution {s} did not become ACTIVE");
}

/// An ACTIVE version of a new solution of `recipe` on `group`.
pub(crate) async fn trained(c: &Client, group: &str, name: &str, recipe: &str) -> String {
    let s = active_solution(c, group, name, recipe).await;
    let (v, d) = train(c, &s).await;
    assert_eq!(d.status(), Some("ACTIVE"), "{:?}", d.failure_reason());
    v
}

/// A campaign of `version`, polled until ACTIVE.
pub(crate) async fn campaign(
    c: &Client,
    name: &str,
    version: &str,
    config: Option<CampaignConfig>,
) -> String {
    let arn = c
        .create_campaign()
        .name(name)
        .solution_version_arn(version)
        .set_campaign_config(config)
        .send()
        .await
        .unwrap()
        .campaign_arn
        .unwrap();
    wait_campaign(c, &arn).await;
    arn
}

async fn wait_campaign(c: &Client, arn: &str) -> aws_sdk_personalize::types::Campaign {
    for _ in 0..500 {
        let d = c
            .describe_campaign()
            .campaign_arn(arn)
            .send()
            .await
            .unwrap();
        let d = d.campaign.unwrap();
        let update_done = d
            .latest_campaign_update()
            .is_none_or(|u| u.status() == Some("ACTIVE"));
        if d.status() == Some("ACTIVE") && update_done {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the campaign {arn} did not become ACTIVE");
}

async fn recommend(
    r: &aws_sdk_personalizeruntime::Client,
    campaign: &str,
    user: &str,
    n: i32,
) -> Vec<String> {
    r.get_recommendations()
        .campaign_arn(campaign)
        .user_id(user)
        .num_results(n)
        .send()
        .await
        .unwrap()
        .item_list()
        .iter()
        .map(|i| i.item_id().unwrap().to_owned())
        .collect()
}

fn group_of(id: &str) -> usize {
    id.trim_start_matches(['u', 'i']).parse::<usize>().unwrap() % PLANTED.groups
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_answers_from_the_users_own_group_and_ranks_lists() {
    let server = start(Duration::from_millis(100), true).await;
    let c = &server.client;
    let r = runtime_client(&server.endpoint);
    // Each user's latest interaction is held out of the records, to check hits against.
    let rows: Vec<(String, String, i64)> = PLANTED.rows().collect();
    let mut held_out = std::collections::HashMap::new();
    for (u, i, _) in &rows {
        held_out.insert(u.clone(), i.clone());
    }
    let kept: Vec<(String, String, i64)> = rows
        .iter()
        .filter(|(u, _, t)| rows.iter().rev().find(|r| &r.0 == u).unwrap().2 != *t)
        .cloned()
        .collect();
    // Hits count where the held-out item is new to the user (a repeat is not a discovery).
    let repeat: HashSet<&String> = kept
        .iter()
        .filter(|(u, i, _)| held_out[u] == *i)
        .map(|(u, _, _)| u)
        .collect();
    let kept = kept.clone().into_iter();
    let group = group_with_interactions(&server, "serve", kept).await;
    let up = trained(c, &group, "serve-up", "aws-user-personalization-v2").await;
    let pop = trained(c, &group, "serve-pop", "aws-popularity-count").await;
    let up_campaign = campaign(c, "serve-up", &up, None).await;
    let pop_campaign = campaign(c, "serve-pop", &pop, None).await;

    let (mut own, mut total, mut up_hits, mut pop_hits) = (0, 0, 0, 0);
    for u in (0..PLANTED.users).step_by(5) {
        let user = format!("u{u}");
        let mine = recommend(&r, &up_campaign, &user, 25).await;
        assert_eq!(mine.len(), 25);
        assert_eq!(mine.iter().collect::<HashSet<_>>().len(), 25, "distinct");
        // A group has 20 items, some of which the user has: the first 10 are the measure.
        let first = &mine[..10];
        own += first
            .iter()
            .filter(|i| group_of(i) == group_of(&user))
            .count();
        total += first.len();
        let popular = recommend(&r, &pop_campaign, &user, 25).await;
        if !repeat.contains(&user) {
            up_hits += mine.contains(&held_out[&user]) as usize;
            pop_hits += popular.contains(&held_out[&user]) as usize;
        }
    }
    let share = own as f64 / total as f64;
    // Chance is 1 in 6.
    assert!(
        share > 0.5,
        "own-group share of the first 10 recommendations {share}"
    );
    assert!(
        up_hits as f64 >= 1.5 * pop_hits as f64,
        "held-out hits: user-personalization {up_hits}, popularity {pop_hits}"
    );
    // The same request, the same answer; a new user gets the popular items.
    assert_eq!(
        recommend(&r, &up_campaign, "u7", 10).await,
        recommend(&r, &up_campaign, "u7", 10).await
    );
    let new = recommend(&r, &up_campaign, "nobody", 10).await;
    assert_eq!(new, recommend(&r, &pop_campaign, "u7", 10).await);

    // Scores sum to 1 over the list, best first.
    let answer = r
        .get_recommendations()
        .campaign_arn(&up_campaign)
        .user_id("u3")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.item_list().len(), 25, "numResults defaults to 25");
    assert!(answer.recommendation_id().unwrap().starts_with("RID-"));
    let scores: Vec<f64> = answer
        .item_list()
        .iter()
        .map(|i| i.score().unwrap())
        .collect();
    assert!(
        (scores.iter().sum::<f64>() - 1.0).abs() < 1e-3,
        "{scores:?}"
    );
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // A ranking campaign reorders a list by the same scores: own-group items first, an
    // item the model does not know last.
    let rank = trained(c, &group, "serve-rank", "aws-personalized-ranking-v2").await;
    let rank_campaign = campaign(c, "serve-rank", &rank, None).await;
    let input: Vec<String> = vec!["i1", "i2", "i0", "unknown-item", "i6", "i3", "i12"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let ranked = r
        .get_personalized_ranking()
        .campaign_arn(&rank_campaign)
        .user_id("u0")
        .set_input_list(Some(input.clone()))
        .send()
        .await
        .unwrap();
    let order: Vec<&str> = ranked
        .personalized_ranking()
        .iter()
        .map(|i| i.item_id().unwrap())
        .collect();
    assert_eq!(order.len(), input.len());
    assert_eq!(
        order.iter().collect::<HashSet<_>>(),
        input
            .iter()
            .map(String::as_str)
            .collect::<HashSet<_>>()
            .iter()
            .collect()
    );
    assert_eq!(order.last(), Some(&"unknown-item"));
    let firsts: Vec<usize> = order[..3].iter().map(|i| group_of(i)).collect();
    assert_eq!(firsts, vec![0, 0, 0], "u0's group (0) first: {order:?}");

    // The wrong operation for a campaign's recipe type is InvalidInputException.
    let wrong = r
        .get_recommendations()
        .campaign_arn(&rank_campaign)
        .user_id("u0")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidInputException"));
    assert!(wrong.message().unwrap().contains("GetPersonalizedRanking"));
    let wrong = r
        .get_personalized_ranking()
        .campaign_arn(&up_campaign)
        .user_id("u0")
        .input_list("i1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidInputException"));
    let missing = r
        .get_recommendations()
        .campaign_arn(&up_campaign)
        .send()
        .await
        .unwrap_err();
    assert!(missing.message().unwrap().contains("userId is required"));
    let unknown = r
        .get_recommendations()
        .campaign_arn(format!("{}-nope", up_campaign))
        .user_id("u1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Some("ResourceNotFoundException"));
    let too_many = r
        .get_recommendations()
        .campaign_arn(&up_campaign)
        .user_id("u1")
        .num_results(501)
        .send()
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Some("InvalidInputException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_user_is_answered_as_a_user_with_no_history() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let r = runtime_client(&server.endpoint);
    let group = group_with_interactions(&server, "forget-serve", PLANTED.rows()).await;
    let up = trained(c, &group, "forget-up", "aws-user-personalization-v2").await;
    let camp = campaign(c, "forget-up", &up, None).await;
    let before = recommend(&r, &camp, "u4", 25).await;
    let nobody = recommend(&r, &camp, "nobody", 25).await;
    assert_ne!(before, nobody, "u4 has a history");
    assert!(before[..10].iter().all(|i| group_of(i) == 4), "{before:?}");
    server.s3.put("forget-serve/u4.csv", "USER_ID\nu4\n").await;
    let location = server.s3.location("forget-serve/u4.csv");
    let job = deletion(c, "forget-serve", &group, &location).await;
    assert_eq!(job.status(), Some("COMPLETED"));
    // From the moment the job is COMPLETED, the same model answers u4 as a stranger.
    assert_eq!(recommend(&r, &camp, "u4", 25).await, nobody);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_are_created_updated_listed_and_deleted() {
    let server: Server = start(Duration::from_millis(200), true).await;
    let c = &server.client;
    let r = runtime_client(&server.endpoint);
    let group = group_with_interactions(&server, "camp", PLANTED.rows()).await;
    let sol = active_solution(c, &group, "camp-up", "aws-user-personalization").await;
    let (v1, _) = train(c, &sol).await;
    let pop = trained(c, &group, "camp-pop", "aws-popularity-count").await;
    let arn = c
        .create_campaign()
        .name("camp")
        .solution_version_arn(&v1)
        .min_provisioned_tps(2)
        .send()
        .await
        .unwrap()
        .campaign_arn
        .unwrap();
    assert!(arn.ends_with(":campaign/camp"), "{arn}");
    let d = c
        .describe_campaign()
        .campaign_arn(&arn)
        .send()
        .await
        .unwrap();
    let d = d.campaign.unwrap();
    assert_eq!(d.status(), Some("CREATE PENDING"));
    assert_eq!(d.min_provisioned_tps(), Some(2));
    assert!(d.latest_campaign_update().is_none());
    let early = r
        .get_recommendations()
        .campaign_arn(&arn)
        .user_id("u1")
        .send()
        .await;
    assert_eq!(early.unwrap_err().code(), Some("InvalidInputException"));
    wait_campaign(c, &arn).await;
    let dup = c
        .create_campaign()
        .name("camp")
        .solution_version_arn(&v1)
        .send()
        .await;
    assert_eq!(
        dup.unwrap_err().code(),
        Some("ResourceAlreadyExistsException")
    );

    // Listed by solution (any of its versions) and by account.
    let by_solution = c.list_campaigns().solution_arn(&sol).send().await.unwrap();
    assert_eq!(by_solution.campaigns().len(), 1);
    let all = c.list_campaigns().send().await.unwrap();
    assert_eq!(all.campaigns().len(), 1);

    // An update serves the old version until it is ACTIVE, then the new one.
    let v2 = {
        // New data for user u1 makes the second version differ in what it knows.
        let (v2, d2) = train(c, &sol).await;
        assert_eq!(d2.status(), Some("ACTIVE"));
        v2
    };
    c.update_campaign()
        .campaign_arn(&arn)
        .solution_version_arn(&v2)
        .send()
        .await
        .unwrap();
    let d = c
        .describe_campaign()
        .campaign_arn(&arn)
        .send()
        .await
        .unwrap();
    let d = d.campaign.unwrap();
    assert_eq!(
        d.solution_version_arn(),
        Some(v1.as_str()),
        "still the old one"
    );
    let u = d.latest_campaign_update().unwrap();
    assert_eq!(u.solution_version_arn(), Some(v2.as_str()));
    assert_eq!(u.status(), Some("CREATE PENDING"));
    let again = c
        .update_campaign()
        .campaign_arn(&arn)
        .min_provisioned_tps(3)
        .send()
        .await;
    assert_eq!(again.unwrap_err().code(), Some("ResourceInUseException"));
    let d = wait_campaign(c, &arn).await;
    assert_eq!(d.solution_version_arn(), Some(v2.as_str()));
    // A version of another solution is not an update of this campaign.
    let other = c
        .update_campaign()
        .campaign_arn(&arn)
        .solution_version_arn(&pop)
        .send()
        .await;
    assert_eq!(other.unwrap_err().code(), Some("InvalidInputException"));

    // $LATEST follows the solution's newest ACTIVE version.
    let latest = campaign(
        c,
        "camp-latest",
        &format!("{sol}/$LATEST"),
        Some(
            CampaignConfig::builder()
                .sync_with_latest_solution_version(true)
                .build(),
        ),
    )
    .await;
    let d = c
        .describe_campaign()
        .campaign_arn(&latest)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.campaign.unwrap().solution_version_arn(),
        Some(format!("{sol}/$LATEST").as_str())
    );
    assert_eq!(
        recommend(&r, &latest, "u2", 5).await,
        recommend(&r, &arn, "u2", 5).await
    );
    let unsynced = c
        .create_campaign()
        .name("camp-unsynced")
        .solution_version_arn(format!("{sol}/$LATEST"))
        .send()
        .await;
    assert_eq!(unsynced.unwrap_err().code(), Some("InvalidInputException"));

    // A solution with campaigns cannot be deleted; a deleted campaign stops answering.
    let busy = c.delete_solution().solution_arn(&sol).send().await;
    assert_eq!(busy.unwrap_err().code(), Some("ResourceInUseException"));
    for camp in [&arn, &latest] {
        c.delete_campaign().campaign_arn(camp).send().await.unwrap();
    }
    let d = c
        .describe_campaign()
        .campaign_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(d.campaign.unwrap().status(), Some("DELETE PENDING"));
    let gone = r
        .get_recommendations()
        .campaign_arn(&arn)
        .user_id("u1")
        .send()
        .await;
    assert_eq!(gone.unwrap_err().code(), Some("ResourceNotFoundException"));
    c.delete_solution().solution_arn(&sol).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_best_action_campaigns_recommend_actions() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let r = runtime_client(&server.endpoint);
    let planted = Planted {
        users: 400,
        items: 40,
        groups: 4,
        per_user: 8,
        affinity: 0.9,
        seed: 9,
    };
    let rows = planted.rows().map(|(u, i, t)| (u, i.replace('i', "a"), t));
    let group = crate::training::group_with_action_interactions(&server, "act", rows).await;
    let nba = trained(c, &group, "act-nba", "aws-next-best-action").await;
    let camp = campaign(c, "act-nba", &nba, None).await;
    let out = r
        .get_action_recommendations()
        .campaign_arn(&camp)
        .user_id("u3")
        .send()
        .await
        .unwrap();
    let actions: Vec<&str> = out
        .action_list()
        .iter()
        .map(|a| a.action_id().unwrap())
        .collect();
    assert_eq!(actions.len(), 5, "numResults defaults to 5");
    let own = actions
        .iter()
        .filter(|a| a[1..].parse::<usize>().unwrap() % 4 == 3)
        .count();
    assert!(own >= 4, "u3's group (3) first: {actions:?}");
    assert!(out.recommendation_id().unwrap().starts_with("RID-"));
    let wrong = r
        .get_recommendations()
        .campaign_arn(&camp)
        .user_id("u3")
        .send()
        .await
        .unwrap_err();
    assert!(wrong
        .message()
        .unwrap()
        .contains("GetActionRecommendations"));
    let too_many = r
        .get_action_recommendations()
        .campaign_arn(&camp)
        .user_id("u3")
        .num_results(101)
        .send()
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Some("InvalidInputException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_answers_replace_the_models_for_their_user_only() {
    use crate::faults::admin_at;
    use personalize_local::api::PINS_PATH;
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let r = runtime_client(&server.endpoint);
    let group = group_with_interactions(&server, "pins", PLANTED.rows()).await;
    let up = trained(c, &group, "pins-up", "aws-user-personalization-v2").await;
    let camp = campaign(c, "pins-up", &up, None).await;
    let real = recommend(&r, &camp, "u1", 3).await;
    let pin = serde_json::json!({"arn": camp, "userId": "u1", "itemIds": ["x", "y", "z", "w"]});
    let (status, listed) = admin_at(&server.endpoint, PINS_PATH, "POST", Some(pin)).await;
    assert_eq!(status, 200);
    assert_eq!(listed["pins"].as_array().unwrap().len(), 1);
    assert_eq!(recommend(&r, &camp, "u1", 3).await, ["x", "y", "z"]);
    assert_ne!(recommend(&r, &camp, "u2", 3).await, ["x", "y", "z"]);
    let bad = serde_json::json!({"arn": camp, "itemIds": ["x"]});
    let (status, _) = admin_at(&server.endpoint, PINS_PATH, "POST", Some(bad)).await;
    assert_eq!(status, 400, "a pin names a user or an item");
    let (status, _) = admin_at(&server.endpoint, PINS_PATH, "DELETE", None).await;
    assert_eq!(status, 200);
    assert_eq!(recommend(&r, &camp, "u1", 3).await, real);
}
