//! Staging: the rows of a load, drained from their stream (an S3 download, a parser) before
//! the store takes its write lock, so that the lock is held only to write them, never while
//! waiting for the network. Small loads stay in memory; past [`MEMORY_BYTES`] the rows go
//! to an unnamed temporary file in the store's folder (removed by the system when closed,
//! even after a crash), read back in the same batches.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use futures::stream::{BoxStream, StreamExt};

use super::sort::{read_varint, write_varint};
use super::{RowBatch, StoreError, StoreResult};

/// Rows kept in memory before they go to a file.
pub(in crate::store) const MEMORY_BYTES: usize = 8 * 1024 * 1024;

/// A load's rows, every one received, ready to be written.
pub(in crate::store) enum Staged {
    /// All in memory.
    Memory(std::vec::IntoIter<RowBatch>),
    /// In a file, read back batch by batch.
    File(BufReader<File>),
}

/// Drains `batches` into a [`Staged`]: in memory up to [`MEMORY_BYTES`], then in a file in
/// `dir`. The stream's first error is returned, with nothing kept.
pub(in crate::store) async fn stage(
    dir: &Path,
    mut batches: BoxStream<'static, StoreResult<RowBatch>>,
) -> StoreResult<Staged> {
    let mut held = Vec::new();
    let mut bytes = 0usize;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        bytes += batch.buf.len() + 8 * batch.ends.len();
        held.push(batch);
        if bytes > MEMORY_BYTES {
            return to_file(dir, held, batches).await;
        }
    }
    Ok(Staged::Memory(held.into_iter()))
}

/// The rest of a large load, written to a file on a blocking thread while the stream is
/// read here.
async fn to_file(
    dir: &Path,
    held: Vec<RowBatch>,
    mut batches: BoxStream<'static, StoreResult<RowBatch>>,
) -> StoreResult<Staged> {
    let file = tempfile::tempfile_in(dir).map_err(io)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RowBatch>(4);
    let writer = tokio::task::spawn_blocking(move || -> StoreResult<File> {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        for batch in held {
            write(&mut out, &batch).map_err(io)?;
        }
        while let Some(batch) = rx.blocking_recv() {
            write(&mut out, &batch).map_err(io)?;
        }
        let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.rewind().map_err(io)?;
        Ok(file)
    });
    let mut failed = None;
    while let Some(batch) = batches.next().await {
        match batch {
            Ok(batch) => {
                if tx.send(batch).await.is_err() {
                    break; // the writer failed: its error is returned below
                }
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let file = writer
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))??;
    match failed {
        Some(e) => Err(e),
        None => Ok(Staged::File(BufReader::with_capacity(1 << 20, file))),
    }
}

impl Iterator for Staged {
    type Item = StoreResult<RowBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Staged::Memory(batches) => batches.next().map(Ok),
            Staged::File(input) => read(input).map_err(io).transpose(),
        }
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backend {
        store: "staging",
        source: Box::new(e),
    }
}

/// A batch as: its width, its value count, its bytes, and each value's end.
fn write(out: &mut impl Write, batch: &RowBatch) -> std::io::Result<()> {
    write_varint(out, batch.width as u64)?;
    write_varint(out, batch.ends.len() as u64)?;
    write_varint(out, batch.buf.len() as u64)?;
    out.write_all(batch.buf.as_bytes())?;
    for end in &batch.ends {
        write_varint(out, *end as u64)?;
    }
    Ok(())
}

fn read(input: &mut impl Read) -> std::io::Result<Option<RowBatch>> {
    let Some(width) = read_varint(input)? else {
        return Ok(None);
    };
    let corrupt = || std::io::Error::new(std::io::ErrorKind::InvalidData, "a staged batch is cut");
    let values = read_varint(input)?.ok_or_else(corrupt)? as usize;
    let len = read_varint(input)?.ok_or_else(corrupt)? as usize;
    let mut buf = vec![0; len];
    input.read_exact(&mut buf)?;
    let buf = String::from_utf8(buf)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let mut ends = Vec::with_capacity(values);
    for _ in 0..values {
        ends.push(read_varint(input)?.ok_or_else(corrupt)? as usize);
    }
    Ok(Some(RowBatch {
        width: width as usize,
        buf,
        ends,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first: usize, rows: usize) -> RowBatch {
        let mut b = RowBatch::new(3);
        for i in first..first + rows {
            b.push_row([format!("u{i}").as_str(), "", "é,\"x\"\n"]);
        }
        b
    }

    async fn round_trip(batches: Vec<RowBatch>) -> (bool, Vec<Vec<String>>) {
        let stream = futures::stream::iter(batches.into_iter().map(Ok)).boxed();
        let dir = tempfile::tempdir().unwrap();
        let staged = stage(dir.path(), stream).await.unwrap();
        let in_file = matches!(staged, Staged::File(_));
        let rows = staged
            .flat_map(|b| {
                let b = b.unwrap();
                (0..b.rows())
                    .map(|i| b.row(i).map(str::to_owned).collect())
                    .collect::<Vec<_>>()
            })
            .collect();
        // The file has no name: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        (in_file, rows)
    }

    #[tokio::test]
    async fn rows_come_back_as_they_went_in_from_memory_or_a_file() {
        let small = vec![batch(0, 3), batch(3, 2)];
        let (in_file, rows) = round_trip(small).await;
        assert!(!in_file);
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[4], ["u4", "", "é,\"x\"\n"]);

        let large: Vec<RowBatch> = (0..40).map(|i| batch(i * 20_000, 20_000)).collect();
        let (in_file, rows) = round_trip(large).await;
        assert!(in_file);
        assert_eq!(rows.len(), 800_000);
        for (i, row) in rows.iter().enumerate().step_by(9_999) {
            assert_eq!(row[0], format!("u{i}"));
        }
    }

    #[tokio::test]
    async fn an_error_in_the_stream_is_returned() {
        let items = (0..40)
            .map(|i| Ok(batch(i * 20_000, 20_000)))
            .chain([Err(StoreError::Invalid("line 7: bad".into()))]);
        let dir = tempfile::tempdir().unwrap();
        let err = stage(dir.path(), futures::stream::iter(items).boxed())
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("line 7: bad"), "{err}");
    }
}
