//! The deletion CSV reader on well-formed files: any IDs, written by the `csv` crate with
//! any quoting and line ends, a byte-order mark or not, blank lines between records, and a
//! last line with or without its line end, then fed in arbitrary chunks. Every such file
//! must parse, and give back exactly its IDs, in order.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use personalize_local::deletion::parse::IdFileParser;
use personalize_local::deletion::report::MAX_ID_CHARS;

#[derive(Debug, Arbitrary)]
enum LineEnd {
    Lf,
    CrLf,
    Cr,
}

#[derive(Debug, Arbitrary)]
struct File {
    ids: Vec<String>,
    quote_all: bool,
    line_end: LineEnd,
    bom: bool,
    /// After which records (by index, modulo their count) a blank line comes.
    blank_after: Vec<u8>,
    last_line_end: bool,
    cuts: Vec<u16>,
}

fuzz_target!(|file: File| {
    let ids: Vec<&str> = file
        .ids
        .iter()
        .map(String::as_str)
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_ID_CHARS)
        .collect();
    let end: &[u8] = match file.line_end {
        LineEnd::Lf => b"\n",
        LineEnd::CrLf => b"\r\n",
        LineEnd::Cr => b"\r",
    };
    let mut data = Vec::new();
    if file.bom {
        data.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let records = std::iter::once("USER_ID").chain(ids.iter().copied());
    let count = ids.len() + 1;
    for (i, field) in records.enumerate() {
        let mut writer = csv::WriterBuilder::new()
            .quote_style(if file.quote_all {
                csv::QuoteStyle::Always
            } else {
                csv::QuoteStyle::Necessary
            })
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        writer.write_record([field]).unwrap();
        let mut record = writer.into_inner().unwrap();
        record.pop(); // the `\n`
        data.extend_from_slice(&record);
        if i + 1 < count || file.last_line_end {
            data.extend_from_slice(end);
        }
        if file.blank_after.iter().any(|&b| b as usize % count == i) && i + 1 < count {
            data.extend_from_slice(end);
        }
    }

    let mut parser = IdFileParser::default();
    let mut got: Vec<String> = Vec::new();
    let mut rest = &data[..];
    for &n in &file.cuts {
        let (head, tail) = rest.split_at((n as usize).min(rest.len()));
        parser.feed(head).unwrap();
        rest = tail;
    }
    parser.feed(rest).unwrap();
    parser.finish().unwrap();
    got.extend(parser.batch().iter().map(str::to_owned));
    assert_eq!(got, ids);
});
