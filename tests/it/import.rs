//! Imports: bad input fails with object and line, and leaves the dataset as it was.

use personalize_local::import::import_dataset;
use personalize_local::source::S3Location;
use personalize_local::store::DatasetType;

use crate::common::{fixture_rows, Backend, Env, TestS3};

async fn try_import(env: &Env, t: DatasetType, key: &str) -> Result<u64, String> {
    let location = S3Location::parse(&env.s3.location(key)).unwrap();
    import_dataset(
        env.store.as_ref(),
        env.s3.source(),
        &env.group_arn,
        t,
        &location,
        &personalize_local::import::ImportOptions::default(),
    )
    .await
    .map(|r| r.records)
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_imports_change_nothing() {
    let s3 = TestS3::start(Backend::Embedded, "imports").await.unwrap();
    s3.put("bad/wrong-header.csv", "USER_ID,AGE\nu1,3\n").await;
    s3.put(
        "bad/width.csv",
        "USER_ID,AGE,MEMBERSHIP\nnew1,3,gold\nnew2,4\n",
    )
    .await;
    s3.put(
        "bad/long.csv",
        format!(
            "USER_ID,AGE,MEMBERSHIP\nnew1,3,gold\n{},4,gold\n",
            "y".repeat(300)
        ),
    )
    .await;
    s3.put(
        "bad/quote.csv",
        "USER_ID,AGE,MEMBERSHIP\nnew1,3,gold\n\"new2,4,gold\n",
    )
    .await;
    s3.put("bad/no-key/items.csv", "NAME,CATEGORY\nx,y\n").await;
    s3.put("two/a.csv", "USER_ID,AGE,MEMBERSHIP\nn1,1,gold\n")
        .await;
    s3.put("two/b/b.csv", "USER_ID,AGE,MEMBERSHIP\nn2,2,basic\n")
        .await;
    // Left unread: not .csv files (read, each would fail the import).
    s3.put("two/b/_SUCCESS", "x").await;
    s3.put("two/README.md", "USER_ID,AGE,MEMBERSHIP exported nightly\n")
        .await;
    let env = Env::new(s3).await;
    let users = fixture_rows("users.csv");
    let loc = |k: &str| env.s3.location(k);
    for (key, want) in [
        (
            "bad/wrong-header.csv",
            format!(
                "{}: the header USER_ID,AGE lacks the required column MEMBERSHIP (the dataset's columns: USER_ID,AGE,MEMBERSHIP)",
                loc("bad/wrong-header.csv")
            ),
        ),
        ("bad/width.csv", format!("{} line 3: expected 3 columns, found 2", loc("bad/width.csv"))),
        (
            "bad/long.csv",
            format!("{} line 3: the user ID is 300 characters long; IDs are 1 to 256 characters", loc("bad/long.csv")),
        ),
        (
            "bad/quote.csv",
            format!(
                "{} line 3: a quoted field is not closed before the end of the file (unterminated quote)",
                loc("bad/quote.csv")
            ),
        ),
    ] {
        assert_eq!(try_import(&env, DatasetType::Users, key).await, Err(want));
        assert_eq!(env.records(DatasetType::Users).await, users, "after {key}");
    }
    // A new dataset needs its key column.
    let err = try_import(&env, DatasetType::Actions, "bad/no-key/")
        .await
        .unwrap_err();
    assert!(
        err.contains("a Actions dataset needs a ACTION_ID column"),
        "{err}"
    );
    assert!(env
        .store
        .datasets(&env.group_arn)
        .await
        .unwrap()
        .iter()
        .all(|d| d.dataset_type != DatasetType::Actions));

    // A folder import reads the .csv files of sub-folders and replaces the records.
    assert_eq!(try_import(&env, DatasetType::Users, "two/").await, Ok(2));
    let got = env.records(DatasetType::Users).await;
    assert_eq!(got, vec![vec!["n1", "1", "gold"], vec!["n2", "2", "basic"]]);
}
