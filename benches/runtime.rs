//! The runtime API under load: GetRecommendations (without and with an interaction filter)
//! and GetPersonalizedRanking against user-personalization and personalized-ranking
//! campaigns trained on workload W (planted structure: 1M x S users, 100k x S items, 10M x S
//! interactions), served in this process with its worker on a fresh SQLite store, and asked
//! by 1, 8 and 32 `aws-sdk-personalizeruntime` clients in the same process (clients
//! included, as a user's test suite would run them).
//!
//!     cargo bench --bench runtime -- --scale 1 --clients 1,8,32 --seconds 5
//!
//! Prints one JSON record per operation and client count (requests/s, p50, p99), then the
//! first request after a restart beside the time loading the model takes alone.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{control_client, planted_group, runtime_client, serve, trained, Error};
use personalize_local::source::memory::MemorySource;
use personalize_local::store::sqlite::SqliteStore;
use personalize_local::store::DynDatasetStore;
use personalize_local::train::planted::Planted;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// Workload scale: 1 is W1.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Concurrent clients, one run per count.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    clients: Vec<usize>,
    /// Seconds each run sends for.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Cargo passes this to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    if let Err(e) = rt.block_on(run(&args)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// A campaign of an ACTIVE version of `recipe` on `group`.
async fn deployed(
    c: &aws_sdk_personalize::Client,
    group: &str,
    recipe: &str,
) -> Result<String, Error> {
    let version = trained(c, group, recipe).await?;
    let campaign = c
        .create_campaign()
        .name(recipe)
        .solution_version_arn(&version)
        .send()
        .await?
        .campaign_arn
        .unwrap_or_default();
    Ok(campaign)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Recommend,
    RecommendFiltered,
    Rank,
}

async fn run(args: &Args) -> Result<(), Error> {
    println!(
        "{}",
        json!({
            "bench": "runtime", "scale": args.scale,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "version": env!("CARGO_PKG_VERSION"),
        })
    );
    let dir = tempfile::tempdir()?;
    let store: DynDatasetStore = Arc::new(SqliteStore::open_dir(dir.path())?);
    let served = serve(store.clone(), Arc::new(MemorySource::default())).await?;
    let c = control_client(&served.endpoint);
    let planted = common::planted(args.scale);
    let group = planted_group(&c, &store, "runtime-bench", &planted).await?;
    let up = deployed(&c, &group, "aws-user-personalization-v2").await?;
    let rank = deployed(&c, &group, "aws-personalized-ranking-v2").await?;
    let filter = c
        .create_filter()
        .name("unclicked")
        .dataset_group_arn(&group)
        .filter_expression(r#"EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")"#)
        .send()
        .await?
        .filter_arn
        .unwrap_or_default();

    let mut table = Vec::new();
    for op in [Op::Recommend, Op::RecommendFiltered, Op::Rank] {
        for &clients in &args.clients {
            let campaign = if matches!(op, Op::Rank) { &rank } else { &up };
            let filter = matches!(op, Op::RecommendFiltered).then_some(filter.as_str());
            let record = load(
                &served.endpoint,
                op,
                campaign,
                filter,
                &planted,
                clients,
                args.seconds,
            )
            .await?;
            println!("{record}");
            table.push(record);
        }
    }

    // A restart: a new server over the same store; its first request loads the model.
    served.stop().await;
    drop(store);
    let store: DynDatasetStore = Arc::new(SqliteStore::open_dir(dir.path())?);
    let version = c_version(&store, &up).await?;
    let loading = Instant::now();
    let loaded = personalize_local::answer::deployed::Models::default()
        .get(store.as_ref(), &version)
        .await?;
    let load_ms = loading.elapsed().as_secs_f64() * 1e3;
    assert!(loaded.is_some());
    let served = serve(store.clone(), Arc::new(MemorySource::default())).await?;
    let r = runtime_client(&served.endpoint);
    let first = Instant::now();
    r.get_recommendations()
        .campaign_arn(&up)
        .user_id("u1")
        .send()
        .await?;
    let first_ms = first.elapsed().as_secs_f64() * 1e3;
    let second = Instant::now();
    r.get_recommendations()
        .campaign_arn(&up)
        .user_id("u2")
        .send()
        .await?;
    let second_ms = second.elapsed().as_secs_f64() * 1e3;
    println!(
        "{}",
        json!({"restart": true, "firstRequestMs": first_ms.round(), "modelLoadMs": load_ms.round(), "nextRequestMs": (second_ms * 100.0).round() / 100.0})
    );
    served.stop().await;

    eprintln!("\n| operation | clients | requests/s | p50 ms | p99 ms |\n|---|---|---|---|---|");
    for r in &table {
        eprintln!(
            "| {} | {} | {} | {} | {} |",
            r["operation"].as_str().unwrap_or_default(),
            r["clients"],
            r["requestsPerSecond"],
            r["p50Ms"],
            r["p99Ms"]
        );
    }
    eprintln!("first request after a restart: {first_ms:.0} ms (the model alone loads in {load_ms:.0} ms; the next request {second_ms:.2} ms)");
    Ok(())
}

/// The solution version a campaign serves.
async fn c_version(store: &DynDatasetStore, campaign: &str) -> Result<String, Error> {
    let c = store.resource(campaign).await?.ok_or("no campaign")?;
    Ok(c.body["solutionVersionArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn load(
    endpoint: &str,
    op: Op,
    campaign: &str,
    filter: Option<&str>,
    planted: &Planted,
    clients: usize,
    seconds: f64,
) -> Result<serde_json::Value, Error> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let (users, items) = (planted.users as u64, planted.items as u64);
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let r = runtime_client(endpoint);
            let (campaign, filter) = (campaign.to_owned(), filter.map(str::to_owned));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ client as u64;
                while Instant::now() < deadline {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let user = format!("u{}", x % users);
                    let sent = Instant::now();
                    let ok = match op {
                        Op::Rank => {
                            let list: Vec<String> = (0..25)
                                .map(|k| format!("i{}", (x >> 8).wrapping_add(k * 7919) % items))
                                .collect();
                            r.get_personalized_ranking()
                                .campaign_arn(&campaign)
                                .user_id(user)
                                .set_input_list(Some(list))
                                .send()
                                .await
                                .is_ok()
                        }
                        _ => r
                            .get_recommendations()
                            .campaign_arn(&campaign)
                            .user_id(user)
                            .set_filter_arn(filter.clone())
                            .send()
                            .await
                            .is_ok(),
                    };
                    if ok {
                        latencies.push(sent.elapsed());
                    } else {
                        failed += 1;
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (mine, f) = t.await?;
        latencies.extend(mine);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| (d.as_secs_f64() * 1e5).round() / 100.0)
    };
    let name = match op {
        Op::Recommend => "GetRecommendations",
        Op::RecommendFiltered => "GetRecommendations + interaction filter",
        Op::Rank => "GetPersonalizedRanking (25 items)",
    };
    Ok(json!({
        "operation": name,
        "clients": clients,
        "requests": latencies.len(),
        "failed": failed,
        "requestsPerSecond": (latencies.len() as f64 / elapsed).round(),
        "p50Ms": pct(0.5),
        "p99Ms": pct(0.99),
    }))
}
