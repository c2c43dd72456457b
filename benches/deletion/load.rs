//! `--api-load`: clients calling the API while a job runs, and their latencies.

use std::time::Instant;

use serde_json::{json, Value};

/// Clients calling the API in a loop until stopped, each call's latency kept.
pub(crate) struct Load {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<(Vec<f64>, Vec<f64>)>>,
}

impl Load {
    pub(crate) fn start(
        client: &aws_sdk_personalize::Client,
        group: &str,
        n: usize,
        tag: usize,
    ) -> Load {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = (0..n)
            .map(|c| {
                let (client, group, stopped) = (client.clone(), group.to_owned(), stopped.clone());
                tokio::spawn(async move {
                    let (mut reads, mut writes) = (Vec::new(), Vec::new());
                    let mut i = 0usize;
                    while !*stopped.borrow() {
                        i += 1;
                        let t = Instant::now();
                        let write = i.is_multiple_of(10);
                        let ok = match (write, i % 3) {
                            (true, _) => client
                                .create_schema()
                                .name(format!("load-{tag}-{c}-{i}"))
                                .schema(r#"{"type":"record","name":"Users","namespace":"com.amazonaws.personalize.schema","fields":[{"name":"USER_ID","type":"string"},{"name":"AGE","type":"int"}],"version":"1.0"}"#)
                                .send()
                                .await
                                .is_ok(),
                            (false, 0) => client.describe_dataset_group().dataset_group_arn(&group).send().await.is_ok(),
                            (false, 1) => client.list_dataset_groups().send().await.is_ok(),
                            (false, _) => client.list_data_deletion_jobs().dataset_group_arn(&group).send().await.is_ok(),
                        };
                        let ms = t.elapsed().as_secs_f64() * 1000.0;
                        if ok {
                            if write { writes.push(ms) } else { reads.push(ms) }
                        }
                    }
                    (reads, writes)
                })
            })
            .collect();
        Load { stop, tasks }
    }

    /// Stops the clients; the latencies of their reads and writes (p50, p99, max, in ms).
    pub(crate) async fn stop(self) -> Value {
        let _ = self.stop.send(true);
        let (mut reads, mut writes) = (Vec::new(), Vec::new());
        for t in self.tasks {
            if let Ok((r, w)) = t.await {
                reads.extend(r);
                writes.extend(w);
            }
        }
        json!({"reads": latencies(reads), "writes": latencies(writes)})
    }
}

fn latencies(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        ms.get(((ms.len() as f64 * q) as usize).min(ms.len().saturating_sub(1)))
            .map(|v| (v * 10.0).round() / 10.0)
    };
    json!({"calls": ms.len(), "p50": at(0.5), "p99": at(0.99), "max": ms.last().map(|v| (v * 10.0).round() / 10.0)})
}
