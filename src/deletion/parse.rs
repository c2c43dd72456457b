//! Stage 2: one deletion file, streamed from S3 and parsed into user IDs.
//!
//! The file must start with the single-column header `USER_ID` (a UTF-8 byte-order mark
//! before it is fine); every later record holds exactly one field, the ID, taken verbatim:
//! 1 to 256 characters of UTF-8. A file holding only the header contributes no IDs. IDs are
//! added to the job's shared [`IdSetBuilder`] batch by batch, so a file is never held whole.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::StreamExt;

use super::dedupe::{IdBatch, IdSetBuilder};
use super::report::{ContentProblem, JobFailure, MAX_ID_CHARS};
use super::Progress;
use crate::csv::{Record, RecordError, RecordReader};
use crate::source::list::ListedObject;
use crate::source::{open_resumable, ObjectSource, SourceError};

/// The longest record worth parsing: any longer cannot hold a valid ID (4 bytes a character).
pub const MAX_RECORD_BYTES: usize = MAX_ID_CHARS * 4;

/// IDs per batch handed to the dedupe stage, by bytes.
const BATCH_BYTES: usize = 1024 * 1024;

/// What reading one object found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// Bytes read.
    pub bytes: u64,
    /// ID records (duplicates included).
    pub ids: u64,
}

/// A problem on a line, before it is tied to its object: the 1-based line and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct LineProblem(pub u64, pub ContentProblem);

impl From<RecordError> for LineProblem {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::UnterminatedQuote { line } => {
                LineProblem(line, ContentProblem::UnterminatedQuote)
            }
            RecordError::TooLong {
                line,
                limit,
                multiline,
            } => LineProblem(
                line,
                if multiline {
                    ContentProblem::RunawayQuote { limit }
                } else {
                    ContentProblem::RecordTooLong { limit }
                },
            ),
        }
    }
}

/// The parser of one deletion file, fed its bytes in chunks of any size: it checks every
/// record and collects the IDs into its [`IdBatch`], which the caller empties as it likes.
/// [`read_object`] drives it from an S3 body; the fuzz targets from bytes.
#[derive(Debug)]
pub struct IdFileParser {
    reader: RecordReader,
    collector: IdCollector,
}

impl Default for IdFileParser {
    fn default() -> Self {
        IdFileParser {
            reader: RecordReader::new(MAX_RECORD_BYTES),
            collector: IdCollector::default(),
        }
    }
}

impl IdFileParser {
    /// Parses the next bytes of the file. Fails on the first bad record.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), LineProblem> {
        let collector = &mut self.collector;
        self.reader.feed(chunk, |r| collector.on_record(r))
    }

    /// Parses what is left after the last chunk; a file without its header fails here.
    pub fn finish(&mut self) -> Result<(), LineProblem> {
        let collector = &mut self.collector;
        self.reader.finish(|r| collector.on_record(r))?;
        if !collector.header_seen {
            return Err(LineProblem(1, ContentProblem::NoHeader));
        }
        Ok(())
    }

    /// The IDs parsed since the batch was last emptied.
    pub fn batch(&mut self) -> &mut IdBatch {
        &mut self.collector.batch
    }

    /// ID records parsed so far (duplicates included).
    pub fn ids(&self) -> u64 {
        self.collector.ids
    }
}

/// Checks records and collects their IDs.
#[derive(Debug, Default)]
struct IdCollector {
    header_seen: bool,
    batch: IdBatch,
    ids: u64,
}

impl IdCollector {
    fn on_record(&mut self, r: Record<'_>) -> Result<(), LineProblem> {
        if !self.header_seen {
            if r.len() != 1 || r.get(0) != Some(b"USER_ID") {
                let joined: Vec<String> = r
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect();
                let found: String = joined.join(",").chars().take(100).collect();
                return Err(LineProblem(r.line, ContentProblem::WrongHeader { found }));
            }
            self.header_seen = true;
            return Ok(());
        }
        if r.len() != 1 {
            return Err(LineProblem(
                r.line,
                ContentProblem::ColumnCount { found: r.len() },
            ));
        }
        let field = r.get(0).unwrap_or_default();
        if field.is_empty() {
            return Err(LineProblem(r.line, ContentProblem::EmptyId));
        }
        let id = std::str::from_utf8(field)
            .map_err(|_| LineProblem(r.line, ContentProblem::InvalidUtf8))?;
        if id.len() > MAX_ID_CHARS {
            let chars = id.chars().count();
            if chars > MAX_ID_CHARS {
                return Err(LineProblem(r.line, ContentProblem::IdTooLong { chars }));
            }
        }
        self.batch.push(id);
        self.ids += 1;
        Ok(())
    }
}

/// Reads one object and adds its IDs to `sink`. Fails on the first bad record, naming the
/// object and the line. A body that breaks off mid-transfer is resumed
/// ([`open_resumable`]).
pub async fn read_object(
    source: Arc<dyn ObjectSource>,
    input: ListedObject,
    max_bytes: u64,
    sink: Arc<IdSetBuilder>,
    progress: Arc<Progress>,
) -> Result<ObjectStats, JobFailure> {
    let object = input.object;
    let read_failed = |error: SourceError| JobFailure::Source {
        action: "reading",
        location: object.clone(),
        error,
    };
    let content_failed = |LineProblem(line, problem): LineProblem| JobFailure::Content {
        object: object.clone(),
        line,
        problem,
    };

    let mut parser = IdFileParser::default();
    let mut offset: u64 = 0;
    let opened = open_resumable(source.clone(), &object.bucket, &object.key).await;
    let (total, mut body) = match opened {
        Ok(opened) => opened,
        Err(error) if input.listed_size.is_none() && !object.key.is_empty() => {
            // Perhaps a folder named without its trailing slash: if so, say so.
            let folder = format!("{}/", object.key);
            let mut under = source.list(&object.bucket, &folder);
            if let Some(Ok(_)) = under.next().await {
                return Err(JobFailure::NotAnObject {
                    location: object.clone(),
                    folder: object.object(&folder),
                    error: Box::new(error),
                });
            }
            return Err(read_failed(error));
        }
        Err(e) => return Err(read_failed(e)),
    };
    if input.listed_size.is_none() {
        // A single object named directly: its size is known only now.
        if total == 0 {
            return Err(JobFailure::EmptyObject(object.clone()));
        }
        if total > max_bytes {
            return Err(JobFailure::TooLarge {
                location: object.clone(),
                total,
                limit: max_bytes,
            });
        }
        progress.bytes_total.fetch_add(total, Ordering::Relaxed);
    }
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(read_failed)?;
        offset += chunk.len() as u64;
        parser.feed(&chunk).map_err(content_failed)?;
        progress
            .bytes_read
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if parser.batch().byte_len() >= BATCH_BYTES {
            send(&sink, parser.batch(), &progress);
        }
    }
    parser.finish().map_err(content_failed)?;
    send(&sink, parser.batch(), &progress);
    progress.objects_done.fetch_add(1, Ordering::Relaxed);
    Ok(ObjectStats {
        bytes: offset,
        ids: parser.ids(),
    })
}

fn send(sink: &IdSetBuilder, batch: &mut IdBatch, progress: &Progress) {
    if batch.is_empty() {
        return;
    }
    let added = sink.insert_batch(batch);
    progress
        .id_lines
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    progress.distinct_ids.fetch_add(added, Ordering::Relaxed);
    batch.clear();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use async_trait::async_trait;
    use futures::stream::{self, BoxStream};

    use super::*;
    use crate::source::memory::MemorySource;
    use crate::source::RESUMES;
    use crate::source::{ByteChunks, ObjectMeta, S3Location};

    /// Serves objects whose bodies break off after two chunks, `breaks` times.
    #[derive(Debug)]
    struct Flaky {
        inner: MemorySource,
        breaks: AtomicU32,
        opens: AtomicU32,
    }

    #[async_trait]
    impl ObjectSource for Flaky {
        fn list(
            &self,
            bucket: &str,
            prefix: &str,
        ) -> BoxStream<'static, Result<ObjectMeta, SourceError>> {
            self.inner.list(bucket, prefix)
        }

        async fn open(
            &self,
            bucket: &str,
            key: &str,
            at: crate::source::ReadAt<'_>,
        ) -> Result<crate::source::Opened, SourceError> {
            self.opens.fetch_add(1, Ordering::Relaxed);
            let mut opened = self.inner.open(bucket, key, at).await?;
            if self.breaks.load(Ordering::Relaxed) == 0 {
                return Ok(opened);
            }
            self.breaks.fetch_sub(1, Ordering::Relaxed);
            let broken = opened.body.take(2).chain(stream::once(async {
                Err(SourceError::new("NetworkError", "connection reset"))
            }));
            opened.body = broken.boxed();
            Ok(opened)
        }

        async fn put_multipart(
            &self,
            bucket: &str,
            key: &str,
            parts: ByteChunks,
        ) -> Result<u64, SourceError> {
            self.inner.put_multipart(bucket, key, parts).await
        }
    }

    async fn read(breaks: u32) -> (Result<ObjectStats, JobFailure>, Vec<String>, u32) {
        let inner = MemorySource::with_chunk_size(5);
        let body: String = std::iter::once("USER_ID".to_string())
            .chain((0..20).map(|i| format!("user-{i}")))
            .collect::<Vec<_>>()
            .join("\n");
        inner.put("b", "k.csv", body);
        let source = Arc::new(Flaky {
            inner,
            breaks: AtomicU32::new(breaks),
            opens: AtomicU32::new(0),
        });
        let sink = Arc::new(IdSetBuilder::new());
        let input = ListedObject {
            object: S3Location::parse("s3://b/k.csv").unwrap(),
            listed_size: None,
        };
        let result = read_object(
            source.clone(),
            input,
            u64::MAX,
            sink.clone(),
            Arc::new(Progress::default()),
        )
        .await;
        let set = Arc::into_inner(sink).unwrap().finish();
        let ids: Vec<String> = set.into_sorted().iter().map(str::to_owned).collect();
        (result, ids, source.opens.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn a_broken_body_is_resumed_where_it_stopped() {
        let (result, ids, opens) = read(RESUMES).await;
        let mut want: Vec<String> = (0..20).map(|i| format!("user-{i}")).collect();
        want.sort_unstable();
        assert_eq!(ids, want);
        assert_eq!(opens, RESUMES + 1);
        assert_eq!(result.unwrap().ids, 20);
    }

    #[tokio::test]
    async fn a_body_that_keeps_breaking_fails_the_read() {
        let (result, _, opens) = read(RESUMES + 1).await;
        assert_eq!(opens, RESUMES + 1);
        assert_eq!(
            result.unwrap_err().to_string(),
            "reading s3://b/k.csv failed: NetworkError (connection reset)"
        );
    }
}
