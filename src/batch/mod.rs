//! Batch inference and batch segment jobs: job kinds on the queue like every other, whose
//! input is JSON Lines under an `s3://` prefix (every object under it, all pages, as the
//! deletion job lists) and whose output is one JSON Lines object per input object,
//! `<output path>/<input object name>.out`, each written as one multipart upload: a failure
//! aborts it, so an output object is whole or absent. Both kinds stream: lines are answered
//! a batch at a time as they are read (64 for inference, their users' histories read from
//! the store at once; 256 for segments, which score every user once per batch) and the
//! output sent part by part, so memory holds a batch and a part whatever the input's size.
//! A segment job also holds every user's history, read once when it starts (four bytes per
//! interaction, as training holds them).
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the job: listing, lines read and answered a batch at a time, outputs written; inference |
//! | `segment.rs` | user segments: users ranked by affinity from the current interactions |

mod segment;

use std::collections::HashMap;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::answer::deployed::{Deployed, Models};
use crate::answer::filter::{self, Filter, Target};
use crate::answer::history::{self, History};
use crate::answer::items_for_user;
use crate::answer::select::{self, About};
use crate::jobs::run::{run_then_succeed, JobError};
use crate::jobs::{Job, JobKind, JobSpec, Lease};
use crate::source::{DynObjectSource, Lines, ReadAt, S3Location, SourceError, MIN_PART_BYTES};
use crate::store::{DatasetStore, DatasetType, StoreError, StoreResult};
use crate::train::Family;

/// Runs a claimed batch job to its end: `ACTIVE` with every output written, or `CREATE
/// FAILED` with the reason.
pub async fn run(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: Job,
    lease: Lease,
    lease_for: std::time::Duration,
) -> StoreResult<Job> {
    let work = |job: Job| async move {
        let lines = batch(store, source, &job).await?;
        tracing::info!(job = %job.name, lines, "batch job ACTIVE");
        Ok(())
    };
    run_then_succeed(store, job, lease, lease_for, work).await
}

/// The filter resource `arn`, parsed.
pub async fn stored_filter(store: &dyn DatasetStore, arn: &str) -> Result<Filter, JobError> {
    let f = store
        .resource(arn)
        .await?
        .filter(|r| r.kind == filter::KIND)
        .ok_or_else(|| JobError::Failed(format!("the filter {arn} no longer exists")))?;
    let text = f.body["filterExpression"].as_str().unwrap_or_default();
    filter::parse(text).map_err(|e| JobError::Failed(format!("the filter {arn}: {e}")))
}

/// The output object for the input object `key`: its name with `.out`, under `path`.
pub fn output_location(path: &str, key: &str) -> Result<S3Location, String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let sep = if path.ends_with('/') { "" } else { "/" };
    S3Location::parse(&format!("{path}{sep}{name}.out")).map_err(|e| e.to_string())
}

async fn batch(
    store: &dyn DatasetStore,
    source: DynObjectSource,
    job: &Job,
) -> Result<u64, JobError> {
    let failed = |why: String| JobError::Failed(why);
    let JobSpec::Batch {
        kind,
        solution_version_arn: version,
        request,
    } = &job.spec
    else {
        return Err(JobError::Store(StoreError::Invalid(format!(
            "{} is not a batch job",
            job.arn
        ))));
    };
    let d = Models::default()
        .get(store, version)
        .await?
        .ok_or_else(|| failed(format!("the solution version {version} is not ACTIVE")))?;
    let input = request["jobInput"]["s3DataSource"]["path"]
        .as_str()
        .unwrap_or_default();
    let output = request["jobOutput"]["s3DataDestination"]["path"]
        .as_str()
        .unwrap_or_default();
    let input = S3Location::parse(input).map_err(|e| failed(e.to_string()))?;
    let default_n = if *kind == JobKind::BatchSegment {
        100
    } else {
        25
    };
    let n = request["numResults"].as_u64().unwrap_or(default_n).max(1) as usize;
    let filter = match request["filterArn"].as_str() {
        Some(arn) => Some(stored_filter(store, arn).await?),
        None => None,
    };
    let mut keys = Vec::new();
    let mut listing = source.list(&input.bucket, &input.key);
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|e| failed(format!("listing {input} failed: {e}")))?;
        if !meta.key.ends_with('/') {
            keys.push(meta.key);
        }
    }
    if keys.is_empty() {
        return Err(failed(format!("there is no input object under {input}")));
    }
    let mut lines = 0u64;
    let segments = match kind {
        JobKind::BatchSegment => Some(segment::Segments::new(store, &d, n, filter.as_ref()).await?),
        _ => None,
    };
    let inference = Inference {
        store,
        d: &d,
        n,
        filter: filter.as_ref(),
    };
    for key in keys {
        let target = output_location(output, &key).map_err(failed)?;
        let from = (input.bucket.as_str(), key.as_str());
        lines += match &segments {
            Some(s) => answer_object(&source, from, &target, s).await?,
            None => answer_object(&source, from, &target, &inference).await?,
        };
        crate::store::failpoint("batch-after-object");
    }
    Ok(lines)
}

/// One input line as read: its text, trimmed, or (bytes that are not UTF-8) shown lossily.
enum Line {
    Text(String),
    NotUtf8(String),
}

/// What answers input lines, one output line each.
trait Answer {
    /// How many lines are handed over at once.
    const BATCH: usize;
    async fn answer(&self, lines: Vec<Line>) -> Result<Vec<Value>, JobError>;
}

/// One object answered, streamed: lines read and answered a batch at a time, the output
/// sent part by part through one multipart upload (aborted on any failure). Memory holds
/// a batch of lines and a part, whatever the object's size.
async fn answer_object<A: Answer>(
    source: &DynObjectSource,
    (bucket, key): (&str, &str),
    target: &S3Location,
    answer: &A,
) -> Result<u64, JobError> {
    let reading =
        |e: SourceError| JobError::Failed(format!("reading s3://{bucket}/{key} failed: {e}"));
    let at = ReadAt {
        offset: 0,
        if_match: None,
    };
    let mut body = Lines::new(source.open(bucket, key, at).await.map_err(reading)?.body);
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, SourceError>>(2);
    let upload = source.put_multipart(&target.bucket, &target.key, rx.boxed());
    let produce = async move {
        let answered = async {
            let (mut part, mut lines, mut batch) = (Vec::new(), 0u64, Vec::new());
            while let Some(raw) = body.next_line().await {
                let raw = raw.map_err(reading)?;
                match std::str::from_utf8(&raw).map(str::trim) {
                    Ok("") => continue,
                    Ok(line) => batch.push(Line::Text(line.to_owned())),
                    Err(_) => {
                        let lossy = String::from_utf8_lossy(&raw).trim().to_owned();
                        batch.push(Line::NotUtf8(lossy));
                    }
                }
                if batch.len() >= A::BATCH {
                    for out in answer.answer(std::mem::take(&mut batch)).await? {
                        push(&mut part, &out);
                        lines += 1;
                    }
                    crate::store::failpoint("batch-mid-object");
                }
                if part.len() >= 2 * MIN_PART_BYTES {
                    let full = std::mem::take(&mut part);
                    if tx.send(Ok(Bytes::from(full))).await.is_err() {
                        return Ok(lines);
                    }
                }
            }
            for out in answer.answer(batch).await? {
                push(&mut part, &out);
                lines += 1;
            }
            let _ = tx.send(Ok(Bytes::from(part))).await;
            Ok::<u64, JobError>(lines)
        }
        .await;
        if let Err(e) = &answered {
            // The upload is aborted, not completed with what was sent so far.
            let abort = SourceError::new("Aborted", e.to_string());
            let _ = tx.send(Err(abort)).await;
        }
        answered
    };
    let (uploaded, produced) = futures::join!(upload, produce);
    let lines = produced?;
    uploaded.map_err(|e| JobError::Failed(format!("writing {target} failed: {e}")))?;
    Ok(lines)
}

/// Appends one JSON line.
fn push(part: &mut Vec<u8>, line: &Value) {
    // A `Value` always serialises.
    let _ = serde_json::to_writer(&mut *part, line);
    part.push(b'\n');
}

/// Batch inference: each line answered as the runtime API would answer its request.
struct Inference<'a> {
    store: &'a dyn DatasetStore,
    d: &'a Deployed,
    n: usize,
    filter: Option<&'a Filter>,
}

impl Answer for Inference<'_> {
    const BATCH: usize = 64;

    async fn answer(&self, lines: Vec<Line>) -> Result<Vec<Value>, JobError> {
        let (store, d) = (self.store, self.d);
        let parsed: Vec<Result<Value, Value>> = lines
            .into_iter()
            .map(|line| match line {
                Line::Text(l) => match serde_json::from_str(&l) {
                    Ok(v @ Value::Object(_)) => Ok(v),
                    _ => Err(json!({ "input": l, "error": "the line is not a JSON object" })),
                },
                Line::NotUtf8(l) => Err(json!({ "input": l, "error": "the line is not UTF-8" })),
            })
            .collect();
        // The users' histories, in one read for the batch.
        let mut users: Vec<String> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok()?["userId"].as_str().map(str::to_owned))
            .collect();
        users.sort();
        users.dedup();
        let read =
            history::read_many(store, &d.group_arn, DatasetType::Interactions, &users).await?;
        let histories: HashMap<String, History> = users.into_iter().zip(read).collect();
        let mut out = Vec::with_capacity(parsed.len());
        for p in parsed {
            out.push(match p {
                Ok(v) => {
                    let h = v["userId"].as_str().and_then(|u| histories.get(u)).cloned();
                    infer(store, d, v, h, self.n, self.filter).await?
                }
                Err(error_line) => error_line,
            });
        }
        Ok(out)
    }
}

/// One output line for one parsed input line: `{"input", "output": {"recommendedItems",
/// "scores"}, "error": null}`, or `{"input", "error"}` for a line that cannot be answered.
/// `history` is the user's, read already (none: read here if needed).
async fn infer(
    store: &dyn DatasetStore,
    d: &Deployed,
    parsed: Value,
    history: Option<History>,
    n: usize,
    filter: Option<&Filter>,
) -> Result<Value, JobError> {
    let error = |why: String| Ok(json!({ "input": parsed.clone(), "error": why }));
    let user = parsed["userId"].as_str();
    let item = parsed["itemId"].as_str();
    let bound = match filter {
        Some(f) => {
            let values = parsed["filterValues"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            match filter::bind(f, &values) {
                Ok(b) => Some(b),
                Err(p) => {
                    return error(format!(
                        "filterValues lacks {p}, which the filter's INCLUDE expression needs"
                    ))
                }
            }
        }
        None => None,
    };
    let seen = OnceCell::new_with(history);
    let about = About {
        user,
        item,
        target: Target::ItemId,
        history: &seen,
    };
    let scored = !matches!(
        d.model.family,
        Family::Popularity | Family::Trending | Family::ItemItem | Family::Semantic
    );
    let chosen = match d.recipe.recipe_type {
        "USER_PERSONALIZATION" => {
            let Some(_) = user else {
                return error("userId is required".into());
            };
            let history = select::known_history(store, d, about).await?;
            let ranked = |limit| items_for_user(d, &history, limit);
            select::choose(store, d, ranked, n, bound.as_ref(), None, about).await?
        }
        "RELATED_ITEMS" => {
            let Some(item) = item else {
                return error("itemId is required".into());
            };
            let related = select::Related::of(store, d, item).await?;
            let ranked = |limit| related.ranked(d, limit);
            select::choose(store, d, ranked, n, bound.as_ref(), None, about).await?
        }
        "PERSONALIZED_RANKING" => {
            let (Some(_), Some(list)) = (user, parsed["itemList"].as_array()) else {
                return error("userId and itemList are required".into());
            };
            let list: Vec<String> = list
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect();
            select::ranked_list(store, d, &list, bound.as_ref(), about).await?
        }
        other => {
            return error(format!(
                "{} ({other}) makes no batch inference",
                d.recipe.name
            ))
        }
    };
    let sum: f64 = chosen.iter().map(|c| c.1 as f64).sum();
    let items: Vec<&str> = chosen.iter().map(|c| c.0.as_str()).collect();
    let mut out = json!({ "recommendedItems": items });
    if scored {
        let scores: Vec<f64> = chosen
            .iter()
            .map(|c| {
                if sum > 0.0 {
                    (c.1 as f64 / sum * 1e7).round() / 1e7
                } else {
                    0.0
                }
            })
            .collect();
        out["scores"] = json!(scores);
    }
    Ok(json!({ "input": parsed, "output": out, "error": null }))
}
