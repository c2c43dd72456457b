//! Deleted means gone, on PostgreSQL: after a deletion job and its compaction, no byte of
//! the database's files (its directory under `base/`) or of the cluster's write-ahead log
//! holds a deleted user's records or ID, for a few users out of many and for nearly half of
//! them; and a compaction killed (`SIGKILL`) at any point is finished by the next one.
//!
//! The test server must let the store's role run `CHECKPOINT` and `pg_switch_wal()`, and run
//! with `wal_recycle = off` (as `.ci/run` starts it); the test reads the cluster's files, so
//! it runs where they are readable (as their owner, or root).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use personalize_local::store::postgres::PostgresStore;
use tokio_postgres::NoTls;

use crate::cli::{command, json, output, succeeded};
use crate::common::{fresh_postgres, postgres_url, Backend, TestS3};
use crate::erasure::{
    assert_store_holds, deletion_file, put_workload, scan_in, stop_at, Found, Workload,
};

/// A database of the test server and where its bytes are.
struct Database {
    url: String,
    /// Its directory under `base/`.
    dir: PathBuf,
    /// The cluster's write-ahead log.
    wal: PathBuf,
}

impl Database {
    async fn at(url: String) -> Database {
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let data: String = client
            .query_one("SHOW data_directory", &[])
            .await
            .unwrap()
            .get(0);
        let oid: u32 = client
            .query_one(
                "SELECT oid FROM pg_database WHERE datname = current_database()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let recycle: String = client
            .query_one("SHOW wal_recycle", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            recycle, "off",
            "the test server must run with wal_recycle = off"
        );
        let data = PathBuf::from(data);
        Database {
            url,
            dir: data.join("base").join(oid.to_string()),
            wal: data.join("pg_wal"),
        }
    }

    fn scan(&self, w: &Workload) -> Found {
        scan_in(&[&self.dir, &self.wal], w)
    }

    /// The binary on this database.
    fn command(&self, scratch: &Path) -> std::process::Command {
        let mut cmd = command(scratch);
        cmd.arg("--store").arg(&self.url);
        cmd
    }

    async fn run(&self, s3: &TestS3, scratch: &Path, args: &[&str]) -> serde_json::Value {
        let mut cmd = self.command(scratch);
        cmd.args(args).arg("--s3-endpoint").arg(&s3.endpoint);
        succeeded(cmd).await
    }

    async fn load(&self, s3: &TestS3, w: &Workload, scratch: &Path) {
        put_workload(s3, w).await;
        for (t, key) in [
            ("Users", "in/users.csv"),
            ("Interactions", "in/interactions.csv"),
        ] {
            let location = s3.location(key);
            let args = ["import", "--dataset-group", "g", "--dataset-type", t];
            let mut all = args.to_vec();
            all.extend(["--data-location", &location]);
            self.run(s3, scratch, &all).await;
        }
    }

    async fn delete(&self, s3: &TestS3, scratch: &Path, key: &str, job: &str) -> serde_json::Value {
        let location = s3.location(key);
        let args = [
            "delete-users",
            "--dataset-group",
            "g",
            "--job-name",
            job,
            "--data-location",
            &location,
        ];
        self.run(s3, scratch, &args).await
    }

    async fn holds(&self, w: &Workload, gone: &BTreeSet<usize>) -> (u64, u64) {
        let store = PostgresStore::connect(&self.url).await.unwrap();
        assert_store_holds(&store, w, gone).await
    }

    async fn compact(&self, scratch: &Path) -> serde_json::Value {
        let mut cmd = self.command(scratch);
        cmd.arg("compact");
        succeeded(cmd).await
    }
}

async fn admin(server: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(server, NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_users_bytes_leave_the_database_files_and_the_log() {
    let Some(server) = postgres_url() else {
        return;
    };
    let db = Database::at(fresh_postgres(&server).await).await;
    let s3 = TestS3::start(Backend::Embedded, "pg-erasure")
        .await
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let w = Workload {
        users: 3000,
        id: "pgu",
        mark: "PGMARK",
    };
    db.load(&s3, &w, scratch.path()).await;
    let all: BTreeSet<usize> = (0..w.users).collect();
    // The scan finds what is there: every marker and ID after the imports.
    db.scan(&w).assert_only(&all, "after the imports");

    // A few users out of many; the job compacts before its process exits.
    let few = deletion_file(&s3, "del/few.csv", &w, |i| i % 100 == 7).await;
    let out = db.delete(&s3, scratch.path(), "del/few.csv", "few").await;
    assert_eq!(
        out["dataDeletionJob"]["numDeleted"],
        Workload::records_of(&few)
    );
    let kept: BTreeSet<usize> = all.difference(&few).copied().collect();
    db.scan(&w).assert_only(&kept, "after a few users");
    db.holds(&w, &few).await;

    // Nearly half of the rest.
    let half = deletion_file(&s3, "del/half.csv", &w, |i| i % 2 == 0 && i % 100 != 7).await;
    db.delete(&s3, scratch.path(), "del/half.csv", "half").await;
    let gone: BTreeSet<usize> = few.union(&half).copied().collect();
    let kept: BTreeSet<usize> = all.difference(&gone).copied().collect();
    db.scan(&w).assert_only(&kept, "after nearly half");
    db.holds(&w, &gone).await;
    // Nothing left to do.
    let done = db.compact(scratch.path()).await;
    assert_eq!(
        (done["records"].clone(), done["checkpointed"].clone()),
        (0.into(), true.into())
    );
}

/// `kill -9` at points spread over a compaction, and at its steps: no kept record is lost,
/// no deleted one is seen again, and the next compaction leaves no byte of a deleted user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_killed_anywhere_is_finished_by_the_next_compaction() {
    let Some(server) = postgres_url() else {
        return;
    };
    let template = Database::at(fresh_postgres(&server).await).await;
    let s3 = TestS3::start(Backend::Embedded, "pg-kill").await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let w = Workload {
        users: 5000,
        id: "pku",
        mark: "PKMARK",
    };
    template.load(&s3, &w, scratch.path()).await;
    let gone = deletion_file(&s3, "del/gone.csv", &w, |i| i % 2 == 0).await;
    // The job commits; its compaction stops before it starts.
    let mut cmd = template.command(scratch.path());
    cmd.args(["delete-users", "--dataset-group", "g", "--job-name", "job"])
        .arg("--data-location")
        .arg(s3.location("del/gone.csv"))
        .arg("--s3-endpoint")
        .arg(&s3.endpoint)
        .env("PERSONALIZE_LOCAL_FAILPOINTS", "erase-before-rewrite");
    let out = output(cmd).await;
    assert_eq!(json(&out)["dataDeletionJob"]["status"], "COMPLETED");
    let kept: BTreeSet<usize> = (0..w.users).filter(|i| !gone.contains(i)).collect();
    let template_name = template.url.rsplit('/').next().unwrap().to_owned();

    let copy = |n: usize| {
        let server = server.clone();
        let template_name = template_name.clone();
        async move {
            let name = format!("{template_name}_k{n}");
            admin(
                &server,
                &format!("CREATE DATABASE {name} TEMPLATE {template_name}"),
            )
            .await;
            Database::at(personalize_local::store::postgres::with_dbname(
                &server, &name,
            ))
            .await
        }
    };
    // How long a whole compaction takes here, process included.
    let db = copy(0).await;
    let started = Instant::now();
    db.compact(scratch.path()).await;
    let whole = started.elapsed();

    let mut points: Vec<(Option<Duration>, Option<&str>)> = (1..=20)
        .map(|i| (Some(whole.mul_f64(i as f64 / 20.0)), None))
        .collect();
    points.push((None, Some("erase-before-rewrite")));
    points.push((None, Some("erase-after-rewrite")));
    for (n, (delay, failpoint)) in points.into_iter().enumerate() {
        let db = copy(n + 1).await;
        let mut cmd = db.command(scratch.path());
        cmd.arg("compact")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        stop_at(cmd, delay, failpoint);
        let what = format!("point {n} ({delay:?}, {failpoint:?})");
        db.holds(&w, &gone).await;
        let done = db.compact(scratch.path()).await;
        assert_eq!(done["checkpointed"], true, "{what}");
        db.holds(&w, &gone).await;
        // The template and the copies made since hold the deleted rows still: only this
        // copy's files and the log are the compaction's to clear.
        scan_in(&[&db.dir], &w).assert_only(&kept, &what);
        scan_in(&[&db.wal], &w).assert_none_but(&kept, &format!("{what}, the log"));
    }
    eprintln!("a whole compaction {whole:?}");
}
