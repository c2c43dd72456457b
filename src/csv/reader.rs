//! Streaming CSV records from byte chunks: the one CSV path every job uses.
//!
//! Objects arrive as a stream of byte chunks of any size. [`RecordReader`] pushes each chunk
//! through `csv-core`'s push parser and hands every complete record to a callback, borrowed
//! from a buffer that is reused record after record, so memory stays bounded by the longest
//! record, never by the object. RFC 4180 quoting, `\n`, `\r\n` and `\r` line ends (mixed
//! freely), a UTF-8 byte-order mark at the start, blank lines (skipped) and a last line without
//! a line end are all handled here; every record carries the line it starts on.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder, Terminator};

/// An error in the CSV structure itself. Field contents are the caller's to judge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The input ended inside a quoted field.
    #[error(
        "line {line}: a quoted field is not closed before the end of the file (unterminated quote)"
    )]
    UnterminatedQuote {
        /// The line the record with the open quote starts on.
        line: u64,
    },
    /// A record grew past the reader's limit.
    #[error("line {line}: the record is longer than {limit} bytes")]
    TooLong {
        /// The line the record starts on.
        line: u64,
        /// The limit in bytes.
        limit: usize,
        /// Whether the record already spans line ends (a missing closing quote, most likely).
        multiline: bool,
    },
}

/// One CSV record, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The 1-based line the record starts on.
    pub line: u64,
    buf: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    /// The number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True for a record without fields (never produced by the reader).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The raw bytes of field `i` (quotes removed, escapes resolved).
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.buf[start..end])
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }
}

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// A push parser turning byte chunks into [`Record`]s.
#[derive(Debug)]
pub struct RecordReader {
    core: Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    out_len: usize,
    ends_len: usize,
    max_record_bytes: usize,
    /// The first bytes of the input, held until it is known whether they are a BOM.
    head: Vec<u8>,
    head_done: bool,
    /// Whether bytes other than line ends were consumed since the last complete record.
    pending: bool,
}

impl RecordReader {
    /// A reader whose records may be at most `max_record_bytes` long (field bytes, quotes
    /// and delimiters not counted).
    pub fn new(max_record_bytes: usize) -> Self {
        let core = ReaderBuilder::new()
            .terminator(Terminator::CRLF)
            .quoting(true)
            .double_quote(true)
            .build();
        let initial = max_record_bytes.clamp(1, 4096);
        RecordReader {
            core,
            out: vec![0; initial],
            ends: vec![0; 16],
            out_len: 0,
            ends_len: 0,
            max_record_bytes,
            head: Vec::new(),
            head_done: false,
            pending: false,
        }
    }

    /// Parses one chunk, calling `on_record` for every record it completes. A record split
    /// across chunks is completed by a later call.
    pub fn feed<E, F>(&mut self, chunk: &[u8], mut on_record: F) -> Result<(), E>
    where
        E: From<RecordError>,
        F: FnMut(Record<'_>) -> Result<(), E>,
    {
        if chunk.is_empty() {
            // csv-core reads empty input as the end of the input, which would end the record
            // in progress; a body may deliver an empty chunk anywhere.
            return Ok(());
        }
        if self.head_done {
            return self.parse(chunk, &mut on_record);
        }
        // Hold the first bytes back until they are more than a BOM or not one: csv-core
        // drops a BOM at the start of its first call, and only one that arrives whole.
        // Given one byte past it, that call never starts on an empty body (the end of the
        // input to csv-core), and a second BOM is a value, however the chunks fall.
        self.head.extend_from_slice(chunk);
        if self.head.len() <= UTF8_BOM.len() && UTF8_BOM.starts_with(&self.head) {
            return Ok(());
        }
        self.head_done = true;
        let head = std::mem::take(&mut self.head);
        self.parse(&head, &mut on_record)
    }

    /// Ends the input: completes a last record that has no line end, and fails if the input
    /// stopped inside a quoted field.
    pub fn finish<E, F>(&mut self, mut on_record: F) -> Result<(), E>
    where
        E: From<RecordError>,
        F: FnMut(Record<'_>) -> Result<(), E>,
    {
        if !self.head_done {
            // The whole input was a BOM or the start of one: no records.
            self.head_done = true;
            self.head.clear();
        }
        // A line end completes any record in progress, unless a quoted field is still open,
        // in which case it becomes part of that field and the record stays pending.
        self.parse(b"\n", &mut on_record)?;
        if self.pending || self.out_len > 0 || self.ends_len > 0 {
            return Err(RecordError::UnterminatedQuote {
                line: self.current_record_line(),
            }
            .into());
        }
        Ok(())
    }

    /// The line the record in progress starts on.
    fn current_record_line(&self) -> u64 {
        let inner = count_newlines(&self.out[..self.out_len]);
        self.core.line().saturating_sub(inner).max(1)
    }

    fn parse<E, F>(&mut self, mut input: &[u8], on_record: &mut F) -> Result<(), E>
    where
        E: From<RecordError>,
        F: FnMut(Record<'_>) -> Result<(), E>,
    {
        loop {
            let (res, nin, nout, nend) = self.core.read_record(
                input,
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            let consumed = &input[..nin];
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    if !self.pending && consumed.iter().any(|&b| b != b'\n' && b != b'\r') {
                        self.pending = true;
                    }
                    return Ok(());
                }
                ReadRecordResult::OutputFull => self.grow_out()?,
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() > self.max_record_bytes + 1 {
                        return Err(self.too_long().into());
                    }
                    let n = self.ends.len();
                    self.ends.resize(n * 2, 0);
                }
                ReadRecordResult::Record => {
                    // The record's last line: the terminating `\n`, if it was consumed here,
                    // was already counted by csv-core.
                    let mut last_line = self.core.line();
                    if consumed.last() == Some(&b'\n') {
                        last_line -= 1;
                    }
                    let buf = &self.out[..self.out_len];
                    let line = last_line.saturating_sub(count_newlines(buf)).max(1);
                    let record = Record {
                        line,
                        buf,
                        ends: &self.ends[..self.ends_len],
                    };
                    let result = on_record(record);
                    self.out_len = 0;
                    self.ends_len = 0;
                    self.pending = false;
                    result?;
                }
                ReadRecordResult::End => return Ok(()),
            }
        }
    }

    fn grow_out(&mut self) -> Result<(), RecordError> {
        if self.out.len() >= self.max_record_bytes {
            return Err(self.too_long());
        }
        let n = (self.out.len() * 2).min(self.max_record_bytes.max(1));
        self.out.resize(n.max(self.out.len() + 1), 0);
        Ok(())
    }

    fn too_long(&self) -> RecordError {
        RecordError::TooLong {
            line: self.current_record_line(),
            limit: self.max_record_bytes,
            multiline: count_newlines(&self.out[..self.out_len]) > 0,
        }
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` split into chunks of `chunk` bytes; returns (line, fields) per record.
    fn parse(
        input: &[u8],
        chunk: usize,
        max: usize,
    ) -> Result<Vec<(u64, Vec<String>)>, RecordError> {
        let mut reader = RecordReader::new(max);
        let mut out = Vec::new();
        let mut push = |r: Record<'_>| -> Result<(), RecordError> {
            out.push((
                r.line,
                r.iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            ));
            Ok(())
        };
        for piece in input.chunks(chunk.max(1)) {
            reader.feed(piece, &mut push)?;
        }
        reader.finish(&mut push)?;
        Ok(out)
    }

    /// An empty chunk is no end of input: a body may deliver one anywhere (found by the
    /// `deletion_csv_structured` fuzz target, where it cut an ID in two).
    #[test]
    fn an_empty_chunk_does_not_end_a_record() {
        for pieces in [
            &[&b"USER_ID\nab"[..], b"", b"cd\n"][..],
            &[b"USER_ID\n\"a", b"", b"b\"\"\"\n"],
            &[b"", b"USER_ID", b"", b"\n", b"", b"x"],
            &[b"\xEF\xBB\xBF", b"", b"USER_ID\n\"", b"", b"x\""],
        ] {
            let mut reader = RecordReader::new(1024);
            let mut out = Vec::new();
            let mut push = |r: Record<'_>| -> Result<(), RecordError> {
                out.push((
                    r.line,
                    String::from_utf8_lossy(r.get(0).unwrap()).into_owned(),
                ));
                Ok(())
            };
            for piece in pieces {
                reader.feed(piece, &mut push).unwrap();
            }
            reader.finish(&mut push).unwrap();
            let whole: Vec<u8> = pieces.concat();
            let joined = String::from_utf8_lossy(&whole).into_owned();
            assert_eq!(out.len(), 2, "{joined:?}: {out:?}");
            assert_eq!(out[0], (1, "USER_ID".to_owned()), "{joined:?}");
            assert_eq!(out[1].0, 2, "{joined:?}");
        }
    }

    fn rows(v: &[(u64, &[&str])]) -> Vec<(u64, Vec<String>)> {
        v.iter()
            .map(|(l, f)| (*l, f.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn every_chunking_gives_the_same_records() {
        let input = b"\xef\xbb\xbfUSER_ID\r\nu1\n\n\"u,2\"\r\n\r\n\"multi\nline\"\nu\"\"3\nlast";
        let want = rows(&[
            (1, &["USER_ID"]),
            (2, &["u1"]),
            (4, &["u,2"]),
            (6, &["multi\nline"]),
            (8, &["u\"\"3"]),
            (9, &["last"]),
        ]);
        for chunk in [1, 2, 3, 5, 7, 64, 1 << 20] {
            assert_eq!(parse(input, chunk, 1024).unwrap(), want, "chunk {chunk}");
        }
    }

    #[test]
    fn quoted_escapes_and_empty_fields() {
        let got = parse(b"a,b\n\"x\"\"y\",\n\"\"\n", 4, 1024).unwrap();
        assert_eq!(
            got,
            rows(&[(1, &["a", "b"]), (2, &["x\"y", ""]), (3, &[""])])
        );
    }

    #[test]
    fn bom_split_across_chunks_is_dropped_and_a_lone_bom_is_empty() {
        assert_eq!(
            parse(b"\xef\xbb\xbfA\n", 1, 64).unwrap(),
            rows(&[(1, &["A"])])
        );
        assert_eq!(parse(b"\xef\xbb\xbf", 1, 64).unwrap(), rows(&[]));
        assert_eq!(parse(b"\xef\xbb", 1, 64).unwrap(), rows(&[]));
        // A file holding only the start of a BOM has no records.
        assert_eq!(parse(b"\xef\xbb", 8, 64).unwrap().len(), 0);
        assert_eq!(
            parse(b"\xefA\n", 1, 64).unwrap()[0].1[0].as_bytes(),
            "\u{fffd}A".as_bytes()
        );
    }

    #[test]
    fn only_the_first_bom_is_dropped_however_the_chunks_fall() {
        // Found by fuzzing: cut into single bytes, the second BOM reached csv-core's first
        // call whole and was dropped too.
        for chunk in [1, 2, 3, 4, 64] {
            let records = parse(b"\xef\xbb\xbf\xef\xbb\xbf", chunk, 64).unwrap();
            assert_eq!(records, rows(&[(1, &["\u{feff}"])]), "chunk {chunk}");
            let records = parse(b"\xef\xbb\xbf\xef\xbb\xbfA\n", chunk, 64).unwrap();
            assert_eq!(records, rows(&[(1, &["\u{feff}A"])]), "chunk {chunk}");
        }
    }

    #[test]
    fn unterminated_quote_names_the_line_it_opens_on() {
        for chunk in [1, 3, 1024] {
            let err = parse(b"USER_ID\nu1\n\"u2\nu3\nu4", chunk, 1024).unwrap_err();
            assert_eq!(
                err,
                RecordError::UnterminatedQuote { line: 3 },
                "chunk {chunk}"
            );
            let err = parse(b"USER_ID\n\"", chunk, 1024).unwrap_err();
            assert_eq!(err, RecordError::UnterminatedQuote { line: 2 });
            let err = parse(b"USER_ID\n\"ab\"\"", chunk, 1024).unwrap_err();
            assert_eq!(err, RecordError::UnterminatedQuote { line: 2 });
        }
        // A quote inside an unquoted field is literal, even on the last line.
        assert_eq!(parse(b"a\"b", 1, 64).unwrap(), rows(&[(1, &["a\"b"])]));
    }

    #[test]
    fn records_past_the_limit_fail_with_their_line() {
        let mut input = b"h\nok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.push(b'\n');
        let err = parse(&input, 7, 50).unwrap_err();
        assert_eq!(
            err,
            RecordError::TooLong {
                line: 3,
                limit: 50,
                multiline: false
            }
        );
        let err = parse(b"h\n\"a\nb\nccccccccccccccccccccccccccccccccccccc", 5, 16).unwrap_err();
        assert!(
            matches!(
                err,
                RecordError::TooLong {
                    line: 2,
                    multiline: true,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn callback_errors_stop_the_parse() {
        let mut reader = RecordReader::new(64);
        let mut seen = 0;
        let res = reader.feed(b"a\nb\nc\n", |_r| -> Result<(), RecordError> {
            seen += 1;
            if seen == 2 {
                Err(RecordError::UnterminatedQuote { line: 99 })
            } else {
                Ok(())
            }
        });
        assert_eq!(res, Err(RecordError::UnterminatedQuote { line: 99 }));
        assert_eq!(seen, 2);
    }
}
