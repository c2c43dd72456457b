//! [`CsvWriter`]: records encoded by the `csv` crate's writer into a buffer that is taken
//! in chunks (an export's upload parts), so memory stays bounded whatever the row count.

use bytes::Bytes;

/// Encodes records as CSV: fields quoted only where CSV needs it (a comma, a quote or a line
/// break), lines ended by `\n`.
#[derive(Debug)]
pub struct CsvWriter {
    inner: ::csv::Writer<Vec<u8>>,
}

fn new_writer() -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        .flexible(true)
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

impl Default for CsvWriter {
    fn default() -> Self {
        CsvWriter {
            inner: new_writer(),
        }
    }
}

impl CsvWriter {
    /// Appends one record.
    pub fn row<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> ::csv::Result<()> {
        self.inner.write_record(fields)
    }

    /// Bytes encoded and not yet taken (those still in the writer's own small buffer
    /// included once [`CsvWriter::take`] flushes them).
    pub fn buffered(&self) -> usize {
        self.inner.get_ref().len()
    }

    /// Everything encoded so far, leaving the writer empty.
    pub fn take(&mut self) -> ::csv::Result<Bytes> {
        let full = std::mem::replace(&mut self.inner, new_writer());
        let buf = full.into_inner().map_err(|e| e.into_error())?;
        Ok(Bytes::from(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut w = CsvWriter::default();
        w.row(["plain", "a,b", "say \"hi\"", "two\nlines", ""])
            .unwrap();
        w.row(["x", "cr\rhere"]).unwrap();
        assert_eq!(
            &w.take().unwrap()[..],
            &b"plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\nx,\"cr\rhere\"\n"[..]
        );
        assert!(w.take().unwrap().is_empty());
    }
}
