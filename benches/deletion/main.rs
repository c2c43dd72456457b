//! The data deletion job's benchmark.
//!
//!     cargo bench --bench deletion -- --scale 1 --runs 3
//!
//! 1. Writes workload W at `--scale` into `--data` (kept for the next time, and in the layout
//!    `../shared/bench/peers.sh` reads, so the peers can run on the same files);
//! 2. starts `moto_server` on loopback (or uses `PERSONALIZE_LOCAL_BENCH_S3_ENDPOINT`, e.g. a
//!    LocalStack or MinIO) and uploads every file;
//! 3. imports Users, Items and Interactions into a fresh store with `personalize-local
//!    import`;
//! 4. runs the job `--runs` times through the worker (`personalize-local delete-users`) and
//!    `--runs` times through the API (`CreateDataDeletionJob` on `personalize-local serve`,
//!    polled with `DescribeDataDeletionJob`), each on a fresh copy of the loaded store.
//!
//! With `--store postgres://user@host:port/db` the store is PostgreSQL on that server: the
//! workload is imported into a database of its own once, and each run gets a fresh copy of
//! it (`CREATE DATABASE ... TEMPLATE`), dropped afterwards.
//!
//! Prints one JSON record per run (phase seconds, job seconds, peak RSS of the whole process,
//! records per second, and whether the counts equal `expected.json`), then the medians.
//! Exits 1 if any run's counts differ.

mod load;
mod peers;
mod s3;
mod stores;
mod workload;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_personalize::types::{DataDeletionJob, DataSource};
use clap::Parser;
use serde_json::{json, Value};

use load::Load;
use peers::run_peers;
use s3::{upload, S3Server};
use stores::{copy_dir, pg_admin, Target};

const BUCKET: &str = "personalize-local-bench";
const GROUP: &str = "bench";
const BIN: &str = env!("CARGO_BIN_EXE_personalize-local");

type Error = Box<dyn std::error::Error>;

#[derive(Debug, Parser)]
struct Args {
    /// Workload scale: 1 is W1 (1M users, 10M interactions, 2M deletion lines).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Runs per path (worker, API).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Workload folder (default: target/bench-data/s<scale>); generated if it has no
    /// expected.json.
    #[arg(long)]
    data: Option<PathBuf>,
    /// A PostgreSQL server to run on instead of the embedded SQLite store (its databases
    /// `pl_bench_*` are created and dropped).
    #[arg(long)]
    store: Option<String>,
    /// Which paths to time.
    #[arg(long, value_delimiter = ',', default_value = "worker,api")]
    paths: Vec<String>,
    /// Also run these peers of `../shared/bench` (`duckdb`, `python`: a boto3 + csv + SQLite
    /// script) on the same files, and print their medians and the ratio to ours. `--peers`
    /// alone runs DuckDB.
    #[arg(long, value_delimiter = ',', num_args = 0..=1, default_missing_value = "duckdb")]
    peers: Vec<String>,
    /// Also run one job whose input is this many MB of short, distinct IDs (`s0000001`, ...,
    /// in 10 files) on a fresh copy of the store, and print its peak RSS: the memory bound
    /// of the ID set, which spills to disk past its budget.
    #[arg(long)]
    short_ids_mb: Option<u64>,
    /// On the API path, also run this many clients calling the API in a loop (Describe and
    /// List calls, one CreateSchema in ten calls) for 2 s before the job, from its creation
    /// until it ended, and for 3 s after (its compaction), and print their latencies.
    #[arg(long, default_value_t = 0)]
    api_load: usize,
    /// Also run one job (worker path) deleting this many users (the first of users.csv) on
    /// a fresh copy of the store, and print its job and erasure times: a daily GDPR
    /// request, against the workload's 45%. 0: none.
    #[arg(long, default_value_t = 1000)]
    few_users: usize,
    /// Also copy the loaded SQLite store into this folder (to profile a job on it).
    #[arg(long)]
    keep_store: Option<PathBuf>,
    /// Cargo passes this to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("error: some run's counts differ from expected.json");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn run(args: &Args) -> Result<bool, Error> {
    let data = args.data.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/bench-data")
            .join(format!("s{}", args.scale))
    });
    let expected = workload_at(&data, args.scale)?;
    let work = tempfile::Builder::new()
        .prefix("personalize-local-bench")
        .tempdir()?;
    let s3 = S3Server::start(work.path())?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(upload(&s3.endpoint, &data))?;

    let loaded = match &args.store {
        None => Target::Dir(work.path().join("loaded")),
        Some(server) => {
            let name = "pl_bench_loaded";
            rt.block_on(pg_admin(
                server,
                &[
                    &format!("DROP DATABASE IF EXISTS {name}"),
                    &format!("CREATE DATABASE {name}"),
                ],
            ))?;
            Target::Postgres {
                server: server.clone(),
                name: name.to_owned(),
            }
        }
    };
    for (dataset, file) in [
        ("Users", "users.csv"),
        ("Items", "items.csv"),
        ("Interactions", "interactions.csv"),
    ] {
        let started = Instant::now();
        let out = s3
            .command(&loaded)
            .args([
                "import",
                "--dataset-group",
                GROUP,
                "--dataset-type",
                dataset,
            ])
            .arg("--data-location")
            .arg(format!("s3://{BUCKET}/{file}"))
            .stderr(Stdio::inherit())
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "importing {file} failed: {}",
                String::from_utf8_lossy(&out.stdout)
            )
            .into());
        }
        let report: Value = serde_json::from_slice(&out.stdout)?;
        println!(
            "{}",
            json!({"import": dataset, "seconds": secs(started.elapsed()), "records": report["records"]})
        );
    }

    if let (Some(keep), Target::Dir(dir)) = (&args.keep_store, &loaded) {
        copy_dir(dir, keep)?;
    }
    println!(
        "{}",
        json!({
            "scale": args.scale, "data": data, "s3": s3.name(), "cpus": cpus(),
            "store": if args.store.is_some() { "postgres" } else { "sqlite" },
            "date": date(), "version": env!("CARGO_PKG_VERSION"),
        })
    );
    let mut all_exact = true;
    let mut ours = Vec::new();
    for path in &args.paths {
        let mut records = Vec::new();
        for run in 1..=args.runs {
            let store = loaded.fresh_copy(&rt, work.path(), &format!("{path}_{run}"))?;
            // Each run starts with nothing left to write back: neither the copy nor an
            // earlier run's checkpoint competes with this run's commit for the disk.
            unsafe { libc::sync() };
            let mut record = match path.as_str() {
                "worker" => worker_run(&s3, &store, run)?,
                "api" => {
                    let log = work.path().join(format!("api-{run}.log"));
                    rt.block_on(api_run(&s3, &store, run, &log, args.api_load))?
                }
                other => return Err(format!("unknown path {other} (worker, api)").into()),
            };
            store.remove(&rt)?;
            let exact = check(&record, &expected);
            all_exact &= exact;
            let job = record["jobSeconds"].as_f64().unwrap_or(f64::NAN);
            let deleted = record["numDeleted"].as_f64().unwrap_or(0.0);
            record["path"] = json!(path);
            record["run"] = json!(run);
            record["scale"] = json!(args.scale);
            record["recordsPerSecond"] = json!((deleted / job).round());
            record["exact"] = json!(exact);
            println!("{record}");
            records.push(record);
        }
        let summary = summary(path, args.scale, &records);
        println!("{summary}");
        ours.push((path.clone(), summary["medianJobSeconds"].as_f64()));
    }
    if args.few_users > 0 {
        let record = few_users_run(args.few_users, &data, &s3, &rt, &loaded, work.path())?;
        all_exact &= record["numDeleted"].as_u64() > Some(0);
        println!("{record}");
    }
    if let (Some(mb), Target::Dir(dir)) = (args.short_ids_mb, &loaded) {
        let root = work.path().join("short");
        let folder = root.join("short-ids");
        std::fs::create_dir_all(&folder)?;
        let per_file = mb * 1024 * 1024 / 10;
        let mut n = 0u64;
        for f in 0..10 {
            let mut body = String::with_capacity(per_file as usize + 16);
            body.push_str("USER_ID\n");
            while (body.len() + 9) as u64 <= per_file {
                n += 1;
                body.push_str(&format!("s{n:07}\n"));
            }
            std::fs::write(folder.join(format!("part-{f}.csv")), body)?;
        }
        rt.block_on(upload(&s3.endpoint, &root))?;
        let store = work.path().join("short-ids-store");
        copy_dir(dir, &store)?;
        unsafe { libc::sync() };
        let record = worker_run_at(
            &s3,
            &Target::Dir(store.clone()),
            "short-ids/",
            "bench-short-ids",
        )?;
        std::fs::remove_dir_all(&store)?;
        all_exact &= record["status"] == "COMPLETED" && record["distinctIds"] == n;
        println!(
            "{}",
            json!({
                "shortIdsMB": mb, "idLines": n, "distinctIds": record["distinctIds"],
                "status": record["status"], "jobSeconds": record["jobSeconds"],
                "processSeconds": record["processSeconds"], "peakRssMB": record["peakRssMB"],
            })
        );
    }
    if !args.peers.is_empty() {
        drop(s3); // the peers start a moto of their own
        for peer in run_peers(&data, args.runs, &args.peers, work.path())? {
            all_exact &= peer["allExact"] == true;
            let theirs = peer["medianJobSeconds"].as_f64();
            let ratio: serde_json::Map<String, Value> = ours
                .iter()
                .map(|(path, mine)| {
                    let r = theirs.zip(*mine).map(|(t, m)| round4(t / m));
                    (path.clone(), json!(r))
                })
                .collect();
            println!("{peer}");
            println!(
                "{}",
                json!({"ratio": peer["peer"], "scale": args.scale, "peerSecondsOverOurs": ratio})
            );
        }
    }
    if let Target::Postgres { server, name } = &loaded {
        rt.block_on(pg_admin(server, &[&format!("DROP DATABASE {name}")]))?;
    }
    Ok(all_exact)
}

/// One worker job deleting the first `n` users of the workload, on a fresh copy of `loaded`.
fn few_users_run(
    n: usize,
    data: &Path,
    s3: &S3Server,
    rt: &tokio::runtime::Runtime,
    loaded: &Target,
    work: &Path,
) -> Result<Value, Error> {
    let root = work.join("few");
    std::fs::create_dir_all(root.join("few-users"))?;
    let users = BufReader::new(std::fs::File::open(data.join("users.csv"))?);
    let mut body = String::from("USER_ID\n");
    for line in users.lines().skip(1).take(n) {
        body.push_str(line?.split(',').next().unwrap_or_default());
        body.push('\n');
    }
    std::fs::write(root.join("few-users/part-0.csv"), body)?;
    rt.block_on(upload(&s3.endpoint, &root))?;
    let store = loaded.fresh_copy(rt, work, "few_users")?;
    unsafe { libc::sync() };
    let record = worker_run_at(s3, &store, "few-users/", "bench-few-users")?;
    store.remove(rt)?;
    Ok(json!({
        "fewUsers": n, "status": record["status"], "numDeleted": record["numDeleted"],
        "jobSeconds": record["jobSeconds"], "erasure": record["erasure"],
        "processSeconds": record["processSeconds"], "peakRssMB": record["peakRssMB"],
    }))
}

/// The workload in `dir`, generated unless it is there at this scale.
fn workload_at(dir: &Path, scale: f64) -> Result<Value, Error> {
    let path = dir.join("expected.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let expected: Value = serde_json::from_str(&text)?;
        if expected["scale"].as_f64() == Some(scale) {
            return Ok(expected);
        }
    }
    let started = Instant::now();
    let expected = workload::generate(scale, workload::SEED, dir)?;
    eprintln!(
        "generated the workload at scale {scale} in {dir:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(expected)
}

/// Whether a run's counts are exactly the expected ones.
fn check(record: &Value, expected: &Value) -> bool {
    let eq = |got: &Value, want: &Value| got.as_u64().is_some() && got.as_u64() == want.as_u64();
    let mut exact =
        record["status"] == "COMPLETED" && eq(&record["numDeleted"], &expected["records_deleted"]);
    if let Some(per) = record.get("numDeletedPerDataset") {
        exact &= eq(&per["Users"], &expected["users_rows_deleted"])
            && eq(&per["Interactions"], &expected["interactions_rows_deleted"])
            && per.get("Items").is_none();
    }
    if let Some(distinct) = record.get("distinctIds") {
        exact &= eq(distinct, &expected["distinct_ids"]);
    }
    exact
}

/// One job through `personalize-local delete-users`, the worker's own process.
fn worker_run(s3: &S3Server, store: &Target, run: usize) -> Result<Value, Error> {
    worker_run_at(s3, store, "deletions/", &format!("bench-worker-{run}"))
}

/// One job on the objects under `prefix` through `personalize-local delete-users`, and the
/// erasure that follows it in the same process (from its log line).
fn worker_run_at(s3: &S3Server, store: &Target, prefix: &str, job: &str) -> Result<Value, Error> {
    let log = tempfile::NamedTempFile::new()?;
    let started = Instant::now();
    let child = s3
        .command(store)
        .args(["delete-users", "--dataset-group", GROUP])
        .arg("--data-location")
        .arg(format!("s3://{BUCKET}/{prefix}"))
        .arg("--job-name")
        .arg(job)
        // W10's input (325 MB) is past the default bound of 100 MB.
        .args(["--max-input-bytes", "4294967296"])
        .stdout(Stdio::piped())
        .stderr(log.reopen()?)
        .spawn()?;
    let (stdout, peak_rss) = wait_with_peak_rss(child)?;
    let process = secs(started.elapsed());
    let out: Value = serde_json::from_slice(&stdout)?;
    let phases = &out["phaseSeconds"];
    let erasure = std::fs::read_to_string(log.path())?
        .lines()
        .find(|l| l.contains("erased the records of deleted users"))
        .map(|line| {
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{name}=")))
                    .map(str::to_owned)
            };
            let num = |name: &str| field(name).and_then(|v| v.parse::<f64>().ok());
            json!({
                "seconds": num("seconds").map(round4), "users": num("users"),
                "records": num("records"), "pages": num("pages"), "bytes": num("bytes"),
                "vacuumed": field("vacuumed").map(|v| v == "true"),
            })
        })
        .unwrap_or(Value::Null);
    Ok(json!({
        "erasure": erasure,
        "erasureSeconds": erasure["seconds"],
        "status": out["dataDeletionJob"]["status"],
        "failureReason": out["dataDeletionJob"]["failureReason"],
        "numDeleted": out["dataDeletionJob"]["numDeleted"],
        "numDeletedPerDataset": out["numDeletedPerDataset"],
        "distinctIds": out["input"]["distinctIds"],
        "phases": phases_of(phases),
        "jobSeconds": phases["total"].as_f64().map(round4),
        "processSeconds": process,
        "peakRssMB": peak_rss,
    }))
}

/// One job through the API of `personalize-local serve`: from the CreateDataDeletionJob call
/// until DescribeDataDeletionJob says it ended.
async fn api_run(
    s3: &S3Server,
    store: &Target,
    run: usize,
    log: &Path,
    load: usize,
) -> Result<Value, Error> {
    let mut child = s3
        .command(store)
        .args(["serve", "--port", "0"])
        .env("RUST_LOG", "personalize_local=info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()?;
    let mut first = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut first)?;
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("serve said {first:?}"))?
        .to_owned();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_personalize::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .endpoint_url(url)
        .load()
        .await;
    let client = aws_sdk_personalize::Client::new(&config);
    let groups = client.list_dataset_groups().send().await?;
    let group_arn = groups
        .dataset_groups()
        .iter()
        .find(|g| g.name() == Some(GROUP))
        .and_then(|g| g.dataset_group_arn())
        .ok_or("the loaded store has no bench group")?
        .to_owned();

    let idle = match load {
        0 => None,
        n => {
            let clients = Load::start(&client, &group_arn, n, run);
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some(clients.stop().await)
        }
    };
    let busy = (load > 0).then(|| Load::start(&client, &group_arn, load, run + 1000));
    let started = Instant::now();
    let created = client
        .create_data_deletion_job()
        .job_name(format!("bench-api-{run}"))
        .dataset_group_arn(&group_arn)
        .data_source(
            DataSource::builder()
                .data_location(format!("s3://{BUCKET}/deletions/"))
                .build(),
        )
        .role_arn("arn:aws:iam::000000000000:role/bench")
        .send()
        .await?;
    let arn = created
        .data_deletion_job_arn()
        .ok_or("no job ARN")?
        .to_owned();
    let job: DataDeletionJob = loop {
        let d = client
            .describe_data_deletion_job()
            .data_deletion_job_arn(&arn)
            .send()
            .await?;
        let job = d.data_deletion_job().cloned().ok_or("no job")?;
        if matches!(job.status(), Some("COMPLETED" | "FAILED")) {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let seen = secs(started.elapsed());
    let (during, after) = match busy {
        Some(clients) => {
            let during = clients.stop().await;
            // The compaction runs now, for about 2 s at W1: writes wait for its vacuum.
            let clients = Load::start(&client, &group_arn, load, run + 2000);
            tokio::time::sleep(Duration::from_secs(3)).await;
            (Some(during), Some(clients.stop().await))
        }
        None => (None, None),
    };
    // The server compacts after the job; SIGTERM lets it finish and exit cleanly.
    tokio::time::sleep(Duration::from_millis(50)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let (_, peak_rss) = wait_with_peak_rss(child)?;
    let phases = std::fs::read_to_string(log)?
        .lines()
        .find(|l| l.contains("job completed"))
        .map(phases_from_log)
        .unwrap_or(Value::Null);
    Ok(json!({
        "status": job.status(),
        "numDeleted": job.num_deleted(),
        "failureReason": job.failure_reason(),
        "phases": phases,
        "jobSeconds": seen,
        "peakRssMB": peak_rss,
        "apiLoad": idle.map(|idle| json!({
            "clients": load, "idle": idle, "duringJob": during, "afterJobCompacting": after,
        })),
    }))
}

fn phases_of(p: &Value) -> Value {
    let field = |name: &str| p[name].as_f64().map(round4);
    json!({"list": field("list"), "read": field("read"), "purge": field("purge"), "commit": field("commit")})
}

/// The phase fields of the server's `job completed` log line (`list=0.01 read=0.4 ...`).
fn phases_from_log(line: &str) -> Value {
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse::<f64>().ok())
            .map(round4)
    };
    json!({"list": field("list"), "read": field("read"), "purge": field("purge"), "commit": field("commit")})
}

/// Waits for `child`, returning its stdout and its peak resident set in MB: the high-water
/// mark of its memory (`VmHWM`), read every 5 ms while it runs (it only grows). `wait4`'s
/// `ru_maxrss` is not used: a child started from this process inherits this process's own
/// peak at its `exec` (which made W10's figures read 265 MB for a 30 MB job).
fn wait_with_peak_rss(mut child: Child) -> Result<(Vec<u8>, f64), Error> {
    let reader = child.stdout.take().map(|mut out| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut buf);
            buf
        })
    });
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            let hwm = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak_kb = peak_kb.max(hwm.unwrap_or(0));
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stdout = reader
        .map(|r| r.join().unwrap_or_default())
        .unwrap_or_default();
    Ok((stdout, (peak_kb as f64 / 1024.0).round()))
}

/// Medians of a path's runs.
fn summary(path: &str, scale: f64, records: &[Value]) -> Value {
    let median = |f: &dyn Fn(&Value) -> Option<f64>| {
        let mut v: Vec<f64> = records.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let phase = |name: &'static str| median(&move |r: &Value| r["phases"][name].as_f64());
    json!({
        "summary": path,
        "scale": scale,
        "runs": records.len(),
        "medianJobSeconds": median(&|r| r["jobSeconds"].as_f64()),
        "medianErasureSeconds": median(&|r| r["erasureSeconds"].as_f64()),
        "medianPhases": {"list": phase("list"), "read": phase("read"), "purge": phase("purge"), "commit": phase("commit")},
        "medianPeakRssMB": median(&|r| r["peakRssMB"].as_f64()),
        "medianRecordsPerSecond": median(&|r| r["recordsPerSecond"].as_f64()),
        "allExact": records.iter().all(|r| r["exact"] == true),
    })
}

fn secs(d: Duration) -> f64 {
    round4(d.as_secs_f64())
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn date() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
