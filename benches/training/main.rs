//! Training time and peak memory of each algorithm family on workload W's shape, beside the
//! peer a user would pick instead: the `implicit` library's item-item cosine recommender
//! (PyPI `implicit`) fitted from the same interactions CSV, in the same run.
//!
//!     cargo bench --bench training -- --scale 1
//!
//! Writes `interactions.csv` at `--scale` into `--data` (W1: 1,000,000 users, 100,000 items,
//! 10,000,000 interactions, with planted structure: `personalize_local::train::planted`),
//! kept for the next time. Then each family runs in a process of its own (this binary again,
//! so its peak RSS is its own): the snapshot read from the CSV, the final model fitted, and,
//! separately, the held-out metrics a solution version also measures. The peer runs from
//! `benches/training/peer.py` (needs `pip install implicit pandas scipy`; skipped, and said
//! so, when it cannot run). Prints one JSON line per run.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use clap::Parser;
use personalize_local::model::training::{fit, measure};
use personalize_local::train::planted::Planted;
use personalize_local::train::snapshot::{Snapshot, SnapshotBuilder};
use personalize_local::train::Family;
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error>;

#[derive(Debug, Parser)]
struct Args {
    /// Workload scale: W1 is 1.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Where the workload is written (and found the next time).
    #[arg(long, default_value = "target/bench-training")]
    data: PathBuf,
    /// Families to run (popularity, trending, item-item, user-personalization).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "popularity,trending,item-item,user-personalization"
    )]
    families: Vec<String>,
    /// Also measure the metrics (a second training on the held-out split).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    metrics: bool,
    /// Internal: run one family in this process and print its figures.
    #[arg(long, hide = true)]
    child: Option<String>,
    /// The peer's Python.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Cargo passes this to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn family(name: &str) -> Result<Family, Error> {
    Ok(match name {
        "popularity" => Family::Popularity,
        "trending" => Family::Trending,
        "item-item" => Family::ItemItem,
        "user-personalization" => Family::UserPersonalization,
        other => return Err(format!("unknown family {other}").into()),
    })
}

fn main() {
    let args = Args::parse();
    let result = match &args.child {
        Some(f) => child(&args, f),
        None => parent(&args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn csv_path(args: &Args) -> PathBuf {
    args.data
        .join(format!("w{}", args.scale))
        .join("interactions.csv")
}

fn write_workload(args: &Args, path: &Path) -> Result<(), Error> {
    if path.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    let s = args.scale;
    let planted = Planted {
        users: (1_000_000.0 * s) as usize,
        items: (100_000.0 * s) as usize,
        groups: 50,
        per_user: 10,
        affinity: 0.8,
        seed: 20_261_204,
    };
    let tmp = path.with_extension("tmp");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    writeln!(out, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE")?;
    for (u, i, t) in planted.rows() {
        writeln!(out, "{u},{i},{t},click")?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(tmp, path)?;
    Ok(())
}

fn read_snapshot(path: &Path) -> Result<Snapshot, Error> {
    let mut b = SnapshotBuilder::default();
    let mut lines = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?).lines();
    lines.next();
    for line in lines {
        let line = line?;
        let mut f = line.split(',');
        let (Some(u), Some(i), Some(t)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        b.push(u, i, t.parse().unwrap_or(0));
    }
    Ok(b.finish())
}

/// One family in this process: prints its figures as JSON.
fn child(args: &Args, name: &str) -> Result<(), Error> {
    let fam = family(name)?;
    let started = Instant::now();
    let s = read_snapshot(&csv_path(args))?;
    let read = started.elapsed().as_secs_f64();
    let params = fam
        .hyperparameters()
        .iter()
        .map(|h| (h.name.to_owned(), h.default))
        .collect();
    let started = Instant::now();
    let model = fit(fam, &s, &params)?;
    let fitted = started.elapsed().as_secs_f64();
    let bytes = model.encode().len();
    drop(model);
    let metrics = if args.metrics {
        let started = Instant::now();
        let m = measure(fam, &s, &params)?;
        Some((started.elapsed().as_secs_f64(), m))
    } else {
        None
    };
    println!(
        "{}",
        json!({
            "interactions": s.events.len(), "users": s.users.len(), "items": s.items.len(),
            "readSeconds": round(read), "fitSeconds": round(fitted), "modelMB": round(bytes as f64 / 1e6),
            "metricsSeconds": metrics.as_ref().map(|m| round(m.0)),
            "precisionAt10": metrics.as_ref().map(|m| m.1["precision_at_10"]),
        })
    );
    Ok(())
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Waits for a child, returning its stdout and peak RSS in MB.
fn wait_with_peak_rss(mut child: Child) -> Result<(Vec<u8>, f64, bool), Error> {
    let mut stdout = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        std::io::Read::read_to_end(&mut out, &mut stdout)?;
    }
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    // Linux reports ru_maxrss in KiB.
    Ok((stdout, (usage.ru_maxrss as f64 / 1024.0).round(), ok))
}

fn run(cmd: &mut Command) -> Result<(Value, f64, f64), Error> {
    let started = Instant::now();
    let child = cmd.stdout(Stdio::piped()).spawn()?;
    let (out, rss, ok) = wait_with_peak_rss(child)?;
    let seconds = started.elapsed().as_secs_f64();
    if !ok {
        return Err(format!("{cmd:?} failed").into());
    }
    let text = String::from_utf8_lossy(&out);
    let line = text.lines().last().unwrap_or("{}");
    Ok((serde_json::from_str(line)?, seconds, rss))
}

fn parent(args: &Args) -> Result<(), Error> {
    let path = csv_path(args);
    let started = Instant::now();
    write_workload(args, &path)?;
    println!(
        "{}",
        json!({
            "bench": "training", "scale": args.scale, "csv": path.display().to_string(),
            "csvMB": round(std::fs::metadata(&path)?.len() as f64 / 1e6),
            "writeSeconds": round(started.elapsed().as_secs_f64()),
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        })
    );
    let me = std::env::current_exe()?;
    for name in &args.families {
        let mut cmd = Command::new(&me);
        cmd.args(["--child", name, "--scale", &args.scale.to_string()])
            .arg("--data")
            .arg(&args.data)
            .args(["--metrics", &args.metrics.to_string()]);
        let (v, seconds, rss) = run(&mut cmd)?;
        println!(
            "{}",
            json!({ "run": "personalize-local", "family": name, "figures": v,
                    "processSeconds": round(seconds), "peakRssMB": rss })
        );
    }
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/training/peer.py");
    let mut cmd = Command::new(&args.python);
    cmd.arg(&peer).arg(&path).arg("100").stderr(Stdio::null());
    match run(&mut cmd) {
        Ok((v, seconds, rss)) => println!(
            "{}",
            json!({ "run": "implicit CosineRecommender (K=100)", "figures": v,
                    "processSeconds": round(seconds), "peakRssMB": rss })
        ),
        Err(e) => println!(
            "{}",
            json!({ "run": "implicit CosineRecommender (K=100)", "skipped": e.to_string(),
                    "hint": "pip install implicit pandas scipy" })
        ),
    }
    Ok(())
}
