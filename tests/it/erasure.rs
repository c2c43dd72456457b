//! Deleted means gone: after a deletion job and its compaction, no byte of any file in the
//! data dir holds a deleted user's records (or ID); and a purge or a compaction killed
//! (`SIGKILL`) at any point leaves the store before or after the job, never between.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use personalize_local::store::sqlite::SqliteStore;
use personalize_local::store::{DatasetStore, DatasetType};

use crate::cli::{command, json};
use crate::common::{collect_files, copy_of, Backend, TestS3};

const GROUP_ARN: &str = "arn:aws:personalize:us-east-1:000000000000:dataset-group/g";

/// Users `{id}000000`, ... with one Users record each and `i % 4 + 1` interactions, every
/// record carrying a marker of its own: `{mark}` then its user's number and its own. Tests
/// that share a server's files (PostgreSQL's) each take prefixes of their own.
pub(crate) struct Workload {
    pub users: usize,
    pub id: &'static str,
    pub mark: &'static str,
}

impl Workload {
    pub fn new(users: usize) -> Workload {
        Workload {
            users,
            id: "plu",
            mark: "PLMARK",
        }
    }

    fn user(&self, i: usize) -> String {
        format!("{}{i:06}", self.id)
    }

    fn number(&self, id: &str) -> usize {
        id.strip_prefix(self.id).unwrap().parse().unwrap()
    }

    fn users_csv(&self) -> String {
        let mut s = String::from("USER_ID,NOTE\n");
        for i in 0..self.users {
            s += &format!("{},{}{i:06}u0\n", self.user(i), self.mark);
        }
        s
    }

    fn interactions_csv(&self) -> String {
        let mut s = String::from("USER_ID,ITEM_ID,TIMESTAMP,NOTE\n");
        for i in 0..self.users {
            for j in 0..i % 4 + 1 {
                s += &format!(
                    "{},item{j},{},{}{i:06}i{j}\n",
                    self.user(i),
                    1000 + j,
                    self.mark
                );
            }
        }
        s
    }

    pub fn interactions_of(i: usize) -> u64 {
        (i % 4 + 1) as u64
    }

    /// Every user's records: the number deleted when `gone` go.
    pub fn records_of(gone: &BTreeSet<usize>) -> u64 {
        gone.len() as u64
            + gone
                .iter()
                .map(|&i| Workload::interactions_of(i))
                .sum::<u64>()
    }
}

/// What a scan of the data dir found: every `PLMARK` marker and `plu` ID in the bytes of
/// every file, as the user numbers they name, and where each was seen first.
#[derive(Debug, Default)]
pub(crate) struct Found {
    marks: BTreeSet<usize>,
    ids: BTreeSet<usize>,
    at: std::collections::HashMap<usize, (String, usize)>,
}

impl Found {
    /// Panics, naming where they were found, unless exactly the users of `kept` were.
    pub fn assert_only(&self, kept: &BTreeSet<usize>, what: &str) {
        self.assert_none_but(kept, what);
        for (kind, found) in [("marker", &self.marks), ("ID", &self.ids)] {
            let missing: Vec<_> = kept.difference(found).take(5).collect();
            assert!(
                missing.is_empty(),
                "{what}: a kept user's {kind} is missing: {missing:?}"
            );
        }
    }

    /// Panics, naming where they were found, if users not in `kept` were.
    pub fn assert_none_but(&self, kept: &BTreeSet<usize>, what: &str) {
        for (kind, found) in [("marker", &self.marks), ("ID", &self.ids)] {
            let stale: Vec<_> = found
                .difference(kept)
                .take(5)
                .map(|u| (u, self.at.get(u)))
                .collect();
            assert!(
                stale.is_empty(),
                "{what}: a deleted user's {kind} is on disk: {stale:?}"
            );
        }
    }
}

fn scan(dir: &Path) -> Found {
    scan_in(&[dir], &Workload::new(0))
}

/// Every marker and ID of `w` in the files under `dirs`.
pub(crate) fn scan_in(dirs: &[&Path], w: &Workload) -> Found {
    let mut files = Vec::new();
    for dir in dirs {
        collect_files(dir, &mut files);
    }
    let mut found = Found::default();
    for f in files {
        // A file the server removed while the scan ran is gone: nothing to find in it.
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for (prefix, marks) in [(w.mark.as_bytes(), true), (w.id.as_bytes(), false)] {
            for p in memchr::memmem::find_iter(&bytes, prefix) {
                let start = p + prefix.len();
                let digits = bytes.get(start..start + 6).unwrap_or_default();
                if digits.len() == 6 && digits.iter().all(u8::is_ascii_digit) {
                    let user = std::str::from_utf8(digits).unwrap().parse().unwrap();
                    let set = if marks {
                        &mut found.marks
                    } else {
                        &mut found.ids
                    };
                    set.insert(user);
                    found.at.entry(user).or_insert((name.clone(), p));
                }
            }
        }
    }
    found
}

async fn loaded_store(s3: &TestS3, w: &Workload, dir: &Path) {
    put_workload(s3, w).await;
    for (t, key) in [
        ("Users", "in/users.csv"),
        ("Interactions", "in/interactions.csv"),
    ] {
        crate::cli::import(s3, dir, "g", t, key).await;
    }
}

/// `in/users.csv` and `in/interactions.csv`.
pub(crate) async fn put_workload(s3: &TestS3, w: &Workload) {
    s3.put("in/users.csv", w.users_csv()).await;
    s3.put("in/interactions.csv", w.interactions_csv()).await;
}

/// Runs `cmd` until `SIGKILL` after `delay`, or until `failpoint` aborts it (or its end).
pub(crate) fn stop_at(
    mut cmd: std::process::Command,
    delay: Option<Duration>,
    failpoint: Option<&str>,
) {
    if let Some(fp) = failpoint {
        cmd.env("PERSONALIZE_LOCAL_FAILPOINTS", fp);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(delay) = delay {
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
    }
    let _ = child.wait().unwrap();
}

/// Puts a deletion file naming the users `gone` selects, and returns them.
pub(crate) async fn deletion_file(
    s3: &TestS3,
    key: &str,
    w: &Workload,
    gone: impl Fn(usize) -> bool,
) -> BTreeSet<usize> {
    let picked: BTreeSet<usize> = (0..w.users).filter(|&i| gone(i)).collect();
    let mut body = String::from("USER_ID\n");
    for &i in &picked {
        body += &w.user(i);
        body.push('\n');
    }
    s3.put(key, body).await;
    picked
}

fn delete_users(s3: &TestS3, dir: &Path, key: &str, job: &str) -> std::process::Command {
    let mut cmd = command(dir);
    cmd.args(["delete-users", "--dataset-group", "g", "--job-name", job])
        .arg("--data-location")
        .arg(s3.location(key))
        .arg("--s3-endpoint")
        .arg(&s3.endpoint)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    cmd
}

async fn compact(dir: &Path) -> serde_json::Value {
    let mut cmd = command(dir);
    cmd.arg("compact");
    crate::cli::succeeded(cmd).await
}

/// The records the store serves for the users it holds, checked against the workload:
/// every user not in `gone` has all its records, no user in `gone` has any. Returns the
/// counts of Users and Interactions.
async fn assert_holds(dir: &Path, w: &Workload, gone: &BTreeSet<usize>) -> (u64, u64) {
    assert_store_holds(&SqliteStore::open_dir(dir).unwrap(), w, gone).await
}

/// [`assert_holds`] of any store.
pub(crate) async fn assert_store_holds(
    store: &dyn DatasetStore,
    w: &Workload,
    gone: &BTreeSet<usize>,
) -> (u64, u64) {
    let users = store.records(GROUP_ARN, DatasetType::Users).await.unwrap();
    let want_users: Vec<usize> = (0..w.users).filter(|i| !gone.contains(i)).collect();
    let got_users: Vec<usize> = users.iter().map(|r| w.number(&r[0])).collect();
    assert_eq!(got_users, want_users);
    let inter = store
        .records(GROUP_ARN, DatasetType::Interactions)
        .await
        .unwrap();
    let want_inter: u64 = want_users
        .iter()
        .map(|&i| Workload::interactions_of(i))
        .sum();
    assert_eq!(inter.len() as u64, want_inter);
    assert!(inter.iter().all(|r| !gone.contains(&w.number(&r[0]))));
    for t in [DatasetType::Users, DatasetType::Interactions] {
        let counted = store.count_records(GROUP_ARN, t).await.unwrap();
        let listed = if t == DatasetType::Users {
            users.len()
        } else {
            inter.len()
        };
        assert_eq!(counted, listed as u64, "{t}");
    }
    (users.len() as u64, inter.len() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_users_bytes_leave_every_file_of_the_data_dir() {
    let s3 = TestS3::start(Backend::Embedded, "erasure").await.unwrap();
    let w = Workload::new(3000);
    let dir = tempfile::tempdir().unwrap();
    loaded_store(&s3, &w, dir.path()).await;
    let all: BTreeSet<usize> = (0..w.users).collect();
    // The scan finds what is there: every marker and ID after the imports.
    scan(dir.path()).assert_only(&all, "after the imports");

    // A job whose process dies before its compaction: the users are gone from every read
    // path at once, their bytes once `compact` runs.
    let first = deletion_file(&s3, "del/first.csv", &w, |i| i % 3 == 0).await;
    let mut cmd = delete_users(&s3, dir.path(), "del/first.csv", "first");
    cmd.env("PERSONALIZE_LOCAL_FAILPOINTS", "compact-before-commit");
    let out = crate::cli::output(cmd).await;
    assert!(!out.status.success(), "the failpoint aborts the compaction");
    assert_eq!(json(&out)["dataDeletionJob"]["status"], "COMPLETED");
    assert_holds(dir.path(), &w, &first).await;
    let done = compact(dir.path()).await;
    let want = Workload::records_of(&first);
    assert_eq!(done["records"], want);
    assert_eq!(done["checkpointed"], true);
    // Erased page by page, not by rewriting the file.
    assert_eq!(done["vacuumed"], false);
    assert!(done["pagesErased"].as_u64().unwrap() > 0, "{done}");
    let kept: BTreeSet<usize> = all.difference(&first).copied().collect();
    scan(dir.path()).assert_only(&kept, "after compact");
    assert_holds(dir.path(), &w, &first).await;

    // A job that runs to its end compacts by itself before it exits.
    let second = deletion_file(&s3, "del/second.csv", &w, |i| i % 5 == 1).await;
    let out = crate::cli::output(delete_users(&s3, dir.path(), "del/second.csv", "second")).await;
    assert_eq!(out.status.code(), Some(0));
    let gone: BTreeSet<usize> = first.union(&second).copied().collect();
    let kept: BTreeSet<usize> = all.difference(&gone).copied().collect();
    scan(dir.path()).assert_only(&kept, "after a second job");
    assert_holds(dir.path(), &w, &gone).await;
    assert_eq!(compact(dir.path()).await["records"], 0);
}

/// The store after a kill is either before the job (nothing deleted, the job not
/// `COMPLETED`) or after it (exactly the deletion file's users gone, `COMPLETED` with the
/// exact count); then a compaction (the next process's) erases what is left to erase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_or_compaction_killed_anywhere_leaves_the_store_before_or_after_the_job() {
    let s3 = TestS3::start(Backend::Embedded, "kill").await.unwrap();
    let w = Workload::new(20_000);
    let loaded = tempfile::tempdir().unwrap();
    loaded_store(&s3, &w, loaded.path()).await;
    let gone = deletion_file(&s3, "del/gone.csv", &w, |i| i % 2 == 0).await;
    let none = BTreeSet::new();
    let (all_users, all_inter) = (
        w.users as u64,
        (0..w.users).map(Workload::interactions_of).sum::<u64>(),
    );
    let num_deleted = Workload::records_of(&gone);

    // How long a whole run takes here, job and compaction.
    let dir = copy_of(loaded.path());
    let started = Instant::now();
    let out = delete_users(&s3, dir.path(), "del/gone.csv", "whole")
        .output()
        .unwrap();
    let whole = started.elapsed();
    assert_eq!(json(&out)["dataDeletionJob"]["numDeleted"], num_deleted);

    // Kills spread over the run, and aborts at the commits of the purge and the compaction.
    let mut points: Vec<(Option<Duration>, Option<&str>)> = (1..=24)
        .map(|i| (Some(whole.mul_f64(i as f64 / 24.0)), None))
        .collect();
    for fp in [
        "purge-before-commit",
        "compact-before-commit",
        "compact-after-commit",
    ] {
        points.push((None, Some(fp)));
    }
    let (mut before, mut after) = (0, 0);
    for (n, (delay, failpoint)) in points.into_iter().enumerate() {
        let dir = copy_of(loaded.path());
        let cmd = delete_users(&s3, dir.path(), "del/gone.csv", "killed");
        stop_at(cmd, delay, failpoint);
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let job = store
            .list_jobs(personalize_local::jobs::JobKind::Deletion, None)
            .await
            .unwrap()
            .into_iter()
            .next();
        drop(store);
        let completed = job
            .as_ref()
            .is_some_and(|j| j.status == personalize_local::jobs::JobStatus::Succeeded);
        let what = format!("point {n} ({delay:?}, {failpoint:?}): {job:?}");
        if completed {
            after += 1;
            assert_eq!(job.unwrap().num_deleted, Some(num_deleted), "{what}");
            let (u, i) = assert_holds(dir.path(), &w, &gone).await;
            assert_eq!(u + i, all_users + all_inter - num_deleted, "{what}");
        } else {
            before += 1;
            assert_eq!(
                assert_holds(dir.path(), &w, &none).await,
                (all_users, all_inter),
                "{what}"
            );
        }
        // The next process finishes what the killed one left, and the state holds.
        compact(dir.path()).await;
        if completed {
            assert_holds(dir.path(), &w, &gone).await;
            let kept: BTreeSet<usize> = (0..w.users).filter(|i| !gone.contains(i)).collect();
            scan(dir.path()).assert_only(&kept, &what);
        } else {
            assert_holds(dir.path(), &w, &none).await;
        }
    }
    eprintln!("whole run {whole:?}: {before} kills before the job's commit, {after} after");
    // Both outcomes happened: the kills did land on either side of the commit.
    assert!(before > 0 && after > 0, "before {before}, after {after}");
}

/// A reset drops everything, the tombstoned users' records included: their bytes leave the
/// disk before the reset is answered, not at some later compaction (and a reset that left
/// the vacuum undone would leave them in the dropped tables' free pages for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_after_a_purge_leaves_no_byte_of_anyone() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s3 = TestS3::start(Backend::Embedded, "reset-erasure")
        .await
        .unwrap();
    let w = Workload::new(2000);
    let dir = tempfile::tempdir().unwrap();
    loaded_store(&s3, &w, dir.path()).await;
    // Tombstones committed, the compaction not run.
    deletion_file(&s3, "del/some.csv", &w, |i| i % 2 == 0).await;
    let mut cmd = delete_users(&s3, dir.path(), "del/some.csv", "some");
    cmd.env("PERSONALIZE_LOCAL_FAILPOINTS", "compact-before-commit");
    let out = crate::cli::output(cmd).await;
    assert_eq!(json(&out)["dataDeletionJob"]["status"], "COMPLETED");

    let serve = crate::processes::ServeProcess::start_with(&s3, dir.path(), &["--no-worker"], &[]);
    let addr = serve.1.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "POST /_personalize-local/reset HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    scan(dir.path()).assert_only(&BTreeSet::new(), "after the reset's answer");
    drop(serve);
    scan(dir.path()).assert_only(&BTreeSet::new(), "after the server stopped");
}

/// `kill -9` at points spread over a compaction and its erasure, and at each of their
/// steps: no kept record is lost, no deleted one is seen again, and the next process's
/// compaction finishes the erasure, leaving no byte of a deleted user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_killed_anywhere_is_finished_by_the_next_compaction() {
    let s3 = TestS3::start(Backend::Embedded, "kill-erasure")
        .await
        .unwrap();
    let w = Workload::new(20_000);
    let tombstoned = tempfile::tempdir().unwrap();
    loaded_store(&s3, &w, tombstoned.path()).await;
    let gone = deletion_file(&s3, "del/gone.csv", &w, |i| i % 2 == 0).await;
    let mut cmd = delete_users(&s3, tombstoned.path(), "del/gone.csv", "job");
    cmd.env("PERSONALIZE_LOCAL_FAILPOINTS", "compact-before-commit");
    let out = crate::cli::output(cmd).await;
    assert_eq!(json(&out)["dataDeletionJob"]["status"], "COMPLETED");
    let kept: BTreeSet<usize> = (0..w.users).filter(|i| !gone.contains(i)).collect();

    // How long a whole compaction takes here, process included.
    let dir = copy_of(tombstoned.path());
    let started = Instant::now();
    compact(dir.path()).await;
    let whole = started.elapsed();

    let mut points: Vec<(Option<Duration>, Option<&str>)> = (1..=20)
        .map(|i| (Some(whole.mul_f64(i as f64 / 20.0)), None))
        .collect();
    for fp in [
        "compact-after-commit",
        "erase-before-checkpoint",
        "erase-before-scrub",
        "erase-after-scrub",
    ] {
        points.push((None, Some(fp)));
    }
    for (n, (delay, failpoint)) in points.into_iter().enumerate() {
        let dir = copy_of(tombstoned.path());
        let mut cmd = command(dir.path());
        cmd.arg("compact")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        stop_at(cmd, delay, failpoint);
        let what = format!("point {n} ({delay:?}, {failpoint:?})");
        assert_holds(dir.path(), &w, &gone).await;
        let done = compact(dir.path()).await;
        assert_eq!(done["checkpointed"], true, "{what}");
        assert_holds(dir.path(), &w, &gone).await;
        scan(dir.path()).assert_only(&kept, &what);
    }
    eprintln!("a whole compaction {whole:?}");
}
