//! Batch inference and batch segment jobs through the Rust SDK: JSON Lines under an S3
//! prefix in, one `.out` object per input object with the service's shapes out; segments
//! ranked from the current records, so users deleted by a COMPLETED data deletion job are
//! in no segment, even of a version trained before the deletion.

use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::types::{BatchInferenceJobInput, BatchInferenceJobOutput, S3DataConfig};
use aws_sdk_personalize::Client;
use serde_json::Value;

use crate::api::{deletion, start, ROLE};
use crate::common::TestS3;
use crate::runtime::{trained, PLANTED};
use crate::training::group_with_interactions;

fn group_of(id: &str) -> usize {
    id.trim_start_matches(['u', 'i']).parse::<usize>().unwrap() % PLANTED.groups
}

fn io(s3: &TestS3, input: &str, output: &str) -> (BatchInferenceJobInput, BatchInferenceJobOutput) {
    let data = |p: &str| {
        S3DataConfig::builder()
            .path(s3.location(p))
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

pub(crate) async fn lines(s3: &TestS3, key: &str) -> Vec<Value> {
    let out = s3
        .client
        .get_object()
        .bucket(&s3.bucket)
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

/// A batch inference job run to ACTIVE; its ARN.
pub(crate) async fn inference(
    c: &Client,
    s3: &TestS3,
    name: &str,
    version: &str,
    input: &str,
    output: &str,
    n: Option<i32>,
) -> String {
    let arn = create(c, Kind::Inference, name, version, (s3, input, output), n).await;
    let (status, why) = wait(c, Kind::Inference, &arn).await;
    assert_eq!(status, "ACTIVE", "{why:?}");
    arn
}

/// A batch segment job (20 users a segment) run to its end: its status and reason.
async fn segment(
    c: &Client,
    s3: &TestS3,
    name: &str,
    version: &str,
    input: &str,
    output: &str,
) -> (String, Option<String>) {
    let arn = create(
        c,
        Kind::Segment,
        name,
        version,
        (s3, input, output),
        Some(20),
    )
    .await;
    wait(c, Kind::Segment, &arn).await
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Inference,
    Segment,
}

/// A batch job of `kind` created, not waited for: its ARN.
async fn create(
    c: &Client,
    kind: Kind,
    name: &str,
    version: &str,
    (s3, input, output): (&TestS3, &str, &str),
    n: Option<i32>,
) -> String {
    let (i, o) = io(s3, input, output);
    if kind == Kind::Inference {
        let made = c
            .create_batch_inference_job()
            .job_name(name)
            .solution_version_arn(version)
            .job_input(i)
            .job_output(o)
            .role_arn(ROLE)
            .set_num_results(n)
            .send()
            .await
            .unwrap();
        return made.batch_inference_job_arn.unwrap();
    }
    let i = aws_sdk_personalize::types::BatchSegmentJobInput::builder()
        .s3_data_source(i.s3_data_source().unwrap().clone())
        .build();
    let o = aws_sdk_personalize::types::BatchSegmentJobOutput::builder()
        .s3_data_destination(o.s3_data_destination().unwrap().clone())
        .build();
    let made = c
        .create_batch_segment_job()
        .job_name(name)
        .solution_version_arn(version)
        .job_input(i)
        .job_output(o)
        .role_arn(ROLE)
        .set_num_results(n)
        .send()
        .await
        .unwrap();
    made.batch_segment_job_arn.unwrap()
}

/// A batch job's status and failure reason now.
async fn status_of(c: &Client, kind: Kind, arn: &str) -> (String, Option<String>) {
    let (status, why) = if kind == Kind::Inference {
        let j = c
            .describe_batch_inference_job()
            .batch_inference_job_arn(arn)
            .send()
            .await;
        let j = j.unwrap().batch_inference_job.unwrap();
        (j.status, j.failure_reason)
    } else {
        let j = c
            .describe_batch_segment_job()
            .batch_segment_job_arn(arn)
            .send()
            .await;
        let j = j.unwrap().batch_segment_job.unwrap();
        (j.status, j.failure_reason)
    };
    (status.unwrap_or_default(), why)
}

/// A batch job polled to its end: its status and failure reason.
async fn wait(c: &Client, kind: Kind, arn: &str) -> (String, Option<String>) {
    crate::processes::wait_ended(arn, || async { status_of(c, kind, arn).await.0 }).await;
    status_of(c, kind, arn).await
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
        &server.s3,
        "batch-up",
        &up,
        "batch/in/",
        "batch/out/",
        Some(10),
    )
    .await;
    let out = lines(&server.s3, "batch/out/users.json.out").await;
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
    let more = lines(&server.s3, "batch/out/more.json.out").await;
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
        &server.s3,
        "batch-rank",
        &rank,
        "rank/in.json",
        "rank/out",
        None,
    )
    .await;
    let ranked = lines(&server.s3, "rank/out/in.json.out").await;
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
        &server.s3,
        "batch-sims",
        &sims,
        "sims/in.json",
        "sims/out/",
        Some(5),
    )
    .await;
    let like = lines(&server.s3, "sims/out/in.json.out").await;
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
        &server.s3,
        "seg-before",
        &affinity,
        "seg/in.json",
        "seg/before/",
    )
    .await;
    assert_eq!(status, "ACTIVE", "{why:?}");
    let before = lines(&server.s3, "seg/before/in.json.out").await;
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
        &server.s3,
        "seg-after",
        &affinity,
        "seg/in.json",
        "seg/after/",
    )
    .await;
    assert_eq!(status, "ACTIVE");
    let after = lines(&server.s3, "seg/after/in.json.out").await;
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
        &server.s3,
        "seg-attr",
        &affinity,
        "attr/in.json",
        "attr/out/",
    )
    .await;
    assert_eq!(status, "ACTIVE", "{why:?}");
    let attr = lines(&server.s3, "attr/out/in.json.out").await;
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
    let (i, o) = io(&server.s3, "seg/in.json", "x/");
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
    let (status, why) = segment(
        c,
        &server.s3,
        "seg-nothing",
        &affinity,
        "nothing/here/",
        "x/",
    )
    .await;
    assert_eq!(status, "CREATE FAILED");
    assert!(why.unwrap().contains("no input object under"));
}

/// A user deleted by a data deletion job that COMPLETES while a segment job runs (after the
/// segment job read the histories) is in none of the segments that job writes: two `serve`
/// processes on one store, the first holding its segment job after the read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_completed_during_a_segment_job_reaches_its_output() {
    use crate::processes::{planted_group, put_planted, ServeProcess};

    let s3 = TestS3::start(crate::common::Backend::Embedded, "segrace")
        .await
        .unwrap();
    put_planted(&s3, &PLANTED).await;
    s3.put("seg/in.json", "{\"itemId\": \"i3\"}\n").await;
    let dir = tempfile::tempdir().unwrap();
    let first = ServeProcess::start(&s3, dir.path());
    let c = crate::api::client(&first.1);
    let group = planted_group(&c, &s3, "segrace").await;
    let affinity = trained(&c, &group, "segrace", "aws-item-affinity").await;
    let (status, _) = segment(&c, &s3, "before", &affinity, "seg/in.json", "before/").await;
    assert_eq!(status, "ACTIVE");
    let before = lines(&s3, "before/in.json.out").await;
    let users = before[0]["output"]["recommendedUsers"].as_array().unwrap();
    let gone = users[0].as_str().unwrap().to_owned();
    s3.put("seg/forget.csv", format!("USER_ID\n{gone}\n")).await;
    drop(first);

    let held = [(
        "PERSONALIZE_LOCAL_FAILPOINTS",
        "segment-histories-read:sleep=6000",
    )];
    let holding = ServeProcess::start_with(&s3, dir.path(), &[], &held);
    let c = crate::api::client(&holding.1);
    let during = segment(&c, &s3, "during", &affinity, "seg/in.json", "during/");
    // The holding process claims the segment job, reads the histories and waits; another
    // process runs the deletion job to its end meanwhile.
    let deleting = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let other = ServeProcess::start(&s3, dir.path());
        let oc = crate::api::client(&other.1);
        deletion(&oc, "forget", &group, &s3.location("seg/forget.csv")).await
    };
    let ((status, why), job) = tokio::join!(during, deleting);
    assert_eq!(job.status(), Some("COMPLETED"));
    assert_eq!(status, "ACTIVE", "{why:?}");
    let during = lines(&s3, "during/in.json.out").await;
    let listed: Vec<&str> = during[0]["output"]["recommendedUsers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(!listed.contains(&gone.as_str()), "{gone} in {listed:?}");
    // The segment is still full: the next user in line takes the deleted one's place.
    assert_eq!(listed.len(), users.len());
    let rest: Vec<&str> = users[1..].iter().map(|u| u.as_str().unwrap()).collect();
    assert_eq!(listed[..rest.len()], rest);
}

/// A batch job of either kind whose server dies (an abort at the failpoint after its first
/// output object; a `kill -9` while held there; a `kill -9` while held with lines answered
/// and sent but the object's upload not completed, when no object is visible) is run again
/// by the next server and ends ACTIVE with every output object whole; no job is stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_jobs_survive_kill_9() {
    use crate::processes::{planted_group, put_planted, wait_exit, ServeProcess};

    let s3 = TestS3::start(crate::common::Backend::Embedded, "batchkill")
        .await
        .unwrap();
    put_planted(&s3, &PLANTED).await;
    let lines = |from: usize, field: &str, modulo: usize| -> String {
        (from..from + 300)
            .map(|k| format!("{{\"{field}\": \"{}{}\"}}\n", &field[..1], k % modulo))
            .collect()
    };
    s3.put("infer-in/a.json", lines(0, "userId", PLANTED.users))
        .await;
    s3.put("infer-in/b.json", lines(100, "userId", PLANTED.users))
        .await;
    s3.put("seg-in/a.json", lines(0, "itemId", PLANTED.items))
        .await;
    s3.put("seg-in/b.json", lines(60, "itemId", PLANTED.items))
        .await;
    for (kind, name, recipe) in [
        (Kind::Inference, "infer", "aws-user-personalization-v2"),
        (Kind::Segment, "seg", "aws-item-affinity"),
    ] {
        for (how, env) in [
            ("abort between objects", "batch-after-object"),
            ("kill -9 between objects", "batch-after-object:pause"),
            ("kill -9 mid-object", "batch-mid-object:pause"),
        ] {
            let how = format!("{name}: {how}");
            let dir = tempfile::tempdir().unwrap();
            let setup = ServeProcess::start(&s3, dir.path());
            let c = crate::api::client(&setup.1);
            let group = planted_group(&c, &s3, "batch").await;
            let version = trained(&c, &group, "batch", recipe).await;
            drop(setup);

            let failing = [("PERSONALIZE_LOCAL_FAILPOINTS", env)];
            let mut crashing = ServeProcess::start_with(&s3, dir.path(), &[], &failing);
            let c = crate::api::client(&crashing.1);
            let out = format!("{}/", how.replace([' ', ':'], "-"));
            let input = format!("{name}-in/");
            let job = create(&c, kind, "killed", &version, (&s3, &input, &out), None).await;
            if env.ends_with(":pause") {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                if env.starts_with("batch-mid-object") {
                    let key = format!("{out}a.json.out");
                    let head = s3
                        .client
                        .head_object()
                        .bucket(&s3.bucket)
                        .key(&key)
                        .send()
                        .await;
                    assert!(
                        head.is_err(),
                        "{how}: {key} exists before its upload completed"
                    );
                }
                crashing.0.kill().unwrap();
            }
            let status = wait_exit(&mut crashing.0);
            assert!(!status.success(), "{how}: {status:?}");

            let again = ServeProcess::start(&s3, dir.path());
            let c = crate::api::client(&again.1);
            let (status, why) = wait(&c, kind, &job).await;
            assert_eq!(status, "ACTIVE", "{how}: {why:?}");
            for name in ["a.json.out", "b.json.out"] {
                let got = self::lines(&s3, &format!("{out}{name}")).await;
                assert_eq!(got.len(), 300, "{how}: {name} whole");
                assert!(got.iter().all(|l| l["error"].is_null()), "{how}");
            }
        }
    }
}
