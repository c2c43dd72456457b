//! The deletion CSV reader on arbitrary bytes, fed in arbitrary chunks.
//!
//! Checks, for every input: no panic; the same outcome however the bytes are cut into
//! chunks; every ID accepted is 1 to 256 characters; and the records agree with the `csv`
//! crate's reading of the same bytes, up to the first record either side finds bad.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use personalize_local::deletion::parse::{IdFileParser, LineProblem};
use personalize_local::deletion::report::{ContentProblem, MAX_ID_CHARS};

#[derive(Debug, Arbitrary)]
struct Input {
    cuts: Vec<u8>,
    data: Vec<u8>,
}

type Outcome = Result<Vec<String>, LineProblem>;

fn parse(chunks: impl Iterator<Item = impl AsRef<[u8]>>) -> Outcome {
    let mut parser = IdFileParser::default();
    let mut ids = Vec::new();
    for chunk in chunks {
        parser.feed(chunk.as_ref())?;
        ids.extend(parser.batch().iter().map(str::to_owned));
        parser.batch().clear();
    }
    parser.finish()?;
    ids.extend(parser.batch().iter().map(str::to_owned));
    assert_eq!(ids.len() as u64, parser.ids());
    Ok(ids)
}

/// The same bytes cut where `cuts` says (each a chunk length, 0 an empty chunk), the rest
/// in one.
fn cut<'a>(data: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut rest = data;
    for &n in cuts {
        let n = (n as usize).min(rest.len());
        let (head, tail) = rest.split_at(n);
        chunks.push(head);
        rest = tail;
    }
    chunks.push(rest);
    chunks
}

/// What the `csv` crate reads, judged by the same rules: the IDs, or the first bad record's
/// line and whether it is bad for its field count.
fn oracle(data: &[u8]) -> Result<Vec<String>, (u64, bool)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut ids = Vec::new();
    let mut header = true;
    for record in reader.byte_records() {
        let Ok(record) = record else { break };
        let line = record.position().map_or(0, |p| p.line());
        if header {
            if record.len() != 1 || &record[0] != b"USER_ID" {
                return Err((line, false));
            }
            header = false;
            continue;
        }
        if record.len() != 1 {
            return Err((line, true));
        }
        match std::str::from_utf8(&record[0]) {
            Ok(id) if !id.is_empty() && id.chars().count() <= MAX_ID_CHARS => {
                ids.push(id.to_owned())
            }
            _ => return Err((line, false)),
        }
    }
    Ok(ids)
}

fuzz_target!(|input: Input| {
    let whole = parse(std::iter::once(&input.data[..]));
    let chunked = parse(cut(&input.data, &input.cuts).into_iter());
    assert_eq!(
        whole, chunked,
        "the outcome depends on where the chunks end"
    );
    match &whole {
        Ok(ids) => {
            for id in ids {
                let chars = id.chars().count();
                assert!((1..=MAX_ID_CHARS).contains(&chars), "{id:?} accepted");
            }
            assert_eq!(oracle(&input.data), Ok(ids.clone()));
        }
        Err(LineProblem(line, problem)) => {
            assert!(*line >= 1);
            // The `csv` crate counts lines alike when `\r` never ends a line by itself and
            // no line is blank (it gives a record after blank lines the line they start on),
            // the first line included when a byte order mark opens it.
            let data = input
                .data
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(&input.data);
            let plain_ends = !data.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n')
                && data.last() != Some(&b'\r')
                && !data.starts_with(b"\n")
                && !data.starts_with(b"\r")
                && !data.windows(2).any(|w| w == b"\n\n")
                && !data.windows(3).any(|w| w == b"\n\r\n");
            let field_count = matches!(problem, ContentProblem::ColumnCount { .. });
            let judged = matches!(
                problem,
                ContentProblem::ColumnCount { .. }
                    | ContentProblem::EmptyId
                    | ContentProblem::InvalidUtf8
                    | ContentProblem::IdTooLong { .. }
                    | ContentProblem::WrongHeader { .. }
            );
            if judged && plain_ends {
                assert_eq!(oracle(&input.data), Err((*line, field_count)));
            }
        }
    }
});
