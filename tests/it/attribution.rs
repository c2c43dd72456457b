//! Metric attributions through the Rust SDK: the rules of their metrics, and the report an
//! import job that asks for it writes to S3, computed from the imported records.

use std::time::Duration;

use aws_sdk_personalize::error::ProvideErrorMetadata;
use aws_sdk_personalize::types::{
    DataSource, MetricAttribute, MetricAttributionOutput, S3DataConfig,
};

use crate::api::{create_active_group, start, ROLE};

const INTERACTIONS: &str = r#"{"type": "record", "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema", "fields": [
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"},
    {"name": "EVENT_ATTRIBUTION_SOURCE", "type": ["null", "string"]}
  ], "version": "1.0"}"#;

const ITEMS: &str = r#"{"type": "record", "name": "Items",
  "namespace": "com.amazonaws.personalize.schema", "fields": [
    {"name": "ITEM_ID", "type": "string"},
    {"name": "PRICE", "type": "float"}
  ], "version": "1.0"}"#;

fn metric(event: &str, name: &str, expression: &str) -> MetricAttribute {
    MetricAttribute::builder()
        .event_type(event)
        .metric_name(name)
        .expression(expression)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_attributions_report_what_an_import_brought() {
    let server = start(Duration::ZERO, true).await;
    let c = &server.client;
    let group = create_active_group(&server, "attr").await;
    let mut datasets = Vec::new();
    for (kind, text) in [("Interactions", INTERACTIONS), ("Items", ITEMS)] {
        let schema = c
            .create_schema()
            .name(format!("attr-{kind}"))
            .schema(text)
            .send()
            .await
            .unwrap()
            .schema_arn
            .unwrap();
        datasets.push(
            c.create_dataset()
                .name(format!("attr-{kind}"))
                .dataset_group_arn(&group)
                .dataset_type(kind)
                .schema_arn(schema)
                .send()
                .await
                .unwrap()
                .dataset_arn
                .unwrap(),
        );
    }
    let output = |path: &str| {
        MetricAttributionOutput::builder()
            .role_arn(ROLE)
            .s3_data_destination(
                S3DataConfig::builder()
                    .path(server.s3.location(path))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    // The rules: known functions and fields, at most 10 metrics, one attribution a group.
    for (m, says) in [
        (
            metric("click", "avg", "AVG(Items.PRICE)"),
            "is not SAMPLECOUNT() or SUM",
        ),
        (
            metric("click", "color", "SUM(Items.COLOR)"),
            "has no field COLOR",
        ),
    ] {
        let e = c
            .create_metric_attribution()
            .name("bad")
            .dataset_group_arn(&group)
            .metrics(m)
            .metrics_output_config(output("reports/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidInputException"));
        assert!(e.message().unwrap().contains(says), "{:?}", e.message());
    }
    let eleven: Vec<MetricAttribute> = (0..11)
        .map(|k| metric("click", &format!("m{k}"), "SAMPLECOUNT()"))
        .collect();
    let e = c
        .create_metric_attribution()
        .name("many")
        .dataset_group_arn(&group)
        .set_metrics(Some(eleven))
        .metrics_output_config(output("reports/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidInputException"));
    let arn = c
        .create_metric_attribution()
        .name("shop")
        .dataset_group_arn(&group)
        .metrics(metric("click", "CLICKS", "SAMPLECOUNT()"))
        .metrics(metric("buy", "REVENUE", "SUM(Items.PRICE)"))
        .metrics_output_config(output("reports/"))
        .send()
        .await
        .unwrap()
        .metric_attribution_arn
        .unwrap();
    let again = c
        .create_metric_attribution()
        .name("other")
        .dataset_group_arn(&group)
        .metrics(metric("click", "C", "SAMPLECOUNT()"))
        .metrics_output_config(output("reports/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ResourceAlreadyExistsException"));
    let listed = c
        .list_metric_attribution_metrics()
        .metric_attribution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.metrics().len(), 2);

    // Items first, then interactions with the report asked for.
    server
        .s3
        .put("attr/items.csv", "ITEM_ID,PRICE\ni1,10.5\ni2,4\n")
        .await;
    server
        .s3
        .put(
            "attr/interactions.csv",
            "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_ATTRIBUTION_SOURCE\n\
             u1,i1,1700000100,click,campaign-a\n\
             u2,i1,1700000200,click,campaign-a\n\
             u3,i2,1700000300,click,campaign-b\n\
             u1,i1,1700000400,buy,campaign-a\n\
             u2,i2,1700000500,Buy,campaign-a\n\
             u3,i2,1700001000,click,campaign-a\n",
        )
        .await;
    for (dataset, object, publish) in [
        (&datasets[1], "attr/items.csv", false),
        (&datasets[0], "attr/interactions.csv", true),
    ] {
        let status = import(c, dataset, &server.s3.location(object), publish).await;
        assert_eq!(status, "ACTIVE");
    }
    // An ACTIVE job has its report: it is written before the job's end commits.
    let written = reports(&server.s3).await;
    assert_eq!(written.len(), 1, "{written:?}");
    let report = written.first().cloned();
    let key = report.expect("a report under reports/");
    assert!(
        key.starts_with("reports/AggregatedAttributionMetrics-BULK-") && key.ends_with(".csv"),
        "{key}"
    );
    let body = server
        .s3
        .client
        .get_object()
        .bucket(&server.s3.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(body.body.collect().await.unwrap().to_vec()).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP"
    );
    // 15-minute intervals from the epoch: 1700000100 holds the first five events,
    // 1700001000 the sixth; `Buy` is a `buy` event; revenue is i1's price plus i2's.
    let want = [
        "CLICKS,click,2.0,samplecount,campaign-a,1700000100",
        "CLICKS,click,1.0,samplecount,campaign-a,1700001000",
        "CLICKS,click,1.0,samplecount,campaign-b,1700000100",
        "REVENUE,buy,14.5,sum,campaign-a,1700000100",
    ];
    assert_eq!(rows[1..], want, "{text}");

    // A failed import leaves no report: the one written before its end is taken back.
    server
        .s3
        .put(
            "attr/bad.csv",
            "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000100,click\nu2,i2,soon,click\n",
        )
        .await;
    let status = import(c, &datasets[0], &server.s3.location("attr/bad.csv"), true).await;
    assert_eq!(status, "CREATE FAILED");
    assert_eq!(reports(&server.s3).await, vec![key.clone()]);

    // Updates add and remove metrics by name; a group with an attribution is not deleted.
    c.update_metric_attribution()
        .metric_attribution_arn(&arn)
        .remove_metrics("CLICKS")
        .add_metrics(metric("view", "VIEWS", "SAMPLECOUNT()"))
        .send()
        .await
        .unwrap();
    let listed = c
        .list_metric_attribution_metrics()
        .metric_attribution_arn(&arn)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = listed.metrics().iter().map(|m| m.metric_name()).collect();
    assert_eq!(names, ["REVENUE", "VIEWS"]);
    let busy = c
        .delete_dataset_group()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Some("ResourceInUseException"));
    c.delete_metric_attribution()
        .metric_attribution_arn(&arn)
        .send()
        .await
        .unwrap();
    let all = c
        .list_metric_attributions()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    assert!(all.metric_attributions().is_empty());
}

/// The keys under `reports/`.
async fn reports(s3: &crate::common::TestS3) -> Vec<String> {
    let listed = s3
        .client
        .list_objects_v2()
        .bucket(&s3.bucket)
        .prefix("reports/")
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// An import job of `object` into `dataset`, polled to its end: its status.
async fn import(
    c: &aws_sdk_personalize::Client,
    dataset: &str,
    object: &str,
    publish: bool,
) -> String {
    let name = format!(
        "attr-{}",
        object.rsplit('/').next().unwrap().replace('.', "-")
    );
    let job = c
        .create_dataset_import_job()
        .job_name(name)
        .dataset_arn(dataset)
        .data_source(DataSource::builder().data_location(object).build())
        .role_arn(ROLE)
        .publish_attribution_metrics_to_s3(publish)
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    crate::processes::wait_import(c, &job).await
}

/// A process that dies after writing an import's report and before its end commits leaves
/// the job to the next start, which runs it to ACTIVE with its report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_after_its_report_ends_active_with_it() {
    use crate::common::{Backend, TestS3};
    use crate::processes::{planted_group, put_planted, wait_exit, wait_import, ServeProcess};

    let s3 = TestS3::start(Backend::Embedded, "attrkill").await.unwrap();
    put_planted(&s3, &crate::runtime::PLANTED).await;
    s3.put(
        "more.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000100,click\nu2,i2,1700000200,click\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let setup = ServeProcess::start(&s3, dir.path());
    let c = crate::api::client(&setup.1);
    let group = planted_group(&c, &s3, "attrkill").await;
    let output = MetricAttributionOutput::builder()
        .role_arn(ROLE)
        .s3_data_destination(
            S3DataConfig::builder()
                .path(s3.location("reports/"))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    c.create_metric_attribution()
        .name("clicks")
        .dataset_group_arn(&group)
        .metrics(metric("click", "CLICKS", "SAMPLECOUNT()"))
        .metrics_output_config(output)
        .send()
        .await
        .unwrap();
    let datasets = c
        .list_datasets()
        .dataset_group_arn(&group)
        .send()
        .await
        .unwrap();
    let dataset = datasets.datasets()[0].dataset_arn().unwrap().to_owned();
    drop(setup);

    let failing = [("PERSONALIZE_LOCAL_FAILPOINTS", "import-after-report")];
    let mut crashing = ServeProcess::start_with(&s3, dir.path(), &[], &failing);
    let c = crate::api::client(&crashing.1);
    let job = c
        .create_dataset_import_job()
        .job_name("more")
        .dataset_arn(&dataset)
        .data_source(
            DataSource::builder()
                .data_location(s3.location("more.csv"))
                .build(),
        )
        .role_arn(ROLE)
        .import_mode(aws_sdk_personalize::types::ImportMode::Incremental)
        .publish_attribution_metrics_to_s3(true)
        .send()
        .await
        .unwrap()
        .dataset_import_job_arn
        .unwrap();
    assert!(
        !wait_exit(&mut crashing.0).success(),
        "the failpoint aborts"
    );

    let again = ServeProcess::start_with(&s3, dir.path(), &["--job-lease-seconds", "1"], &[]);
    let c = crate::api::client(&again.1);
    assert_eq!(wait_import(&c, &job).await, "ACTIVE");
    let written = reports(&s3).await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(written[0].ends_with("-more.csv"), "{written:?}");
}
