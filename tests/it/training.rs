//! Training through the Rust SDK: solutions and solution versions trained by the worker
//! from the store's records, on data with planted structure; their metrics; too little
//! data; and a user deleted by a COMPLETED data deletion job absent from the model.

use std::time::Duration;

use aws_sdk_personalize::types::{SolutionConfig, Tag};
use aws_sdk_personalize::Client;
use personalize_local::model::format::Model;
use personalize_local::source::S3Location;
use personalize_local::store::DatasetType;
use personalize_local::train::planted::Planted;

use crate::api::{create_active_group, start, Server};
use crate::api_resources::create_dataset;

/// A group whose Interactions dataset holds `rows` (user, item, time) as `click` events,
/// loaded through the library's import from the embedded S3.
pub(crate) async fn group_with_interactions(
    server: &Server,
    name: &str,
    rows: impl Iterator<Item = (String, String, i64)>,
) -> String {
    loaded_group(server, name, DatasetType::Interactions, rows).await
}

/// Like [`group_with_interactions`], into the group's Action_Interactions dataset as
/// `TAKEN` actions.
pub(crate) async fn group_with_action_interactions(
    server: &Server,
    name: &str,
    rows: impl Iterator<Item = (String, String, i64)>,
) -> String {
    loaded_group(server, name, DatasetType::ActionInteractions, rows).await
}

/// A group whose dataset of type `t` (Interactions or Action_Interactions) holds `rows`.
async fn loaded_group(
    server: &Server,
    name: &str,
    t: DatasetType,
    rows: impl Iterator<Item = (String, String, i64)>,
) -> String {
    let (fixture, key, event) = match t {
        DatasetType::ActionInteractions => ("action_interactions", "ACTION_ID", "TAKEN"),
        _ => ("interactions", "ITEM_ID", "click"),
    };
    let group = create_active_group(server, name).await;
    create_dataset(&server.client, &group, &t.to_string(), fixture).await;
    let mut csv = format!("USER_ID,{key},TIMESTAMP,EVENT_TYPE\n");
    for (u, i, time) in rows {
        csv += &format!("{u},{i},{time},{event}\n");
    }
    let object = format!("{name}/{fixture}.csv");
    server.s3.put(&object, csv).await;
    let location = S3Location::parse(&server.s3.location(&object)).unwrap();
    personalize_local::import::import_dataset(
        server.store.as_ref(),
        server.s3.source(),
        &group,
        t,
        &location,
        &personalize_local::import::ImportOptions::default(),
    )
    .await
    .unwrap();
    group
}

pub(crate) async fn solution(c: &Client, group: &str, name: &str, recipe: &str) -> String {
    c.create_solution()
        .name(name)
        .dataset_group_arn(group)
        .recipe_arn(format!("arn:aws:personalize:::recipe/{recipe}"))
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("ml")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .solution_arn
        .unwrap()
}

/// A new version of `solution`, polled until it ends; its ARN and final status.
pub(crate) async fn train(
    c: &Client,
    solution: &str,
) -> (String, aws_sdk_personalize::types::SolutionVersion) {
    let arn = c
        .create_solution_version()
        .solution_arn(solution)
        .send()
        .await
        .unwrap()
        .solution_version_arn
        .unwrap();
    for _ in 0..1500 {
        let v = c
            .describe_solution_version()
            .solution_version_arn(&arn)
            .send()
            .await
            .unwrap()
            .solution_version
            .unwrap();
        if matches!(v.status(), Some("ACTIVE" | "CREATE FAILED")) {
            return (arn, v);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the solution version {arn} did not end");
}

async fn metric(c: &Client, version: &str, name: &str) -> f64 {
    let m = c
        .get_solution_metrics()
        .solution_version_arn(version)
        .send()
        .await
        .unwrap();
    m.metrics().unwrap()[name]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solutions_train_from_the_records_and_measure_the_structure() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let planted = Planted {
        users: 600,
        items: 120,
        groups: 6,
        per_user: 10,
        affinity: 0.85,
        seed: 3,
    };
    // One user, deleted before training, is the only one to have touched one item.
    let gone = (0..3).map(|k| {
        (
            "gone-user".to_owned(),
            "only-gone".to_owned(),
            1_600_000_000 + k,
        )
    });
    let group = group_with_interactions(&server, "train", planted.rows().chain(gone)).await;
    server
        .s3
        .put("forget/users.csv", "USER_ID\ngone-user\n")
        .await;
    let job = c
        .create_data_deletion_job()
        .job_name("forget-before-training")
        .dataset_group_arn(&group)
        .data_source(
            aws_sdk_personalize::types::DataSource::builder()
                .data_location(server.s3.location("forget/users.csv"))
                .build(),
        )
        .role_arn("arn:aws:iam::000000000000:role/r")
        .send()
        .await
        .unwrap()
        .data_deletion_job_arn
        .unwrap();
    let done = crate::api::wait_job(c, &job).await;
    assert_eq!(done.status(), Some("COMPLETED"));
    assert_eq!(done.num_deleted(), Some(3));

    let personal = solution(c, &group, "personal", "aws-user-personalization-v2").await;
    let popular = solution(c, &group, "popular", "aws-popularity-count").await;
    let similar = solution(c, &group, "similar", "aws-similar-items").await;
    let (p_version, p) = train(c, &personal).await;
    assert_eq!(p.status(), Some("ACTIVE"), "{:?}", p.failure_reason());
    assert_eq!(p.training_mode().map(|m| m.as_str()), Some("FULL"));
    assert_eq!(p.training_type().map(|t| t.as_str()), Some("MANUAL"));
    assert_eq!(p.dataset_group_arn(), Some(group.as_str()));
    assert!(p.training_hours().unwrap() > 0.0);
    let (q_version, q) = train(c, &popular).await;
    assert_eq!(q.status(), Some("ACTIVE"), "{:?}", q.failure_reason());
    let (s_version, s) = train(c, &similar).await;
    assert_eq!(s.status(), Some("ACTIVE"), "{:?}", s.failure_reason());

    // The planted groups show: user-personalization finds them, popularity cannot.
    let up = metric(c, &p_version, "precision_at_10").await;
    let pop = metric(c, &q_version, "precision_at_10").await;
    assert!(
        up >= 2.0 * pop,
        "precision_at_10: user-personalization {up}, popularity {pop}"
    );
    let m = c
        .get_solution_metrics()
        .solution_version_arn(&p_version)
        .send()
        .await
        .unwrap();
    let names: Vec<&String> = m.metrics().unwrap().keys().collect();
    for want in [
        "coverage",
        "mean_reciprocal_rank_at_25",
        "normalized_discounted_cumulative_gain_at_5",
        "normalized_discounted_cumulative_gain_at_10",
        "normalized_discounted_cumulative_gain_at_25",
        "precision_at_5",
        "precision_at_10",
        "precision_at_25",
    ] {
        assert!(
            names.iter().any(|n| *n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(metric(c, &s_version, "coverage").await > 0.0);

    // The deleted user is nowhere in what the new versions hold, nor the item only they
    // touched; the kept users' items are.
    for version in [&p_version, &q_version, &s_version] {
        let blob = server.store.blob(version).await.unwrap().unwrap();
        assert!(
            memchr::memmem::find(&blob, b"gone-user").is_none(),
            "{version} holds the deleted user"
        );
        let model = Model::decode(&blob).unwrap();
        assert!(!model.items.iter().any(|i| i == "only-gone"), "{version}");
        assert_eq!(model.items.len(), 120);
    }

    // Describe, list, tags.
    let d = c
        .describe_solution()
        .solution_arn(&personal)
        .send()
        .await
        .unwrap()
        .solution
        .unwrap();
    assert_eq!(d.status(), Some("ACTIVE"));
    assert_eq!(
        d.latest_solution_version()
            .and_then(|v| v.solution_version_arn()),
        Some(p_version.as_str())
    );
    assert!(d.perform_auto_training().unwrap_or(false), "on by default");
    let listed = c
        .list_solutions()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.solutions().len(), 3);
    let versions = c
        .list_solution_versions()
        .solution_arn(&personal)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.solution_versions().len(), 1);
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&personal)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);

    // Deleted, a solution and its versions are gone.
    c.delete_solution()
        .solution_arn(&popular)
        .send()
        .await
        .unwrap();
    let err = c
        .describe_solution_version()
        .solution_version_arn(&q_version)
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception()));
    assert_eq!(server.store.blob(&q_version).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_little_data_or_a_bad_configuration_is_refused_with_a_reason() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let rows = (0..40).flat_map(|u| {
        (0..3).map(move |k| {
            (
                format!("u{u}"),
                format!("i{}", (u + k) % 9),
                1_600_000_000 + k,
            )
        })
    });
    let group = group_with_interactions(&server, "small", rows).await;
    let s = solution(c, &group, "small", "aws-user-personalization").await;
    let (_, v) = train(c, &s).await;
    assert_eq!(v.status(), Some("CREATE FAILED"));
    let why = v.failure_reason().unwrap();
    assert!(
        why.contains("there are 120 interactions") && why.contains("at least 1000"),
        "{why}"
    );
    let err = c
        .get_solution_metrics()
        .solution_version_arn(v.solution_version_arn().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .is_some_and(|e| e.is_resource_in_use_exception()));

    // An unknown hyperparameter, a domain use case, an unknown recipe.
    let err = c
        .create_solution()
        .name("bad-hp")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-similar-items")
        .solution_config(
            SolutionConfig::builder()
                .algorithm_hyper_parameters("hidden_dimension", "100")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let e = err.as_service_error().unwrap();
    assert!(e.is_invalid_input_exception(), "{err:?}");
    assert!(format!("{e}").contains("hidden_dimension"), "{e}");
    let err = c
        .create_solution()
        .name("domain")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-vod-top-picks")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_invalid_input_exception());
    let err = c
        .create_solution()
        .name("nothing")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-nothing")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_resource_not_found_exception());
    let err = c
        .create_solution()
        .name("small")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-sims")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_resource_already_exists_exception());
}

/// StopSolutionVersionCreation: a pending version is CREATE STOPPED at once; one a worker
/// holds is CREATE STOPPING until its training notices, then CREATE STOPPED with no model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_version_ends_create_stopped() {
    use personalize_local::store::Claim;
    use personalize_local::worker::{Worker, WorkerConfig};
    let server = start(Duration::ZERO, false).await;
    let c = &server.client;
    let planted = Planted {
        users: 300,
        items: 60,
        groups: 3,
        per_user: 8,
        affinity: 0.8,
        seed: 1,
    };
    let group = group_with_interactions(&server, "stop", planted.rows()).await;
    let s = solution(c, &group, "stop", "aws-user-personalization").await;
    let status = |arn: String| async move {
        c.describe_solution_version()
            .solution_version_arn(arn)
            .send()
            .await
            .unwrap()
            .solution_version
            .unwrap()
            .status
            .unwrap()
    };
    let new_version = || async {
        c.create_solution_version()
            .solution_arn(&s)
            .send()
            .await
            .unwrap()
            .solution_version_arn
            .unwrap()
    };

    // Pending (no worker here): stopped at once.
    let pending = new_version().await;
    assert_eq!(status(pending.clone()).await, "CREATE PENDING");
    c.stop_solution_version_creation()
        .solution_version_arn(&pending)
        .send()
        .await
        .unwrap();
    assert_eq!(status(pending.clone()).await, "CREATE STOPPED");
    let err = c
        .stop_solution_version_creation()
        .solution_version_arn(&pending)
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_resource_in_use_exception());

    // Held by a worker: stopping, then stopped when its training comes to commit.
    let running = new_version().await;
    let (job, lease) = server
        .store
        .claim(Claim::Job(&running), "test-worker", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status(running.clone()).await, "CREATE IN_PROGRESS");
    c.stop_solution_version_creation()
        .solution_version_arn(&running)
        .send()
        .await
        .unwrap();
    assert_eq!(status(running.clone()).await, "CREATE STOPPING");
    let worker = Worker::new(
        server.store.clone(),
        server.s3.source(),
        WorkerConfig::default(),
        std::sync::Arc::default(),
    );
    worker.run_claimed(job, lease).await.unwrap();
    assert_eq!(status(running.clone()).await, "CREATE STOPPED");
    assert_eq!(server.store.blob(&running).await.unwrap(), None);
    let listed = c
        .list_solution_versions()
        .solution_arn(&s)
        .send()
        .await
        .unwrap();
    assert!(listed
        .solution_versions()
        .iter()
        .all(|v| v.status() == Some("CREATE STOPPED") && v.failure_reason().is_none()));
}

/// A deleted solution shows DELETE PENDING, then DELETE IN_PROGRESS, for the transition
/// time, meanwhile its name cannot be taken again; then it is not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_solution_goes_through_its_deleting_states() {
    let server = start(Duration::from_millis(600), false).await;
    let c = &server.client;
    let group = create_active_group(&server, "deleting").await;
    let s = solution(c, &group, "going", "aws-popularity-count").await;
    let status = || async {
        match c.describe_solution().solution_arn(&s).send().await {
            Ok(d) => d.solution.unwrap().status.unwrap(),
            Err(e) => e.into_service_error().meta().code().unwrap().to_owned(),
        }
    };
    let mut seen = vec![status().await];
    for _ in 0..100 {
        if seen.last().map(String::as_str) == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen.push(status().await);
    }
    assert_eq!(seen.last().map(String::as_str), Some("ACTIVE"), "{seen:?}");
    // A group with a solution cannot be deleted.
    let err = c
        .delete_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap_err();
    let e = err.as_service_error().unwrap();
    assert!(e.is_resource_in_use_exception(), "{err:?}");
    assert!(format!("{e}").contains(&s), "{e}");
    c.delete_solution().solution_arn(&s).send().await.unwrap();
    let err = c
        .create_solution()
        .name("going")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-popularity-count")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_resource_already_exists_exception());
    let mut seen = Vec::new();
    for _ in 0..100 {
        let st = status().await;
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if st == "ResourceNotFoundException" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen,
        [
            "DELETE PENDING",
            "DELETE IN_PROGRESS",
            "ResourceNotFoundException"
        ]
    );
}

/// UpdateSolution: the update shows as latestSolutionUpdate, and the versions trained after
/// it follow it (here its eventsConfig keeps only an event type the data lacks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updated_solution_trains_as_updated() {
    use aws_sdk_personalize::types::{
        AutoTrainingConfig, EventParameters, EventsConfig, SolutionUpdateConfig,
    };
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let planted = Planted {
        users: 300,
        items: 60,
        groups: 3,
        per_user: 8,
        affinity: 0.8,
        seed: 2,
    };
    let group = group_with_interactions(&server, "update", planted.rows()).await;
    let s = solution(c, &group, "update", "aws-user-personalization-v2").await;
    let (_, v) = train(c, &s).await;
    assert_eq!(v.status(), Some("ACTIVE"), "{:?}", v.failure_reason());
    c.update_solution()
        .solution_arn(&s)
        .perform_auto_training(false)
        .solution_update_config(
            SolutionUpdateConfig::builder()
                .auto_training_config(
                    AutoTrainingConfig::builder()
                        .scheduling_expression("rate(3 days)")
                        .build(),
                )
                .events_config(
                    EventsConfig::builder()
                        .event_parameters_list(
                            EventParameters::builder()
                                .event_type("purchase")
                                .weight(1.0)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = c
        .describe_solution()
        .solution_arn(&s)
        .send()
        .await
        .unwrap()
        .solution
        .unwrap();
    assert_eq!(d.perform_auto_training(), Some(false));
    let update = d.latest_solution_update().unwrap();
    assert_eq!(update.status(), Some("ACTIVE"));
    assert_eq!(update.perform_auto_training(), Some(false));
    let (_, v) = train(c, &s).await;
    assert_eq!(v.status(), Some("CREATE FAILED"));
    let why = v.failure_reason().unwrap();
    assert!(why.contains("there are 0 interactions after"), "{why}");

    let err = c
        .update_solution()
        .solution_arn(&s)
        .solution_update_config(
            SolutionUpdateConfig::builder()
                .auto_training_config(
                    AutoTrainingConfig::builder()
                        .scheduling_expression("rate(45 days)")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_invalid_input_exception());
}

/// Automatic training, its period shortened: a solution gets an AUTOMATIC version once its
/// first period passed, none while no interaction arrives, and another once one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_training_runs_on_its_schedule_when_data_arrives() {
    use personalize_local::model::auto::AutoTraining;
    use personalize_local::worker::WorkerConfig;
    let worker = WorkerConfig {
        poll: Duration::from_millis(50),
        auto_training: Some(AutoTraining {
            check: Duration::from_millis(50),
            period: Some(Duration::from_millis(700)),
        }),
        ..WorkerConfig::default()
    };
    let config = personalize_local::api::ApiConfig {
        transition: Duration::ZERO,
        ..Default::default()
    };
    let server = crate::api::start_with_worker(config, Some(worker)).await;
    let c = &server.client;
    let planted = Planted {
        users: 300,
        items: 60,
        groups: 3,
        per_user: 8,
        affinity: 0.8,
        seed: 4,
    };
    let group = group_with_interactions(&server, "auto", planted.rows()).await;
    let s = solution(c, &group, "auto", "aws-popularity-count").await;
    // A solution that says no is left alone.
    let manual = c
        .create_solution()
        .name("manual")
        .dataset_group_arn(&group)
        .recipe_arn("arn:aws:personalize:::recipe/aws-popularity-count")
        .perform_auto_training(false)
        .send()
        .await
        .unwrap()
        .solution_arn
        .unwrap();
    let versions = |arn: String| async move {
        c.list_solution_versions()
            .solution_arn(arn)
            .send()
            .await
            .unwrap()
            .solution_versions
            .unwrap_or_default()
    };
    let mut first = Vec::new();
    for _ in 0..200 {
        first = versions(s.clone()).await;
        if first.first().and_then(|v| v.status()) == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].status(), Some("ACTIVE"));
    assert_eq!(
        first[0].training_type().map(|t| t.as_str()),
        Some("AUTOMATIC")
    );
    // Two more periods without new data: no new version.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(versions(s.clone()).await.len(), 1);
    assert!(versions(manual.clone()).await.is_empty());

    // New interactions: the next period trains again.
    let more = (0..50).map(|k| (format!("new{k}"), "i1".to_owned(), 1_800_000_000 + k));
    let mut csv = String::from("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n");
    for (u, i, t) in more {
        csv += &format!("{u},{i},{t},click\n");
    }
    server.s3.put("auto/more.csv", csv).await;
    let location = S3Location::parse(&server.s3.location("auto/more.csv")).unwrap();
    personalize_local::import::import_dataset(
        server.store.as_ref(),
        server.s3.source(),
        &group,
        DatasetType::Interactions,
        &location,
        &personalize_local::import::ImportOptions {
            mode: personalize_local::jobs::ImportMode::Incremental,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut now = Vec::new();
    for _ in 0..200 {
        now = versions(s.clone()).await;
        if now.len() == 2 && now[0].status() == Some("ACTIVE") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[0].status(), Some("ACTIVE"));
}

/// Next best action trains on the Action_Interactions dataset, actions in place of items,
/// and its metrics show the planted structure; item affinity trains on interactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_best_action_and_item_affinity_train_too() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let planted = Planted {
        users: 400,
        items: 40,
        groups: 4,
        per_user: 8,
        affinity: 0.9,
        seed: 9,
    };
    let rows = planted.rows().map(|(u, i, t)| (u, i.replace('i', "a"), t));
    let group = group_with_action_interactions(&server, "actions", rows).await;
    let s = solution(c, &group, "nba", "aws-next-best-action").await;
    let (version, v) = train(c, &s).await;
    assert_eq!(v.status(), Some("ACTIVE"), "{:?}", v.failure_reason());
    assert!(metric(c, &version, "precision_at_5").await > 0.0);
    let model = Model::decode(&server.store.blob(&version).await.unwrap().unwrap()).unwrap();
    assert!(
        model.items.iter().all(|a| a.starts_with('a')),
        "actions, not items"
    );
    // No Interactions dataset here: item affinity says what is missing.
    let s = solution(c, &group, "affinity", "aws-item-affinity").await;
    let (_, v) = train(c, &s).await;
    assert_eq!(v.status(), Some("CREATE FAILED"));
    assert!(
        v.failure_reason()
            .unwrap()
            .contains("has no Interactions dataset"),
        "{:?}",
        v.failure_reason()
    );
}

/// Semantic similarity trains from the Items dataset's textual fields: items described
/// alike are each other's neighbours in the stored model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_similarity_trains_from_item_text() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group = create_active_group(&server, "semantic").await;
    let schema = c
        .create_schema()
        .name("semantic-items")
        .schema(
            r#"{"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
                "fields": [{"name": "ITEM_ID", "type": "string"},
                           {"name": "DESCRIPTION", "type": "string", "textual": true}],
                "version": "1.0"}"#,
        )
        .send()
        .await
        .unwrap()
        .schema_arn
        .unwrap();
    c.create_dataset()
        .name("semantic-items")
        .dataset_group_arn(&group)
        .dataset_type("Items")
        .schema_arn(schema)
        .send()
        .await
        .unwrap();
    let mut csv = String::from("ITEM_ID,DESCRIPTION\n");
    for k in 0..30 {
        csv += &format!("boot{k},Leather hiking boots model {k} waterproof trail\n");
        csv += &format!("book{k},Italian pasta cookbook volume {k} recipes kitchen\n");
    }
    server.s3.put("semantic/items.csv", csv).await;
    let location = S3Location::parse(&server.s3.location("semantic/items.csv")).unwrap();
    personalize_local::import::import_dataset(
        server.store.as_ref(),
        server.s3.source(),
        &group,
        DatasetType::Items,
        &location,
        &personalize_local::import::ImportOptions::default(),
    )
    .await
    .unwrap();
    let s = solution(c, &group, "semantic", "aws-semantic-similarity").await;
    let (version, v) = train(c, &s).await;
    assert_eq!(v.status(), Some("ACTIVE"), "{:?}", v.failure_reason());
    assert_eq!(metric(c, &version, "coverage").await, 1.0);
    let model = Model::decode(&server.store.blob(&version).await.unwrap().unwrap()).unwrap();
    let at = |id: &str| model.items.iter().position(|i| i == id).unwrap() as u32;
    for (id, kind) in [("boot3", "boot"), ("book7", "book")] {
        let near: Vec<&str> = model
            .neighbours
            .of(at(id))
            .take(10)
            .map(|(j, _)| model.items[j as usize].as_str())
            .collect();
        assert!(near.iter().all(|n| n.starts_with(kind)), "{id}: {near:?}");
    }
}
