//! The data deletion job end to end: fixture trees in S3 -> job -> records gone (or not).

use std::collections::HashSet;

use futures::stream::{self, StreamExt};
use personalize_local::deletion::DeletionOptions;
use personalize_local::jobs::JobStatus;
use personalize_local::source::embedded::Faults;
use personalize_local::store::DatasetType;

use crate::common::{fixture_ids, Backend, Env, TestS3};
use crate::s3_tests;

fn ids(list: &[&str]) -> HashSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs a job over `tree/` and checks it completed with exactly the oracle's deletions.
async fn assert_completes(
    env: &Env,
    job: &str,
    key: &str,
    gone: &HashSet<String>,
) -> personalize_local::deletion::JobReport {
    let report = env.run(job, key, DeletionOptions::default()).await;
    assert_eq!(
        report.job.status,
        JobStatus::Succeeded,
        "{:?}",
        report.job.failure_reason
    );
    assert_eq!(report.job.failure_reason, None);
    let expected = env.expected_deleted(gone);
    let counts = report.counts.clone().unwrap();
    assert_eq!(counts.per_dataset, expected);
    assert_eq!(
        report.job.num_deleted,
        Some(expected.iter().map(|(_, n)| n).sum())
    );
    assert!(report.job.last_updated >= report.job.created);
    env.assert_remaining(gone).await;
    report
}

s3_tests! {
    stores:
    fn nested_prefix_with_duplicates_across_files(s3) {
        s3.upload_tree("deletion-nested").await;
        let env = Env::new(s3).await;
        let gone = fixture_ids("deletion-nested");
        assert_eq!(gone, ids(&["u01", "u02", "u03", "u04", "comma, user", "nobody-1", "nobody-2"]));
        let report = assert_completes(&env, "nested", "deletion-nested/", &gone).await;
        // a.csv, sub/b.csv and sub/deeper/c.CSV, every depth; not sub/.b.csv.crc nor
        // sub/deeper/README.txt, which would fail the job if read.
        assert_eq!(report.input.objects, 3);
        assert_eq!(report.input.skipped_objects.count, 2);
        assert_eq!(report.input.id_lines, 10);
        assert_eq!(report.input.distinct_ids, 7);
        assert!(report.job.num_deleted.unwrap() > 5);

        // The same input again: the users are gone already, so nothing more is deleted.
        let again = env.run("nested-again", "deletion-nested/", DeletionOptions::default()).await;
        assert_eq!(again.job.status, JobStatus::Succeeded);
        assert_eq!(again.job.num_deleted, Some(0));
        env.assert_remaining(&gone).await;
    }

    fn single_object_reads_only_that_object(s3) {
        s3.upload_tree("deletion-single").await;
        let env = Env::new(s3).await;
        let report = assert_completes(&env, "single", "deletion-single/requests.csv", &ids(&["u05", "u06"])).await;
        assert_eq!(report.input.objects, 1);
    }

    fn bom_crlf_quotes_blank_lines_and_no_final_newline(s3) {
        s3.upload_tree("deletion-formats").await;
        let env = Env::new(s3).await;
        let gone = fixture_ids("deletion-formats");
        for id in ["u08", "u09", "u10", "u11", "u12", "u13", "quote\"user", "comma, user", "ünïcødé", "ghost"] {
            assert!(gone.contains(id), "oracle misses {id}");
        }
        let report = assert_completes(&env, "formats", "deletion-formats/", &gone).await;
        assert_eq!(report.input.objects, 6);
        assert_eq!(report.input.distinct_ids, gone.len() as u64);
    }

    fn more_than_one_listing_page(s3) {
        // 1,100 objects in 10 sub-folders: ListObjectsV2 returns at most 1,000 keys a page.
        let users: Vec<String> = (1..=20).map(|i| format!("u{i:02}")).collect();
        let mut gone = HashSet::new();
        let objects: Vec<(String, String)> = (0..1100)
            .map(|i| {
                let id = if i % 100 == 7 { users[i / 100].clone() } else { format!("nobody-{i}") };
                gone.insert(id.clone());
                (format!("many/{}/{i:04}.csv", i % 10), format!("USER_ID\n{id}\n"))
            })
            .collect();
        let s3_ref = &s3;
        stream::iter(objects)
            .map(|(key, body)| async move { s3_ref.put(&key, body).await })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
        let env = Env::new(s3).await;
        let report = assert_completes(&env, "many", "many/", &gone).await;
        assert_eq!(report.input.objects, 1100);
        assert_eq!(report.input.distinct_ids, 1100);
    }

    fn bad_header(s3) {
        s3.upload_tree("bad-header").await;
        let env = Env::new(s3).await;
        let report = env.run("bad-header", "bad-header/", DeletionOptions::default()).await;
        let reason = format!("{} line 1: expected the header USER_ID, found \"ID\"", env.s3.location("bad-header/users.csv"));
        env.assert_failed_with(&report, &reason).await;
    }

    fn two_columns(s3) {
        s3.upload_tree("bad-two-columns").await;
        let env = Env::new(s3).await;
        let report = env.run("two-cols", "bad-two-columns/users.csv", DeletionOptions::default()).await;
        let reason = format!("{} line 3: expected 1 column (USER_ID), found 2", env.s3.location("bad-two-columns/users.csv"));
        env.assert_failed_with(&report, &reason).await;
    }

    fn id_of_257_characters(s3) {
        s3.upload_tree("bad-long-id").await;
        let env = Env::new(s3).await;
        let report = env.run("long-id", "bad-long-id/", DeletionOptions::default()).await;
        let reason = format!(
            "{} line 4: the user ID is 257 characters long; IDs are 1 to 256 characters",
            env.s3.location("bad-long-id/users.csv")
        );
        env.assert_failed_with(&report, &reason).await;
    }

    fn invalid_utf8(s3) {
        s3.upload_tree("bad-utf8").await;
        let env = Env::new(s3).await;
        let report = env.run("utf8", "bad-utf8/", DeletionOptions::default()).await;
        let reason = format!("{} line 3: the user ID is not valid UTF-8", env.s3.location("bad-utf8/users.csv"));
        env.assert_failed_with(&report, &reason).await;
    }

    fn unterminated_quote(s3) {
        s3.upload_tree("bad-unterminated").await;
        let env = Env::new(s3).await;
        let report = env.run("unterminated", "bad-unterminated/", DeletionOptions::default()).await;
        let reason = format!(
            "{} line 3: a quoted field is not closed before the end of the file (unterminated quote)",
            env.s3.location("bad-unterminated/users.csv")
        );
        env.assert_failed_with(&report, &reason).await;
    }

    fn empty_id(s3) {
        s3.upload_tree("bad-empty-id").await;
        let env = Env::new(s3).await;
        let report = env.run("empty-id", "bad-empty-id/", DeletionOptions::default()).await;
        let reason = format!(
            "{} line 3: the user ID is empty; IDs are 1 to 256 characters",
            env.s3.location("bad-empty-id/users.csv")
        );
        env.assert_failed_with(&report, &reason).await;
    }

    fn one_bad_file_in_a_sub_folder_fails_the_whole_job(s3) {
        s3.upload_tree("bad-in-subfolder").await;
        let env = Env::new(s3).await;
        let report = env.run("bad-sub", "bad-in-subfolder/", DeletionOptions::default()).await;
        let reason = format!(
            "{} line 3: expected 1 column (USER_ID), found 2",
            env.s3.location("bad-in-subfolder/later/b.csv")
        );
        // a.csv was fine, and its users (u01, u02) must still be there.
        env.assert_failed_with(&report, &reason).await;
    }

    fn missing_bucket(s3) {
        let backend = s3.backend;
        let env = Env::new(s3).await;
        let missing = format!("{}-missing", env.s3.bucket);
        for (job, location, action) in [
            ("no-bucket-prefix", format!("s3://{missing}/deletions/"), "listing"),
            ("no-bucket-key", format!("s3://{missing}/deletions/a.csv"), "reading"),
        ] {
            let report = env.run_at(job, &location, DeletionOptions::default()).await;
            let reason = report.job.failure_reason.clone().unwrap_or_default();
            let code = if backend.reports_no_such_bucket() { "NoSuchBucket" } else { "NoSuch" };
            assert!(reason.starts_with(&format!("{action} {location} failed: {code}")), "{reason}");
            env.assert_failed_with(&report, &reason).await;
        }
    }

    fn missing_key(s3) {
        let env = Env::new(s3).await;
        let location = env.s3.location("deletions/not-there.csv");
        let report = env.run("no-key", "deletions/not-there.csv", DeletionOptions::default()).await;
        let reason = report.job.failure_reason.clone().unwrap_or_default();
        assert!(reason.starts_with(&format!("reading {location} failed: NoSuchKey")), "{reason}");
        env.assert_failed_with(&report, &reason).await;
    }

    fn empty_prefix(s3) {
        // Folder markers and empty objects are not input.
        s3.put("empty/", "").await;
        s3.put("empty/sub/", "").await;
        s3.put("empty/sub/zero.csv", "").await;
        let env = Env::new(s3).await;
        for key in ["empty/", "nothing-here/"] {
            let report = env.run(&format!("empty-{}", key.len()), key, DeletionOptions::default()).await;
            let reason = format!("no input files found under {}", env.s3.location(key));
            env.assert_failed_with(&report, &reason).await;
        }
        // A folder of other files only: the reason says what is there.
        env.s3.put("other/notes.txt", "USER_ID\nu01\n").await;
        env.s3.put("other/_SUCCESS", "x").await;
        let report = env.run("no-csv", "other/", DeletionOptions::default()).await;
        let reason = format!(
            "no .csv files found under {}: 2 objects of other types (other/_SUCCESS, other/notes.txt) left unread; a folder's input files must end in .csv",
            env.s3.location("other/")
        );
        env.assert_failed_with(&report, &reason).await;
        // An empty object named directly is said to be empty.
        let report = env.run("empty-object", "empty/sub/zero.csv", DeletionOptions::default()).await;
        let reason = format!(
            "the object {} is empty; a deletion file starts with the header USER_ID",
            env.s3.location("empty/sub/zero.csv")
        );
        env.assert_failed_with(&report, &reason).await;
        // A folder named without its slash gets the hint.
        let report = env.run("no-slash", "empty/sub", DeletionOptions::default()).await;
        let reason = report.job.failure_reason.clone().unwrap_or_default();
        let hint = format!(
            "; there are objects under {}: did you mean {} ?",
            env.s3.location("empty/sub/"),
            env.s3.location("empty/sub/")
        );
        assert!(reason.starts_with(&format!("reading {} failed: ", env.s3.location("empty/sub"))), "{reason}");
        assert!(reason.ends_with(&hint), "{reason}");
        env.assert_failed_with(&report, &reason).await;
        // Named directly, an object is read whatever its name.
        let report = env.run("txt-named", "other/notes.txt", DeletionOptions::default()).await;
        assert_eq!(report.job.status, JobStatus::Succeeded, "{:?}", report.job.failure_reason);
    }

    fn input_over_the_size_limit(s3) {
        s3.upload_tree("deletion-nested").await;
        let env = Env::new(s3).await;
        let total: u64 = ["a.csv", "sub/b.csv", "sub/deeper/c.CSV"]
            .iter()
            .map(|f| std::fs::metadata(crate::common::fixtures().join("deletion-nested").join(f)).unwrap().len())
            .sum();
        let opts = |max| DeletionOptions { max_input_bytes: max, ..DeletionOptions::default() };
        let report = env.run("too-big", "deletion-nested/", opts(total - 1)).await;
        let reason = format!(
            "the input under {} is {total} bytes, over the limit of a data deletion job ({} bytes)",
            env.s3.location("deletion-nested/"),
            total - 1
        );
        env.assert_failed_with(&report, &reason).await;

        // A single object is checked against the limit before it is read.
        let size = std::fs::metadata(crate::common::fixtures().join("deletion-nested/a.csv")).unwrap().len();
        let report = env.run("too-big-single", "deletion-nested/a.csv", opts(size - 1)).await;
        assert!(report.job.failure_reason.as_deref().unwrap().contains(&format!("is {size} bytes, over the")));
        env.assert_failed_with(&report, report.job.failure_reason.as_deref().unwrap()).await;

        // At exactly the limit the job runs.
        let report = env.run("at-limit", "deletion-nested/", opts(total)).await;
        assert_eq!(report.job.status, JobStatus::Succeeded);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_do_not_change_the_result() {
    // Every third request answers 503 SlowDown or 500 InternalError; the SDK's retries must
    // carry the job through to exactly the result of a fault-free run.
    let s3 = TestS3::start_with_faults(Backend::Embedded, "faults", Faults { every: 3 })
        .await
        .unwrap();
    s3.upload_tree("deletion-nested").await;
    s3.upload_tree("deletion-formats").await;
    let env = Env::new(s3).await;
    let before = env.s3.embedded.as_ref().unwrap().faults_injected();
    let nested = fixture_ids("deletion-nested");
    assert_completes(&env, "faulty-nested", "deletion-nested/", &nested).await;
    let formats = fixture_ids("deletion-formats");
    let report = env
        .run(
            "faulty-formats",
            "deletion-formats/",
            DeletionOptions::default(),
        )
        .await;
    assert_eq!(
        report.job.status,
        JobStatus::Succeeded,
        "{:?}",
        report.job.failure_reason
    );
    let newly_gone: HashSet<String> = formats.difference(&nested).cloned().collect();
    assert_eq!(
        report.counts.unwrap().per_dataset,
        env.expected_deleted(&newly_gone)
    );
    env.assert_remaining(&nested.union(&formats).cloned().collect())
        .await;
    let injected = env.s3.embedded.as_ref().unwrap().faults_injected() - before;
    assert!(
        injected >= 3,
        "only {injected} faults were injected during the jobs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_location_fails_the_job_before_any_read() {
    let s3 = TestS3::start(Backend::Embedded, "badloc").await.unwrap();
    let env = Env::new(s3).await;
    let requests = env.s3.embedded.as_ref().unwrap().requests();
    let report = env
        .run_at(
            "bad-location",
            "s3:/not-a-location",
            DeletionOptions::default(),
        )
        .await;
    env.assert_failed_with(
        &report,
        "invalid S3 location \"s3:/not-a-location\": it must start with s3://",
    )
    .await;
    assert_eq!(
        env.s3.embedded.as_ref().unwrap().requests(),
        requests,
        "no S3 request was made"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_other_dataset_groups_are_untouched() {
    let s3 = TestS3::start(Backend::Embedded, "groups").await.unwrap();
    s3.upload_tree("deletion-single").await;
    let env = Env::new(s3).await;
    let other = env.second_group("other").await;
    assert_completes(
        &env,
        "one-group",
        "deletion-single/requests.csv",
        &ids(&["u05", "u06"]),
    )
    .await;
    for t in [DatasetType::Users, DatasetType::Interactions] {
        let rows = env.store.records(&other, t).await.unwrap();
        assert!(
            rows.iter().any(|r| r[0] == "u05"),
            "{t} of the other group lost u05"
        );
    }
}
