//! Batch inference and batch segment jobs through the Rust SDK: JSON Lines under an S3
//! prefix in, one `.out` object per input object with the service's shapes out; segments
//! ranked from the current records, so users deleted by a COMPLETED data deletion job are
//! in no segment, even of a version trained before the deletion.

use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::types::{BatchInferenceJobInput, BatchInferenceJobOutput, S3DataConfig};
use aws_sdk_personalize::Client;
use serde_json::Value;

use crate::api::{deletion, start, Server, ROLE};
use crate::runtime::{trained, PLANTED};
use crate::training::group_with_interactions;

fn group_of(id: &str) -> usize {
    id.trim_start_matches(['u', 'i']).parse::<usize>().unwrap() % PLANTED.groups
}

fn io(
    server: &Server,
    input: &str,
    output: &str,
) -> (BatchInferenceJobInput, BatchInferenceJobOutput) {
    let data = |p: &str| {
        S3DataConfig::builder()
            .path(server.s3.location(p))
            .build()
            .unwrap()
    };
    (
        BatchInferenceJobInput::builder()
            .s3_data_source(data(input))
            .build(),
        BatchInferenceJobOutput::builder()
            .s3_data_destination(data(output))
            .build(),
    )
}

async fn lines(server: &Server, key: &str) -> Vec<Value> {
    let out = server
        .s3
        .client
        .get_object()
        .bucket(&server.s3.bucket)
        .key(key)
        .send()
        .await;
    let body = out
        .unwrap_or_else(|e| panic!("{key}: {e:?}"))
        .body
        .collect()
        .await
        .unwrap();
    String::from_utf8(body.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn inference(
    c: &Client,
    server: &Server,
    name: &str,
    version: &str,
    input: &str,
    output: &str,
    n: Option<i32>,
) -> String {
    let (i, o) = io(server, input, output);
    let arn = c
        .create_batch_inference_job()
        .job_name(name)
        .solution_version_arn(version)
        .job_input(i)
        .job_output(o)
        .role_arn(ROLE)
        .set_num_results(n)
        .send()
        .await
        .unwrap()
        .batch_inference_job_arn
        .unwrap();
    for _ in 0..1000 {
        let j = c
            .describe_batch_inference_job()
            .batch_inference_job_arn(&arn)
            .send()
            .await
            .unwrap();
        let j = j.batch_inference_job.unwrap();
        if matches!(j.status(), Some("ACTIVE" | "CREATE FAILED")) {
            assert_eq!(j.status(), Some("ACTIVE"), "{:?}", j.failure_reason());
            return arn;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} did not end");
}

async fn segment(
    c: &Client,
    server: &Server,
    name: &str,
    version: &str,
    input: &str,
    output: &str,
) -> (String, Option<String>) {
    let (i, o) = io(server, input, output);
    let i = aws_sdk_personalize::types::BatchSegmentJobInput::builder()
        .s3_data_source(i.s3_data_source().unwrap().clone())
        .build();
    let o = aws_sdk_personalize::types::BatchSegmentJobOutput::builder()
        .s3_data_destination(o.s3_data_destination().unwrap().clone())
        .build();
    let arn = c
        .create_batch_segment_job()
        .job_name(name)
        .solution_version_arn(version)
        .job_input(i)
        .job_output(o)
        .role_arn(ROLE)
        .num_results(20)
        .send()
        .await
        .unwrap()
        .batch_segment_job_arn
        .unwrap();
    for _ in 0..1000 {
        let j = c
            .describe_batch_segment_job()
            .batch_segment_job_arn(&arn)
            .send()
            .await
            .unwrap();
        let j = j.batch_segment_job.unwrap();
        if matches!(j.status(), Some("ACTIVE" | "CREATE FAILED")) {
            return (
                j.status().unwrap().to_owned(),
                j.failure_reason().map(str::to_owned),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_jobs_write_the_service_shapes_and_segments_forget_deleted_users() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group = group_with_interactions(&server, "batch", PLANTED.rows()).await;
    let up = trained(c, &group, "batch-up", "aws-user-personalization-v2").await;
    let rank = trained(c, &group, "batch-rank", "aws-personalized-ranking-v2").await;
    let sims = trained(c, &group, "batch-sims", "aws-sims").await;
    let affinity = trained(c, &group, "batch-affinity", "aws-item-affinity").await;

    // Inference: every object under the prefix (a sub-folder too), one .out each.
    server
        .s3
        .put(
            "batch/in/users.json",
            "{\"userId\": \"u1\"}\nnot json\n\n{\"userId\": \"u2\"}\n",
        )
        .await;
    server
        .s3
        .put(
            "batch/in/sub/more.json",
            "{\"userId\": \"u3\"}\n{\"itemId\": \"i1\"}\n",
        )
        .await;
    let arn = inference(
        c,
        &server,
        "batch-up",
        &up,
        "batch/in/",
        "batch/out/",
        Some(10),
    )
    .await;
    let out = lines(&server, "batch/out/users.json.out").await;
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0]["input"]["userId"], "u1");
    assert_eq!(out[0]["error"], Value::Null);
    let items = out[0]["output"]["recommendedItems"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert!(
        items
            .iter()
            .filter(|i| group_of(i.as_str().unwrap()) == 1)
            .count()
            >= 5,
        "{items:?}"
    );
    assert_eq!(out[0]["output"]["scores"].as_array().unwrap().len(), 10);
    assert_eq!(out[1]["input"], "not json");
    assert!(out[1]["error"].is_string());
    let more = lines(&server, "batch/out/more.json.out").await;
    assert_eq!(more[0]["input"]["userId"], "u3");
    assert_eq!(more[1]["error"], "userId is required");
    let d = c
        .describe_batch_inference_job()
        .batch_inference_job_arn(&arn)
        .send()
        .await
        .unwrap();
    let d = d.batch_inference_job.unwrap();
    assert_eq!(d.num_results(), Some(10));
    assert_eq!(d.solution_version_arn(), Some(up.as_str()));
    let listed = c
        .list_batch_inference_jobs()
        .solution_version_arn(&up)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.batch_inference_jobs().len(), 1);

    // Ranking and related items: their shapes (related items have no scores).
    server
        .s3
        .put(
            "rank/in.json",
            "{\"userId\": \"u0\", \"itemList\": [\"i1\", \"i0\", \"i7\", \"i6\"]}\n",
        )
        .await;
    inference(
        c,
        &server,
        "batch-rank",
        &rank,
        "rank/in.json",
        "rank/out",
        None,
    )
    .await;
    let ranked = lines(&server, "rank/out/in.json.out").await;
    let order: Vec<&str> = ranked[0]["output"]["recommendedItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert_eq!(order.len(), 4);
    assert!(order[..2].iter().all(|i| group_of(i) == 0), "{order:?}");
    server
        .s3
        .put("sims/in.json", "{\"itemId\": \"i8\"}\n")
        .await;
    inference(
        c,
        &server,
        "batch-sims",
        &sims,
        "sims/in.json",
        "sims/out/",
        Some(5),
    )
    .await;
    let like = lines(&server, "sims/out/in.json.out").await;
    assert_eq!(
        like[0]["output"]["recommendedItems"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert!(like[0]["output"].get("scores").is_none());

    // Segments: the users of item i3's group (3), most likely first.
    server.s3.put("seg/in.json", "{\"itemId\": \"i3\"}\n").await;
    let (status, why) = segment(
        c,
        &server,
        "seg-before",
        &affinity,
        "seg/in.json",
        "seg/before/",
    )
    .await;
    assert_eq!(status, "ACTIVE", "{why:?}");
    let before = lines(&server, "seg/before/in.json.out").await;
    let users: Vec<String> = before[0]["output"]["recommendedUsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(users.len(), 20);
    assert!(
        users.iter().filter(|u| group_of(u) == 3).count() >= 15,
        "{users:?}"
    );
    assert_eq!(before[0]["input"]["itemId"], "i3");

    // Delete the first five of them; the same (old) version's segment no longer has them.
    let gone: Vec<String> = users[..5].to_vec();
    server
        .s3
        .put("seg/forget.csv", format!("USER_ID\n{}\n", gone.join("\n")))
        .await;
    let location = server.s3.location("seg/forget.csv");
    let job = deletion(c, "seg-forget", &group, &location).await;
    assert_eq!(job.status(), Some("COMPLETED"));
    let (status, _) = segment(
        c,
        &server,
        "seg-after",
        &affinity,
        "seg/in.json",
        "seg/after/",
    )
    .await;
    assert_eq!(status, "ACTIVE");
    let after = lines(&server, "seg/after/in.json.out").await;
    let after: Vec<&str> = after[0]["output"]["recommendedUsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(after.len(), 20);
    assert!(
        gone.iter().all(|g| !after.contains(&g.as_str())),
        "{after:?} has one of {gone:?}"
    );

    // Item attributes: the users of the items of category g2 (group 2).
    let mut items = String::from("ITEM_ID,CATEGORY,CREATION_TIMESTAMP\n");
    for i in 0..PLANTED.items {
        items += &format!("i{i},g{},{i}\n", i % PLANTED.groups);
    }
    crate::filters::load(
        &server,
        &group,
        personalize_local::store::DatasetType::Items,
        "items",
        items,
    )
    .await;
    server
        .s3
        .put(
            "attr/in.json",
            "{\"itemAttributes\": \"ITEMS.CATEGORY = \\\"g2\\\"\"}\n",
        )
        .await;
    let (status, why) = segment(
        c,
        &server,
        "seg-attr",
        &affinity,
        "attr/in.json",
        "attr/out/",
    )
    .await;
    assert_eq!(status, "ACTIVE", "{why:?}");
    let attr = lines(&server, "attr/out/in.json.out").await;
    assert_eq!(attr[0]["itemAttributes"], "ITEMS.CATEGORY = \"g2\"");
    assert!(
        attr[0].get("input").is_none(),
        "attributes are echoed at the top level"
    );
    let users: Vec<&str> = attr[0]["output"]["recommendedUsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        users.iter().filter(|u| group_of(u) == 2).count() >= 15,
        "{users:?}"
    );

    // The wrong version for the kind, and a missing input, are refused or fail with reasons.
    let (i, o) = io(&server, "seg/in.json", "x/");
    let wrong = c
        .create_batch_inference_job()
        .job_name("wrong")
        .solution_version_arn(&affinity)
        .job_input(i)
        .job_output(o)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("InvalidInputException"));
    let (status, why) = segment(c, &server, "seg-nothing", &affinity, "nothing/here/", "x/").await;
    assert_eq!(status, "CREATE FAILED");
    assert!(why.unwrap().contains("no input object under"));
}
